// Package consents records a person's consents (or other legal basis) for a
// purpose, to named tenants or tenant kinds, for named data categories and a
// period, and their revocation (DESIGN sections 3, 6 and 8). Each consent is
// written with its grants (policies.AddGrants) in one transaction: the grants
// are what the access decision joins, so a consent counts, and a revocation
// stops counting, on the very next request of any instance.
//
// Who may do what:
//   - record and revoke: the owner of the person's record (an active owner
//     link and roles that may write identity data). Another tenant that may
//     see the person gets 403; one that may not gets 404.
//   - list and read: a tenant for which the person is visible. The owner sees
//     every consent; another tenant sees the consents that name it (its slug
//     or its kind) and those it recorded itself (DESIGN section 6: a record is
//     always readable by the tenant that wrote it). Of a consent it did not
//     record, such a tenant sees only the grantees that name it and not the
//     revocation reason: which other services follow the person, and why the
//     person withdrew, are not its business (both are listed under withheld).
//     Any other consent does not exist for it: 404, and absent from lists.
package consents

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"attivi/apperr"
	"attivi/policies"
	"attivi/tenants"
)

// Legal bases of a consent record.
const (
	BasisConsent    = "consent"     // the person's consent (GDPR art. 6.1.a, 9.2.a)
	BasisAdesione   = "adesione"    // the person's adherence to the programme
	BasisPublicTask = "public_task" // a task in the public interest, by law
)

// Bases lists every legal basis.
var Bases = []string{BasisConsent, BasisAdesione, BasisPublicTask}

// Purposes of a consent.
const (
	PurposePresaInCarico         = "presa_in_carico"
	PurposeInserimentoLavorativo = "inserimento_lavorativo"
	PurposeCaseConference        = "case_conference"
	PurposeMonitoraggio          = "monitoraggio"
	PurposeComunicazione         = "comunicazione" // the e-book / documentary
)

// Purposes lists every purpose.
var Purposes = []string{PurposePresaInCarico, PurposeInserimentoLavorativo, PurposeCaseConference, PurposeMonitoraggio, PurposeComunicazione}

// Status is where a consent stands on a given day.
type Status string

const (
	StatusScheduled Status = "scheduled" // valid_from is still to come
	StatusActive    Status = "active"
	StatusExpired   Status = "expired" // valid_until has passed
	StatusRevoked   Status = "revoked"
)

// Limits.
const (
	MaxGrantees     = 50
	MaxGranteeChars = 100
	MaxReasonChars  = 500
)

// KindPrefix marks a grantee that is a tenant kind: "kind:employment_office".
const KindPrefix = "kind:"

// Withheld parts of a consent shown to a tenant that did not record it and
// is not the owner.
const (
	WithheldGrantees = "grantees"
	WithheldReason   = "revocation_reason"
)

// Consent is a consent record as a tenant sees it.
type Consent struct {
	ID                 string
	PersonID           string
	Basis              string
	Purpose            string
	Grantees           []string // tenant slugs and kind:<kind>, as recorded
	Categories         []string
	ValidFrom          time.Time  // a day, at midnight UTC
	ValidUntil         *time.Time // the last day it is valid; nil: no end
	RecordedBy         string     // tenant slug
	RecordedByTenantID string
	CreatedAt          time.Time
	RevokedAt          *time.Time
	RevocationReason   string
	Version            int

	// Set for the viewer who asked, on the day they asked.
	Status   Status
	Withheld []string
}

// StatusOn is the consent's status on day (a date at midnight UTC). It
// follows the access decision: valid from valid_from to valid_until
// inclusive, until revoked.
func (c Consent) StatusOn(day time.Time) Status {
	switch {
	case c.RevokedAt != nil:
		return StatusRevoked
	case day.Before(c.ValidFrom):
		return StatusScheduled
	case c.ValidUntil != nil && day.After(*c.ValidUntil):
		return StatusExpired
	}
	return StatusActive
}

