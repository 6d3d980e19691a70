package pathways

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
	"attivi/tenants"
)

// staffName is how a staff member u is named: display name, or email.
const staffName = `coalesce(nullif(u.display_name, ''), u.email, '')`

func dateStrings(ds []time.Time) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Format(time.DateOnly)
	}
	return out
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isMember(ctx context.Context, q sqlx.QueryerContext, userID, tenantID string) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, q, &ok, `SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND tenant_id = $2 AND disabled_at IS NULL)`,
		userID, tenantID)
	return ok, postgres.Translate(err)
}

// fkField turns the violation of a named foreign key into a field error.
func fkField(err error, fields map[string][2]string) error {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23503" {
		if f, ok := fields[pe.Constraint]; ok {
			return &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{f[0]: f[1]}, Err: err}
		}
	}
	return postgres.Translate(err)
}

// Stages ----------------------------------------------------------------

type stageRow struct {
	Seq       int       `db:"seq"`
	Stage     string    `db:"stage"`
	EnteredOn time.Time `db:"entered_on"`
	Reason    string    `db:"reason"`
	Note      string    `db:"note"`
	Tenant    string    `db:"tenant"`
	User      string    `db:"user_name"`
	At        time.Time `db:"created_at"`
}

func stageHistory(ctx context.Context, q sqlx.QueryerContext, personID string) ([]StageEntry, error) {
	const stmt = `
SELECT s.seq, s.stage, s.entered_on, s.reason, s.note, t.slug AS tenant, ` + staffName + ` AS user_name, s.created_at
FROM pathway_stages s JOIN tenants t ON t.id = s.tenant_id LEFT JOIN users u ON u.id = s.user_id
WHERE s.person_id = $1
ORDER BY s.seq`
	var rows []stageRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, personID); err != nil {
		return nil, postgres.Translate(fmt.Errorf("stages: %w", err))
	}
	out := make([]StageEntry, len(rows))
	for i, r := range rows {
		out[i] = StageEntry{Seq: r.Seq, Stage: r.Stage, EnteredOn: Date{r.EnteredOn}, Reason: r.Reason, Note: r.Note,
			Tenant: r.Tenant, User: r.User, At: r.At}
	}
	return out, nil
}

