package pathways

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
	"attivi/storage/postgres"
	"attivi/tenants"
)

// Service runs participants' paths to work.
type Service struct {
	db     *sqlx.DB
	engine *policies.Engine
	now    func() time.Time
}

// NewService returns the pathways service. now is the clock (time.Now in
// production): it says which day it is, in Italy.
func NewService(db *sqlx.DB, engine *policies.Engine, now func() time.Time) *Service {
	return &Service{db: db, engine: engine, now: now}
}

func (s *Service) today() time.Time { return policies.Today(s.now()) }

var errNoPerson = apperr.New(apperr.NotFound, "there is no person with this id that you may see")

// access is what the guard found: the actor's decisions on the person.
type access struct {
	read policies.PersonAccess
	// own is the acting tenant's id when it may read only the records it
	// wrote: the access model does not let it read the person's employment
	// data (any more), but a record is always readable by the tenant that
	// wrote it (DESIGN section 6). "" when it may read all of them.
	own string
}

// ownOnly narrows a WHERE clause over a table aliased as alias to the
// records the tenant wrote, when the access allows only those.
func (a access) ownOnly(where, alias string, args []any) (string, []any) {
	if a.own == "" {
		return where, args
	}
	args = append(args, a.own)
	return where + fmt.Sprintf(" AND %s.tenant_id = $%d", alias, len(args)), args
}

// reason is what the access log says of a read: what was read, and, when
// the tenant may read only its own records, that.
func (a access) reason(what string) string {
	if a.own == "" {
		return what
	}
	return what + ": only the records the tenant wrote (the access model no longer lets it read the others)"
}

// may reports whether the actor may read category c of the person.
func (a access) may(c string) bool { return a.read.Decisions[c].Allow }

// guard checks that the actor may do action (read or write) on the
// employment data of the person. A person the tenant may not see at all is
// not found (404); a visible person whose employment data the tenant may not
// read or write is forbidden (403). Denials about a real person go to the
// access log. what names the data, for the log and the messages.
func (s *Service) guard(ctx context.Context, a tenants.Actor, personID, action, what string, notFound error) (access, error) {
	return s.guardWith(ctx, a, personID, action, what, notFound, false)
}

// readGuard is guard for reading records that carry their author tenant:
// when the access model refuses, a tenant may still read the records it
// wrote (access.own).
func (s *Service) readGuard(ctx context.Context, a tenants.Actor, personID, what string, notFound error) (access, error) {
	return s.guardWith(ctx, a, personID, policies.ActRead, what, notFound, true)
}

// recordGuard finds the person a record of table (assessments, plans,
// placements) belongs to and checks the actor's access to do action; a
// tenant that may read only the records it wrote (access.own) does not find
// the others.
func (s *Service) recordGuard(ctx context.Context, a tenants.Actor, table, id, action, what string, notFound error) (string, access, error) {
	personID, tenantID, err := recordOf(ctx, s.db, table, id)
	if err != nil {
		return "", access{}, err
	}
	if personID == "" {
		return "", access{}, notFound
	}
	acc, err := s.guardWith(ctx, a, personID, action, what, notFound, action == policies.ActRead)
	if err == nil && acc.own != "" && tenantID != acc.own {
		return personID, acc, notFound
	}
	return personID, acc, err
}

func (s *Service) guardWith(ctx context.Context, a tenants.Actor, personID, action, what string, notFound error, ownOK bool) (access, error) {
	if notFound == nil {
		notFound = errNoPerson
	}
	if !isUUID(personID) {
		return access{}, notFound
	}
	read, err := s.engine.Access(ctx, s.db, a, personID, policies.ActRead, "")
	if err != nil {
		return access{}, err
	}
	logAction := policies.LogRead
	if action == policies.ActWrite {
		logAction = policies.LogWrite
	}
	if ownOK && !read.Decisions[policies.CatEmployment].Allow {
		own, err := s.wroteAbout(ctx, a, read, personID)
		if err != nil || own {
			return access{read: read, own: a.TenantID}, err
		}
	}
	if !read.Visible() {
		if !read.Facts.Exists {
			return access{}, notFound
		}
		reason := "the person is not visible to the tenant"
		if rs := read.Decisions[policies.CatIdentity].Reasons; len(rs) > 0 {
			reason += ": " + strings.Join(rs, "; ")
		}
		return access{}, s.logThen(ctx, a, notFound, policies.Entry{PersonID: personID, Action: logAction,
			Categories: []string{policies.CatEmployment}, Reason: what + ": " + reason})
	}
	d := read.Decisions[policies.CatEmployment]
	if action == policies.ActWrite {
		d = s.engine.Redecide(read, a, policies.ActWrite).Decisions[policies.CatEmployment]
	}
	if !d.Allow {
		why := strings.Join(d.Reasons, "; ")
		return access{}, s.logThen(ctx, a,
			apperr.New(apperr.Forbidden, "your tenant may not %s this person's employment data (%s): %s", action, what, why),
			policies.Entry{PersonID: personID, Action: logAction, Categories: []string{policies.CatEmployment}, Reason: what + ": " + why})
	}
	return access{read: read}, nil
}

// wroteAbout reports whether the actor may read the records its tenant
// wrote about the person although the access model does not let it read
// their employment data: the person exists, the actor's roles may read
// employment data in some circumstance, and the tenant wrote some record of
// the path about them.
func (s *Service) wroteAbout(ctx context.Context, a tenants.Actor, read policies.PersonAccess, personID string) (bool, error) {
	if !read.Facts.Exists || !slices.Contains(s.engine.ListFilter(a, policies.ActRead).Categories(), policies.CatEmployment) {
		return false, nil
	}
	return wroteRecords(ctx, s.db, a.TenantID, personID)
}

