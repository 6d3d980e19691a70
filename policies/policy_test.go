package policies_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	p "attivi/policies"
	"attivi/tenants"
)

func TestDefaultPolicyIsValid(t *testing.T) {
	rules := p.DefaultRules()
	if err := p.Validate(rules); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if n := len(rules); n < 50 || n > 300 {
		t.Errorf("default policy has %d rules, want a small static matrix (50-300)", n)
	}
}

// TestDefaultPolicyMatrix checks DESIGN section 2 against the seeded policy,
// through the Engine, as the services will ask.
func TestDefaultPolicyMatrix(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	n := newNetwork(t, db)
	e := newEngine(t, db)

	const yes, no = true, false
	none := links()
	cases := []struct {
		name     string
		actor    tenants.Actor
		cat, act string
		person   *p.Facts // nil: not about a person
		want     bool
		missing  string // when denied without a deny rule
		denyKind string // when denied by a network rule on this tenant kind
	}{
		// municipal social worker: registers and follows the person
		{"sw owner reads identity", n.socialWorker, p.CatIdentity, p.ActRead, about(links(p.LinkOwner)), yes, "", ""},
		{"sw owner writes social", n.socialWorker, p.CatSocial, p.ActWrite, about(links(p.LinkOwner)), yes, "", ""},
		{"sw owner shares employment", n.socialWorker, p.CatEmployment, p.ActShare, about(links(p.LinkOwner)), yes, "", ""},
		{"sw owner reads contact without consent", n.socialWorker, p.CatContact, p.ActRead, about(links(p.LinkOwner)), yes, "", ""},
		{"sw owner reads health only with consent", n.socialWorker, p.CatHealth, p.ActRead, about(links(p.LinkOwner)), no, "consent", ""},
		{"sw owner reads health with consent", n.socialWorker, p.CatHealth, p.ActRead, about(links(p.LinkOwner), p.CatHealth), yes, "", ""},
		{"sw owner reads the access log", n.socialWorker, p.CatAudit, p.ActRead, about(links(p.LinkOwner)), yes, "", ""},
		{"sw without link", n.socialWorker, p.CatIdentity, p.ActRead, about(none), no, "relationship", ""},
		{"sw care team social needs consent", n.socialWorker, p.CatSocial, p.ActRead, about(links(p.LinkCareTeam)), no, "consent", ""},
		{"sw care team social with consent", n.socialWorker, p.CatSocial, p.ActRead, about(links(p.LinkCareTeam), p.CatSocial), yes, "", ""},
		{"sw care team identity without consent", n.socialWorker, p.CatIdentity, p.ActRead, about(links(p.LinkCareTeam)), yes, "", ""},
		{"sw cannot administer policies", n.socialWorker, p.CatPolicies, p.ActAdmin, nil, no, "permission", ""},
		{"sw cannot read aggregates", n.socialWorker, p.CatEmployment, p.ActRead, nil, no, "relationship", ""},
		// SerD / UFSMA clinician
		{"hw care team health with consent", n.healthWorker, p.CatHealth, p.ActRead, about(links(p.LinkCareTeam), p.CatHealth), yes, "", ""},
		{"hw care team writes health with consent", n.healthWorker, p.CatHealth, p.ActWrite, about(links(p.LinkCareTeam), p.CatHealth), yes, "", ""},
		{"hw care team health without consent", n.healthWorker, p.CatHealth, p.ActRead, about(links(p.LinkCareTeam), p.CatSocial), no, "consent", ""},
		{"hw owner health", n.healthWorker, p.CatHealth, p.ActRead, about(links(p.LinkOwner)), yes, "", ""},
		{"hw conference health with consent", n.healthWorker, p.CatHealth, p.ActRead, about(links(p.LinkConference), p.CatHealth), yes, "", ""},
		// job coach of a cooperative
		{"jc provider employment with consent", n.jobCoach, p.CatEmployment, p.ActRead, about(links(p.LinkProvider), p.CatEmployment), yes, "", ""},
		{"jc provider writes employment", n.jobCoach, p.CatEmployment, p.ActWrite, about(links(p.LinkProvider), p.CatEmployment), yes, "", ""},
		{"jc provider writes status", n.jobCoach, p.CatStatus, p.ActWrite, about(links(p.LinkProvider)), yes, "", ""},
		{"jc never health", n.jobCoach, p.CatHealth, p.ActRead, about(links(p.LinkProvider), p.CatHealth), no, "permission", ""},
		{"jc referral recipient contact with consent", n.jobCoach, p.CatContact, p.ActRead, about(links(p.LinkReferralRecipient), p.CatContact), yes, "", ""},
		// Collocamento Mirato officer: status and L.68, nothing clinical
		{"po status", n.placementOfficer, p.CatStatus, p.ActRead, about(links(p.LinkStatusObserver)), yes, "", ""},
		{"po disability with consent", n.placementOfficer, p.CatDisability, p.ActRead, about(links(p.LinkStatusObserver), p.CatDisability), yes, "", ""},
		{"po records L.68 verification", n.placementOfficer, p.CatDisability, p.ActWrite, about(links(p.LinkStatusObserver), p.CatDisability), yes, "", ""},
		{"po status observer gives no identity", n.placementOfficer, p.CatIdentity, p.ActRead, about(links(p.LinkStatusObserver)), no, "relationship", ""},
		{"po status observer gives no employment", n.placementOfficer, p.CatEmployment, p.ActRead, about(links(p.LinkStatusObserver), p.CatEmployment), no, "relationship", ""},
		{"po never health", n.placementOfficer, p.CatHealth, p.ActRead, about(links(p.LinkStatusObserver), p.CatHealth), no, "", "employment_office"},
		{"po never social", n.placementOfficer, p.CatSocial, p.ActRead, about(links(p.LinkCareTeam), p.CatSocial), no, "", "employment_office"},
		// a role that allows social and health, held at the employment office
		{"sw role at employment office never social", n.officeSocialWorker, p.CatSocial, p.ActRead, about(links(p.LinkOwner), p.CatSocial), no, "", "employment_office"},
		{"sw role at employment office never health", n.officeSocialWorker, p.CatHealth, p.ActRead, about(links(p.LinkCareTeam), p.CatHealth), no, "", "employment_office"},
		{"sw role at employment office identity", n.officeSocialWorker, p.CatIdentity, p.ActRead, about(links(p.LinkOwner)), yes, "", ""},
		{"hw role at training agency never health", n.agencyJobCoach, p.CatHealth, p.ActRead, about(links(p.LinkCareTeam), p.CatHealth), no, "", "training_agency"},
		// network coordinator: indicators and conferences
		{"co reads employment aggregates", n.coordinator, p.CatEmployment, p.ActRead, nil, yes, "", ""},
		{"co exports status aggregates", n.coordinator, p.CatStatus, p.ActExport, nil, yes, "", ""},
		{"co conference employment with consent", n.coordinator, p.CatEmployment, p.ActRead, about(links(p.LinkConference), p.CatEmployment), yes, "", ""},
		{"co no health aggregates", n.coordinator, p.CatHealth, p.ActRead, nil, no, "", "coordinator"},
		{"co no person without link", n.coordinator, p.CatStatus, p.ActRead, about(none), no, "relationship", ""},
		// privacy officer: the access log, of anyone
		{"dpo reads the access log", n.privacyOfficer, p.CatAudit, p.ActRead, nil, yes, "", ""},
		{"dpo reads a person's access log", n.privacyOfficer, p.CatAudit, p.ActRead, about(none), yes, "", ""},
		{"dpo reads no identity", n.privacyOfficer, p.CatIdentity, p.ActRead, about(none), no, "permission", ""},
		// administrators
		{"tenant admin manages members", n.tenantAdmin, p.CatMembers, p.ActAdmin, nil, yes, "", ""},
		{"tenant admin not policies", n.tenantAdmin, p.CatPolicies, p.ActAdmin, nil, no, "permission", ""},
		{"tenant admin reads no person", n.tenantAdmin, p.CatIdentity, p.ActRead, about(links(p.LinkOwner)), no, "permission", ""},
		{"network admin administers policies", n.networkAdmin, p.CatPolicies, p.ActAdmin, nil, yes, "", ""},
		{"network admin reads policies", n.networkAdmin, p.CatPolicies, p.ActRead, nil, yes, "", ""},
		{"network admin manages tenants", n.networkAdmin, p.CatTenants, p.ActAdmin, nil, yes, "", ""},
		{"network admin reads no person", n.networkAdmin, p.CatIdentity, p.ActRead, about(none), no, "permission", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := e.Decide(p.Request{Actor: c.actor, Category: c.cat, Action: c.act, Person: c.person})
			if d.Allow != c.want {
				t.Fatalf("Decide(%s %s) = %v, want %v; reasons %q", c.act, c.cat, d.Allow, c.want, d.Reasons)
			}
			if len(d.Reasons) == 0 {
				t.Errorf("no reasons given")
			}
			if c.want {
				if d.Rule == nil || d.Rule.Effect != p.Allow {
					t.Errorf("allowed without naming the allow rule: %+v", d)
				}
			} else if c.denyKind != "" {
				if d.Rule == nil || d.Rule.TenantKind != c.denyKind || d.Rule.Effect != p.Deny {
					t.Errorf("denied by %+v (missing %q), want the network rule of kind %s", d.Rule, d.Missing, c.denyKind)
				}
			} else if d.Missing != c.missing {
				t.Errorf("missing %q, want %q; reasons %q", d.Missing, c.missing, d.Reasons)
			}
			if c.person == nil {
				if got := e.Allowed(c.actor, c.cat, c.act); got != c.want {
					t.Errorf("Allowed(%s %s) = %v, want %v", c.act, c.cat, got, c.want)
				}
			}
			// asked again: the remembered answer is the same
			if again := e.Decide(p.Request{Actor: c.actor, Category: c.cat, Action: c.act, Person: c.person}); again.Allow != d.Allow {
				t.Errorf("second answer %v differs from the first %v", again.Allow, d.Allow)
			}
		})
	}

	t.Run("unknown facts never match", func(t *testing.T) {
		d := e.Decide(p.Request{Actor: n.socialWorker, Category: p.CatEmployment, Action: p.ActRead, Person: about(links("-", "*", "owner,care_team"))})
		if d.Allow {
			t.Errorf("sentinels smuggled in as links were honoured: %q", d.Reasons)
		}
	})
	t.Run("no acting tenant kind", func(t *testing.T) {
		a := n.networkAdmin
		a.TenantKind = ""
		if e.Allowed(a, p.CatPolicies, p.ActAdmin) {
			t.Errorf("allowed without a tenant kind: network rules could not apply")
		}
	})
}

