package pathways

import (
	"bytes"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the pathways API (all of it the employment data of a
// person, except the network activities and the totals):
//
//	GET  /api/v1/persons/:id/stage                    current stage and path (ETag: version)
//	POST /api/v1/persons/:id/stage                    {stage, entered_on, reason, note}; If-Match (0: no stage yet)
//	GET  /api/v1/persons/:id/assessments              the assessments, oldest first
//	POST /api/v1/persons/:id/assessments              record one
//	GET  /api/v1/persons/:id/assessments/compare      ?from=&to= (ids; default the first and the latest)
//	GET  /api/v1/assessments/:id
//	GET  /api/v1/persons/:id/plans                    every version, newest first
//	POST /api/v1/persons/:id/plans                    draft the first plan
//	GET  /api/v1/plans/:id                            (ETag: revision)
//	PUT  /api/v1/plans/:id                            replace a draft's content; If-Match: revision
//	POST /api/v1/plans/:id/versions                   new draft from the plan in force (body: optional content)
//	POST /api/v1/plans/:id/signatures                 {signer, name, signed_on}
//	POST /api/v1/plans/:id/reviews                    {objective_id | action_id, reviewed_on, outcome, notes}
//	GET  /api/v1/persons/:id/activities               newest first (limit, cursor) with totals
//	POST /api/v1/persons/:id/activities               {kind, held_on, hours, operator_id, note}
//	POST /api/v1/activities                           network work without a participant (scouting, matching)
//	GET  /api/v1/activities/totals                    ?from=&to= the tenant's (and, for the coordinator, the network's)
//	GET  /api/v1/persons/:id/placements
//	POST /api/v1/persons/:id/placements
//	GET  /api/v1/placements/:id                       (ETag: version)
//	POST /api/v1/placements/:id/extensions            {new_end_on, reason}; If-Match
//	POST /api/v1/placements/:id/end                   {ended_on, reason}; If-Match
//	GET  /api/v1/placements/:id/attendance            months with allowances
//	PUT  /api/v1/placements/:id/attendance/:month     {attended_hours, note}; If-Match when the month exists
//	GET  /api/v1/persons/:id/follow-ups
//	POST /api/v1/persons/:id/follow-ups
type Handler struct {
	svc *Service
}

// NewHandler returns the handlers on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// with runs fn with the request's actor and a copy of the :id parameter.
func with(c *fiber.Ctx, fn func(a tenants.Actor, id string) error) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	return fn(a, strings.Clone(c.Params("id")))
}

func items[T any](xs []T) fiber.Map {
	if xs == nil {
		xs = []T{}
	}
	return fiber.Map{"items": xs}
}

// GetStage serves GET /api/v1/persons/:id/stage.
func (h *Handler) GetStage(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		v, err := h.svc.Stage(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(v.Version))
		return c.JSON(v)
	})
}

// ChangeStage serves POST /api/v1/persons/:id/stage.
func (h *Handler) ChangeStage(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		version, err := httpx.IfMatch(c, true, 0)
		if err != nil {
			return err
		}
		var in StageChange
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		v, err := h.svc.ChangeStage(c.UserContext(), a, id, *version, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(v.Version))
		return c.Status(fiber.StatusCreated).JSON(v)
	})
}

// ListAssessments serves GET /api/v1/persons/:id/assessments.
func (h *Handler) ListAssessments(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		as, err := h.svc.Assessments(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		return c.JSON(items(as))
	})
}

// CreateAssessment serves POST /api/v1/persons/:id/assessments.
func (h *Handler) CreateAssessment(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in AssessmentInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		as, err := h.svc.CreateAssessment(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderLocation, "/api/v1/assessments/"+as.ID)
		return c.Status(fiber.StatusCreated).JSON(as)
	})
}

// GetAssessment serves GET /api/v1/assessments/:id.
func (h *Handler) GetAssessment(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		as, err := h.svc.Assessment(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		return c.JSON(as)
	})
}