func insertStage(ctx context.Context, tx *sqlx.Tx, personID string, seq int, in StageChange, day time.Time, a tenants.Actor) error {
	const stmt = `
INSERT INTO pathway_stages (person_id, seq, stage, entered_on, reason, note, tenant_id, user_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	_, err := tx.ExecContext(ctx, stmt, personID, seq, in.Stage, day, in.Reason, in.Note, a.TenantID, nullUUID(a.UserID))
	if err = postgres.Translate(err); apperr.Is(err, apperr.Conflict) {
		return apperr.Wrap(err, apperr.Conflict, "the path changed meanwhile: reload it and try again")
	}
	return err
}

// Assessments -------------------------------------------------------------

type assessmentRow struct {
	ID         string         `db:"id"`
	PersonID   string         `db:"person_id"`
	Tenant     string         `db:"tenant"`
	OperatorID string         `db:"operator_id"`
	Operator   string         `db:"operator_name"`
	AssessedOn time.Time      `db:"assessed_on"`
	Strengths  pq.StringArray `db:"strengths"`
	Limits     pq.StringArray `db:"limits"`
	Interests  pq.StringArray `db:"interests"`
	Synthesis  string         `db:"synthesis"`
	CreatedAt  time.Time      `db:"created_at"`
	Scores     []byte         `db:"scores"`
	Sessions   []byte         `db:"sessions"`
}

func (r assessmentRow) assessment() (Assessment, error) {
	out := Assessment{ID: r.ID, PersonID: r.PersonID, Tenant: r.Tenant, Operator: Staff{ID: r.OperatorID, Name: r.Operator},
		AssessedOn: Date{r.AssessedOn}, Strengths: nonNil(r.Strengths), Limits: nonNil(r.Limits), Interests: nonNil(r.Interests),
		Synthesis: r.Synthesis, CreatedAt: r.CreatedAt, Scores: map[string]Score{}, Sessions: []SessionOut{}}
	if err := json.Unmarshal(r.Scores, &out.Scores); err != nil {
		return out, fmt.Errorf("assessment scores: %w", err)
	}
	var ss []struct {
		HeldOn  string `json:"held_on"`
		Minutes int    `json:"minutes"`
	}
	if err := json.Unmarshal(r.Sessions, &ss); err != nil {
		return out, fmt.Errorf("assessment sessions: %w", err)
	}
	for _, s := range ss {
		d, err := time.Parse(time.DateOnly, s.HeldOn)
		if err != nil {
			return out, fmt.Errorf("assessment session date: %w", err)
		}
		out.Sessions = append(out.Sessions, SessionOut{HeldOn: Date{d}, Hours: Hours(s.Minutes)})
		out.TotalHours += Hours(s.Minutes)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const assessmentSelect = `
SELECT a.id, a.person_id, t.slug AS tenant, a.operator_id, ` + staffName + ` AS operator_name, a.assessed_on,
	a.strengths, a.limits, a.interests, a.synthesis, a.created_at,
	coalesce((SELECT json_object_agg(s.area, json_build_object('score', s.score, 'note', s.note))
		FROM assessment_scores s WHERE s.assessment_id = a.id), '{}') AS scores,
	coalesce((SELECT json_agg(json_build_object('held_on', x.held_on, 'minutes', x.minutes) ORDER BY x.held_on, x.id)
		FROM assessment_sessions x WHERE x.assessment_id = a.id), '[]') AS sessions
FROM assessments a
JOIN tenants t ON t.id = a.tenant_id
JOIN users u ON u.id = a.operator_id`

func selectAssessments(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) ([]Assessment, error) {
	var rows []assessmentRow
	if err := sqlx.SelectContext(ctx, q, &rows, assessmentSelect+"\n"+where+"\nORDER BY a.assessed_on, a.created_at", args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("assessments: %w", err))
	}
	out := make([]Assessment, 0, len(rows))
	for _, r := range rows {
		as, err := r.assessment()
		if err != nil {
			return nil, err
		}
		out = append(out, as)
	}
	return out, nil
}

func assessmentsOf(ctx context.Context, q sqlx.QueryerContext, acc access, personID string) ([]Assessment, error) {
	where, args := acc.ownOnly(`WHERE a.person_id = $1`, "a", []any{personID})
	return selectAssessments(ctx, q, where, args...)
}

func assessmentByID(ctx context.Context, q sqlx.QueryerContext, id string) (Assessment, error) {
	as, err := selectAssessments(ctx, q, `WHERE a.id = $1`, id)
	if err != nil {
		return Assessment{}, err
	}
	if len(as) == 0 {
		return Assessment{}, errNoAssessment
	}
	return as[0], nil
}

var errNoAssessment = apperr.New(apperr.NotFound, "there is no assessment with this id that you may see")

// wroteRecords reports whether the tenant wrote some record of the path
// about the person.
func wroteRecords(ctx context.Context, q sqlx.QueryerContext, tenantID, personID string) (bool, error) {
	const stmt = `
SELECT EXISTS (SELECT 1 FROM assessments WHERE person_id = $1 AND tenant_id = $2)
	OR EXISTS (SELECT 1 FROM plans WHERE person_id = $1 AND tenant_id = $2)
	OR EXISTS (SELECT 1 FROM activities WHERE person_id = $1 AND tenant_id = $2)
	OR EXISTS (SELECT 1 FROM placements WHERE person_id = $1 AND tenant_id = $2)
	OR EXISTS (SELECT 1 FROM follow_ups WHERE person_id = $1 AND tenant_id = $2)`
	var ok bool
	err := sqlx.GetContext(ctx, q, &ok, stmt, personID, tenantID)
	return ok, postgres.Translate(err)
}

// personOf returns the person a record of table belongs to ("" when there
// is no such record). table is one of this package's constant names.
func personOf(ctx context.Context, q sqlx.QueryerContext, table, id string) (string, error) {
	p, _, err := recordOf(ctx, q, table, id)
	return p, err
}

// recordOf returns the person a record of table belongs to and the tenant
// that wrote it ("" when there is no such record).
func recordOf(ctx context.Context, q sqlx.QueryerContext, table, id string) (personID, tenantID string, err error) {
	if !isUUID(id) {
		return "", "", nil
	}
	var r struct {
		Person string `db:"person_id"`
		Tenant string `db:"tenant_id"`
	}
	err = sqlx.GetContext(ctx, q, &r, `SELECT person_id, tenant_id FROM `+table+` WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return r.Person, r.Tenant, postgres.Translate(err)
}

func insertAssessment(ctx context.Context, tx *sqlx.Tx, personID, tenantID, operatorID, userID string, c checkedAssessment) (string, error) {
	const ins = `
INSERT INTO assessments (person_id, tenant_id, operator_id, assessed_on, strengths, limits, interests, synthesis, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id`
	var id string
	err := tx.GetContext(ctx, &id, ins, personID, tenantID, operatorID, c.AssessedOn, pq.Array(c.Strengths), pq.Array(c.Limits),
		pq.Array(c.Interests), c.Synthesis, nullUUID(userID))
	if err != nil {
		return "", postgres.Translate(fmt.Errorf("insert assessment: %w", err))
	}
	var areas, notes []string
	var scores []int64
	for _, a := range Areas {
		areas, scores, notes = append(areas, a), append(scores, int64(c.Scores[a].Score)), append(notes, c.Scores[a].Note)
	}
	const insScores = `
INSERT INTO assessment_scores (assessment_id, area, score, note)
SELECT $1, a, s, n FROM unnest($2::text[], $3::int[], $4::text[]) AS x(a, s, n)`
	if _, err := tx.ExecContext(ctx, insScores, id, pq.Array(areas), pq.Array(scores), pq.Array(notes)); err != nil {
		return "", postgres.Translate(fmt.Errorf("insert scores: %w", err))
	}
	var days []time.Time
	var mins []int64
	for _, s := range c.Sessions {
		days, mins = append(days, s.HeldOn), append(mins, int64(s.Minutes))
	}
	const insSessions = `
INSERT INTO assessment_sessions (assessment_id, held_on, minutes)
SELECT $1, d, m FROM unnest($2::date[], $3::int[]) AS x(d, m)`
	if _, err := tx.ExecContext(ctx, insSessions, id, pq.Array(dateStrings(days)), pq.Array(mins)); err != nil {
		return "", postgres.Translate(fmt.Errorf("insert sessions: %w", err))
	}
	return id, nil
}