// TestNetworkRulesOverrideRoles adds role rows that would give health and
// social to the employment office and to the coordinator: the network rules
// still deny them.
func TestNetworkRulesOverrideRoles(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	n := newNetwork(t, db)
	e := newEngine(t, db)
	extra := []p.Rule{
		{Role: "placement_officer", Relationship: p.LinkStatusObserver, Category: p.CatHealth, Action: p.ActRead, Consent: true, Effect: p.Allow},
		{Role: "placement_officer", Relationship: p.LinkStatusObserver, Category: p.CatSocial, Action: p.ActRead, Effect: p.Allow},
		{Role: "coordinator", Relationship: p.NotAPerson, Category: p.CatHealth, Action: p.ActRead, Effect: p.Allow},
		{Role: "job_coach", Relationship: p.LinkProvider, Category: p.CatHealth, Action: p.ActRead, Consent: true, Effect: p.Allow},
	}
	if _, err := e.Replace(context.Background(), n.networkAdmin, e.Version(), append(p.DefaultRules(), extra...), "test: try to widen"); err != nil {
		t.Fatalf("replace: %v", err)
	}
	for _, c := range []struct {
		name string
		req  p.Request
		want bool
	}{
		{"office health", p.Request{Actor: n.placementOfficer, Category: p.CatHealth, Action: p.ActRead, Person: about(links(p.LinkStatusObserver), p.CatHealth)}, false},
		{"office social", p.Request{Actor: n.placementOfficer, Category: p.CatSocial, Action: p.ActRead, Person: about(links(p.LinkStatusObserver), p.CatSocial)}, false},
		{"coordinator health aggregates", p.Request{Actor: n.coordinator, Category: p.CatHealth, Action: p.ActRead}, false},
		// the same kind of row is honoured where no network rule caps it
		{"cooperative health", p.Request{Actor: n.jobCoach, Category: p.CatHealth, Action: p.ActRead, Person: about(links(p.LinkProvider), p.CatHealth)}, true},
	} {
		if d := e.Decide(c.req); d.Allow != c.want {
			t.Errorf("%s: allow %v, want %v (%q)", c.name, d.Allow, c.want, d.Reasons)
		}
	}
}

