package people

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres"
)

type personRow struct {
	ID             string    `db:"id"`
	FiscalCode     string    `db:"fiscal_code"`
	GivenName      string    `db:"given_name"`
	FamilyName     string    `db:"family_name"`
	BirthDate      time.Time `db:"birth_date"`
	Sex            string    `db:"sex"`
	ResidenceISTAT string    `db:"residence_istat"`
	ResidenceName  string    `db:"residence_name"`
	TargetGroup    string    `db:"target_group"`
	Phone          string    `db:"phone"`
	Email          string    `db:"email"`
	Address        string    `db:"address"`
	Version        int       `db:"version"`
	CreatedAt      time.Time `db:"created_at"`
	UpdatedAt      time.Time `db:"updated_at"`
}

func (r personRow) person() Person {
	return Person{ID: r.ID, FiscalCode: r.FiscalCode, GivenName: r.GivenName, FamilyName: r.FamilyName,
		BirthDate: r.BirthDate, Sex: r.Sex, ResidenceISTAT: r.ResidenceISTAT, ResidenceName: r.ResidenceName,
		TargetGroup: r.TargetGroup, Phone: r.Phone, Email: r.Email, Address: r.Address, Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

const personColumns = `p.id, p.fiscal_code, p.given_name, p.family_name, p.birth_date, p.sex, p.residence_istat,
	m.name AS residence_name, p.target_group, p.phone, p.email, p.address, p.version, p.created_at, p.updated_at`

func personByID(ctx context.Context, st *postgres.Statements, q sqlx.QueryerContext, id string) (Person, error) {
	stmt := `SELECT ` + personColumns + ` FROM persons p JOIN municipalities m ON m.istat_code = p.residence_istat WHERE p.id = $1`
	var r personRow
	if err := st.Get(ctx, q, &r, stmt, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Person{}, errNotFound
		}
		return Person{}, postgres.Translate(fmt.Errorf("person: %w", err))
	}
	return r.person(), nil
}

var errNotFound = apperr.New(apperr.NotFound, "there is no person with this id that you may see")

// holderOf names the tenant to ask about a registered fiscal code: the
// tenant holding the record (its owner), or the one that registered it.
func holderOf(ctx context.Context, q sqlx.QueryerContext, fiscalCode string) (name, slug string, found bool, err error) {
	const stmt = `
SELECT t.name, t.slug
FROM persons p
JOIN tenants t ON t.id = coalesce(
	(SELECT l.tenant_id FROM person_links l WHERE l.person_id = p.id AND l.kind = 'owner' AND l.ended_at IS NULL
	 ORDER BY l.valid_from LIMIT 1),
	p.registered_by)
WHERE p.fiscal_code = $1`
	var r struct {
		Name string `db:"name"`
		Slug string `db:"slug"`
	}
	err = sqlx.GetContext(ctx, q, &r, stmt, fiscalCode)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, postgres.Translate(err)
	}
	return r.Name, r.Slug, true, nil
}

type municipalityRow struct {
	Name          string     `db:"name"`
	ValidFrom     *time.Time `db:"valid_from"`
	ValidUntil    *time.Time `db:"valid_until"`
	Successor     *string    `db:"successor_istat"`
	SuccessorName *string    `db:"successor_name"`
}

// checkResidence says what is wrong with an ISTAT code as a residence on
// day d, or "".
func checkResidence(ctx context.Context, q sqlx.QueryerContext, code string, d time.Time) (string, error) {
	const stmt = `
SELECT m.name, m.valid_from, m.valid_until, m.successor_istat, s.name AS successor_name
FROM municipalities m LEFT JOIN municipalities s ON s.istat_code = m.successor_istat
WHERE m.istat_code = $1`
	var r municipalityRow
	err := sqlx.GetContext(ctx, q, &r, stmt, code)
	if errors.Is(err, sql.ErrNoRows) {
		return "is not the ISTAT code of a municipality this network knows", nil
	}
	if err != nil {
		return "", postgres.Translate(err)
	}
	if r.ValidUntil != nil && d.After(*r.ValidUntil) {
		if r.Successor != nil {
			return fmt.Sprintf("%s (%s) ceased on %s and became %s: use %s", r.Name, code,
				r.ValidUntil.Format(time.DateOnly), *r.SuccessorName, *r.Successor), nil
		}
		return fmt.Sprintf("%s (%s) ceased on %s", r.Name, code, r.ValidUntil.Format(time.DateOnly)), nil
	}
	if r.ValidFrom != nil && d.Before(*r.ValidFrom) {
		return fmt.Sprintf("%s (%s) exists only from %s", r.Name, code, r.ValidFrom.Format(time.DateOnly)), nil
	}
	return "", nil
}

