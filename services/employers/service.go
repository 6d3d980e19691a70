package employers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/services/pathways"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// Service keeps the employers of the network and matches openings with
// participants.
type Service struct {
	db     *sqlx.DB
	engine *policies.Engine
	paths  *pathways.Service
	now    func() time.Time
}

// NewService returns the employers service; paths gives the matching its
// candidates.
func NewService(db *sqlx.DB, engine *policies.Engine, paths *pathways.Service, now func() time.Time) *Service {
	return &Service{db: db, engine: engine, paths: paths, now: now}
}

func (s *Service) today() time.Time { return policies.Today(s.now()) }

// may checks the actor's right on the employers' records (no personal data:
// the same answer for every employer).
func (s *Service) may(a tenants.Actor, action string) error {
	if s.engine.Allowed(a, policies.CatEmployers, action) {
		return nil
	}
	if action == policies.ActWrite {
		return apperr.New(apperr.Forbidden, "your roles in %s may not change employers' records: that is for job coaches, placement officers and coordinators", a.TenantSlug)
	}
	return apperr.New(apperr.Forbidden, "your roles in %s may not read employers' records", a.TenantSlug)
}

// Create registers an employer; a VAT number already registered is a
// conflict.
func (s *Service) Create(ctx context.Context, a tenants.Actor, in Input) (Employer, error) {
	if err := s.may(a, policies.ActWrite); err != nil {
		return Employer{}, err
	}
	var e Employer
	if err := in.apply(&e, true).Err(); err != nil {
		return Employer{}, err
	}
	var out Employer
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		id, err := insertEmployer(ctx, tx, e, a.TenantID, a.UserID)
		if err != nil {
			return err
		}
		out, err = employerByID(ctx, tx, id)
		return err
	})
	return out, err
}

// Get returns an employer.
func (s *Service) Get(ctx context.Context, a tenants.Actor, id string) (Employer, error) {
	if err := s.may(a, policies.ActRead); err != nil {
		return Employer{}, err
	}
	return employerByID(ctx, s.db, id)
}

// Update changes an employer that is still at version.
func (s *Service) Update(ctx context.Context, a tenants.Actor, id string, version int, in Input) (Employer, error) {
	if err := s.may(a, policies.ActWrite); err != nil {
		return Employer{}, err
	}
	var out Employer
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		e, err := employerByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := in.apply(&e, false).Err(); err != nil {
			return err
		}
		if err := updateEmployer(ctx, tx, e, version); err != nil {
			return err
		}
		out, err = employerByID(ctx, tx, id)
		return err
	})
	return out, err
}

// List lists employers by name (a page after the cursor), matching query.
func (s *Service) List(ctx context.Context, a tenants.Actor, query, after string, limit int) ([]Employer, []string, error) {
	if err := s.may(a, policies.ActRead); err != nil {
		return nil, nil, err
	}
	var key [2]string
	if after != "" {
		name, id, ok := strings.Cut(after, "\x00")
		if !ok || !isUUID(id) {
			return nil, nil, badCursor
		}
		key = [2]string{name, id}
	}
	rows, err := searchEmployers(ctx, s.db, strings.TrimSpace(query), key, limit)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Employer, len(rows))
	keys := make([]string, len(rows))
	for i, r := range rows {
		out[i], keys[i] = r.employer(), r.SortName+"\x00"+r.ID
	}
	return out, keys, nil
}

var badCursor = &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid",
	Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}

// Contacts lists an employer's contact persons.
func (s *Service) Contacts(ctx context.Context, a tenants.Actor, employerID string) ([]Contact, error) {
	if err := s.may(a, policies.ActRead); err != nil {
		return nil, err
	}
	if _, err := employerByID(ctx, s.db, employerID); err != nil {
		return nil, err
	}
	return contactsOf(ctx, s.db, employerID)
}

