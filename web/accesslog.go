package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// accessLogShown is how many entries of a person's access log the page
// shows, newest first.
const accessLogShown = 100

type accessLogPage struct {
	PersonID string
	Rows     []accessRow
	More     bool
}

type accessRow struct {
	At                                                time.Time
	Tenant, User, Action, Categories, Purpose, Reason string
	Allowed                                           bool
}

var logActionNames = map[string]string{"read": "lettura", "list": "elenco o ricerca", "write": "modifica", "download": "scaricamento",
	"explain": "consultazione dei permessi"}

// AccessLog answers GET /app/persone/{id}/accessi: who accessed the
// person's data, when, what and why (the "who accessed my data" request),
// for the roles the access model lets read it (the tenant holding the
// record, the privacy officer); anyone else gets what the service says.
func (h *Handler) AccessLog(c *fiber.Ctx) error {
	id := c.Params("id")
	lines, err := h.persons.AccessLog(c.UserContext(), visitorOf(c).actor(), requestID(c), id, 0, accessLogShown+1)
	if err != nil {
		return err
	}
	p := accessLogPage{PersonID: id, More: len(lines) > accessLogShown}
	if p.More {
		lines = lines[:accessLogShown]
	}
	for _, l := range lines {
		r := accessRow{At: l.At, Action: name(logActionNames, l.Action), Purpose: l.Purpose, Reason: l.Reason, Allowed: l.Decision == "allow"}
		if l.TenantName != nil {
			r.Tenant = *l.TenantName
		}
		if l.UserEmail != nil {
			r.User = *l.UserEmail
		}
		var cats []string
		for _, cat := range l.Categories {
			cats = append(cats, name(categoryNames, cat))
		}
		r.Categories = strings.Join(cats, ", ")
		p.Rows = append(p.Rows, r)
	}
	return h.render(c, fiber.StatusOK, "accesslog", "Registro degli accessi", p)
}
