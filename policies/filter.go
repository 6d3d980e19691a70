package policies

import (
	"cmp"
	"slices"

	"attivi/tenants"
)

// Triple is one way a tenant's staff may reach a category of a person: with
// the link Relationship ("*": with any link or none), and, when Consent is
// true, only if the person's consent grants the category to the tenant.
type Triple struct {
	Relationship string `json:"relationship"`
	Category     string `json:"category"`
	Consent      bool   `json:"consent_required"`
}

// ListFilter is what the Casbin part of the decision says for one acting
// (roles, tenant kind, action), in the shape a list query turns into its SQL
// condition (DESIGN section 6: lists are filtered inside the query):
//
//	category C of person P is visible when
//	    some Allow triple (rel, C, consent) has rel = '*' or T holds link rel to P,
//	        and (not consent or an active consent of P grants C to T)
//	    and no Deny triple (rel, C) names a link T holds to P.
//
// Categories a network rule or a role denies outright are simply absent.
type ListFilter struct {
	Allow []Triple `json:"allow"`
	Deny  []Triple `json:"deny"` // Consent is always false
}

// Allows evaluates the filter for one person, as the SQL condition would.
// It is the reference the list queries are tested against.
func (f ListFilter) Allows(links, granted []string, category string) bool {
	for _, d := range f.Deny {
		if d.Category == category && slices.Contains(links, d.Relationship) {
			return false
		}
	}
	for _, a := range f.Allow {
		if a.Category == category && (a.Relationship == Any || slices.Contains(links, a.Relationship)) &&
			(!a.Consent || slices.Contains(granted, category)) {
			return true
		}
	}
	return false
}

// Categories are the categories some triple allows, in DESIGN order.
func (f ListFilter) Categories() []string {
	var cs []string
	for _, c := range PersonCategories {
		if slices.ContainsFunc(f.Allow, func(t Triple) bool { return t.Category == c }) {
			cs = append(cs, c)
		}
	}
	return cs
}

// subjectMatches reports whether rule r applies to holders of roles in a
// tenant of the given kind, as the matcher's sub condition does.
func subjectMatches(r Rule, kind tenants.Kind, roles []string) bool {
	if r.TenantKind != "" {
		return r.TenantKind == string(kind)
	}
	return slices.Contains(roles, r.Role)
}

func expand(value string, all []string) []string {
	if value == Any {
		return all
	}
	return []string{value}
}

// NewListFilter derives the filter from the rules for staff holding roles
// in a tenant of kind, doing action. It follows the matcher of model.conf
// exactly for requests about a person (a randomized test holds it to that).
func NewListFilter(rules []Rule, kind tenants.Kind, roles []string, action string) ListFilter {
	type relCat struct{ rel, cat string }
	deniedAll := map[string]bool{}
	deniedWith := map[relCat]bool{}
	for _, r := range rules {
		// A deny that depends on consent is refused by Validate.
		if r.Effect != Deny || r.Consent || !r.matchesAction(action) || !subjectMatches(r, kind, roles) {
			continue
		}
		for _, c := range expand(r.Category, PersonCategories) {
			switch r.Relationship {
			case Any:
				deniedAll[c] = true
			case NotAPerson: // never about a person
			default:
				deniedWith[relCat{r.Relationship, c}] = true
			}
		}
	}
	allowed := map[relCat]bool{} // -> consent needed
	for _, r := range rules {
		if r.Effect != Allow || r.Relationship == NotAPerson || !r.matchesAction(action) || !subjectMatches(r, kind, roles) {
			continue
		}
		for _, c := range expand(r.Category, PersonCategories) {
			if !slices.Contains(PersonCategories, c) || deniedAll[c] {
				continue
			}
			k := relCat{r.Relationship, c}
			if consent, seen := allowed[k]; !seen || consent {
				allowed[k] = r.Consent // a way without consent beats one with
			}
		}
	}
	var f ListFilter
	for k, consent := range allowed {
		f.Allow = append(f.Allow, Triple{Relationship: k.rel, Category: k.cat, Consent: consent})
	}
	for k := range deniedWith {
		if !deniedAll[k.cat] && slices.ContainsFunc(f.Allow, func(t Triple) bool { return t.Category == k.cat }) {
			f.Deny = append(f.Deny, Triple{Relationship: k.rel, Category: k.cat})
		}
	}
	order := func(a, b Triple) int {
		return cmp.Or(cmp.Compare(slices.Index(PersonCategories, a.Category), slices.Index(PersonCategories, b.Category)),
			cmp.Compare(a.Relationship, b.Relationship))
	}
	slices.SortFunc(f.Allow, order)
	slices.SortFunc(f.Deny, order)
	return f
}

// AllowedActions lists, per category or object, the actions that holders of
// roles in a tenant of kind may do in some circumstance (with the right link
// and consent), for GET /api/v1/me. Actions are in the order of Actions.
func AllowedActions(rules []Rule, kind tenants.Kind, roles []string) map[string][]string {
	all := append(slices.Clone(PersonCategories), ObjectCategories...)
	can := map[string]map[string]bool{}
	for _, r := range rules {
		if r.Effect != Allow || !subjectMatches(r, kind, roles) {
			continue
		}
		for _, c := range expand(r.Category, all) {
			for _, a := range expand(r.Action, Actions) {
				// usable unless a deny always matches where this rule does
				blocked := slices.ContainsFunc(rules, func(d Rule) bool {
					return d.Effect == Deny && !d.Consent && subjectMatches(d, kind, roles) &&
						d.matchesCategory(c) && d.matchesAction(a) &&
						(d.Relationship == Any || d.Relationship == r.Relationship)
				})
				if !blocked {
					if can[c] == nil {
						can[c] = map[string]bool{}
					}
					can[c][a] = true
				}
			}
		}
	}
	out := make(map[string][]string, len(can))
	for c, acts := range can {
		for _, a := range Actions {
			if acts[a] {
				out[c] = append(out[c], a)
			}
		}
	}
	return out
}