func insertPerson(ctx context.Context, tx *sqlx.Tx, p Person, registeredBy string) (string, error) {
	const q = `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group,
	phone, email, address, registered_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id`
	var id string
	err := tx.GetContext(ctx, &id, q, p.FiscalCode, p.GivenName, p.FamilyName, p.BirthDate, p.Sex, p.ResidenceISTAT,
		p.TargetGroup, p.Phone, p.Email, p.Address, registeredBy)
	return id, postgres.Translate(err)
}

// updatePerson writes p if the stored version is still version, and
// returns the new version; a stale version is a conflict.
func updatePerson(ctx context.Context, tx *sqlx.Tx, p Person, version int) (int, error) {
	const q = `
UPDATE persons SET fiscal_code = $3, given_name = $4, family_name = $5, birth_date = $6, sex = $7,
	residence_istat = $8, target_group = $9, phone = $10, email = $11, address = $12,
	version = version + 1, updated_at = now()
WHERE id = $1 AND version = $2
RETURNING version`
	var v int
	err := tx.GetContext(ctx, &v, q, p.ID, version, p.FiscalCode, p.GivenName, p.FamilyName, p.BirthDate, p.Sex,
		p.ResidenceISTAT, p.TargetGroup, p.Phone, p.Email, p.Address)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, apperr.New(apperr.Conflict, "the record was changed by someone else after version %d: reload it and apply your change again", version)
	}
	return v, postgres.Translate(err)
}

// Summary is a person as lists show them: identity only.
type Summary struct {
	ID             string    `db:"id"`
	FiscalCode     string    `db:"fiscal_code"`
	GivenName      string    `db:"given_name"`
	FamilyName     string    `db:"family_name"`
	BirthDate      time.Time `db:"birth_date"`
	ResidenceISTAT string    `db:"residence_istat"`
	SortFamily     string    `db:"sort_family"`
	SortGiven      string    `db:"sort_given"`
}

// Position is where the person stands in the list order, the key of a
// cursor that resumes the list after them.
func (s Summary) Position() string { return s.SortFamily + "\x00" + s.SortGiven + "\x00" + s.ID }

// ResumeAfter reads a Position back into the parameters; ok is false when key is
// not a position this package gave out.
func (p *SearchParams) ResumeAfter(key string) (ok bool) {
	parts := strings.Split(key, "\x00")
	if len(parts) != 3 || !postgres.IsUUID(parts[2]) {
		return false
	}
	copy(p.After[:], parts)
	return true
}

// SearchParams select a page of persons.
type SearchParams struct {
	Query string
	// After is the position of the last person of the previous page:
	// lower(family name), lower(given name), id.
	After [3]string
	// Limit is the size of the page.
	Limit int
}

