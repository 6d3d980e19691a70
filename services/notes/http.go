package notes

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the notes API:
//
//	GET  /api/v1/persons/:id/notes                                  the person's notes the tenant may read (q, category, limit, cursor)
//	POST /api/v1/persons/:id/notes                                  write one: 201
//	GET  /api/v1/persons/:id/notes/:note_id                         one note
//	POST /api/v1/persons/:id/notes/:note_id/amendments              {"body"}: 201, the amendment
//	POST /api/v1/persons/:id/notes/:note_id/entered-in-error        {"reason"}: the marked note
//	GET  /api/v1/notes                                              every note the tenant may read (q, category, limit, cursor)
type Handler struct {
	svc *Service
}

// NewHandler returns the handlers on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// NewNoteJSON is the body of POST /api/v1/persons/:id/notes.
type NewNoteJSON struct {
	Category     string  `json:"category"`
	Body         string  `json:"body"`
	Sensitive    bool    `json:"sensitive"`
	ReferralID   *string `json:"referral_id"`
	ConferenceID *string `json:"conference_id"`
}

// AmendmentJSON is the body of POST .../amendments.
type AmendmentJSON struct {
	Body string `json:"body"`
}

// ErrorMarkJSON is the body of POST .../entered-in-error and the mark in
// responses.
type ErrorMarkJSON struct {
	At     string `json:"at,omitempty"`
	UserID string `json:"user_id,omitempty"`
	Reason string `json:"reason"`
}

// AuthorJSON is who wrote a note.
type AuthorJSON struct {
	Tenant string `json:"tenant"`
	UserID string `json:"user_id"`
}

// NoteJSON is a note in responses.
type NoteJSON struct {
	ID             string         `json:"id"`
	PersonID       string         `json:"person_id"`
	Category       string         `json:"category"`
	Body           string         `json:"body"`
	Sensitive      bool           `json:"sensitive"`
	Author         AuthorJSON     `json:"author"`
	ReferralID     *string        `json:"referral_id"`
	ConferenceID   *string        `json:"conference_id"`
	Amends         *string        `json:"amends"`
	AmendedBy      []string       `json:"amended_by"`
	EnteredInError *ErrorMarkJSON `json:"entered_in_error"`
	CreatedAt      string         `json:"created_at"`
}

// ToJSON renders a note.
func ToJSON(n Note) NoteJSON {
	out := NoteJSON{ID: n.ID, PersonID: n.PersonID, Category: n.Category, Body: n.Body, Sensitive: n.Sensitive,
		Author: AuthorJSON{Tenant: n.AuthorTenant, UserID: n.AuthorUserID}, ReferralID: n.ReferralID,
		ConferenceID: n.ConferenceID, Amends: n.AmendsID, AmendedBy: n.AmendedBy,
		CreatedAt: n.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if out.AmendedBy == nil {
		out.AmendedBy = []string{}
	}
	if m := n.EnteredInError; m != nil {
		out.EnteredInError = &ErrorMarkJSON{At: m.At.UTC().Format(time.RFC3339), UserID: m.UserID, Reason: m.Reason}
	}
	return out
}

func actor(c *fiber.Ctx) (tenants.Actor, error) { return tenants.RequireActor(c.UserContext()) }

// Create answers POST /api/v1/persons/:id/notes.
func (h *Handler) Create(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var body NewNoteJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	n, err := h.svc.Create(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), Draft{
		Category: body.Category, Body: body.Body, Sensitive: body.Sensitive, ReferralID: body.ReferralID, ConferenceID: body.ConferenceID})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/persons/"+n.PersonID+"/notes/"+n.ID)
	return c.Status(fiber.StatusCreated).JSON(ToJSON(n))
}

// Get answers GET /api/v1/persons/:id/notes/:note_id.
func (h *Handler) Get(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	n, err := h.svc.Get(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), c.Params("note_id"))
	if err != nil {
		return err
	}
	return c.JSON(ToJSON(n))
}

// List answers GET /api/v1/persons/:id/notes.
func (h *Handler) List(c *fiber.Ctx) error { return h.list(c, c.Params("id")) }

// Search answers GET /api/v1/notes: the notes of every person the tenant may
// read, optionally of one person (person_id).
func (h *Handler) Search(c *fiber.Ctx) error {
	pid := c.Query("person_id")
	if pid != "" && !isUUID(pid) {
		return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: map[string]string{"person_id": "is not the id of a person"}}
	}
	return h.list(c, pid)
}

func (h *Handler) list(c *fiber.Ctx, personID string) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	p := ListParams{PersonID: personID, Query: strings.TrimSpace(c.Query("q")), Category: c.Query("category"), Limit: page.Limit + 1}
	f := apperr.Fields{}
	if utf8.RuneCountInString(p.Query) > MaxQuery {
		f.Add("q", "must be at most %d characters", MaxQuery)
	}
	if p.Category != "" && !contains(policies.PersonCategories, p.Category) {
		f.Add("category", "must be one of %s", strings.Join(policies.PersonCategories, ", "))
	}
	if page.After != "" {
		cur, err := parseCursor(page.After)
		if err != nil {
			f.Add("cursor", "is not a cursor this server gave out")
		}
		p.After = &cur
	}
	if len(f) > 0 {
		return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: f}
	}
	ns, err := h.svc.List(c.UserContext(), a, httpx.RequestID(c.UserContext()), p)
	if err != nil {
		return err
	}
	items := make([]NoteJSON, len(ns))
	keys := make(map[string]string, len(ns))
	for i, n := range ns {
		items[i] = ToJSON(n)
		keys[n.ID] = Cursor{At: n.CreatedAt, ID: n.ID}.String()
	}
	return c.JSON(httpx.NewList(items, page.Limit, func(n NoteJSON) string { return keys[n.ID] }))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Amend answers POST /api/v1/persons/:id/notes/:note_id/amendments.
func (h *Handler) Amend(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var body AmendmentJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	n, err := h.svc.Amend(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), c.Params("note_id"), body.Body)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/persons/"+n.PersonID+"/notes/"+n.ID)
	return c.Status(fiber.StatusCreated).JSON(ToJSON(n))
}

// MarkEnteredInError answers POST /api/v1/persons/:id/notes/:note_id/entered-in-error.
func (h *Handler) MarkEnteredInError(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	n, err := h.svc.MarkEnteredInError(c.UserContext(), a, httpx.RequestID(c.UserContext()), c.Params("id"), c.Params("note_id"), body.Reason)
	if err != nil {
		return err
	}
	return c.JSON(ToJSON(n))
}
