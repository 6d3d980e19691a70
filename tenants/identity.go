package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/storage/postgres"
)

// AuthConfig are the limits of sessions and of failed logins.
type AuthConfig struct {
	SessionTTL  time.Duration // absolute lifetime of a session
	IdleTimeout time.Duration // a session unused this long ends
	// Throttling: within Window, the first FreeFailures failed logins of an
	// account (FreeFailuresAddr of a client address) cost nothing; after
	// that each attempt must wait 1 s, 2 s, 4 s ... (at most MaxDelay) after
	// the last failure. Failures older than Window are forgotten, so an
	// account is delayed, never locked for good.
	Window           time.Duration
	FreeFailures     int
	FreeFailuresAddr int
	MaxDelay         time.Duration
}

// DefaultAuth are the defaults of AuthConfig.
var DefaultAuth = AuthConfig{
	SessionTTL:       12 * time.Hour,
	IdleTimeout:      30 * time.Minute,
	Window:           15 * time.Minute,
	FreeFailures:     10,
	FreeFailuresAddr: 50,
	MaxDelay:         15 * time.Minute,
}

// Identity authenticates staff and manages their accounts, memberships and
// roles.
type Identity struct {
	db    *sqlx.DB
	stmts *postgres.Statements // the per-request session lookup
	cfg   AuthConfig
	log   *slog.Logger
	now   func() time.Time
	dummy string // hash verified for unknown emails, so they cost the same
	// rolesChanged is told after every change of roles or of a user's or
	// membership's state, so the policy engine of this instance reloads at
	// once (other instances learn it from the database's notification).
	rolesChanged func(context.Context)
}

// NewIdentity returns the identity service. now is the clock (time.Now in
// production); rolesChanged may be nil.
func NewIdentity(db *sqlx.DB, cfg AuthConfig, log *slog.Logger, now func() time.Time, rolesChanged func(context.Context)) (*Identity, error) {
	dummy, err := HashPassword("not a real password, only for timing")
	if err != nil {
		return nil, err
	}
	if rolesChanged == nil {
		rolesChanged = func(context.Context) {}
	}
	return &Identity{db: db, stmts: postgres.NewStatements(db), cfg: cfg, log: log, now: now, dummy: dummy, rolesChanged: rolesChanged}, nil
}

// Session is an authenticated session with its user and memberships.
type Session struct {
	ID          string
	UserID      string
	Email       string
	DisplayName string
	ExpiresAt   time.Time
	Memberships []Membership
}

// LoginResult is a new session and its bearer token, shown once.
type LoginResult struct {
	Token   string
	Session Session
}

var errBadCredentials = apperr.New(apperr.Unauthorized, "the email or the password is not right")

// Login checks an email and password and opens a session. An unknown email,
// a wrong password and a disabled account get the same answer after the same
// work. Failed attempts are recorded per account and client address; past
// the free attempts every further attempt, right or wrong, waits.
func (s *Identity) Login(ctx context.Context, email, password, clientAddr, userAgent string) (LoginResult, error) {
	fields := apperr.Fields{}
	if strings.TrimSpace(email) == "" {
		fields.Add("email", "is required")
	}
	if password == "" {
		fields.Add("password", "is required")
	}
	if len(password) > MaxPasswordLength {
		fields.Add("password", "is too long")
	}
	if err := fields.Err(); err != nil {
		return LoginResult{}, err
	}
	emailLower := strings.ToLower(strings.TrimSpace(email))
	now := s.now()
	counts, err := countFailures(ctx, s.db, emailLower, clientAddr, now.Add(-s.cfg.Window))
	if err != nil {
		return LoginResult{}, err
	}
	if wait := s.throttle(counts, now); wait > 0 {
		s.log.Warn("login throttled", slog.String("user_hint", hint(emailLower)), slog.String("client", clientAddr),
			slog.Int("failures_account", counts.ByEmail), slog.Int("failures_client", counts.ByAddr), slog.Duration("retry_after", wait))
		secs := int(math.Ceil(wait.Seconds()))
		return LoginResult{}, &apperr.Error{Code: apperr.Throttled,
			Message: fmt.Sprintf("too many failed logins: try again in %d seconds", secs),
			Fields:  map[string]string{"retry_after": fmt.Sprint(secs)}}
	}

	u, uerr := userByEmail(ctx, s.db, emailLower)
	hash := s.dummy
	if uerr == nil {
		hash = u.PasswordHash
	} else if !apperr.Is(uerr, apperr.NotFound) {
		return LoginResult{}, uerr
	}
	ok, verr := VerifyPassword(password, hash)
	if verr != nil {
		s.log.Error("stored password hash is not readable", slog.String("user_id", u.ID))
	}
	if uerr != nil || verr != nil || !ok || u.DisabledAt != nil {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO login_failures (email_lower, client_addr, failed_at) VALUES ($1, $2, $3)`,
			emailLower, clientAddr, now); err != nil {
			return LoginResult{}, postgres.Translate(err)
		}
		reason := "wrong password"
		switch {
		case uerr != nil:
			reason = "unknown email"
		case u.DisabledAt != nil && ok:
			reason = "disabled user"
		}
		s.log.Warn("login failed", slog.String("reason", reason), slog.String("user_id", u.ID),
			slog.String("user_hint", hint(emailLower)), slog.String("client", clientAddr),
			slog.Int("failures_account", counts.ByEmail+1))
		return LoginResult{}, errBadCredentials
	}

	token, tokenHash, err := newToken()
	if err != nil {
		return LoginResult{}, err
	}
	expires := now.Add(s.cfg.SessionTTL)
	var id string
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		const ins = `
INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, user_agent)
VALUES ($1, $2, $3, $3, $4, $5) RETURNING id`
		if err := tx.GetContext(ctx, &id, ins, tokenHash, u.ID, now, expires, truncate(userAgent, 256)); err != nil {
			return postgres.Translate(err)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE email_lower = $1`, emailLower)
		return postgres.Translate(err)
	})
	if err != nil {
		return LoginResult{}, err
	}
	ms, err := membershipsOf(ctx, s.db, u.ID)
	if err != nil {
		return LoginResult{}, err
	}
	s.log.Info("login", slog.String("user_id", u.ID), slog.String("session_id", id))
	return LoginResult{Token: token, Session: Session{ID: id, UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName, ExpiresAt: expires, Memberships: ms}}, nil
}