// AddContact adds a contact person to an employer.
func (s *Service) AddContact(ctx context.Context, a tenants.Actor, employerID string, in ContactInput) (Contact, error) {
	if err := s.may(a, policies.ActWrite); err != nil {
		return Contact{}, err
	}
	if _, err := employerByID(ctx, s.db, employerID); err != nil {
		return Contact{}, err
	}
	c, err := in.check()
	if err != nil {
		return Contact{}, err
	}
	var out Contact
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &out, `
WITH ins AS (
	INSERT INTO employer_contacts (employer_id, name, role, phone, email, created_by_tenant)
	VALUES ($1, $2, $3, $4, $5, $6) RETURNING *
)
SELECT ins.id, ins.name, ins.role, ins.phone, ins.email, t.slug AS created_by, ins.created_at
FROM ins JOIN tenants t ON t.id = ins.created_by_tenant`, employerID, c.Name, c.Role, c.Phone, c.Email, a.TenantID)
		return translate(err, employerConstraints)
	})
	return out, err
}

// Scouting lists an employer's scouting log, newest first.
func (s *Service) Scouting(ctx context.Context, a tenants.Actor, employerID, after string, limit int) ([]Scouting, error) {
	if err := s.may(a, policies.ActRead); err != nil {
		return nil, err
	}
	if _, err := employerByID(ctx, s.db, employerID); err != nil {
		return nil, err
	}
	var at *time.Time
	var atID string
	if after != "" {
		d, id, ok := strings.Cut(after, " ")
		t, err := time.Parse(time.DateOnly, d)
		if !ok || err != nil || !isUUID(id) {
			return nil, badCursor
		}
		at, atID = &t, id
	}
	return scoutingOf(ctx, s.db, employerID, at, atID, limit)
}

// ScoutingCursor is the list position of a scouting entry.
func ScoutingCursor(x Scouting) string { return x.ContactedOn.Format(time.DateOnly) + " " + x.ID }

// AddScouting records a contact with an employer.
func (s *Service) AddScouting(ctx context.Context, a tenants.Actor, employerID string, in ScoutingInput) (Scouting, error) {
	if err := s.may(a, policies.ActWrite); err != nil {
		return Scouting{}, err
	}
	if _, err := employerByID(ctx, s.db, employerID); err != nil {
		return Scouting{}, err
	}
	c, err := in.check(s.today())
	if err != nil {
		return Scouting{}, err
	}
	var out Scouting
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if c.ContactID != "" {
			var ok bool
			if err := tx.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM employer_contacts WHERE id = $1 AND employer_id = $2)`,
				c.ContactID, employerID); err != nil {
				return postgres.Translate(err)
			}
			if !ok {
				return &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"contact_id": "is not a contact of this employer"}}
			}
		}
		var id string
		if err := tx.GetContext(ctx, &id, `
INSERT INTO employer_scouting (employer_id, contact_id, tenant_id, user_id, contacted_on, channel, outcome, notes, next_step, next_step_on)
VALUES ($1, nullif($2, '')::uuid, $3, nullif($4, '')::uuid, $5, $6, $7, $8, $9, $10) RETURNING id`,
			employerID, c.ContactID, a.TenantID, a.UserID, c.On, c.Channel, c.Outcome, c.Notes, c.NextStep, c.Next); err != nil {
			return translate(err, employerConstraints)
		}
		var r scoutingRow
		if err := tx.GetContext(ctx, &r, scoutingSelect+` WHERE s.id = $1`, id); err != nil {
			return postgres.Translate(err)
		}
		out = r.scouting()
		return nil
	})
	return out, err
}

// CreateOpening records an opening of an employer.
func (s *Service) CreateOpening(ctx context.Context, a tenants.Actor, in OpeningInput) (Opening, error) {
	if err := s.may(a, policies.ActWrite); err != nil {
		return Opening{}, err
	}
	c, err := in.check(s.today())
	if err != nil {
		return Opening{}, err
	}
	var out Opening
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		id, err := insertOpening(ctx, tx, c, a.TenantID, a.UserID)
		if err != nil {
			return err
		}
		out, err = openingByID(ctx, tx, id)
		return err
	})
	return out, err
}

// OpeningFilter selects openings.
type OpeningFilter struct {
	Status     string // "" any
	EmployerID string // "" any
	After      string // cursor
	Limit      int
}

// Openings lists openings, newest first.
func (s *Service) Openings(ctx context.Context, a tenants.Actor, f OpeningFilter) ([]Opening, error) {
	if err := s.may(a, policies.ActRead); err != nil {
		return nil, err
	}
	fields := apperr.Fields{}
	if f.Status != "" && !slices.Contains(OpeningStatuses, f.Status) {
		fields.Add("status", "must be one of %s", strings.Join(OpeningStatuses, ", "))
	}
	if f.EmployerID != "" && !isUUID(f.EmployerID) {
		fields.Add("employer", "is not the id of an employer")
	}
	if len(fields) > 0 {
		return nil, &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: fields}
	}
	args := []any{f.Status, f.EmployerID, f.Limit}
	where := `WHERE ($1 = '' OR o.status = $1) AND ($2 = '' OR o.employer_id::text = $2)`
	if f.After != "" {
		d, id, ok := strings.Cut(f.After, " ")
		t, err := time.Parse(time.DateOnly, d)
		if !ok || err != nil || !isUUID(id) {
			return nil, badCursor
		}
		where += ` AND (o.opened_on, o.id) < ($4, $5::uuid)`
		args = append(args, t, id)
	}
	return selectOpenings(ctx, s.db, where+` ORDER BY o.opened_on DESC, o.id DESC LIMIT $3`, args...)
}

// OpeningCursor is the list position of an opening.
func OpeningCursor(o Opening) string { return o.OpenedOn.Format(time.DateOnly) + " " + o.ID }

// Opening returns an opening.
func (s *Service) Opening(ctx context.Context, a tenants.Actor, id string) (Opening, error) {
	if err := s.may(a, policies.ActRead); err != nil {
		return Opening{}, err
	}
	return openingByID(ctx, s.db, id)
}

// ChangeOpening changes the status of an opening still at version.
func (s *Service) ChangeOpening(ctx context.Context, a tenants.Actor, id string, version int, in OpeningChange) (Opening, error) {
	if err := s.may(a, policies.ActWrite); err != nil {
		return Opening{}, err
	}
	if !slices.Contains(OpeningStatuses, in.Status) {
		return Opening{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid",
			Fields: map[string]string{"status": "must be one of " + strings.Join(OpeningStatuses, ", ")}}
	}
	if _, err := openingByID(ctx, s.db, id); err != nil {
		return Opening{}, err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE openings SET status = $3, version = version + 1, updated_at = now() WHERE id = $1 AND version = $2`,
		id, version, in.Status)
	if err != nil {
		return Opening{}, postgres.Translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Opening{}, apperr.New(apperr.Conflict, "the opening changed after version %d: reload it and try again", version)
	}
	return openingByID(ctx, s.db, id)
}

