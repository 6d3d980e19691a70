package notes

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/policies"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// synthetic is a small random network: staff of random (tenant, role) pairs,
// persons with random links (scoped, expired, conference) and consents
// (random purposes, to tenants and kinds, expired), and notes by random
// tenants in random categories, some riservata.
type synthetic struct {
	db      *sqlx.DB
	engine  *policies.Engine
	svc     *Service
	actors  []tenants.Actor
	persons []string
	notes   []Note // id, person, author tenant, category, sensitive
}

func newSynthetic(t *testing.T, seed uint64) *synthetic {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, slices.Concat(tenants.ZoneMunicipalities, tenants.FormerMunicipalities), tenants.Network()); err != nil {
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
	rng := rand.New(rand.NewPCG(seed, 99))
	pick := rng.IntN
	s := &synthetic{db: db}
	for i := 0; i < 24; i++ {
		tn := all[pick(len(all))]
		role := tenants.Roles[pick(len(tenants.Roles))]
		m, _, err := ident.AddMember(ctx, tn.Slug, tenants.NewMember{Email: fmt.Sprintf("u%d@synthetic.example", i), Password: "ginestra-Arno-1997", Roles: []string{string(role)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.actors = append(s.actors, tenants.Actor{UserID: m.ID, TenantID: tn.ID, TenantSlug: tn.Slug, TenantKind: tn.Kind, Roles: []tenants.Role{role}})
	}
	if s.engine, err = policies.New(ctx, db, log); err != nil {
		t.Fatal(err)
	}
	s.svc = NewService(db, s.engine, time.Now, log, nil, nil)
	someTenant := func() tenants.Tenant {
		if pick(10) < 8 {
			a := s.actors[pick(len(s.actors))]
			return tenants.Tenant{ID: a.TenantID, Slug: a.TenantSlug, Kind: a.TenantKind}
		}
		return all[pick(len(all))]
	}
	purposes := []string{"presa_in_carico", "case_conference", "inserimento_lavorativo"}
	for i := 0; i < 60; i++ {
		var id string
		if err := db.GetContext(ctx, &id, `INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
			VALUES ($1, 'Nome', 'Cognome', '1990-01-01', 'F', '048001', 'disabile_l68', $2) RETURNING id`,
			fmt.Sprintf("%011d", 30000000000+i), all[0].ID); err != nil {
			t.Fatal(err)
		}
		s.persons = append(s.persons, id)
		for range 1 + pick(4) {
			tn := someTenant()
			kind := policies.Links[pick(len(policies.Links))]
			if pick(4) == 0 {
				kind = policies.LinkConference
			}
			l := policies.LinkInput{PersonID: id, TenantID: tn.ID, Kind: kind, Source: fmt.Sprintf("s%d", pick(3))}
			if pick(4) == 0 {
				l.Scope = []string{policies.PersonCategories[pick(7)], policies.PersonCategories[pick(7)]}
			}
			if pick(6) == 0 {
				if _, err := db.ExecContext(ctx, `INSERT INTO person_links (person_id, tenant_id, kind, source, valid_from, valid_until, ended_at) VALUES ($1, $2, $3, 'old', now() - interval '2 days', NULL, now() - interval '1 day')`,
					id, tn.ID, kind); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := policies.AddLink(ctx, db, l); err != nil {
				t.Fatal(err)
			}
		}
		for range 1 + pick(3) {
			purpose := purposes[pick(len(purposes))]
			var cid string
			if err := db.GetContext(ctx, &cid, `INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, recorded_by_tenant)
				VALUES ($1, 'consent', $2, '{x}', '{identity}', current_date, $3) RETURNING id`, id, purpose, all[0].ID); err != nil {
				t.Fatal(err)
			}
			g := policies.GrantInput{ConsentID: cid, PersonID: id, Purpose: purpose, ValidFrom: time.Now().AddDate(0, 0, -pick(10))}
			for range 1 + pick(4) {
				g.Categories = append(g.Categories, policies.PersonCategories[pick(7)])
			}
			if pick(2) == 0 {
				g.GranteeKinds = []string{string(tenants.Kinds[pick(len(tenants.Kinds))])}
			} else {
				g.GranteeTenantIDs = []string{someTenant().ID}
			}
			if pick(6) == 0 {
				y := time.Now().AddDate(0, 0, -2)
				g.ValidFrom, g.ValidUntil = y.AddDate(0, 0, -10), &y
			}
			if err := policies.AddGrants(ctx, db, g); err != nil {
				t.Fatal(err)
			}
		}
		for range pick(7) {
			a := s.actors[pick(len(s.actors))]
			if pick(5) == 0 {
				tn := all[pick(len(all))]
				a.TenantID = tn.ID // written by a tenant none of the staff acts for
			}
			n := newNote{PersonID: id, TenantID: a.TenantID, UserID: a.UserID,
				Draft: Draft{Category: policies.PersonCategories[pick(7)], Body: "nota di prova", Sensitive: pick(5) == 0}}
			nid, err := insertNote(ctx, db, n)
			if err != nil {
				t.Fatal(err)
			}
			s.notes = append(s.notes, Note{ID: nid, PersonID: id, AuthorTenantID: a.TenantID, Category: n.Category, Sensitive: n.Sensitive})
		}
	}
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	return s
}

// listed lists the notes the SQL returns, both ways of reading the shared
// notes (per person and walking all notes), which must agree.
func (s *synthetic) listed(t *testing.T, a tenants.Actor, f policies.ListFilter, personID string) []string {
	t.Helper()
	var out [2][]string
	for i, walk := range []bool{false, true} {
		ns, err := queryNotes(context.Background(), s.db, ListParams{TenantID: a.TenantID, TenantKind: string(a.TenantKind), Filter: f,
			PersonID: personID, Limit: 100000, walk: walk})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			out[i] = append(out[i], n.ID)
		}
	}
	if !slices.Equal(out[0], out[1]) {
		t.Errorf("%s: per-person and walking lists differ: %d and %d notes", a.TenantSlug, len(out[0]), len(out[1]))
	}
	return out[0]
}

// TestListEqualsDecision: for every synthetic actor, the notes the SQL list
// returns (network-wide and per person) are exactly those the per-note
// decision (Service.access, built on policies' Decide) lets it read.
func TestListEqualsDecision(t *testing.T) {
	t.Parallel()
	s := newSynthetic(t, 7)
	ctx := context.Background()
	checks, readable, mismatches := 0, 0, 0
	for _, a := range s.actors {
		f := s.engine.ListFilter(a, policies.ActRead)
		roleCats := f.Categories()
		listed := s.listed(t, a, f, "")
		access := map[string]Access{}
		for _, p := range s.persons {
			acc, err := s.svc.access(ctx, s.db, a, p, policies.ActRead)
			if err != nil {
				t.Fatal(err)
			}
			access[p] = acc
		}
		perPerson := map[string][]string{}
		for _, p := range s.persons[:15] {
			perPerson[p] = s.listed(t, a, f, p)
		}
		for _, n := range s.notes {
			want := Readable(n.AuthorTenantID == a.TenantID, n.Sensitive, n.Category, roleCats, access[n.PersonID].Allowed)
			checks++
			if want {
				readable++
			}
			got := slices.Contains(listed, n.ID)
			pp, checked := perPerson[n.PersonID]
			if got != want || (checked && slices.Contains(pp, n.ID) != want) {
				mismatches++
				if mismatches <= 5 {
					t.Errorf("%s %v (%s): note %s (%s, sensitive %v, own %v): listed %v, decision %v (person %+v)",
						a.TenantSlug, a.Roles, a.TenantKind, n.ID, n.Category, n.Sensitive, n.AuthorTenantID == a.TenantID, got, want, access[n.PersonID])
				}
			}
		}
	}
	if readable < 30 || readable > checks-30 {
		t.Errorf("%d checks of which %d readable: the synthetic network does not exercise both answers", checks, readable)
	}
	t.Logf("%d (actor, note) checks, %d readable, %d mismatches", checks, readable, mismatches)
}

// refAllows is ListFilter.Allows with the purpose rule of notes: a consent
// counts through a conference link only for the purpose case_conference.
func refAllows(f policies.ListFilter, links, granted, grantedConf []string, cat string) bool {
	for _, d := range f.Deny {
		if d.Category == cat && slices.Contains(links, d.Relationship) {
			return false
		}
	}
	for _, t := range f.Allow {
		if t.Category != cat || (t.Relationship != policies.Any && !slices.Contains(links, t.Relationship)) {
			continue
		}
		g := granted
		if t.Relationship == policies.LinkConference {
			g = grantedConf
		}
		if !t.Consent || slices.Contains(g, cat) {
			return true
		}
	}
	return false
}

// TestListEqualsFilterRule holds the SQL to the filter's rule for random
// filters, beyond what the default policy produces: '*' relationships with
// and without consent (candidates from grants, categories open to every
// person) and denials on links.
func TestListEqualsFilterRule(t *testing.T) {
	t.Parallel()
	s := newSynthetic(t, 13)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 8))
	rels := append(slices.Clone(policies.Links), policies.Any)
	mismatches, opened, granted, readable, checks := 0, 0, 0, 0, 0
	for round := 0; round < 40; round++ {
		var f policies.ListFilter
		for range 1 + rng.IntN(8) {
			tr := policies.Triple{Relationship: rels[rng.IntN(len(rels))], Category: policies.PersonCategories[rng.IntN(7)], Consent: rng.IntN(2) == 0}
			if tr.Relationship == policies.Any && !tr.Consent && rng.IntN(3) > 0 {
				tr.Consent = true // keep open categories rarer
			}
			f.Allow = append(f.Allow, tr)
		}
		if rng.IntN(3) == 0 {
			f.Deny = append(f.Deny, policies.Triple{Relationship: policies.Links[rng.IntN(len(policies.Links))], Category: f.Allow[0].Category})
		}
		for _, c := range policies.PersonCategories {
			if open(f, c) {
				opened++
			}
		}
		if anyConsent(f) {
			granted++
		}
		a := s.actors[rng.IntN(len(s.actors))]
		listed := s.listed(t, a, f, "")
		one := s.persons[rng.IntN(len(s.persons))]
		listedOne := s.listed(t, a, f, one)
		facts := map[string][2]policies.PersonFacts{}
		for _, p := range s.persons {
			any, err := policies.ReadFacts(ctx, s.db, a, p, "")
			if err != nil {
				t.Fatal(err)
			}
			conf, err := policies.ReadFacts(ctx, s.db, a, p, PurposeConference)
			if err != nil {
				t.Fatal(err)
			}
			facts[p] = [2]policies.PersonFacts{any, conf}
		}
		for _, n := range s.notes {
			fa := facts[n.PersonID]
			allowed := map[string]bool{n.Category: refAllows(f, fa[0].LinksFor(n.Category), fa[0].Granted, fa[1].Granted, n.Category)}
			want := Readable(n.AuthorTenantID == a.TenantID, n.Sensitive, n.Category, f.Categories(), allowed)
			checks++
			if want {
				readable++
			}
			got := slices.Contains(listed, n.ID)
			if n.PersonID == one && slices.Contains(listedOne, n.ID) != want {
				got = !want
			}
			if got != want {
				mismatches++
				if mismatches <= 5 {
					t.Errorf("round %d, filter %+v, %s: note %s (%s, sensitive %v): listed %v, rule %v (facts %+v)",
						round, f, a.TenantSlug, n.ID, n.Category, n.Sensitive, got, want, fa)
				}
			}
		}
	}
	if opened == 0 || granted == 0 || readable < 30 || readable > checks-30 {
		t.Errorf("%d open categories, %d filters with consent and no link, %d of %d readable: the filters do not exercise every branch", opened, granted, readable, checks)
	}
	t.Logf("%d (filter, note) checks, %d readable, %d open categories, %d filters with '*' and consent", checks, readable, opened, granted)
}
