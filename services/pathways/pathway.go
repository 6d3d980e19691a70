// Package pathways is a participant's path to work (DESIGN sections 1 to 3,
// issue 8): the stages of the path, the skills assessment (bilancio delle
// competenze), the individual action plan in signed versions, the hours of
// supporting activities, placements with their monthly attendance and
// allowance (borsa lavoro), and the follow-ups at exit and six months later.
//
// All of it is the `employment` category of a person: every read and write
// asks the policies engine for the person (404 when the person is not
// visible to the tenant, 403 when visible but the category is not allowed),
// and every read and denial is written to the access log.
package pathways

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"attivi/apperr"
)

// Stages of the path, in order.
const (
	StageSelection               = "selection"
	StageInitialAssessment       = "initial_assessment"
	StageOrientation             = "orientation"
	StageEmployabilityAssessment = "employability_assessment"
	StagePlan                    = "plan"
	StageInPlacement             = "in_placement"
	StageFollowUp                = "follow_up"
	StageClosed                  = "closed"
)

// Stages lists the stages in the order of the path.
var Stages = []string{StageSelection, StageInitialAssessment, StageOrientation, StageEmployabilityAssessment,
	StagePlan, StageInPlacement, StageFollowUp, StageClosed}

// CloseReasons are why a path is closed.
var CloseReasons = []string{"completed", "hired", "withdrew", "not_eligible", "moved_away", "health", "lost_contact", "other"}

// nextStages says where a path may go from each stage ("" is a person with
// no stage yet). The path goes forward one stage at a time; from the plan a
// participant may go straight to the follow-up (hired without a placement);
// a placement that ends early goes back to the plan; a follow-up may reopen
// a plan; a closed path may start again from selection (a new edition).
// Closing is possible from every open stage.
var nextStages = map[string][]string{
	"":                           {StageSelection},
	StageSelection:               {StageInitialAssessment, StageClosed},
	StageInitialAssessment:       {StageOrientation, StageClosed},
	StageOrientation:             {StageEmployabilityAssessment, StageClosed},
	StageEmployabilityAssessment: {StagePlan, StageClosed},
	StagePlan:                    {StageInPlacement, StageFollowUp, StageClosed},
	StageInPlacement:             {StageFollowUp, StagePlan, StageClosed},
	StageFollowUp:                {StagePlan, StageClosed},
	StageClosed:                  {StageSelection},
}

// StageChange is a move of the path, as asked.
type StageChange struct {
	Stage     string `json:"stage"`
	EnteredOn string `json:"entered_on"` // YYYY-MM-DD; today when empty
	Reason    string `json:"reason"`     // required to close, one of CloseReasons
	Note      string `json:"note"`
}

// StageEntry is one stage of a person's path, dated and attributed.
type StageEntry struct {
	Seq       int       `json:"seq"`
	Stage     string    `json:"stage"`
	EnteredOn Date      `json:"entered_on"`
	Reason    string    `json:"reason,omitempty"`
	Note      string    `json:"note,omitempty"`
	Tenant    string    `json:"tenant"`
	User      string    `json:"user,omitempty"`
	At        time.Time `json:"recorded_at"`
}

// checkStageChange validates a move from the current entry (nil: none) on
// day today, and returns the day of the new stage.
func checkStageChange(cur *StageEntry, in StageChange, today time.Time) (time.Time, error) {
	f := apperr.Fields{}
	from := ""
	if cur != nil {
		from = cur.Stage
	}
	switch {
	case in.Stage == "":
		f.Add("stage", "is required: one of %s", strings.Join(Stages, ", "))
	case !slices.Contains(Stages, in.Stage):
		f.Add("stage", "must be one of %s", strings.Join(Stages, ", "))
	case !slices.Contains(nextStages[from], in.Stage):
		if from == "" {
			f.Add("stage", "a path starts with selection")
		} else {
			f.Add("stage", "cannot go from %s to %s: from %s the path may go to %s", from, in.Stage, from, strings.Join(nextStages[from], " or "))
		}
	}
	if in.Stage == StageClosed {
		if !slices.Contains(CloseReasons, in.Reason) {
			f.Add("reason", "closing needs a reason: one of %s", strings.Join(CloseReasons, ", "))
		}
	} else if in.Reason != "" {
		f.Add("reason", "only closing takes a reason")
	}
	text(f, "note", in.Note, 2000, false)
	day := today
	if in.EnteredOn != "" {
		if d, ok := date(f, "entered_on", in.EnteredOn, true); ok {
			day = d
		}
	}
	if day.After(today) {
		f.Add("entered_on", "is in the future")
	}
	if cur != nil && day.Before(cur.EnteredOn.Time) {
		f.Add("entered_on", "is before %s, when the path entered %s", cur.EnteredOn.Format(time.DateOnly), cur.Stage)
	}
	return day, f.Err()
}

