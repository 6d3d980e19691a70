package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"attivi/storage/postgres"
	"attivi/tenants"
)

// The default policy, for the people of DESIGN section 2. R read, W write,
// S share, X export, A admin; * after a category: the person's consent must
// grant it (DESIGN section 6: outside the owner's own records, every
// category other than identity and status needs consent).
//
//	role               relationship             allows
//	social_worker      owner                    RWS identity contact social employment disability status
//	(municipality)                              R   health*  (clinical data only with consent, even as owner)
//	                                            R   audit    (who accessed the records of the person)
//	                   care_team, provider      R   identity status contact* social* employment* disability* health*
//	                                            W   social* employment*
//	                   referral_recipient       R   identity status contact* social* employment* disability*
//	                   conference               R   identity status contact* social* employment*
//	health_worker      owner                    RWS identity contact health disability status
//	(SerD, UFSMA...)                            RS  social employment
//	                                            R   audit
//	                   care_team, provider      R   identity status contact* health* disability* social* employment*
//	                                            W   health*
//	                   referral_recipient       R   identity status contact* health* disability* social* employment*
//	                   conference               R   identity status health* social* employment*
//	job_coach          owner                    RWS identity contact employment status
//	(cooperatives)                              R   disability social
//	                   care_team, provider      R   identity status contact* employment* disability*
//	                                            WS  status employment*
//	                   referral_recipient       R   identity status contact* employment* disability*
//	                   conference               R   identity status contact* employment*
//	placement_officer  status_observer          R   status disability*   (nothing else: DESIGN section 6)
//	(Collocamento                               W   disability           (records L.68 verifications: its own
//	 Mirato)                                                              legal task, so no consent; reading
//	                                                                      others' disability data needs it)
//	                   care_team, provider      R   identity status contact* employment* disability*
//	                                            W   employment* disability*
//	                   referral_recipient       R   identity status contact* employment* disability*
//	                   conference               R   identity status employment* disability*
//	coordinator        conference               R   identity status contact* employment*
//	                   - (aggregates)           RX  status employment    (indicators, reports)
//	privacy_officer    * (any or none)          R   audit
//	social_worker, health_worker, job_coach,
//	placement_officer, coordinator  -           R   employers (W for the last three)
//	tenant_admin       -                        RA  members
//	network_admin      -                        RA  policies members;  A tenants
//
// Network rules, ceilings by tenant kind (deny, whatever the roles say):
//
//	employment_office  never health, never social
//	training_agency    never health, never social
//	coordinator        never health
//
// Observation rules (observers.go): which tenant kind gets the
// status_observer link to the persons of which target group.
//
//	employment_office  observes target:disabile_l68
//
// A link's own ceiling (status_observer gives status and disability only) is
// the absence of allow rows: a deny row on a link would also take away what
// another link of the same tenant legitimately gives.
func DefaultRules() []Rule {
	var out []Rule
	// grant adds allow rows for every (relationship, category, action), with
	// the consent DESIGN section 6 requires.
	grant := func(role tenants.Role, rels, acts, cats []string) {
		for _, rel := range rels {
			for _, cat := range cats {
				for _, act := range acts {
					out = append(out, Rule{Role: string(role), Relationship: rel, Category: cat, Action: act,
						Consent: consentNeeded(rel, cat), Effect: Allow})
				}
			}
		}
	}
	// withConsent adds allow rows that need consent even where DESIGN would not.
	withConsent := func(role tenants.Role, rel string, acts, cats []string) {
		for _, cat := range cats {
			for _, act := range acts {
				out = append(out, Rule{Role: string(role), Relationship: rel, Category: cat, Action: act, Consent: true, Effect: Allow})
			}
		}
	}
	ceiling := func(kind tenants.Kind, cats ...string) {
		for _, cat := range cats {
			out = append(out, Rule{TenantKind: string(kind), Relationship: Any, Category: cat, Action: Any, Effect: Deny})
		}
	}
	l := func(s ...string) []string { return s }
	var (
		r, w, rws   = l(ActRead), l(ActWrite), l(ActRead, ActWrite, ActShare)
		ws, rsh, rx = l(ActWrite, ActShare), l(ActRead, ActShare), l(ActRead, ActExport)
		ra          = l(ActRead, ActAdmin)
		owner       = l(LinkOwner)
		team        = l(LinkCareTeam, LinkProvider)
		recipient   = l(LinkReferralRecipient)
		conference  = l(LinkConference)
	)

	sw := tenants.RoleSocialWorker
	grant(sw, owner, rws, l(CatIdentity, CatContact, CatSocial, CatEmployment, CatDisability, CatStatus))
	withConsent(sw, LinkOwner, r, l(CatHealth))
	grant(sw, owner, r, l(CatAudit))
	grant(sw, team, r, l(CatIdentity, CatStatus, CatContact, CatSocial, CatEmployment, CatDisability, CatHealth))
	grant(sw, team, w, l(CatSocial, CatEmployment))
	grant(sw, recipient, r, l(CatIdentity, CatStatus, CatContact, CatSocial, CatEmployment, CatDisability))
	grant(sw, conference, r, l(CatIdentity, CatStatus, CatContact, CatSocial, CatEmployment))

	hw := tenants.RoleHealthWorker
	grant(hw, owner, rws, l(CatIdentity, CatContact, CatHealth, CatDisability, CatStatus))
	grant(hw, owner, rsh, l(CatSocial, CatEmployment))
	grant(hw, owner, r, l(CatAudit))
	grant(hw, team, r, l(CatIdentity, CatStatus, CatContact, CatHealth, CatDisability, CatSocial, CatEmployment))
	grant(hw, team, w, l(CatHealth))
	grant(hw, recipient, r, l(CatIdentity, CatStatus, CatContact, CatHealth, CatDisability, CatSocial, CatEmployment))
	grant(hw, conference, r, l(CatIdentity, CatStatus, CatHealth, CatSocial, CatEmployment))

	jc := tenants.RoleJobCoach
	grant(jc, owner, rws, l(CatIdentity, CatContact, CatEmployment, CatStatus))
	grant(jc, owner, r, l(CatDisability, CatSocial))
	grant(jc, team, r, l(CatIdentity, CatStatus, CatContact, CatEmployment, CatDisability))
	grant(jc, team, ws, l(CatStatus, CatEmployment))
	grant(jc, recipient, r, l(CatIdentity, CatStatus, CatContact, CatEmployment, CatDisability))
	grant(jc, conference, r, l(CatIdentity, CatStatus, CatContact, CatEmployment))

	po := tenants.RolePlacementOfficer
	grant(po, l(LinkStatusObserver), r, l(CatStatus, CatDisability))
	// The office records L.68 verifications of its own registry (a legal
	// task, L.68/1999): writing them needs no consent of the person.
	out = append(out, Rule{Role: string(po), Relationship: LinkStatusObserver, Category: CatDisability, Action: ActWrite, Effect: Allow})
	grant(po, team, r, l(CatIdentity, CatStatus, CatContact, CatEmployment, CatDisability))
	grant(po, team, w, l(CatEmployment, CatDisability))
	grant(po, recipient, r, l(CatIdentity, CatStatus, CatContact, CatEmployment, CatDisability))
	grant(po, conference, r, l(CatIdentity, CatStatus, CatEmployment, CatDisability))

	co := tenants.RoleCoordinator
	grant(co, conference, r, l(CatIdentity, CatStatus, CatContact, CatEmployment))
	grant(co, l(NotAPerson), rx, l(CatStatus, CatEmployment))

	for _, role := range []tenants.Role{sw, hw, jc, po, co} {
		grant(role, l(NotAPerson), r, l(CatEmployers))
	}
	for _, role := range []tenants.Role{jc, po, co} {
		grant(role, l(NotAPerson), w, l(CatEmployers))
	}

	grant(tenants.RolePrivacyOfficer, l(Any), r, l(CatAudit))
	grant(tenants.RoleTenantAdmin, l(NotAPerson), ra, l(CatMembers))
	grant(tenants.RoleNetworkAdmin, l(NotAPerson), ra, l(CatPolicies, CatMembers))
	grant(tenants.RoleNetworkAdmin, l(NotAPerson), l(ActAdmin), l(CatTenants))

	ceiling(tenants.KindEmploymentOffice, CatHealth, CatSocial)
	ceiling(tenants.KindTrainingAgency, CatHealth, CatSocial)
	ceiling(tenants.KindCoordinator, CatHealth)

	out = append(out, Rule{TenantKind: string(tenants.KindEmploymentOffice), Relationship: LinkStatusObserver,
		Category: TargetPrefix + TargetDisabileL68, Action: ActObserve, Effect: Allow})
	return out
}

