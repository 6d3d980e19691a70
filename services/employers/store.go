package employers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/services/pathways"
	"attivi/storage/postgres"
)

var (
	errNoEmployer = apperr.New(apperr.NotFound, "there is no employer with this id")
	errNoOpening  = apperr.New(apperr.NotFound, "there is no opening with this id")
)

// translate maps the violation of a named constraint to a field error.
func translate(err error, fields map[string][2]string) error {
	var pe *pq.Error
	if errors.As(err, &pe) && (pe.Code == "23503" || pe.Code == "23505") {
		if f, ok := fields[pe.Constraint]; ok {
			code := apperr.Invalid
			if pe.Code == "23505" {
				code = apperr.Conflict
			}
			return &apperr.Error{Code: code, Message: "some fields are not valid", Fields: map[string]string{f[0]: f[1]}, Err: err}
		}
	}
	return postgres.Translate(err)
}

type employerRow struct {
	ID                string    `db:"id"`
	Name              string    `db:"name"`
	VATNumber         string    `db:"vat_number"`
	ATECOCode         string    `db:"ateco_code"`
	ATECOVersion      string    `db:"ateco_version"`
	Size              string    `db:"size"`
	Employees         *int      `db:"employees"`
	L68Obligation     bool      `db:"l68_obligation"`
	MunicipalityISTAT *string   `db:"municipality_istat"`
	Address           string    `db:"address"`
	CreatedBy         string    `db:"created_by"`
	Version           int       `db:"version"`
	CreatedAt         time.Time `db:"created_at"`
	UpdatedAt         time.Time `db:"updated_at"`
	SortName          string    `db:"sort_name"`
}