// logged writes an allowed read or write of the person's employment data.
func (s *Service) logged(ctx context.Context, a tenants.Actor, personID, action, reason string) error {
	return s.engine.LogAccess(ctx, a, httpx.RequestID(ctx), policies.Entry{PersonID: personID, Action: action,
		Categories: []string{policies.CatEmployment}, Allow: true, Reason: reason})
}

// logThen logs the entries and returns err, or the logging error: a denial
// that cannot be logged is an error of the request.
func (s *Service) logThen(ctx context.Context, a tenants.Actor, err error, entries ...policies.Entry) error {
	if lerr := s.engine.LogAccess(ctx, a, httpx.RequestID(ctx), entries...); lerr != nil {
		return lerr
	}
	return err
}

// staffOf resolves an operator: the user when id is empty, otherwise a
// staff member of the tenant (a field error when not).
func (s *Service) staffOf(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, id, tenantID, field string) (string, error) {
	if id == "" {
		return a.UserID, nil
	}
	ok, err := isMember(ctx, q, id, tenantID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid",
			Fields: map[string]string{field: "is not a staff member of the tenant"}}
	}
	return id, nil
}

// Stage -----------------------------------------------------------------

// StageView is a person's current stage with the path so far.
type StageView struct {
	Current *StageEntry  `json:"current"`
	Version int          `json:"version"` // the If-Match of the next change
	History []StageEntry `json:"history"`
	Next    []string     `json:"next"` // where the path may go from here
}

func stageView(history []StageEntry) StageView {
	v := StageView{History: history, Next: nextStages[""]}
	if v.History == nil {
		v.History = []StageEntry{}
	}
	if n := len(history); n > 0 {
		cur := history[n-1]
		v.Current, v.Version, v.Next = &cur, cur.Seq, nextStages[cur.Stage]
	}
	return v
}

// Stage returns the person's path stage by stage.
func (s *Service) Stage(ctx context.Context, a tenants.Actor, personID string) (StageView, error) {
	if _, err := s.guard(ctx, a, personID, policies.ActRead, "stage of the path", nil); err != nil {
		return StageView{}, err
	}
	h, err := stageHistory(ctx, s.db, personID)
	if err != nil {
		return StageView{}, err
	}
	return stageView(h), s.logged(ctx, a, personID, policies.LogRead, "stage of the path")
}

// ChangeStage moves the person's path to a new stage, if the path is still
// at version (0: no stage yet).
func (s *Service) ChangeStage(ctx context.Context, a tenants.Actor, personID string, version int, in StageChange) (StageView, error) {
	if _, err := s.guard(ctx, a, personID, policies.ActWrite, "stage of the path", nil); err != nil {
		return StageView{}, err
	}
	var h []StageEntry
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if h, err = stageHistory(ctx, tx, personID); err != nil {
			return err
		}
		v := stageView(h)
		if v.Version != version {
			return apperr.New(apperr.Conflict, "the path changed after version %d (now %d): reload it and try again", version, v.Version)
		}
		day, err := checkStageChange(v.Current, in, s.today())
		if err != nil {
			return err
		}
		if err := insertStage(ctx, tx, personID, version+1, in, day, a); err != nil {
			return err
		}
		h, err = stageHistory(ctx, tx, personID)
		return err
	})
	if err != nil {
		return StageView{}, err
	}
	return stageView(h), s.logged(ctx, a, personID, policies.LogWrite, fmt.Sprintf("stage of the path: %s", in.Stage))
}

// CurrentStage is a person's current stage for the status view (DESIGN
// section 6: the `status` category): the stage, since when, and the closing
// reason. found is false when the path has no stage yet. It makes no access
// decision and writes no log: the caller has decided `status` for the
// person and logs its own read.
func CurrentStage(ctx context.Context, q sqlx.QueryerContext, personID string) (cur CurrentStageInfo, found bool, err error) {
	const stmt = `
SELECT stage, entered_on, reason FROM pathway_stages WHERE person_id = $1 ORDER BY seq DESC LIMIT 1`
	var r struct {
		Stage     string    `db:"stage"`
		EnteredOn time.Time `db:"entered_on"`
		Reason    string    `db:"reason"`
	}
	err = sqlx.GetContext(ctx, q, &r, stmt, personID)
	if apperr.Is(postgres.Translate(err), apperr.NotFound) {
		return CurrentStageInfo{}, false, nil
	}
	if err != nil {
		return CurrentStageInfo{}, false, postgres.Translate(fmt.Errorf("current stage: %w", err))
	}
	return CurrentStageInfo{Stage: r.Stage, Since: r.EnteredOn, Reason: r.Reason}, true, nil
}

// CurrentStageInfo is the stage part of the status view.
type CurrentStageInfo struct {
	Stage  string    `json:"stage"`
	Since  time.Time `json:"since"`            // the day, at midnight UTC
	Reason string    `json:"reason,omitempty"` // why the path was closed
}

// CurrentPlacementInfo is the placement part of the status view.
type CurrentPlacementInfo struct {
	Kind         string    `json:"kind"`
	StartOn      time.Time `json:"start_on"`
	PlannedEndOn time.Time `json:"planned_end_on"` // extensions included
	Status       string    `json:"status"`         // planned, active or overdue
}

