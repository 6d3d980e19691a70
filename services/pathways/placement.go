package pathways

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"attivi/apperr"
)

// LengthCap is the longest a placement of a kind may last (from its start
// to its planned end, extensions included) for participants of a target
// group, and where the rule comes from.
type LengthCap struct {
	Kind        string
	TargetGroup string
	Months      int
	Source      string
}

// LengthCaps is the table of maximum lengths. A kind and target group that
// is not in the table has no maximum (external training lasts what its
// course lasts, a hiring is a contract, the pre-training workshops are the
// programme's own and have no legal limit).
var LengthCaps = []LengthCap{
	{KindTirocinio, TargetL68, 24,
		"Linee guida in materia di tirocini formativi e di orientamento, Accordo Conferenza Stato-Regioni 25 maggio 2017, par. 4: up to 24 months for persons with disabilities (L. 68/1999 art. 1 c. 1)"},
	{KindTirocinio, TargetMentalHealth, 12,
		"Linee guida tirocini, Accordo Conferenza Stato-Regioni 25 maggio 2017, par. 4: up to 12 months for disadvantaged persons (L. 381/1991 art. 4: persons in psychiatric treatment)"},
	{KindPercorso, TargetL68, 24,
		"a path inside a company is a tirocinio extracurriculare: Accordo Stato-Regioni 25 maggio 2017, par. 4 (persons with disabilities)"},
	{KindPercorso, TargetMentalHealth, 12,
		"a path inside a company is a tirocinio extracurriculare: Accordo Stato-Regioni 25 maggio 2017, par. 4 (disadvantaged persons)"},
	{KindBorsaLavoro, TargetL68, 24,
		"Linee guida per i tirocini di orientamento, formazione e inserimento/reinserimento finalizzati all'inclusione sociale, all'autonomia delle persone e alla riabilitazione, Accordo Conferenza Stato-Regioni 22 gennaio 2015: up to 24 months"},
	{KindBorsaLavoro, TargetMentalHealth, 24,
		"Linee guida tirocini di inclusione sociale, Accordo Conferenza Stato-Regioni 22 gennaio 2015: up to 24 months"},
}

// MaxLength returns the cap of a kind for a target group, if there is one.
func MaxLength(kind, targetGroup string) (LengthCap, bool) {
	for _, c := range LengthCaps {
		if c.Kind == kind && c.TargetGroup == targetGroup {
			return c, true
		}
	}
	return LengthCap{}, false
}