// CompareAssessments serves GET /api/v1/persons/:id/assessments/compare?from=&to=.
func (h *Handler) CompareAssessments(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		cmp, err := h.svc.CompareAssessments(c.UserContext(), a, id, strings.Clone(c.Query("from")), strings.Clone(c.Query("to")))
		if err != nil {
			return err
		}
		return c.JSON(cmp)
	})
}

// ListPlans serves GET /api/v1/persons/:id/plans.
func (h *Handler) ListPlans(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		ps, err := h.svc.Plans(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		return c.JSON(items(ps))
	})
}

func (h *Handler) planResponse(c *fiber.Ctx, p Plan, status int) error {
	c.Set(fiber.HeaderETag, httpx.ETag(p.Revision))
	if status == fiber.StatusCreated {
		c.Set(fiber.HeaderLocation, "/api/v1/plans/"+p.ID)
	}
	return c.Status(status).JSON(p)
}

// CreatePlan serves POST /api/v1/persons/:id/plans.
func (h *Handler) CreatePlan(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in PlanInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		p, err := h.svc.CreatePlan(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		return h.planResponse(c, p, fiber.StatusCreated)
	})
}

// GetPlan serves GET /api/v1/plans/:id.
func (h *Handler) GetPlan(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		p, err := h.svc.Plan(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		return h.planResponse(c, p, fiber.StatusOK)
	})
}

// UpdatePlan serves PUT /api/v1/plans/:id.
func (h *Handler) UpdatePlan(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		rev, err := httpx.IfMatch(c, true, 0)
		if err != nil {
			return err
		}
		var in PlanInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		p, err := h.svc.UpdatePlan(c.UserContext(), a, id, *rev, in)
		if err != nil {
			return err
		}
		return h.planResponse(c, p, fiber.StatusOK)
	})
}

// NewPlanVersion serves POST /api/v1/plans/:id/versions.
func (h *Handler) NewPlanVersion(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in *PlanInput
		if len(bytes.TrimSpace(c.Body())) > 0 {
			in = &PlanInput{}
			if err := httpx.BindJSON(c, in); err != nil {
				return err
			}
		}
		p, err := h.svc.NewPlanVersion(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		return h.planResponse(c, p, fiber.StatusCreated)
	})
}

// SignPlan serves POST /api/v1/plans/:id/signatures.
func (h *Handler) SignPlan(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in SignatureInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		p, err := h.svc.SignPlan(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(p.Revision))
		return c.Status(fiber.StatusCreated).JSON(p)
	})
}

// ReviewPlan serves POST /api/v1/plans/:id/reviews.
func (h *Handler) ReviewPlan(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in ReviewInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		p, err := h.svc.ReviewPlan(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(p.Revision))
		return c.Status(fiber.StatusCreated).JSON(p)
	})
}

// ListActivities serves GET /api/v1/persons/:id/activities?limit=&cursor=.
func (h *Handler) ListActivities(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		page, err := httpx.ParsePage(c)
		if err != nil {
			return err
		}
		p, err := h.svc.Activities(c.UserContext(), a, id, page.After, page.Limit+1)
		if err != nil {
			return err
		}
		l := httpx.NewList(p.Items, page.Limit, ActivityCursor)
		out := fiber.Map{"items": l.Items, "totals": p.Totals}
		if l.NextCursor != "" {
			out["next_cursor"] = l.NextCursor
		}
		return c.JSON(out)
	})
}

// LogActivity serves POST /api/v1/persons/:id/activities.
func (h *Handler) LogActivity(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in ActivityInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		x, err := h.svc.LogActivity(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(x)
	})
}

// LogNetworkActivity serves POST /api/v1/activities.
func (h *Handler) LogNetworkActivity(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, _ string) error {
		var in ActivityInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		x, err := h.svc.LogNetworkActivity(c.UserContext(), a, in)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(x)
	})
}

