package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/storage/postgres"
)

// Store is the SQL side of tenants.
type Store struct {
	db *sqlx.DB
}

// NewStore returns a store on db.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db} }

// SeedResult counts what a seed run changed.
type SeedResult struct {
	MunicipalitiesInserted, MunicipalitiesUpdated int
	TenantsInserted, TenantsUpdated               int
}

// Changed reports whether the run changed anything.
func (r SeedResult) Changed() bool {
	return r.MunicipalitiesInserted+r.MunicipalitiesUpdated+r.TenantsInserted+r.TenantsUpdated > 0
}

// Seed loads the municipality reference table and the tenants of the network
// in one transaction. Rows that already hold the seed values are not touched,
// so a second run changes nothing; a seed value that differs from the stored
// one (a renamed organisation) is brought up to date.
func (s *Store) Seed(ctx context.Context, munis []Municipality, ts []SeedTenant) (SeedResult, error) {
	var res SeedResult
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		// Successors first, so that the foreign key holds in any order.
		ordered := make([]Municipality, 0, len(munis))
		for _, m := range munis {
			if m.Successor == "" {
				ordered = append(ordered, m)
			}
		}
		for _, m := range munis {
			if m.Successor != "" {
				ordered = append(ordered, m)
			}
		}
		for _, m := range ordered {
			ins, upd, err := upsertMunicipality(ctx, tx, m)
			if err != nil {
				return err
			}
			res.MunicipalitiesInserted += ins
			res.MunicipalitiesUpdated += upd
		}
		for _, t := range ts {
			ins, upd, err := upsertTenant(ctx, tx, t)
			if err != nil {
				return err
			}
			res.TenantsInserted += ins
			res.TenantsUpdated += upd
		}
		return nil
	})
	return res, err
}

// upsertResult reads whether an INSERT ... ON CONFLICT DO UPDATE ... WHERE
// inserted a row, updated one, or left it alone (no row returned).
func upsertResult(ctx context.Context, tx *sqlx.Tx, q string, args ...any) (inserted, updated int, err error) {
	var wasInsert []bool
	if err := tx.SelectContext(ctx, &wasInsert, q, args...); err != nil {
		return 0, 0, postgres.Translate(err)
	}
	for _, ins := range wasInsert {
		if ins {
			inserted++
		} else {
			updated++
		}
	}
	return inserted, updated, nil
}

func upsertMunicipality(ctx context.Context, tx *sqlx.Tx, m Municipality) (int, int, error) {
	const q = `
INSERT INTO municipalities AS m (istat_code, name, province, valid_from, valid_until, successor_istat, in_zone, zone_since)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8)
ON CONFLICT (istat_code) DO UPDATE SET
	name = EXCLUDED.name, province = EXCLUDED.province, valid_from = EXCLUDED.valid_from,
	valid_until = EXCLUDED.valid_until, successor_istat = EXCLUDED.successor_istat,
	in_zone = EXCLUDED.in_zone, zone_since = EXCLUDED.zone_since
WHERE (m.name, m.province, m.valid_from, m.valid_until, m.successor_istat, m.in_zone, m.zone_since)
	IS DISTINCT FROM
	(EXCLUDED.name, EXCLUDED.province, EXCLUDED.valid_from, EXCLUDED.valid_until, EXCLUDED.successor_istat, EXCLUDED.in_zone, EXCLUDED.zone_since)
RETURNING (xmax = 0) AS inserted`
	ins, upd, err := upsertResult(ctx, tx, q, m.ISTATCode, m.Name, m.Province, m.ValidFrom, m.ValidUntil, m.Successor, m.InZone, m.ZoneSince)
	if err != nil {
		return 0, 0, fmt.Errorf("seed municipality %s: %w", m.ISTATCode, err)
	}
	return ins, upd, nil
}

