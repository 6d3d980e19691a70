// Package employers is the companies of the network (DESIGN sections 1 to
// 3, issue 8): employers with their VAT number and ATECO activity code,
// their contact persons, the scouting log of the contacts made with them,
// their openings, and the matching of an opening with the participants
// whose plan and assessment fit.
//
// Employers, contacts, the scouting log and openings hold no personal data
// of participants: they are shared network-wide (policies: the `employers`
// object, read by staff roles, written by job coaches, placement officers
// and coordinators). Matching shows participants: only those whose
// employment data the tenant may read, chosen inside the SQL query, and each
// one shown is written to the access log.
package employers

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"attivi/apperr"
	"attivi/services/pathways"
)

// Vocabularies.
var (
	// ATECOVersions are the editions of the ISTAT classification of economic
	// activities: ATECO 2007 (with its 2022 update) and ATECO 2025, in force
	// from 1 April 2025.
	ATECOVersions = []string{"2007", "2025"}
	// Sizes follow the EU definition (Recommendation 2003/361/EC): micro
	// under 10 employees, small under 50, medium under 250, large.
	Sizes            = []string{"micro", "small", "medium", "large"}
	Channels         = []string{"visit", "phone", "email", "event", "other"}
	ScoutingOutcomes = []string{"interested", "not_interested", "no_answer", "call_back", "opening", "agreement"}
	OpeningStatuses  = []string{"open", "filled", "closed"}
	// LimitAreas are the assessment areas an opening may set a ceiling on:
	// those scored as difficulties (lower is better).
	LimitAreas = []string{pathways.AreaFunctioning, pathways.AreaAutonomy, pathways.AreaRelational, pathways.AreaWorkSkills,
		pathways.AreaMotivation, pathways.AreaContextBarriers}
)

// atecoCode: division (2 digits), group (.d), class (.dd), category (.dd.d),
// subcategory (.dd.dd), as ISTAT writes them.
var atecoCode = regexp.MustCompile(`^[0-9]{2}(\.[0-9]([0-9](\.[0-9]{1,2})?)?)?$`)

// sizeOf is the EU size class of a headcount.
func sizeOf(employees int) string {
	switch {
	case employees < 10:
		return "micro"
	case employees < 50:
		return "small"
	case employees < 250:
		return "medium"
	}
	return "large"
}

// Input is a new employer or a change (nil fields stay as they are).
type Input struct {
	Name              *string `json:"name"`
	VATNumber         *string `json:"vat_number"`
	ATECOCode         *string `json:"ateco_code"`
	ATECOVersion      *string `json:"ateco_version"`
	Size              *string `json:"size"`
	Employees         *int    `json:"employees"`
	L68Obligation     *bool   `json:"l68_obligation"`
	MunicipalityISTAT *string `json:"municipality_istat"`
	Address           *string `json:"address"`
}

