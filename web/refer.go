package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/referrals"
)

// referPage is the form that refers a person to another tenant.
type referPage struct {
	CSRF       string
	Key        string // the request's idempotency key: a form sent twice refers once
	PersonID   string
	Tenants    []option
	Priorities []option
	Categories []option
	Values     map[string]string
	Chosen     map[string]bool
	Problems   map[string]string
	Problem    string
}

var referProblems = map[string]string{
	"to_tenant":         "Scegli l'ente a cui segnali la persona (non il tuo).",
	"reason":            "Scrivi il motivo della segnalazione (al massimo qualche riga).",
	"priority":          "Scegli la priorità.",
	"shared_categories": "Scegli quali dati condividere con l'ente.",
	"note":              "La nota è troppo lunga.",
}

func (h *Handler) referPage(c *fiber.Ctx, personID string) (referPage, error) {
	v := visitorOf(c)
	p := referPage{CSRF: v.csrf, Key: randomToken(), PersonID: personID, Values: map[string]string{"priority": "routine"},
		Chosen: map[string]bool{policies.CatIdentity: true, policies.CatStatus: true}, Problems: map[string]string{}}
	var err error
	if p.Tenants, err = h.tenantOptions(c, v.acting.TenantSlug); err != nil {
		return p, err
	}
	for _, pr := range referrals.Priorities {
		p.Priorities = append(p.Priorities, option{pr, name(priorityNames, pr)})
	}
	p.Categories = categoryOptions()
	return p, nil
}

// ReferForm answers GET /app/persone/{id}/segnala, for a person the tenant
// may see; whether it may share what it ticks is the service's to say.
func (h *Handler) ReferForm(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := h.persons.Get(c.UserContext(), visitorOf(c).actor(), requestID(c), id, ""); err != nil {
		return err
	}
	p, err := h.referPage(c, id)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "refer", "Segnala la persona a un altro ente", p)
}

// Refer answers POST /app/persone/{id}/segnala: the referral sent, and the
// tenant's sent referrals; or the form again, saying what to correct.
func (h *Handler) Refer(c *fiber.Ctx) error {
	id := c.Params("id")
	p, err := h.referPage(c, id)
	if err != nil {
		return err
	}
	if k := c.FormValue("chiave"); len(k) == 43 { // randomToken's length
		p.Key = k
	}
	var cats []string
	for _, v := range c.Request().PostArgs().PeekMulti("shared_categories") {
		cats = append(cats, string(v))
	}
	d := referrals.Draft{PersonID: id, ToTenant: c.FormValue("to_tenant"), Reason: strings.TrimSpace(c.FormValue("reason")),
		Priority: c.FormValue("priority"), SharedCategories: cats, Note: strings.TrimSpace(c.FormValue("note"))}
	p.Values = map[string]string{"to_tenant": d.ToTenant, "reason": d.Reason, "priority": d.Priority, "note": d.Note}
	p.Chosen = map[string]bool{}
	for _, cat := range cats {
		p.Chosen[cat] = true
	}
	_, err = h.referrals.Create(c.UserContext(), visitorOf(c).actor(), "web-"+p.Key, d)
	if err == nil {
		return c.Redirect("/app/segnalazioni?direzione=inviate", fiber.StatusSeeOther)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return err
	}
	status := fiber.StatusUnprocessableEntity
	switch ae.Code {
	case apperr.Invalid, apperr.Malformed:
		for f := range ae.Fields {
			if msg, ok := referProblems[f]; ok {
				p.Problems[f] = msg
			} else {
				p.Problem = "Alcuni dati non sono validi: ricontrolla il modulo."
			}
		}
	case apperr.Conflict:
		status, p.Problem = fiber.StatusConflict, "La persona ha già una segnalazione aperta del tuo ente a quell'ente: segui quella."
	case apperr.Forbidden:
		status, p.Problem = fiber.StatusForbidden, "Il tuo ente non può condividere tutti i dati scelti: togli quelli che non può comunicare (per esempio i dati sanitari senza un consenso che lo permetta)."
	default:
		return err
	}
	return h.render(c, status, "refer", "Segnala la persona a un altro ente", p)
}