func upsertTenant(ctx context.Context, tx *sqlx.Tx, t SeedTenant) (int, int, error) {
	const q = `
INSERT INTO tenants AS t (slug, name, kind, parent_id, istat_code)
VALUES ($1, $2, $3, (SELECT id FROM tenants WHERE slug = NULLIF($4, '')), NULLIF($5, ''))
ON CONFLICT (slug) DO UPDATE SET
	name = EXCLUDED.name, kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id,
	istat_code = EXCLUDED.istat_code, updated_at = now()
WHERE (t.name, t.kind, t.parent_id, t.istat_code)
	IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.parent_id, EXCLUDED.istat_code)
RETURNING (xmax = 0) AS inserted`
	if t.Parent != "" {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM tenants WHERE slug = $1`, t.Parent); err != nil {
			return 0, 0, postgres.Translate(err)
		}
		if n == 0 {
			return 0, 0, fmt.Errorf("seed tenant %s: parent %s is not seeded before it", t.Slug, t.Parent)
		}
	}
	ins, upd, err := upsertResult(ctx, tx, q, t.Slug, t.Name, string(t.Kind), t.Parent, t.ISTATCode)
	if err != nil {
		return 0, 0, fmt.Errorf("seed tenant %s: %w", t.Slug, err)
	}
	return ins, upd, nil
}

type tenantRow struct {
	ID         string    `db:"id"`
	Slug       string    `db:"slug"`
	Name       string    `db:"name"`
	Kind       string    `db:"kind"`
	ParentSlug *string   `db:"parent_slug"`
	ISTATCode  *string   `db:"istat_code"`
	CreatedAt  time.Time `db:"created_at"`
}

func (r tenantRow) tenant() Tenant {
	t := Tenant{ID: r.ID, Slug: r.Slug, Name: r.Name, Kind: Kind(r.Kind), CreatedAt: r.CreatedAt}
	if r.ParentSlug != nil {
		t.ParentSlug = *r.ParentSlug
	}
	if r.ISTATCode != nil {
		t.ISTATCode = *r.ISTATCode
	}
	return t
}

// List returns up to limit tenants in slug order, after the slug `after`
// (keyset pagination; "" starts at the beginning).
func (s *Store) List(ctx context.Context, after string, limit int) ([]Tenant, error) {
	const q = `
SELECT t.id, t.slug, t.name, t.kind, p.slug AS parent_slug, t.istat_code, t.created_at
FROM tenants t LEFT JOIN tenants p ON p.id = t.parent_id
WHERE t.slug > $1
ORDER BY t.slug
LIMIT $2`
	var rows []tenantRow
	if err := s.db.SelectContext(ctx, &rows, q, after, limit); err != nil {
		return nil, postgres.Translate(fmt.Errorf("list tenants: %w", err))
	}
	out := make([]Tenant, len(rows))
	for i, r := range rows {
		out[i] = r.tenant()
	}
	return out, nil
}

// BySlug returns the tenant with the given slug, or a not_found error.
func (s *Store) BySlug(ctx context.Context, slug string) (Tenant, error) {
	return tenantBySlug(ctx, s.db, slug)
}

func tenantBySlug(ctx context.Context, db sqlx.QueryerContext, slug string) (Tenant, error) {
	const q = `
SELECT t.id, t.slug, t.name, t.kind, p.slug AS parent_slug, t.istat_code, t.created_at
FROM tenants t LEFT JOIN tenants p ON p.id = t.parent_id
WHERE t.slug = $1`
	var r tenantRow
	if err := sqlx.GetContext(ctx, db, &r, q, slug); errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, apperr.New(apperr.NotFound, "there is no tenant %q", slug)
	} else if err != nil {
		return Tenant{}, postgres.Translate(fmt.Errorf("tenant %s: %w", slug, err))
	}
	return r.tenant(), nil
}

type municipalityRow struct {
	ISTATCode  string     `db:"istat_code"`
	Name       string     `db:"name"`
	Province   string     `db:"province"`
	ValidFrom  *time.Time `db:"valid_from"`
	ValidUntil *time.Time `db:"valid_until"`
	Successor  *string    `db:"successor_istat"`
	InZone     bool       `db:"in_zone"`
	ZoneSince  *time.Time `db:"zone_since"`
}

// Municipalities returns the whole reference table in code order.
func (s *Store) Municipalities(ctx context.Context) ([]Municipality, error) {
	const q = `
SELECT istat_code, name, province, valid_from, valid_until, successor_istat, in_zone, zone_since
FROM municipalities ORDER BY istat_code`
	var rows []municipalityRow
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, postgres.Translate(fmt.Errorf("list municipalities: %w", err))
	}
	out := make([]Municipality, len(rows))
	for i, r := range rows {
		out[i] = Municipality{ISTATCode: r.ISTATCode, Name: r.Name, Province: r.Province, ValidFrom: r.ValidFrom,
			ValidUntil: r.ValidUntil, InZone: r.InZone, ZoneSince: r.ZoneSince}
		if r.Successor != nil {
			out[i].Successor = *r.Successor
		}
	}
	return out, nil
}

// Create adds a tenant. A taken slug is a conflict; an unknown parent or
// ISTAT code is invalid, naming the field.
func (s *Store) Create(ctx context.Context, t SeedTenant) (Tenant, error) {
	fields := apperr.Fields{}
	if t.Parent != "" {
		if _, err := tenantBySlug(ctx, s.db, t.Parent); apperr.Is(err, apperr.NotFound) {
			fields.Add("parent", "there is no tenant %q", t.Parent)
		} else if err != nil {
			return Tenant{}, err
		}
	}
	if t.ISTATCode != "" {
		var n int
		if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM municipalities WHERE istat_code = $1 AND valid_until IS NULL`, t.ISTATCode); err != nil {
			return Tenant{}, postgres.Translate(err)
		}
		if n == 0 {
			fields.Add("istat_code", "is not the code of a current municipality in the reference table")
		}
	}
	if err := fields.Err(); err != nil {
		return Tenant{}, err
	}
	const q = `
INSERT INTO tenants (slug, name, kind, parent_id, istat_code)
VALUES ($1, $2, $3, (SELECT id FROM tenants WHERE slug = NULLIF($4, '')), NULLIF($5, ''))`
	if _, err := s.db.ExecContext(ctx, q, t.Slug, t.Name, string(t.Kind), t.Parent, t.ISTATCode); err != nil {
		if err := postgres.Translate(err); apperr.Is(err, apperr.Conflict) {
			return Tenant{}, &apperr.Error{Code: apperr.Conflict, Message: "the slug or the ISTAT code is already taken",
				Fields: map[string]string{"slug": "may already be in use"}}
		} else {
			return Tenant{}, err
		}
	}
	return tenantBySlug(ctx, s.db, t.Slug)
}
