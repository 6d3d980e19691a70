package conferences

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// Minutes are the verbale of a conference as one tenant sees it.
type Minutes struct {
	ConferenceID string
	Status       string // the conference's
	Text         string
	Version      int
	UpdatedAt    time.Time
	UpdatedBy    *string
	Decisions    []Decision
	Items        []ActionItem
	Amendments   []Amendment
	// Withheld counts the decisions not shown: about categories of persons
	// the tenant may not read.
	Withheld int
}

// Decision is what the conference decided about one person.
type Decision struct {
	ID          string  `db:"id"`
	PersonID    string  `db:"person_id"`
	Category    string  `db:"category"`
	Decision    string  `db:"decision"`
	AmendmentID *string `db:"amendment_id"`
}

// ActionItem is a task the conference assigned.
type ActionItem struct {
	ID              string     `db:"id"`
	ConferenceID    string     `db:"conference_id"`
	ConferenceTitle string     `db:"conference_title"`
	AmendmentID     *string    `db:"amendment_id"`
	What            string     `db:"what"`
	AssigneeTenant  string     `db:"assignee_tenant"`
	AssigneeUserID  *string    `db:"assignee_user_id"`
	DueDate         *time.Time `db:"due_date"`
	Status          string     `db:"status"`
	Version         int        `db:"version"`
	Overdue         bool       `db:"overdue"`
}

// Amendment is a change of the minutes after the conference closed.
type Amendment struct {
	ID        string    `db:"id"`
	Text      string    `db:"text"`
	CreatedBy string    `db:"created_by"`
	CreatedAt time.Time `db:"created_at"`
}

const itemColumns = `i.id, i.conference_id, c.title AS conference_title, i.amendment_id, i.what, t.slug AS assignee_tenant,
	i.assignee_user_id, i.due_date, i.status, i.version, (i.status = 'open' AND i.due_date < ` + policies.TodaySQL + `) AS overdue`

// mayReadMinutes: the organizer and invited tenants that did not decline.
func mayReadMinutes(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, c Conference) error {
	if c.OrganizerID == a.TenantID {
		return nil
	}
	var answer string
	if err := sqlx.GetContext(ctx, q, &answer, `SELECT answer FROM conference_tenants WHERE conference_id = $1 AND tenant_id = $2`, c.ID, a.TenantID); err != nil {
		return postgres.Translate(err)
	}
	if answer == AnswerDeclined {
		return apperr.New(apperr.Forbidden, "%s declined the invitation: the minutes are for the participants", a.TenantSlug)
	}
	return nil
}

// Minutes reads the minutes: the decisions the tenant may read, each logged
// (one entry per person).
func (s *Service) Minutes(ctx context.Context, a tenants.Actor, id string) (Minutes, error) {
	c, err := s.find(ctx, s.db, a, id, false)
	if err != nil {
		return Minutes{}, err
	}
	if err := mayReadMinutes(ctx, s.db, a, c); err != nil {
		return Minutes{}, err
	}
	m, err := s.minutes(ctx, a, c)
	if err != nil {
		return Minutes{}, err
	}
	var order []string
	cats := map[string][]string{}
	for _, d := range m.Decisions {
		if !slices.Contains(order, d.PersonID) {
			order = append(order, d.PersonID)
		}
		if !slices.Contains(cats[d.PersonID], d.Category) {
			cats[d.PersonID] = append(cats[d.PersonID], d.Category)
		}
	}
	entries := make([]policies.Entry, len(order))
	for i, p := range order {
		entries[i] = policies.Entry{PersonID: p, Action: policies.LogRead, Categories: cats[p], Purpose: PurposeConference, Allow: true,
			Reason: "decisions in the minutes of conference " + c.ID}
	}
	return m, s.logAccess(ctx, a, entries...)
}

