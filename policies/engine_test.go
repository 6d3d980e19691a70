package policies_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	p "attivi/policies"
	"attivi/storage/postgres"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

func TestSeedIsIdempotent(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	// Several instances start at once: exactly one seeds.
	var wg sync.WaitGroup
	results := make([]bool, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = p.Seed(ctx, db) })
	}
	wg.Wait()
	seeded := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("seed: %v", errs[i])
		}
		if results[i] {
			seeded++
		}
	}
	if seeded != 1 {
		t.Errorf("%d concurrent seeds stored the policy, want 1", seeded)
	}
	if again, err := p.Seed(ctx, db); err != nil || again {
		t.Errorf("second seed = %v, %v; want false, nil", again, err)
	}
	var rows, versions int
	var summary string
	if err := db.GetContext(ctx, &rows, `SELECT count(*) FROM casbin_rule`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &versions, `SELECT count(*) FROM policy_versions`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &summary, `SELECT summary FROM policy_versions WHERE version = 1`); err != nil {
		t.Fatal(err)
	}
	if rows != len(p.DefaultRules()) || versions != 1 || summary != "default policy" {
		t.Errorf("after seeding: %d rows, %d versions, summary %q; want %d, 1, \"default policy\"", rows, versions, summary, len(p.DefaultRules()))
	}

	e := newEngine(t, db)
	v, rules := e.Policy()
	if v != 1 || !slices.Equal(rules, p.DefaultRules()) {
		t.Errorf("engine loaded version %d with %d rules, want version 1 and the default rules in order", v, len(rules))
	}
}

func TestAdapterRoundTrip(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	n := newNetwork(t, db)
	a := p.NewAdapter(db)
	load := func() interface {
		GetPolicy() ([][]string, error)
		GetRolesForUserInDomain(string, string) []string
	} {
		t.Helper()
		e, err := p.NewEnforcer(a)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		return e
	}

	e := load()
	ps, _ := e.GetPolicy()
	if len(ps) != len(p.DefaultRules()) {
		t.Fatalf("loaded %d p rules, want %d", len(ps), len(p.DefaultRules()))
	}
	if got := e.GetRolesForUserInDomain(n.officeSocialWorker.UserID, n.collocamento.Slug); !sameSet(got, []string{"social_worker", "placement_officer"}) {
		t.Errorf("g rows of a user: %v", got)
	}

	// writes through Casbin's auto-save reach the table
	enf, err := p.NewEnforcer(a)
	if err != nil {
		t.Fatal(err)
	}
	extra := []string{"job_coach", "provider", "health", "read", "yes", "allow"}
	if ok, err := enf.AddPolicy(extra); err != nil || !ok {
		t.Fatalf("add policy: %v %v", ok, err)
	}
	if ps, _ := load().GetPolicy(); !slices.ContainsFunc(ps, func(r []string) bool { return slices.Equal(r, extra) }) {
		t.Errorf("added rule not stored")
	}
	if ok, err := enf.RemovePolicy(extra); err != nil || !ok {
		t.Fatalf("remove policy: %v %v", ok, err)
	}
	if ok, err := enf.RemoveFilteredPolicy(0, "kind:training_agency"); err != nil || !ok {
		t.Fatalf("remove filtered: %v %v", ok, err)
	}
	ps, _ = load().GetPolicy()
	if len(ps) != len(p.DefaultRules())-2 {
		t.Errorf("after removing one rule and the 2 of training agencies: %d rules, want %d", len(ps), len(p.DefaultRules())-2)
	}
	if _, err := enf.AddGroupingPolicy(n.jobCoach.UserID, "network_admin", n.coop.Slug); err == nil {
		t.Errorf("a role assignment was written to casbin_rule")
	}

	// SavePolicy writes the p rows only, in one go
	if err := enf.LoadPolicy(); err != nil {
		t.Fatal(err)
	}
	if _, err := enf.AddPolicy(extra); err != nil {
		t.Fatal(err)
	}
	want, _ := enf.GetPolicy()
	if err := enf.SavePolicy(); err != nil {
		t.Fatalf("save: %v", err)
	}
	got, _ := load().GetPolicy()
	if !sameRows(got, want) {
		t.Errorf("saved and loaded policies differ: %d vs %d rules", len(got), len(want))
	}
	var rows int
	if err := db.Get(&rows, `SELECT count(*) FROM casbin_rule`); err != nil || rows != len(want) {
		t.Errorf("casbin_rule holds %d rows, want %d (no g rows)", rows, len(want))
	}

	// a disabled membership holds no role
	if _, err := db.Exec(`UPDATE memberships SET disabled_at = now() WHERE user_id = $1`, n.jobCoach.UserID); err != nil {
		t.Fatal(err)
	}
	if got := load().GetRolesForUserInDomain(n.jobCoach.UserID, n.coop.Slug); len(got) != 0 {
		t.Errorf("disabled membership still has roles %v", got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func sameRows(a, b [][]string) bool {
	join := func(rs [][]string) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = strings.Join(r, ",")
		}
		return out
	}
	return sameSet(join(a), join(b))
}

func TestReplaceRefusals(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	n := newNetwork(t, db)
	e := newEngine(t, db)
	ctx := context.Background()
	v := e.Version()

	t.Run("unknown names, with the line", func(t *testing.T) {
		rules := p.DefaultRules()
		rules[12].Role = "job_coch"
		rules[20].Category = "medical"
		rules[30].Action = "delete"
		_, err := e.Replace(ctx, n.networkAdmin, v, rules, "typos")
		f := fieldsOf(t, err)
		for k, w := range map[string]string{"rules[12]": `unknown role "job_coch"`, "rules[20]": `unknown category "medical"`, "rules[30]": `unknown action "delete"`} {
			if !strings.Contains(f[k], w) {
				t.Errorf("%s: %q, want %q", k, f[k], w)
			}
		}
	})
	t.Run("summary required", func(t *testing.T) {
		_, err := e.Replace(ctx, n.networkAdmin, v, p.DefaultRules(), "  ")
		if f := fieldsOf(t, err); f["summary"] == "" {
			t.Errorf("fields %v, want summary", f)
		}
	})
	t.Run("last network_admin rule", func(t *testing.T) {
		rules := slices.DeleteFunc(p.DefaultRules(), func(r p.Rule) bool {
			return r.Role == "network_admin" && r.Category == p.CatPolicies && r.Action == p.ActAdmin
		})
		_, err := e.Replace(ctx, n.networkAdmin, v, rules, "remove the admin")
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "network_admin") {
			t.Errorf("error %v, want invalid naming network_admin", err)
		}
		// nor by denying it to every kind
		deny := p.DefaultRules()
		for _, k := range tenants.Kinds {
			deny = append(deny, p.Rule{TenantKind: string(k), Relationship: p.Any, Category: p.CatPolicies, Action: p.Any, Effect: p.Deny})
		}
		if _, err := e.Replace(ctx, n.networkAdmin, v, deny, "deny the admin"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("denying policies to every kind: %v, want invalid", err)
		}
		if e.Version() != v {
			t.Errorf("a refused change moved the version to %d", e.Version())
		}
	})
	t.Run("not an administrator", func(t *testing.T) {
		if _, err := e.Replace(ctx, n.tenantAdmin, v, p.DefaultRules(), "sneak"); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("error %v, want forbidden", err)
		}
	})
	t.Run("stale version", func(t *testing.T) {
		nv, err := e.Replace(ctx, n.networkAdmin, v, p.DefaultRules()[1:], "drop the first rule")
		if err != nil || nv != v+1 || e.Version() != nv {
			t.Fatalf("replace: %d, %v (engine at %d); want version %d", nv, err, e.Version(), v+1)
		}
		if _, err := e.Replace(ctx, n.networkAdmin, v, p.DefaultRules(), "based on the old version"); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("error %v, want conflict", err)
		}
		hist, err := e.History(ctx, 0, 10)
		if err != nil || len(hist) != 2 || hist[0].Version != nv || hist[0].ChangedByEmail == nil || *hist[0].ChangedByEmail != n.networkAdmin.Email ||
			hist[0].Rules != len(p.DefaultRules())-1 || hist[1].ChangedBy != nil {
			t.Errorf("history %+v, %v", hist, err)
		}
	})
}