// Employer is a company of the network.
type Employer struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	VATNumber         string    `json:"vat_number"`
	ATECOCode         string    `json:"ateco_code"`
	ATECOVersion      string    `json:"ateco_version"`
	Size              string    `json:"size"`
	Employees         *int      `json:"employees"`
	L68Obligation     bool      `json:"l68_obligation"`
	MunicipalityISTAT *string   `json:"municipality_istat"`
	Address           string    `json:"address"`
	CreatedBy         string    `json:"created_by"`
	Version           int       `json:"version"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// apply validates in and applies it to e (a new employer when creating).
func (in Input) apply(e *Employer, creating bool) apperr.Fields {
	f := apperr.Fields{}
	req := func(field string, v *string) bool {
		if v == nil {
			if creating {
				f.Add(field, "is required")
			}
			return false
		}
		return true
	}
	if req("name", in.Name) {
		n := strings.Join(strings.Fields(*in.Name), " ")
		switch {
		case n == "":
			f.Add("name", "is required")
		case len([]rune(n)) > 200:
			f.Add("name", "is longer than 200 characters")
		}
		e.Name = n
	}
	if req("vat_number", in.VATNumber) {
		v, err := ParseVAT(*in.VATNumber)
		if err != nil {
			f.Add("vat_number", "%s", err.Error())
		}
		e.VATNumber = v
	}
	if req("ateco_code", in.ATECOCode) {
		c := strings.TrimSpace(*in.ATECOCode)
		if !atecoCode.MatchString(c) {
			f.Add("ateco_code", "must be an ATECO code as ISTAT writes it: 2 digits for the division, then .1 group, .12 class, .12.3 category or .12.34 subcategory (such as 81.30.00 or 56.10)")
		}
		e.ATECOCode = c
	}
	if req("ateco_version", in.ATECOVersion) {
		if !slices.Contains(ATECOVersions, *in.ATECOVersion) {
			f.Add("ateco_version", "must be %s: the edition of the ATECO classification the code belongs to", strings.Join(ATECOVersions, " or "))
		}
		e.ATECOVersion = *in.ATECOVersion
	}
	if req("size", in.Size) {
		if !slices.Contains(Sizes, *in.Size) {
			f.Add("size", "must be one of %s", strings.Join(Sizes, ", "))
		}
		e.Size = *in.Size
	}
	if in.Employees != nil {
		if *in.Employees < 0 || *in.Employees > 1_000_000 {
			f.Add("employees", "must be a headcount from 0")
		}
		e.Employees = in.Employees
	}
	if in.L68Obligation != nil {
		e.L68Obligation = *in.L68Obligation
	}
	if in.MunicipalityISTAT != nil {
		s := strings.TrimSpace(*in.MunicipalityISTAT)
		switch {
		case s == "":
			e.MunicipalityISTAT = nil
		case len(s) != 6 || strings.Trim(s, "0123456789") != "":
			f.Add("municipality_istat", "must be the 6-digit ISTAT code of the municipality")
		default:
			e.MunicipalityISTAT = &s
		}
	}
	if in.Address != nil {
		e.Address = strings.TrimSpace(*in.Address)
		if len([]rune(e.Address)) > 300 {
			f.Add("address", "is longer than 300 characters")
		}
	}
	if e.Employees != nil && f["size"] == "" && f["employees"] == "" && sizeOf(*e.Employees) != e.Size {
		f.Add("size", "is %s, but %d employees make a %s employer", e.Size, *e.Employees, sizeOf(*e.Employees))
	}
	if e.Employees != nil && *e.Employees < 15 && e.L68Obligation {
		f.Add("l68_obligation", "an employer with fewer than 15 employees has no hiring obligation under Law 68/1999 (art. 3)")
	}
	return f
}

// Contact is a contact person of an employer (business contact data).
type Contact struct {
	ID        string    `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	Role      string    `db:"role" json:"role"`
	Phone     string    `db:"phone" json:"phone"`
	Email     string    `db:"email" json:"email"`
	CreatedBy string    `db:"created_by" json:"created_by"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

// ContactInput is a new contact.
type ContactInput struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

func (in ContactInput) check() (ContactInput, error) {
	f := apperr.Fields{}
	out := ContactInput{Name: strings.Join(strings.Fields(in.Name), " "), Role: strings.TrimSpace(in.Role),
		Phone: strings.TrimSpace(in.Phone), Email: strings.TrimSpace(in.Email)}
	switch {
	case out.Name == "":
		f.Add("name", "is required")
	case len([]rune(out.Name)) > 200:
		f.Add("name", "is longer than 200 characters")
	}
	if len([]rune(out.Role)) > 200 {
		f.Add("role", "is longer than 200 characters")
	}
	if p := out.Phone; p != "" {
		digits := 0
		for _, r := range p {
			switch {
			case unicode.IsDigit(r):
				digits++
			case strings.ContainsRune("+ ()-./", r):
			default:
				f.Add("phone", "may contain only digits, spaces and + ( ) - . /")
			}
		}
		if digits < 6 || len(p) > 40 {
			f.Add("phone", "is not a phone number")
		}
	}
	if e := out.Email; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
			f.Add("email", "is not an email address")
		}
	}
	if out.Phone == "" && out.Email == "" {
		f.Add("phone", "give a phone number or an email address")
	}
	return out, f.Err()
}

// Scouting is an entry of the scouting log.
type Scouting struct {
	ID          string         `json:"id"`
	EmployerID  string         `json:"employer_id"`
	ContactID   *string        `json:"contact_id"`
	Tenant      string         `json:"tenant"`
	User        string         `json:"user"`
	ContactedOn pathways.Date  `json:"contacted_on"`
	Channel     string         `json:"channel"`
	Outcome     string         `json:"outcome"`
	Notes       string         `json:"notes"`
	NextStep    string         `json:"next_step"`
	NextStepOn  *pathways.Date `json:"next_step_on"`
	CreatedAt   time.Time      `json:"created_at"`
}

// ScoutingInput is a new entry of the scouting log.
type ScoutingInput struct {
	ContactedOn string `json:"contacted_on"`
	Channel     string `json:"channel"`
	ContactID   string `json:"contact_id"`
	Outcome     string `json:"outcome"`
	Notes       string `json:"notes"`
	NextStep    string `json:"next_step"`
	NextStepOn  string `json:"next_step_on"`
}

type checkedScouting struct {
	ScoutingInput
	On   time.Time
	Next *time.Time
}

func (in ScoutingInput) check(today time.Time) (checkedScouting, error) {
	f := apperr.Fields{}
	out := checkedScouting{ScoutingInput: in}
	d, ok := day(f, "contacted_on", in.ContactedOn, true)
	if ok && d.After(today) {
		f.Add("contacted_on", "is in the future")
	}
	out.On = d
	if in.NextStepOn != "" {
		n, ok2 := day(f, "next_step_on", in.NextStepOn, true)
		if ok && ok2 && n.Before(d) {
			f.Add("next_step_on", "is before the contact")
		}
		out.Next = &n
	}
	oneOf(f, "channel", in.Channel, Channels)
	oneOf(f, "outcome", in.Outcome, ScoutingOutcomes)
	if in.ContactID != "" && !isUUID(in.ContactID) {
		f.Add("contact_id", "is not a contact of this employer")
	}
	out.Notes = strings.TrimSpace(in.Notes)
	out.NextStep = strings.TrimSpace(in.NextStep)
	if len([]rune(out.Notes)) > 4000 {
		f.Add("notes", "is longer than 4000 characters")
	}
	if len([]rune(out.NextStep)) > 1000 {
		f.Add("next_step", "is longer than 1000 characters")
	}
	if out.Next != nil && out.NextStep == "" {
		f.Add("next_step", "say what the next step is")
	}
	return out, f.Err()
}

// Opening is a position an employer offers.
type Opening struct {
	ID                 string         `json:"id"`
	Employer           EmployerRef    `json:"employer"`
	Tenant             string         `json:"tenant"`
	Role               string         `json:"role"`
	Tasks              string         `json:"tasks"`
	Kind               string         `json:"kind"`
	HoursPerWeek       pathways.Hours `json:"hours_per_week"`
	Requirements       string         `json:"requirements"`
	AccessibilityNotes string         `json:"accessibility_notes"`
	MaxScores          map[string]int `json:"max_scores"`
	Status             string         `json:"status"`
	OpenedOn           pathways.Date  `json:"opened_on"`
	Version            int            `json:"version"`
	CreatedAt          time.Time      `json:"created_at"`
}

// EmployerRef names an employer.
type EmployerRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// OpeningInput is a new opening.
type OpeningInput struct {
	EmployerID         string         `json:"employer_id"`
	Role               string         `json:"role"`
	Tasks              string         `json:"tasks"`
	Kind               string         `json:"kind"`
	HoursPerWeek       json.Number    `json:"hours_per_week"`
	Requirements       string         `json:"requirements"`
	AccessibilityNotes string         `json:"accessibility_notes"`
	MaxScores          map[string]int `json:"max_scores"`
	OpenedOn           string         `json:"opened_on"`
}

type checkedOpening struct {
	OpeningInput
	Minutes int
	On      time.Time
}

func (in OpeningInput) check(today time.Time) (checkedOpening, error) {
	f := apperr.Fields{}
	out := checkedOpening{OpeningInput: in, On: today}
	if !isUUID(in.EmployerID) {
		f.Add("employer_id", "is required: the id of an employer of the network")
	}
	out.Role = strings.TrimSpace(in.Role)
	out.Tasks = strings.TrimSpace(in.Tasks)
	out.Requirements = strings.TrimSpace(in.Requirements)
	out.AccessibilityNotes = strings.TrimSpace(in.AccessibilityNotes)
	switch {
	case out.Role == "":
		f.Add("role", "is required")
	case len([]rune(out.Role)) > 200:
		f.Add("role", "is longer than 200 characters")
	}
	for field, v := range map[string]string{"tasks": out.Tasks, "requirements": out.Requirements, "accessibility_notes": out.AccessibilityNotes} {
		if len([]rune(v)) > 4000 {
			f.Add(field, "is longer than 4000 characters")
		}
	}
	oneOf(f, "kind", in.Kind, pathways.ActionKinds)
	if in.HoursPerWeek == "" {
		f.Add("hours_per_week", "is required: hours a week, such as 20")
	} else if m, err := pathways.ParseHours(in.HoursPerWeek.String()); err != nil {
		f.Add("hours_per_week", "%s", err.Error())
	} else if m == 0 || m > 48*60 {
		f.Add("hours_per_week", "must be more than 0 and at most 48")
	} else {
		out.Minutes = m
	}
	for area, max := range in.MaxScores {
		switch {
		case !slices.Contains(LimitAreas, area):
			f.Add("max_scores."+area, "is not an area an opening may limit: %s", strings.Join(LimitAreas, ", "))
		case max < 0 || max > 4:
			f.Add("max_scores."+area, "must be from 0 to 4: the highest difficulty the tasks allow")
		}
	}
	if in.OpenedOn != "" {
		if d, ok := day(f, "opened_on", in.OpenedOn, true); ok {
			if d.After(today) {
				f.Add("opened_on", "is in the future")
			}
			out.On = d
		}
	}
	return out, f.Err()
}

// OpeningChange changes an opening's status.
type OpeningChange struct {
	Status string `json:"status"`
}

// Reason is one part of a match's rank: the points it gives or takes, and
// why, in words.
type Reason struct {
	Points int    `json:"points"`
	Why    string `json:"why"`
}

// Match is a participant ranked for an opening.
type Match struct {
	PersonID   string        `json:"person_id"`
	GivenName  string        `json:"given_name,omitempty"`
	FamilyName string        `json:"family_name,omitempty"`
	Score      int           `json:"score"`
	Reasons    []Reason      `json:"reasons"`
	Stage      string        `json:"stage"`
	AssessedOn pathways.Date `json:"assessed_on"`
}

// Points of the rank.
const (
	pointsPlanKind       = 40  // the plan foresees an action of the opening's kind
	pointsNoPlan         = -10 // no plan yet
	pointsWithinLimit    = 10  // per area within the opening's ceiling
	pointsOverLimit      = -15 // per point over the ceiling
	pointsInterest       = 15  // per professional interest the role or tasks match (at most 2)
	pointsMotivated      = 10  // motivation with no or mild difficulty
	pointsReady          = 10  // the path is at the plan or just after the employability assessment
	pointsEarly          = -10 // the path is still before the employability assessment
	pointsBusy           = -30 // a placement is running
	maxInterestsRewarded = 2
)

// Rank scores a candidate for an opening and says why. Every part of the
// score is a reason with its points, so that the operator sees the rank's
// making and can disagree with it.
func Rank(o Opening, c pathways.Candidate) Match {
	m := Match{PersonID: c.PersonID, Stage: c.Stage, AssessedOn: pathways.Date{Time: c.AssessedOn}, Reasons: []Reason{}}
	if c.NameVisible {
		m.GivenName, m.FamilyName = c.GivenName, c.FamilyName
	}
	add := func(points int, format string, args ...any) {
		m.Score += points
		m.Reasons = append(m.Reasons, Reason{Points: points, Why: fmt.Sprintf(format, args...)})
	}
	plan := "the plan in force"
	if c.PlanStatus == pathways.PlanDraft {
		plan = "the draft plan"
	}
	switch {
	case c.PlanID == "":
		add(pointsNoPlan, "no action plan yet")
	case slices.Contains(c.PlanKinds, o.Kind):
		add(pointsPlanKind, "%s foresees %s, the kind of this opening", plan, o.Kind)
	default:
		add(0, "%s foresees %s, not %s", plan, strings.Join(c.PlanKinds, ", "), o.Kind)
	}
	areas := make([]string, 0, len(o.MaxScores))
	for a := range o.MaxScores {
		areas = append(areas, a)
	}
	sort.Strings(areas)
	for _, a := range areas {
		max := o.MaxScores[a]
		got, ok := c.Scores[a]
		switch {
		case !ok:
			add(0, "%s: not assessed (the opening allows up to %d)", a, max)
		case got <= max:
			add(pointsWithinLimit, "%s %d: the tasks allow up to %d", a, got, max)
		default:
			add(pointsOverLimit*(got-max), "%s %d: the tasks allow up to %d", a, got, max)
		}
	}
	words := stems(o.Role + " " + o.Tasks)
	matched := 0
	for _, in := range c.Interests {
		if matched == maxInterestsRewarded {
			break
		}
		for w := range stems(in) {
			if words[w] {
				add(pointsInterest, "professional interest %q matches the role or tasks", in)
				matched++
				break
			}
		}
	}
	if s, ok := c.Scores[pathways.AreaMotivation]; ok && s <= 1 {
		add(pointsMotivated, "motivation %d: no or mild difficulty", s)
	}
	switch c.Stage {
	case pathways.StagePlan, pathways.StageEmployabilityAssessment, pathways.StageFollowUp:
		add(pointsReady, "the path is at the stage %s", c.Stage)
	case pathways.StageSelection, pathways.StageInitialAssessment, pathways.StageOrientation, "":
		stage := c.Stage
		if stage == "" {
			stage = "not started"
		}
		add(pointsEarly, "the path is still at the stage %s", stage)
	}
	if c.ActivePlacement != "" {
		add(pointsBusy, "a placement (%s) is running", c.ActivePlacement)
	}
	return m
}

// RankAll ranks the candidates, best first (ties: the most recent
// assessment first, then by person id so the order is stable).
func RankAll(o Opening, cs []pathways.Candidate) []Match {
	out := make([]Match, len(cs))
	for i, c := range cs {
		out[i] = Rank(o, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if !a.AssessedOn.Equal(b.AssessedOn.Time) {
			return a.AssessedOn.After(b.AssessedOn.Time)
		}
		return a.PersonID < b.PersonID
	})
	return out
}

// stems are the significant words of a text, lower case, cut to their
// first six letters: a rough Italian stemmer, enough for "giardinaggio" to
// meet "giardiniere" and "magazzino" to meet "magazziniere".
func stems(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		r := []rune(w)
		if len(r) < 4 {
			continue // articles, prepositions
		}
		if len(r) > 6 {
			r = r[:6]
		}
		out[string(r)] = true
	}
	return out
}

// validation helpers

func day(f apperr.Fields, field, s string, required bool) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			f.Add(field, "is required: a date as YYYY-MM-DD")
		}
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || d.Year() < 2000 || d.Year() > 2100 {
		f.Add(field, "must be a date as YYYY-MM-DD")
		return time.Time{}, false
	}
	return d, true
}

func oneOf(f apperr.Fields, field, v string, allowed []string) {
	switch {
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
