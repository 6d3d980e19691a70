package pathways

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"attivi/policies"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// Candidate is what matching needs to know of a participant: employment
// data only (the latest assessment, the kinds of action of the current
// plan, the stage, an active placement) and the name when the tenant may
// read the person's identity.
type Candidate struct {
	PersonID        string
	NameVisible     bool
	GivenName       string // empty unless NameVisible
	FamilyName      string
	Stage           string // "" when the path has no stage yet
	AssessmentID    string
	AssessedOn      time.Time
	Scores          map[string]int
	Interests       []string
	PlanID          string // the plan in force, or else the draft; "" when none
	PlanStatus      string
	PlanKinds       []string // kinds of the plan's actions
	ActivePlacement string   // kind of a running placement, "" when none
}

// Candidates lists the participants that matching may consider for the
// actor's tenant: those whose employment data the tenant may read (decided
// inside the query, with the same rule as the per-person decision: DESIGN
// section 6), who have an assessment and whose path is not closed. It writes
// no access log: the caller logs the persons it shows.
func (s *Service) Candidates(ctx context.Context, a tenants.Actor) ([]Candidate, error) {
	f := s.engine.ListFilter(a, policies.ActRead)
	args := []any{a.TenantID}
	emp, empArgs := f.SQL(policies.CatEmployment, string(a.TenantKind), "p.id", "$1", len(args)+1)
	if emp == "FALSE" {
		return nil, nil
	}
	args = append(args, empArgs...)
	ident, identArgs := f.SQL(policies.CatIdentity, string(a.TenantKind), "p.id", "$1", len(args)+1)
	args = append(args, identArgs...)
	stmt := `
SELECT p.id AS person_id,
	(` + ident + `) AS name_visible,
	CASE WHEN ` + ident + ` THEN p.given_name ELSE '' END AS given_name,
	CASE WHEN ` + ident + ` THEN p.family_name ELSE '' END AS family_name,
	coalesce(st.stage, '') AS stage,
	la.id AS assessment_id, la.assessed_on, la.interests,
	coalesce((SELECT json_object_agg(sc.area, sc.score) FROM assessment_scores sc WHERE sc.assessment_id = la.id), '{}') AS scores,
	coalesce(cp.id::text, '') AS plan_id, coalesce(cp.status, '') AS plan_status,
	coalesce((SELECT array_agg(DISTINCT pa.kind ORDER BY pa.kind) FROM plan_actions pa WHERE pa.plan_id = cp.id), '{}') AS plan_kinds,
	coalesce((SELECT pl.kind FROM placements pl
		WHERE pl.person_id = p.id AND pl.ended_on IS NULL AND pl.start_on <= ` + policies.TodaySQL + `
		  AND pl.planned_end_on >= ` + policies.TodaySQL + `
		ORDER BY pl.start_on LIMIT 1), '') AS active_placement
FROM persons p
JOIN LATERAL (SELECT x.id, x.assessed_on, x.interests FROM assessments x WHERE x.person_id = p.id
	ORDER BY x.assessed_on DESC, x.created_at DESC LIMIT 1) la ON true
LEFT JOIN LATERAL (SELECT s.stage FROM pathway_stages s WHERE s.person_id = p.id ORDER BY s.seq DESC LIMIT 1) st ON true
LEFT JOIN LATERAL (SELECT pl.id, pl.status FROM plans pl WHERE pl.person_id = p.id AND pl.status IN ('signed', 'draft')
	ORDER BY pl.status = 'signed' DESC, pl.version DESC LIMIT 1) cp ON true
WHERE ` + emp + `
  AND coalesce(st.stage, '') <> 'closed'
ORDER BY p.id`
	rows, err := s.db.QueryxContext(ctx, stmt, args...)
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("matching candidates: %w", err))
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		var c Candidate
		var interests, kinds pq.StringArray
		var scores []byte
		if err := rows.Scan(&c.PersonID, &c.NameVisible, &c.GivenName, &c.FamilyName, &c.Stage, &c.AssessmentID, &c.AssessedOn,
			&interests, &scores, &c.PlanID, &c.PlanStatus, &kinds, &c.ActivePlacement); err != nil {
			return nil, postgres.Translate(err)
		}
		c.Interests, c.PlanKinds = nonNil(interests), nonNil(kinds)
		if err := json.Unmarshal(scores, &c.Scores); err != nil {
			return nil, fmt.Errorf("candidate scores: %w", err)
		}
		out = append(out, c)
	}
	return out, postgres.Translate(rows.Err())
}
