package referrals

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the referrals API:
//
//	POST /api/v1/referrals                   refer a person (Idempotency-Key): 201
//	GET  /api/v1/referrals                   ?direction=incoming|outgoing&status=&overdue=true&limit=&cursor=
//	GET  /api/v1/referrals/:id               with its history (ETag: version)
//	POST /api/v1/referrals/:id/transitions   {to, reason_code, note, outcome}; If-Match required
//	GET  /api/v1/persons/:id/status          the minimal status projection
//	GET  /api/v1/persons/:id/l68-checks      L.68 verifications, newest first
//	POST /api/v1/persons/:id/l68-checks      record one: 201
type Handler struct {
	svc  *Service
	find PersonFinder
}

// PersonFinder finds the person a fiscal code names among those the actor
// may see (the persons service's FindByFiscalCode).
type PersonFinder func(ctx context.Context, a tenants.Actor, requestID, fiscalCode string) (string, error)

// NewHandler returns the handlers on svc; find serves the status lookup by
// fiscal code (nil: the lookup is not offered).
func NewHandler(svc *Service, find PersonFinder) *Handler { return &Handler{svc: svc, find: find} }

// NewReferralJSON is the body of POST /api/v1/referrals.
type NewReferralJSON struct {
	PersonID         string   `json:"person_id"`
	ToTenant         string   `json:"to_tenant"`
	Reason           string   `json:"reason"`
	Priority         string   `json:"priority"`
	SharedCategories []string `json:"shared_categories"`
	Note             string   `json:"note"`
}

// MoveJSON is the body of POST /api/v1/referrals/:id/transitions.
type MoveJSON struct {
	To         string `json:"to"`
	ReasonCode string `json:"reason_code"`
	Note       string `json:"note"`
	Outcome    string `json:"outcome"`
}

// PersonNameJSON is the person of a referral, for a tenant that may read
// their identity.
type PersonNameJSON struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
}

// EventJSON is one change of a referral's status.
type EventJSON struct {
	Version    int     `json:"version"`
	At         string  `json:"at"`
	Tenant     string  `json:"tenant"`
	UserID     *string `json:"user_id"`
	User       *string `json:"user"`
	From       *Status `json:"from"`
	To         Status  `json:"to"`
	ReasonCode *string `json:"reason_code"`
	Outcome    *string `json:"outcome"`
	Note       string  `json:"note"`
}

// NextJSON is a transition the viewer may make.
type NextJSON struct {
	To       Status   `json:"to"`
	Requires []string `json:"requires"`
}

// ReferralJSON is a referral in responses.
type ReferralJSON struct {
	ID               string          `json:"id"`
	PersonID         string          `json:"person_id"`
	Person           *PersonNameJSON `json:"person"`
	FromTenant       string          `json:"from_tenant"`
	ToTenant         string          `json:"to_tenant"`
	Reason           string          `json:"reason"`
	Priority         string          `json:"priority"`
	SharedCategories []string        `json:"shared_categories"`
	Note             string          `json:"note"`
	Status           Status          `json:"status"`
	ReasonCode       *string         `json:"reason_code"`
	Outcome          *string         `json:"outcome"`
	Version          int             `json:"version"`
	Overdue          bool            `json:"overdue"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	ClosedAt         *string         `json:"closed_at"`
	// Side is the viewer's side: sender or recipient.
	Side Party `json:"side"`
	// Next are the transitions the viewer's side may make now.
	Next []NextJSON `json:"allowed_transitions"`
	// Withheld is ["identity"] when the viewer may not read the person's
	// identity (person is then null).
	Withheld []string    `json:"withheld"`
	Events   []EventJSON `json:"events,omitempty"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Service) toJSON(r Referral) ReferralJSON {
	out := ReferralJSON{ID: r.ID, PersonID: r.PersonID, FromTenant: r.FromTenant, ToTenant: r.ToTenant, Reason: r.Reason,
		Priority: r.Priority, SharedCategories: r.SharedCategories, Note: r.Note, Status: r.Status, ReasonCode: r.ReasonCode,
		Outcome: r.Outcome, Version: r.Version, Overdue: r.Overdue, CreatedAt: rfc3339(r.CreatedAt), UpdatedAt: rfc3339(r.UpdatedAt),
		Side: r.Side, Next: []NextJSON{}, Withheld: []string{}}
	if r.ClosedAt != nil {
		c := rfc3339(*r.ClosedAt)
		out.ClosedAt = &c
	}
	if r.Person != nil {
		out.Person = &PersonNameJSON{GivenName: r.Person.GivenName, FamilyName: r.Person.FamilyName}
	} else {
		out.Withheld = append(out.Withheld, "identity")
	}
	for _, t := range r.Next(r.Side) {
		req := t.Requires
		if req == nil {
			req = []string{}
		}
		out.Next = append(out.Next, NextJSON{To: t.To, Requires: req})
	}
	for _, e := range r.Events {
		out.Events = append(out.Events, EventJSON{Version: e.Version, At: rfc3339(e.At), Tenant: e.Tenant, UserID: e.UserID,
			User: e.UserEmail, From: e.From, To: e.To, ReasonCode: e.ReasonCode, Outcome: e.Outcome, Note: e.Note})
	}
	return out
}

