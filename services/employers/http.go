package employers

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the employers API:
//
//	GET   /api/v1/employers                  ?q= (name or VAT number), limit, cursor
//	POST  /api/v1/employers                  {name, vat_number, ateco_code, ateco_version, size, employees, l68_obligation, ...}
//	GET   /api/v1/employers/:id              (ETag: version)
//	PATCH /api/v1/employers/:id              If-Match
//	GET   /api/v1/employers/:id/contacts
//	POST  /api/v1/employers/:id/contacts     {name, role, phone, email}
//	GET   /api/v1/employers/:id/scouting     the scouting log, newest first (limit, cursor)
//	POST  /api/v1/employers/:id/scouting     {contacted_on, channel, contact_id, outcome, notes, next_step, next_step_on}
//	GET   /api/v1/openings                   ?status=&employer=, limit, cursor
//	POST  /api/v1/openings                   {employer_id, role, tasks, kind, hours_per_week, requirements, accessibility_notes, max_scores, opened_on}
//	GET   /api/v1/openings/:id               (ETag: version)
//	PATCH /api/v1/openings/:id               {status}; If-Match
//	GET   /api/v1/openings/:id/matches       ?limit= participants ranked, with reasons
type Handler struct {
	svc *Service
}

// NewHandler returns the handlers on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

func with(c *fiber.Ctx, fn func(a tenants.Actor, id string) error) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	return fn(a, strings.Clone(c.Params("id")))
}

// List serves GET /api/v1/employers.
func (h *Handler) List(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, _ string) error {
		page, err := httpx.ParsePage(c)
		if err != nil {
			return err
		}
		q := strings.Clone(c.Query("q"))
		if len(q) > 100 {
			return &apperr.Error{Code: apperr.Malformed, Message: "the search is too long", Fields: map[string]string{"q": "must be at most 100 characters"}}
		}
		es, keys, err := h.svc.List(c.UserContext(), a, q, page.After, page.Limit+1)
		if err != nil {
			return err
		}
		key := map[string]string{}
		for i, e := range es {
			key[e.ID] = keys[i]
		}
		return c.JSON(httpx.NewList(es, page.Limit, func(e Employer) string { return key[e.ID] }))
	})
}

// Create serves POST /api/v1/employers.
func (h *Handler) Create(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, _ string) error {
		var in Input
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		e, err := h.svc.Create(c.UserContext(), a, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(e.Version))
		c.Set(fiber.HeaderLocation, "/api/v1/employers/"+e.ID)
		return c.Status(fiber.StatusCreated).JSON(e)
	})
}

// Get serves GET /api/v1/employers/:id.
func (h *Handler) Get(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		e, err := h.svc.Get(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(e.Version))
		return c.JSON(e)
	})
}

// Update serves PATCH /api/v1/employers/:id.
func (h *Handler) Update(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		v, err := httpx.RequireIfMatch(c, 1)
		if err != nil {
			return err
		}
		var in Input
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		e, err := h.svc.Update(c.UserContext(), a, id, v, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(e.Version))
		return c.JSON(e)
	})
}

// Contacts serves GET /api/v1/employers/:id/contacts.
func (h *Handler) Contacts(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		cs, err := h.svc.Contacts(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		if cs == nil {
			cs = []Contact{}
		}
		return c.JSON(fiber.Map{"items": cs})
	})
}

// AddContact serves POST /api/v1/employers/:id/contacts.
func (h *Handler) AddContact(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in ContactInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		ct, err := h.svc.AddContact(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(ct)
	})
}

// Scouting serves GET /api/v1/employers/:id/scouting.
func (h *Handler) Scouting(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		page, err := httpx.ParsePage(c)
		if err != nil {
			return err
		}
		xs, err := h.svc.Scouting(c.UserContext(), a, id, page.After, page.Limit+1)
		if err != nil {
			return err
		}
		return c.JSON(httpx.NewList(xs, page.Limit, ScoutingCursor))
	})
}

// AddScouting serves POST /api/v1/employers/:id/scouting.
func (h *Handler) AddScouting(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		var in ScoutingInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		x, err := h.svc.AddScouting(c.UserContext(), a, id, in)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(x)
	})
}

// Openings serves GET /api/v1/openings?status=&employer=.
func (h *Handler) Openings(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, _ string) error {
		page, err := httpx.ParsePage(c)
		if err != nil {
			return err
		}
		os, err := h.svc.Openings(c.UserContext(), a, OpeningFilter{Status: strings.Clone(c.Query("status")),
			EmployerID: strings.Clone(c.Query("employer")), After: page.After, Limit: page.Limit + 1})
		if err != nil {
			return err
		}
		return c.JSON(httpx.NewList(os, page.Limit, OpeningCursor))
	})
}

// CreateOpening serves POST /api/v1/openings.
func (h *Handler) CreateOpening(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, _ string) error {
		var in OpeningInput
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		o, err := h.svc.CreateOpening(c.UserContext(), a, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(o.Version))
		c.Set(fiber.HeaderLocation, "/api/v1/openings/"+o.ID)
		return c.Status(fiber.StatusCreated).JSON(o)
	})
}

// Opening serves GET /api/v1/openings/:id.
func (h *Handler) Opening(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		o, err := h.svc.Opening(c.UserContext(), a, id)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(o.Version))
		return c.JSON(o)
	})
}

// ChangeOpening serves PATCH /api/v1/openings/:id.
func (h *Handler) ChangeOpening(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		v, err := httpx.RequireIfMatch(c, 1)
		if err != nil {
			return err
		}
		var in OpeningChange
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		o, err := h.svc.ChangeOpening(c.UserContext(), a, id, v, in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderETag, httpx.ETag(o.Version))
		return c.JSON(o)
	})
}

// Matches serves GET /api/v1/openings/:id/matches?limit=.
func (h *Handler) Matches(c *fiber.Ctx) error {
	return with(c, func(a tenants.Actor, id string) error {
		limit := 20
		if s := c.Query("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > httpx.MaxLimit {
				return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid",
					Fields: map[string]string{"limit": "must be a whole number from 1 to " + strconv.Itoa(httpx.MaxLimit)}}
			}
			limit = n
		}
		o, ms, err := h.svc.Matches(c.UserContext(), a, id, limit)
		if err != nil {
			return err
		}
		if ms == nil {
			ms = []Match{}
		}
		return c.JSON(fiber.Map{"opening": o, "items": ms})
	})
}