// LatestEnd is the last day of a placement of months months that starts on
// start: the day before the same day months later (the last day of that
// month when it has no such day, as the civil code counts terms in months).
func LatestEnd(start time.Time, months int) time.Time {
	y, m, d := start.Date()
	first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	if d > last {
		d = last
	}
	return time.Date(first.Year(), first.Month(), d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
}

// Allowance is the monthly allowance of a placement: the attended hours
// times the hourly rate, rounded to the nearest cent (half up), and never
// more than the monthly cap. Integer arithmetic only; the database checks
// the same formula on every attendance row.
func Allowance(attendedMinutes int, rateCents, capCents int64) int64 {
	v := (int64(attendedMinutes)*rateCents + 30) / 60
	return min(v, capCents)
}

// needsHost are the kinds that happen at an employer's.
var needsHost = map[string]bool{KindTirocinio: true, KindPercorso: true, KindBorsaLavoro: true, KindAssunzione: true}

// needsInsurance are the kinds whose promoter must insure the participant
// with INAIL and for civil liability (RC) before the start.
var needsInsurance = map[string]bool{KindTirocinio: true, KindPercorso: true, KindBorsaLavoro: true}

// Tutor is the company tutor (business contact data).
type Tutor struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// PlacementInput is a new placement.
type PlacementInput struct {
	Kind            string      `json:"kind"`
	EmployerID      string      `json:"employer_id"`
	PlanActionID    string      `json:"plan_action_id"`
	StartOn         string      `json:"start_on"`
	PlannedEndOn    string      `json:"planned_end_on"`
	HoursPerWeek    json.Number `json:"hours_per_week"`
	Tutor           Tutor       `json:"company_tutor"`
	CaseManagerID   string      `json:"case_manager_id"` // staff of the acting tenant; the user when empty
	MonthlyCapCents *int64      `json:"monthly_cap_cents"`
	HourlyRateCents *int64      `json:"hourly_rate_cents"`
	InailRef        string      `json:"inail_ref"`
	RCPolicyRef     string      `json:"rc_policy_ref"`
}

type checkedPlacement struct {
	PlacementInput
	Start, PlannedEnd time.Time
	MinutesPerWeek    int
}

func (in PlacementInput) check() (checkedPlacement, apperr.Fields) {
	f := apperr.Fields{}
	out := checkedPlacement{PlacementInput: in}
	oneOf(f, "kind", in.Kind, ActionKinds, true)
	switch {
	case in.EmployerID != "" && !isUUID(in.EmployerID):
		f.Add("employer_id", "is not an employer of the network")
	case in.EmployerID == "" && needsHost[in.Kind]:
		f.Add("employer_id", "a placement of kind %s happens at an employer's: name the host employer", in.Kind)
	}
	if in.PlanActionID != "" && !isUUID(in.PlanActionID) {
		f.Add("plan_action_id", "is not an action of this person's plan")
	}
	if in.CaseManagerID != "" && !isUUID(in.CaseManagerID) {
		f.Add("case_manager_id", "must be the id of a staff member of your tenant")
	}
	var okS, okE bool
	out.Start, okS = date(f, "start_on", in.StartOn, true)
	out.PlannedEnd, okE = date(f, "planned_end_on", in.PlannedEndOn, true)
	if okS && okE && out.PlannedEnd.Before(out.Start) {
		f.Add("planned_end_on", "is before the start")
	}
	out.MinutesPerWeek = hours(f, "hours_per_week", in.HoursPerWeek, true)
	if out.MinutesPerWeek > 48*60 {
		f.Add("hours_per_week", "is more than 48 hours, the legal maximum working week")
	}
	out.Tutor.Name = text(f, "company_tutor.name", in.Tutor.Name, 200, needsHost[in.Kind])
	out.Tutor.Phone = text(f, "company_tutor.phone", in.Tutor.Phone, 40, false)
	out.Tutor.Email = text(f, "company_tutor.email", in.Tutor.Email, 254, false)
	if e := out.Tutor.Email; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			f.Add("company_tutor.email", "is not an email address")
		}
	}
	switch {
	case (in.MonthlyCapCents == nil) != (in.HourlyRateCents == nil):
		f.Add("hourly_rate_cents", "an allowance needs both the monthly cap and the hourly rate (in cents)")
	case in.MonthlyCapCents != nil && in.Kind == KindAssunzione:
		f.Add("monthly_cap_cents", "a hired participant is paid by the employer: no allowance")
	case in.MonthlyCapCents != nil:
		if *in.MonthlyCapCents < 0 || *in.MonthlyCapCents > 1_000_000 {
			f.Add("monthly_cap_cents", "must be from 0 to 1000000 cents (10,000 EUR)")
		}
		if *in.HourlyRateCents < 0 || *in.HourlyRateCents > 10_000 {
			f.Add("hourly_rate_cents", "must be from 0 to 10000 cents (100 EUR an hour)")
		}
	}
	out.InailRef = text(f, "inail_ref", in.InailRef, 100, needsInsurance[in.Kind])
	out.RCPolicyRef = text(f, "rc_policy_ref", in.RCPolicyRef, 100, needsInsurance[in.Kind])
	if needsInsurance[in.Kind] {
		if in.InailRef == "" {
			f["inail_ref"] = "a placement of kind " + in.Kind + " needs the INAIL insurance reference before it starts"
		}
		if in.RCPolicyRef == "" {
			f["rc_policy_ref"] = "a placement of kind " + in.Kind + " needs the civil-liability (RC) policy number before it starts"
		}
	}
	return out, f
}

// capProblem says why a placement from start to end breaks the cap of its
// kind for the target group, or "". named says whether the actor may know
// the target group (it is disability or health data): if not, the message
// gives the limit without the reason.
func capProblem(kind, targetGroup string, start, end time.Time, named bool) (string, *LengthCap) {
	c, ok := MaxLength(kind, targetGroup)
	if !ok {
		return "", nil
	}
	latest := LatestEnd(start, c.Months)
	if !end.After(latest) {
		return "", &c
	}
	who := "for this participant"
	if named {
		who = "for participants of the target group " + targetGroup
	}
	return fmt.Sprintf("a placement of kind %s lasts at most %d months %s (until %s, extensions included)", kind, c.Months, who,
		latest.Format(time.DateOnly)), &c
}

