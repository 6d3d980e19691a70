package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/storage/postgres"
)

// NewMember is a request to give someone a place in a tenant: a new user, or
// an existing one (same email) added to another tenant.
type NewMember struct {
	Email       string
	DisplayName string
	Password    string // required for a new user; ignored for an existing one
	Roles       []string
}

// Member is a user as seen from one tenant.
type Member struct {
	User
	Roles              []Role
	MembershipDisabled *time.Time
}

// AddMember creates the user if the email is new and makes them a member of
// the tenant with the given roles. by is the acting user (nil from the CLI).
// It returns the member and whether a user was created.
func (s *Identity) AddMember(ctx context.Context, tenantSlug string, m NewMember, by *string) (Member, bool, error) {
	fields := apperr.Fields{}
	email, problem := NormalizeEmail(m.Email)
	if problem != "" {
		fields.Add("email", "%s", problem)
	}
	roles, problem := ParseRoles(m.Roles)
	if problem != "" {
		fields.Add("roles", "%s", problem)
	}
	if len(m.DisplayName) > 200 {
		fields.Add("display_name", "is longer than 200 characters")
	}
	if err := fields.Err(); err != nil {
		return Member{}, false, err
	}
	var out Member
	created := false
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		t, err := tenantBySlug(ctx, tx, tenantSlug)
		if err != nil {
			return err
		}
		u, err := userByEmail(ctx, tx, email)
		switch {
		case apperr.Is(err, apperr.NotFound):
			if problem := CheckPassword(m.Password, email); problem != "" {
				return &apperr.Error{Code: apperr.Invalid, Message: "the password is not acceptable", Fields: map[string]string{"password": problem}}
			}
			hash, err := HashPassword(m.Password)
			if err != nil {
				return err
			}
			id, err := insertUser(ctx, tx, email, m.DisplayName, hash)
			if err != nil {
				return err
			}
			if u, err = userByID(ctx, tx, id); err != nil {
				return err
			}
			created = true
		case err != nil:
			return err
		}
		if err := ensureMembership(ctx, tx, u.ID, t.ID); err != nil {
			return err
		}
		if err := setRoles(ctx, tx, u.ID, t.ID, roles, by); err != nil {
			return err
		}
		out = Member{User: u.user(), Roles: roles}
		return nil
	})
	if err != nil {
		return Member{}, false, err
	}
	s.rolesChanged(ctx)
	s.log.Info("member added", slog.String("tenant", tenantSlug), slog.String("user_id", out.ID), slog.Bool("created", created), slog.Any("roles", roles))
	return out, created, nil
}

// MemberChange changes a member's roles and whether their membership is
// disabled; nil fields stay as they are.
type MemberChange struct {
	Roles    *[]string
	Disabled *bool
}

// ChangeMember applies a change to a member of the tenant.
func (s *Identity) ChangeMember(ctx context.Context, tenantSlug, userID string, ch MemberChange, by *string) (Member, error) {
	var roles []Role
	if ch.Roles != nil {
		var problem string
		if roles, problem = ParseRoles(*ch.Roles); problem != "" {
			return Member{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"roles": problem}}
		}
	}
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		t, err := tenantBySlug(ctx, tx, tenantSlug)
		if err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM memberships WHERE user_id = $1 AND tenant_id = $2`, userID, t.ID); err != nil {
			return postgres.Translate(err)
		}
		if n == 0 {
			return apperr.New(apperr.NotFound, "this user is not a member of %s", tenantSlug)
		}
		if ch.Roles != nil {
			if err := setRoles(ctx, tx, userID, t.ID, roles, by); err != nil {
				return err
			}
		}
		if ch.Disabled != nil {
			const q = `UPDATE memberships SET disabled_at = CASE WHEN $3 THEN coalesce(disabled_at, now()) END WHERE user_id = $1 AND tenant_id = $2`
			if _, err := tx.ExecContext(ctx, q, userID, t.ID, *ch.Disabled); err != nil {
				return postgres.Translate(err)
			}
		}
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	s.rolesChanged(ctx)
	s.log.Info("member changed", slog.String("tenant", tenantSlug), slog.String("user_id", userID))
	return s.member(ctx, tenantSlug, userID)
}

// DisableUser disables a user everywhere: their sessions stop working at
// once, since every request checks the user.
func (s *Identity) DisableUser(ctx context.Context, email string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET disabled_at = now(), updated_at = now() WHERE lower(email) = lower($1) AND disabled_at IS NULL`, email)
	if err != nil {
		return postgres.Translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := userByEmail(ctx, s.db, email); err != nil {
			return err
		}
	}
	s.rolesChanged(ctx)
	s.log.Info("user disabled", slog.String("user_hint", hint(email)))
	return nil
}

type memberRow struct {
	userRow
	Roles              []byte     `db:"roles"`
	MembershipDisabled *time.Time `db:"membership_disabled_at"`
}

const memberSelect = `
SELECT u.id, u.email, u.display_name, u.password_hash, u.disabled_at, u.created_at,
	m.disabled_at AS membership_disabled_at,
	(SELECT coalesce(json_agg(r.role ORDER BY r.role), '[]') FROM membership_roles r
	 WHERE r.user_id = m.user_id AND r.tenant_id = m.tenant_id) AS roles
FROM memberships m JOIN users u ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id`

func (r memberRow) member() (Member, error) {
	m := Member{User: r.user(), MembershipDisabled: r.MembershipDisabled}
	var names []string
	if err := jsonUnmarshal(r.Roles, &names); err != nil {
		return m, err
	}
	for _, n := range names {
		m.Roles = append(m.Roles, Role(n))
	}
	return m, nil
}

func (s *Identity) member(ctx context.Context, tenantSlug, userID string) (Member, error) {
	var r memberRow
	if err := s.db.GetContext(ctx, &r, memberSelect+` WHERE t.slug = $1 AND u.id = $2`, tenantSlug, userID); err != nil {
		return Member{}, postgres.Translate(fmt.Errorf("member: %w", err))
	}
	return r.member()
}

// Members lists a tenant's members in email order after the email `after`.
func (s *Identity) Members(ctx context.Context, tenantSlug, after string, limit int) ([]Member, error) {
	if _, err := tenantBySlug(ctx, s.db, tenantSlug); err != nil {
		return nil, err
	}
	var rows []memberRow
	q := memberSelect + ` WHERE t.slug = $1 AND lower(u.email) > lower($2) ORDER BY lower(u.email) LIMIT $3`
	if err := s.db.SelectContext(ctx, &rows, q, tenantSlug, after, limit); err != nil {
		return nil, postgres.Translate(fmt.Errorf("members: %w", err))
	}
	out := make([]Member, len(rows))
	for i, r := range rows {
		m, err := r.member()
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}
