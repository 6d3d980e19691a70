package web

import (
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/services/referrals"
)

type referralsPage struct {
	Outgoing bool
	Rows     []referralRow
	Next     string
}

type referralRow struct {
	ID, Person, PersonID, From, To, Priority, Status string
	Named, Overdue                                   bool
	CreatedAt                                        time.Time
}

func referralRowOf(r referrals.Referral) referralRow {
	row := referralRow{ID: r.ID, PersonID: r.PersonID, From: r.FromTenant, To: r.ToTenant, Priority: name(priorityNames, r.Priority),
		Status: name(referralStatusNames, r.Status), Overdue: r.Overdue, CreatedAt: r.CreatedAt}
	if r.Person != nil {
		row.Named, row.Person = true, r.Person.FamilyName+" "+r.Person.GivenName
	}
	return row
}

// Referrals answers GET /app/segnalazioni?direzione=inviate&cursor=: the
// acting tenant's incoming referrals (its outgoing ones with
// direzione=inviate), newest first.
func (h *Handler) Referrals(c *fiber.Ctx) error {
	out := c.Query("direzione") == "inviate"
	limit := pageSize(c)
	rs, err := h.referrals.List(c.UserContext(), visitorOf(c).actor(),
		referrals.ListParams{Incoming: !out, Cursor: c.Query("cursor"), Limit: limit + 1})
	if apperr.Is(err, apperr.Malformed) {
		return errBadCursor
	}
	if err != nil {
		return err
	}
	page := referralsPage{Outgoing: out}
	if len(rs) > limit {
		rs = rs[:limit]
		q := url.Values{}
		if out {
			q.Set("direzione", "inviate")
		}
		page.Next = nextPage("/app/segnalazioni", q, referrals.Cursor(rs[limit-1]), limit)
	}
	for _, r := range rs {
		page.Rows = append(page.Rows, referralRowOf(r))
	}
	return h.render(c, fiber.StatusOK, "referrals", "Segnalazioni", page)
}

type referralPage struct {
	referralRow
	Reason, Note, Shared string
	Events               []eventRow
	// What the acting tenant may do with the referral now, as forms.
	Actions []actionForm
	CSRF    string
	Version int
	Problem string
}

// actionForm is one move the acting tenant may make, with the fields it
// needs.
type actionForm struct {
	To, Label                 string
	Reason, Outcome, NoteNeed bool
	Reasons, Outcomes         []option
}

// actionLabels are the buttons of the moves.
var actionLabels = map[referrals.Status]string{
	referrals.StatusAccepted:   "Accetta",
	referrals.StatusRejected:   "Rifiuta",
	referrals.StatusInProgress: "Avvia il percorso",
	referrals.StatusOnHold:     "Sospendi",
	referrals.StatusCompleted:  "Concludi",
	referrals.StatusCancelled:  "Annulla la segnalazione",
	referrals.StatusFailed:     "Segna come non riuscita",
}

// transitionProblems say what to correct when a move is refused.
var transitionProblems = map[string]string{
	referrals.FieldReasonCode: "Scegli il motivo del rifiuto.",
	referrals.FieldOutcome:    "Scegli l'esito.",
	referrals.FieldNote:       "Scrivi una nota che spieghi (l'altro ente la leggerà).",
}

type eventRow struct {
	At                             time.Time
	Tenant, From, To, Detail, Note string
}

// Referral answers GET /app/segnalazioni/{id}: one referral of the acting
// tenant (sent or received) with its history and what it may do now; any
// other is not found.
func (h *Handler) Referral(c *fiber.Ctx) error {
	return h.referral(c, fiber.StatusOK, "")
}

// Move answers POST /app/segnalazioni/{id}/stato: the move chosen on the
// referral's page, if the referral is still at the version shown; then the
// page again, saying what went wrong if it was refused.
func (h *Handler) Move(c *fiber.Ctx) error {
	version, err := strconv.Atoi(c.FormValue("versione"))
	if err != nil || version < 1 {
		return &userError{err: apperr.New(apperr.Malformed, "no version"), text: "Il modulo non è valido: ricarica la pagina e riprova."}
	}
	m := referrals.Move{To: c.FormValue("stato"), ReasonCode: c.FormValue("reason_code"), Outcome: c.FormValue("outcome"), Note: c.FormValue("note")}
	_, err = h.referrals.Transition(c.UserContext(), visitorOf(c).actor(), c.Params("id"), version, m)
	var ae *apperr.Error
	switch {
	case err == nil:
		return c.Redirect("/app/segnalazioni/"+c.Params("id"), fiber.StatusSeeOther)
	case !errors.As(err, &ae):
		return err
	case ae.Code == apperr.Conflict:
		return h.referral(c, fiber.StatusConflict, "Qualcuno ha cambiato la segnalazione nel frattempo: ecco com'è ora. Se serve, ripeti l'operazione.")
	case ae.Code == apperr.Invalid || ae.Code == apperr.Malformed:
		problem := "L'operazione non è possibile in questo stato."
		for f := range ae.Fields {
			if msg, ok := transitionProblems[f]; ok {
				problem = msg
			}
		}
		return h.referral(c, fiber.StatusUnprocessableEntity, problem)
	}
	return err
}

func (h *Handler) referral(c *fiber.Ctx, status int, problem string) error {
	r, err := h.referrals.Get(c.UserContext(), visitorOf(c).actor(), c.Params("id"))
	if err != nil {
		return err
	}
	page := referralPage{referralRow: referralRowOf(r), Reason: r.Reason, Note: r.Note, Shared: names(categoryNames, r.SharedCategories),
		CSRF: visitorOf(c).csrf, Version: r.Version, Problem: problem}
	for _, t := range r.Next(r.Side) {
		a := actionForm{To: string(t.To), Label: name(actionLabels, t.To)}
		for _, f := range t.Requires {
			switch f {
			case referrals.FieldReasonCode:
				a.Reason = true
				for _, rc := range referrals.ReasonCodes {
					a.Reasons = append(a.Reasons, option{rc, name(reasonNames, rc)})
				}
			case referrals.FieldOutcome:
				a.Outcome = true
				for _, o := range referrals.Outcomes {
					a.Outcomes = append(a.Outcomes, option{o, name(outcomeNames, o)})
				}
			case referrals.FieldNote:
				a.NoteNeed = true
			}
		}
		page.Actions = append(page.Actions, a)
	}
	for _, e := range r.Events {
		ev := eventRow{At: e.At, Tenant: e.Tenant, To: name(referralStatusNames, e.To), Note: e.Note}
		if e.From != nil {
			ev.From = name(referralStatusNames, *e.From)
		}
		switch {
		case e.ReasonCode != nil:
			ev.Detail = "motivo: " + name(reasonNames, *e.ReasonCode)
		case e.Outcome != nil:
			ev.Detail = "esito: " + name(outcomeNames, *e.Outcome)
		}
		page.Events = append(page.Events, ev)
	}
	return h.render(c, status, "referral", "Segnalazione", page)
}