// throttle returns how long the next attempt must wait, or 0.
func (s *Identity) throttle(c failureCounts, now time.Time) time.Duration {
	wait := func(n, free int, last *time.Time) time.Duration {
		if n < free || last == nil {
			return 0
		}
		d := s.cfg.MaxDelay
		if exp := n - free; exp < 30 {
			d = min(time.Duration(1<<exp)*time.Second, s.cfg.MaxDelay)
		}
		return last.Add(d).Sub(now)
	}
	return max(wait(c.ByEmail, s.cfg.FreeFailures, c.LastByEmail), wait(c.ByAddr, s.cfg.FreeFailuresAddr, c.LastByAddr), 0)
}

// hint is what the log says of an email: enough for an administrator to
// recognise a known account, not the address.
func hint(emailLower string) string {
	sum := sha256.Sum256([]byte(emailLower))
	return fmt.Sprintf("%x", sum[:6])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// tokenPrefix marks ATTIVI bearer tokens, so a leaked one is recognisable.
const tokenPrefix = "atv_"

// newToken returns a bearer token of 256 random bits and the hash stored.
func newToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("token: %w", err)
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

// validTokenForm reports whether s looks like a token this server issues,
// so garbage is refused without a database round trip.
func validTokenForm(s string) bool {
	if !strings.HasPrefix(s, tokenPrefix) || len(s) != len(tokenPrefix)+43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(tokenPrefix):])
	return err == nil
}

// Authenticate returns the live session of a bearer token: not revoked, not
// expired, not idle too long, its user not disabled.
func (s *Identity) Authenticate(ctx context.Context, token string) (Session, error) {
	if !validTokenForm(token) {
		return Session{}, apperr.New(apperr.Unauthorized, "the bearer token is not valid")
	}
	h := sha256.Sum256([]byte(token))
	r, err := sessionByHash(ctx, s.stmts, s.db, h[:])
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	if !now.Before(r.ExpiresAt) {
		return Session{}, apperr.New(apperr.Unauthorized, "the session has expired: log in again")
	}
	if now.Sub(r.LastSeenAt) >= s.cfg.IdleTimeout {
		return Session{}, apperr.New(apperr.Unauthorized, "the session ended after %s without use: log in again", s.cfg.IdleTimeout)
	}
	// Record use at most once a minute: a write per request would cost more
	// than the idle timeout's precision is worth.
	if now.Sub(r.LastSeenAt) > time.Minute {
		if err := s.stmts.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, r.ID, now); err != nil {
			return Session{}, postgres.Translate(err)
		}
	}
	ms, err := decodeMemberships(r.Memberships)
	if err != nil {
		return Session{}, err
	}
	return Session{ID: r.ID, UserID: r.UserID, Email: r.Email, DisplayName: r.DisplayName, ExpiresAt: r.ExpiresAt, Memberships: ms}, nil
}

// Logout ends a session.
func (s *Identity) Logout(ctx context.Context, sessionID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, sessionID, s.now())
	return postgres.Translate(err)
}

// ActingTenant picks the membership the request acts for: the one named by
// slug (the X-Tenant header), or the only one when slug is empty. A tenant
// the user does not belong to is forbidden; with several memberships and no
// slug, no tenant is chosen (ok false).
func ActingTenant(ms []Membership, slug string) (Membership, bool, error) {
	if slug != "" {
		for _, m := range ms {
			if m.TenantSlug == slug {
				return m, true, nil
			}
		}
		return Membership{}, false, apperr.New(apperr.Forbidden, "you are not a member of the tenant %q", slug)
	}
	if len(ms) == 1 {
		return ms[0], true, nil
	}
	return Membership{}, false, nil
}
