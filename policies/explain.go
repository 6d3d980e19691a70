package policies

import (
	"context"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/storage/postgres"
	"attivi/tenants"
)

// CategoryExplanation says what a tenant may do with one category of a
// person and why: per action, the roles that may do it with the rule that
// allows them, or what is missing.
type CategoryExplanation struct {
	Category string                       `json:"category"`
	Actions  map[string]ActionExplanation `json:"actions"`
}

// ActionExplanation is one action on one category for one tenant.
type ActionExplanation struct {
	Allow bool `json:"allow"`
	// Roles are the roles of the tenant's staff that may do it.
	Roles []string `json:"roles,omitempty"`
	// Rule, Reasons: the allowing rule of the first such role, or the reason
	// of the refusal closest to an allow (a missing consent rather than a
	// missing link, a missing link rather than no rule at all).
	Rule    *Rule    `json:"rule,omitempty"`
	Missing string   `json:"missing,omitempty"`
	Reasons []string `json:"reasons"`
}

// TenantExplanation is the explanation for one tenant of the network.
type TenantExplanation struct {
	Tenant     string                `json:"tenant"`
	Name       string                `json:"name"`
	Kind       tenants.Kind          `json:"kind"`
	Roles      []string              `json:"roles"` // the roles the tenant's active staff hold
	Links      []string              `json:"links"`
	Granted    []string              `json:"consent_grants"`
	Categories []CategoryExplanation `json:"categories"`
}

// ExplainedActions are the actions the explanation covers.
var ExplainedActions = []string{ActRead, ActWrite, ActShare}

// missingRank orders refusals from the furthest from an allow.
var missingRank = map[string]int{"tenant": 0, "role": 1, "permission": 2, "relationship": 3, "consent": 4}

// Explain answers, for every tenant of the network, what it may do with
// each category of the person and why, from one query for the facts of all
// tenants and the cached decisions of each role.
func (e *Engine) Explain(ctx context.Context, q sqlx.QueryerContext, personID string) ([]TenantExplanation, error) {
	const stmt = `
SELECT t.id, t.slug, t.name, t.kind,
	coalesce((SELECT json_agg(json_build_object('kind', l.kind, 'scope', l.scope))
		FROM person_links l WHERE l.person_id = $1 AND l.tenant_id = t.id AND ` + activeLink + `), '[]') AS links,
	coalesce((SELECT array_agg(DISTINCT c ORDER BY c)
		FROM consent_grants g, unnest(g.categories) AS c
		WHERE g.person_id = $1 AND (g.grantee_tenant_id = t.id OR g.grantee_kind = t.kind) AND ` + activeGrant + `), '{}') AS granted,
	coalesce((SELECT array_agg(DISTINCT c ORDER BY c)
		FROM consent_grants g, unnest(g.categories) AS c
		WHERE g.person_id = $1 AND (g.grantee_tenant_id = t.id OR g.grantee_kind = t.kind) AND g.purpose = '` + PurposeConference + `'
		  AND ` + activeGrant + `), '{}') AS granted_conference,
	coalesce((SELECT array_agg(DISTINCT r.role ORDER BY r.role)
		FROM membership_roles r
		JOIN memberships m ON m.user_id = r.user_id AND m.tenant_id = r.tenant_id
		JOIN users u ON u.id = r.user_id
		WHERE r.tenant_id = t.id AND m.disabled_at IS NULL AND u.disabled_at IS NULL), '{}') AS roles
FROM tenants t
ORDER BY t.slug`
	rows, err := q.QueryxContext(ctx, stmt, personID)
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("explain: %w", err))
	}
	defer rows.Close()
	var out []TenantExplanation
	for rows.Next() {
		var id, slug, name, kind string
		var links []byte
		var granted, grantedConference, roles pq.StringArray
		if err := rows.Scan(&id, &slug, &name, &kind, &links, &granted, &grantedConference, &roles); err != nil {
			return nil, postgres.Translate(err)
		}
		f, err := decodeFacts(true, links, granted, grantedConference)
		if err != nil {
			return nil, err
		}
		te := TenantExplanation{Tenant: slug, Name: name, Kind: tenants.Kind(kind), Roles: roles, Links: f.Links, Granted: f.Granted}
		if te.Roles == nil {
			te.Roles = []string{}
		}
		if te.Links == nil {
			te.Links = []string{}
		}
		if te.Granted == nil {
			te.Granted = []string{}
		}
		for _, c := range PersonCategories {
			ce := CategoryExplanation{Category: c, Actions: map[string]ActionExplanation{}}
			for _, act := range ExplainedActions {
				ce.Actions[act] = e.explainOne(id, slug, tenants.Kind(kind), roles, f, c, act)
			}
			te.Categories = append(te.Categories, ce)
		}
		out = append(out, te)
	}
	return out, postgres.Translate(rows.Err())
}

// explainOne asks the decision for each role held by the tenant's staff (a
// role name as the subject stands for "a holder of this role").
func (e *Engine) explainOne(tenantID, slug string, kind tenants.Kind, roles []string, f PersonFacts, category, action string) ActionExplanation {
	if len(roles) == 0 {
		return ActionExplanation{Missing: "role", Reasons: []string{"no active staff member of " + slug + " holds a role"}}
	}
	var best ActionExplanation
	bestRank := -1
	for _, name := range roles {
		role := tenants.Role(name)
		a := tenants.Actor{UserID: string(role), TenantID: tenantID, TenantSlug: slug, TenantKind: kind, Roles: []tenants.Role{role}}
		d := e.decideCategory(a, f, category, action)
		if d.Allow {
			if !best.Allow {
				best = ActionExplanation{Allow: true, Rule: d.Rule, Reasons: d.Reasons}
			}
			best.Roles = append(best.Roles, string(role))
			continue
		}
		if best.Allow {
			continue
		}
		rank := missingRank[d.Missing]
		if d.Rule != nil { // an explicit deny (a network rule) outranks everything
			rank = 10
		}
		if rank > bestRank {
			bestRank = rank
			best = ActionExplanation{Rule: d.Rule, Missing: d.Missing, Reasons: d.Reasons}
		}
	}
	if best.Reasons == nil {
		best.Reasons = []string{}
	}
	slices.Sort(best.Roles)
	return best
}
