package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/services/people"
	"attivi/tenants"
)

// registerPage is the registration form: the values typed, and a sentence
// in Italian for each field the service refused.
type registerPage struct {
	CSRF           string
	Values         map[string]string
	Problems       map[string]string
	Problem        string // about the whole form (a person already registered)
	Municipalities []tenants.Municipality
	TargetGroups   []option
}

type option struct{ Value, Label string }

// registerFields are the form's fields, as the API names them.
var registerFields = []string{"fiscal_code", "family_name", "given_name", "birth_date", "sex", "residence_istat", "target_group",
	"phone", "email", "address"}

// fieldProblems say, for each field the service refuses, what to do about
// it. The service's own messages are in English for the API and more
// precise; these are what a social worker reads.
var fieldProblems = map[string]string{
	"fiscal_code":     "Il codice fiscale non è valido, oppure non corrisponde alla data di nascita o al sesso indicati: ricontrollalo carattere per carattere.",
	"family_name":     "Scrivi il cognome (al massimo 100 caratteri).",
	"given_name":      "Scrivi il nome (al massimo 100 caratteri).",
	"birth_date":      "Indica una data di nascita valida, non futura.",
	"sex":             "Indica il sesso come risulta dal codice fiscale.",
	"residence_istat": "Scegli il comune di residenza tra quelli della zona.",
	"target_group":    "Scegli il gruppo del programma.",
	"phone":           "Il numero di telefono non è valido (al massimo 40 caratteri).",
	"email":           "L'indirizzo email non è valido.",
	"address":         "L'indirizzo è troppo lungo (al massimo 300 caratteri).",
}

func (h *Handler) registerPage(v *visitor) registerPage {
	p := registerPage{CSRF: v.csrf, Values: map[string]string{}, Problems: map[string]string{}}
	for _, m := range tenants.ZoneMunicipalities {
		if m.ValidUntil == nil {
			p.Municipalities = append(p.Municipalities, m)
		}
	}
	for _, g := range []string{people.TargetL68, people.TargetMentalHealth} {
		p.TargetGroups = append(p.TargetGroups, option{Value: g, Label: name(targetGroupNames, g)})
	}
	return p
}

// RegisterForm answers GET /app/persone/nuova.
func (h *Handler) RegisterForm(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "register", "Registra una persona", h.registerPage(visitorOf(c)))
}

// Register answers POST /app/persone/nuova: the person registered by the
// acting tenant, which becomes their owner, and their page; or the form
// again with the values typed and what to correct.
func (h *Handler) Register(c *fiber.Ctx) error {
	v := visitorOf(c)
	page := h.registerPage(v)
	in := people.Input{}
	ptr := map[string]**string{"fiscal_code": &in.FiscalCode, "family_name": &in.FamilyName, "given_name": &in.GivenName,
		"birth_date": &in.BirthDate, "sex": &in.Sex, "residence_istat": &in.ResidenceISTAT, "target_group": &in.TargetGroup,
		"phone": &in.Phone, "email": &in.Email, "address": &in.Address}
	for _, f := range registerFields {
		val := strings.TrimSpace(c.FormValue(f))
		page.Values[f] = val
		*ptr[f] = &val
	}
	ctx := c.UserContext()
	view, err := h.persons.Register(ctx, v.actor(), httpx.RequestID(ctx), in)
	if err == nil {
		return c.Redirect("/app/persone/"+view.Person.ID, fiber.StatusSeeOther)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Code == apperr.Conflict && ae.Fields["holder"] != "":
		page.Problem = "Questa persona è già registrata nella rete. Per seguirla rivolgiti all'ente che la ha in carico: " + ae.Fields["holder"] + "."
		return h.render(c, fiber.StatusConflict, "register", "Registra una persona", page)
	case ae.Code == apperr.Invalid || ae.Code == apperr.Malformed:
		for f := range ae.Fields {
			if msg, ok := fieldProblems[f]; ok {
				page.Problems[f] = msg
			} else {
				page.Problem = "Alcuni dati non sono validi: ricontrolla il modulo."
			}
		}
		return h.render(c, fiber.StatusUnprocessableEntity, "register", "Registra una persona", page)
	}
	return err
}