// CurrentPlacement is the person's current placement for the status view:
// the earliest placement not ended (running, past its planned end, or about
// to start). found is false when there is none. Like CurrentStage it makes
// no access decision and writes no log.
func CurrentPlacement(ctx context.Context, q sqlx.QueryerContext, personID string, now time.Time) (cur CurrentPlacementInfo, found bool, err error) {
	const stmt = `
SELECT kind, start_on, planned_end_on FROM placements
WHERE person_id = $1 AND ended_on IS NULL
ORDER BY start_on, created_at LIMIT 1`
	var r struct {
		Kind  string    `db:"kind"`
		Start time.Time `db:"start_on"`
		End   time.Time `db:"planned_end_on"`
	}
	err = sqlx.GetContext(ctx, q, &r, stmt, personID)
	if apperr.Is(postgres.Translate(err), apperr.NotFound) {
		return CurrentPlacementInfo{}, false, nil
	}
	if err != nil {
		return CurrentPlacementInfo{}, false, postgres.Translate(fmt.Errorf("current placement: %w", err))
	}
	return CurrentPlacementInfo{Kind: r.Kind, StartOn: r.Start, PlannedEndOn: r.End,
		Status: statusOf(r.Start, r.End, nil, policies.Today(now))}, true, nil
}

// Assessments -------------------------------------------------------------

// CreateAssessment records an assessment of the person.
func (s *Service) CreateAssessment(ctx context.Context, a tenants.Actor, personID string, in AssessmentInput) (Assessment, error) {
	if _, err := s.guard(ctx, a, personID, policies.ActWrite, "assessment", nil); err != nil {
		return Assessment{}, err
	}
	c, err := in.check(s.today())
	if err != nil {
		return Assessment{}, err
	}
	op, err := s.staffOf(ctx, s.db, a, in.OperatorID, a.TenantID, "operator_id")
	if err != nil {
		return Assessment{}, err
	}
	var out Assessment
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		id, err := insertAssessment(ctx, tx, personID, a.TenantID, op, a.UserID, c)
		if err != nil {
			return err
		}
		out, err = assessmentByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return Assessment{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, "assessment "+out.ID+" recorded")
}

// Assessments lists the person's assessments, oldest first.
func (s *Service) Assessments(ctx context.Context, a tenants.Actor, personID string) ([]Assessment, error) {
	acc, err := s.readGuard(ctx, a, personID, "assessments", nil)
	if err != nil {
		return nil, err
	}
	as, err := assessmentsOf(ctx, s.db, acc, personID)
	if err != nil {
		return nil, err
	}
	return as, s.logged(ctx, a, personID, policies.LogRead, acc.reason(fmt.Sprintf("assessments (%d shown)", len(as))))
}

// Assessment returns one assessment.
func (s *Service) Assessment(ctx context.Context, a tenants.Actor, id string) (Assessment, error) {
	personID, acc, err := s.recordGuard(ctx, a, "assessments", id, policies.ActRead, "assessment", errNoAssessment)
	if err != nil {
		return Assessment{}, err
	}
	as, err := assessmentByID(ctx, s.db, id)
	if err != nil {
		return Assessment{}, err
	}
	return as, s.logged(ctx, a, personID, policies.LogRead, acc.reason("assessment "+id))
}

// CompareAssessments puts two of the person's assessments side by side:
// fromID and toID, or, when empty, the first and the latest.
func (s *Service) CompareAssessments(ctx context.Context, a tenants.Actor, personID, fromID, toID string) (Comparison, error) {
	acc, err := s.readGuard(ctx, a, personID, "assessments compared", nil)
	if err != nil {
		return Comparison{}, err
	}
	as, err := assessmentsOf(ctx, s.db, acc, personID)
	if err != nil {
		return Comparison{}, err
	}
	f := apperr.Fields{}
	pick := func(field, id string, dflt int) (Assessment, bool) {
		if id == "" {
			if len(as) == 0 {
				return Assessment{}, false
			}
			return as[dflt], true
		}
		for _, x := range as {
			if x.ID == id {
				return x, true
			}
		}
		f.Add(field, "is not an assessment of this person")
		return Assessment{}, false
	}
	from, ok1 := pick("from", fromID, 0)
	to, ok2 := pick("to", toID, len(as)-1)
	if err := f.Err(); err != nil {
		return Comparison{}, err
	}
	if !ok1 || !ok2 || from.ID == to.ID {
		return Comparison{}, &apperr.Error{Code: apperr.Invalid, Message: "a comparison needs two different assessments of the person",
			Fields: map[string]string{"to": fmt.Sprintf("the person has %d assessment(s)", len(as))}}
	}
	if to.AssessedOn.Before(from.AssessedOn.Time) {
		from, to = to, from
	}
	return Compare(from, to), s.logged(ctx, a, personID, policies.LogRead, "assessments "+from.ID+" and "+to.ID+" compared")
}

// Plans ----------------------------------------------------------------

// CreatePlan drafts the person's first plan, or the next version when the
// person has a signed one (the new version supersedes it once signed).
func (s *Service) CreatePlan(ctx context.Context, a tenants.Actor, personID string, in PlanInput) (Plan, error) {
	if _, err := s.guard(ctx, a, personID, policies.ActWrite, "action plan", nil); err != nil {
		return Plan{}, err
	}
	c, err := in.check()
	if err != nil {
		return Plan{}, err
	}
	var out Plan
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := s.checkPlanRefs(ctx, tx, a, personID, &c); err != nil {
			return err
		}
		plans, err := selectPlans(ctx, tx, `WHERE p.person_id = $1`, personID)
		if err != nil {
			return err
		}
		supersedes := ""
		for _, p := range plans {
			switch p.Status {
			case PlanDraft:
				return apperr.New(apperr.Conflict, "version %d of the plan is a draft: change it (PUT /api/v1/plans/%s) instead of starting another", p.Version, p.ID)
			case PlanSigned:
				supersedes = p.ID
			}
		}
		id, err := insertPlan(ctx, tx, personID, len(plans)+1, supersedes, c.AssessmentID, a)
		if err != nil {
			return err
		}
		if err := insertPlanContent(ctx, tx, id, c); err != nil {
			return err
		}
		out, err = planByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, fmt.Sprintf("action plan %s (version %d) drafted", out.ID, out.Version))
}