// TestChangesReachAnotherInstance runs two engines on one database, each
// with its own pool and watcher, and checks that every kind of change made
// through one (or in SQL) is enforced by the other within a second, each
// with the decision cached beforehand.
func TestChangesReachAnotherInstance(t *testing.T) {
	t.Parallel()
	db1, url := seededDB(t)
	n := newNetwork(t, db1)
	ctx, cancel := context.WithCancel(context.Background())
	db2, err := postgres.Open(ctx, url, postgres.PoolConfig{MaxOpen: 4, MaxIdle: 2, MaxLifetime: time.Minute, MaxIdleTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	e1, e2 := newEngine(t, db1), newEngine(t, db2)
	var dones []<-chan struct{}
	for _, e := range []*p.Engine{e1, e2} {
		done, err := e.Watch(ctx, url)
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		dones = append(dones, done)
	}
	t.Cleanup(func() {
		cancel()
		for _, d := range dones {
			<-d
		}
	})
	const within = time.Second
	// seen asserts that cond holds on e within a second (and reports how long it took).
	seen := func(what string, e *p.Engine, cond func(*p.Engine) bool) {
		t.Helper()
		start := time.Now()
		if !eventually(within, func() bool { return cond(e) }) {
			t.Errorf("%s: not enforced within %v", what, within)
			return
		}
		t.Logf("%s: enforced after %v", what, time.Since(start).Round(time.Millisecond))
	}
	warm := func(what string, want bool, cond func(*p.Engine) bool) {
		t.Helper()
		for i, e := range []*p.Engine{e1, e2} {
			if cond(e) != want || cond(e) != want { // asked twice: the second answer comes from the cache
				t.Fatalf("%s: engine %d does not start from %v", what, i+1, want)
			}
		}
	}

	sw := n.socialWorker
	membersAdmin := func(e *p.Engine) bool { return e.Allowed(sw, p.CatMembers, p.ActAdmin) }

	// a role granted in SQL (as the tenants package does)
	warm("role granted", false, membersAdmin)
	grantRole(t, db1, sw.UserID, n.comune, tenants.RoleTenantAdmin)
	seen("role granted", e2, membersAdmin)
	seen("role granted, own instance", e1, membersAdmin)

	// the role revoked
	warm("role revoked", true, membersAdmin)
	if _, err := db1.Exec(`DELETE FROM membership_roles WHERE user_id = $1 AND role = 'tenant_admin'`, sw.UserID); err != nil {
		t.Fatal(err)
	}
	notMembersAdmin := func(e *p.Engine) bool { return !membersAdmin(e) }
	seen("role revoked", e2, notMembersAdmin)
	seen("role revoked, own instance", e1, notMembersAdmin)

	// a rule added through Replace on e1: e1 at once, e2 within a second
	jcHealth := p.Request{Actor: n.jobCoach, Category: p.CatHealth, Action: p.ActRead, Person: about(links(p.LinkProvider), p.CatHealth)}
	allowsJC := func(e *p.Engine) bool { return e.Decide(jcHealth).Allow }
	warm("rule added", false, allowsJC)
	extra := p.Rule{Role: "job_coach", Relationship: p.LinkProvider, Category: p.CatHealth, Action: p.ActRead, Consent: true, Effect: p.Allow}
	v, err := e1.Replace(ctx, n.networkAdmin, e1.Version(), append(p.DefaultRules(), extra), "job coaches of providers read health with consent")
	if err != nil {
		t.Fatalf("replace: %v", err)
	}
	if !allowsJC(e1) || e1.Version() != v {
		t.Errorf("the changing instance does not enforce its own change at once")
	}
	seen("rule added", e2, allowsJC)
	if !eventually(within, func() bool { return e2.Version() == v }) {
		t.Errorf("other instance at version %d, want %d", e2.Version(), v)
	}

	// the rule removed through Replace
	deniesJC := func(e *p.Engine) bool { return !allowsJC(e) }
	if _, err := e1.Replace(ctx, n.networkAdmin, v, p.DefaultRules(), "back to the default"); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if !deniesJC(e1) {
		t.Errorf("the changing instance does not enforce the removal at once")
	}
	seen("rule removed", e2, deniesJC)

	// a rule removed directly in the table (Casbin's adapter)
	ta := n.tenantAdmin
	taMembers := func(e *p.Engine) bool { return e.Allowed(ta, p.CatMembers, p.ActAdmin) }
	warm("rule removed in SQL", true, taMembers)
	if err := p.NewAdapter(db1).RemovePolicy("p", "p", []string{"tenant_admin", "-", "members", "admin", "no", "allow"}); err != nil {
		t.Fatal(err)
	}
	notTAMembers := func(e *p.Engine) bool { return !taMembers(e) }
	seen("rule removed in SQL", e2, notTAMembers)
	seen("rule removed in SQL, own instance", e1, notTAMembers)

	// a membership disabled
	swIdentity := p.Request{Actor: sw, Category: p.CatIdentity, Action: p.ActRead, Person: about(links(p.LinkOwner))}
	warm("membership disabled", true, func(e *p.Engine) bool { return e.Decide(swIdentity).Allow })
	if _, err := db1.Exec(`UPDATE memberships SET disabled_at = now() WHERE user_id = $1`, sw.UserID); err != nil {
		t.Fatal(err)
	}
	seen("membership disabled", e2, func(e *p.Engine) bool {
		d := e.Decide(swIdentity)
		return !d.Allow && d.Missing == "role"
	})
}

// TestVersionCheckCatchesMissedNotifications changes roles with the
// triggers off (so nothing is notified) and bumps the counter by hand: the
// periodic check must load the change.
func TestVersionCheckCatchesMissedNotifications(t *testing.T) {
	t.Parallel()
	db, url := seededDB(t)
	n := newNetwork(t, db)
	e := newEngine(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := e.Watch(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })

	jc := n.jobCoach
	if e.Allowed(jc, p.CatMembers, p.ActAdmin) {
		t.Fatal("job coach starts as a tenant admin")
	}
	err = postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			`SET LOCAL session_replication_role = replica`,
			`INSERT INTO membership_roles (user_id, tenant_id, role) VALUES ('` + jc.UserID + `', '` + jc.TenantID + `', 'tenant_admin')`,
			`UPDATE policy_state SET version = version + 1`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if e.Allowed(jc, p.CatMembers, p.ActAdmin) {
		t.Fatal("the change arrived without a notification: the test does not test the safety net")
	}
	if !eventually(7*time.Second, func() bool { return e.Allowed(jc, p.CatMembers, p.ActAdmin) }) {
		t.Errorf("the periodic version check did not load the change")
	}
}
