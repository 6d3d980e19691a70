package web

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/consents"
	"attivi/tenants"
)

// consentPage is the form that records a person's consent: the choices,
// what was chosen, and what to correct.
type consentPage struct {
	CSRF       string
	PersonID   string
	Bases      []option
	Purposes   []option
	Tenants    []option // grantee tenants, by slug
	Kinds      []option // grantee kinds, as kind:<kind>
	Categories []option
	Values     map[string]string
	Chosen     map[string]bool // grantees and categories ticked
	Problems   map[string]string
}

// consentProblems say what to correct, per field the service refuses.
var consentProblems = map[string]string{
	"basis":       "Scegli la base giuridica.",
	"purpose":     "Scegli la finalità.",
	"grantees":    "Scegli almeno un ente, o un tipo di ente, a cui la persona consente di comunicare i dati.",
	"categories":  "Scegli almeno una categoria di dati.",
	"valid_from":  "Indica da quando vale il consenso.",
	"valid_until": "La scadenza non può venire prima dell'inizio.",
}

func (h *Handler) consentPage(c *fiber.Ctx, personID string) (consentPage, error) {
	p := consentPage{CSRF: visitorOf(c).csrf, PersonID: personID, Values: map[string]string{"valid_from": time.Now().In(rome).Format(time.DateOnly)},
		Chosen: map[string]bool{}, Problems: map[string]string{}}
	for _, b := range consents.Bases {
		p.Bases = append(p.Bases, option{b, name(basisNames, b)})
	}
	for _, pu := range consents.Purposes {
		p.Purposes = append(p.Purposes, option{pu, name(purposeNames, pu)})
	}
	var err error
	if p.Tenants, err = h.tenantOptions(c, ""); err != nil {
		return p, err
	}
	for _, k := range tenants.Kinds {
		g := consents.KindPrefix + string(k)
		p.Kinds = append(p.Kinds, option{g, granteeName(g)})
	}
	p.Categories = categoryOptions()
	return p, nil
}

// tenantOptions are the network's tenants as choices, but for except.
func (h *Handler) tenantOptions(c *fiber.Ctx, except string) ([]option, error) {
	ts, err := h.tenants.List(c.UserContext(), "", 1000)
	if err != nil {
		return nil, err
	}
	var out []option
	for _, t := range ts {
		if t.Slug != except {
			out = append(out, option{t.Slug, t.Name})
		}
	}
	return out, nil
}

// categoryOptions are the categories of personal data as choices.
func categoryOptions() []option {
	out := make([]option, len(policies.PersonCategories))
	for i, cat := range policies.PersonCategories {
		out[i] = option{cat, name(categoryNames, cat)}
	}
	return out
}

// ConsentForm answers GET /app/persone/{id}/consensi/nuovo. The person must
// be one the tenant may see; whether it may record their consent (it holds
// their record) is the service's to say when the form is sent.
func (h *Handler) ConsentForm(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id := c.Params("id")
	if _, err := h.persons.Get(ctx, visitorOf(c).actor(), requestID(c), id, ""); err != nil {
		return err
	}
	p, err := h.consentPage(c, id)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "consent", "Registra un consenso", p)
}

// RecordConsent answers POST /app/persone/{id}/consensi/nuovo: the consent
// recorded, and the person's page; or the form again, saying what to correct.
func (h *Handler) RecordConsent(c *fiber.Ctx) error {
	id := c.Params("id")
	p, err := h.consentPage(c, id)
	if err != nil {
		return err
	}
	var grantees, cats []string // ticked boxes: the same name, several values
	args := c.Request().PostArgs()
	for _, v := range args.PeekMulti("grantees") {
		grantees = append(grantees, string(v))
	}
	for _, v := range args.PeekMulti("categories") {
		cats = append(cats, string(v))
	}
	d := consents.Draft{Basis: c.FormValue("basis"), Purpose: c.FormValue("purpose"), Grantees: grantees, Categories: cats,
		ValidFrom: strings.TrimSpace(c.FormValue("valid_from"))}
	if until := strings.TrimSpace(c.FormValue("valid_until")); until != "" {
		d.ValidUntil = &until
	}
	for _, k := range []string{"basis", "purpose", "valid_from", "valid_until"} {
		p.Values[k] = strings.TrimSpace(c.FormValue(k))
	}
	for _, v := range slices.Concat(grantees, cats) {
		p.Chosen[v] = true
	}
	_, err = h.consents.Record(c.UserContext(), visitorOf(c).actor(), id, d)
	if err == nil {
		return c.Redirect("/app/persone/"+id, fiber.StatusSeeOther)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || (ae.Code != apperr.Invalid && ae.Code != apperr.Malformed) {
		return err
	}
	for f := range ae.Fields {
		msg, ok := consentProblems[f]
		if !ok {
			msg = "Alcuni dati non sono validi: ricontrolla il modulo."
			f = "form"
		}
		p.Problems[f] = msg
	}
	return h.render(c, fiber.StatusUnprocessableEntity, "consent", "Registra un consenso", p)
}
