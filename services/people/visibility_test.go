package people

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/policies"
	"attivi/storage/postgres"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// TestListVisibilityEqualsDecision builds a synthetic network (persons with
// random links, scoped links and consents to random tenants and kinds) and
// checks, for every category and many (role, tenant) pairs, that the SQL
// condition of lists selects exactly the persons for whom the per-record
// decision allows the category.
func TestListVisibilityEqualsDecision(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, append(append([]tenants.Municipality{}, tenants.ZoneMunicipalities...), tenants.FormerMunicipalities...), tenants.Network()); err != nil {
		t.Fatal(err)
	}
	if _, err := policies.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ident, err := tenants.NewIdentity(db, tenants.DefaultAuth, log, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := store.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(n int) int { return rng.IntN(n) }

	// Staff: a user per (tenant, role) pair drawn at random.
	var actors []tenants.Actor
	for i := 0; i < 24; i++ {
		tn := all[pick(len(all))]
		role := tenants.Roles[pick(len(tenants.Roles))]
		email := fmt.Sprintf("u%d@synthetic.example", i)
		m, _, err := ident.AddMember(ctx, tn.Slug, tenants.NewMember{Email: email, Password: "ginestra-Arno-1997", Roles: []string{string(role)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		actors = append(actors, tenants.Actor{UserID: m.ID, TenantID: tn.ID, TenantSlug: tn.Slug, TenantKind: tn.Kind, Roles: []tenants.Role{role}})
	}
	engine, err := policies.New(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}

	// Persons with random facts.
	var personIDs []string
	for i := 0; i < 60; i++ {
		var id string
		err := db.GetContext(ctx, &id, `INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
			VALUES ($1, $4, $2, '1990-01-01', 'F', '048001', 'disabile_l68', $3) RETURNING id`,
			fmt.Sprintf("%011d", 10000000000+i), fmt.Sprintf("Cognome%02d", i), all[0].ID, []string{"Anna", "Lucia", "Marianna", "Giulia"}[i%4])
		if err != nil {
			t.Fatal(err)
		}
		personIDs = append(personIDs, id)
		// Mostly the tenants of the staff above, so that answers vary.
		someTenant := func() tenants.Tenant {
			if pick(10) < 8 {
				a := actors[pick(len(actors))]
				return tenants.Tenant{ID: a.TenantID, Slug: a.TenantSlug, Kind: a.TenantKind}
			}
			return all[pick(len(all))]
		}
		for range 1 + pick(4) {
			tn := someTenant()
			l := policies.LinkInput{PersonID: id, TenantID: tn.ID, Kind: policies.Links[pick(len(policies.Links))], Source: fmt.Sprintf("s%d", pick(3))}
			if pick(3) == 0 {
				l.Scope = []string{policies.PersonCategories[pick(len(policies.PersonCategories))]}
			}
			if pick(6) == 0 {
				past := time.Now().Add(-time.Hour)
				l.ValidUntil = &past
				if _, err := db.ExecContext(ctx, `INSERT INTO person_links (person_id, tenant_id, kind, source, valid_from, valid_until) VALUES ($1, $2, $3, $4, now() - interval '2 hours', $5)`,
					id, tn.ID, l.Kind, l.Source+"-expired", past); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := policies.AddLink(ctx, db, l); err != nil {
				t.Fatal(err)
			}
		}
		for range 1 + pick(3) {
			// Some consents are for case conferences: the only ones a
			// conference link counts with.
			purpose := []string{"presa_in_carico", policies.PurposeConference}[pick(2)]
			var cid string
			if err := db.GetContext(ctx, &cid, `INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, recorded_by_tenant)
				VALUES ($1, 'consent', $3, '{x}', '{identity}', current_date, $2) RETURNING id`, id, all[0].ID, purpose); err != nil {
				t.Fatal(err)
			}
			g := policies.GrantInput{ConsentID: cid, PersonID: id, Purpose: purpose, ValidFrom: time.Now().AddDate(0, 0, -pick(10))}
			for range 1 + pick(3) {
				g.Categories = append(g.Categories, policies.PersonCategories[pick(len(policies.PersonCategories))])
			}
			if pick(2) == 0 {
				g.GranteeKinds = []string{string(tenants.Kinds[pick(len(tenants.Kinds))])}
			} else {
				g.GranteeTenantIDs = []string{someTenant().ID}
			}
			if pick(5) == 0 {
				y := time.Now().AddDate(0, 0, -1)
				g.ValidFrom, g.ValidUntil = y.AddDate(0, 0, -10), &y
			}
			if err := policies.AddGrants(ctx, db, g); err != nil {
				t.Fatal(err)
			}
		}
	}

	stmts := postgres.NewStatements(db)
	checks, mismatches, allowed, walked, searched := 0, 0, 0, 0, 0
	for _, a := range actors {
		f := engine.ListFilter(a, policies.ActRead)
		for _, cat := range policies.PersonCategories {
			cond, args := f.SQL(cat, string(a.TenantKind), "p.id", "$1", 2)
			var listed []string
			if cond == "FALSE" {
				cond, args = "FALSE AND $1::uuid IS NULL", nil
			}
			if err := db.SelectContext(ctx, &listed, `SELECT p.id FROM persons p WHERE `+cond, append([]any{a.TenantID}, args...)...); err != nil {
				t.Fatalf("%s: %v", cond, err)
			}
			checkLinkWalk(ctx, t, db, a, f, cat, listed)
			if cat == policies.CatIdentity {
				w, n := checkListPages(ctx, t, stmts, db, a, f, listed)
				walked, searched = walked+w, searched+n
			}
			for _, id := range personIDs {
				acc, err := engine.Access(ctx, db, a, id, policies.ActRead, "")
				if err != nil {
					t.Fatal(err)
				}
				checks++
				if acc.Decisions[cat].Allow {
					allowed++
				}
				if got, want := slices.Contains(listed, id), acc.Decisions[cat].Allow; got != want {
					mismatches++
					if mismatches <= 5 {
						t.Errorf("%s %v in %s, %s of %s: list shows %v, decision says %v (facts %+v)",
							a.TenantSlug, a.Roles, a.TenantKind, cat, id, got, want, acc.Facts)
					}
				}
			}
		}
	}
	if searched < 10 {
		t.Errorf("the searches found %d persons in all: the test does not exercise them", searched)
	}
	if walked < 20 {
		t.Errorf("the persons list walked the links for %d (actor, category) pairs: the test does not exercise it", walked)
	}
	if checks < 5000 || allowed < 100 || allowed > checks-100 {
		t.Errorf("%d checks of which %d allowed: the synthetic network does not exercise both answers", checks, allowed)
	}
	t.Logf("%d (actor, person, category) checks, %d allowed, %d mismatches", checks, allowed, mismatches)
}

// checkLinkWalk: the condition on the tenant's own links (LinkSQL, what the
// persons list walks) selects the same persons as the condition on persons
// (SQL), listed.
func checkLinkWalk(ctx context.Context, t *testing.T, db *sqlx.DB, a tenants.Actor, f policies.ListFilter, cat string, listed []string) {
	t.Helper()
	cond, args, ok := f.LinkSQL(cat, string(a.TenantKind), "pl", "$1", 2)
	if !ok {
		return
	}
	var walked []string
	if cond != "FALSE" {
		if err := db.SelectContext(ctx, &walked, `SELECT DISTINCT pl.person_id FROM person_links pl WHERE `+cond,
			append([]any{a.TenantID}, args...)...); err != nil {
			t.Fatalf("%s: %v", cond, err)
		}
	}
	got, want := slices.Sorted(slices.Values(walked)), slices.Sorted(slices.Values(listed))
	if !slices.Equal(got, want) {
		t.Errorf("%s %v, %s: the link walk selects %d persons, the person condition %d", a.TenantSlug, a.Roles, cat, len(got), len(want))
	}
}

// checkListPages pages through the persons list and two searches as the
// endpoint does and compares them with listed (those of its persons whose
// names hold the words) in name order. It returns walks 1
// when the list walked the links (0: the persons path), and how many
// persons the searches should find.
func checkListPages(ctx context.Context, t *testing.T, st *postgres.Statements, db *sqlx.DB, a tenants.Actor, f policies.ListFilter, listed []string) (walks, found int) {
	t.Helper()
	for _, query := range []string{"", "lucia", "ANN cognome"} {
		var want []string
		if len(listed) > 0 {
			cond := `TRUE`
			for _, w := range strings.Fields(strings.ToLower(query)) {
				cond += ` AND search_text LIKE '%` + w + `%'`
			}
			if err := db.SelectContext(ctx, &want, `SELECT id FROM persons WHERE id = ANY($1) AND `+cond+` ORDER BY lower(family_name), lower(given_name), id`,
				pq.Array(listed)); err != nil {
				t.Fatal(err)
			}
		}
		if query != "" {
			found += len(want)
		}
		if got := pages(ctx, t, st, db, a, f, query); !slices.Equal(got, want) {
			t.Errorf("%s %v, q=%q: the list pages show %d persons, %d expected (or another order)", a.TenantSlug, a.Roles, query, len(got), len(want))
		}
	}
	if _, _, ok := f.LinkSQL(policies.CatIdentity, string(a.TenantKind), "pl", "$1", 2); ok {
		walks = 1
	}
	return walks, found
}

// pages pages through the persons list as the endpoint does, in pages of 7.
func pages(ctx context.Context, t *testing.T, st *postgres.Statements, db *sqlx.DB, a tenants.Actor, f policies.ListFilter, query string) []string {
	t.Helper()
	var got []string
	p := SearchParams{Query: query, Limit: 7}
	for range 100 {
		page, err := search(ctx, st, db, a.TenantID, string(a.TenantKind), f, p)
		if err != nil {
			t.Fatal(err)
		}
		more := len(page) > p.Limit
		if more {
			page = page[:p.Limit]
		}
		for _, s := range page {
			got = append(got, s.ID)
		}
		if !more {
			break
		}
		last := page[len(page)-1]
		p.After = [3]string{last.SortFamily, last.SortGiven, last.ID}
	}
	return got
}