// Plans --------------------------------------------------------------------

type planRow struct {
	ID           string     `db:"id"`
	PersonID     string     `db:"person_id"`
	Version      int        `db:"version"`
	Supersedes   *string    `db:"supersedes"`
	AssessmentID *string    `db:"assessment_id"`
	Status       string     `db:"status"`
	Revision     int        `db:"revision"`
	Tenant       string     `db:"tenant"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
	SignedAt     *time.Time `db:"signed_at"`
	Frozen       bool       `db:"frozen"`
}

const planSelect = `
SELECT p.id, p.person_id, p.version, p.supersedes, p.assessment_id, p.status, p.revision, t.slug AS tenant,
	p.created_at, p.updated_at, p.signed_at,
	EXISTS (SELECT 1 FROM plan_signatures s WHERE s.plan_id = p.id) AS frozen
FROM plans p JOIN tenants t ON t.id = p.tenant_id`

// selectPlans loads plans with their content, signatures and reviews.
func selectPlans(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) ([]Plan, error) {
	var rows []planRow
	if err := sqlx.SelectContext(ctx, q, &rows, planSelect+"\n"+where+"\nORDER BY p.version DESC", args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("plans: %w", err))
	}
	if len(rows) == 0 {
		return []Plan{}, nil
	}
	ids := make([]string, len(rows))
	byID := map[string]*Plan{}
	plans := make([]Plan, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
		plans[i] = Plan{ID: r.ID, PersonID: r.PersonID, Version: r.Version, Supersedes: r.Supersedes, AssessmentID: r.AssessmentID,
			Status: r.Status, Revision: r.Revision, Tenant: r.Tenant, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			SignedAt: r.SignedAt, Frozen: r.Frozen, Objectives: []Objective{}, Signatures: []Signature{}, Reviews: []Review{}}
	}
	for i := range plans {
		byID[plans[i].ID] = &plans[i]
	}
	var objs []struct {
		ID          string `db:"id"`
		PlanID      string `db:"plan_id"`
		Position    int    `db:"position"`
		Area        string `db:"area"`
		Description string `db:"description"`
	}
	if err := sqlx.SelectContext(ctx, q, &objs, `
SELECT id, plan_id, position, area, description FROM plan_objectives WHERE plan_id = ANY($1) ORDER BY position`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(fmt.Errorf("plan objectives: %w", err))
	}
	objIndex := map[string][2]int{} // objective id -> plan index, objective index
	for _, o := range objs {
		p := byID[o.PlanID]
		p.Objectives = append(p.Objectives, Objective{ID: o.ID, Position: o.Position, Area: o.Area, Description: o.Description, Actions: []Action{}})
		objIndex[o.ID] = [2]int{indexOf(plans, o.PlanID), len(p.Objectives) - 1}
	}
	var acts []struct {
		ID             string    `db:"id"`
		ObjectiveID    string    `db:"objective_id"`
		Position       int       `db:"position"`
		Kind           string    `db:"kind"`
		Description    string    `db:"description"`
		Tenant         string    `db:"tenant"`
		OperatorID     *string   `db:"operator_id"`
		OperatorName   *string   `db:"operator_name"`
		StartOn        time.Time `db:"start_on"`
		EndOn          time.Time `db:"end_on"`
		Minutes        int       `db:"planned_minutes"`
		Indicator      string    `db:"indicator"`
		ExpectedResult string    `db:"expected_result"`
	}
	if err := sqlx.SelectContext(ctx, q, &acts, `
SELECT a.id, a.objective_id, a.position, a.kind, a.description, t.slug AS tenant, a.responsible_operator_id AS operator_id,
	CASE WHEN u.id IS NULL THEN NULL ELSE `+staffName+` END AS operator_name,
	a.start_on, a.end_on, a.planned_minutes, a.indicator, a.expected_result
FROM plan_actions a JOIN tenants t ON t.id = a.responsible_tenant_id LEFT JOIN users u ON u.id = a.responsible_operator_id
WHERE a.plan_id = ANY($1) ORDER BY a.position`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(fmt.Errorf("plan actions: %w", err))
	}
	for _, a := range acts {
		at := objIndex[a.ObjectiveID]
		o := &plans[at[0]].Objectives[at[1]]
		act := Action{ID: a.ID, Position: a.Position, Kind: a.Kind, Description: a.Description, ResponsibleTenant: a.Tenant,
			StartOn: Date{a.StartOn}, EndOn: Date{a.EndOn}, PlannedHours: Hours(a.Minutes), Indicator: a.Indicator, ExpectedResult: a.ExpectedResult}
		if a.OperatorID != nil {
			act.ResponsibleOperator = &Staff{ID: *a.OperatorID, Name: deref(a.OperatorName)}
		}
		o.Actions = append(o.Actions, act)
	}
	var sigs []struct {
		PlanID   string    `db:"plan_id"`
		Signer   string    `db:"signer"`
		Name     string    `db:"signer_name"`
		SignedOn time.Time `db:"signed_on"`
		Tenant   string    `db:"tenant"`
	}
	if err := sqlx.SelectContext(ctx, q, &sigs, `
SELECT s.plan_id, s.signer, s.signer_name, s.signed_on, t.slug AS tenant
FROM plan_signatures s JOIN tenants t ON t.id = s.tenant_id
WHERE s.plan_id = ANY($1) ORDER BY s.signed_on, s.created_at`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(fmt.Errorf("plan signatures: %w", err))
	}
	for _, s := range sigs {
		p := byID[s.PlanID]
		p.Signatures = append(p.Signatures, Signature{Signer: s.Signer, Name: s.Name, SignedOn: Date{s.SignedOn}, RecordedBy: s.Tenant})
	}
	var revs []struct {
		ID          string    `db:"id"`
		PlanID      string    `db:"plan_id"`
		ObjectiveID *string   `db:"objective_id"`
		ActionID    *string   `db:"action_id"`
		ReviewedOn  time.Time `db:"reviewed_on"`
		Outcome     string    `db:"outcome"`
		Notes       string    `db:"notes"`
		Tenant      string    `db:"tenant"`
		CreatedAt   time.Time `db:"created_at"`
	}
	if err := sqlx.SelectContext(ctx, q, &revs, `
SELECT r.id, r.plan_id, r.objective_id, r.action_id, r.reviewed_on, r.outcome, r.notes, t.slug AS tenant, r.created_at
FROM plan_reviews r JOIN tenants t ON t.id = r.tenant_id
WHERE r.plan_id = ANY($1) ORDER BY r.reviewed_on, r.created_at`, pq.Array(ids)); err != nil {
		return nil, postgres.Translate(fmt.Errorf("plan reviews: %w", err))
	}
	for _, r := range revs {
		p := byID[r.PlanID]
		p.Reviews = append(p.Reviews, Review{ID: r.ID, ObjectiveID: r.ObjectiveID, ActionID: r.ActionID, ReviewedOn: Date{r.ReviewedOn},
			Outcome: r.Outcome, Notes: r.Notes, Tenant: r.Tenant, CreatedAt: r.CreatedAt})
	}
	return plans, nil
}

func indexOf(plans []Plan, id string) int {
	for i := range plans {
		if plans[i].ID == id {
			return i
		}
	}
	return -1
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var errNoPlan = apperr.New(apperr.NotFound, "there is no plan with this id that you may see")

// lockRow locks a row of one of this package's tables until the end of tx.
func lockRow(ctx context.Context, tx *sqlx.Tx, table, id string) error {
	_, err := tx.ExecContext(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 FOR UPDATE`, id)
	return postgres.Translate(err)
}

