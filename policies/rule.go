// Package policies decides who may do what: the Casbin model (model.conf,
// embedded), the casbin_rule adapter on sqlx, the default access matrix, the
// Engine that answers decisions with their reasons and derives the
// conditions of SQL list filters, and the propagation of policy changes
// between instances (LISTEN/NOTIFY plus a periodic version check).
package policies

import (
	"fmt"
	"slices"
	"strings"

	"attivi/apperr"
	"attivi/tenants"
)

// Data categories of a person (DESIGN section 6). Every note and document
// carries one of them.
const (
	CatIdentity   = "identity"
	CatContact    = "contact"
	CatSocial     = "social"
	CatHealth     = "health"
	CatDisability = "disability"
	CatEmployment = "employment"
	CatStatus     = "status"
)

// Objects that are not personal data categories.
const (
	CatAudit    = "audit"    // the access log
	CatMembers  = "members"  // staff accounts and roles of a tenant
	CatPolicies = "policies" // this matrix
	CatTenants  = "tenants"  // the organisations of the network
	// CatEmployers are the companies of the network, their contacts, the
	// scouting log and openings: shared network-wide, no personal data of
	// participants.
	CatEmployers = "employers"
)

// Actions.
const (
	ActRead   = "read"
	ActWrite  = "write"
	ActShare  = "share"  // pass on to another tenant (referral, conference)
	ActExport = "export" // take out of the platform (reports, files)
	ActAdmin  = "admin"  // manage (members, policies, tenants)
)

// Relationship link kinds between a tenant and a person.
const (
	LinkOwner             = "owner"
	LinkCareTeam          = "care_team"
	LinkProvider          = "provider"
	LinkReferralRecipient = "referral_recipient"
	LinkConference        = "conference"
	LinkStatusObserver    = "status_observer"
)

// Wildcards of the policy and the sentinel of requests not about a person.
const (
	Any        = "*" // any category or action; as a relationship: any link, or none
	NotAPerson = "-" // the relationship of objects and aggregates, not of one person
)

// Effects.
const (
	Allow = "allow"
	Deny  = "deny"
)

// PersonCategories are the categories of a person's data, in DESIGN order.
var PersonCategories = []string{CatIdentity, CatContact, CatSocial, CatHealth, CatDisability, CatEmployment, CatStatus}

// ObjectCategories are the things that are not a person's data.
var ObjectCategories = []string{CatAudit, CatMembers, CatPolicies, CatTenants, CatEmployers}

// Actions lists every action.
var Actions = []string{ActRead, ActWrite, ActShare, ActExport, ActAdmin}

// Links lists every relationship link kind.
var Links = []string{LinkOwner, LinkCareTeam, LinkProvider, LinkReferralRecipient, LinkConference, LinkStatusObserver}

// kindPrefix marks a policy subject that is a tenant kind (a network rule)
// rather than a role. Roles and kinds share a name ("coordinator").
const kindPrefix = "kind:"

// Rule is one row of the matrix. Either Role is set (what holders of the
// role may do, or may never do) or TenantKind is (a network rule: a ceiling
// on what tenants of that kind may ever receive, so a deny; or an
// observation rule, action observe on a target group, which gives the kind
// the status_observer link: see observers.go).
type Rule struct {
	Role         string `json:"role,omitempty"`
	TenantKind   string `json:"tenant_kind,omitempty"`
	Relationship string `json:"relationship"` // a link kind, "*" (any or none) or "-" (not about a person)
	Category     string `json:"category"`     // a category, an object, "*", or target:<group> (observation)
	Action       string `json:"action"`       // an action, "*", or observe (observation)
	Consent      bool   `json:"consent_required"`
	Effect       string `json:"effect"` // allow | deny
}

// String renders the rule as its policy line, for reasons and logs.
func (r Rule) String() string { return strings.Join(r.row(), ", ") }

// subject is the policy's sub field.
func (r Rule) subject() string {
	if r.TenantKind != "" {
		return kindPrefix + r.TenantKind
	}
	return r.Role
}

