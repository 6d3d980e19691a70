package policies_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	p "attivi/policies"
	"attivi/storage/postgres"
	"attivi/tenants"
)

func TestObservationRulesValidate(t *testing.T) {
	ok := p.Rule{TenantKind: "employment_office", Relationship: p.LinkStatusObserver, Category: "target:disabile_l68", Action: p.ActObserve, Effect: p.Allow}
	if err := p.Validate(append(p.DefaultRules(), p.Rule{TenantKind: "third_sector", Relationship: ok.Relationship, Category: ok.Category, Action: ok.Action, Effect: p.Allow})); err != nil {
		t.Fatalf("a second observing kind: %v", err)
	}
	cases := []struct {
		name string
		mod  func(*p.Rule)
		want string
	}{
		{"a role observes", func(r *p.Rule) { r.TenantKind, r.Role = "", "placement_officer" }, "tenant_kind"},
		{"another link", func(r *p.Rule) { r.Relationship = p.LinkCareTeam }, "status_observer"},
		{"unknown group", func(r *p.Rule) { r.Category = "target:everyone" }, "target group"},
		{"a data category", func(r *p.Rule) { r.Category = p.CatStatus }, "target group"},
		{"target with read", func(r *p.Rule) { r.Action = p.ActRead }, "observe only"},
		{"with consent", func(r *p.Rule) { r.Consent = true }, "consent"},
		{"a kind allows reading", func(r *p.Rule) { r.Category, r.Action, r.Relationship = p.CatStatus, p.ActRead, p.LinkOwner }, "can only deny"},
	}
	for _, c := range cases {
		r := ok
		c.mod(&r)
		err := p.Validate([]p.Rule{r})
		var ae *apperr.Error
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a problem saying %q", c.name, err, c.want)
		} else if !errors.As(err, &ae) || ae.Fields["rules[0]"] == "" {
			t.Errorf("%s: %v, want the problem under rules[0]", c.name, err)
		}
	}
}

func TestObserverKinds(t *testing.T) {
	rules := p.DefaultRules()
	if got := p.ObserverKinds(rules, p.TargetDisabileL68); !slices.Equal(got, []tenants.Kind{tenants.KindEmploymentOffice}) {
		t.Errorf("default policy, L.68: %v, want [employment_office]", got)
	}
	if got := p.ObserverKinds(rules, p.TargetSaluteMentale); len(got) != 0 {
		t.Errorf("default policy, mental health: %v, want none", got)
	}
	deny := append(slices.Clone(rules), p.Rule{TenantKind: "employment_office", Relationship: p.Any, Category: p.Any, Action: p.Any, Effect: p.Deny})
	if got := p.ObserverKinds(deny, p.TargetDisabileL68); len(got) != 0 {
		t.Errorf("with a deny-everything row for the kind: %v, want none", got)
	}
}

// The observation rows change no access decision: an employment office
// tenant without roles gets nothing from them.
func TestObservationRowsDecideNothing(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	e := newEngine(t, db)
	office := addTenant(t, db, "office-obs", tenants.KindEmploymentOffice)
	a := tenants.Actor{UserID: "00000000-0000-4000-8000-000000000001", TenantID: office.ID, TenantSlug: office.Slug, TenantKind: office.Kind}
	for _, c := range p.PersonCategories {
		if d := e.Decide(p.Request{Actor: a, Category: c, Action: p.ActRead, Person: &p.Facts{Links: []string{p.LinkStatusObserver}}}); d.Allow {
			t.Errorf("a user without roles reads %s: %+v", c, d)
		}
	}
	if acts := e.AllowedActions(tenants.KindEmploymentOffice, nil); len(acts) != 0 {
		t.Errorf("allowed actions without roles: %v, want none", acts)
	}
}

func TestSyncObserversAndLeaveProgramme(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	e := newEngine(t, db)
	ctx := context.Background()
	owner := addTenant(t, db, "comune-obs", tenants.KindMunicipality)
	office1 := addTenant(t, db, "office-obs-1", tenants.KindEmploymentOffice)
	office2 := addTenant(t, db, "office-obs-2", tenants.KindEmploymentOffice)
	var istat string
	if err := db.GetContext(ctx, &istat, `SELECT istat_code FROM tenants WHERE id = $1`, owner.ID); err != nil {
		t.Fatal(err)
	}
	var person string
	err := db.GetContext(ctx, &person, `INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
		VALUES ('OBSRVR80A01D612X', 'Anna', 'Bianchi', '1980-01-01', 'F', $1, 'disabile_l68', $2) RETURNING id`, istat, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	observers := func() []string {
		t.Helper()
		var out []string
		if err := db.SelectContext(ctx, &out, `SELECT t.slug FROM person_links l JOIN tenants t ON t.id = l.tenant_id
			WHERE l.person_id = $1 AND l.kind = 'status_observer' AND l.ended_at IS NULL ORDER BY t.slug`, person); err != nil {
			t.Fatal(err)
		}
		return out
	}
	sync := func(tg string) {
		t.Helper()
		if err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error { return e.SyncObservers(ctx, tx, person, tg) }); err != nil {
			t.Fatal(err)
		}
	}
	sync(p.TargetDisabileL68)
	sync(p.TargetDisabileL68) // again: nothing new
	got := observers()
	if want := []string{office1.Slug, office2.Slug}; !slices.Equal(got, want) {
		t.Errorf("observers of an L.68 participant: %v, want every employment office", got)
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM person_links WHERE person_id = $1 AND tenant_id = $2`, person, office1.ID); err != nil || n != 1 {
		t.Errorf("links of office 1 after two syncs: %d (%v), want 1", n, err)
	}
	sync(p.TargetSaluteMentale)
	if got := observers(); len(got) != 0 {
		t.Errorf("after moving to salute_mentale: observers %v, want none", got)
	}
	sync(p.TargetDisabileL68)
	var ended int64
	if err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		var err error
		ended, err = p.LeaveProgramme(ctx, tx, person, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := observers(); len(got) != 0 || ended < 2 {
		t.Errorf("after leaving the programme: observers %v (%d ended), want none", got, ended)
	}
}
