package people

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the persons API.
type Handler struct {
	svc *Service
}

// NewHandler returns the HTTP handlers of persons.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// ContactJSON is the contact category of a person.
type ContactJSON struct {
	Phone   *string `json:"phone"`
	Email   *string `json:"email"`
	Address *string `json:"address"`
}

// PersonInputJSON is the body of a registration or change.
type PersonInputJSON struct {
	FiscalCode     *string      `json:"fiscal_code"`
	GivenName      *string      `json:"given_name"`
	FamilyName     *string      `json:"family_name"`
	BirthDate      *string      `json:"birth_date"`
	Sex            *string      `json:"sex"`
	ResidenceISTAT *string      `json:"residence_istat"`
	TargetGroup    *string      `json:"target_group"`
	Contact        *ContactJSON `json:"contact"`
}

func (j PersonInputJSON) input() Input {
	in := Input{FiscalCode: j.FiscalCode, GivenName: j.GivenName, FamilyName: j.FamilyName, BirthDate: j.BirthDate,
		Sex: j.Sex, ResidenceISTAT: j.ResidenceISTAT, TargetGroup: j.TargetGroup}
	if j.Contact != nil {
		in.Phone, in.Email, in.Address = j.Contact.Phone, j.Contact.Email, j.Contact.Address
	}
	return in
}

// IdentityJSON is the identity category of a person.
type IdentityJSON struct {
	FiscalCode     string `json:"fiscal_code"`
	GivenName      string `json:"given_name"`
	FamilyName     string `json:"family_name"`
	BirthDate      string `json:"birth_date"`
	Sex            string `json:"sex"`
	ResidenceISTAT string `json:"residence_istat"`
	ResidenceName  string `json:"residence_name"`
}

// viewJSON renders what the tenant may read, category by category; the
// categories it may not read are named under withheld and carry nothing.
func viewJSON(v View) fiber.Map {
	p := v.Person
	out := fiber.Map{
		"id":         p.ID,
		"version":    p.Version,
		"withheld":   nonNil(v.Withheld),
		"links":      nonNil(v.Links),
		"created_at": p.CreatedAt.UTC().Format(time.RFC3339),
		"updated_at": p.UpdatedAt.UTC().Format(time.RFC3339),
	}
	for _, c := range v.Readable {
		out[c] = fiber.Map{}
	}
	if v.Has(policies.CatIdentity) {
		out[policies.CatIdentity] = IdentityJSON{FiscalCode: p.FiscalCode, GivenName: p.GivenName, FamilyName: p.FamilyName,
			BirthDate: p.BirthDate.Format(time.DateOnly), Sex: p.Sex, ResidenceISTAT: p.ResidenceISTAT, ResidenceName: p.ResidenceName}
	}
	if v.Has(policies.CatContact) {
		out[policies.CatContact] = fiber.Map{"phone": p.Phone, "email": p.Email, "address": p.Address}
	}
	if c := targetGroupCategory(p.TargetGroup); v.Has(c) {
		out[c] = fiber.Map{"target_group": p.TargetGroup}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Register answers POST /api/v1/persons.
func (h *Handler) Register(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	var body PersonInputJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	v, err := h.svc.Register(c.UserContext(), a, httpx.RequestID(c.UserContext()), body.input())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(v.Person.Version))
	c.Set(fiber.HeaderLocation, "/api/v1/persons/"+v.Person.ID)
	return c.Status(fiber.StatusCreated).JSON(viewJSON(v))
}

// Get answers GET /api/v1/persons/{id}?purpose=.
func (h *Handler) Get(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	purpose := c.Query("purpose")
	if purpose != "" && !validPurpose(purpose) {
		return &apperr.Error{Code: apperr.Malformed, Message: "the purpose is not known",
			Fields: map[string]string{"purpose": "must be presa_in_carico, inserimento_lavorativo, case_conference, monitoraggio or comunicazione"}}
	}
	v, err := h.svc.Get(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), purpose)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(v.Person.Version))
	return c.JSON(viewJSON(v))
}

func validPurpose(p string) bool {
	switch p {
	case "presa_in_carico", "inserimento_lavorativo", "case_conference", "monitoraggio", "comunicazione":
		return true
	}
	return false
}

