package referrals

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/storage/postgres"
)

type referralRow struct {
	ID               string         `db:"id"`
	PersonID         string         `db:"person_id"`
	FromTenantID     string         `db:"from_tenant_id"`
	FromTenant       string         `db:"from_tenant"`
	ToTenantID       string         `db:"to_tenant_id"`
	ToTenant         string         `db:"to_tenant"`
	CreatedBy        *string        `db:"created_by"`
	Reason           string         `db:"reason"`
	Priority         string         `db:"priority"`
	SharedCategories pq.StringArray `db:"shared_categories"`
	Note             string         `db:"note"`
	Status           string         `db:"status"`
	ReasonCode       *string        `db:"reason_code"`
	Outcome          *string        `db:"outcome"`
	Version          int            `db:"version"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
	ClosedAt         *time.Time     `db:"closed_at"`
	// list rows only
	Named      bool    `db:"named"`
	GivenName  *string `db:"given_name"`
	FamilyName *string `db:"family_name"`
}

func (r referralRow) referral() Referral {
	out := Referral{ID: r.ID, PersonID: r.PersonID, FromTenantID: r.FromTenantID, FromTenant: r.FromTenant,
		ToTenantID: r.ToTenantID, ToTenant: r.ToTenant, CreatedBy: r.CreatedBy, Reason: r.Reason, Priority: r.Priority,
		SharedCategories: r.SharedCategories, Note: r.Note, Status: Status(r.Status), ReasonCode: r.ReasonCode,
		Outcome: r.Outcome, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ClosedAt: r.ClosedAt}
	if r.Named && r.GivenName != nil && r.FamilyName != nil {
		out.Person = &PersonName{GivenName: *r.GivenName, FamilyName: *r.FamilyName}
	}
	return out
}

const referralColumns = `r.id, r.person_id, r.from_tenant_id, ft.slug AS from_tenant, r.to_tenant_id, tt.slug AS to_tenant,
	r.created_by, r.reason, r.priority, r.shared_categories, r.note, r.status, r.reason_code, r.outcome, r.version,
	r.created_at, r.updated_at, r.closed_at`

const referralFrom = `referrals r JOIN tenants ft ON ft.id = r.from_tenant_id JOIN tenants tt ON tt.id = r.to_tenant_id`

var errNoReferral = apperr.New(apperr.NotFound, "there is no referral with this id that you may see")

// referralByID reads one referral; forUpdate locks it for the rest of the
// transaction (the transitions: concurrent ones wait, then see the new
// version).
func referralByID(ctx context.Context, q sqlx.QueryerContext, id string, forUpdate bool) (Referral, error) {
	stmt := `SELECT ` + referralColumns + ` FROM ` + referralFrom + ` WHERE r.id = $1`
	if forUpdate {
		stmt += ` FOR UPDATE OF r`
	}
	var r referralRow
	if err := sqlx.GetContext(ctx, q, &r, stmt, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Referral{}, errNoReferral
		}
		return Referral{}, postgres.Translate(fmt.Errorf("referral: %w", err))
	}
	return r.referral(), nil
}

type eventRow struct {
	Version    int       `db:"version"`
	At         time.Time `db:"at"`
	Tenant     string    `db:"tenant"`
	UserID     *string   `db:"user_id"`
	UserEmail  *string   `db:"user_email"`
	FromStatus *string   `db:"from_status"`
	ToStatus   string    `db:"to_status"`
	ReasonCode *string   `db:"reason_code"`
	Outcome    *string   `db:"outcome"`
	Note       string    `db:"note"`
}

// eventsOf lists the events of a referral, oldest first.
func eventsOf(ctx context.Context, q sqlx.QueryerContext, id string) ([]Event, error) {
	const stmt = `
SELECT e.version, e.at, t.slug AS tenant, e.user_id, u.email AS user_email, e.from_status, e.to_status,
	e.reason_code, e.outcome, e.note
FROM referral_events e
JOIN tenants t ON t.id = e.tenant_id
LEFT JOIN users u ON u.id = e.user_id
WHERE e.referral_id = $1
ORDER BY e.version`
	var rows []eventRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, id); err != nil {
		return nil, postgres.Translate(fmt.Errorf("referral events: %w", err))
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{Version: r.Version, At: r.At, Tenant: r.Tenant, UserID: r.UserID, UserEmail: r.UserEmail,
			To: Status(r.ToStatus), ReasonCode: r.ReasonCode, Outcome: r.Outcome, Note: r.Note}
		if r.FromStatus != nil {
			s := Status(*r.FromStatus)
			out[i].From = &s
		}
	}
	return out, nil
}

// tenantBySlug finds a tenant's id.
func tenantBySlug(ctx context.Context, q sqlx.QueryerContext, slug string) (string, bool, error) {
	var id string
	err := sqlx.GetContext(ctx, q, &id, `SELECT id FROM tenants WHERE slug = $1`, slug)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, postgres.Translate(err)
	}
	return id, true, nil
}

// insertReferral stores a new referral in status requested. An open
// referral of the same person between the same tenants is a conflict.
func insertReferral(ctx context.Context, tx *sqlx.Tx, d Draft, fromTenantID, toTenantID, userID string) (string, error) {
	const q = `
INSERT INTO referrals (person_id, from_tenant_id, to_tenant_id, created_by, reason, priority, shared_categories, note)
VALUES ($1, $2, $3, nullif($4, '')::uuid, $5, $6, $7, $8)
RETURNING id`
	var id string
	err := tx.GetContext(ctx, &id, q, d.PersonID, fromTenantID, toTenantID, userID, d.Reason, d.Priority, pq.Array(d.SharedCategories), d.Note)
	return id, postgres.Translate(err)
}

// openReferral finds the open referral of the person between two tenants.
func openReferral(ctx context.Context, q sqlx.QueryerContext, personID, fromTenantID, toTenantID string) (string, Status, error) {
	var r struct {
		ID     string `db:"id"`
		Status string `db:"status"`
	}
	err := sqlx.GetContext(ctx, q, &r, `SELECT id, status FROM referrals WHERE person_id = $1 AND from_tenant_id = $2 AND to_tenant_id = $3
		AND status IN ('requested', 'accepted', 'in-progress', 'on-hold')`, personID, fromTenantID, toTenantID)
	if err != nil {
		return "", "", postgres.Translate(err)
	}
	return r.ID, Status(r.Status), nil
}

// eventInput is an event to record.
type eventInput struct {
	ReferralID string
	Version    int
	TenantID   string
	UserID     string
	From       *Status
	To         Status
	ReasonCode string
	Outcome    string
	Note       string
}

func insertEvent(ctx context.Context, tx *sqlx.Tx, e eventInput) error {
	const q = `
INSERT INTO referral_events (referral_id, version, tenant_id, user_id, from_status, to_status, reason_code, outcome, note)
VALUES ($1, $2, $3, nullif($4, '')::uuid, $5, $6, nullif($7, ''), nullif($8, ''), $9)`
	var from *string
	if e.From != nil {
		s := string(*e.From)
		from = &s
	}
	_, err := tx.ExecContext(ctx, q, e.ReferralID, e.Version, e.TenantID, e.UserID, from, string(e.To), e.ReasonCode, e.Outcome, e.Note)
	return postgres.Translate(err)
}

// moveReferral sets the status of the referral if it is still at version,
// and returns the new version; a stale version is a conflict.
func moveReferral(ctx context.Context, tx *sqlx.Tx, id string, version int, to Status, reasonCode, outcome string) (int, error) {
	const q = `
UPDATE referrals SET status = $3, reason_code = nullif($4, ''), outcome = nullif($5, ''),
	version = version + 1, updated_at = now(),
	closed_at = CASE WHEN $3 IN ('rejected', 'completed', 'cancelled', 'failed') THEN now() END
WHERE id = $1 AND version = $2
RETURNING version`
	var v int
	err := tx.GetContext(ctx, &v, q, id, version, string(to), reasonCode, outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, apperr.New(apperr.Conflict, "the referral changed after version %d: reload it and decide again", version)
	}
	return v, postgres.Translate(err)
}

// listParams select a page of one inbox.
type listParams struct {
	TenantID  string
	Incoming  bool
	Statuses  []Status
	OverdueAt *time.Time // only requested referrals created before this time
	AfterAt   *time.Time // keyset: created_at, id of the last item of the previous page
	AfterID   string
	Limit     int
}

// listReferrals lists one inbox of the tenant, newest first. named is the
// SQL condition (on x.person_id, with its arguments from $2) under which
// the tenant may read the person's identity: only then are names returned.
func listReferrals(ctx context.Context, q sqlx.QueryerContext, p listParams, named string, namedArgs []any) ([]Referral, error) {
	args := append([]any{p.TenantID}, namedArgs...)
	add := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{"r.to_tenant_id = $1"}
	if !p.Incoming {
		where[0] = "r.from_tenant_id = $1"
	}
	if len(p.Statuses) == 1 {
		where = append(where, "r.status = "+add(string(p.Statuses[0])))
	} else if len(p.Statuses) > 1 {
		ss := make([]string, len(p.Statuses))
		for i, s := range p.Statuses {
			ss[i] = string(s)
		}
		where = append(where, "r.status = ANY("+add(pq.Array(ss))+")")
	}
	if p.OverdueAt != nil {
		where = append(where, "r.status = 'requested' AND r.created_at < "+add(*p.OverdueAt))
	}
	if p.AfterAt != nil {
		where = append(where, "(r.created_at, r.id) < ("+add(*p.AfterAt)+", "+add(p.AfterID)+"::uuid)")
	}
	// The page first, then the identity condition on its rows only (so the
	// planner probes the links of those persons, not all the tenant's).
	stmt := `
SELECT y.*, CASE WHEN y.named THEN p.given_name END AS given_name, CASE WHEN y.named THEN p.family_name END AS family_name
FROM (
	SELECT x.*, (` + named + `) AS named
	FROM (
		SELECT ` + referralColumns + `
		FROM ` + referralFrom + `
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY r.created_at DESC, r.id DESC
		LIMIT ` + add(p.Limit) + `
	) x
) y
JOIN persons p ON p.id = y.person_id
ORDER BY y.created_at DESC, y.id DESC`
	var rows []referralRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("list referrals: %w", err))
	}
	out := make([]Referral, len(rows))
	for i, r := range rows {
		out[i] = r.referral()
	}
	return out, nil
}

// statesOf reads the status of every referral of the person.
func statesOf(ctx context.Context, q sqlx.QueryerContext, personID string) ([]referralState, error) {
	var rows []struct {
		Status    string    `db:"status"`
		UpdatedAt time.Time `db:"updated_at"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT status, updated_at FROM referrals WHERE person_id = $1`, personID); err != nil {
		return nil, postgres.Translate(fmt.Errorf("referrals of the person: %w", err))
	}
	out := make([]referralState, len(rows))
	for i, r := range rows {
		out[i] = referralState{Status: Status(r.Status), UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

// Idempotency keys.

type keyRow struct {
	Operation string `db:"operation"`
	Hash      []byte `db:"request_hash"`
	Status    int    `db:"response_status"`
	Body      []byte `db:"response_body"`
}

// claimKey records the key for this request in tx. It returns false when
// the key was used before: a concurrent request with the key waits here
// until the first one's transaction ends, then finds its row.
func claimKey(ctx context.Context, tx *sqlx.Tx, tenantID, key, operation string, hash []byte, userID string) (bool, error) {
	const q = `
INSERT INTO idempotency_keys (tenant_id, key, operation, request_hash, user_id)
VALUES ($1, $2, $3, $4, nullif($5, '')::uuid)
ON CONFLICT (tenant_id, key) DO NOTHING
RETURNING true`
	var claimed bool
	err := tx.GetContext(ctx, &claimed, q, tenantID, key, operation, hash, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return claimed, postgres.Translate(err)
}

func keyOf(ctx context.Context, q sqlx.QueryerContext, tenantID, key string) (keyRow, error) {
	var k keyRow
	err := sqlx.GetContext(ctx, q, &k, `SELECT operation, request_hash, response_status, response_body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`, tenantID, key)
	return k, postgres.Translate(err)
}

func saveKeyResponse(ctx context.Context, tx *sqlx.Tx, tenantID, key string, status int, body []byte) error {
	_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE tenant_id = $1 AND key = $2`,
		tenantID, key, status, body)
	return postgres.Translate(err)
}