func (r employerRow) employer() Employer {
	return Employer{ID: r.ID, Name: r.Name, VATNumber: r.VATNumber, ATECOCode: r.ATECOCode, ATECOVersion: r.ATECOVersion,
		Size: r.Size, Employees: r.Employees, L68Obligation: r.L68Obligation, MunicipalityISTAT: r.MunicipalityISTAT,
		Address: r.Address, CreatedBy: r.CreatedBy, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

const employerSelect = `
SELECT e.id, e.name, e.vat_number, e.ateco_code, e.ateco_version, e.size, e.employees, e.l68_obligation,
	trim(e.municipality_istat) AS municipality_istat, e.address, t.slug AS created_by, e.version, e.created_at, e.updated_at,
	lower(e.name) AS sort_name
FROM employers e JOIN tenants t ON t.id = e.created_by_tenant`

func employerByID(ctx context.Context, q sqlx.QueryerContext, id string) (Employer, error) {
	if !isUUID(id) {
		return Employer{}, errNoEmployer
	}
	var r employerRow
	err := sqlx.GetContext(ctx, q, &r, employerSelect+` WHERE e.id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Employer{}, errNoEmployer
	}
	if err != nil {
		return Employer{}, postgres.Translate(fmt.Errorf("employer: %w", err))
	}
	return r.employer(), nil
}

var employerConstraints = map[string][2]string{
	"employers_vat_number_key":                 {"vat_number", "is already registered: the employer is in the network, find it by its VAT number"},
	"employers_municipality_istat_fkey":        {"municipality_istat", "is not the ISTAT code of a municipality this network knows"},
	"employer_scouting_contact_id_fkey":        {"contact_id", "is not a contact of this employer"},
	"openings_employer_id_fkey":                {"employer_id", "is not an employer of the network"},
	"employer_contacts_employer_id_fkey":       {"employer_id", "is not an employer of the network"},
	"employer_scouting_employer_id_fkey":       {"employer_id", "is not an employer of the network"},
	"opening_limits_opening_id_fkey":           {"opening_id", "is not an opening"},
	"employers_created_by_tenant_fkey":         {"tenant", "is not a tenant of the network"},
	"employer_contacts_created_by_tenant_fkey": {"tenant", "is not a tenant of the network"},
}

func insertEmployer(ctx context.Context, tx *sqlx.Tx, e Employer, tenantID, userID string) (string, error) {
	const stmt = `
INSERT INTO employers (name, vat_number, ateco_code, ateco_version, size, employees, l68_obligation, municipality_istat,
	address, created_by_tenant, created_by_user)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, nullif($11, '')::uuid)
RETURNING id`
	var id string
	err := tx.GetContext(ctx, &id, stmt, e.Name, e.VATNumber, e.ATECOCode, e.ATECOVersion, e.Size, e.Employees, e.L68Obligation,
		e.MunicipalityISTAT, e.Address, tenantID, userID)
	return id, translate(err, employerConstraints)
}

func updateEmployer(ctx context.Context, tx *sqlx.Tx, e Employer, version int) error {
	const stmt = `
UPDATE employers SET name = $3, vat_number = $4, ateco_code = $5, ateco_version = $6, size = $7, employees = $8,
	l68_obligation = $9, municipality_istat = $10, address = $11, version = version + 1, updated_at = now()
WHERE id = $1 AND version = $2`
	res, err := tx.ExecContext(ctx, stmt, e.ID, version, e.Name, e.VATNumber, e.ATECOCode, e.ATECOVersion, e.Size, e.Employees,
		e.L68Obligation, e.MunicipalityISTAT, e.Address)
	if err != nil {
		return translate(err, employerConstraints)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.Conflict, "the employer changed after version %d: reload it and apply your change again", version)
	}
	return nil
}

// searchEmployers lists employers by name, after the keyset position
// (lower(name), id), matching q (a name fragment or the start of a VAT
// number).
func searchEmployers(ctx context.Context, q sqlx.QueryerContext, query string, after [2]string, limit int) ([]employerRow, error) {
	args := []any{}
	where := "TRUE"
	add := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if query != "" {
		like := "%" + likeEscape(query) + "%"
		where += ` AND (lower(e.name) LIKE lower(` + add(like) + `) OR e.vat_number LIKE ` + add(likeEscape(digitsOf(query))+"%") + `)`
	}
	if after[1] != "" {
		where += ` AND (lower(e.name), e.id) > (` + add(after[0]) + `, ` + add(after[1]) + `::uuid)`
	}
	stmt := employerSelect + ` WHERE ` + where + ` ORDER BY lower(e.name), e.id LIMIT ` + add(limit)
	var rows []employerRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("search employers: %w", err))
	}
	return rows, nil
}

func digitsOf(s string) string {
	b := []byte{}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	if len(b) == 0 {
		return "-" // matches no VAT number
	}
	return string(b)
}

func likeEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '%' || s[i] == '_' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func contactsOf(ctx context.Context, q sqlx.QueryerContext, employerID string) ([]Contact, error) {
	var out []Contact
	err := sqlx.SelectContext(ctx, q, &out, `
SELECT c.id, c.name, c.role, c.phone, c.email, t.slug AS created_by, c.created_at
FROM employer_contacts c JOIN tenants t ON t.id = c.created_by_tenant
WHERE c.employer_id = $1 ORDER BY c.created_at, c.id`, employerID)
	return out, postgres.Translate(err)
}

type scoutingRow struct {
	ID          string     `db:"id"`
	EmployerID  string     `db:"employer_id"`
	ContactID   *string    `db:"contact_id"`
	Tenant      string     `db:"tenant"`
	User        string     `db:"user_name"`
	ContactedOn time.Time  `db:"contacted_on"`
	Channel     string     `db:"channel"`
	Outcome     string     `db:"outcome"`
	Notes       string     `db:"notes"`
	NextStep    string     `db:"next_step"`
	NextStepOn  *time.Time `db:"next_step_on"`
	CreatedAt   time.Time  `db:"created_at"`
}

func (r scoutingRow) scouting() Scouting {
	s := Scouting{ID: r.ID, EmployerID: r.EmployerID, ContactID: r.ContactID, Tenant: r.Tenant, User: r.User,
		ContactedOn: pathways.Date{Time: r.ContactedOn}, Channel: r.Channel, Outcome: r.Outcome, Notes: r.Notes, NextStep: r.NextStep,
		CreatedAt: r.CreatedAt}
	if r.NextStepOn != nil {
		s.NextStepOn = &pathways.Date{Time: *r.NextStepOn}
	}
	return s
}

const scoutingSelect = `
SELECT s.id, s.employer_id, s.contact_id, t.slug AS tenant, coalesce(nullif(u.display_name, ''), u.email, '') AS user_name,
	s.contacted_on, s.channel, s.outcome, s.notes, s.next_step, s.next_step_on, s.created_at
FROM employer_scouting s JOIN tenants t ON t.id = s.tenant_id LEFT JOIN users u ON u.id = s.user_id`

// scoutingOf lists an employer's scouting log, newest first, after the
// keyset position (contacted_on, id).
func scoutingOf(ctx context.Context, q sqlx.QueryerContext, employerID string, after *time.Time, afterID string, limit int) ([]Scouting, error) {
	args := []any{employerID, limit}
	where := `WHERE s.employer_id = $1`
	if after != nil {
		where += ` AND (s.contacted_on, s.id) < ($3, $4::uuid)`
		args = append(args, *after, afterID)
	}
	var rows []scoutingRow
	if err := sqlx.SelectContext(ctx, q, &rows, scoutingSelect+"\n"+where+"\nORDER BY s.contacted_on DESC, s.id DESC LIMIT $2", args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("scouting log: %w", err))
	}
	out := make([]Scouting, len(rows))
	for i, r := range rows {
		out[i] = r.scouting()
	}
	return out, nil
}

type openingRow struct {
	ID                 string    `db:"id"`
	EmployerID         string    `db:"employer_id"`
	EmployerName       string    `db:"employer_name"`
	Tenant             string    `db:"tenant"`
	Role               string    `db:"role"`
	Tasks              string    `db:"tasks"`
	Kind               string    `db:"kind"`
	Minutes            int       `db:"minutes_per_week"`
	Requirements       string    `db:"requirements"`
	AccessibilityNotes string    `db:"accessibility_notes"`
	Status             string    `db:"status"`
	OpenedOn           time.Time `db:"opened_on"`
	Version            int       `db:"version"`
	CreatedAt          time.Time `db:"created_at"`
	Limits             []byte    `db:"limits"`
}

const openingSelect = `
SELECT o.id, o.employer_id, e.name AS employer_name, t.slug AS tenant, o.role, o.tasks, o.kind, o.minutes_per_week,
	o.requirements, o.accessibility_notes, o.status, o.opened_on, o.version, o.created_at,
	coalesce((SELECT json_object_agg(l.area, l.max_score) FROM opening_limits l WHERE l.opening_id = o.id), '{}') AS limits
FROM openings o JOIN employers e ON e.id = o.employer_id JOIN tenants t ON t.id = o.tenant_id`

func (r openingRow) opening() (Opening, error) {
	o := Opening{ID: r.ID, Employer: EmployerRef{ID: r.EmployerID, Name: r.EmployerName}, Tenant: r.Tenant, Role: r.Role,
		Tasks: r.Tasks, Kind: r.Kind, HoursPerWeek: pathways.Hours(r.Minutes), Requirements: r.Requirements,
		AccessibilityNotes: r.AccessibilityNotes, Status: r.Status, OpenedOn: pathways.Date{Time: r.OpenedOn}, Version: r.Version,
		CreatedAt: r.CreatedAt, MaxScores: map[string]int{}}
	if err := json.Unmarshal(r.Limits, &o.MaxScores); err != nil {
		return o, fmt.Errorf("opening limits: %w", err)
	}
	return o, nil
}

func selectOpenings(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) ([]Opening, error) {
	var rows []openingRow
	if err := sqlx.SelectContext(ctx, q, &rows, openingSelect+"\n"+where, args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("openings: %w", err))
	}
	out := make([]Opening, 0, len(rows))
	for _, r := range rows {
		o, err := r.opening()
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func openingByID(ctx context.Context, q sqlx.QueryerContext, id string) (Opening, error) {
	if !isUUID(id) {
		return Opening{}, errNoOpening
	}
	os, err := selectOpenings(ctx, q, `WHERE o.id = $1`, id)
	if err != nil {
		return Opening{}, err
	}
	if len(os) == 0 {
		return Opening{}, errNoOpening
	}
	return os[0], nil
}

func insertOpening(ctx context.Context, tx *sqlx.Tx, c checkedOpening, tenantID, userID string) (string, error) {
	const stmt = `
INSERT INTO openings (employer_id, tenant_id, user_id, role, tasks, kind, minutes_per_week, requirements, accessibility_notes, opened_on)
VALUES ($1, $2, nullif($3, '')::uuid, $4, $5, $6, $7, $8, $9, $10)
RETURNING id`
	var id string
	if err := tx.GetContext(ctx, &id, stmt, c.EmployerID, tenantID, userID, c.Role, c.Tasks, c.Kind, c.Minutes, c.Requirements,
		c.AccessibilityNotes, c.On); err != nil {
		return "", translate(err, employerConstraints)
	}
	var areas []string
	var maxes []int64
	for a, m := range c.MaxScores {
		areas, maxes = append(areas, a), append(maxes, int64(m))
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO opening_limits (opening_id, area, max_score) SELECT $1, a, m FROM unnest($2::text[], $3::int[]) AS x(a, m)`,
		id, pq.Array(areas), pq.Array(maxes))
	return id, postgres.Translate(err)
}