// Create serves POST /api/v1/referrals. With an Idempotency-Key header, a
// repeat of the same request gets the first response again (with
// Idempotent-Replayed: true) and creates nothing.
func (h *Handler) Create(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	var body NewReferralJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	key := strings.TrimSpace(c.Get("Idempotency-Key"))
	res, err := h.svc.Create(ctx, a, strings.Clone(key), Draft{PersonID: body.PersonID, ToTenant: body.ToTenant, Reason: body.Reason,
		Priority: body.Priority, SharedCategories: body.SharedCategories, Note: body.Note})
	if err != nil {
		return err
	}
	var first struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	if json.Unmarshal(res.Body, &first) == nil && first.ID != "" {
		c.Set(fiber.HeaderLocation, "/api/v1/referrals/"+first.ID)
		c.Set(fiber.HeaderETag, httpx.ETag(first.Version))
	}
	if res.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(res.Status).Send(res.Body)
}

// List serves GET /api/v1/referrals.
func (h *Handler) List(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := apperr.Fields{}
	p := ListParams{Cursor: page.After, Limit: page.Limit + 1}
	switch c.Query("direction") {
	case "incoming":
		p.Incoming = true
	case "outgoing":
	case "":
		f.Add("direction", "is required: incoming (referrals to your tenant) or outgoing (from it)")
	default:
		f.Add("direction", "must be incoming or outgoing")
	}
	if s := c.Query("status"); s != "" {
		for _, v := range strings.Split(s, ",") {
			st := Status(strings.TrimSpace(v))
			if !st.Valid() {
				f.Add("status", "%q is not a status: use one or more of %s, separated by commas", v, joinStatuses(Statuses))
				break
			}
			p.Statuses = append(p.Statuses, st)
		}
	}
	switch c.Query("overdue") {
	case "", "false":
	case "true":
		p.OverdueOnly = true
	default:
		f.Add("overdue", "must be true or false")
	}
	if len(f) > 0 {
		return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: f}
	}
	rs, err := h.svc.List(ctx, a, p)
	if err != nil {
		return err
	}
	l := httpx.NewList(rs, page.Limit, Cursor)
	items := make([]ReferralJSON, len(l.Items))
	for i, r := range l.Items {
		items[i] = h.svc.toJSON(r)
	}
	return c.JSON(httpx.List[ReferralJSON]{Items: items, NextCursor: l.NextCursor})
}

// Get serves GET /api/v1/referrals/:id.
func (h *Handler) Get(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	r, err := h.svc.Get(ctx, a, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(r.Version))
	return c.JSON(h.svc.toJSON(r))
}

// Transition serves POST /api/v1/referrals/:id/transitions.
func (h *Handler) Transition(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	version, err := httpx.RequireIfMatch(c, 1)
	if err != nil {
		return err
	}
	var body MoveJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	r, err := h.svc.Transition(ctx, a, strings.Clone(c.Params("id")), version,
		Move{To: body.To, ReasonCode: body.ReasonCode, Outcome: body.Outcome, Note: body.Note})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(r.Version))
	return c.JSON(h.svc.toJSON(r))
}

// PlacementJSON is the current placement in the status view.
type PlacementJSON struct {
	Kind      string  `json:"kind"`
	StartDate string  `json:"start_date"`
	EndDate   *string `json:"end_date"`
}

// StatusJSON is the status view of a person.
type StatusJSON struct {
	PersonID   string         `json:"person_id"`
	Enrolled   bool           `json:"enrolled"`
	Stage      string         `json:"stage"`
	StageSince *string        `json:"stage_since"`
	Source     string         `json:"stage_source"`
	Placement  *PlacementJSON `json:"placement"`
	Active     bool           `json:"active"`
}