func planByID(ctx context.Context, q sqlx.QueryerContext, id string) (Plan, error) {
	ps, err := selectPlans(ctx, q, `WHERE p.id = $1`, id)
	if err != nil {
		return Plan{}, err
	}
	if len(ps) == 0 {
		return Plan{}, errNoPlan
	}
	return ps[0], nil
}

// resolveTenants maps the responsible tenants of a plan's actions (slugs;
// the acting tenant when empty) to ids, and checks the operators.
func resolveResponsible(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, c *checkedPlan) error {
	var slugs []string
	for _, o := range c.Objectives {
		for _, act := range o.Actions {
			if act.ResponsibleTenant != "" {
				slugs = append(slugs, act.ResponsibleTenant)
			}
		}
	}
	var rows []struct {
		Slug string `db:"slug"`
		ID   string `db:"id"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT slug, id FROM tenants WHERE slug = ANY($1)`, pq.Array(slugs)); err != nil {
		return postgres.Translate(err)
	}
	ids := map[string]string{"": a.TenantID}
	for _, r := range rows {
		ids[r.Slug] = r.ID
	}
	f := apperr.Fields{}
	for i, o := range c.Objectives {
		for j := range o.Actions {
			act := &c.Objectives[i].Actions[j]
			name := fmt.Sprintf("objectives[%d].actions[%d]", i, j)
			id, ok := ids[act.ResponsibleTenant]
			if !ok {
				f.Add(name+".responsible_tenant", "is not a tenant of the network")
				continue
			}
			act.ResponsibleTenant = id // from here on, the id
			if act.ResponsibleOperatorID != "" {
				member, err := isMember(ctx, q, act.ResponsibleOperatorID, id)
				if err != nil {
					return err
				}
				if !member {
					f.Add(name+".responsible_operator_id", "is not a staff member of the responsible tenant")
				}
			}
		}
	}
	return f.Err()
}

