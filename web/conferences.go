package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/services/conferences"
)

// conferencesShown is how many of the tenant's conferences the list shows.
const conferencesShown = 50

type conferenceRow struct {
	ID, Title, Organizer, Status, Location string
	Starts, Ends                           time.Time
	Persons                                int
}

var conferenceStatusNames = map[string]string{conferences.StatusScheduled: "in programma", conferences.StatusClosed: "chiusa",
	conferences.StatusCancelled: "annullata"}

var answerNames = map[string]string{conferences.AnswerPending: "in attesa di risposta", conferences.AnswerAccepted: "accettato",
	conferences.AnswerDeclined: "rifiutato"}

// Conferences answers GET /app/riunioni: the case conferences the acting
// tenant organizes or is invited to, the latest first.
func (h *Handler) Conferences(c *fiber.Ctx) error {
	cs, err := h.confs.List(c.UserContext(), visitorOf(c).actor(), nil, conferencesShown)
	if err != nil {
		return err
	}
	var rows []conferenceRow
	for _, cf := range cs {
		rows = append(rows, conferenceRow{ID: cf.ID, Title: cf.Title, Organizer: cf.OrganizerName, Status: name(conferenceStatusNames, cf.Status),
			Location: cf.Location, Starts: cf.StartsAt, Ends: cf.EndsAt, Persons: cf.PersonCount})
	}
	return h.render(c, fiber.StatusOK, "conferences", "Riunioni di rete", rows)
}

type conferencePage struct {
	conferenceRow
	VideoURL    string
	Invitations []invitationRow
	PersonIDs   []string
	Minutes     string
	Withheld    int
}

type invitationRow struct{ Tenant, Answer string }

// Conference answers GET /app/riunioni/{id}: a conference of the acting
// tenant, the tenants invited and their answers, the persons discussed with
// it (links to their pages, which decide what it may see) and the minutes.
// Any other conference is not found.
func (h *Handler) Conference(c *fiber.Ctx) error {
	ctx, a := c.UserContext(), visitorOf(c).actor()
	cf, err := h.confs.Get(ctx, a, c.Params("id"))
	if err != nil {
		return err
	}
	m, err := h.confs.Minutes(ctx, a, cf.ID)
	if err != nil {
		return err
	}
	p := conferencePage{conferenceRow: conferenceRow{ID: cf.ID, Title: cf.Title, Organizer: cf.OrganizerName,
		Status: name(conferenceStatusNames, cf.Status), Location: cf.Location, Starts: cf.StartsAt, Ends: cf.EndsAt, Persons: len(cf.PersonIDs)},
		VideoURL: cf.VideoURL, PersonIDs: cf.PersonIDs, Minutes: m.Text, Withheld: m.Withheld}
	for _, inv := range cf.Invitations {
		p.Invitations = append(p.Invitations, invitationRow{Tenant: inv.Tenant, Answer: name(answerNames, inv.Answer)})
	}
	return h.render(c, fiber.StatusOK, "conference", cf.Title, p)
}