func (s *Service) minutes(ctx context.Context, a tenants.Actor, c Conference) (Minutes, error) {
	m := Minutes{ConferenceID: c.ID, Status: c.Status}
	var row struct {
		Text      string    `db:"text"`
		Version   int       `db:"version"`
		UpdatedAt time.Time `db:"updated_at"`
		UpdatedBy *string   `db:"updated_by"`
	}
	if err := s.db.GetContext(ctx, &row, `SELECT text, version, updated_at, updated_by FROM conference_minutes WHERE conference_id = $1`, c.ID); err != nil {
		return m, postgres.Translate(err)
	}
	m.Text, m.Version, m.UpdatedAt, m.UpdatedBy = row.Text, row.Version, row.UpdatedAt, row.UpdatedBy
	var all []Decision
	if err := s.db.SelectContext(ctx, &all, `SELECT id, person_id, category, decision, amendment_id FROM conference_decisions
WHERE conference_id = $1 ORDER BY amendment_id NULLS FIRST, position`, c.ID); err != nil {
		return m, postgres.Translate(err)
	}
	if c.OrganizerID == a.TenantID {
		m.Decisions = all
	} else {
		mine, err := personsFor(ctx, s.db, c.ID, a.TenantID, false)
		if err != nil {
			return m, err
		}
		var persons []string
		for _, d := range all {
			if slices.Contains(mine, d.PersonID) && !slices.Contains(persons, d.PersonID) {
				persons = append(persons, d.PersonID)
			}
		}
		acc, err := s.decisionAccess(ctx, a, persons)
		if err != nil {
			return m, err
		}
		for _, d := range all {
			if slices.Contains(mine, d.PersonID) && acc[d.PersonID].Allowed[d.Category] {
				m.Decisions = append(m.Decisions, d)
			} else {
				m.Withheld++
			}
		}
	}
	if err := s.db.SelectContext(ctx, &m.Items, `SELECT `+itemColumns+` FROM action_items i
JOIN conferences c ON c.id = i.conference_id JOIN tenants t ON t.id = i.assignee_tenant_id
WHERE i.conference_id = $1 ORDER BY i.amendment_id NULLS FIRST, i.position`, c.ID); err != nil {
		return m, postgres.Translate(err)
	}
	if err := s.db.SelectContext(ctx, &m.Amendments, `SELECT id, text, created_by, created_at FROM minutes_amendments
WHERE conference_id = $1 ORDER BY created_at, id`, c.ID); err != nil {
		return m, postgres.Translate(err)
	}
	return m, nil
}

// resolveItems checks the assignees of action items: a participant tenant
// (the organizer or an invited one), and optionally one of its members.
func resolveItems(ctx context.Context, q sqlx.QueryerContext, f apperr.Fields, c Conference, items []checkedItem) (map[string]string, error) {
	slugs := []string{c.Organizer}
	for _, i := range c.Invitations {
		slugs = append(slugs, i.Tenant)
	}
	refs, err := tenantsBySlug(ctx, q, slugs)
	if err != nil {
		return nil, err
	}
	var users []string
	for _, it := range items {
		if it.AssigneeUser != "" && isUUID(it.AssigneeUser) {
			users = append(users, it.AssigneeUser)
		}
	}
	ms, err := memberships(ctx, q, users)
	if err != nil {
		return nil, err
	}
	for i, it := range items {
		k := fmt.Sprintf("action_items[%d]", i)
		r, ok := refs[it.AssigneeTenant]
		if it.AssigneeTenant != "" && !ok {
			f.Add(k+".assignee_tenant", "must be the organizer or an invited tenant")
			continue
		}
		if it.AssigneeUser != "" && isUUID(it.AssigneeUser) && !slices.Contains(ms[it.AssigneeUser], r.ID) {
			f.Add(k+".assignee_user_id", "is not a member of %s", it.AssigneeTenant)
		}
	}
	out := map[string]string{}
	for slug, r := range refs {
		out[slug] = r.ID
	}
	return out, nil
}