// checkPlanRefs checks the assessment and the responsible tenants and
// operators of a plan's content.
func (s *Service) checkPlanRefs(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, personID string, c *checkedPlan) error {
	if c.AssessmentID != "" {
		p, err := personOf(ctx, q, "assessments", c.AssessmentID)
		if err != nil {
			return err
		}
		if p != personID {
			return &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid",
				Fields: map[string]string{"assessment_id": "is not an assessment of this person"}}
		}
	}
	return resolveResponsible(ctx, q, a, c)
}

// Plans lists every version of the person's plan, newest first.
func (s *Service) Plans(ctx context.Context, a tenants.Actor, personID string) ([]Plan, error) {
	acc, err := s.readGuard(ctx, a, personID, "action plans", nil)
	if err != nil {
		return nil, err
	}
	where, args := acc.ownOnly(`WHERE p.person_id = $1`, "p", []any{personID})
	ps, err := selectPlans(ctx, s.db, where, args...)
	if err != nil {
		return nil, err
	}
	return ps, s.logged(ctx, a, personID, policies.LogRead, acc.reason(fmt.Sprintf("action plans (%d versions shown)", len(ps))))
}

// planGuard finds the plan's person and checks the actor's access.
func (s *Service) planGuard(ctx context.Context, a tenants.Actor, id, action, what string) (string, error) {
	personID, _, err := s.recordGuard(ctx, a, "plans", id, action, what, errNoPlan)
	return personID, err
}

// Plan returns one version of a plan.
func (s *Service) Plan(ctx context.Context, a tenants.Actor, id string) (Plan, error) {
	personID, acc, err := s.recordGuard(ctx, a, "plans", id, policies.ActRead, "action plan", errNoPlan)
	if err != nil {
		return Plan{}, err
	}
	p, err := planByID(ctx, s.db, id)
	if err != nil {
		return Plan{}, err
	}
	return p, s.logged(ctx, a, personID, policies.LogRead, acc.reason(fmt.Sprintf("action plan %s (version %d)", id, p.Version)))
}

const errPlanFrozen = "version %d of the plan has been signed: it changes only by a new version (POST /api/v1/plans/%s/versions)"

// UpdatePlan replaces the content of a draft that is still at revision.
func (s *Service) UpdatePlan(ctx context.Context, a tenants.Actor, id string, revision int, in PlanInput) (Plan, error) {
	personID, err := s.planGuard(ctx, a, id, policies.ActWrite, "action plan")
	if err != nil {
		return Plan{}, err
	}
	c, err := in.check()
	if err != nil {
		return Plan{}, err
	}
	var out Plan
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := lockRow(ctx, tx, "plans", id); err != nil {
			return err
		}
		cur, err := planByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Status != PlanDraft || cur.Frozen {
			return apperr.New(apperr.Conflict, errPlanFrozen, cur.Version, cur.ID)
		}
		if cur.Revision != revision {
			return apperr.New(apperr.Conflict, "the draft changed after revision %d (now %d): reload it and apply your change again", revision, cur.Revision)
		}
		if err := s.checkPlanRefs(ctx, tx, a, personID, &c); err != nil {
			return err
		}
		if err := deletePlanContent(ctx, tx, id); err != nil {
			return err
		}
		if err := insertPlanContent(ctx, tx, id, c); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plans SET revision = revision + 1, assessment_id = $2, updated_at = now() WHERE id = $1`,
			id, nullUUID(c.AssessmentID)); err != nil {
			return postgres.Translate(err)
		}
		out, err = planByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, fmt.Sprintf("action plan %s (version %d) changed", id, out.Version))
}

// NewPlanVersion starts a new draft version from the latest signed version
// id: a copy of its content, or in when given.
func (s *Service) NewPlanVersion(ctx context.Context, a tenants.Actor, id string, in *PlanInput) (Plan, error) {
	personID, err := s.planGuard(ctx, a, id, policies.ActWrite, "action plan")
	if err != nil {
		return Plan{}, err
	}
	var c *checkedPlan
	if in != nil {
		cp, err := in.check()
		if err != nil {
			return Plan{}, err
		}
		c = &cp
	}
	var out Plan
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := lockRow(ctx, tx, "plans", id); err != nil {
			return err
		}
		cur, err := planByID(ctx, tx, id)
		if err != nil {
			return err
		}
		switch cur.Status {
		case PlanDraft:
			if !cur.Frozen {
				return apperr.New(apperr.Conflict, "version %d is a draft nobody has signed: change it instead (PUT /api/v1/plans/%s)", cur.Version, cur.ID)
			}
			return apperr.New(apperr.Conflict, "version %d is being signed: record the remaining signatures, or start over from the version in force", cur.Version)
		case PlanSuperseded:
			return apperr.New(apperr.Conflict, "version %d is superseded: start the new version from the plan in force", cur.Version)
		}
		if c == nil {
			cp := cur.input()
			c = &cp
			// responsible tenants are slugs in cur: resolve them again
		}
		if err := s.checkPlanRefs(ctx, tx, a, personID, c); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT coalesce(max(version), 0) FROM plans WHERE person_id = $1`, personID); err != nil {
			return postgres.Translate(err)
		}
		nid, err := insertPlan(ctx, tx, personID, n+1, cur.ID, c.AssessmentID, a)
		if err != nil {
			return err
		}
		if err := insertPlanContent(ctx, tx, nid, *c); err != nil {
			return err
		}
		out, err = planByID(ctx, tx, nid)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, fmt.Sprintf("action plan %s (version %d) drafted from version %s", out.ID, out.Version, id))
}

