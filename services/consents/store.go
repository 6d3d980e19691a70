package consents

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// LogCategory is what the access log records as read or written: the
// person's consent records (who may receive which of their data, for what).
const LogCategory = "consents"

// Service records, lists and revokes consents.
type Service struct {
	db     *sqlx.DB
	engine *policies.Engine
	now    func() time.Time
}

// NewService returns the consents service. now is the clock (time.Now in
// production): it says which day it is for the status of consents.
func NewService(db *sqlx.DB, engine *policies.Engine, now func() time.Time) *Service {
	return &Service{db: db, engine: engine, now: now}
}

// today is the current day in Italy: the day the access decision compares
// grants with (policies.TodaySQL).
func (s *Service) today() time.Time { return policies.Today(s.now()) }

var (
	errNoPerson  = apperr.New(apperr.NotFound, "there is no such person")
	errNoConsent = apperr.New(apperr.NotFound, "there is no such consent")
)

// isOwner reports whether write access makes the actor's tenant the one
// that records and revokes the person's consents.
func isOwner(w policies.PersonAccess) bool {
	return slices.Contains(w.Facts.Links, policies.LinkOwner) && w.Decisions[policies.CatIdentity].Allow
}

func viewerOf(a tenants.Actor, r policies.PersonAccess) Viewer {
	return Viewer{TenantID: a.TenantID, TenantSlug: a.TenantSlug, TenantKind: a.TenantKind,
		Owner: slices.Contains(r.Facts.Links, policies.LinkOwner)}
}

// hiddenReason says why the person is not visible, for the access log.
func hiddenReason(r policies.PersonAccess) string {
	if rs := r.Decisions[policies.CatIdentity].Reasons; len(rs) > 0 {
		return "the person is not visible to the tenant: " + strings.Join(rs, "; ")
	}
	return "the person is not visible to the tenant"
}

func deny(personID, action, purpose, reason string) policies.Entry {
	return policies.Entry{PersonID: personID, Action: action, Categories: []string{LogCategory}, Purpose: purpose, Reason: reason}
}

func allow(personID, action, purpose, reason string) policies.Entry {
	return policies.Entry{PersonID: personID, Action: action, Categories: []string{LogCategory}, Purpose: purpose, Allow: true, Reason: reason}
}

// log writes entries to the access log. A read that cannot be logged is not
// served.
func (s *Service) log(ctx context.Context, a tenants.Actor, entries ...policies.Entry) error {
	return s.engine.LogAccess(ctx, a, httpx.RequestID(ctx), entries...)
}

// logThen logs entries (if any) and returns err, or the logging error.
func (s *Service) logThen(ctx context.Context, a tenants.Actor, err error, entries ...policies.Entry) error {
	if lerr := s.log(ctx, a, entries...); lerr != nil {
		return lerr
	}
	return err
}

// Record records a consent of the person given to the owner of their record,
// with its grants, in one transaction.
func (s *Service) Record(ctx context.Context, a tenants.Actor, personID string, d Draft) (Consent, error) {
	if !postgres.IsUUID(personID) {
		return Consent{}, errNoPerson
	}
	var (
		out    Consent
		denied []policies.Entry
	)
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		purpose := d.Purpose
		if !slices.Contains(Purposes, purpose) {
			purpose = "" // not logged until it is valid
		}
		if denied, err = s.mustOwn(ctx, tx, a, personID, purpose, "record"); err != nil {
			return err
		}
		slugs := d.Slugs()
		known, err := tenantIDs(ctx, tx, slugs)
		if err != nil {
			return err
		}
		c, fields := d.Check(func(slug string) bool { _, ok := known[slug]; return ok })
		if err := fields.Err(); err != nil {
			return err
		}
		id, err := insertConsent(ctx, tx, personID, c, a)
		if err != nil {
			return err
		}
		g := policies.GrantInput{ConsentID: id, PersonID: personID, Purpose: c.Purpose, Categories: c.Categories,
			ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil}
		for _, gr := range c.Grantees {
			if gr.Kind != "" {
				g.GranteeKinds = append(g.GranteeKinds, string(gr.Kind))
			} else {
				g.GranteeTenantIDs = append(g.GranteeTenantIDs, known[gr.Slug])
			}
		}
		if err := policies.AddGrants(ctx, tx, g); err != nil {
			return fmt.Errorf("add grants: %w", err)
		}
		out, err = consentByID(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return Consent{}, s.logThen(ctx, a, err, denied...)
	}
	out = Viewer{TenantID: a.TenantID, Owner: true}.View(out, s.today())
	return out, s.log(ctx, a, allow(personID, policies.LogWrite, out.Purpose, "consent "+out.ID+" recorded by the owner"))
}

