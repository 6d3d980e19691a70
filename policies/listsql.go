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
	var anyNoConsent, anyConsent bool
	var kinds, consentKinds, denyKinds []string
	for _, t := range f.Allow {
		if t.Category != category {
			continue
		}
		switch {
		case t.Relationship == Any && !t.Consent:
			anyNoConsent = true
		case t.Relationship == Any:
			anyConsent = true
		case !t.Consent:
			kinds = append(kinds, t.Relationship)
		default:
			consentKinds = append(consentKinds, t.Relationship)
		}
	}
	for _, t := range f.Deny {
		if t.Category == category {
			denyKinds = append(denyKinds, t.Relationship)
		}
	}
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
	granted := func() string {
		if cat == "" {
			cat = arg(category)
		}
		return `EXISTS (SELECT 1 FROM consent_grants g WHERE g.person_id = ` + person + ` AND (g.grantee_tenant_id = ` + tenant +
			` OR g.grantee_kind = ` + arg(tenantKind) + `) AND ` + activeGrant + ` AND ` + cat + ` = ANY(g.categories))`
	}
	var ways []string
	if anyNoConsent {
		ways = append(ways, "TRUE")
	} else {
		if len(kinds) > 0 {
			ways = append(ways, link(kinds))
		}
		if anyConsent {
			ways = append(ways, granted())
		} else if len(consentKinds) > 0 {
			ways = append(ways, "("+link(consentKinds)+" AND "+granted()+")")
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
