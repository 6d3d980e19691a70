package conferences

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres"
)

var errNoConference = apperr.New(apperr.NotFound, "there is no conference with this id that you take part in")

type conferenceRow struct {
	ID            string     `db:"id"`
	OrganizerID   string     `db:"organizer_tenant_id"`
	Organizer     string     `db:"organizer"`
	OrganizerName string     `db:"organizer_name"`
	CreatedBy     string     `db:"created_by"`
	Title         string     `db:"title"`
	StartsAt      time.Time  `db:"starts_at"`
	EndsAt        time.Time  `db:"ends_at"`
	Location      string     `db:"location"`
	VideoURL      string     `db:"video_url"`
	Status        string     `db:"status"`
	Sequence      int        `db:"sequence"`
	Version       int        `db:"version"`
	CreatedAt     time.Time  `db:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at"`
	ClosedAt      *time.Time `db:"closed_at"`
	CancelledAt   *time.Time `db:"cancelled_at"`
	CancelReason  string     `db:"cancel_reason"`
	PersonCount   int        `db:"person_count"`
}

func (r conferenceRow) conference() Conference {
	return Conference{ID: r.ID, Organizer: r.Organizer, OrganizerID: r.OrganizerID, OrganizerName: r.OrganizerName,
		CreatedBy: r.CreatedBy, Title: r.Title, StartsAt: r.StartsAt, EndsAt: r.EndsAt, Location: r.Location,
		VideoURL: r.VideoURL, Status: r.Status, Sequence: r.Sequence, Version: r.Version, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt, ClosedAt: r.ClosedAt, CancelledAt: r.CancelledAt, CancelReason: r.CancelReason,
		PersonCount: r.PersonCount}
}

const conferenceColumns = `c.id, c.organizer_tenant_id, o.slug AS organizer, o.name AS organizer_name, c.created_by, c.title,
	c.starts_at, c.ends_at, c.location, c.video_url, c.status, c.sequence, c.version, c.created_at, c.updated_at,
	c.closed_at, c.cancelled_at, c.cancel_reason,
	(SELECT count(*) FROM conference_persons cp WHERE cp.conference_id = c.id) AS person_count`

// visibleTo is the condition that tenant $1 takes part in conference c.
const visibleTo = `(c.organizer_tenant_id = $1 OR EXISTS (SELECT 1 FROM conference_tenants ct WHERE ct.conference_id = c.id AND ct.tenant_id = $1))`

// conferenceFor reads a conference the tenant takes part in.
func conferenceFor(ctx context.Context, q sqlx.QueryerContext, tenantID, id string, forUpdate bool) (Conference, error) {
	if !isUUID(id) {
		return Conference{}, errNoConference
	}
	stmt := `SELECT ` + conferenceColumns + ` FROM conferences c JOIN tenants o ON o.id = c.organizer_tenant_id
WHERE c.id = $2 AND ` + visibleTo
	if forUpdate {
		stmt += ` FOR UPDATE OF c`
	}
	var r conferenceRow
	if err := sqlx.GetContext(ctx, q, &r, stmt, tenantID, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Conference{}, errNoConference
		}
		return Conference{}, postgres.Translate(fmt.Errorf("conference: %w", err))
	}
	return r.conference(), nil
}

// details fills the invitations, users and the persons the tenant sees.
func details(ctx context.Context, q sqlx.QueryerContext, c *Conference, tenantID string) error {
	if err := sqlx.SelectContext(ctx, q, &c.Invitations, `
SELECT t.slug, ct.tenant_id, ct.answer, ct.answered_at, ct.attendance
FROM conference_tenants ct JOIN tenants t ON t.id = ct.tenant_id
WHERE ct.conference_id = $1 ORDER BY t.slug`, c.ID); err != nil {
		return postgres.Translate(fmt.Errorf("invitations: %w", err))
	}
	if err := sqlx.SelectContext(ctx, q, &c.Users, `
SELECT cu.user_id, t.slug, u.email, u.display_name, cu.attendance
FROM conference_users cu JOIN tenants t ON t.id = cu.tenant_id JOIN users u ON u.id = cu.user_id
WHERE cu.conference_id = $1 ORDER BY t.slug, u.email`, c.ID); err != nil {
		return postgres.Translate(fmt.Errorf("invited users: %w", err))
	}
	ps, err := personsFor(ctx, q, c.ID, tenantID, c.OrganizerID == tenantID)
	if err != nil {
		return err
	}
	c.PersonIDs = ps
	if c.OrganizerID == tenantID {
		if err := sqlx.SelectContext(ctx, q, &c.Without, `
SELECT t.slug, e.person_id FROM conference_exclusions e JOIN tenants t ON t.id = e.tenant_id
WHERE e.conference_id = $1 ORDER BY t.slug, e.person_id`, c.ID); err != nil {
			return postgres.Translate(fmt.Errorf("exclusions: %w", err))
		}
	}
	return nil
}

// personsFor lists the persons discussed with the tenant (all of them for the
// organizer), in the order given.
func personsFor(ctx context.Context, q sqlx.QueryerContext, conferenceID, tenantID string, organizer bool) ([]string, error) {
	var out []string
	err := sqlx.SelectContext(ctx, q, &out, `
SELECT cp.person_id FROM conference_persons cp
WHERE cp.conference_id = $1 AND ($3 OR NOT EXISTS (SELECT 1 FROM conference_exclusions e
	WHERE e.conference_id = cp.conference_id AND e.person_id = cp.person_id AND e.tenant_id = $2))
ORDER BY cp.position`, conferenceID, tenantID, organizer)
	return out, postgres.Translate(err)
}

