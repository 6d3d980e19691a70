package policies

import (
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// SQL turns the filter, for one category, into the condition a list query
// puts in its WHERE clause (DESIGN section 6: lists are filtered inside the
// query, never by a decision per row). person is the SQL expression of the
// person's id (e.g. "p.id"), tenant the placeholder of the acting tenant's
// id (e.g. "$1"); further arguments are numbered from next and returned.
// The condition is the one ListFilter.Allows states, so a row is listed
// exactly when the per-record decision allows the category (the randomized
// tests of services/people and services/pathways hold it to that).
// It returns "FALSE" and no arguments when no link can ever allow it.
func (f ListFilter) SQL(category, tenantKind, person, tenant string, next int) (string, []any) {
	w := f.ways(category)
	anyNoConsent, anyConsent, kinds, consentKinds, denyKinds := w.anyNoConsent, w.anyConsent, w.kinds, w.consentKinds, w.denyKinds
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", next+len(args)-1)
	}
	var cat string
	link := func(ks []string) string {
		if cat == "" {
			cat = arg(category)
		}
		return `EXISTS (SELECT 1 FROM person_links l WHERE l.person_id = ` + person + ` AND l.tenant_id = ` + tenant +
			` AND ` + activeLink + ` AND l.kind = ANY(` + arg(pq.Array(ks)) + `) AND (l.scope IS NULL OR ` + cat + ` = ANY(l.scope)))`
	}
	granted := func(purpose string) string {
		if cat == "" {
			cat = arg(category)
		}
		return grantedSQL(person, tenant, arg(tenantKind), cat, purpose)
	}
	var ways []string
	if anyNoConsent {
		ways = append(ways, "TRUE")
	} else {
		if len(kinds) > 0 {
			ways = append(ways, link(kinds))
		}
		if anyConsent {
			ways = append(ways, granted(""))
		} else {
			if len(consentKinds) > 0 {
				ways = append(ways, "("+link(consentKinds)+" AND "+granted("")+")")
			}
			if w.conferenceConsent {
				ways = append(ways, "("+link([]string{LinkConference})+" AND "+granted(PurposeConference)+")")
			}
		}
	}
	if len(ways) == 0 {
		return "FALSE", nil
	}
	cond := "(" + strings.Join(ways, " OR ") + ")"
	if len(denyKinds) > 0 {
		cond = "(" + cond + " AND NOT " + link(denyKinds) + ")"
	}
	return cond, args
}

// grantedSQL is the condition that an active consent of person grants cat
// to the tenant (by id or by kind), for purpose when it is not "" (a
// constant, not an argument).
func grantedSQL(person, tenant, kind, cat, purpose string) string {
	s := `EXISTS (SELECT 1 FROM consent_grants g WHERE g.person_id = ` + person + ` AND (g.grantee_tenant_id = ` + tenant +
		` OR g.grantee_kind = ` + kind + `) AND ` + activeGrant + ` AND ` + cat + ` = ANY(g.categories)`
	if purpose != "" {
		s += ` AND g.purpose = '` + purpose + `'`
	}
	return s + `)`
}

// ways classifies the filter's triples for one category. A conference link
// that needs consent is apart: it counts with case-conference consents only
// (Engine.decideCategory).
type ways struct {
	anyNoConsent, anyConsent       bool // some triple allows without a link, without or with consent
	kinds, consentKinds, denyKinds []string
	conferenceConsent              bool // the conference link allows with a PurposeConference consent
}

func (f ListFilter) ways(category string) ways {
	var w ways
	for _, t := range f.Allow {
		if t.Category != category {
			continue
		}
		switch {
		case t.Relationship == Any && !t.Consent:
			w.anyNoConsent = true
		case t.Relationship == Any:
			w.anyConsent = true
		case !t.Consent:
			w.kinds = append(w.kinds, t.Relationship)
		case t.Relationship == LinkConference:
			w.conferenceConsent = true
		default:
			w.consentKinds = append(w.consentKinds, t.Relationship)
		}
	}
	for _, t := range f.Deny {
		if t.Category == category {
			w.denyKinds = append(w.denyKinds, t.Relationship)
		}
	}
	return w
}

// LinkSQL is the condition of SQL for a query that walks the acting
// tenant's own links (alias link) instead of the persons: a link row
// qualifies when it is active, belongs to the tenant, opens the category
// and (for the kinds that need it) the person's consent grants it; a person
// is listed when one of their links qualifies. ok is false when the filter
// lets the tenant see persons it has no link to (a "*" relationship): then
// only SQL can say it. The arguments are numbered from next.
func (f ListFilter) LinkSQL(category, tenantKind, link, tenant string, next int) (cond string, args []any, ok bool) {
	w := f.ways(category)
	if w.anyNoConsent || w.anyConsent {
		return "", nil, false
	}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", next+len(args)-1)
	}
	if len(w.kinds) == 0 && len(w.consentKinds) == 0 && !w.conferenceConsent {
		return "FALSE", nil, true
	}
	cat := arg(category)
	opens := `(` + link + `.scope IS NULL OR ` + cat + ` = ANY(` + link + `.scope))`
	var alts []string
	if len(w.kinds) > 0 {
		alts = append(alts, `(`+link+`.kind = ANY(`+arg(pq.Array(w.kinds))+`) AND `+opens+`)`)
	}
	var kind string
	if len(w.consentKinds) > 0 || w.conferenceConsent {
		kind = arg(tenantKind)
	}
	if len(w.consentKinds) > 0 {
		alts = append(alts, `(`+link+`.kind = ANY(`+arg(pq.Array(w.consentKinds))+`) AND `+opens+
			` AND `+grantedSQL(link+`.person_id`, tenant, kind, cat, "")+`)`)
	}
	if w.conferenceConsent {
		alts = append(alts, `(`+link+`.kind = '`+LinkConference+`' AND `+opens+
			` AND `+grantedSQL(link+`.person_id`, tenant, kind, cat, PurposeConference)+`)`)
	}
	cond = link + `.tenant_id = ` + tenant + ` AND ` + activeLinkAs(link) + ` AND (` + strings.Join(alts, " OR ") + `)`
	if len(w.denyKinds) > 0 {
		cond += ` AND NOT EXISTS (SELECT 1 FROM person_links l WHERE l.person_id = ` + link + `.person_id AND l.tenant_id = ` + tenant +
			` AND ` + activeLink + ` AND l.kind = ANY(` + arg(pq.Array(w.denyKinds)) + `) AND (l.scope IS NULL OR ` + cat + ` = ANY(l.scope)))`
	}
	return cond, args, true
}

// activeLinkAs is activeLink for a link table under another alias.
func activeLinkAs(alias string) string { return strings.ReplaceAll(activeLink, "l.", alias+".") }
