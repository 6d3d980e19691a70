package consents

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the consents API:
//
//	GET  /api/v1/persons/:id/consents   the consents the acting tenant sees, newest first (limit, cursor)
//	POST /api/v1/persons/:id/consents   record one (the owner of the record): 201
//	GET  /api/v1/consents/:id           one consent (ETag: its version)
//	POST /api/v1/consents/:id/revoke    {"reason": "..."}, optional If-Match: <version>
type Handler struct {
	svc *Service
}

// NewHandler returns the handlers on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// NewConsentJSON is the body of POST /api/v1/persons/:id/consents.
type NewConsentJSON struct {
	Basis      string   `json:"basis"`
	Purpose    string   `json:"purpose"`
	Grantees   []string `json:"grantees"`
	Categories []string `json:"categories"`
	ValidFrom  string   `json:"valid_from"`
	ValidUntil *string  `json:"valid_until"`
}

// RevokeJSON is the body of POST /api/v1/consents/:id/revoke.
type RevokeJSON struct {
	Reason string `json:"reason"`
}

// ConsentJSON is a consent in responses.
type ConsentJSON struct {
	ID               string   `json:"id"`
	PersonID         string   `json:"person_id"`
	Basis            string   `json:"basis"`
	Purpose          string   `json:"purpose"`
	Grantees         []string `json:"grantees"`
	Categories       []string `json:"categories"`
	ValidFrom        string   `json:"valid_from"`
	ValidUntil       *string  `json:"valid_until"`
	Status           Status   `json:"status"`
	RecordedBy       string   `json:"recorded_by"`
	CreatedAt        string   `json:"created_at"`
	RevokedAt        *string  `json:"revoked_at"`
	RevocationReason string   `json:"revocation_reason"`
	Version          int      `json:"version"`
	// Withheld names the parts not shown to this tenant: "grantees" (the
	// other grantees) and "revocation_reason".
	Withheld []string `json:"withheld"`
}

func toJSON(c Consent) ConsentJSON {
	out := ConsentJSON{ID: c.ID, PersonID: c.PersonID, Basis: c.Basis, Purpose: c.Purpose,
		Grantees: c.Grantees, Categories: c.Categories, ValidFrom: c.ValidFrom.Format(time.DateOnly),
		Status: c.Status, RecordedBy: c.RecordedBy, CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339),
		RevocationReason: c.RevocationReason, Version: c.Version, Withheld: c.Withheld}
	if c.ValidUntil != nil {
		u := c.ValidUntil.Format(time.DateOnly)
		out.ValidUntil = &u
	}
	if c.RevokedAt != nil {
		r := c.RevokedAt.UTC().Format(time.RFC3339)
		out.RevokedAt = &r
	}
	if out.Grantees == nil {
		out.Grantees = []string{}
	}
	if out.Withheld == nil {
		out.Withheld = []string{}
	}
	return out
}

// List serves GET /api/v1/persons/:id/consents.
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
	cs, err := h.svc.List(ctx, a, strings.Clone(c.Params("id")), page.After, page.Limit+1)
	if err != nil {
		return err
	}
	l := httpx.NewList(cs, page.Limit, Cursor)
	items := make([]ConsentJSON, len(l.Items))
	for i, x := range l.Items {
		items[i] = toJSON(x)
	}
	return c.JSON(httpx.List[ConsentJSON]{Items: items, NextCursor: l.NextCursor})
}

// Create serves POST /api/v1/persons/:id/consents.
func (h *Handler) Create(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	var body NewConsentJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	out, err := h.svc.Record(ctx, a, strings.Clone(c.Params("id")), Draft{Basis: body.Basis, Purpose: body.Purpose,
		Grantees: body.Grantees, Categories: body.Categories, ValidFrom: body.ValidFrom, ValidUntil: body.ValidUntil})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/consents/"+out.ID)
	c.Set(fiber.HeaderETag, httpx.ETag(out.Version))
	return c.Status(fiber.StatusCreated).JSON(toJSON(out))
}

// Get serves GET /api/v1/consents/:id.
func (h *Handler) Get(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	out, err := h.svc.Get(ctx, a, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(out.Version))
	return c.JSON(toJSON(out))
}

// Revoke serves POST /api/v1/consents/:id/revoke.
func (h *Handler) Revoke(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	ifMatch, err := httpx.IfMatch(c, false, 1)
	if err != nil {
		return err
	}
	var body RevokeJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	out, err := h.svc.Revoke(ctx, a, strings.Clone(c.Params("id")), body.Reason, ifMatch)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(out.Version))
	return c.JSON(toJSON(out))
}