// Assessment areas, scored 0-4 in the style of ICF qualifiers.
const (
	AreaFunctioning         = "functioning"
	AreaAutonomy            = "autonomy"
	AreaRelational          = "relational"
	AreaWorkSkills          = "work_skills"
	AreaMotivation          = "motivation"
	AreaContextFacilitators = "context_facilitators"
	AreaContextBarriers     = "context_barriers"
)

// Areas lists the assessment areas.
var Areas = []string{AreaFunctioning, AreaAutonomy, AreaRelational, AreaWorkSkills, AreaMotivation,
	AreaContextFacilitators, AreaContextBarriers}

// HigherIsBetter says how an area's score reads. As ICF qualifiers, every
// score but one is the extent of a difficulty: 0 none, 1 mild, 2 moderate,
// 3 severe, 4 complete, so lower is better. Context facilitators are scored
// like the ICF's positive qualifiers of environmental factors: 0 none to 4
// substantial, so higher is better.
func HigherIsBetter(area string) bool { return area == AreaContextFacilitators }

// ScaleOf describes an area's scale in words.
func ScaleOf(area string) string {
	if HigherIsBetter(area) {
		return "0 no facilitator, 1 mild, 2 moderate, 3 considerable, 4 substantial: higher is better"
	}
	return "0 no difficulty, 1 mild, 2 moderate, 3 severe, 4 complete: lower is better"
}

// Score is one area of an assessment.
type Score struct {
	Score int    `json:"score"`
	Note  string `json:"note,omitempty"`
}

// Session is a meeting of an assessment.
type Session struct {
	HeldOn string      `json:"held_on"`
	Hours  json.Number `json:"hours"`
}

// AssessmentInput is a new assessment.
type AssessmentInput struct {
	AssessedOn string           `json:"assessed_on"`
	OperatorID string           `json:"operator_id"` // staff of the acting tenant; the user when empty
	Scores     map[string]Score `json:"scores"`
	Strengths  []string         `json:"strengths"`
	Limits     []string         `json:"limits"`
	Interests  []string         `json:"interests"` // professional interests
	Synthesis  string           `json:"synthesis"`
	Sessions   []Session        `json:"sessions"`
}

type checkedSession struct {
	HeldOn  time.Time
	Minutes int
}

type checkedAssessment struct {
	AssessedOn time.Time
	Scores     map[string]Score
	Strengths  []string
	Limits     []string
	Interests  []string
	Synthesis  string
	Sessions   []checkedSession
}

