package conferences

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/services/notes"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// Service organizes case conferences.
type Service struct {
	db     *sqlx.DB
	engine *policies.Engine
	now    func() time.Time
	log    *slog.Logger
}

// NewService returns the conferences service.
func NewService(db *sqlx.DB, engine *policies.Engine, now func() time.Time, log *slog.Logger) *Service {
	return &Service{db: db, engine: engine, now: now, log: log}
}

func source(id string) string { return "conference:" + id }

func (s *Service) logAccess(ctx context.Context, a tenants.Actor, entries ...policies.Entry) error {
	return s.engine.LogAccess(ctx, a, httpx.RequestID(ctx), entries...)
}

// find reads a conference the actor's tenant takes part in; for any other
// tenant it does not exist, and the refusal is logged.
func (s *Service) find(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, id string, forUpdate bool) (Conference, error) {
	c, err := conferenceFor(ctx, q, a.TenantID, id, forUpdate)
	if apperr.Is(err, apperr.NotFound) {
		if lerr := s.logAccess(ctx, a, policies.Entry{Action: policies.LogRead, Reason: "conference " + clean(truncate(id, 40)) + ": not a participant"}); lerr != nil {
			return Conference{}, lerr
		}
	}
	return c, err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// organizerOnly refuses a change by an invited tenant.
func organizerOnly(a tenants.Actor, c Conference, what string) error {
	if c.OrganizerID != a.TenantID {
		return apperr.New(apperr.Forbidden, "only the organizer (%s) may %s", c.Organizer, what)
	}
	return nil
}

func mustBeScheduled(c Conference, what string) error {
	switch c.Status {
	case StatusClosed:
		return apperr.New(apperr.Conflict, "the conference is closed: %s is no longer possible", what)
	case StatusCancelled:
		return apperr.New(apperr.Conflict, "the conference was cancelled: %s is no longer possible", what)
	}
	return nil
}

func checkVersion(c Conference, ifMatch *int) error {
	if ifMatch != nil && *ifMatch != c.Version {
		return apperr.New(apperr.Conflict, "the conference changed since version %d (now %d): reload it and try again", *ifMatch, c.Version)
	}
	return nil
}

// Create organizes a conference. See the package documentation for the
// rules on persons, consent and links.
func (s *Service) Create(ctx context.Context, a tenants.Actor, d Draft) (Conference, error) {
	sched, f := d.check()
	refs, err := tenantsBySlug(ctx, s.db, d.InvitedTenants)
	if err != nil {
		return Conference{}, err
	}
	for i, slug := range d.InvitedTenants {
		switch r, ok := refs[slug]; {
		case !ok:
			f.Add(fmt.Sprintf("invited_tenants[%d]", i), "is not a tenant of the network")
		case r.ID == a.TenantID:
			f.Add(fmt.Sprintf("invited_tenants[%d]", i), "is your own tenant, the organizer: it takes part anyway")
		}
	}
	participant := map[string]bool{a.TenantID: true}
	for _, r := range refs {
		participant[r.ID] = true
	}
	userTenant := map[string]string{}
	if len(d.InvitedUsers) > 0 && f["invited_users"] == "" {
		ms, err := memberships(ctx, s.db, d.InvitedUsers)
		if err != nil {
			return Conference{}, err
		}
		for i, u := range d.InvitedUsers {
			if !isUUID(u) {
				continue
			}
			for _, t := range ms[u] {
				if participant[t] && (userTenant[u] == "" || t == a.TenantID) {
					userTenant[u] = t
				}
			}
			if userTenant[u] == "" {
				f.Add(fmt.Sprintf("invited_users[%d]", i), "is not a member of the organizer or of an invited tenant")
			}
		}
	}
	var persons []string
	for i, p := range d.PersonIDs {
		if !isUUID(p) {
			continue
		}
		read, err := s.engine.Access(ctx, s.db, a, p, policies.ActRead, "")
		if err != nil {
			return Conference{}, err
		}
		if !read.Visible() {
			f.Add(fmt.Sprintf("person_ids[%d]", i), "there is no person with this id that you may see")
			continue
		}
		share := s.engine.Redecide(read, a, policies.ActShare)
		if len(share.Allowed()) == 0 {
			f.Add(fmt.Sprintf("person_ids[%d]", i), "your roles in %s may not share this person's data: the tenant that holds the record organizes conferences about them", a.TenantSlug)
			continue
		}
		persons = append(persons, p)
	}
	if err := s.checkTitle(ctx, f, sched.Title, persons); err != nil {
		return Conference{}, err
	}
	if err := f.Err(); err != nil {
		return Conference{}, err
	}
	excluded := map[pair]bool{}
	for _, w := range d.Without {
		excluded[pair{w.PersonID, refs[w.Tenant].ID}] = true
	}
	var pairs []pair
	for _, slug := range d.InvitedTenants {
		for _, p := range d.PersonIDs {
			if pp := (pair{p, refs[slug].ID}); !excluded[pp] {
				pairs = append(pairs, pp)
			}
		}
	}
	missing, err := missingConsent(ctx, s.db, pairs)
	if err != nil {
		return Conference{}, err
	}
	if len(missing) > 0 {
		return Conference{}, consentError(missing, refs, d.InvitedTenants)
	}

	var id string
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		const ins = `
INSERT INTO conferences (organizer_tenant_id, created_by, title, starts_at, ends_at, location, video_url)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
		if err := tx.GetContext(ctx, &id, ins, a.TenantID, a.UserID, sched.Title, sched.StartsAt, sched.EndsAt, sched.Location, sched.VideoURL); err != nil {
			return postgres.Translate(err)
		}
		ids := make([]string, len(d.InvitedTenants))
		for i, slug := range d.InvitedTenants {
			ids[i] = refs[slug].ID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conference_tenants (conference_id, tenant_id) SELECT $1, unnest($2::uuid[])`, id, pq.Array(ids)); err != nil {
			return postgres.Translate(err)
		}
		us, uts := make([]string, 0, len(userTenant)), make([]string, 0, len(userTenant))
		for _, u := range d.InvitedUsers {
			us, uts = append(us, u), append(uts, userTenant[u])
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conference_users (conference_id, user_id, tenant_id) SELECT $1, u, t FROM unnest($2::uuid[], $3::uuid[]) AS x(u, t)`,
			id, pq.Array(us), pq.Array(uts)); err != nil {
			return postgres.Translate(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conference_persons (conference_id, person_id, position) SELECT $1, p, n FROM unnest($2::uuid[]) WITH ORDINALITY AS x(p, n)`,
			id, pq.Array(d.PersonIDs)); err != nil {
			return postgres.Translate(err)
		}
		for _, w := range d.Without {
			if _, err := tx.ExecContext(ctx, `INSERT INTO conference_exclusions (conference_id, person_id, tenant_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				id, w.PersonID, refs[w.Tenant].ID); err != nil {
				return postgres.Translate(err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conference_minutes (conference_id) VALUES ($1)`, id); err != nil {
			return postgres.Translate(err)
		}
		for _, p := range pairs {
			if err := addLink(ctx, tx, id, p, a.UserID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Conference{}, err
	}
	entries := make([]policies.Entry, len(d.PersonIDs))
	for i, p := range d.PersonIDs {
		var with []string
		for _, slug := range d.InvitedTenants {
			if !excluded[pair{p, refs[slug].ID}] {
				with = append(with, slug)
			}
		}
		entries[i] = policies.Entry{PersonID: p, Action: policies.LogWrite, Categories: []string{policies.CatIdentity, policies.CatStatus},
			Purpose: PurposeConference, Allow: true, Reason: fmt.Sprintf("discussed in conference %s with %s", id, strings.Join(with, ", "))}
	}
	if err := s.logAccess(ctx, a, entries...); err != nil {
		return Conference{}, err
	}
	return s.view(ctx, a, id)
}

func addLink(ctx context.Context, tx *sqlx.Tx, conferenceID string, p pair, userID string) error {
	linkID, err := policies.AddLink(ctx, tx, policies.LinkInput{PersonID: p.PersonID, TenantID: p.TenantID, Kind: policies.LinkConference,
		Source: source(conferenceID), CreatedBy: &userID})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO conference_links (conference_id, person_id, tenant_id, link_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		conferenceID, p.PersonID, p.TenantID, linkID)
	return postgres.Translate(err)
}

// consentError says whose consent is missing for which tenant, by person id
// only.
func consentError(missing []pair, refs map[string]tenantRef, order []string) error {
	slugOf := map[string]string{}
	for slug, r := range refs {
		slugOf[r.ID] = slug
	}
	by := map[string][]string{}
	var msgs []string
	for _, m := range missing {
		slug := slugOf[m.TenantID]
		by[slug] = append(by[slug], m.PersonID)
		msgs = append(msgs, fmt.Sprintf("person %s has no active consent for %s that covers %s", m.PersonID, PurposeConference, slug))
	}
	fields := map[string]string{}
	for i, slug := range order {
		if ps := by[slug]; len(ps) > 0 {
			fields[fmt.Sprintf("invited_tenants[%d]", i)] = fmt.Sprintf("no active consent for %s of person %s covers %s: invite it without them (\"without\")",
				PurposeConference, strings.Join(ps, ", "), slug)
		}
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the consent is missing: " + strings.Join(msgs, "; "), Fields: fields}
}

// checkTitle refuses a title that names a person discussed.
func (s *Service) checkTitle(ctx context.Context, f apperr.Fields, title string, persons []string) error {
	if f["title"] != "" || len(persons) == 0 {
		return nil
	}
	names, err := personNames(ctx, s.db, persons)
	if err != nil {
		return err
	}
	for _, p := range persons {
		n := names[p]
		if mentions(title, n[0]) || mentions(title, n[1]) {
			f.Add("title", "must not name a person discussed: the title is copied into calendars outside the platform")
			return nil
		}
	}
	return nil
}

// view reads a conference with what the actor's tenant may see of it.
func (s *Service) view(ctx context.Context, a tenants.Actor, id string) (Conference, error) {
	c, err := conferenceFor(ctx, s.db, a.TenantID, id, false)
	if err != nil {
		return Conference{}, err
	}
	if err := details(ctx, s.db, &c, a.TenantID); err != nil {
		return Conference{}, err
	}
	return c, nil
}

// Get reads a conference. Each person it shows the tenant is logged.
func (s *Service) Get(ctx context.Context, a tenants.Actor, id string) (Conference, error) {
	if _, err := s.find(ctx, s.db, a, id, false); err != nil {
		return Conference{}, err
	}
	c, err := s.view(ctx, a, id)
	if err != nil {
		return Conference{}, err
	}
	entries := make([]policies.Entry, len(c.PersonIDs))
	for i, p := range c.PersonIDs {
		entries[i] = policies.Entry{PersonID: p, Action: policies.LogRead, Purpose: PurposeConference, Allow: true,
			Reason: "discussed in conference " + c.ID}
	}
	return c, s.logAccess(ctx, a, entries...)
}

// List lists the conferences the tenant organizes or is invited to, latest
// first: no persons, only how many.
func (s *Service) List(ctx context.Context, a tenants.Actor, after *cursor, limit int) ([]Conference, error) {
	return listConferences(ctx, s.db, a.TenantID, after, limit)
}

// Change is a reschedule: the fields given change.
type Change struct {
	Title, StartsAt, EndsAt, Location, VideoURL *string
}

// Reschedule changes the when and where of a scheduled conference; the
// iCalendar SEQUENCE goes up.
func (s *Service) Reschedule(ctx context.Context, a tenants.Actor, id string, ifMatch int, ch Change) (Conference, error) {
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		c, err := s.find(ctx, tx, a, id, true)
		if err != nil {
			return err
		}
		if err := organizerOnly(a, c, "reschedule the conference"); err != nil {
			return err
		}
		if err := mustBeScheduled(c, "rescheduling"); err != nil {
			return err
		}
		if err := checkVersion(c, &ifMatch); err != nil {
			return err
		}
		or := func(p *string, cur string) string {
			if p != nil {
				return *p
			}
			return cur
		}
		f := apperr.Fields{}
		sched := checkSchedule(f, or(ch.Title, c.Title), or(ch.StartsAt, c.StartsAt.Format(time.RFC3339)), or(ch.EndsAt, c.EndsAt.Format(time.RFC3339)),
			or(ch.Location, c.Location), or(ch.VideoURL, c.VideoURL))
		persons, err := personsFor(ctx, tx, c.ID, a.TenantID, true)
		if err != nil {
			return err
		}
		if err := s.checkTitle(ctx, f, sched.Title, persons); err != nil {
			return err
		}
		if err := f.Err(); err != nil {
			return err
		}
		if sched.Title == c.Title && sched.StartsAt.Equal(c.StartsAt) && sched.EndsAt.Equal(c.EndsAt) && sched.Location == c.Location && sched.VideoURL == c.VideoURL {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE conferences SET title = $2, starts_at = $3, ends_at = $4, location = $5, video_url = $6,
	sequence = sequence + 1, version = version + 1, updated_at = now() WHERE id = $1`,
			c.ID, sched.Title, sched.StartsAt, sched.EndsAt, sched.Location, sched.VideoURL)
		return postgres.Translate(err)
	})
	if err != nil {
		return Conference{}, err
	}
	return s.view(ctx, a, id)
}

// Answer records the tenant's answer to its invitation. Declining ends its
// links to the persons; a declined invitation cannot be accepted again (the
// organizer would have to check the consents again).
func (s *Service) Answer(ctx context.Context, a tenants.Actor, id, tenantSlug, answer string) (Conference, error) {
	if answer != "accept" && answer != "decline" {
		return Conference{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"answer": "must be accept or decline"}}
	}
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		c, err := s.find(ctx, tx, a, id, true)
		if err != nil {
			return err
		}
		if tenantSlug != a.TenantSlug {
			return apperr.New(apperr.Forbidden, "you act for %s: you may answer only its invitation", a.TenantSlug)
		}
		if c.OrganizerID == a.TenantID {
			return apperr.New(apperr.Conflict, "%s organizes the conference: it is not invited", a.TenantSlug)
		}
		if err := mustBeScheduled(c, "answering"); err != nil {
			return err
		}
		var cur string
		if err := tx.GetContext(ctx, &cur, `SELECT answer FROM conference_tenants WHERE conference_id = $1 AND tenant_id = $2 FOR UPDATE`, c.ID, a.TenantID); err != nil {
			return postgres.Translate(err)
		}
		next := AnswerAccepted
		if answer == "decline" {
			next = AnswerDeclined
		}
		switch {
		case cur == next:
			return nil
		case cur == AnswerDeclined:
			return apperr.New(apperr.Conflict, "the invitation was declined: ask the organizer (%s) to invite you again", c.Organizer)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conference_tenants SET answer = $3, answered_at = now(), answered_by = $4
WHERE conference_id = $1 AND tenant_id = $2`, c.ID, a.TenantID, next, a.UserID); err != nil {
			return postgres.Translate(err)
		}
		if next == AnswerDeclined {
			links, err := conferenceLinks(ctx, tx, c.ID, a.TenantID)
			if err != nil {
				return err
			}
			for _, l := range links {
				if err := policies.EndLink(ctx, tx, l.PersonID, l.LinkID, "conference invitation declined"); err != nil && !apperr.Is(err, apperr.NotFound) {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Conference{}, err
	}
	return s.view(ctx, a, id)
}

// Attendance is who was there: by invited tenant slug and by invited user.
type Attendance struct {
	Tenants map[string]string
	Users   map[string]string
}

// SetAttendance records attendance (organizer, until the conference is
// closed).
func (s *Service) SetAttendance(ctx context.Context, a tenants.Actor, id string, ifMatch *int, at Attendance) (Conference, error) {
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		c, err := s.find(ctx, tx, a, id, true)
		if err != nil {
			return err
		}
		if err := organizerOnly(a, c, "record attendance"); err != nil {
			return err
		}
		if err := mustBeScheduled(c, "recording attendance"); err != nil {
			return err
		}
		if err := checkVersion(c, ifMatch); err != nil {
			return err
		}
		if err := details(ctx, tx, &c, a.TenantID); err != nil {
			return err
		}
		f := apperr.Fields{}
		valid := func(v string) bool { return v == AttendancePresent || v == AttendanceAbsent || v == AttendanceUnknown }
		for slug, v := range at.Tenants {
			if !slices.ContainsFunc(c.Invitations, func(i Invitation) bool { return i.Tenant == slug }) {
				f.Add("tenants."+slug, "is not an invited tenant")
			} else if !valid(v) {
				f.Add("tenants."+slug, "must be present, absent or unknown")
			}
		}
		for u, v := range at.Users {
			if !slices.ContainsFunc(c.Users, func(i InvitedUser) bool { return i.UserID == u }) {
				f.Add("users."+u, "is not an invited user")
			} else if !valid(v) {
				f.Add("users."+u, "must be present, absent or unknown")
			}
		}
		if len(at.Tenants)+len(at.Users) == 0 {
			f.Add("tenants", "say who was present or absent")
		}
		if err := f.Err(); err != nil {
			return err
		}
		for slug, v := range at.Tenants {
			if _, err := tx.ExecContext(ctx, `UPDATE conference_tenants SET attendance = $3 WHERE conference_id = $1
	AND tenant_id = (SELECT id FROM tenants WHERE slug = $2)`, c.ID, slug, v); err != nil {
				return postgres.Translate(err)
			}
		}
		for u, v := range at.Users {
			if _, err := tx.ExecContext(ctx, `UPDATE conference_users SET attendance = $3 WHERE conference_id = $1 AND user_id = $2`, c.ID, u, v); err != nil {
				return postgres.Translate(err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE conferences SET version = version + 1, updated_at = now() WHERE id = $1`, c.ID)
		return postgres.Translate(err)
	})
	if err != nil {
		return Conference{}, err
	}
	return s.view(ctx, a, id)
}

// Close closes a conference: the minutes freeze and every conference link
// it made ends.
func (s *Service) Close(ctx context.Context, a tenants.Actor, id string, ifMatch *int) (Conference, error) {
	return s.end(ctx, a, id, ifMatch, StatusClosed, "")
}

// Cancel cancels a scheduled conference: its links end and calendars get a
// CANCEL with a higher SEQUENCE.
func (s *Service) Cancel(ctx context.Context, a tenants.Actor, id string, ifMatch *int, reason string) (Conference, error) {
	if len([]rune(reason)) > MaxReason {
		return Conference{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"reason": fmt.Sprintf("must be at most %d characters", MaxReason)}}
	}
	return s.end(ctx, a, id, ifMatch, StatusCancelled, strings.TrimSpace(reason))
}

func (s *Service) end(ctx context.Context, a tenants.Actor, id string, ifMatch *int, status, reason string) (Conference, error) {
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		c, err := s.find(ctx, tx, a, id, true)
		if err != nil {
			return err
		}
		what := "close the conference"
		if status == StatusCancelled {
			what = "cancel the conference"
		}
		if err := organizerOnly(a, c, what); err != nil {
			return err
		}
		if err := mustBeScheduled(c, strings.TrimSuffix(what, " the conference")+"ing"); err != nil {
			return err
		}
		if err := checkVersion(c, ifMatch); err != nil {
			return err
		}
		stmt := `UPDATE conferences SET status = 'closed', closed_at = now(), version = version + 1, updated_at = now() WHERE id = $1`
		args := []any{c.ID}
		if status == StatusCancelled {
			stmt = `UPDATE conferences SET status = 'cancelled', cancelled_at = now(), cancel_reason = $2, sequence = sequence + 1,
	version = version + 1, updated_at = now() WHERE id = $1`
			args = append(args, reason)
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return postgres.Translate(err)
		}
		persons, err := personsFor(ctx, tx, c.ID, a.TenantID, true)
		if err != nil {
			return err
		}
		for _, p := range persons {
			if _, err := policies.EndLinks(ctx, tx, p, source(c.ID), policies.LinkConference, "conference "+status); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Conference{}, err
	}
	return s.view(ctx, a, id)
}

// Discusses reports whether the conference, in which the tenant takes part
// (organizer, or invited and not declined), discusses the person with it.
// The notes service asks it for a note's conference_id.
func (s *Service) Discusses(ctx context.Context, tenantID, conferenceID, personID string) (bool, error) {
	if !isUUID(conferenceID) || !isUUID(personID) {
		return false, nil
	}
	var ok bool
	err := s.db.GetContext(ctx, &ok, `
SELECT EXISTS (SELECT 1 FROM conferences c JOIN conference_persons cp ON cp.conference_id = c.id AND cp.person_id = $3
WHERE c.id = $2
  AND (c.organizer_tenant_id = $1 OR EXISTS (SELECT 1 FROM conference_tenants ct
	WHERE ct.conference_id = c.id AND ct.tenant_id = $1 AND ct.answer <> 'declined'))
  AND NOT EXISTS (SELECT 1 FROM conference_exclusions e WHERE e.conference_id = c.id AND e.person_id = $3 AND e.tenant_id = $1))`,
		tenantID, conferenceID, personID)
	return ok, postgres.Translate(err)
}

// decisionAccess decides which categories of each person the tenant may
// read, for the decisions of the minutes (as notes decide).
func (s *Service) decisionAccess(ctx context.Context, a tenants.Actor, persons []string) (map[string]notes.Access, error) {
	out := make(map[string]notes.Access, len(persons))
	for _, p := range persons {
		acc, err := notes.Decide(ctx, s.db, s.engine, a, p, policies.ActRead)
		if err != nil {
			return nil, err
		}
		out[p] = acc
	}
	return out, nil
}