// L.68 verifications.

type l68Row struct {
	ID                string     `db:"id"`
	PersonID          string     `db:"person_id"`
	Tenant            string     `db:"tenant"`
	CheckedBy         *string    `db:"checked_by"`
	CheckedByEmail    *string    `db:"checked_by_email"`
	Registered        bool       `db:"registered"`
	RegistrationDate  *time.Time `db:"registration_date"`
	InvalidityRange   *string    `db:"invalidity_range"`
	DeclarationActive bool       `db:"unemployment_declaration_active"`
	Source            string     `db:"source"`
	Note              string     `db:"note"`
	CheckedAt         time.Time  `db:"checked_at"`
	NextCheckDue      *time.Time `db:"next_check_due"`
}

func (r l68Row) check() L68Check {
	return L68Check{ID: r.ID, PersonID: r.PersonID, Tenant: r.Tenant, CheckedBy: r.CheckedBy, CheckedByEmail: r.CheckedByEmail,
		Registered: r.Registered, RegistrationDate: r.RegistrationDate, InvalidityRange: r.InvalidityRange,
		UnemploymentDeclarationActive: r.DeclarationActive, Source: r.Source, Note: r.Note, CheckedAt: r.CheckedAt,
		NextCheckDue: r.NextCheckDue}
}

