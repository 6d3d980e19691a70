package synth_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/bench/synth"
	"attivi/policies"
	"attivi/services/people"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

func seededDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db := pgtest.New(t)
	ctx := context.Background()
	munis := append(append([]tenants.Municipality{}, tenants.ZoneMunicipalities...), tenants.FormerMunicipalities...)
	if _, err := tenants.NewStore(db).Seed(ctx, munis, tenants.Network()); err != nil {
		t.Fatalf("seed tenants: %v", err)
	}
	if _, err := policies.Seed(ctx, db); err != nil {
		t.Fatalf("seed policy: %v", err)
	}
	return db
}

func count(t *testing.T, db *sqlx.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	ctx := context.Background()
	const n = 500

	var out bytes.Buffer
	if err := synth.Generate(ctx, db, n, 7, &out); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if !strings.Contains(out.String(), "synthetic: 500/500 persons") {
		t.Errorf("progress: got %q, want a line %q", out.String(), "synthetic: 500/500 persons")
	}

	if got := count(t, db, `SELECT count(*) FROM persons`); got != n {
		t.Errorf("persons: got %d, want %d", got, n)
	}

	t.Run("fiscal codes are valid and match birth date and sex", func(t *testing.T) {
		var rows []struct {
			Code  string    `db:"fiscal_code"`
			Birth time.Time `db:"birth_date"`
			Sex   string    `db:"sex"`
		}
		if err := db.Select(&rows, `SELECT fiscal_code, birth_date, sex FROM persons`); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			fc, err := people.ParseFiscalCode(r.Code, time.Now())
			if err != nil {
				t.Errorf("%s: %v", r.Code, err)
				continue
			}
			if fc.Temporary || len(fc.Code) != 16 {
				t.Errorf("%s: got a temporary code, want the 16-character form", r.Code)
			}
			if bad := fc.Consistent(r.Birth, r.Sex); bad != nil {
				t.Errorf("%s (%s %s): %v", r.Code, r.Birth.Format(time.DateOnly), r.Sex, bad)
			}
			if y := r.Birth.Year(); y < 1960 || y > 2005 {
				t.Errorf("%s: born in %d, want 1960-2005", r.Code, y)
			}
		}
	})

	t.Run("every person has exactly one active owner link, registered by the owner", func(t *testing.T) {
		bad := count(t, db, `
SELECT count(*) FROM persons p
WHERE (SELECT count(*) FROM person_links l WHERE l.person_id = p.id AND l.kind = 'owner'
		AND l.ended_at IS NULL AND l.valid_from <= now() AND (l.valid_until IS NULL OR l.valid_until > now())) <> 1
   OR NOT EXISTS (SELECT 1 FROM person_links l WHERE l.person_id = p.id AND l.kind = 'owner'
		AND l.source = 'registration' AND l.tenant_id = p.registered_by)`)
		if bad != 0 {
			t.Errorf("persons without exactly one active owner link (or registered by another tenant): %d", bad)
		}
	})

	t.Run("owners are municipalities or health units", func(t *testing.T) {
		var kinds []string
		if err := db.Select(&kinds, `SELECT DISTINCT t.kind FROM person_links l JOIN tenants t ON t.id = l.tenant_id WHERE l.kind = 'owner' ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(kinds, ","), "health_service,municipality"; got != want {
			t.Errorf("owner kinds: got %s, want %s", got, want)
		}
	})

	t.Run("residences are in the zone, target groups about 70/30", func(t *testing.T) {
		if bad := count(t, db, `SELECT count(*) FROM persons p JOIN municipalities m ON m.istat_code = p.residence_istat WHERE NOT m.in_zone`); bad != 0 {
			t.Errorf("persons living outside the zone: %d", bad)
		}
		l68 := count(t, db, `SELECT count(*) FROM persons WHERE target_group = 'disabile_l68'`)
		if l68 < n*60/100 || l68 > n*80/100 {
			t.Errorf("disabile_l68: got %d of %d, want about 70%%", l68, n)
		}
	})

	t.Run("links and consents are there, in realistic amounts", func(t *testing.T) {
		others := count(t, db, `SELECT count(*) FROM person_links WHERE kind <> 'owner'`)
		if others < n/2 || others > 3*n {
			t.Errorf("links other than owner: got %d for %d persons, want 0-3 each, about 1.3 on average", others, n)
		}
		if c := count(t, db, `SELECT count(*) FROM person_links WHERE kind = 'status_observer' AND tenant_id <> (SELECT id FROM tenants WHERE slug = 'collocamento-mirato-firenze')`); c != 0 {
			t.Errorf("status_observer links to a tenant other than the employment office: %d", c)
		}
		consents := count(t, db, `SELECT count(*) FROM consents`)
		if consents < n/2 || consents > 2*n {
			t.Errorf("consents: got %d for %d persons, want 0-2 each", consents, n)
		}
		if c := count(t, db, `SELECT count(*) FROM (SELECT person_id FROM consents GROUP BY person_id HAVING count(*) > 2) x`); c != 0 {
			t.Errorf("persons with more than 2 consents: %d", c)
		}
		if c := count(t, db, `SELECT count(*) FROM consents WHERE revoked_at IS NOT NULL`); c == 0 {
			t.Errorf("revoked consents: got none, want a few")
		}
		if c := count(t, db, `SELECT count(*) FROM consents WHERE valid_until < current_date`); c == 0 {
			t.Errorf("expired consents: got none, want some")
		}
	})

	t.Run("grants match their consents", func(t *testing.T) {
		if c := count(t, db, `SELECT count(*) FROM consent_grants g LEFT JOIN consents c ON c.id = g.consent_id WHERE c.id IS NULL OR c.person_id <> g.person_id`); c != 0 {
			t.Errorf("grants without their consent: %d", c)
		}
		// Each consent has one grant per grantee, naming the same tenant
		// (by slug) or kind, with the consent's purpose, categories, period
		// and revocation.
		bad := count(t, db, `
SELECT count(*) FROM consents c
WHERE cardinality(c.grantees) <> (SELECT count(*) FROM consent_grants g WHERE g.consent_id = c.id)
   OR EXISTS (
	SELECT 1 FROM consent_grants g LEFT JOIN tenants t ON t.id = g.grantee_tenant_id
	WHERE g.consent_id = c.id AND (
		NOT (coalesce(t.slug, 'kind:' || g.grantee_kind) = ANY (c.grantees))
		OR g.purpose <> c.purpose OR g.categories <> c.categories OR g.valid_from <> c.valid_from
		OR g.valid_until IS DISTINCT FROM c.valid_until OR g.revoked_at IS DISTINCT FROM c.revoked_at))`)
		if bad != 0 {
			t.Errorf("consents whose grants do not match them: %d", bad)
		}
		if c := count(t, db, `SELECT count(*) FROM consents c WHERE c.recorded_by_tenant <> (SELECT tenant_id FROM person_links l WHERE l.person_id = c.person_id AND l.kind = 'owner')`); c != 0 {
			t.Errorf("consents not recorded by the owner: %d", c)
		}
		if c := count(t, db, `SELECT count(*) FROM consent_grants WHERE grantee_kind IS NOT NULL`); c == 0 {
			t.Errorf("grants to a tenant kind: got none, want some")
		}
	})

	t.Run("generating again with the same seed adds nothing", func(t *testing.T) {
		before := count(t, db, `SELECT (SELECT count(*) FROM persons) + (SELECT count(*) FROM person_links) + (SELECT count(*) FROM consents) + (SELECT count(*) FROM consent_grants)`)
		var out bytes.Buffer
		if err := synth.Generate(ctx, db, n, 7, &out); err != nil {
			t.Fatalf("Generate again: %v", err)
		}
		after := count(t, db, `SELECT (SELECT count(*) FROM persons) + (SELECT count(*) FROM person_links) + (SELECT count(*) FROM consents) + (SELECT count(*) FROM consent_grants)`)
		if after != before {
			t.Errorf("rows after a second run: got %d, want %d (unchanged)", after, before)
		}
		if !strings.Contains(out.String(), "0 persons added (500 already registered") {
			t.Errorf("summary of the second run: got %q, want 0 added and 500 already registered", out.String())
		}
	})

	t.Run("a larger run with the same seed adds only the new persons", func(t *testing.T) {
		if err := synth.Generate(ctx, db, n+100, 7, &bytes.Buffer{}); err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if got := count(t, db, `SELECT count(*) FROM persons`); got != n+100 {
			t.Errorf("persons: got %d, want %d", got, n+100)
		}
	})
}

func TestGenerateNeedsTheNetwork(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	err := synth.Generate(context.Background(), db, 10, 1, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "attivi seed") {
		t.Errorf("Generate on an unseeded database: got %v, want an error that says to run attivi seed", err)
	}
}
