package tenants

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
	"attivi/storage/postgres"
)

type userRow struct {
	ID           string     `db:"id"`
	Email        string     `db:"email"`
	DisplayName  string     `db:"display_name"`
	PasswordHash string     `db:"password_hash"`
	DisabledAt   *time.Time `db:"disabled_at"`
	CreatedAt    time.Time  `db:"created_at"`
}

func (r userRow) user() User {
	return User{ID: r.ID, Email: r.Email, DisplayName: r.DisplayName, DisabledAt: r.DisabledAt, CreatedAt: r.CreatedAt}
}

func userByEmail(ctx context.Context, q sqlx.QueryerContext, email string) (userRow, error) {
	const stmt = `
SELECT id, email, display_name, password_hash, disabled_at, created_at
FROM users WHERE lower(email) = lower($1)`
	var r userRow
	err := sqlx.GetContext(ctx, q, &r, stmt, email)
	if errors.Is(err, sql.ErrNoRows) {
		return r, apperr.New(apperr.NotFound, "there is no user with this email")
	}
	return r, postgres.Translate(err)
}

func userByID(ctx context.Context, q sqlx.QueryerContext, id string) (userRow, error) {
	const stmt = `
SELECT id, email, display_name, password_hash, disabled_at, created_at
FROM users WHERE id = $1`
	var r userRow
	err := sqlx.GetContext(ctx, q, &r, stmt, id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, apperr.New(apperr.NotFound, "there is no such user")
	}
	return r, postgres.Translate(err)
}

func insertUser(ctx context.Context, tx *sqlx.Tx, email, name, hash string) (string, error) {
	const stmt = `INSERT INTO users (email, display_name, password_hash) VALUES ($1, $2, $3) RETURNING id`
	var id string
	if err := tx.GetContext(ctx, &id, stmt, email, name, hash); err != nil {
		if apperr.Is(postgres.Translate(err), apperr.Conflict) {
			return "", &apperr.Error{Code: apperr.Conflict, Message: "a user with this email already exists",
				Fields: map[string]string{"email": "is already in use"}}
		}
		return "", postgres.Translate(fmt.Errorf("insert user: %w", err))
	}
	return id, nil
}

// ensureMembership makes the user a member of the tenant, re-enabling a
// disabled membership.
func ensureMembership(ctx context.Context, tx *sqlx.Tx, userID, tenantID string) error {
	const stmt = `
INSERT INTO memberships (user_id, tenant_id) VALUES ($1, $2)
ON CONFLICT (user_id, tenant_id) DO UPDATE SET disabled_at = NULL WHERE memberships.disabled_at IS NOT NULL`
	_, err := tx.ExecContext(ctx, stmt, userID, tenantID)
	return postgres.Translate(err)
}

// setRoles makes the user's roles in the tenant exactly roles.
func setRoles(ctx context.Context, tx *sqlx.Tx, userID, tenantID string, roles []Role, by *string) error {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	const del = `DELETE FROM membership_roles WHERE user_id = $1 AND tenant_id = $2 AND NOT (role = ANY($3))`
	if _, err := tx.ExecContext(ctx, del, userID, tenantID, pqArray(names)); err != nil {
		return postgres.Translate(fmt.Errorf("remove roles: %w", err))
	}
	const ins = `
INSERT INTO membership_roles (user_id, tenant_id, role, granted_by)
SELECT $1, $2, r, $4 FROM unnest($3::text[]) AS r
ON CONFLICT DO NOTHING`
	if _, err := tx.ExecContext(ctx, ins, userID, tenantID, pqArray(names), by); err != nil {
		return postgres.Translate(fmt.Errorf("grant roles: %w", err))
	}
	return nil
}

type membershipJSON struct {
	TenantID   string   `json:"tenant_id"`
	Slug       string   `json:"slug"`
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Roles      []string `json:"roles"`
	DisabledAt *string  `json:"disabled_at"`
}

