package policies_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	p "attivi/policies"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// benchNetwork seeds the default policy and 1,000 tenants of every kind with
// 5 staff each (one role each), and returns 64 requests about persons with
// the actors and facts drawn from them.
func benchNetwork(b *testing.B) (*sqlx.DB, []p.Request) {
	b.Helper()
	db, _ := seededDB(b)
	ctx := context.Background()
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			`INSERT INTO municipalities (istat_code, name, province)
			 SELECT (900000 + i)::text, 'Bench ' || i, 'FI' FROM generate_series(1, 1000) i WHERE i % 6 = 0`,
			`INSERT INTO tenants (slug, name, kind, istat_code)
			 SELECT 'bench-' || i, 'Bench ' || i,
			        (ARRAY['municipality','health_service','employment_office','third_sector','training_agency','coordinator'])[1 + i % 6],
			        CASE WHEN i % 6 = 0 THEN (900000 + i)::text END
			 FROM generate_series(1, 1000) i`,
			`CREATE TEMP TABLE bench_users ON COMMIT DROP AS
			 SELECT gen_random_uuid() AS uid, t.id AS tid, t.slug, k
			 FROM tenants t, generate_series(1, 5) k WHERE t.slug LIKE 'bench-%'`,
			`INSERT INTO users (id, email, password_hash) SELECT uid, slug || '-' || k || '@example.org', 'x' FROM bench_users`,
			`INSERT INTO memberships (user_id, tenant_id) SELECT uid, tid FROM bench_users`,
			`INSERT INTO membership_roles (user_id, tenant_id, role)
			 SELECT uid, tid, (ARRAY['social_worker','health_worker','job_coach','placement_officer','coordinator'])[k] FROM bench_users`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", strings.Fields(q)[0:3], err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var staff []struct {
		UserID string `db:"user_id"`
		Slug   string `db:"slug"`
		Kind   string `db:"kind"`
		Role   string `db:"role"`
	}
	const q = `SELECT mr.user_id::text AS user_id, t.slug, t.kind, mr.role
	           FROM membership_roles mr JOIN tenants t ON t.id = mr.tenant_id WHERE t.slug LIKE 'bench-%' ORDER BY 1`
	if err := db.SelectContext(ctx, &staff, q); err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	reqs := make([]p.Request, 64)
	for i := range reqs {
		s := staff[rnd.IntN(len(staff))]
		reqs[i] = p.Request{
			Actor:    tenants.Actor{UserID: s.UserID, TenantSlug: s.Slug, TenantKind: tenants.Kind(s.Kind), Roles: []tenants.Role{tenants.Role(s.Role)}},
			Category: p.PersonCategories[rnd.IntN(len(p.PersonCategories))],
			Action:   p.ActRead,
			Person:   about(links(p.Links[rnd.IntN(len(p.Links))]), p.CatSocial, p.CatEmployment, p.CatDisability),
		}
	}
	return db, reqs
}

// args are the request attributes as the Engine passes them.
func args(r p.Request) []any {
	return []any{r.Actor.UserID, r.Actor.TenantSlug, "kind:" + string(r.Actor.TenantKind), r.Category, r.Action,
		strings.Join(r.Person.Links, ","), strings.Join(r.Person.Granted, ",")}
}

// BenchmarkDecision: one decision for (user, tenant, category, action) with
// the person's facts, with the default policy and 5,000 role assignments.
func BenchmarkDecision(b *testing.B) {
	db, reqs := benchNetwork(b)
	a := p.NewAdapter(db)
	rvals := make([][]any, len(reqs))
	for i, r := range reqs {
		rvals[i] = args(r)
	}

	b.Run("plain-enforcer", func(b *testing.B) {
		e, err := p.NewEnforcer(a)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := e.Enforce(rvals[i%len(rvals)]...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain-enforcer-ex", func(b *testing.B) {
		e, err := p.NewEnforcer(a)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, _, err := e.EnforceEx(rvals[i%len(rvals)]...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("synced-cached-enforcer", func(b *testing.B) {
		e, err := p.NewCachedEnforcer(a)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := e.Enforce(rvals[i%len(rvals)]...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("synced-cached-enforcer-parallel", func(b *testing.B) {
		e, err := p.NewCachedEnforcer(a)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := e.Enforce(rvals[i%len(rvals)]...); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	e := newEngine(b, db)
	b.Run("engine-decide", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e.Decide(reqs[i%len(reqs)])
		}
	})
	b.Run("engine-allowed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r := reqs[i%len(reqs)]
			e.Allowed(r.Actor, p.CatEmployment, p.ActExport)
		}
	})
}

// BenchmarkListFilter: the (relationship, category, consent) triples of the
// acting roles, derived from the policy and as the Engine serves them.
func BenchmarkListFilter(b *testing.B) {
	db, reqs := benchNetwork(b)
	e := newEngine(b, db)
	_, rules := e.Policy()
	b.Run("derive", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r := reqs[i%len(reqs)]
			p.NewListFilter(rules, r.Actor.TenantKind, []string{string(r.Actor.Roles[0])}, p.ActRead)
		}
	})
	b.Run("engine-cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e.ListFilter(reqs[i%len(reqs)].Actor, p.ActRead)
		}
	})
}