// Viewer is the tenant looking at a person's consents.
type Viewer struct {
	TenantID   string
	TenantSlug string
	TenantKind tenants.Kind
	Owner      bool // the tenant has an owner link to the person
}

// names reports whether grantee g names the viewer.
func (v Viewer) names(g string) bool {
	return g == v.TenantSlug || g == KindPrefix+string(v.TenantKind)
}

// Sees reports whether the consent exists for the viewer (the list query
// applies the same rule in SQL).
func (v Viewer) Sees(c Consent) bool {
	return v.Owner || c.RecordedByTenantID == v.TenantID || slices.ContainsFunc(c.Grantees, v.names)
}

// View returns the consent as the viewer may see it on day, with what is
// withheld from them.
func (v Viewer) View(c Consent, day time.Time) Consent {
	c.Status = c.StatusOn(day)
	c.Withheld = []string{}
	if v.Owner || c.RecordedByTenantID == v.TenantID {
		return c
	}
	mine := make([]string, 0, 2)
	for _, g := range c.Grantees {
		if v.names(g) {
			mine = append(mine, g)
		}
	}
	if len(mine) < len(c.Grantees) {
		c.Withheld = append(c.Withheld, WithheldGrantees)
	}
	c.Grantees = mine
	if c.RevocationReason != "" {
		c.RevocationReason = ""
		c.Withheld = append(c.Withheld, WithheldReason)
	}
	return c
}

// Draft is a consent as the owner submits it.
type Draft struct {
	Basis      string
	Purpose    string
	Grantees   []string
	Categories []string
	ValidFrom  string  // YYYY-MM-DD
	ValidUntil *string // YYYY-MM-DD; nil or "": no end
}

// Grantee is a tenant (by slug) or every tenant of a kind.
type Grantee struct {
	Slug string
	Kind tenants.Kind
}

func (g Grantee) String() string {
	if g.Kind != "" {
		return KindPrefix + string(g.Kind)
	}
	return g.Slug
}

// Checked is a valid draft.
type Checked struct {
	Basis      string
	Purpose    string
	Grantees   []Grantee
	Categories []string
	ValidFrom  time.Time
	ValidUntil *time.Time
}

// GranteeStrings are the grantees as the consent records them.
func (c Checked) GranteeStrings() []string {
	out := make([]string, len(c.Grantees))
	for i, g := range c.Grantees {
		out[i] = g.String()
	}
	return out
}