// PutMinutes replaces the minutes if they are still at version (If-Match):
// of two concurrent edits from the same version, one wins and the other gets
// a conflict.
func (s *Service) PutMinutes(ctx context.Context, a tenants.Actor, id string, version int, d MinutesDraft) (Minutes, error) {
	c, err := s.find(ctx, s.db, a, id, false)
	if err != nil {
		return Minutes{}, err
	}
	if err := organizerOnly(a, c, "write the minutes"); err != nil {
		return Minutes{}, err
	}
	if c.Status == StatusClosed {
		return Minutes{}, apperr.New(apperr.Conflict, "the conference is closed and its minutes are frozen: add an amendment")
	}
	if err := mustBeScheduled(c, "writing the minutes"); err != nil {
		return Minutes{}, err
	}
	if err := details(ctx, s.db, &c, a.TenantID); err != nil {
		return Minutes{}, err
	}
	items, f := d.check(c.PersonIDs, false)
	tenantIDs, err := resolveItems(ctx, s.db, f, c, items)
	if err != nil {
		return Minutes{}, err
	}
	if err := f.Err(); err != nil {
		return Minutes{}, err
	}
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var st string // the conference may have closed meanwhile
		if err := tx.GetContext(ctx, &st, `SELECT status FROM conferences WHERE id = $1 FOR SHARE`, c.ID); err != nil {
			return postgres.Translate(err)
		}
		if st != StatusScheduled {
			return apperr.New(apperr.Conflict, "the conference is %s: its minutes are frozen", st)
		}
		var v int
		err := tx.GetContext(ctx, &v, `UPDATE conference_minutes SET text = $3, version = version + 1, updated_at = now(), updated_by = $4
WHERE conference_id = $1 AND version = $2 RETURNING version`, c.ID, version, d.Text, a.UserID)
		if err != nil {
			if apperr.Is(postgres.Translate(err), apperr.NotFound) {
				return apperr.New(apperr.Conflict, "the minutes were changed by someone else after version %d: reload them and apply your change again", version)
			}
			return postgres.Translate(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM conference_decisions WHERE conference_id = $1 AND amendment_id IS NULL`, c.ID); err != nil {
			return postgres.Translate(err)
		}
		if err := insertDecisions(ctx, tx, c.ID, nil, d.Decisions); err != nil {
			return err
		}
		var existing []string
		if err := tx.SelectContext(ctx, &existing, `SELECT id FROM action_items WHERE conference_id = $1 AND amendment_id IS NULL`, c.ID); err != nil {
			return postgres.Translate(err)
		}
		var kept []string
		for i, it := range items {
			if it.ID != "" {
				if !slices.Contains(existing, it.ID) {
					return &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid",
						Fields: map[string]string{fmt.Sprintf("action_items[%d].id", i): "is not an action item of these minutes"}}
				}
				kept = append(kept, it.ID)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM action_items WHERE conference_id = $1 AND amendment_id IS NULL AND NOT (id = ANY($2::uuid[]))`,
			c.ID, pq.Array(kept)); err != nil {
			return postgres.Translate(err)
		}
		return upsertItems(ctx, tx, c.ID, nil, a.UserID, items, tenantIDs)
	})
	if err != nil {
		return Minutes{}, err
	}
	return s.minutes(ctx, a, c)
}