// Status serves GET /api/v1/persons/:id/status.
func (h *Handler) Status(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	v, err := h.svc.Status(ctx, a, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	return c.JSON(statusJSON(v))
}

// StatusByFiscalCode serves GET /api/v1/status?fiscal_code=: the status
// view of the person a fiscal code names, for a tenant that may read it
// (the employment office checking the persons on its lists).
func (h *Handler) StatusByFiscalCode(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	code := c.Query("fiscal_code")
	if strings.TrimSpace(code) == "" {
		return &apperr.Error{Code: apperr.Malformed, Message: "say whose status you want",
			Fields: map[string]string{"fiscal_code": "is required"}}
	}
	if h.find == nil {
		return apperr.New(apperr.NotFound, "the status lookup by fiscal code is not offered here")
	}
	id, err := h.find(ctx, a, httpx.RequestID(ctx), code)
	if err != nil {
		return err
	}
	v, err := h.svc.Status(ctx, a, id)
	if err != nil {
		return err
	}
	return c.JSON(statusJSON(v))
}

func statusJSON(v StatusView) StatusJSON {
	out := StatusJSON{PersonID: v.PersonID, Enrolled: v.Enrolled, Stage: v.Stage, Source: v.Source, Active: v.Active}
	if v.StageSince != nil {
		s := rfc3339(*v.StageSince)
		out.StageSince = &s
	}
	if pl := v.Placement; pl != nil {
		out.Placement = &PlacementJSON{Kind: pl.Kind, StartDate: pl.StartDate.Format(time.DateOnly)}
		if pl.EndDate != nil {
			e := pl.EndDate.Format(time.DateOnly)
			out.Placement.EndDate = &e
		}
	}
	return out
}

// L68InputJSON is the body of POST /api/v1/persons/:id/l68-checks.
type L68InputJSON struct {
	Registered                    *bool   `json:"registered"`
	RegistrationDate              *string `json:"registration_date"`
	InvalidityRange               *string `json:"invalidity_range"`
	UnemploymentDeclarationActive *bool   `json:"unemployment_declaration_active"`
	Source                        string  `json:"source"`
	Note                          string  `json:"note"`
	NextCheckDue                  *string `json:"next_check_due"`
}

// L68CheckJSON is a verification in responses.
type L68CheckJSON struct {
	ID                            string  `json:"id"`
	PersonID                      string  `json:"person_id"`
	Tenant                        string  `json:"tenant"`
	CheckedBy                     *string `json:"checked_by"`
	CheckedByEmail                *string `json:"checked_by_email"`
	CheckedAt                     string  `json:"checked_at"`
	Registered                    bool    `json:"registered"`
	RegistrationDate              *string `json:"registration_date"`
	InvalidityRange               *string `json:"invalidity_range"`
	UnemploymentDeclarationActive bool    `json:"unemployment_declaration_active"`
	Source                        string  `json:"source"`
	Note                          string  `json:"note"`
	NextCheckDue                  *string `json:"next_check_due"`
}

func dateOrNil(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

func l68JSON(x L68Check) L68CheckJSON {
	return L68CheckJSON{ID: x.ID, PersonID: x.PersonID, Tenant: x.Tenant, CheckedBy: x.CheckedBy, CheckedByEmail: x.CheckedByEmail,
		CheckedAt: rfc3339(x.CheckedAt), Registered: x.Registered, RegistrationDate: dateOrNil(x.RegistrationDate),
		InvalidityRange: x.InvalidityRange, UnemploymentDeclarationActive: x.UnemploymentDeclarationActive, Source: x.Source,
		Note: x.Note, NextCheckDue: dateOrNil(x.NextCheckDue)}
}

// L68ListJSON is a page of verifications; withheld is ["disability"] when
// the tenant sees only the checks it recorded.
type L68ListJSON struct {
	Items      []L68CheckJSON `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
	Withheld   []string       `json:"withheld"`
}

// L68Checks serves GET /api/v1/persons/:id/l68-checks.
func (h *Handler) L68Checks(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	res, err := h.svc.L68Checks(ctx, a, strings.Clone(c.Params("id")), page.After, page.Limit+1)
	if err != nil {
		return err
	}
	l := httpx.NewList(res.Items, page.Limit, L68Cursor)
	out := L68ListJSON{Items: make([]L68CheckJSON, len(l.Items)), NextCursor: l.NextCursor, Withheld: res.Withheld}
	for i, x := range l.Items {
		out.Items[i] = l68JSON(x)
	}
	if out.Withheld == nil {
		out.Withheld = []string{}
	}
	return c.JSON(out)
}

// RecordL68Check serves POST /api/v1/persons/:id/l68-checks.
func (h *Handler) RecordL68Check(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	var body L68InputJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	x, err := h.svc.RecordL68Check(ctx, a, strings.Clone(c.Params("id")), L68Input{Registered: body.Registered,
		RegistrationDate: body.RegistrationDate, InvalidityRange: body.InvalidityRange,
		UnemploymentDeclarationActive: body.UnemploymentDeclarationActive, Source: body.Source, Note: body.Note,
		NextCheckDue: body.NextCheckDue})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(l68JSON(x))
}
