// Package reports serves the programme's indicators to the network
// coordinator (DESIGN sections 2 and 8): hours of supporting work by kind,
// placements by kind and target group, and outcomes at exit and six months
// later, for a period, as JSON or exported as CSV or an Excel workbook.
// Every figure is a count or a sum over the whole network: no participant
// is named, so no read of personal data happens and none is logged; the
// access model still decides who may see (read) and take out (export)
// these aggregates.
package reports

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/pathways"
	"attivi/tenants"
)

// Service computes the indicators.
type Service struct {
	db     *sqlx.DB
	engine *policies.Engine
	now    func() time.Time
}

// NewService returns the reports service.
func NewService(db *sqlx.DB, engine *policies.Engine, now func() time.Time) *Service {
	return &Service{db: db, engine: engine, now: now}
}

// Indicators are the programme's figures for a period.
type Indicators struct {
	From        pathways.Date             `json:"from"`
	To          pathways.Date             `json:"to"`
	GeneratedAt time.Time                 `json:"generated_at"`
	Hours       []pathways.ActivityHours  `json:"hours_by_activity"`
	Placements  []pathways.PlacementCount `json:"placements_by_kind"`
	Outcomes    []pathways.OutcomeCount   `json:"outcomes"`
}

// MaxPeriod is the longest period one report covers.
const MaxPeriod = 10 * 366 * 24 * time.Hour

// Period reads the period of a report from its parameters (YYYY-MM-DD,
// inclusive; empty: from the first of January of this year to today, in
// Italy), naming each problem.
func (s *Service) Period(from, to string) (time.Time, time.Time, error) {
	today := policies.Today(s.now())
	f := apperr.Fields{}
	start, end := time.Date(today.Year(), 1, 1, 0, 0, 0, 0, time.UTC), today
	parse := func(field, v string, dst *time.Time) {
		if v == "" {
			return
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			f.Add(field, "must be a date as YYYY-MM-DD")
			return
		}
		*dst = d
	}
	parse("from", from, &start)
	parse("to", to, &end)
	if len(f) == 0 {
		switch {
		case end.Before(start):
			f.Add("to", "is before from (%s)", start.Format(time.DateOnly))
		case end.Sub(start) > MaxPeriod:
			f.Add("to", "is more than ten years after from: ask for a shorter period")
		}
	}
	if len(f) > 0 { // query parameters: a bad request, as the list parameters are
		return time.Time{}, time.Time{}, &apperr.Error{Code: apperr.Malformed, Message: "the report parameters are not valid", Fields: f}
	}
	return start, end, nil
}

// Indicators computes the figures of the period [from, to] for an actor
// whose roles may read the network's aggregated employment data (the
// coordinator), and, when export is true, take them out of the platform.
func (s *Service) Indicators(ctx context.Context, a tenants.Actor, from, to time.Time, export bool) (Indicators, error) {
	action := policies.ActRead
	if export {
		action = policies.ActExport
	}
	if !s.engine.Allowed(a, policies.CatEmployment, action) {
		verb := "read"
		if export {
			verb = "export"
		}
		return Indicators{}, apperr.New(apperr.Forbidden, "your roles in %s may not %s the network's indicators", a.TenantSlug, verb)
	}
	out := Indicators{From: pathways.Date{Time: from}, To: pathways.Date{Time: to}, GeneratedAt: s.now().UTC()}
	var err error
	if out.Hours, err = pathways.HoursByActivity(ctx, s.db, from, to); err != nil {
		return Indicators{}, err
	}
	if out.Placements, err = pathways.PlacementsByKind(ctx, s.db, from, to); err != nil {
		return Indicators{}, err
	}
	if out.Outcomes, err = pathways.Outcomes(ctx, s.db, from, to); err != nil {
		return Indicators{}, err
	}
	if out.Hours == nil {
		out.Hours = []pathways.ActivityHours{}
	}
	if out.Placements == nil {
		out.Placements = []pathways.PlacementCount{}
	}
	if out.Outcomes == nil {
		out.Outcomes = []pathways.OutcomeCount{}
	}
	return out, nil
}
