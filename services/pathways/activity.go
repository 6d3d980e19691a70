package pathways

import (
	"encoding/json"
	"time"

	"attivi/apperr"
)

// Activity kinds: hours of supporting work.
var ActivityKinds = []string{"orientamento", "tutoraggio", "coaching", "matching", "scouting", "laboratorio", "formazione"}

// networkActivityKinds may be logged without a participant (work for the
// network, such as scouting employers).
var networkActivityKinds = []string{"scouting", "matching"}

// ActivityInput logs hours of an activity.
type ActivityInput struct {
	Kind       string      `json:"kind"`
	HeldOn     string      `json:"held_on"`
	Hours      json.Number `json:"hours"`
	OperatorID string      `json:"operator_id"` // staff of the acting tenant; the user when empty
	Note       string      `json:"note"`
}

type checkedActivity struct {
	ActivityInput
	Day     time.Time
	Minutes int
}

func (in ActivityInput) check(today time.Time, kinds []string) (checkedActivity, error) {
	f := apperr.Fields{}
	out := checkedActivity{ActivityInput: in}
	oneOf(f, "kind", in.Kind, kinds, true)
	d, ok := date(f, "held_on", in.HeldOn, true)
	if ok && d.After(today) {
		f.Add("held_on", "is in the future")
	}
	out.Day = d
	out.Minutes = hours(f, "hours", in.Hours, true)
	if out.Minutes > 24*60 {
		f.Add("hours", "is more than a day")
	}
	if in.OperatorID != "" && !isUUID(in.OperatorID) {
		f.Add("operator_id", "must be the id of a staff member of your tenant")
	}
	out.Note = text(f, "note", in.Note, 2000, false)
	return out, f.Err()
}

// Activity is logged work.
type Activity struct {
	ID        string    `json:"id"`
	PersonID  *string   `json:"person_id"`
	Tenant    string    `json:"tenant"`
	Operator  Staff     `json:"operator"`
	Kind      string    `json:"kind"`
	HeldOn    Date      `json:"held_on"`
	Hours     Hours     `json:"hours"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Total is a sum of hours under a key (an activity kind, an operator, a
// tenant).
type Total struct {
	Key        string `json:"key"`
	Name       string `json:"name,omitempty"`
	Hours      Hours  `json:"hours"`
	Activities int    `json:"activities"`
}

// Totals are the hours of a participant or a tenant.
type Totals struct {
	Hours      Hours   `json:"hours"`
	ByKind     []Total `json:"by_kind"`
	ByOperator []Total `json:"by_operator,omitempty"`
	ByTenant   []Total `json:"by_tenant,omitempty"`
}

// Follow-up kinds and statuses.
var (
	FollowUpKinds    = []string{"at_exit", "six_months"}
	FollowUpStatuses = []string{"employed", "in_training", "job_seeking", "inactive"}
	Contracts        = []string{"permanent", "fixed_term", "apprenticeship", "other"}
)

// FollowUpInput records the status of a participant at exit or six months
// later, with what the European Social Fund's common result indicators need
// (Reg. (EU) 1304/2013, Annex I): in employment (self-employment included),
// in education or training, job-seeking, inactive; a qualification gained at
// exit; an improved labour-market situation at six months.
type FollowUpInput struct {
	Kind                string `json:"kind"`
	ExitOn              string `json:"exit_on"`
	ObservedOn          string `json:"observed_on"`
	Status              string `json:"status"`
	SelfEmployed        bool   `json:"self_employed"`
	Contract            string `json:"contract"`
	QualificationGained bool   `json:"qualification_gained"`
	ImprovedSituation   *bool  `json:"improved_situation"`
	EmployerID          string `json:"employer_id"`
	Note                string `json:"note"`
}

type checkedFollowUp struct {
	FollowUpInput
	Exit, Observed time.Time
}

func (in FollowUpInput) check(today time.Time) (checkedFollowUp, error) {
	f := apperr.Fields{}
	out := checkedFollowUp{FollowUpInput: in}
	oneOf(f, "kind", in.Kind, FollowUpKinds, true)
	oneOf(f, "status", in.Status, FollowUpStatuses, true)
	exit, okX := date(f, "exit_on", in.ExitOn, true)
	obs, okO := date(f, "observed_on", in.ObservedOn, true)
	out.Exit, out.Observed = exit, obs
	if okX && exit.After(today) {
		f.Add("exit_on", "is in the future")
	}
	if okO && obs.After(today) {
		f.Add("observed_on", "is in the future")
	}
	if okX && okO {
		switch {
		case obs.Before(exit):
			f.Add("observed_on", "is before the exit")
		case in.Kind == "at_exit" && obs.After(exit.AddDate(0, 0, 28)):
			f.Add("observed_on", "the status at exit is observed within four weeks of the exit")
		case in.Kind == "six_months" && obs.Before(exit.AddDate(0, 6, 0)):
			f.Add("observed_on", "the six-month status is observed from %s, six months after the exit", exit.AddDate(0, 6, 0).Format(time.DateOnly))
		}
	}
	if in.Status != "employed" {
		if in.SelfEmployed {
			f.Add("self_employed", "only an employed participant is self-employed")
		}
		if in.Contract != "" {
			f.Add("contract", "only an employed participant has a contract")
		}
		if in.EmployerID != "" {
			f.Add("employer_id", "only an employed participant has an employer")
		}
	} else {
		if in.Contract != "" {
			oneOf(f, "contract", in.Contract, Contracts, false)
		}
		if in.SelfEmployed && in.Contract != "" {
			f.Add("contract", "a self-employed participant has no employment contract")
		}
	}
	if in.EmployerID != "" && !isUUID(in.EmployerID) {
		f.Add("employer_id", "is not an employer of the network")
	}
	switch {
	case in.Kind == "six_months" && in.ImprovedSituation == nil:
		f.Add("improved_situation", "is required six months after the exit: true or false")
	case in.Kind == "at_exit" && in.ImprovedSituation != nil:
		f.Add("improved_situation", "is recorded only six months after the exit")
	}
	out.Note = text(f, "note", in.Note, 2000, false)
	return out, f.Err()
}

// FollowUp is a recorded follow-up.
type FollowUp struct {
	ID                  string       `json:"id"`
	PersonID            string       `json:"person_id"`
	Tenant              string       `json:"tenant"`
	Kind                string       `json:"kind"`
	ExitOn              Date         `json:"exit_on"`
	ObservedOn          Date         `json:"observed_on"`
	Status              string       `json:"status"`
	SelfEmployed        bool         `json:"self_employed"`
	Contract            string       `json:"contract"`
	QualificationGained bool         `json:"qualification_gained"`
	ImprovedSituation   *bool        `json:"improved_situation"`
	Employer            *EmployerRef `json:"employer"`
	Note                string       `json:"note"`
	CreatedAt           time.Time    `json:"created_at"`
}