func TestAllowedActions(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	e := newEngine(t, db)

	po := e.AllowedActions(tenants.KindEmploymentOffice, []tenants.Role{tenants.RolePlacementOfficer, tenants.RoleSocialWorker})
	for _, c := range []string{p.CatHealth, p.CatSocial} {
		if len(po[c]) > 0 {
			t.Errorf("employment office staff are shown %s actions %v", c, po[c])
		}
	}
	if got := po[p.CatDisability]; !slices.Equal(got, []string{p.ActRead, p.ActWrite, p.ActShare}) {
		t.Errorf("disability actions %v, want read write share", got)
	}
	na := e.AllowedActions(tenants.KindCoordinator, []tenants.Role{tenants.RoleNetworkAdmin})
	if !slices.Equal(na[p.CatPolicies], []string{p.ActRead, p.ActAdmin}) || len(na[p.CatIdentity]) != 0 {
		t.Errorf("network admin actions %v", na)
	}
	if got := e.AllowedActions(tenants.KindMunicipality, nil); len(got) != 0 {
		t.Errorf("no roles, actions %v", got)
	}
}

// TestListFilterAgreesWithDecide draws random facts and asks both ways: the
// triples a list query would use must say what the per-record decision says.
func TestListFilterAgreesWithDecide(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	n := newNetwork(t, db)
	e := newEngine(t, db)
	actors := []tenants.Actor{n.socialWorker, n.healthWorker, n.jobCoach, n.placementOfficer, n.coordinator,
		n.privacyOfficer, n.tenantAdmin, n.networkAdmin, n.officeSocialWorker, n.agencyJobCoach}
	rnd := rand.New(rand.NewPCG(3, 4))
	subset := func(all []string) []string {
		var s []string
		for _, v := range all {
			if rnd.IntN(3) == 0 {
				s = append(s, v)
			}
		}
		return s
	}
	checked, allowed := 0, 0
	for range 3000 {
		a := actors[rnd.IntN(len(actors))]
		act := []string{p.ActRead, p.ActWrite, p.ActShare}[rnd.IntN(3)]
		cat := p.PersonCategories[rnd.IntN(len(p.PersonCategories))]
		ls, gs := subset(p.Links), subset(p.PersonCategories)
		d := e.Decide(p.Request{Actor: a, Category: cat, Action: act, Person: about(ls, gs...)})
		f := e.ListFilter(a, act)
		if got := f.Allows(ls, gs, cat); got != d.Allow {
			t.Fatalf("%v %s %s links %v grants %v: list filter says %v, decision %v (%q); filter %+v",
				a.Roles, act, cat, ls, gs, got, d.Allow, d.Reasons, f)
		}
		checked++
		if d.Allow {
			allowed++
		}
	}
	if allowed < checked/10 || allowed > checked*9/10 {
		t.Errorf("%d of %d requests allowed: the draw does not exercise both answers", allowed, checked)
	}

	f := e.ListFilter(n.placementOfficer, p.ActRead)
	if got := f.Categories(); !slices.Equal(got, []string{p.CatIdentity, p.CatContact, p.CatDisability, p.CatEmployment, p.CatStatus}) {
		t.Errorf("placement officer list categories %v", got)
	}
	for _, tr := range f.Allow {
		if tr.Relationship == p.LinkStatusObserver && tr.Category != p.CatStatus && tr.Category != p.CatDisability {
			t.Errorf("status_observer gives %s", tr.Category)
		}
	}
}