// period reads ?from=&to= (YYYY-MM-DD, inclusive); by default the current
// calendar year up to today.
func period(c *fiber.Ctx, today time.Time) (time.Time, time.Time, error) {
	f := apperr.Fields{}
	from := time.Date(today.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	to := today
	if s := c.Query("from"); s != "" {
		if d, ok := date(f, "from", s, true); ok {
			from = d
		}
	}
	if s := c.Query("to"); s != "" {
		if d, ok := date(f, "to", s, true); ok {
			to = d
		}
	}
	if len(f) == 0 && to.Before(from) {
		f.Add("to", "is before from")
	}
	if len(f) > 0 {
		return from, to, &apperr.Error{Code: apperr.Malformed, Message: "the period is not valid", Fields: f}
	}
	return from, to, nil
}

// ActivityTotals serves GET /api/v1/activities/totals?from=&to=.
func (h *Handler) ActivityTotals(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, _ string) error {
		from, to, err := period(c, h.svc.today())
		if err != nil {
			return err
		}
		own, network, err := h.svc.TenantTotals(c.UserContext(), a, from, to)
		if err != nil {
			return err
		}
		out := fiber.Map{"from": Date{from}, "to": Date{to}, "tenant": a.TenantSlug, "own": own}
		if network != nil {
			out["network"] = network
		}
		return c.JSON(out)
	})
}

// ListPlacements serves GET /api/v1/persons/:id/placements.
func (h *Handler) ListPlacements(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		ps, err := h.svc.Placements(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		return c.JSON(items(ps))
	})
}

func placementResponse(c *fiber.Ctx, p Placement, status int) error {
	c.Set(fiber.HeaderETag, httpx.ETag(p.Version))
	if status == fiber.StatusCreated {
		c.Set(fiber.HeaderLocation, "/api/v1/placements/"+p.ID)
	}
	return c.Status(status).JSON(p)
}

// CreatePlacement serves POST /api/v1/persons/:id/placements.
func (h *Handler) CreatePlacement(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in PlacementInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		p, err := h.svc.CreatePlacement(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		return placementResponse(c, p, fiber.StatusCreated)
	})
}

// GetPlacement serves GET /api/v1/placements/:id.
func (h *Handler) GetPlacement(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		p, err := h.svc.Placement(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		return placementResponse(c, p, fiber.StatusOK)
	})
}

// ExtendPlacement serves POST /api/v1/placements/:id/extensions.
func (h *Handler) ExtendPlacement(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		v, err := httpx.IfMatch(c, true, 0)
		if err != nil {
			return err
		}
		var in ExtensionInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		p, err := h.svc.ExtendPlacement(c.UserContext(), a, id, *v, in)
		if err != nil {
			return err
		}
		return placementResponse(c, p, fiber.StatusOK)
	})
}

// EndPlacement serves POST /api/v1/placements/:id/end.
func (h *Handler) EndPlacement(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		v, err := httpx.IfMatch(c, true, 0)
		if err != nil {
			return err
		}
		var in EndInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		p, err := h.svc.EndPlacement(c.UserContext(), a, id, *v, in)
		if err != nil {
			return err
		}
		return placementResponse(c, p, fiber.StatusOK)
	})
}

// ListAttendance serves GET /api/v1/placements/:id/attendance.
func (h *Handler) ListAttendance(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		v, err := h.svc.Attendance(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		if v.Months == nil {
			v.Months = []Attendance{}
		}
		return c.JSON(v)
	})
}

// RecordAttendance serves PUT /api/v1/placements/:id/attendance/:month.
func (h *Handler) RecordAttendance(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		v, err := httpx.IfMatch(c, false, 0)
		if err != nil {
			return err
		}
		var in AttendanceInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		att, err := h.svc.RecordAttendance(c.UserContext(), a, id, strings.Clone(c.Params("month")), v, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(att.Version))
		return c.JSON(att)
	})
}

// ListFollowUps serves GET /api/v1/persons/:id/follow-ups.
func (h *Handler) ListFollowUps(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		fs, err := h.svc.FollowUps(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		return c.JSON(items(fs))
	})
}

// CreateFollowUp serves POST /api/v1/persons/:id/follow-ups.
func (h *Handler) CreateFollowUp(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in FollowUpInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		f, err := h.svc.RecordFollowUp(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(f)
	})
}