// SignPlan records a signature on a draft. Its content is frozen from the
// first signature; with the third it is in force, and the version it
// supersedes is superseded.
func (s *Service) SignPlan(ctx context.Context, a tenants.Actor, id string, in SignatureInput) (Plan, error) {
	personID, err := s.planGuard(ctx, a, id, policies.ActWrite, "action plan signature")
	if err != nil {
		return Plan{}, err
	}
	day, err := in.check(s.today())
	if err != nil {
		return Plan{}, err
	}
	var out Plan
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := lockRow(ctx, tx, "plans", id); err != nil {
			return err
		}
		cur, err := planByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if why := cur.readyToSign(); why != "" {
			return apperr.New(apperr.Conflict, "the plan cannot be signed: %s", why)
		}
		for _, sg := range cur.Signatures {
			if sg.Signer == in.Signer {
				return apperr.New(apperr.Conflict, "the %s already signed this version on %s", in.Signer, sg.SignedOn.Format(time.DateOnly))
			}
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO plan_signatures (plan_id, signer, signer_name, signed_on, tenant_id, user_id) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, in.Signer, strings.TrimSpace(in.Name), day, a.TenantID, nullUUID(a.UserID)); err != nil {
			return postgres.Translate(fmt.Errorf("insert signature: %w", err))
		}
		if len(cur.Signatures)+1 == len(Signers) {
			if _, err := tx.ExecContext(ctx, `UPDATE plans SET status = 'superseded', updated_at = now() WHERE person_id = $1 AND status = 'signed'`, personID); err != nil {
				return postgres.Translate(err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE plans SET status = 'signed', signed_at = now(), updated_at = now() WHERE id = $1`, id); err != nil {
				return postgres.Translate(err)
			}
		}
		out, err = planByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, fmt.Sprintf("action plan %s signed by the %s", id, in.Signer))
}

// ReviewPlan records the outcome of an objective or action of the plan in
// force.
func (s *Service) ReviewPlan(ctx context.Context, a tenants.Actor, id string, in ReviewInput) (Plan, error) {
	personID, err := s.planGuard(ctx, a, id, policies.ActWrite, "action plan review")
	if err != nil {
		return Plan{}, err
	}
	day, err := in.check(s.today())
	if err != nil {
		return Plan{}, err
	}
	var out Plan
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		cur, err := planByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Status != PlanSigned {
			return apperr.New(apperr.Conflict, "only the plan in force is reviewed: version %d is %s", cur.Version, cur.Status)
		}
		found := false
		for _, o := range cur.Objectives {
			found = found || o.ID == in.ObjectiveID
			for _, x := range o.Actions {
				found = found || x.ID == in.ActionID
			}
		}
		if !found {
			field := "action_id"
			if in.ObjectiveID != "" {
				field = "objective_id"
			}
			return &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{field: "is not part of this plan"}}
		}
		var inForce time.Time // the day of the last signature
		for _, sg := range cur.Signatures {
			if sg.SignedOn.After(inForce) {
				inForce = sg.SignedOn.Time
			}
		}
		if day.Before(inForce) {
			return &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid",
				Fields: map[string]string{"reviewed_on": "is before the plan was signed (" + inForce.Format(time.DateOnly) + ")"}}
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO plan_reviews (plan_id, objective_id, action_id, reviewed_on, outcome, notes, tenant_id, user_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, nullUUID(in.ObjectiveID), nullUUID(in.ActionID), day, in.Outcome,
			strings.TrimSpace(in.Notes), a.TenantID, nullUUID(a.UserID)); err != nil {
			return postgres.Translate(fmt.Errorf("insert review: %w", err))
		}
		out, err = planByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, fmt.Sprintf("action plan %s reviewed", id))
}

// Activities -------------------------------------------------------------

// LogActivity records hours of work with the person.
func (s *Service) LogActivity(ctx context.Context, a tenants.Actor, personID string, in ActivityInput) (Activity, error) {
	if _, err := s.guard(ctx, a, personID, policies.ActWrite, "activity", nil); err != nil {
		return Activity{}, err
	}
	c, err := in.check(s.today(), ActivityKinds)
	if err != nil {
		return Activity{}, err
	}
	op, err := s.staffOf(ctx, s.db, a, in.OperatorID, a.TenantID, "operator_id")
	if err != nil {
		return Activity{}, err
	}
	var out Activity
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		out, err = insertActivity(ctx, tx, personID, a.TenantID, op, a.UserID, c)
		return err
	})
	if err != nil {
		return Activity{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, "activity "+out.ID+" ("+out.Kind+") recorded")
}

// LogNetworkActivity records hours of work for the network, not for one
// participant (scouting employers, matching): no personal data, so the
// actor needs the right to write employers' records.
func (s *Service) LogNetworkActivity(ctx context.Context, a tenants.Actor, in ActivityInput) (Activity, error) {
	if !s.engine.Allowed(a, policies.CatEmployers, policies.ActWrite) {
		return Activity{}, apperr.New(apperr.Forbidden, "your roles in %s may not record work with employers", a.TenantSlug)
	}
	c, err := in.check(s.today(), networkActivityKinds)
	if err != nil {
		return Activity{}, err
	}
	op, err := s.staffOf(ctx, s.db, a, in.OperatorID, a.TenantID, "operator_id")
	if err != nil {
		return Activity{}, err
	}
	var out Activity
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		out, err = insertActivity(ctx, tx, "", a.TenantID, op, a.UserID, c)
		return err
	})
	return out, err
}

// ActivityPage is a page of a person's activities with their totals.
type ActivityPage struct {
	Items  []Activity
	Totals Totals
}

// Activities lists the person's activities, newest first (up to limit,
// after the cursor), with the totals of all of them by kind and operator.
func (s *Service) Activities(ctx context.Context, a tenants.Actor, personID, after string, limit int) (ActivityPage, error) {
	var key *activityKey
	if after != "" {
		d, id, ok := strings.Cut(after, " ")
		t, err := time.Parse(time.DateOnly, d)
		if !ok || err != nil || !isUUID(id) {
			return ActivityPage{}, &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid",
				Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
		}
		key = &activityKey{Day: t, ID: id}
	}
	acc, err := s.readGuard(ctx, a, personID, "activities", nil)
	if err != nil {
		return ActivityPage{}, err
	}
	items, err := activitiesOf(ctx, s.db, acc, personID, key, limit)
	if err != nil {
		return ActivityPage{}, err
	}
	where, args := acc.ownOnly(`WHERE a.person_id = $1`, "a", []any{personID})
	totals, err := activityTotals(ctx, s.db, where, args...)
	if err != nil {
		return ActivityPage{}, err
	}
	totals.ByTenant = nil
	return ActivityPage{Items: items, Totals: totals},
		s.logged(ctx, a, personID, policies.LogRead, acc.reason(fmt.Sprintf("activities (%d shown) and their totals", len(items))))
}

// ActivityCursor is the list position of an activity.
func ActivityCursor(x Activity) string { return x.HeldOn.Format(time.DateOnly) + " " + x.ID }

// TenantTotals sums the hours of activities from from to to (inclusive):
// those of the acting tenant by kind and operator; and, for an actor who
// may read aggregated employment data (the network coordinator), the whole
// network's by kind and by tenant. Aggregates name no participant.
func (s *Service) TenantTotals(ctx context.Context, a tenants.Actor, from, to time.Time) (own Totals, network *Totals, err error) {
	own, err = activityTotals(ctx, s.db, `WHERE a.tenant_id = $1 AND a.held_on BETWEEN $2 AND $3`, a.TenantID, from, to)
	if err != nil {
		return Totals{}, nil, err
	}
	own.ByTenant = nil
	if s.engine.Allowed(a, policies.CatEmployment, policies.ActRead) {
		n, err := activityTotals(ctx, s.db, `WHERE a.held_on BETWEEN $1 AND $2`, from, to)
		if err != nil {
			return Totals{}, nil, err
		}
		n.ByOperator = nil
		network = &n
	}
	return own, network, nil
}

// Placements ---------------------------------------------------------------

// CreatePlacement records a placement of the person, within the maximum
// length of its kind for the person's target group.
func (s *Service) CreatePlacement(ctx context.Context, a tenants.Actor, personID string, in PlacementInput) (Placement, error) {
	acc, err := s.guard(ctx, a, personID, policies.ActWrite, "placement", nil)
	if err != nil {
		return Placement{}, err
	}
	c, f := in.check()
	tg, err := targetGroupOf(ctx, s.db, personID)
	if err != nil {
		return Placement{}, err
	}
	var maxMonths *int
	if f["start_on"] == "" && f["planned_end_on"] == "" && f["kind"] == "" {
		problem, cp := capProblem(c.Kind, tg, c.Start, c.PlannedEnd, acc.may(targetGroupCategory(tg)))
		if problem != "" {
			f.Add("planned_end_on", "%s", problem)
		}
		if cp != nil {
			maxMonths = &cp.Months
		}
	}
	if c.PlanActionID != "" && f["plan_action_id"] == "" {
		ok, err := planActionOfPerson(ctx, s.db, c.PlanActionID, personID)
		if err != nil {
			return Placement{}, err
		}
		if !ok {
			f.Add("plan_action_id", "is not an action of this person's plan")
		}
	}
	if err := f.Err(); err != nil {
		return Placement{}, err
	}
	cm, err := s.staffOf(ctx, s.db, a, in.CaseManagerID, a.TenantID, "case_manager_id")
	if err != nil {
		return Placement{}, err
	}
	var out Placement
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		id, err := insertPlacement(ctx, tx, personID, a, cm, tg, maxMonths, c)
		if err != nil {
			return err
		}
		out, err = placementByID(ctx, tx, id, s.today())
		return err
	})
	if err != nil {
		return Placement{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, "placement "+out.ID+" ("+out.Kind+") recorded")
}

// targetGroupCategory is the category the target group belongs to (as in
// services/people): disability for L.68, health for mental health.
func targetGroupCategory(tg string) string {
	if tg == TargetMentalHealth {
		return policies.CatHealth
	}
	return policies.CatDisability
}

// Placements lists the person's placements, latest first.
func (s *Service) Placements(ctx context.Context, a tenants.Actor, personID string) ([]Placement, error) {
	acc, err := s.readGuard(ctx, a, personID, "placements", nil)
	if err != nil {
		return nil, err
	}
	where, args := acc.ownOnly(`WHERE p.person_id = $1`, "p", []any{personID})
	ps, err := selectPlacements(ctx, s.db, s.today(), where, args...)
	if err != nil {
		return nil, err
	}
	return ps, s.logged(ctx, a, personID, policies.LogRead, acc.reason(fmt.Sprintf("placements (%d shown)", len(ps))))
}

func (s *Service) placementGuard(ctx context.Context, a tenants.Actor, id, action, what string) (string, access, error) {
	return s.recordGuard(ctx, a, "placements", id, action, what, errNoPlacement)
}

// Placement returns one placement.
func (s *Service) Placement(ctx context.Context, a tenants.Actor, id string) (Placement, error) {
	personID, acc, err := s.placementGuard(ctx, a, id, policies.ActRead, "placement")
	if err != nil {
		return Placement{}, err
	}
	p, err := placementByID(ctx, s.db, id, s.today())
	if err != nil {
		return Placement{}, err
	}
	return p, s.logged(ctx, a, personID, policies.LogRead, acc.reason("placement "+id))
}

// changePlacement runs change on the placement locked at version.
func (s *Service) changePlacement(ctx context.Context, a tenants.Actor, id string, version int, what string,
	change func(tx *sqlx.Tx, p Placement, acc access) error) (Placement, error) {
	personID, acc, err := s.placementGuard(ctx, a, id, policies.ActWrite, what)
	if err != nil {
		return Placement{}, err
	}
	var out Placement
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := lockRow(ctx, tx, "placements", id); err != nil {
			return err
		}
		p, err := placementByID(ctx, tx, id, s.today())
		if err != nil {
			return err
		}
		if p.Version != version {
			return apperr.New(apperr.Conflict, "the placement changed after version %d (now %d): reload it and try again", version, p.Version)
		}
		if p.EndedOn != nil {
			return apperr.New(apperr.Conflict, "the placement ended on %s", p.EndedOn.Format(time.DateOnly))
		}
		if err := change(tx, p, acc); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE placements SET version = version + 1, updated_at = now() WHERE id = $1`, id); err != nil {
			return postgres.Translate(err)
		}
		out, err = placementByID(ctx, tx, id, s.today())
		return err
	})
	if err != nil {
		return Placement{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, what+" of placement "+id)
}

// ExtendPlacement moves the planned end of a placement at version later,
// within the maximum length of its kind.
func (s *Service) ExtendPlacement(ctx context.Context, a tenants.Actor, id string, version int, in ExtensionInput) (Placement, error) {
	return s.changePlacement(ctx, a, id, version, "extension", func(tx *sqlx.Tx, p Placement, acc access) error {
		f := apperr.Fields{}
		reason := text(f, "reason", in.Reason, 1000, true)
		end, ok := date(f, "new_end_on", in.NewEndOn, true)
		if ok && !end.After(p.PlannedEndOn.Time) {
			f.Add("new_end_on", "must be after the planned end in force, %s", p.PlannedEndOn.Format(time.DateOnly))
		}
		if ok && f["new_end_on"] == "" {
			tg, err := targetGroupOf(ctx, tx, p.PersonID)
			if err != nil {
				return err
			}
			if problem, _ := capProblem(p.Kind, tg, p.StartOn.Time, end, acc.may(targetGroupCategory(tg))); problem != "" {
				f.Add("new_end_on", "%s", problem)
			}
		}
		if err := f.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO placement_extensions (placement_id, previous_end_on, new_end_on, reason, tenant_id, user_id) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, p.PlannedEndOn.Time, end, reason, a.TenantID, nullUUID(a.UserID)); err != nil {
			return postgres.Translate(err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE placements SET planned_end_on = $2 WHERE id = $1`, id, end)
		return postgres.Translate(err)
	})
}

// EndPlacement ends a placement at version.
func (s *Service) EndPlacement(ctx context.Context, a tenants.Actor, id string, version int, in EndInput) (Placement, error) {
	return s.changePlacement(ctx, a, id, version, "end", func(tx *sqlx.Tx, p Placement, _ access) error {
		f := apperr.Fields{}
		reason := text(f, "reason", in.Reason, 1000, true)
		day, ok := date(f, "ended_on", in.EndedOn, true)
		switch {
		case !ok:
		case day.Before(p.StartOn.Time):
			f.Add("ended_on", "is before the start, %s", p.StartOn.Format(time.DateOnly))
		case day.After(s.today()):
			f.Add("ended_on", "is in the future: end the placement on the day it ends")
		}
		if err := f.Err(); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE placements SET ended_on = $2, end_reason = $3 WHERE id = $1`, id, day, reason)
		return postgres.Translate(err)
	})
}

// AttendanceView is the attendance of a placement with the allowance due.
type AttendanceView struct {
	Months              []Attendance `json:"items"`
	AttendedHours       Hours        `json:"attended_hours"`
	TotalAllowanceCents int64        `json:"total_allowance_cents"`
}

// Attendance lists the months of attendance of a placement.
func (s *Service) Attendance(ctx context.Context, a tenants.Actor, id string) (AttendanceView, error) {
	personID, acc, err := s.placementGuard(ctx, a, id, policies.ActRead, "placement attendance")
	if err != nil {
		return AttendanceView{}, err
	}
	ms, err := attendanceOf(ctx, s.db, id, nil)
	if err != nil {
		return AttendanceView{}, err
	}
	v := AttendanceView{Months: ms}
	for _, m := range ms {
		v.AttendedHours += m.AttendedHours
		v.TotalAllowanceCents += m.AllowanceCents
	}
	return v, s.logged(ctx, a, personID, policies.LogRead, acc.reason("attendance of placement "+id))
}

// RecordAttendance sets the attendance of a month (YYYY-MM) of a placement
// and computes its allowance with the cap and rate in force. A month already
// recorded changes only with its version (ifMatch); a new month takes none.
func (s *Service) RecordAttendance(ctx context.Context, a tenants.Actor, id, month string, ifMatch *int, in AttendanceInput) (Attendance, error) {
	personID, _, err := s.placementGuard(ctx, a, id, policies.ActWrite, "placement attendance")
	if err != nil {
		return Attendance{}, err
	}
	m, ok := parseMonth(month)
	if !ok {
		return Attendance{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid",
			Fields: map[string]string{"month": "must be a month as YYYY-MM"}}
	}
	var out Attendance
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := lockRow(ctx, tx, "placements", id); err != nil {
			return err
		}
		p, err := placementByID(ctx, tx, id, s.today())
		if err != nil {
			return err
		}
		minutes, err := checkAttendance(in, m, p, s.today())
		if err != nil {
			return err
		}
		var capC, rateC int64
		if p.MonthlyCapCents != nil {
			capC, rateC = *p.MonthlyCapCents, *p.HourlyRateCents
		}
		allowance := Allowance(minutes, rateC, capC)
		cur, err := attendanceOf(ctx, tx, id, &m)
		if err != nil {
			return err
		}
		switch {
		case len(cur) == 0 && ifMatch != nil && *ifMatch != 0:
			return apperr.New(apperr.Conflict, "%s has no attendance recorded yet: send no If-Match to record it", month)
		case len(cur) == 0:
			_, err = tx.ExecContext(ctx, `
INSERT INTO placement_attendance (placement_id, month, attended_minutes, cap_cents, rate_cents, allowance_cents, note, tenant_id, user_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, m, minutes, capC, rateC, allowance, strings.TrimSpace(in.Note), a.TenantID, nullUUID(a.UserID))
		case ifMatch == nil:
			return &apperr.Error{Code: apperr.Malformed, Message: fmt.Sprintf("%s is already recorded (version %d): send If-Match with the version to correct it", month, cur[0].Version),
				Fields: map[string]string{"If-Match": "is required to change a recorded month"}}
		case *ifMatch != cur[0].Version:
			return apperr.New(apperr.Conflict, "%s changed after version %d (now %d): reload it and try again", month, *ifMatch, cur[0].Version)
		default:
			_, err = tx.ExecContext(ctx, `
UPDATE placement_attendance SET attended_minutes = $3, cap_cents = $4, rate_cents = $5, allowance_cents = $6, note = $7,
	tenant_id = $8, user_id = $9, version = version + 1, updated_at = now()
WHERE placement_id = $1 AND month = $2`, id, m, minutes, capC, rateC, allowance, strings.TrimSpace(in.Note), a.TenantID, nullUUID(a.UserID))
		}
		if err != nil {
			return postgres.Translate(fmt.Errorf("record attendance: %w", err))
		}
		got, err := attendanceOf(ctx, tx, id, &m)
		if err != nil {
			return err
		}
		out = got[0]
		return nil
	})
	if err != nil {
		return Attendance{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, "attendance of "+month+" of placement "+id)
}

// Follow-ups ---------------------------------------------------------------

// RecordFollowUp records the person's status at exit or six months later.
func (s *Service) RecordFollowUp(ctx context.Context, a tenants.Actor, personID string, in FollowUpInput) (FollowUp, error) {
	if _, err := s.guard(ctx, a, personID, policies.ActWrite, "follow-up", nil); err != nil {
		return FollowUp{}, err
	}
	c, err := in.check(s.today())
	if err != nil {
		return FollowUp{}, err
	}
	var out FollowUp
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var id string
		err := tx.GetContext(ctx, &id, `
INSERT INTO follow_ups (person_id, tenant_id, user_id, kind, exit_on, observed_on, status, self_employed, contract,
	qualification_gained, improved_situation, employer_id, note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			personID, a.TenantID, nullUUID(a.UserID), c.Kind, c.Exit, c.Observed, c.Status, c.SelfEmployed, c.Contract,
			c.QualificationGained, c.ImprovedSituation, nullUUID(c.EmployerID), c.Note)
		if err != nil {
			err = fkField(err, map[string][2]string{"follow_ups_employer_id_fkey": {"employer_id", "is not an employer of the network"}})
			if apperr.Is(err, apperr.Conflict) {
				return apperr.Wrap(err, apperr.Conflict, "the %s follow-up of the exit on %s is already recorded", c.Kind, c.Exit.Format(time.DateOnly))
			}
			return err
		}
		fs, err := followUpsOf(ctx, tx, `WHERE f.id = $1`, id)
		if err != nil {
			return err
		}
		out = fs[0]
		return nil
	})
	if err != nil {
		return FollowUp{}, err
	}
	return out, s.logged(ctx, a, personID, policies.LogWrite, "follow-up "+out.ID+" ("+out.Kind+") recorded")
}

// FollowUps lists the person's follow-ups.
func (s *Service) FollowUps(ctx context.Context, a tenants.Actor, personID string) ([]FollowUp, error) {
	acc, err := s.readGuard(ctx, a, personID, "follow-ups", nil)
	if err != nil {
		return nil, err
	}
	where, args := acc.ownOnly(`WHERE f.person_id = $1`, "f", []any{personID})
	fs, err := followUpsOf(ctx, s.db, where, args...)
	if err != nil {
		return nil, err
	}
	return fs, s.logged(ctx, a, personID, policies.LogRead, acc.reason(fmt.Sprintf("follow-ups (%d shown)", len(fs))))
}