func TestValidate(t *testing.T) {
	rules := p.DefaultRules()
	rules[3].Role = "job_coch"
	rules[5].Category = "healt"
	rules[7].Action = "delete"
	rules[9].Relationship = "friend"
	rules[11] = p.Rule{TenantKind: "employment_office", Relationship: "*", Category: p.CatStatus, Action: p.ActRead, Effect: p.Allow}
	rules[13].Effect = "permit"
	rules = append(rules, rules[0])
	err := p.Validate(rules)
	fields := fieldsOf(t, err)
	want := map[string]string{
		"rules[3]":                          `unknown role "job_coch"`,
		"rules[5]":                          `unknown category "healt"`,
		"rules[7]":                          `unknown action "delete"`,
		"rules[9]":                          `unknown relationship "friend"`,
		"rules[11]":                         `can only deny`,
		"rules[13]":                         `unknown effect "permit"`,
		"rules[" + itoa(len(rules)-1) + "]": "repeats rules[0]",
	}
	for k, w := range want {
		if !strings.Contains(fields[k], w) {
			t.Errorf("%s: %q, want it to say %q", k, fields[k], w)
		}
	}
	if len(fields) != len(want) {
		t.Errorf("problems %v, want exactly %d", fields, len(want))
	}
}

func TestSeedUpgradesAnUnchangedDefault(t *testing.T) {
	ctx := context.Background()
	db, _ := seededDB(t)
	// A release whose defaults differ: simulated by removing a default row
	// the way an older release would have lacked it.
	if _, err := db.ExecContext(ctx, `UPDATE policy_versions SET rules = rules - 0`); err != nil {
		t.Fatal(err)
	}
	stored, err := p.Seed(ctx, db)
	if err != nil || !stored {
		t.Fatalf("seed over an outdated, unchanged default: stored %v err %v, want the new defaults stored", stored, err)
	}
	if stored, err := p.Seed(ctx, db); err != nil || stored {
		t.Errorf("seed again: stored %v err %v, want nothing", stored, err)
	}
	// A policy an administrator changed is left alone.
	if _, err := db.ExecContext(ctx, `INSERT INTO users (email, password_hash) VALUES ('a@b.example', 'x');
		UPDATE policy_versions SET changed_by = (SELECT id FROM users LIMIT 1), rules = rules - 0
		WHERE version = (SELECT max(version) FROM policy_versions)`); err != nil {
		t.Fatal(err)
	}
	if stored, err := p.Seed(ctx, db); err != nil || stored {
		t.Errorf("seed over an administrator's policy: stored %v err %v, want it left alone", stored, err)
	}
}