// Placement is a placement as recorded.
type Placement struct {
	ID              string       `json:"id"`
	PersonID        string       `json:"person_id"`
	Tenant          string       `json:"tenant"`
	Kind            string       `json:"kind"`
	Employer        *EmployerRef `json:"employer"`
	PlanActionID    *string      `json:"plan_action_id"`
	StartOn         Date         `json:"start_on"`
	PlannedEndOn    Date         `json:"planned_end_on"`
	OriginalEndOn   Date         `json:"original_end_on"`
	EndedOn         *Date        `json:"ended_on"`
	EndReason       string       `json:"end_reason,omitempty"`
	Status          string       `json:"status"` // planned, active, ended, overdue (past its planned end, not ended)
	HoursPerWeek    Hours        `json:"hours_per_week"`
	Tutor           Tutor        `json:"company_tutor"`
	CaseManager     Staff        `json:"case_manager"`
	MonthlyCapCents *int64       `json:"monthly_cap_cents"`
	HourlyRateCents *int64       `json:"hourly_rate_cents"`
	InailRef        string       `json:"inail_ref"`
	RCPolicyRef     string       `json:"rc_policy_ref"`
	MaxMonths       *int         `json:"max_months"`
	Extensions      []Extension  `json:"extensions"`
	Version         int          `json:"version"`
	CreatedAt       time.Time    `json:"created_at"`
}

// EmployerRef names the host employer.
type EmployerRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Extension is a prolongation of a placement.
type Extension struct {
	PreviousEndOn Date      `json:"previous_end_on"`
	NewEndOn      Date      `json:"new_end_on"`
	Reason        string    `json:"reason"`
	Tenant        string    `json:"tenant"`
	At            time.Time `json:"recorded_at"`
}

// ExtensionInput extends a placement.
type ExtensionInput struct {
	NewEndOn string `json:"new_end_on"`
	Reason   string `json:"reason"`
}

// EndInput ends a placement.
type EndInput struct {
	EndedOn string `json:"ended_on"`
	Reason  string `json:"reason"`
}

func statusOf(start, plannedEnd time.Time, ended *Date, today time.Time) string {
	switch {
	case ended != nil:
		return "ended"
	case today.Before(start):
		return "planned"
	case today.After(plannedEnd):
		return "overdue"
	}
	return "active"
}

// Attendance is a month of attendance with the allowance it earns.
type Attendance struct {
	Month          string `json:"month"` // YYYY-MM
	AttendedHours  Hours  `json:"attended_hours"`
	CapCents       int64  `json:"cap_cents"`
	RateCents      int64  `json:"rate_cents"`
	AllowanceCents int64  `json:"allowance_cents"`
	Note           string `json:"note,omitempty"`
	Version        int    `json:"version"`
	Tenant         string `json:"tenant"`
}

// AttendanceInput records a month of attendance.
type AttendanceInput struct {
	AttendedHours json.Number `json:"attended_hours"`
	Note          string      `json:"note"`
}

// parseMonth reads YYYY-MM into the first day of the month.
func parseMonth(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01", strings.TrimSpace(s))
	return t, err == nil && t.Year() >= 2000 && t.Year() <= 2100
}

// checkAttendance validates a month of attendance of a placement.
func checkAttendance(in AttendanceInput, month time.Time, p Placement, today time.Time) (int, error) {
	f := apperr.Fields{}
	var minutes int
	if in.AttendedHours == "" {
		f.Add("attended_hours", "is required: the hours attended in the month, such as 62.5")
	} else if m, err := ParseHours(in.AttendedHours.String()); err != nil {
		f.Add("attended_hours", "%s", err.Error())
	} else {
		minutes = m
	}
	text(f, "note", in.Note, 1000, false)
	first := time.Date(p.StartOn.Year(), p.StartOn.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := p.PlannedEndOn.Time
	if p.EndedOn != nil {
		end = p.EndedOn.Time
	}
	switch {
	case month.Before(first) || month.After(end):
		f.Add("month", "is outside the placement (%s to %s)", p.StartOn.Format(time.DateOnly), end.Format(time.DateOnly))
	case month.After(today):
		f.Add("month", "has not started yet")
	}
	// A month has at most 31/7 weeks: allow the weekly hours for 5 weeks.
	if limit := int(p.HoursPerWeek) * 5; minutes > limit {
		f.Add("attended_hours", "is more than five weeks at %s hours a week: check the figure", p.HoursPerWeek)
	}
	return minutes, f.Err()
}
