package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/services/referrals"
)

// statusPage is the status check by fiscal code: the form, and the status
// found (or why none is shown).
type statusPage struct {
	Code    string
	Problem string
	Found   *statusView
}

type statusView struct {
	Enrolled  bool
	Active    bool
	Stage     string
	Since     *time.Time
	Placement string
	From, To  *time.Time
	PersonID  string
}

// stageNames are the Italian names of the stages of the path (pathways) and
// of the stages derived from referrals before the path has begun.
var stageNames = map[string]string{
	"selection":                "selezione",
	"initial_assessment":       "valutazione iniziale",
	"orientation":              "orientamento",
	"employability_assessment": "valutazione dell'occupabilità",
	"plan":                     "piano d'azione individuale",
	"in_placement":             "in inserimento",
	"follow_up":                "monitoraggio dopo l'uscita",
	"closed":                   "percorso chiuso",
	"not_started":              "registrata, non ancora inviata al programma",
	"referred":                 "segnalata, in attesa di risposta",
	"in_service":               "presa in carico da un servizio",
	"on_hold":                  "sospesa",
	"completed":                "segnalazione conclusa",
}

// placementNames are the Italian names of the kinds of placement.
var placementNames = map[string]string{
	"laboratorio_preformazione": "laboratorio di preformazione",
	"tirocinio":                 "tirocinio",
	"percorso_in_azienda":       "percorso in azienda",
	"inserimento_borsa_lavoro":  "inserimento con borsa lavoro",
	"formazione_esterna":        "formazione esterna",
	"assunzione":                "assunzione",
}

// Status answers GET /app/stato?codice_fiscale=: where a person stands in
// the programme, for a tenant that may read their status, found by the
// fiscal code the tenant already holds (the employment office, which may not
// read identities, checks the persons on its L.68 lists this way). Nothing
// of the person's identity is shown.
func (h *Handler) Status(c *fiber.Ctx) error {
	code := strings.TrimSpace(c.Query("codice_fiscale"))
	page := statusPage{Code: code}
	if code == "" {
		return h.render(c, fiber.StatusOK, "status", "Stato nel programma", page)
	}
	ctx, a := c.UserContext(), visitorOf(c).actor()
	id, err := h.persons.FindByFiscalCode(ctx, a, httpx.RequestID(ctx), code)
	switch {
	case apperr.Is(err, apperr.Malformed):
		page.Problem = "Il codice fiscale non è valido: controlla di averlo scritto per intero (16 caratteri, oppure 11 cifre per quello provvisorio)."
		return h.render(c, fiber.StatusBadRequest, "status", "Stato nel programma", page)
	case apperr.Is(err, apperr.NotFound):
		page.Problem = "Nessuna persona con questo codice fiscale è visibile al tuo ente."
		return h.render(c, fiber.StatusNotFound, "status", "Stato nel programma", page)
	case err != nil:
		return err
	}
	v, err := h.referrals.Status(ctx, a, id)
	if err != nil {
		return err
	}
	page.Found = statusViewOf(v)
	return h.render(c, fiber.StatusOK, "status", "Stato nel programma", page)
}

func statusViewOf(v referrals.StatusView) *statusView {
	out := &statusView{Enrolled: v.Enrolled, Active: v.Active, Stage: name(stageNames, v.Stage), Since: v.StageSince, PersonID: v.PersonID}
	if p := v.Placement; p != nil {
		out.Placement = name(placementNames, p.Kind)
		out.From, out.To = &p.StartDate, p.EndDate
	}
	return out
}