func insertPlan(ctx context.Context, tx *sqlx.Tx, personID string, version int, supersedes, assessmentID string, a tenants.Actor) (string, error) {
	const stmt = `
INSERT INTO plans (person_id, version, supersedes, assessment_id, tenant_id, created_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`
	var id string
	err := tx.GetContext(ctx, &id, stmt, personID, version, nullUUID(supersedes), nullUUID(assessmentID), a.TenantID, nullUUID(a.UserID))
	if err = postgres.Translate(err); apperr.Is(err, apperr.Conflict) {
		return "", apperr.Wrap(err, apperr.Conflict, "this person's plan already has a draft, or changed meanwhile: reload the plans")
	}
	return id, err
}

// insertPlanContent writes objectives and actions; responsible tenants are
// ids (resolveResponsible).
func insertPlanContent(ctx context.Context, tx *sqlx.Tx, planID string, c checkedPlan) error {
	pos := 0
	for i, o := range c.Objectives {
		var oid string
		if err := tx.GetContext(ctx, &oid, `
INSERT INTO plan_objectives (plan_id, position, area, description) VALUES ($1, $2, $3, $4) RETURNING id`,
			planID, i+1, o.Area, o.Description); err != nil {
			return postgres.Translate(fmt.Errorf("insert objective: %w", err))
		}
		for _, a := range o.Actions {
			pos++
			if _, err := tx.ExecContext(ctx, `
INSERT INTO plan_actions (plan_id, objective_id, position, kind, description, responsible_tenant_id, responsible_operator_id,
	start_on, end_on, planned_minutes, indicator, expected_result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				planID, oid, pos, a.Kind, a.Description, a.ResponsibleTenant, nullUUID(a.ResponsibleOperatorID),
				a.Start, a.End, a.Minutes, a.Indicator, a.ExpectedResult); err != nil {
				return postgres.Translate(fmt.Errorf("insert action: %w", err))
			}
		}
	}
	return nil
}

func deletePlanContent(ctx context.Context, tx *sqlx.Tx, planID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM plan_actions WHERE plan_id = $1`, planID); err != nil {
		return postgres.Translate(err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM plan_objectives WHERE plan_id = $1`, planID)
	return postgres.Translate(err)
}

// Activities -----------------------------------------------------------------

type activityRow struct {
	ID        string    `db:"id"`
	PersonID  *string   `db:"person_id"`
	Tenant    string    `db:"tenant"`
	Operator  string    `db:"operator_id"`
	Name      string    `db:"operator_name"`
	Kind      string    `db:"kind"`
	HeldOn    time.Time `db:"held_on"`
	Minutes   int       `db:"minutes"`
	Note      string    `db:"note"`
	CreatedAt time.Time `db:"created_at"`
}

func (r activityRow) activity() Activity {
	return Activity{ID: r.ID, PersonID: r.PersonID, Tenant: r.Tenant, Operator: Staff{ID: r.Operator, Name: r.Name}, Kind: r.Kind,
		HeldOn: Date{r.HeldOn}, Hours: Hours(r.Minutes), Note: r.Note, CreatedAt: r.CreatedAt}
}

const activitySelect = `
SELECT a.id, a.person_id, t.slug AS tenant, a.operator_id, ` + staffName + ` AS operator_name, a.kind, a.held_on, a.minutes,
	a.note, a.created_at
FROM activities a JOIN tenants t ON t.id = a.tenant_id JOIN users u ON u.id = a.operator_id`

func insertActivity(ctx context.Context, tx *sqlx.Tx, personID, tenantID, operatorID, userID string, c checkedActivity) (Activity, error) {
	var id string
	err := tx.GetContext(ctx, &id, `
INSERT INTO activities (person_id, tenant_id, operator_id, kind, held_on, minutes, note, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		nullUUID(personID), tenantID, operatorID, c.Kind, c.Day, c.Minutes, c.Note, nullUUID(userID))
	if err != nil {
		return Activity{}, postgres.Translate(fmt.Errorf("insert activity: %w", err))
	}
	var r activityRow
	if err := tx.GetContext(ctx, &r, activitySelect+` WHERE a.id = $1`, id); err != nil {
		return Activity{}, postgres.Translate(err)
	}
	return r.activity(), nil
}

// activitiesOf lists a person's activities, newest first, after the keyset
// position (held_on, id) when after is not nil.
func activitiesOf(ctx context.Context, q sqlx.QueryerContext, acc access, personID string, after *activityKey, limit int) ([]Activity, error) {
	args := []any{personID, limit}
	where := `WHERE a.person_id = $1`
	if after != nil {
		where += ` AND (a.held_on, a.id) < ($3, $4::uuid)`
		args = append(args, after.Day, after.ID)
	}
	where, args = acc.ownOnly(where, "a", args)
	var rows []activityRow
	if err := sqlx.SelectContext(ctx, q, &rows, activitySelect+"\n"+where+"\nORDER BY a.held_on DESC, a.id DESC LIMIT $2", args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("activities: %w", err))
	}
	out := make([]Activity, len(rows))
	for i, r := range rows {
		out[i] = r.activity()
	}
	return out, nil
}

type activityKey struct {
	Day time.Time
	ID  string
}

type totalRow struct {
	Grp        string `db:"grp"`
	Key        string `db:"key"`
	Name       string `db:"name"`
	Minutes    int64  `db:"minutes"`
	Activities int    `db:"activities"`
}

func totalsFrom(rows []totalRow) Totals {
	t := Totals{ByKind: []Total{}, ByOperator: []Total{}}
	for _, r := range rows {
		x := Total{Key: r.Key, Name: r.Name, Hours: Hours(r.Minutes), Activities: r.Activities}
		switch r.Grp {
		case "all":
			t.Hours = Hours(r.Minutes)
		case "kind":
			t.ByKind = append(t.ByKind, x)
		case "operator":
			t.ByOperator = append(t.ByOperator, x)
		case "tenant":
			t.ByTenant = append(t.ByTenant, x)
		}
	}
	return t
}

// totalsSQL sums the activities a (filtered by the WHERE clause given) by
// kind, by operator and by tenant, in one query.
const totalsSQL = `
SELECT CASE WHEN GROUPING(a.kind) = 0 THEN 'kind'
            WHEN GROUPING(a.operator_id) = 0 THEN 'operator'
            WHEN GROUPING(t.slug) = 0 THEN 'tenant'
            ELSE 'all' END AS grp,
	coalesce(a.kind, a.operator_id::text, t.slug, '') AS key,
	CASE WHEN GROUPING(a.operator_id) = 0 THEN min(` + staffName + `)
	     WHEN GROUPING(t.slug) = 0 THEN min(t.name) ELSE '' END AS name,
	coalesce(sum(a.minutes), 0) AS minutes, count(*) AS activities
FROM activities a JOIN tenants t ON t.id = a.tenant_id JOIN users u ON u.id = a.operator_id
%s
GROUP BY GROUPING SETS ((a.kind), (a.operator_id), (t.slug), ())
ORDER BY grp, key`

func activityTotals(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (Totals, error) {
	var rows []totalRow
	if err := sqlx.SelectContext(ctx, q, &rows, fmt.Sprintf(totalsSQL, where), args...); err != nil {
		return Totals{}, postgres.Translate(fmt.Errorf("activity totals: %w", err))
	}
	return totalsFrom(rows), nil
}

// Placements ------------------------------------------------------------------

type placementRow struct {
	ID            string     `db:"id"`
	PersonID      string     `db:"person_id"`
	Tenant        string     `db:"tenant"`
	Kind          string     `db:"kind"`
	EmployerID    *string    `db:"employer_id"`
	EmployerName  *string    `db:"employer_name"`
	PlanActionID  *string    `db:"plan_action_id"`
	StartOn       time.Time  `db:"start_on"`
	PlannedEndOn  time.Time  `db:"planned_end_on"`
	OriginalEndOn time.Time  `db:"original_end_on"`
	EndedOn       *time.Time `db:"ended_on"`
	EndReason     string     `db:"end_reason"`
	Minutes       int        `db:"minutes_per_week"`
	TutorName     string     `db:"tutor_name"`
	TutorPhone    string     `db:"tutor_phone"`
	TutorEmail    string     `db:"tutor_email"`
	CaseManager   string     `db:"case_manager_id"`
	CaseName      string     `db:"case_manager_name"`
	Cap           *int64     `db:"monthly_cap_cents"`
	Rate          *int64     `db:"hourly_rate_cents"`
	InailRef      string     `db:"inail_ref"`
	RCPolicyRef   string     `db:"rc_policy_ref"`
	TargetGroup   string     `db:"target_group"`
	MaxMonths     *int       `db:"max_months"`
	Version       int        `db:"version"`
	CreatedAt     time.Time  `db:"created_at"`
	Extensions    []byte     `db:"extensions"`
}

const placementSelect = `
SELECT p.id, p.person_id, t.slug AS tenant, p.kind, p.employer_id, e.name AS employer_name, p.plan_action_id,
	p.start_on, p.planned_end_on,
	coalesce((SELECT x.previous_end_on FROM placement_extensions x WHERE x.placement_id = p.id ORDER BY x.created_at LIMIT 1),
		p.planned_end_on) AS original_end_on,
	p.ended_on, p.end_reason, p.minutes_per_week, p.tutor_name, p.tutor_phone, p.tutor_email,
	p.case_manager_id, ` + staffName + ` AS case_manager_name, p.monthly_cap_cents, p.hourly_rate_cents,
	p.inail_ref, p.rc_policy_ref, p.target_group, p.max_months, p.version, p.created_at,
	coalesce((SELECT json_agg(json_build_object('previous_end_on', x.previous_end_on, 'new_end_on', x.new_end_on,
		'reason', x.reason, 'tenant', xt.slug, 'recorded_at', x.created_at) ORDER BY x.created_at)
		FROM placement_extensions x JOIN tenants xt ON xt.id = x.tenant_id WHERE x.placement_id = p.id), '[]') AS extensions
FROM placements p
JOIN tenants t ON t.id = p.tenant_id
JOIN users u ON u.id = p.case_manager_id
LEFT JOIN employers e ON e.id = p.employer_id`

func (r placementRow) placement(today time.Time) (Placement, error) {
	p := Placement{ID: r.ID, PersonID: r.PersonID, Tenant: r.Tenant, Kind: r.Kind, PlanActionID: r.PlanActionID,
		StartOn: Date{r.StartOn}, PlannedEndOn: Date{r.PlannedEndOn}, OriginalEndOn: Date{r.OriginalEndOn}, EndReason: r.EndReason,
		HoursPerWeek: Hours(r.Minutes), Tutor: Tutor{Name: r.TutorName, Phone: r.TutorPhone, Email: r.TutorEmail},
		CaseManager: Staff{ID: r.CaseManager, Name: r.CaseName}, MonthlyCapCents: r.Cap, HourlyRateCents: r.Rate,
		InailRef: r.InailRef, RCPolicyRef: r.RCPolicyRef, MaxMonths: r.MaxMonths, Version: r.Version, CreatedAt: r.CreatedAt,
		Extensions: []Extension{}}
	if r.EmployerID != nil {
		p.Employer = &EmployerRef{ID: *r.EmployerID, Name: deref(r.EmployerName)}
	}
	if r.EndedOn != nil {
		p.EndedOn = &Date{*r.EndedOn}
	}
	p.Status = statusOf(r.StartOn, r.PlannedEndOn, p.EndedOn, today)
	var xs []struct {
		Prev   string    `json:"previous_end_on"`
		New    string    `json:"new_end_on"`
		Reason string    `json:"reason"`
		Tenant string    `json:"tenant"`
		At     time.Time `json:"recorded_at"`
	}
	if err := json.Unmarshal(r.Extensions, &xs); err != nil {
		return p, fmt.Errorf("placement extensions: %w", err)
	}
	for _, x := range xs {
		prev, err1 := time.Parse(time.DateOnly, x.Prev)
		next, err2 := time.Parse(time.DateOnly, x.New)
		if err := errors.Join(err1, err2); err != nil {
			return p, fmt.Errorf("placement extension dates: %w", err)
		}
		p.Extensions = append(p.Extensions, Extension{PreviousEndOn: Date{prev}, NewEndOn: Date{next}, Reason: x.Reason, Tenant: x.Tenant, At: x.At})
	}
	return p, nil
}

var errNoPlacement = apperr.New(apperr.NotFound, "there is no placement with this id that you may see")

func selectPlacements(ctx context.Context, q sqlx.QueryerContext, today time.Time, where string, args ...any) ([]Placement, error) {
	var rows []placementRow
	if err := sqlx.SelectContext(ctx, q, &rows, placementSelect+"\n"+where+"\nORDER BY p.start_on DESC, p.created_at DESC", args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("placements: %w", err))
	}
	out := make([]Placement, 0, len(rows))
	for _, r := range rows {
		p, err := r.placement(today)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func placementByID(ctx context.Context, q sqlx.QueryerContext, id string, today time.Time) (Placement, error) {
	ps, err := selectPlacements(ctx, q, today, `WHERE p.id = $1`, id)
	if err != nil {
		return Placement{}, err
	}
	if len(ps) == 0 {
		return Placement{}, errNoPlacement
	}
	return ps[0], nil
}

func targetGroupOf(ctx context.Context, q sqlx.QueryerContext, personID string) (string, error) {
	var tg string
	err := sqlx.GetContext(ctx, q, &tg, `SELECT target_group FROM persons WHERE id = $1`, personID)
	return tg, postgres.Translate(err)
}

func planActionOfPerson(ctx context.Context, q sqlx.QueryerContext, actionID, personID string) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, q, &ok, `
SELECT EXISTS (SELECT 1 FROM plan_actions a JOIN plans p ON p.id = a.plan_id WHERE a.id = $1 AND p.person_id = $2)`, actionID, personID)
	return ok, postgres.Translate(err)
}

func insertPlacement(ctx context.Context, tx *sqlx.Tx, personID string, a tenants.Actor, caseManager, targetGroup string, maxMonths *int, c checkedPlacement) (string, error) {
	const stmt = `
INSERT INTO placements (person_id, tenant_id, employer_id, plan_action_id, kind, start_on, planned_end_on, minutes_per_week,
	tutor_name, tutor_phone, tutor_email, case_manager_id, monthly_cap_cents, hourly_rate_cents, inail_ref, rc_policy_ref,
	target_group, max_months, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
RETURNING id`
	var id string
	err := tx.GetContext(ctx, &id, stmt, personID, a.TenantID, nullUUID(c.EmployerID), nullUUID(c.PlanActionID), c.Kind, c.Start,
		c.PlannedEnd, c.MinutesPerWeek, c.Tutor.Name, c.Tutor.Phone, c.Tutor.Email, caseManager, c.MonthlyCapCents, c.HourlyRateCents,
		c.InailRef, c.RCPolicyRef, targetGroup, maxMonths, nullUUID(a.UserID))
	if err != nil {
		return "", fkField(fmt.Errorf("insert placement: %w", err), map[string][2]string{
			"placements_employer_id_fkey": {"employer_id", "is not an employer of the network"},
		})
	}
	return id, nil
}

type attendanceRow struct {
	Month     time.Time `db:"month"`
	Minutes   int       `db:"attended_minutes"`
	Cap       int64     `db:"cap_cents"`
	Rate      int64     `db:"rate_cents"`
	Allowance int64     `db:"allowance_cents"`
	Note      string    `db:"note"`
	Version   int       `db:"version"`
	Tenant    string    `db:"tenant"`
}

func (r attendanceRow) attendance() Attendance {
	return Attendance{Month: r.Month.Format("2006-01"), AttendedHours: Hours(r.Minutes), CapCents: r.Cap, RateCents: r.Rate,
		AllowanceCents: r.Allowance, Note: r.Note, Version: r.Version, Tenant: r.Tenant}
}

func attendanceOf(ctx context.Context, q sqlx.QueryerContext, placementID string, month *time.Time) ([]Attendance, error) {
	args := []any{placementID}
	stmt := `
SELECT a.month, a.attended_minutes, a.cap_cents, a.rate_cents, a.allowance_cents, a.note, a.version, t.slug AS tenant
FROM placement_attendance a JOIN tenants t ON t.id = a.tenant_id
WHERE a.placement_id = $1`
	if month != nil {
		stmt += ` AND a.month = $2`
		args = append(args, *month)
	}
	var rows []attendanceRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt+` ORDER BY a.month`, args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("attendance: %w", err))
	}
	out := make([]Attendance, len(rows))
	for i, r := range rows {
		out[i] = r.attendance()
	}
	return out, nil
}

// Follow-ups -----------------------------------------------------------------

type followUpRow struct {
	ID           string    `db:"id"`
	PersonID     string    `db:"person_id"`
	Tenant       string    `db:"tenant"`
	Kind         string    `db:"kind"`
	ExitOn       time.Time `db:"exit_on"`
	ObservedOn   time.Time `db:"observed_on"`
	Status       string    `db:"status"`
	SelfEmployed bool      `db:"self_employed"`
	Contract     string    `db:"contract"`
	Qualified    bool      `db:"qualification_gained"`
	Improved     *bool     `db:"improved_situation"`
	EmployerID   *string   `db:"employer_id"`
	EmployerName *string   `db:"employer_name"`
	Note         string    `db:"note"`
	CreatedAt    time.Time `db:"created_at"`
}

func (r followUpRow) followUp() FollowUp {
	f := FollowUp{ID: r.ID, PersonID: r.PersonID, Tenant: r.Tenant, Kind: r.Kind, ExitOn: Date{r.ExitOn}, ObservedOn: Date{r.ObservedOn},
		Status: r.Status, SelfEmployed: r.SelfEmployed, Contract: r.Contract, QualificationGained: r.Qualified,
		ImprovedSituation: r.Improved, Note: r.Note, CreatedAt: r.CreatedAt}
	if r.EmployerID != nil {
		f.Employer = &EmployerRef{ID: *r.EmployerID, Name: deref(r.EmployerName)}
	}
	return f
}

const followUpSelect = `
SELECT f.id, f.person_id, t.slug AS tenant, f.kind, f.exit_on, f.observed_on, f.status, f.self_employed, f.contract,
	f.qualification_gained, f.improved_situation, f.employer_id, e.name AS employer_name, f.note, f.created_at
FROM follow_ups f JOIN tenants t ON t.id = f.tenant_id LEFT JOIN employers e ON e.id = f.employer_id`

func followUpsOf(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) ([]FollowUp, error) {
	var rows []followUpRow
	if err := sqlx.SelectContext(ctx, q, &rows, followUpSelect+"\n"+where+"\nORDER BY f.exit_on, f.observed_on", args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("follow-ups: %w", err))
	}
	out := make([]FollowUp, len(rows))
	for i, r := range rows {
		out[i] = r.followUp()
	}
	return out, nil
}