// mustOwn checks that the actor's tenant owns the person's record: nil
// entries and nil error when it does; otherwise 404 when the person is not
// visible to it, 403 when it is, with the denial to log.
func (s *Service) mustOwn(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, personID, purpose, what string) ([]policies.Entry, error) {
	w, err := s.engine.Access(ctx, q, a, personID, policies.ActWrite, "")
	if err != nil {
		return nil, err
	}
	if isOwner(w) {
		return nil, nil
	}
	r := s.engine.Redecide(w, a, policies.ActRead)
	if !r.Visible() {
		if !r.Facts.Exists {
			return nil, errNoPerson
		}
		return []policies.Entry{deny(personID, policies.LogWrite, purpose, hiddenReason(r))}, errNoPerson
	}
	why := fmt.Sprintf("only the owner of the person's record may %s their consents, and tenant %s is not the owner (or the user's roles there may not change the record)", what, a.TenantSlug)
	return []policies.Entry{deny(personID, policies.LogWrite, purpose, why)}, apperr.New(apperr.Forbidden, "%s", why)
}

// List returns up to limit consents of the person that the actor's tenant
// sees, newest first, after the cursor position after ("" from the newest).
func (s *Service) List(ctx context.Context, a tenants.Actor, personID, after string, limit int) ([]Consent, error) {
	if !postgres.IsUUID(personID) {
		return nil, errNoPerson
	}
	var at *time.Time
	var atID *string
	if after != "" {
		t, id, ok := parseCursor(after)
		if !ok {
			return nil, &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid",
				Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
		}
		at, atID = &t, &id
	}
	r, err := s.engine.Access(ctx, s.db, a, personID, policies.ActRead, "")
	if err != nil {
		return nil, err
	}
	if !r.Visible() {
		if !r.Facts.Exists {
			return nil, errNoPerson
		}
		return nil, s.logThen(ctx, a, errNoPerson, deny(personID, policies.LogRead, "", hiddenReason(r)))
	}
	v := viewerOf(a, r)
	cs, err := listConsents(ctx, s.db, personID, v, at, atID, limit)
	if err != nil {
		return nil, err
	}
	day := s.today()
	for i := range cs {
		cs[i] = v.View(cs[i], day)
	}
	why := fmt.Sprintf("list of consents (%d shown): those naming tenant %s or recorded by it", len(cs), a.TenantSlug)
	if v.Owner {
		why = fmt.Sprintf("list of consents (%d shown): all of them, to the owner", len(cs))
	}
	if err := s.log(ctx, a, allow(personID, policies.LogRead, "", why)); err != nil {
		return nil, err
	}
	return cs, nil
}

// Cursor is the list position of a consent (for the next page).
func Cursor(c Consent) string {
	return c.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + c.ID
}