// Matches ranks, for an open opening, the participants whose employment
// data the actor's tenant may read (chosen inside the SQL query: a person
// the tenant may not read never appears), best first, with the reasons of
// each rank; at most limit. Each participant shown is written to the
// access log.
func (s *Service) Matches(ctx context.Context, a tenants.Actor, openingID string, limit int) (Opening, []Match, error) {
	if err := s.may(a, policies.ActRead); err != nil {
		return Opening{}, nil, err
	}
	o, err := openingByID(ctx, s.db, openingID)
	if err != nil {
		return Opening{}, nil, err
	}
	if o.Status != "open" {
		return Opening{}, nil, apperr.New(apperr.Conflict, "the opening is %s: matching is for open openings", o.Status)
	}
	cs, err := s.paths.Candidates(ctx, a)
	if err != nil {
		return Opening{}, nil, err
	}
	ms := RankAll(o, cs)
	if len(ms) > limit {
		ms = ms[:limit]
	}
	entries := make([]policies.Entry, len(ms))
	for i, m := range ms {
		cats := []string{policies.CatEmployment}
		if m.GivenName != "" || m.FamilyName != "" {
			cats = append([]string{policies.CatIdentity}, cats...)
		}
		entries[i] = policies.Entry{PersonID: m.PersonID, Action: policies.LogList, Categories: cats, Allow: true,
			Reason: fmt.Sprintf("matched with opening %s (rank %d, score %d)", o.ID, i+1, m.Score)}
	}
	if err := s.engine.LogAccess(ctx, a, httpx.RequestID(ctx), entries...); err != nil {
		return Opening{}, nil, err
	}
	return o, ms, nil
}
