package web

import (
	"net/url"
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
}

type eventRow struct {
	At                             time.Time
	Tenant, From, To, Detail, Note string
}

// Referral answers GET /app/segnalazioni/{id}: one referral of the acting
// tenant (sent or received) with its history; any other is not found.
func (h *Handler) Referral(c *fiber.Ctx) error {
	r, err := h.referrals.Get(c.UserContext(), visitorOf(c).actor(), c.Params("id"))
	if err != nil {
		return err
	}
	page := referralPage{referralRow: referralRowOf(r), Reason: r.Reason, Note: r.Note, Shared: names(categoryNames, r.SharedCategories)}
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
	return h.render(c, fiber.StatusOK, "referral", "Segnalazione", page)
}