func parseCursor(s string) (time.Time, string, bool) {
	ts, id, ok := strings.Cut(s, " ")
	if !ok || !postgres.IsUUID(id) {
		return time.Time{}, "", false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	return t, id, err == nil
}

// Get returns one consent, if the actor's tenant sees it.
func (s *Service) Get(ctx context.Context, a tenants.Actor, id string) (Consent, error) {
	if !postgres.IsUUID(id) {
		return Consent{}, errNoConsent
	}
	c, err := consentByID(ctx, s.db, id, false)
	if err != nil {
		return Consent{}, err
	}
	r, err := s.engine.Access(ctx, s.db, a, c.PersonID, policies.ActRead, "")
	if err != nil {
		return Consent{}, err
	}
	if !r.Visible() {
		return Consent{}, s.logThen(ctx, a, errNoConsent, deny(c.PersonID, policies.LogRead, c.Purpose, hiddenReason(r)))
	}
	v := viewerOf(a, r)
	if !v.Sees(c) {
		why := fmt.Sprintf("consent %s neither names tenant %s nor was recorded by it", c.ID, a.TenantSlug)
		return Consent{}, s.logThen(ctx, a, errNoConsent, deny(c.PersonID, policies.LogRead, c.Purpose, why))
	}
	if err := s.log(ctx, a, allow(c.PersonID, policies.LogRead, c.Purpose, "consent "+c.ID)); err != nil {
		return Consent{}, err
	}
	return v.View(c, s.today()), nil
}

// Revoke revokes a consent for the reason given: its grants end in the same
// transaction, so the next decision no longer counts them. ifMatch, when not
// nil, is the version the caller saw.
func (s *Service) Revoke(ctx context.Context, a tenants.Actor, id, reason string, ifMatch *int) (Consent, error) {
	if !postgres.IsUUID(id) {
		return Consent{}, errNoConsent
	}
	var (
		out    Consent
		denied []policies.Entry
	)
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		c, err := consentByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		denied, err = s.mustOwn(ctx, tx, a, c.PersonID, c.Purpose, "revoke")
		if err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return errNoConsent
			}
			if !apperr.Is(err, apperr.Forbidden) {
				return err
			}
			// Visible but not the owner: whether the consent exists for
			// the tenant decides between 403 and 404.
			r, rerr := s.engine.Access(ctx, tx, a, c.PersonID, policies.ActRead, "")
			if rerr != nil {
				return rerr
			}
			if v := viewerOf(a, r); !v.Sees(c) {
				why := fmt.Sprintf("consent %s neither names tenant %s nor was recorded by it", c.ID, a.TenantSlug)
				denied = []policies.Entry{deny(c.PersonID, policies.LogWrite, c.Purpose, why)}
				return errNoConsent
			}
			return err
		}
		reason, fields := CheckReason(reason)
		if err := fields.Err(); err != nil {
			return err
		}
		if c.RevokedAt != nil {
			return apperr.New(apperr.Conflict, "the consent was already revoked on %s", c.RevokedAt.UTC().Format(time.RFC3339))
		}
		if ifMatch != nil && *ifMatch != c.Version {
			return apperr.New(apperr.Conflict, "the consent changed since version %d (now %d): reload it and try again", *ifMatch, c.Version)
		}
		if err := revokeConsent(ctx, tx, id, a.UserID, reason); err != nil {
			return err
		}
		if err := policies.RevokeGrants(ctx, tx, id); err != nil {
			return fmt.Errorf("revoke grants: %w", err)
		}
		out, err = consentByID(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return Consent{}, s.logThen(ctx, a, err, denied...)
	}
	out = Viewer{TenantID: a.TenantID, Owner: true}.View(out, s.today())
	return out, s.log(ctx, a, allow(out.PersonID, policies.LogWrite, out.Purpose, "consent "+out.ID+" revoked by the owner"))
}

// --- SQL ---

type consentRow struct {
	ID                 string         `db:"id"`
	PersonID           string         `db:"person_id"`
	Basis              string         `db:"basis"`
	Purpose            string         `db:"purpose"`
	Grantees           pq.StringArray `db:"grantees"`
	Categories         pq.StringArray `db:"categories"`
	ValidFrom          time.Time      `db:"valid_from"`
	ValidUntil         *time.Time     `db:"valid_until"`
	RecordedByTenantID string         `db:"recorded_by_tenant"`
	RecordedBy         string         `db:"recorded_by"`
	CreatedAt          time.Time      `db:"created_at"`
	RevokedAt          *time.Time     `db:"revoked_at"`
	RevocationReason   string         `db:"revocation_reason"`
	Version            int            `db:"version"`
}

func (r consentRow) consent() Consent {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	c := Consent{ID: r.ID, PersonID: r.PersonID, Basis: r.Basis, Purpose: r.Purpose,
		Grantees: []string(r.Grantees), Categories: []string(r.Categories), ValidFrom: day(r.ValidFrom),
		RecordedBy: r.RecordedBy, RecordedByTenantID: r.RecordedByTenantID, CreatedAt: r.CreatedAt,
		RevokedAt: r.RevokedAt, RevocationReason: r.RevocationReason, Version: r.Version}
	if r.ValidUntil != nil {
		u := day(*r.ValidUntil)
		c.ValidUntil = &u
	}
	return c
}