// row is the rule as the p fields of the model (without the ptype).
func (r Rule) row() []string {
	consent := "no"
	if r.Consent {
		consent = "yes"
	}
	return []string{r.subject(), r.Relationship, r.Category, r.Action, consent, r.Effect}
}

// ruleFromRow reverses row.
func ruleFromRow(v []string) (Rule, error) {
	if len(v) != 6 {
		return Rule{}, fmt.Errorf("policy row %q has %d fields, want 6", v, len(v))
	}
	r := Rule{Relationship: v[1], Category: v[2], Action: v[3], Consent: v[4] == "yes", Effect: v[5]}
	if k, ok := strings.CutPrefix(v[0], kindPrefix); ok {
		r.TenantKind = k
	} else {
		r.Role = v[0]
	}
	return r, nil
}

func (r Rule) matchesCategory(cat string) bool { return r.Category == Any || r.Category == cat }
func (r Rule) matchesAction(act string) bool   { return r.Action == Any || r.Action == act }

// Validate checks a complete set of rules and reports every problem at once,
// one entry per offending rule ("rules[12]"), in words an administrator
// understands.
func Validate(rules []Rule) error {
	f := apperr.Fields{}
	validateInto(f, rules)
	return f.Err()
}

func validateInto(f apperr.Fields, rules []Rule) {
	seen := make(map[string]int, len(rules))
	for i, r := range rules {
		var problems []string
		bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
		switch {
		case r.Role == "" && r.TenantKind == "":
			bad("give a role (what its holders may do) or a tenant_kind (a network rule)")
		case r.Role != "" && r.TenantKind != "":
			bad("give either a role or a tenant_kind, not both")
		case r.Role != "" && !tenants.Role(r.Role).Valid():
			bad("unknown role %q (roles: %s)", r.Role, joinRoles())
		case r.TenantKind != "" && !tenants.Kind(r.TenantKind).Valid():
			bad("unknown tenant kind %q (kinds: %s)", r.TenantKind, joinKinds())
		}
		switch {
		case r.isObservation(): // observers.go
			problems = append(problems, r.observationProblems()...)
		default:
			if !slices.Contains(Links, r.Relationship) && r.Relationship != Any && r.Relationship != NotAPerson {
				bad("unknown relationship %q (relationships: %s, * for any or none, - for not about a person)", r.Relationship, strings.Join(Links, ", "))
			}
			if !slices.Contains(PersonCategories, r.Category) && !slices.Contains(ObjectCategories, r.Category) && r.Category != Any {
				bad("unknown category %q (categories: %s, %s, a target group %s<group> with action %s, or *)", r.Category,
					strings.Join(PersonCategories, ", "), strings.Join(ObjectCategories, ", "), TargetPrefix, ActObserve)
			}
			if !slices.Contains(Actions, r.Action) && r.Action != Any {
				bad("unknown action %q (actions: %s, %s for observation rules, or *)", r.Action, strings.Join(Actions, ", "), ActObserve)
			}
		}
		switch r.Effect {
		case Allow:
			if r.TenantKind != "" && !r.isObservation() {
				bad("a network rule (tenant_kind) can only deny, or give a kind the status_observer link (action observe): what is allowed is given by roles")
			}
		case Deny:
			if r.Consent {
				bad("a deny rule cannot depend on consent")
			}
		default:
			bad("unknown effect %q (allow or deny)", r.Effect)
		}
		if r.Consent && r.Relationship == NotAPerson {
			bad("consent is about a person, but relationship \"-\" means not about a person")
		}
		if len(problems) == 0 {
			key := r.String()
			if j, dup := seen[key]; dup {
				bad("repeats rules[%d]", j)
			} else {
				seen[key] = i
			}
		}
		if len(problems) > 0 {
			f.Add(fmt.Sprintf("rules[%d]", i), "%s", strings.Join(problems, "; "))
		}
	}
}

func joinRoles() string {
	s := make([]string, len(tenants.Roles))
	for i, r := range tenants.Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func joinKinds() string {
	s := make([]string, len(tenants.Kinds))
	for i, k := range tenants.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
