package conferences

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// FeedWindow is how far back the calendar feed goes.
const FeedWindow = 90 * 24 * time.Hour

// secretBytes is the size of a calendar feed secret: 256 bits.
const secretBytes = 32

type creator struct {
	ID    string `db:"id"`
	Email string `db:"email"`
	Name  string `db:"display_name"`
}

// event builds the calendar event of a conference: the title, the place,
// the video link, a fixed description naming the organizer, the staff
// invited by name. Nothing about the persons discussed.
func event(c Conference, org creator, users []InvitedUser, answers map[string]string, now time.Time) icsEvent {
	e := icsEvent{UID: UID(c.ID), Sequence: c.Sequence, Stamp: now, Created: c.CreatedAt, Modified: c.UpdatedAt,
		Start: c.StartsAt, End: c.EndsAt, Summary: c.Title, Location: c.Location, URL: c.VideoURL,
		Description: "Riunione di rete A.T.T.I.V.I. organizzata da " + c.OrganizerName + ". Persone discusse e verbale sulla piattaforma.",
		Status:      "CONFIRMED", Organizer: icsAddress{Name: orName(org.Name, c.OrganizerName), Email: org.Email}}
	if c.VideoURL != "" {
		e.Description += "\nCollegamento: " + c.VideoURL
	}
	if c.Status == StatusCancelled {
		e.Status = "CANCELLED"
	}
	for _, u := range users {
		ps := "NEEDS-ACTION"
		switch answers[u.Tenant] {
		case AnswerAccepted:
			ps = "ACCEPTED"
		case AnswerDeclined:
			ps = "DECLINED"
		}
		if u.Tenant == c.Organizer {
			ps = "ACCEPTED"
		}
		e.Attendees = append(e.Attendees, icsAttendee{icsAddress: icsAddress{Name: orName(u.Name, u.Email), Email: u.Email}, PartStat: ps})
	}
	return e
}

func orName(name, fallback string) string {
	if name != "" {
		return name
	}
	return fallback
}

func creatorOf(ctx context.Context, q sqlx.QueryerContext, userID string) (creator, error) {
	var c creator
	err := sqlx.GetContext(ctx, q, &c, `SELECT id, email, display_name FROM users WHERE id = $1`, userID)
	return c, postgres.Translate(err)
}

// ICS renders the conference as an iCalendar invitation: METHOD:REQUEST, or
// CANCEL once cancelled. Participants only.
func (s *Service) ICS(ctx context.Context, a tenants.Actor, id string) ([]byte, error) {
	c, err := s.find(ctx, s.db, a, id, false)
	if err != nil {
		return nil, err
	}
	if err := details(ctx, s.db, &c, a.TenantID); err != nil {
		return nil, err
	}
	org, err := creatorOf(ctx, s.db, c.CreatedBy)
	if err != nil {
		return nil, err
	}
	answers := map[string]string{}
	for _, i := range c.Invitations {
		answers[i.Tenant] = i.Answer
	}
	method := "REQUEST"
	if c.Status == StatusCancelled {
		method = "CANCEL"
	}
	return calendar(method, "", []icsEvent{event(c, org, c.Users, answers, s.now())}), nil
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewCalendarSecret makes (or replaces) the secret of the acting user's
// calendar feed and returns it: it is shown once, only its hash is kept.
func (s *Service) NewCalendarSecret(ctx context.Context, a tenants.Actor) (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("calendar secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	_, err := s.db.ExecContext(ctx, `INSERT INTO calendar_secrets (user_id, secret_hash) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, created_at = now()`, a.UserID, hashSecret(secret))
	if err != nil {
		return "", postgres.Translate(err)
	}
	return secret, nil
}

// RevokeCalendarSecret revokes the acting user's feed URL.
func (s *Service) RevokeCalendarSecret(ctx context.Context, a tenants.Actor) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM calendar_secrets WHERE user_id = $1`, a.UserID)
	if err != nil {
		return postgres.Translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "you have no calendar feed")
	}
	return nil
}

var errNoFeed = apperr.New(apperr.NotFound, "there is no calendar feed at this address")

// Feed renders the calendar of the user whose secret it is: the conferences
// they were invited to by name or organized, from FeedWindow ago on, the
// cancelled ones as cancelled. It needs no login: the secret is the key.
func (s *Service) Feed(ctx context.Context, secret string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != secretBytes {
		return nil, errNoFeed
	}
	var user creator
	err := s.db.GetContext(ctx, &user, `SELECT u.id, u.email, u.display_name FROM calendar_secrets cs JOIN users u ON u.id = cs.user_id
WHERE cs.secret_hash = $1 AND u.disabled_at IS NULL`, hashSecret(secret))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNoFeed
		}
		return nil, postgres.Translate(err)
	}
	stmt := `SELECT ` + conferenceColumns + ` FROM conferences c JOIN tenants o ON o.id = c.organizer_tenant_id
WHERE (c.created_by = $1 OR EXISTS (SELECT 1 FROM conference_users cu WHERE cu.conference_id = c.id AND cu.user_id = $1))
  AND c.ends_at > $2
ORDER BY c.starts_at, c.id
LIMIT 1000`
	var rows []conferenceRow
	if err := s.db.SelectContext(ctx, &rows, stmt, user.ID, s.now().Add(-FeedWindow)); err != nil {
		return nil, postgres.Translate(err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var users []struct {
		ConferenceID string `db:"conference_id"`
		InvitedUser
	}
	if err := s.db.SelectContext(ctx, &users, `SELECT cu.conference_id, cu.user_id, t.slug, u.email, u.display_name, cu.attendance
FROM conference_users cu JOIN tenants t ON t.id = cu.tenant_id JOIN users u ON u.id = cu.user_id
WHERE cu.conference_id = ANY($1::uuid[]) ORDER BY t.slug, u.email`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(err)
	}
	var answers []struct {
		ConferenceID string `db:"conference_id"`
		Tenant       string `db:"slug"`
		Answer       string `db:"answer"`
	}
	if err := s.db.SelectContext(ctx, &answers, `SELECT ct.conference_id, t.slug, ct.answer FROM conference_tenants ct JOIN tenants t ON t.id = ct.tenant_id
WHERE ct.conference_id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(err)
	}
	var creators []creator
	if err := s.db.SelectContext(ctx, &creators, `SELECT id, email, display_name FROM users WHERE id IN (SELECT created_by FROM conferences WHERE id = ANY($1::uuid[]))`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(err)
	}
	now := s.now()
	events := make([]icsEvent, len(rows))
	for i, r := range rows {
		c := r.conference()
		var us []InvitedUser
		for _, u := range users {
			if u.ConferenceID == c.ID {
				us = append(us, u.InvitedUser)
			}
		}
		as := map[string]string{}
		for _, an := range answers {
			if an.ConferenceID == c.ID {
				as[an.Tenant] = an.Answer
			}
		}
		var org creator
		for _, cr := range creators {
			if cr.ID == c.CreatedBy {
				org = cr
			}
		}
		events[i] = event(c, org, us, as, now)
	}
	return calendar("PUBLISH", "A.T.T.I.V.I. "+orName(user.Name, user.Email), events), nil
}