// consentNeeded is DESIGN section 6's rule: outside the owner's own
// records, any category of a person other than identity and status needs
// the person's consent. Objects and aggregates need none.
func consentNeeded(rel, cat string) bool {
	if rel == LinkOwner || rel == NotAPerson || !slices.Contains(PersonCategories, cat) {
		return false
	}
	return cat != CatIdentity && cat != CatStatus
}

// Seed stores the default policy as version 1 when casbin_rule holds no
// rule. When the policy in force is still a default one the seed wrote
// (nobody changed it since), and the defaults of this release differ, it
// stores the new defaults as a new version; a policy changed by an
// administrator is never overwritten. It reports whether it stored rules.
// Concurrent runs (several instances starting) wait for each other.
func Seed(ctx context.Context, db *sqlx.DB) (bool, error) {
	rules := DefaultRules()
	if err := Validate(rules); err != nil {
		return false, fmt.Errorf("default policy: %w", err)
	}
	seeded := false
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		if err := lockPolicy(ctx, tx); err != nil {
			return err
		}
		var exists bool
		if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM casbin_rule WHERE ptype = 'p')`); err != nil {
			return postgres.Translate(err)
		}
		summary := "default policy"
		if exists {
			var last struct {
				ByAdmin bool   `db:"by_admin"`
				Rules   []byte `db:"rules"`
			}
			err := tx.GetContext(ctx, &last, `SELECT changed_by IS NOT NULL AS by_admin, rules FROM policy_versions ORDER BY version DESC LIMIT 1`)
			if err != nil {
				return postgres.Translate(err)
			}
			var current []Rule
			if err := json.Unmarshal(last.Rules, &current); err != nil {
				return fmt.Errorf("read the policy in force: %w", err)
			}
			if last.ByAdmin || sameRules(current, rules) {
				return nil
			}
			summary = "default policy of this release"
		}
		if _, err := writeRules(ctx, tx, "", rules, summary); err != nil {
			return err
		}
		seeded = true
		return nil
	})
	return seeded, err
}

// sameRules reports whether a and b hold the same rules, in any order.
func sameRules(a, b []Rule) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[string]int, len(a))
	for _, r := range a {
		set[r.String()]++
	}
	for _, r := range b {
		if set[r.String()] == 0 {
			return false
		}
		set[r.String()]--
	}
	return true
}