func insertDecisions(ctx context.Context, tx *sqlx.Tx, conferenceID string, amendmentID *string, ds []DecisionDraft) error {
	for i, d := range ds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO conference_decisions (conference_id, person_id, category, decision, amendment_id, position)
VALUES ($1, $2, $3, $4, $5, $6)`, conferenceID, d.PersonID, d.Category, d.Decision, amendmentID, i); err != nil {
			return postgres.Translate(err)
		}
	}
	return nil
}

func upsertItems(ctx context.Context, tx *sqlx.Tx, conferenceID string, amendmentID *string, userID string, items []checkedItem, tenantIDs map[string]string) error {
	for i, it := range items {
		var user *string
		if it.AssigneeUser != "" {
			user = &it.AssigneeUser
		}
		var err error
		if it.ID != "" {
			_, err = tx.ExecContext(ctx, `UPDATE action_items SET what = $2, assignee_tenant_id = $3, assignee_user_id = $4, due_date = $5,
	status = $6, position = $7, version = version + 1, updated_at = now(), updated_by = $8
WHERE id = $1 AND (what, assignee_tenant_id, assignee_user_id, due_date, status, position) IS DISTINCT FROM ($2, $3::uuid, $4::uuid, $5::date, $6, $7)`,
				it.ID, it.What, tenantIDs[it.AssigneeTenant], user, it.Due, it.Status, i, userID)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO action_items (conference_id, amendment_id, what, assignee_tenant_id, assignee_user_id, due_date, status, position, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, conferenceID, amendmentID, it.What, tenantIDs[it.AssigneeTenant], user, it.Due, it.Status, i, userID)
		}
		if err != nil {
			return postgres.Translate(err)
		}
	}
	return nil
}

// AmendMinutes adds an amendment to the frozen minutes of a closed
// conference: text, decisions and new action items.
func (s *Service) AmendMinutes(ctx context.Context, a tenants.Actor, id string, d MinutesDraft) (Minutes, error) {
	c, err := s.find(ctx, s.db, a, id, false)
	if err != nil {
		return Minutes{}, err
	}
	if err := organizerOnly(a, c, "amend the minutes"); err != nil {
		return Minutes{}, err
	}
	if c.Status != StatusClosed {
		return Minutes{}, apperr.New(apperr.Conflict, "the conference is %s: amendments are for the minutes of a closed conference (change them with PUT)", c.Status)
	}
	if err := details(ctx, s.db, &c, a.TenantID); err != nil {
		return Minutes{}, err
	}
	items, f := d.check(c.PersonIDs, true)
	tenantIDs, err := resolveItems(ctx, s.db, f, c, items)
	if err != nil {
		return Minutes{}, err
	}
	if err := f.Err(); err != nil {
		return Minutes{}, err
	}
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var aid string
		if err := tx.GetContext(ctx, &aid, `INSERT INTO minutes_amendments (conference_id, text, created_by) VALUES ($1, $2, $3) RETURNING id`,
			c.ID, d.Text, a.UserID); err != nil {
			return postgres.Translate(err)
		}
		if err := insertDecisions(ctx, tx, c.ID, &aid, d.Decisions); err != nil {
			return err
		}
		return upsertItems(ctx, tx, c.ID, &aid, a.UserID, items, tenantIDs)
	})
	if err != nil {
		return Minutes{}, err
	}
	return s.minutes(ctx, a, c)
}

// ActionItems lists the open action items assigned to the acting user
// (assignee "me") or tenant ("tenant"), of conferences not cancelled, soonest
// due first, overdue flagged.
func (s *Service) ActionItems(ctx context.Context, a tenants.Actor, assignee string) ([]ActionItem, error) {
	var cond string
	switch assignee {
	case "me":
		cond = `i.assignee_tenant_id = $1 AND i.assignee_user_id = $2`
	case "tenant", "":
		cond = `i.assignee_tenant_id = $1 AND $2::uuid IS NOT NULL`
	default:
		return nil, &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: map[string]string{"assignee": "must be me or tenant"}}
	}
	var out []ActionItem
	err := s.db.SelectContext(ctx, &out, `SELECT `+itemColumns+` FROM action_items i
JOIN conferences c ON c.id = i.conference_id JOIN tenants t ON t.id = i.assignee_tenant_id
WHERE `+cond+` AND i.status = 'open' AND c.status <> 'cancelled'
ORDER BY i.due_date NULLS LAST, i.created_at, i.id
LIMIT 500`, a.TenantID, a.UserID)
	return out, postgres.Translate(err)
}

// UpdateItem changes the status of an action item: by its assignee tenant
// or the organizer, also after the conference closed (the work goes on).
func (s *Service) UpdateItem(ctx context.Context, a tenants.Actor, id string, version int, status string) (ActionItem, error) {
	if status != ItemOpen && status != ItemDone && status != ItemCancelled {
		return ActionItem{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"status": "must be open, done or cancelled"}}
	}
	notFound := apperr.New(apperr.NotFound, "there is no action item with this id that you may see")
	if !isUUID(id) {
		return ActionItem{}, notFound
	}
	var out ActionItem
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var it struct {
			ConferenceID string `db:"conference_id"`
			Assignee     string `db:"assignee_tenant_id"`
			Version      int    `db:"version"`
		}
		if err := tx.GetContext(ctx, &it, `SELECT conference_id, assignee_tenant_id, version FROM action_items WHERE id = $1 FOR UPDATE`, id); err != nil {
			if apperr.Is(postgres.Translate(err), apperr.NotFound) {
				return notFound
			}
			return postgres.Translate(err)
		}
		c, err := s.find(ctx, tx, a, it.ConferenceID, false)
		if errors.Is(err, errNoConference) {
			return notFound
		}
		if err != nil {
			return err
		}
		if it.Assignee != a.TenantID && c.OrganizerID != a.TenantID {
			return apperr.New(apperr.Forbidden, "only the assignee or the organizer (%s) may change an action item", c.Organizer)
		}
		if c.Status == StatusCancelled {
			return apperr.New(apperr.Conflict, "the conference was cancelled")
		}
		if it.Version != version {
			return apperr.New(apperr.Conflict, "the action item changed since version %d (now %d): reload it and try again", version, it.Version)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE action_items SET status = $2, version = version + 1, updated_at = now(), updated_by = $3 WHERE id = $1`,
			id, status, a.UserID); err != nil {
			return postgres.Translate(err)
		}
		return tx.GetContext(ctx, &out, `SELECT `+itemColumns+` FROM action_items i
JOIN conferences c ON c.id = i.conference_id JOIN tenants t ON t.id = i.assignee_tenant_id WHERE i.id = $1`, id)
	})
	return out, err
}