func (in AssessmentInput) check(today time.Time) (checkedAssessment, error) {
	f := apperr.Fields{}
	var out checkedAssessment
	if d, ok := date(f, "assessed_on", in.AssessedOn, true); ok {
		if d.After(today) {
			f.Add("assessed_on", "is in the future")
		}
		out.AssessedOn = d
	}
	if in.OperatorID != "" && !isUUID(in.OperatorID) {
		f.Add("operator_id", "must be the id of a staff member of your tenant")
	}
	out.Scores = map[string]Score{}
	var missing []string
	for _, a := range Areas {
		s, ok := in.Scores[a]
		if !ok {
			missing = append(missing, a)
			continue
		}
		if s.Score < 0 || s.Score > 4 {
			f.Add("scores."+a, "must be from 0 to 4 (%s)", ScaleOf(a))
		}
		text(f, "scores."+a+".note", s.Note, 2000, false)
		out.Scores[a] = Score{Score: s.Score, Note: strings.TrimSpace(s.Note)}
	}
	if len(missing) > 0 {
		f.Add("scores", "every area needs a score; missing: %s", strings.Join(missing, ", "))
	}
	for a := range in.Scores {
		if !slices.Contains(Areas, a) {
			f.Add("scores."+a, "is not an area: the areas are %s", strings.Join(Areas, ", "))
		}
	}
	out.Strengths = list(f, "strengths", in.Strengths)
	out.Limits = list(f, "limits", in.Limits)
	out.Interests = list(f, "interests", in.Interests)
	out.Synthesis = text(f, "synthesis", in.Synthesis, 8000, true)
	if len(in.Sessions) == 0 {
		f.Add("sessions", "list the sessions held (date and hours): at least one")
	}
	for i, s := range in.Sessions {
		name := fmt.Sprintf("sessions[%d]", i)
		d, ok := date(f, name+".held_on", s.HeldOn, true)
		if ok && d.After(today) {
			f.Add(name+".held_on", "is in the future")
		}
		m := hours(f, name+".hours", s.Hours, true)
		if m > 24*60 {
			f.Add(name+".hours", "is more than a day")
		}
		if ok && !out.AssessedOn.IsZero() && d.After(out.AssessedOn) {
			f.Add(name+".held_on", "is after the assessment's date")
		}
		out.Sessions = append(out.Sessions, checkedSession{HeldOn: d, Minutes: m})
	}
	return out, f.Err()
}

// Assessment is a recorded assessment.
type Assessment struct {
	ID         string           `json:"id"`
	PersonID   string           `json:"person_id"`
	Tenant     string           `json:"tenant"`
	Operator   Staff            `json:"operator"`
	AssessedOn Date             `json:"assessed_on"`
	Scores     map[string]Score `json:"scores"`
	Strengths  []string         `json:"strengths"`
	Limits     []string         `json:"limits"`
	Interests  []string         `json:"interests"`
	Synthesis  string           `json:"synthesis"`
	Sessions   []SessionOut     `json:"sessions"`
	TotalHours Hours            `json:"total_hours"`
	CreatedAt  time.Time        `json:"created_at"`
}

// SessionOut is a session as recorded.
type SessionOut struct {
	HeldOn Date  `json:"held_on"`
	Hours  Hours `json:"hours"`
}

// Staff names a staff member.
type Staff struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AreaChange is one area of a comparison.
type AreaChange struct {
	Area   string `json:"area"`
	From   int    `json:"from"`
	To     int    `json:"to"`
	Change int    `json:"change"` // to - from
	// Trend is improved, worsened or unchanged, reading the scale of the area.
	Trend string `json:"trend"`
	Scale string `json:"scale"`
}

// Comparison puts two assessments side by side.
type Comparison struct {
	From      Assessment   `json:"from"`
	To        Assessment   `json:"to"`
	Areas     []AreaChange `json:"areas"`
	Improved  []string     `json:"improved"`
	Worsened  []string     `json:"worsened"`
	Unchanged []string     `json:"unchanged"`
}

// Compare says, area by area, what changed from one assessment to a later
// one.
func Compare(from, to Assessment) Comparison {
	c := Comparison{From: from, To: to, Improved: []string{}, Worsened: []string{}, Unchanged: []string{}}
	for _, a := range Areas {
		f, t := from.Scores[a].Score, to.Scores[a].Score
		ch := AreaChange{Area: a, From: f, To: t, Change: t - f, Scale: ScaleOf(a)}
		better := t < f
		if HigherIsBetter(a) {
			better = t > f
		}
		switch {
		case t == f:
			ch.Trend = "unchanged"
			c.Unchanged = append(c.Unchanged, a)
		case better:
			ch.Trend = "improved"
			c.Improved = append(c.Improved, a)
		default:
			ch.Trend = "worsened"
			c.Worsened = append(c.Worsened, a)
		}
		c.Areas = append(c.Areas, ch)
	}
	return c
}

// Kinds of plan actions and placements: the tools of the plan.
const (
	KindLaboratorio    = "laboratorio_preformazione"
	KindTirocinio      = "tirocinio"
	KindPercorso       = "percorso_in_azienda"
	KindBorsaLavoro    = "inserimento_borsa_lavoro"
	KindFormazione     = "formazione_esterna"
	KindAssunzione     = "assunzione"
	TargetL68          = "disabile_l68"
	TargetMentalHealth = "salute_mentale"
)

