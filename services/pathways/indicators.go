package pathways

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/storage/postgres"
)

// The numbers a coordinator needs, one SQL query each, aggregated over the
// whole network (no personal data: counts and sums). $1 and $2 are the
// first and last day of the period, inclusive. They make no access
// decision: the caller (services/reports) checks that the actor may read
// aggregated employment data (policies: the coordinator's aggregate rule).

// HoursByActivitySQL sums the hours of activities held in the period, by
// kind.
const HoursByActivitySQL = `
SELECT a.kind, sum(a.minutes)::bigint AS minutes, count(*) AS activities,
	count(DISTINCT a.person_id) AS participants, count(DISTINCT a.tenant_id) AS tenants
FROM activities a
WHERE a.held_on BETWEEN $1 AND $2
GROUP BY a.kind
ORDER BY a.kind`

// PlacementsByKindSQL counts the placements that started in the period,
// by kind and target group, with the hours attended and the allowances due.
const PlacementsByKindSQL = `
SELECT p.kind, p.target_group, count(*) AS placements, count(DISTINCT p.person_id) AS participants,
	count(*) FILTER (WHERE p.ended_on IS NULL) AS open, count(*) FILTER (WHERE p.ended_on IS NOT NULL) AS ended,
	count(*) FILTER (WHERE EXISTS (SELECT 1 FROM placement_extensions x WHERE x.placement_id = p.id)) AS extended,
	coalesce(sum(att.minutes), 0)::bigint AS attended_minutes, coalesce(sum(att.allowance), 0)::bigint AS allowance_cents
FROM placements p
LEFT JOIN (SELECT placement_id, sum(attended_minutes) AS minutes, sum(allowance_cents) AS allowance
	FROM placement_attendance GROUP BY placement_id) att ON att.placement_id = p.id
WHERE p.start_on BETWEEN $1 AND $2
GROUP BY p.kind, p.target_group
ORDER BY p.kind, p.target_group`

// OutcomesSQL counts the follow-ups of the exits in the period, at exit and
// six months later, by status, with the figures of the ESF common result
// indicators (Reg. (EU) 1304/2013, Annex I).
const OutcomesSQL = `
SELECT f.kind, f.status, count(*) AS participants,
	count(*) FILTER (WHERE f.self_employed) AS self_employed,
	count(*) FILTER (WHERE f.qualification_gained) AS qualification_gained,
	count(*) FILTER (WHERE f.improved_situation) AS improved_situation
FROM follow_ups f
WHERE f.exit_on BETWEEN $1 AND $2
GROUP BY f.kind, f.status
ORDER BY f.kind, f.status`

// ActivityHours is a row of HoursByActivity.
type ActivityHours struct {
	Kind         string `db:"kind" json:"kind"`
	Minutes      int64  `db:"minutes" json:"-"`
	Hours        Hours  `db:"-" json:"hours"`
	Activities   int    `db:"activities" json:"activities"`
	Participants int    `db:"participants" json:"participants"`
	Tenants      int    `db:"tenants" json:"tenants"`
}

// HoursByActivity runs HoursByActivitySQL.
func HoursByActivity(ctx context.Context, q sqlx.QueryerContext, from, to time.Time) ([]ActivityHours, error) {
	var out []ActivityHours
	if err := sqlx.SelectContext(ctx, q, &out, HoursByActivitySQL, from, to); err != nil {
		return nil, postgres.Translate(fmt.Errorf("hours by activity: %w", err))
	}
	for i := range out {
		out[i].Hours = Hours(out[i].Minutes)
	}
	return out, nil
}

// PlacementCount is a row of PlacementsByKind.
type PlacementCount struct {
	Kind            string `db:"kind" json:"kind"`
	TargetGroup     string `db:"target_group" json:"target_group"`
	Placements      int    `db:"placements" json:"placements"`
	Participants    int    `db:"participants" json:"participants"`
	Open            int    `db:"open" json:"open"`
	Ended           int    `db:"ended" json:"ended"`
	Extended        int    `db:"extended" json:"extended"`
	AttendedMinutes int64  `db:"attended_minutes" json:"-"`
	AttendedHours   Hours  `db:"-" json:"attended_hours"`
	AllowanceCents  int64  `db:"allowance_cents" json:"allowance_cents"`
}

// PlacementsByKind runs PlacementsByKindSQL.
func PlacementsByKind(ctx context.Context, q sqlx.QueryerContext, from, to time.Time) ([]PlacementCount, error) {
	var out []PlacementCount
	if err := sqlx.SelectContext(ctx, q, &out, PlacementsByKindSQL, from, to); err != nil {
		return nil, postgres.Translate(fmt.Errorf("placements by kind: %w", err))
	}
	for i := range out {
		out[i].AttendedHours = Hours(out[i].AttendedMinutes)
	}
	return out, nil
}

// OutcomeCount is a row of Outcomes.
type OutcomeCount struct {
	Kind                string `db:"kind" json:"kind"` // at_exit, six_months
	Status              string `db:"status" json:"status"`
	Participants        int    `db:"participants" json:"participants"`
	SelfEmployed        int    `db:"self_employed" json:"self_employed"`
	QualificationGained int    `db:"qualification_gained" json:"qualification_gained"`
	ImprovedSituation   int    `db:"improved_situation" json:"improved_situation"`
}

// Outcomes runs OutcomesSQL.
func Outcomes(ctx context.Context, q sqlx.QueryerContext, from, to time.Time) ([]OutcomeCount, error) {
	var out []OutcomeCount
	if err := sqlx.SelectContext(ctx, q, &out, OutcomesSQL, from, to); err != nil {
		return nil, postgres.Translate(fmt.Errorf("outcomes: %w", err))
	}
	return out, nil
}