func decodeMemberships(raw []byte) ([]Membership, error) {
	var ms []membershipJSON
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("decode memberships: %w", err)
	}
	out := make([]Membership, len(ms))
	for i, m := range ms {
		out[i] = Membership{TenantID: m.TenantID, TenantSlug: m.Slug, TenantName: m.Name, TenantKind: Kind(m.Kind)}
		for _, r := range m.Roles {
			out[i].Roles = append(out[i].Roles, Role(r))
		}
	}
	return out, nil
}

// membershipsSQL is the JSON array of a user's active memberships with their
// roles, for embedding in a query where u is the users row.
const membershipsSQL = `coalesce((
	SELECT json_agg(json_build_object(
		'tenant_id', t.id, 'slug', t.slug, 'name', t.name, 'kind', t.kind,
		'roles', (SELECT coalesce(array_agg(r.role ORDER BY r.role), '{}') FROM membership_roles r
		          WHERE r.user_id = m.user_id AND r.tenant_id = m.tenant_id)
	) ORDER BY t.slug)
	FROM memberships m JOIN tenants t ON t.id = m.tenant_id
	WHERE m.user_id = u.id AND m.disabled_at IS NULL
), '[]')`

func membershipsOf(ctx context.Context, q sqlx.QueryerContext, userID string) ([]Membership, error) {
	stmt := `SELECT ` + membershipsSQL + ` FROM users u WHERE u.id = $1`
	var raw []byte
	if err := sqlx.GetContext(ctx, q, &raw, stmt, userID); err != nil {
		return nil, postgres.Translate(fmt.Errorf("memberships: %w", err))
	}
	return decodeMemberships(raw)
}

type sessionRow struct {
	ID          string    `db:"id"`
	UserID      string    `db:"user_id"`
	Email       string    `db:"email"`
	DisplayName string    `db:"display_name"`
	CreatedAt   time.Time `db:"created_at"`
	LastSeenAt  time.Time `db:"last_seen_at"`
	ExpiresAt   time.Time `db:"expires_at"`
	Memberships []byte    `db:"memberships"`
}

// sessionByHash returns the live session of a token hash with its user and
// memberships in one query: a revoked session or a disabled user is
// not_found, so disabling a user ends their sessions at once.
func sessionByHash(ctx context.Context, st *postgres.Statements, db *sqlx.DB, hash []byte) (sessionRow, error) {
	stmt := `
SELECT s.id, s.user_id, u.email, u.display_name, s.created_at, s.last_seen_at, s.expires_at,
	` + membershipsSQL + ` AS memberships
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.disabled_at IS NULL`
	var r sessionRow
	err := st.Get(ctx, db, &r, stmt, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errNoSession
	}
	return r, postgres.Translate(err)
}

var errNoSession = apperr.New(apperr.Unauthorized, "the session is not valid: log in again")

type failureCounts struct {
	ByEmail     int        `db:"by_email"`
	LastByEmail *time.Time `db:"last_by_email"`
	ByAddr      int        `db:"by_addr"`
	LastByAddr  *time.Time `db:"last_by_addr"`
}

func countFailures(ctx context.Context, q sqlx.QueryerContext, emailLower, addr string, since time.Time) (failureCounts, error) {
	const stmt = `
SELECT
	count(*) FILTER (WHERE email_lower = $1) AS by_email,
	max(failed_at) FILTER (WHERE email_lower = $1) AS last_by_email,
	count(*) FILTER (WHERE client_addr = $2) AS by_addr,
	max(failed_at) FILTER (WHERE client_addr = $2) AS last_by_addr
FROM login_failures
WHERE (email_lower = $1 OR client_addr = $2) AND failed_at > $3`
	var c failureCounts
	err := sqlx.GetContext(ctx, q, &c, stmt, emailLower, addr, since)
	return c, postgres.Translate(err)
}

// pqArray passes a []string as a PostgreSQL text array.
func pqArray(s []string) any { return pq.Array(s) }

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
