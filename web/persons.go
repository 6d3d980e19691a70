package web

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/services/consents"
	"attivi/services/people"
)

// Page sizes of lists: the default, the largest a ?limit= may ask.
const (
	defaultPageSize = 25
	maxPageSize     = 100
	maxQueryRunes   = 100
	consentsShown   = 50
)

var errBadCursor = &userError{err: apperr.New(apperr.Malformed, "not a cursor this server gave out"),
	text: "Il collegamento a questa pagina dell'elenco non è valido: riparti dalla prima pagina."}

// pageSize reads ?limit=; a missing or unusable value is the default.
func pageSize(c *fiber.Ctx) int {
	n, err := strconv.Atoi(c.Query("limit"))
	if err != nil || n < 1 || n > maxPageSize {
		return defaultPageSize
	}
	return n
}

// nextPage is the address of the next page of a list at path.
func nextPage(path string, q url.Values, cursor string, limit int) string {
	q.Set("cursor", cursor)
	if limit != defaultPageSize {
		q.Set("limit", strconv.Itoa(limit))
	}
	return path + "?" + q.Encode()
}

type personsPage struct {
	Query string
	Rows  []personRow
	Next  string // the address of the next page, "" on the last
}

type personRow struct {
	ID, FamilyName, GivenName, FiscalCode string
	BirthDate                             time.Time
}

// Persons answers GET /app/persone?q=&cursor=&limit=: the persons whose
// identity the acting tenant may read, in name order.
func (h *Handler) Persons(c *fiber.Ctx) error {
	ctx := c.UserContext()
	q := strings.TrimSpace(c.Query("q"))
	if utf8.RuneCountInString(q) > maxQueryRunes {
		return &userError{err: apperr.New(apperr.Malformed, "search too long"), text: "La ricerca è troppo lunga: usa al massimo 100 caratteri."}
	}
	p := people.SearchParams{Query: q, Limit: pageSize(c)}
	if s := c.Query("cursor"); s != "" {
		if key, err := httpx.DecodeCursor(s); err != nil || !p.ResumeAfter(key) {
			return errBadCursor
		}
	}
	rows, more, err := h.persons.Search(ctx, visitorOf(c).actor(), httpx.RequestID(ctx), p)
	if err != nil {
		return err
	}
	page := personsPage{Query: q, Rows: make([]personRow, len(rows))}
	for i, r := range rows {
		page.Rows[i] = personRow{ID: r.ID, FamilyName: r.FamilyName, GivenName: r.GivenName, FiscalCode: r.FiscalCode, BirthDate: r.BirthDate}
	}
	if more && len(rows) > 0 {
		last := rows[len(rows)-1]
		page.Next = nextPage("/app/persone", url.Values{"q": {q}}, httpx.EncodeCursor(last.Position()), p.Limit)
	}
	return h.render(c, fiber.StatusOK, "persons", "Persone", page)
}

type personPage struct {
	ID         string
	Identity   *people.Person // nil: identity withheld
	Residence  string
	Sex        string
	Contact    *people.Person // nil: contact withheld
	Categories []categoryView
	Links      []string
	Consents   *consentsView // nil: the consents service refused
	// Owner: the acting tenant holds the record (presa in carico), so it
	// records the person's consents.
	Owner bool
}

type categoryView struct {
	Name    string
	Visible bool
	Detail  string // what this page shows of the category, if anything
}

type consentsView struct {
	Items []consentView
	More  bool
}

type consentView struct {
	Purpose, Basis, Categories, Grantees, Status, RecordedBy string
	OthersWithheld                                           bool
	ValidFrom                                                time.Time
	ValidUntil                                               *time.Time
}

// Person answers GET /app/persone/{id}: the person as the acting tenant may
// see them. A person it may not see, like an id that matches nobody, is not
// found.
func (h *Handler) Person(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a := visitorOf(c).actor()
	id := c.Params("id")
	v, err := h.persons.Get(ctx, a, httpx.RequestID(ctx), id, "")
	if err != nil {
		return err
	}
	p := v.Person
	page := personPage{ID: p.ID}
	for _, l := range v.Links {
		page.Links = append(page.Links, name(linkNames, l))
		page.Owner = page.Owner || l == policies.LinkOwner
	}
	if v.Has(policies.CatIdentity) {
		page.Identity = &p
		page.Sex = name(sexNames, p.Sex)
		page.Residence = p.ResidenceISTAT
		if p.ResidenceName != "" {
			page.Residence = p.ResidenceName + " (" + p.ResidenceISTAT + ")"
		}
	}
	if v.Has(policies.CatContact) {
		page.Contact = &p
	}
	// The target group tells that the person is disabled or followed for
	// mental health: it belongs to that category (as in the API).
	groupCategory := policies.CatDisability
	if p.TargetGroup == people.TargetMentalHealth {
		groupCategory = policies.CatHealth
	}
	for _, cat := range policies.PersonCategories {
		cv := categoryView{Name: name(categoryNames, cat), Visible: v.Has(cat)}
		if cv.Visible && cat == groupCategory {
			cv.Detail = "Gruppo del programma: " + name(targetGroupNames, p.TargetGroup) + "."
		}
		page.Categories = append(page.Categories, cv)
	}
	cs, err := h.consents.List(ctx, a, id, "", consentsShown+1)
	switch {
	case apperr.Is(err, apperr.NotFound), apperr.Is(err, apperr.Forbidden):
		// The service refuses the consents to this tenant: say nothing of them.
	case err != nil:
		return err
	default:
		page.Consents = consentsOf(cs)
	}
	title := "Persona"
	if page.Identity != nil {
		title = p.FamilyName + " " + p.GivenName
	}
	return h.render(c, fiber.StatusOK, "person", title, page)
}

func consentsOf(cs []consents.Consent) *consentsView {
	out := &consentsView{More: len(cs) > consentsShown}
	if out.More {
		cs = cs[:consentsShown]
	}
	for _, c := range cs {
		grantees := make([]string, len(c.Grantees))
		for i, g := range c.Grantees {
			grantees[i] = granteeName(g)
		}
		out.Items = append(out.Items, consentView{Purpose: name(purposeNames, c.Purpose), Basis: name(basisNames, c.Basis),
			Categories: names(categoryNames, c.Categories), Grantees: strings.Join(grantees, ", "),
			Status: name(consentStatusNames, c.Status), RecordedBy: c.RecordedBy,
			OthersWithheld: slices.Contains(c.Withheld, consents.WithheldGrantees), ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil})
	}
	return out
}