// ActionKinds lists the kinds of plan actions and placements.
var ActionKinds = []string{KindLaboratorio, KindTirocinio, KindPercorso, KindBorsaLavoro, KindFormazione, KindAssunzione}

// Date is a calendar day; in JSON YYYY-MM-DD.
type Date struct{ time.Time }

// MarshalJSON writes the day.
func (d Date) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.Format(time.DateOnly) + `"`), nil
}

// UnmarshalJSON reads a day written as YYYY-MM-DD.
func (d *Date) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("a date must be a string YYYY-MM-DD")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("a date must be YYYY-MM-DD")
	}
	d.Time = t
	return nil
}

// Hours is a duration in whole minutes, written in JSON as decimal hours.
type Hours int

// MarshalJSON writes the hours with at most two decimals.
func (h Hours) MarshalJSON() ([]byte, error) { return []byte(h.String()), nil }

// String is the hours with at most two decimals (rounded half up).
func (h Hours) String() string {
	m := int64(h)
	neg := m < 0
	if neg {
		m = -m
	}
	hundredths := (m*100 + 30) / 60
	s := strconv.FormatInt(hundredths/100, 10)
	if frac := hundredths % 100; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%02d", frac), "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseHours reads decimal hours (at most two decimals, making whole
// minutes: 1.5, 0.25, 2.75, 0.1) into minutes, without floating point.
func ParseHours(s string) (int, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	bad := fmt.Errorf("must be hours as a number, with at most two decimals (such as 1.5 or 0.25)")
	if whole == "" || len(whole) > 6 || strings.Trim(whole, "0123456789") != "" || len(frac) > 2 ||
		strings.Trim(frac, "0123456789") != "" || (strings.Contains(s, ".") && frac == "") {
		return 0, bad
	}
	w, _ := strconv.Atoi(whole)
	for len(frac) < 2 {
		frac += "0"
	}
	hd, _ := strconv.Atoi(frac)
	hundredths := w*100 + hd
	if hundredths*60%100 != 0 {
		return 0, fmt.Errorf("must make whole minutes: use quarters or tenths of an hour (such as 1.25 or 0.1), or multiples of 0.05")
	}
	return hundredths * 60 / 100, nil
}

// validation helpers: each adds its problem to f under the field's name.

func date(f apperr.Fields, field, s string, required bool) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			f.Add(field, "is required: a date as YYYY-MM-DD")
		}
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		f.Add(field, "must be a date as YYYY-MM-DD")
		return time.Time{}, false
	}
	if d.Year() < 2000 || d.Year() > 2100 {
		f.Add(field, "is not a plausible date for the programme")
		return time.Time{}, false
	}
	return d, true
}

func text(f apperr.Fields, field, s string, max int, required bool) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		f.Add(field, "is required")
	case len([]rune(s)) > max:
		f.Add(field, "is longer than %d characters", max)
	}
	return s
}

func list(f apperr.Fields, field string, in []string) []string {
	out := []string{}
	if len(in) > 30 {
		f.Add(field, "may hold at most 30 items")
	}
	for i, s := range in {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			f.Add(fmt.Sprintf("%s[%d]", field, i), "is empty")
		case len([]rune(s)) > 300:
			f.Add(fmt.Sprintf("%s[%d]", field, i), "is longer than 300 characters")
		}
		out = append(out, s)
	}
	return out
}

func hours(f apperr.Fields, field string, n json.Number, required bool) int {
	if n == "" {
		if required {
			f.Add(field, "is required: hours, such as 1.5")
		}
		return 0
	}
	m, err := ParseHours(n.String())
	if err != nil {
		f.Add(field, "%s", err.Error())
		return 0
	}
	if m == 0 {
		f.Add(field, "must be more than zero")
	}
	return m
}

func oneOf(f apperr.Fields, field, v string, allowed []string, required bool) {
	switch {
	case v == "" && !required:
	case v == "":
		f.Add(field, "is required: one of %s", strings.Join(allowed, ", "))
	case !slices.Contains(allowed, v):
		f.Add(field, "must be one of %s", strings.Join(allowed, ", "))
	}
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return false
			}
		}
	}
	return true
}