func normalizeGrantee(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Slugs are the tenant slugs the draft names, to look up before Check.
func (d Draft) Slugs() []string {
	var out []string
	for _, g := range d.Grantees {
		g = normalizeGrantee(g)
		if g != "" && !strings.HasPrefix(g, KindPrefix) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// Check validates the draft and reports every problem at once, one message
// per field. tenantExists says whether a slug is a tenant of the network.
func (d Draft) Check(tenantExists func(slug string) bool) (Checked, apperr.Fields) {
	f := apperr.Fields{}
	var out Checked

	switch d.Basis {
	case "":
		f.Add("basis", "is required: %s", strings.Join(Bases, ", "))
	default:
		if !slices.Contains(Bases, d.Basis) {
			f.Add("basis", "%q is not a legal basis: use one of %s", d.Basis, strings.Join(Bases, ", "))
		}
	}
	out.Basis = d.Basis

	switch d.Purpose {
	case "":
		f.Add("purpose", "is required: %s", strings.Join(Purposes, ", "))
	default:
		if !slices.Contains(Purposes, d.Purpose) {
			f.Add("purpose", "%q is not a purpose: use one of %s", d.Purpose, strings.Join(Purposes, ", "))
		}
	}
	out.Purpose = d.Purpose

	out.Grantees = checkGrantees(f, d.Grantees, tenantExists)
	out.Categories = checkCategories(f, d.Categories)

	from, ok := checkDate(f, "valid_from", d.ValidFrom, true)
	if ok {
		out.ValidFrom = from
	}
	if d.ValidUntil != nil && strings.TrimSpace(*d.ValidUntil) != "" {
		until, uok := checkDate(f, "valid_until", *d.ValidUntil, false)
		if uok {
			if ok && until.Before(from) {
				f.Add("valid_until", "is before valid_from (%s): the last day of validity cannot come before the first", from.Format(time.DateOnly))
			}
			out.ValidUntil = &until
		}
	}
	return out, f
}

func checkGrantees(f apperr.Fields, in []string, tenantExists func(string) bool) []Grantee {
	if len(in) == 0 {
		f.Add("grantees", "is required: name at least one tenant (its slug) or kind of tenant (kind:<kind>)")
		return nil
	}
	if len(in) > MaxGrantees {
		f.Add("grantees", "may name at most %d tenants or kinds", MaxGrantees)
		return nil
	}
	var (
		problems []string
		out      []Grantee
		seen     []string
	)
	for _, raw := range in {
		g := normalizeGrantee(raw)
		switch {
		case g == "":
			problems = append(problems, "an entry is empty")
			continue
		case utf8.RuneCountInString(g) > MaxGranteeChars:
			problems = append(problems, fmt.Sprintf("an entry is longer than %d characters", MaxGranteeChars))
			continue
		case slices.Contains(seen, g):
			problems = append(problems, fmt.Sprintf("%q is listed twice", g))
			continue
		}
		seen = append(seen, g)
		if k, isKind := strings.CutPrefix(g, KindPrefix); isKind {
			if !tenants.Kind(k).Valid() {
				problems = append(problems, fmt.Sprintf("%q is not a kind of tenant (kinds: %s)", k, kindList()))
				continue
			}
			out = append(out, Grantee{Kind: tenants.Kind(k)})
			continue
		}
		if !tenantExists(g) {
			problems = append(problems, fmt.Sprintf("%q is not a tenant of the network", g))
			continue
		}
		out = append(out, Grantee{Slug: g})
	}
	if len(problems) > 0 {
		f.Add("grantees", "%s", strings.Join(problems, "; "))
	}
	return out
}

func kindList() string {
	ks := make([]string, len(tenants.Kinds))
	for i, k := range tenants.Kinds {
		ks[i] = string(k)
	}
	return strings.Join(ks, ", ")
}

func checkCategories(f apperr.Fields, in []string) []string {
	if len(in) == 0 {
		f.Add("categories", "is required: name at least one category of data (%s)", strings.Join(policies.PersonCategories, ", "))
		return nil
	}
	var problems, out []string
	for _, c := range in {
		switch {
		case slices.Contains(out, c):
			problems = append(problems, fmt.Sprintf("%q is listed twice", c))
		case !slices.Contains(policies.PersonCategories, c):
			problems = append(problems, fmt.Sprintf("%q is not a category of data (categories: %s)", c, strings.Join(policies.PersonCategories, ", ")))
		default:
			out = append(out, c)
		}
	}
	if len(problems) > 0 {
		f.Add("categories", "%s", strings.Join(problems, "; "))
	}
	return out
}

// checkDate parses a day given as YYYY-MM-DD.
func checkDate(f apperr.Fields, field, s string, required bool) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			f.Add(field, "is required: the first day the consent is valid, as YYYY-MM-DD")
		}
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		f.Add(field, "%q is not a date: write it as YYYY-MM-DD, for example 2025-03-31", s)
		return time.Time{}, false
	}
	if d.Year() < 1900 || d.Year() > 2199 {
		f.Add(field, "the year %d is not plausible: check the date", d.Year())
		return time.Time{}, false
	}
	return d, true
}

// CheckReason validates the reason of a revocation.
func CheckReason(reason string) (string, apperr.Fields) {
	f := apperr.Fields{}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		f.Add("reason", "is required: say why the consent is revoked (for example, the person withdrew it on a given day)")
	case utf8.RuneCountInString(reason) > MaxReasonChars:
		f.Add("reason", "must be at most %d characters", MaxReasonChars)
	}
	return reason, f
}