// Update answers PATCH /api/v1/persons/{id} with If-Match.
func (h *Handler) Update(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	version, err := httpx.RequireIfMatch(c, 1)
	if err != nil {
		return err
	}
	var body PersonInputJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	v, err := h.svc.Update(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), version, body.input())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(v.Person.Version))
	return c.JSON(viewJSON(v))
}

// SummaryJSON is a person in a list.
type SummaryJSON struct {
	ID             string `json:"id"`
	FiscalCode     string `json:"fiscal_code"`
	GivenName      string `json:"given_name"`
	FamilyName     string `json:"family_name"`
	BirthDate      string `json:"birth_date"`
	ResidenceISTAT string `json:"residence_istat"`
}

// List answers GET /api/v1/persons?q=&limit=&cursor=.
func (h *Handler) List(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	q := c.Query("q")
	if len(q) > 100 {
		return &apperr.Error{Code: apperr.Malformed, Message: "the search is too long", Fields: map[string]string{"q": "must be at most 100 characters"}}
	}
	p := SearchParams{Query: q, Limit: page.Limit}
	if page.After != "" && !p.ResumeAfter(page.After) {
		return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
	}
	rows, more, err := h.svc.Search(c.UserContext(), a, httpx.RequestID(c.UserContext()), p)
	if err != nil {
		return err
	}
	items := make([]SummaryJSON, len(rows))
	for i, r := range rows {
		items[i] = SummaryJSON{ID: r.ID, FiscalCode: r.FiscalCode, GivenName: r.GivenName, FamilyName: r.FamilyName,
			BirthDate: r.BirthDate.Format(time.DateOnly), ResidenceISTAT: r.ResidenceISTAT}
	}
	list := httpx.List[SummaryJSON]{Items: items}
	if more {
		list.NextCursor = httpx.EncodeCursor(rows[len(rows)-1].Position())
	}
	return c.JSON(list)
}

type linkRequest struct {
	Tenant     string  `json:"tenant"`
	Kind       string  `json:"kind"`
	ValidUntil *string `json:"valid_until"`
}

// AddLink answers POST /api/v1/persons/{id}/links: the owner adds a tenant
// to the care team (other kinds are made by referrals and conferences).
func (h *Handler) AddLink(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	var req linkRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	fields := apperr.Fields{}
	if req.Tenant == "" {
		fields.Add("tenant", "is required")
	}
	if req.Kind != "" && req.Kind != policies.LinkCareTeam {
		fields.Add("kind", "must be care_team: other links are made by referrals and conferences")
	}
	var until *time.Time
	if req.ValidUntil != nil {
		t, err := time.Parse(time.RFC3339, *req.ValidUntil)
		if err != nil {
			d, derr := time.Parse(time.DateOnly, *req.ValidUntil)
			if derr != nil {
				fields.Add("valid_until", "must be a date (YYYY-MM-DD) or an RFC 3339 time")
			}
			t = d.AddDate(0, 0, 1) // the whole day
		}
		until = &t
	}
	if err := fields.Err(); err != nil {
		return err
	}
	l, err := h.svc.AddCareTeam(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), req.Tenant, until)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(l)
}

// EndLink answers DELETE /api/v1/persons/{id}/links/{link_id}.
func (h *Handler) EndLink(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	if err := h.svc.EndCareTeam(c.UserContext(), a, c.Params("id"), c.Params("link_id"), "ended by the owner"); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Links answers GET /api/v1/persons/{id}/links.
func (h *Handler) Links(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	ls, err := h.svc.Links(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return err
	}
	if ls == nil {
		ls = []policies.Link{}
	}
	return c.JSON(fiber.Map{"items": ls})
}

// Access answers GET /api/v1/persons/{id}/access: per tenant and category,
// what the tenant may do and why.
func (h *Handler) Access(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	ex, err := h.svc.Explain(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"person_id": c.Params("id"), "tenants": ex})
}

// AccessLog answers GET /api/v1/persons/{id}/access-log: who accessed the
// person's data, newest first.
func (h *Handler) AccessLog(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	var before int64
	if page.After != "" {
		if before, err = strconv.ParseInt(page.After, 10, 64); err != nil || before < 1 {
			return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
		}
	}
	lines, err := h.svc.AccessLog(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), before, page.Limit+1)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(lines, page.Limit, func(l policies.LogLine) string { return strconv.FormatInt(l.Seq, 10) }))
}