const l68Select = `
SELECT c.id, c.person_id, t.slug AS tenant, c.checked_by, u.email AS checked_by_email, c.registered, c.registration_date,
	c.invalidity_range, c.unemployment_declaration_active, c.source, c.note, c.checked_at, c.next_check_due
FROM l68_checks c
JOIN tenants t ON t.id = c.tenant_id
LEFT JOIN users u ON u.id = c.checked_by`

func insertL68(ctx context.Context, tx *sqlx.Tx, personID, tenantID, userID string, c checkedL68) (L68Check, error) {
	const q = `
INSERT INTO l68_checks (person_id, tenant_id, checked_by, registered, registration_date, invalidity_range,
	unemployment_declaration_active, source, note, next_check_due)
VALUES ($1, $2, nullif($3, '')::uuid, $4, $5, $6, $7, $8, $9, $10)
RETURNING id`
	var id string
	if err := tx.GetContext(ctx, &id, q, personID, tenantID, userID, c.Registered, c.RegistrationDate, c.InvalidityRange,
		c.DeclarationActive, c.Source, c.Note, c.NextCheckDue); err != nil {
		return L68Check{}, postgres.Translate(fmt.Errorf("record L.68 check: %w", err))
	}
	var r l68Row
	if err := tx.GetContext(ctx, &r, l68Select+` WHERE c.id = $1`, id); err != nil {
		return L68Check{}, postgres.Translate(err)
	}
	return r.check(), nil
}

// listL68 lists the person's checks, newest first: all of them, or only
// those tenantID recorded (onlyTenant).
func listL68(ctx context.Context, q sqlx.QueryerContext, personID, onlyTenant string, afterAt *time.Time, afterID string, limit int) ([]L68Check, error) {
	stmt := l68Select + `
WHERE c.person_id = $1 AND ($2 = '' OR c.tenant_id = nullif($2, '')::uuid)
	AND ($3::timestamptz IS NULL OR (c.checked_at, c.id) < ($3, nullif($4, '')::uuid))
ORDER BY c.checked_at DESC, c.id DESC
LIMIT $5`
	var rows []l68Row
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, personID, onlyTenant, afterAt, afterID, limit); err != nil {
		return nil, postgres.Translate(fmt.Errorf("L.68 checks: %w", err))
	}
	out := make([]L68Check, len(rows))
	for i, r := range rows {
		out[i] = r.check()
	}
	return out, nil
}
