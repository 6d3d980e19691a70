package policies

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/storage/postgres"
	"attivi/tenants"
)

// Observation rules: which tenant kind receives the status_observer link to
// the persons of which target group (DESIGN section 6: the employment office
// for enrolled L.68 participants). They are rows of the matrix like the
// others, so the network rules, not code, say who observes whom, and a
// network administrator changes them with PUT /api/v1/policies:
//
//	tenant_kind        relationship     category             action   effect
//	employment_office  status_observer  target:disabile_l68  observe  allow
//
// An allow row gives every tenant of the kind the link (source
// "network_rule") when a person of the target group is registered or moves
// into it; the link ends when the person leaves the group or the programme.
// A deny row of the kind on the same target (or on category and action "*")
// takes the observation away. Observation rows never answer an access
// decision: no request asks for a target category or the observe action;
// what the link then opens is decided by the rows of status_observer.
const (
	// ActObserve is the action of observation rules.
	ActObserve = "observe"
	// TargetPrefix marks the category of an observation rule: a target group
	// of the programme, "target:disabile_l68".
	TargetPrefix = "target:"
	// SourceNetworkRule is the source of the links observation rules make.
	SourceNetworkRule = "network_rule"
)

// Target groups of the programme (the persons' target_group).
const (
	TargetDisabileL68   = "disabile_l68"
	TargetSaluteMentale = "salute_mentale"
)

// TargetGroups lists the target groups observation rules may name.
var TargetGroups = []string{TargetDisabileL68, TargetSaluteMentale}

// isObservation reports whether r is an observation rule (or tries to be
// one: Validate says what is wrong with it).
func (r Rule) isObservation() bool {
	return r.Action == ActObserve || strings.HasPrefix(r.Category, TargetPrefix)
}

// observationProblems lists what is wrong with an observation rule.
func (r Rule) observationProblems() []string {
	var out []string
	if r.TenantKind == "" {
		out = append(out, "an observation rule (action observe) names a tenant_kind, not a role: the network rules give the link to every tenant of a kind")
	}
	if r.Relationship != LinkStatusObserver {
		out = append(out, fmt.Sprintf("an observation rule gives the relationship %s, not %q", LinkStatusObserver, r.Relationship))
	}
	if g, ok := strings.CutPrefix(r.Category, TargetPrefix); !ok || !slices.Contains(TargetGroups, g) {
		out = append(out, fmt.Sprintf("the category of an observation rule is a target group: %s%s", TargetPrefix,
			strings.Join(TargetGroups, " or "+TargetPrefix)))
	}
	if r.Action != ActObserve {
		out = append(out, fmt.Sprintf("a target group category goes with the action %s only", ActObserve))
	}
	if r.Consent {
		out = append(out, "an observation rule cannot depend on consent")
	}
	return out
}

// ObserverKinds lists the tenant kinds whose tenants observe the persons of
// targetGroup under rules.
func ObserverKinds(rules []Rule, targetGroup string) []tenants.Kind {
	cat := TargetPrefix + targetGroup
	var out []tenants.Kind
	for _, r := range rules {
		if r.Effect != Allow || r.TenantKind == "" || r.Action != ActObserve || r.Category != cat || r.Relationship != LinkStatusObserver {
			continue
		}
		k := tenants.Kind(r.TenantKind)
		denied := slices.ContainsFunc(rules, func(d Rule) bool {
			return d.Effect == Deny && d.TenantKind == r.TenantKind && (d.Category == cat || d.Category == Any) &&
				(d.Action == ActObserve || d.Action == Any) && (d.Relationship == Any || d.Relationship == LinkStatusObserver)
		})
		if !denied && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ObserverKinds lists the tenant kinds that observe the persons of
// targetGroup under the policy in force.
func (e *Engine) ObserverKinds(targetGroup string) []tenants.Kind {
	return ObserverKinds(e.cur.Load().rules, targetGroup)
}

// SyncObservers makes the person's network-rule status_observer links match
// the observation rules for their target group, in the caller's transaction:
// every tenant of an observing kind gets the link, a tenant whose kind no
// longer observes the group loses it. The persons service calls it when a
// person is registered and when their target group changes.
func (e *Engine) SyncObservers(ctx context.Context, tx sqlx.ExtContext, personID, targetGroup string) error {
	kinds := make([]string, 0, 2)
	for _, k := range e.ObserverKinds(targetGroup) {
		kinds = append(kinds, string(k))
	}
	const end = `
UPDATE person_links l SET ended_at = now(), end_reason = $3
FROM tenants t
WHERE t.id = l.tenant_id AND l.person_id = $1 AND l.kind = 'status_observer' AND l.source = 'network_rule'
  AND l.ended_at IS NULL AND NOT (t.kind = ANY($2))`
	reason := "the person's target group is no longer observed by this kind of tenant (" + targetGroup + ")"
	if _, err := tx.ExecContext(ctx, end, personID, pq.Array(kinds), reason); err != nil {
		return postgres.Translate(fmt.Errorf("end status observer links: %w", err))
	}
	if len(kinds) == 0 {
		return nil
	}
	const add = `
INSERT INTO person_links (person_id, tenant_id, kind, source)
SELECT $1, t.id, 'status_observer', 'network_rule' FROM tenants t WHERE t.kind = ANY($2)
ON CONFLICT (person_id, tenant_id, kind, source) WHERE ended_at IS NULL DO NOTHING`
	if _, err := tx.ExecContext(ctx, add, personID, pq.Array(kinds)); err != nil {
		return postgres.Translate(fmt.Errorf("add status observer links: %w", err))
	}
	return nil
}

// LeaveProgramme ends the person's network-rule status_observer links: the
// person has left the programme, and the tenants that followed their status
// by rule stop seeing it. It runs in the caller's transaction and returns how
// many links it ended. (The pathways capability calls it when a path
// closes; a later change of target group applies the rules again.)
func LeaveProgramme(ctx context.Context, tx sqlx.ExtContext, personID, reason string) (int64, error) {
	if strings.TrimSpace(reason) == "" {
		reason = "the person left the programme"
	}
	return EndLinks(ctx, tx, personID, SourceNetworkRule, LinkStatusObserver, reason)
}
