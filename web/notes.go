package web

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/notes"
)

// notesShown is how many of a person's notes the page shows, newest first.
const notesShown = 50

// notesPage is a person's case notes as the acting tenant may read them,
// and the form to write one.
type notesPage struct {
	PersonID   string
	CSRF       string
	Notes      []noteView
	More       bool
	Categories []option
	Values     map[string]string
	Problems   map[string]string
}

type noteView struct {
	Category, Author, Body string
	Sensitive              bool
	At                     time.Time
	ErrorReason            string // entered in error: why
	Amended                bool
}

var noteProblems = map[string]string{
	"category": "Scegli la categoria di dati della nota.",
	"body":     "Scrivi la nota (al massimo 20.000 caratteri, solo testo).",
}

// Notes answers GET /app/persone/{id}/note: the person's case notes the
// acting tenant may read (which notes, the service decides: the person's
// consent, the tenant's links, its own notes), and the form to add one.
func (h *Handler) Notes(c *fiber.Ctx) error {
	return h.notes(c, fiber.StatusOK, map[string]string{"category": policies.CatSocial}, nil)
}

// WriteNote answers POST /app/persone/{id}/note: the note written, and the
// notes again; or the notes with the form as typed and what to correct.
func (h *Handler) WriteNote(c *fiber.Ctx) error {
	d := notes.Draft{Category: c.FormValue("category"), Body: strings.TrimSpace(c.FormValue("body")), Sensitive: c.FormValue("riservata") == "1"}
	ctx := c.UserContext()
	_, err := h.notesSvc.Create(ctx, visitorOf(c).actor(), requestID(c), c.Params("id"), d)
	if err == nil {
		return c.Redirect("/app/persone/"+c.Params("id")+"/note", fiber.StatusSeeOther)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || (ae.Code != apperr.Invalid && ae.Code != apperr.Malformed) {
		return err
	}
	problems := map[string]string{}
	for f := range ae.Fields {
		if msg, ok := noteProblems[f]; ok {
			problems[f] = msg
		}
	}
	values := map[string]string{"category": d.Category, "body": d.Body}
	if d.Sensitive {
		values["riservata"] = "1"
	}
	return h.notes(c, fiber.StatusUnprocessableEntity, values, problems)
}

func (h *Handler) notes(c *fiber.Ctx, status int, values, problems map[string]string) error {
	id := c.Params("id")
	ns, err := h.notesSvc.List(c.UserContext(), visitorOf(c).actor(), requestID(c), notes.ListParams{PersonID: id, Limit: notesShown + 1})
	if err != nil {
		return err
	}
	p := notesPage{PersonID: id, CSRF: visitorOf(c).csrf, More: len(ns) > notesShown, Values: values, Problems: problems}
	if p.More {
		ns = ns[:notesShown]
	}
	for _, n := range ns {
		v := noteView{Category: name(categoryNames, n.Category), Author: n.AuthorTenant, Body: n.Body, Sensitive: n.Sensitive,
			At: n.CreatedAt, Amended: len(n.AmendedBy) > 0}
		if n.EnteredInError != nil {
			v.ErrorReason = n.EnteredInError.Reason
		}
		p.Notes = append(p.Notes, v)
	}
	p.Categories = categoryOptions()
	return h.render(c, status, "notes", "Note", p)
}