// listConferences lists the conferences the tenant organizes or is invited
// to, latest start first, after the cursor.
func listConferences(ctx context.Context, q sqlx.QueryerContext, tenantID string, after *cursor, limit int) ([]Conference, error) {
	args := []any{tenantID, limit}
	cond := ""
	if after != nil {
		args = append(args, after.At, after.ID)
		cond = ` AND (c.starts_at, c.id) < ($3, $4::uuid)`
	}
	stmt := `SELECT ` + conferenceColumns + ` FROM conferences c JOIN tenants o ON o.id = c.organizer_tenant_id
WHERE c.id IN (SELECT id FROM conferences WHERE organizer_tenant_id = $1
	UNION SELECT conference_id FROM conference_tenants WHERE tenant_id = $1)` + cond + `
ORDER BY c.starts_at DESC, c.id DESC LIMIT $2`
	var rows []conferenceRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("conferences: %w", err))
	}
	out := make([]Conference, len(rows))
	for i, r := range rows {
		out[i] = r.conference()
	}
	return out, nil
}

type tenantRef struct {
	ID   string `db:"id"`
	Slug string `db:"slug"`
	Kind string `db:"kind"`
}

func tenantsBySlug(ctx context.Context, q sqlx.QueryerContext, slugs []string) (map[string]tenantRef, error) {
	var rows []tenantRef
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT id, slug, kind FROM tenants WHERE slug = ANY($1)`, pq.Array(slugs)); err != nil {
		return nil, postgres.Translate(err)
	}
	out := make(map[string]tenantRef, len(rows))
	for _, r := range rows {
		out[r.Slug] = r
	}
	return out, nil
}

// memberships maps each of the users to the tenants they are active
// members of.
func memberships(ctx context.Context, q sqlx.QueryerContext, userIDs []string) (map[string][]string, error) {
	var rows []struct {
		User   string `db:"user_id"`
		Tenant string `db:"tenant_id"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `
SELECT m.user_id, m.tenant_id FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.user_id = ANY($1::uuid[]) AND m.disabled_at IS NULL AND u.disabled_at IS NULL`, pq.Array(userIDs))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.User] = append(out[r.User], r.Tenant)
	}
	return out, nil
}

type pair struct{ PersonID, TenantID string }

// missingConsent returns the (person, tenant) pairs for which no active
// consent of the person for case_conference names the tenant or its kind.
func missingConsent(ctx context.Context, q sqlx.QueryerContext, pairs []pair) ([]pair, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	ps, ts := make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		ps[i], ts[i] = p.PersonID, p.TenantID
	}
	var rows []struct {
		PersonID string `db:"person_id"`
		TenantID string `db:"tenant_id"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `
SELECT x.person_id, x.tenant_id
FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS x(person_id, tenant_id, n)
JOIN tenants t ON t.id = x.tenant_id
WHERE NOT EXISTS (SELECT 1 FROM consent_grants g
	WHERE g.person_id = x.person_id AND (g.grantee_tenant_id = t.id OR g.grantee_kind = t.kind)
	  AND g.purpose = $3 AND cardinality(g.categories) > 0 AND `+policies.ActiveGrantSQL+`)
ORDER BY x.n`, pq.Array(ps), pq.Array(ts), PurposeConference)
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("consents for the conference: %w", err))
	}
	out := make([]pair, len(rows))
	for i, r := range rows {
		out[i] = pair{r.PersonID, r.TenantID}
	}
	return out, nil
}

// personNames reads the given and family names of persons, only to keep
// them out of calendar titles (the organizer may see them: it shares them).
func personNames(ctx context.Context, q sqlx.QueryerContext, ids []string) (map[string][2]string, error) {
	var rows []struct {
		ID     string `db:"id"`
		Given  string `db:"given_name"`
		Family string `db:"family_name"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT id, given_name, family_name FROM persons WHERE id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(err)
	}
	out := make(map[string][2]string, len(rows))
	for _, r := range rows {
		out[r.ID] = [2]string{r.Given, r.Family}
	}
	return out, nil
}

// conferenceLinks lists the open conference links of a conference, of one
// tenant or ("") all.
func conferenceLinks(ctx context.Context, q sqlx.QueryerContext, conferenceID, tenantID string) ([]struct {
	PersonID string `db:"person_id"`
	LinkID   string `db:"link_id"`
}, error) {
	var out []struct {
		PersonID string `db:"person_id"`
		LinkID   string `db:"link_id"`
	}
	err := sqlx.SelectContext(ctx, q, &out, `
SELECT cl.person_id, cl.link_id FROM conference_links cl JOIN person_links l ON l.id = cl.link_id
WHERE cl.conference_id = $1 AND ($2 = '' OR cl.tenant_id::text = $2) AND l.ended_at IS NULL`, conferenceID, tenantID)
	return out, postgres.Translate(err)
}

// cursor is a position in a list.
type cursor struct {
	At time.Time
	ID string
}