const selectConsent = `
SELECT c.id, c.person_id, c.basis, c.purpose, c.grantees, c.categories, c.valid_from, c.valid_until,
	c.recorded_by_tenant, t.slug AS recorded_by, c.created_at, c.revoked_at, c.revocation_reason, c.version
FROM consents c JOIN tenants t ON t.id = c.recorded_by_tenant`

// consentByID reads a consent, locking it when forUpdate. The caller
// decides whether the actor may see it.
func consentByID(ctx context.Context, q sqlx.QueryerContext, id string, forUpdate bool) (Consent, error) {
	stmt := selectConsent + ` WHERE c.id = $1`
	if forUpdate {
		stmt += ` FOR UPDATE OF c`
	}
	var r consentRow
	if err := sqlx.GetContext(ctx, q, &r, stmt, id); errors.Is(err, sql.ErrNoRows) {
		return Consent{}, errNoConsent
	} else if err != nil {
		return Consent{}, postgres.Translate(fmt.Errorf("consent: %w", err))
	}
	return r.consent(), nil
}

// listConsents carries the viewer's access condition: the owner sees every
// consent of the person, another tenant those that name it (slug or kind)
// or that it recorded (Viewer.Sees is the same rule).
func listConsents(ctx context.Context, q sqlx.QueryerContext, personID string, v Viewer, at *time.Time, atID *string, limit int) ([]Consent, error) {
	const stmt = selectConsent + `
WHERE c.person_id = $1
  AND ($2 OR c.recorded_by_tenant = $3 OR EXISTS (
	SELECT 1 FROM consent_grants g
	WHERE g.consent_id = c.id AND (g.grantee_tenant_id = $3 OR g.grantee_kind = $4)))
  AND ($5::timestamptz IS NULL OR (c.created_at, c.id) < ($5::timestamptz, $6::uuid))
ORDER BY c.created_at DESC, c.id DESC
LIMIT $7`
	var rows []consentRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, personID, v.Owner, v.TenantID, string(v.TenantKind), at, atID, limit); err != nil {
		return nil, postgres.Translate(fmt.Errorf("list consents: %w", err))
	}
	out := make([]Consent, len(rows))
	for i, r := range rows {
		out[i] = r.consent()
	}
	return out, nil
}

// tenantIDs maps the slugs that are tenants to their ids.
func tenantIDs(ctx context.Context, q sqlx.QueryerContext, slugs []string) (map[string]string, error) {
	out := make(map[string]string, len(slugs))
	if len(slugs) == 0 {
		return out, nil
	}
	rows, err := q.QueryxContext(ctx, `SELECT slug, id FROM tenants WHERE slug = ANY($1)`, pq.Array(slugs))
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("grantee tenants: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var slug, id string
		if err := rows.Scan(&slug, &id); err != nil {
			return nil, postgres.Translate(err)
		}
		out[slug] = id
	}
	return out, postgres.Translate(rows.Err())
}

func insertConsent(ctx context.Context, tx *sqlx.Tx, personID string, c Checked, a tenants.Actor) (string, error) {
	const stmt = `
INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, valid_until, recorded_by_tenant, recorded_by_user)
VALUES ($1, $2, $3, $4, $5, $6::date, $7::date, $8, nullif($9, '')::uuid)
RETURNING id`
	var until *string
	if c.ValidUntil != nil {
		u := c.ValidUntil.Format(time.DateOnly)
		until = &u
	}
	var id string
	err := tx.GetContext(ctx, &id, stmt, personID, c.Basis, c.Purpose, pq.Array(c.GranteeStrings()), pq.Array(c.Categories),
		c.ValidFrom.Format(time.DateOnly), until, a.TenantID, a.UserID)
	if err != nil {
		return "", postgres.Translate(fmt.Errorf("insert consent: %w", err))
	}
	return id, nil
}

func revokeConsent(ctx context.Context, tx *sqlx.Tx, id, userID, reason string) error {
	const stmt = `
UPDATE consents SET revoked_at = now(), revoked_by = nullif($2, '')::uuid, revocation_reason = $3, version = version + 1
WHERE id = $1 AND revoked_at IS NULL`
	res, err := tx.ExecContext(ctx, stmt, id, userID, reason)
	if err != nil {
		return postgres.Translate(fmt.Errorf("revoke consent: %w", err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "the consent was already revoked")
	}
	return nil
}