func search(ctx context.Context, st *postgres.Statements, q sqlx.QueryerContext, tenantID, tenantKind string, f policies.ListFilter, p SearchParams) ([]Summary, error) {
	s := strings.TrimSpace(p.Query)
	byCode := looksLikeFiscalCode(strings.ToUpper(strings.ReplaceAll(s, " ", "")))
	if !byCode {
		if cond, condArgs, ok := f.LinkSQL("identity", tenantKind, "pl", "$1", 2); ok {
			return listByLinks(ctx, st, q, tenantID, cond, condArgs, strings.Fields(strings.ToLower(s)), p)
		}
	}
	args := []any{tenantID}
	cond, condArgs := f.SQL("identity", tenantKind, "p.id", "$1", 2)
	if cond == "FALSE" { // the roles may not read identity through any link
		return nil, nil
	}
	args = append(args, condArgs...)
	where := []string{cond}
	add := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	byName := false
	if s != "" {
		if byCode {
			where = append(where, `p.fiscal_code LIKE `+add(likeEscape(strings.ToUpper(strings.ReplaceAll(s, " ", "")))+"%"))
		} else {
			for _, w := range strings.Fields(strings.ToLower(s)) {
				where = append(where, `p.search_text LIKE `+add("%"+likeEscape(w)+"%"))
				byName = byName || len([]rune(w)) >= 3
			}
		}
	}
	if p.After[2] != "" {
		where = append(where, `(lower(p.family_name), lower(p.given_name), p.id) > (`+add(p.After[0])+`, `+add(p.After[1])+`, `+add(p.After[2])+`::uuid)`)
	}
	const columns = `p.id, p.fiscal_code, p.given_name, p.family_name, p.birth_date, p.residence_istat,
	lower(p.family_name) AS sort_family, lower(p.given_name) AS sort_given`
	limit := add(p.Limit + 1) // one more says whether there is a next page
	stmt := `
SELECT ` + columns + `
FROM persons p
WHERE ` + strings.Join(where, "\n\tAND ") + `
ORDER BY lower(p.family_name), lower(p.given_name), p.id
LIMIT ` + limit
	if byName {
		// A name search finds its few matches through the trigram index and
		// sorts them; walking the name index instead would read most rows.
		stmt = `
WITH m AS MATERIALIZED (
	SELECT ` + columns + `
	FROM persons p
	WHERE ` + strings.Join(where, "\n\tAND ") + `
)
SELECT * FROM m ORDER BY sort_family, sort_given, id
LIMIT ` + limit
	}
	var out []Summary
	if err := sqlx.SelectContext(ctx, q, &out, stmt, args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("search persons: %w", err))
	}
	return out, nil
}

// listByLinks lists a page of the persons the tenant's own links show, in
// name order, by walking the tenant's links in the order of their persons'
// sort keys (person_links_tenant_name_idx) until the page is full: the cost
// is the page, whatever the size of the tenant or of the network. cond
// qualifies a link row (alias pl, tenant $1, its arguments from $2). Each
// of words (lower case) must occur in the name, as in a search on persons
// (search_text holds the same words).
func listByLinks(ctx context.Context, st *postgres.Statements, q sqlx.QueryerContext, tenantID, cond string, condArgs []any, words []string, p SearchParams) ([]Summary, error) {
	if cond == "FALSE" {
		return nil, nil
	}
	args := append([]any{tenantID}, condArgs...)
	add := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	for _, w := range words {
		cond += ` AND (pl.sort_family || ' ' || pl.sort_given) LIKE ` + add("%"+likeEscape(w)+"%")
	}
	if p.After[2] != "" {
		cond += ` AND (pl.sort_family, pl.sort_given, pl.person_id) > (` + add(p.After[0]) + `, ` + add(p.After[1]) + `, ` + add(p.After[2]) + `::uuid)`
	}
	stmt := `
SELECT p.id, p.fiscal_code, p.given_name, p.family_name, p.birth_date, p.residence_istat,
	pl.sort_family, pl.sort_given
FROM (
	SELECT DISTINCT ON (pl.sort_family, pl.sort_given, pl.person_id) pl.person_id, pl.sort_family, pl.sort_given
	FROM person_links pl
	WHERE ` + cond + `
	ORDER BY pl.sort_family, pl.sort_given, pl.person_id
	LIMIT ` + add(p.Limit+1) + `
) pl
JOIN persons p ON p.id = pl.person_id
ORDER BY pl.sort_family, pl.sort_given, pl.person_id`
	// A list is prepared: planning it costs more than running it, and its
	// plan (the index walk) is the same for every tenant and page; there are
	// two texts per filter (first page, later pages). A search runs
	// unprepared: its texts vary with the number of words, and a generic
	// plan could not see that the walk reads the index alone and stops at
	// the page (at worst it reads all of the tenant's links: 11,000 index
	// entries, 3 ms, for the largest tenant of the zone).
	var out []Summary
	var err error
	if len(words) == 0 {
		err = st.Select(ctx, q, &out, stmt, args...)
	} else {
		err = sqlx.SelectContext(ctx, q, &out, stmt, args...)
	}
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("list persons: %w", err))
	}
	return out, nil
}

// looksLikeFiscalCode: a search of at least 6 letters and digits with a
// digit in it is a fiscal code (prefix), not a name.
func looksLikeFiscalCode(s string) bool {
	if len(s) < 6 || len(s) > 16 {
		return false
	}
	digit := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'A' && r <= 'Z':
		default:
			return false
		}
	}
	return digit
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
