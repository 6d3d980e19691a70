package pathways

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"attivi/apperr"
)

// Plan statuses. A draft changes freely (If-Match on its revision); from
// the first signature its content is frozen; with all three signatures it is
// signed (in force), and the version it supersedes becomes superseded. A
// signed plan changes only by a new version.
const (
	PlanDraft      = "draft"
	PlanSigned     = "signed"
	PlanSuperseded = "superseded"
)

// Signers of a plan.
const (
	SignerParticipant = "participant"
	SignerCaseManager = "case_manager"
	SignerService     = "service"
)

// Signers lists who signs a plan.
var Signers = []string{SignerParticipant, SignerCaseManager, SignerService}

// Review outcomes.
var ReviewOutcomes = []string{"achieved", "partly", "not_achieved"}

// PlanInput is the content of a plan: its objectives, each with its actions.
type PlanInput struct {
	AssessmentID string           `json:"assessment_id"`
	Objectives   []ObjectiveInput `json:"objectives"`
}

// ObjectiveInput is an objective, linked to an assessment area.
type ObjectiveInput struct {
	Area        string        `json:"area"`
	Description string        `json:"description"`
	Actions     []ActionInput `json:"actions"`
}

// ActionInput is an action of the plan.
type ActionInput struct {
	Kind                  string      `json:"kind"`
	Description           string      `json:"description"`
	ResponsibleTenant     string      `json:"responsible_tenant"`      // slug; the acting tenant when empty
	ResponsibleOperatorID string      `json:"responsible_operator_id"` // staff of the responsible tenant, optional
	StartOn               string      `json:"start_on"`
	EndOn                 string      `json:"end_on"`
	PlannedHours          json.Number `json:"planned_hours"`
	Indicator             string      `json:"indicator"`
	ExpectedResult        string      `json:"expected_result"`
}

type checkedAction struct {
	ActionInput
	Start, End time.Time
	Minutes    int
}

type checkedObjective struct {
	Area, Description string
	Actions           []checkedAction
}

type checkedPlan struct {
	AssessmentID string
	Objectives   []checkedObjective
}

func (in PlanInput) check() (checkedPlan, error) {
	f := apperr.Fields{}
	out := checkedPlan{AssessmentID: strings.TrimSpace(in.AssessmentID)}
	if out.AssessmentID != "" && !isUUID(out.AssessmentID) {
		f.Add("assessment_id", "must be the id of an assessment of this person")
	}
	if len(in.Objectives) == 0 {
		f.Add("objectives", "a plan needs at least one objective")
	}
	if len(in.Objectives) > 30 {
		f.Add("objectives", "a plan may have at most 30 objectives")
	}
	for i, o := range in.Objectives {
		n := fmt.Sprintf("objectives[%d]", i)
		oneOf(f, n+".area", o.Area, Areas, true)
		co := checkedObjective{Area: o.Area, Description: text(f, n+".description", o.Description, 2000, true)}
		if len(o.Actions) > 30 {
			f.Add(n+".actions", "an objective may have at most 30 actions")
		}
		for j, a := range o.Actions {
			m := fmt.Sprintf("%s.actions[%d]", n, j)
			oneOf(f, m+".kind", a.Kind, ActionKinds, true)
			ca := checkedAction{ActionInput: a}
			ca.Description = text(f, m+".description", a.Description, 2000, false)
			ca.Indicator = text(f, m+".indicator", a.Indicator, 1000, true)
			ca.ExpectedResult = text(f, m+".expected_result", a.ExpectedResult, 1000, true)
			ca.ResponsibleTenant = strings.TrimSpace(a.ResponsibleTenant)
			if a.ResponsibleOperatorID != "" && !isUUID(a.ResponsibleOperatorID) {
				f.Add(m+".responsible_operator_id", "must be the id of a staff member of the responsible tenant")
			}
			var okS, okE bool
			ca.Start, okS = date(f, m+".start_on", a.StartOn, true)
			ca.End, okE = date(f, m+".end_on", a.EndOn, true)
			if okS && okE && ca.End.Before(ca.Start) {
				f.Add(m+".end_on", "is before the start")
			}
			ca.Minutes = hours(f, m+".planned_hours", a.PlannedHours, true)
			co.Actions = append(co.Actions, ca)
		}
		out.Objectives = append(out.Objectives, co)
	}
	return out, f.Err()
}

// Plan is a version of a person's action plan.
type Plan struct {
	ID           string      `json:"id"`
	PersonID     string      `json:"person_id"`
	Version      int         `json:"version"`
	Supersedes   *string     `json:"supersedes"`
	AssessmentID *string     `json:"assessment_id"`
	Status       string      `json:"status"`
	Revision     int         `json:"revision"`
	Tenant       string      `json:"tenant"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
	SignedAt     *time.Time  `json:"signed_at"`
	Objectives   []Objective `json:"objectives"`
	Signatures   []Signature `json:"signatures"`
	Reviews      []Review    `json:"reviews"`
	// Frozen: someone signed it, so it changes only by a new version.
	Frozen bool `json:"frozen"`
}

// Objective is an objective of a plan with its actions.
type Objective struct {
	ID          string   `json:"id"`
	Position    int      `json:"position"`
	Area        string   `json:"area"`
	Description string   `json:"description"`
	Actions     []Action `json:"actions"`
}

// Action is an action of a plan.
type Action struct {
	ID                  string `json:"id"`
	Position            int    `json:"position"`
	Kind                string `json:"kind"`
	Description         string `json:"description"`
	ResponsibleTenant   string `json:"responsible_tenant"`
	ResponsibleOperator *Staff `json:"responsible_operator"`
	StartOn             Date   `json:"start_on"`
	EndOn               Date   `json:"end_on"`
	PlannedHours        Hours  `json:"planned_hours"`
	Indicator           string `json:"indicator"`
	ExpectedResult      string `json:"expected_result"`
}

// Signature is the record of a signature on the paper plan.
type Signature struct {
	Signer     string `json:"signer"`
	Name       string `json:"name"`
	SignedOn   Date   `json:"signed_on"`
	RecordedBy string `json:"recorded_by"`
}

// SignatureInput records a signature.
type SignatureInput struct {
	Signer   string `json:"signer"`
	Name     string `json:"name"`
	SignedOn string `json:"signed_on"`
}

func (in SignatureInput) check(today time.Time) (time.Time, error) {
	f := apperr.Fields{}
	oneOf(f, "signer", in.Signer, Signers, true)
	text(f, "name", in.Name, 200, true)
	d, ok := date(f, "signed_on", in.SignedOn, true)
	if ok && d.After(today) {
		f.Add("signed_on", "is in the future")
	}
	return d, f.Err()
}

// Review is the outcome of an objective or action of a plan in force.
type Review struct {
	ID          string    `json:"id"`
	ObjectiveID *string   `json:"objective_id"`
	ActionID    *string   `json:"action_id"`
	ReviewedOn  Date      `json:"reviewed_on"`
	Outcome     string    `json:"outcome"`
	Notes       string    `json:"notes"`
	Tenant      string    `json:"tenant"`
	CreatedAt   time.Time `json:"created_at"`
}

// ReviewInput records a review: of an objective or of an action.
type ReviewInput struct {
	ObjectiveID string `json:"objective_id"`
	ActionID    string `json:"action_id"`
	ReviewedOn  string `json:"reviewed_on"`
	Outcome     string `json:"outcome"`
	Notes       string `json:"notes"`
}

func (in ReviewInput) check(today time.Time) (time.Time, error) {
	f := apperr.Fields{}
	switch {
	case (in.ObjectiveID == "") == (in.ActionID == ""):
		f.Add("action_id", "review either an action (action_id) or an objective (objective_id)")
	case in.ObjectiveID != "" && !isUUID(in.ObjectiveID):
		f.Add("objective_id", "is not an objective of this plan")
	case in.ActionID != "" && !isUUID(in.ActionID):
		f.Add("action_id", "is not an action of this plan")
	}
	oneOf(f, "outcome", in.Outcome, ReviewOutcomes, true)
	text(f, "notes", in.Notes, 4000, false)
	d, ok := date(f, "reviewed_on", in.ReviewedOn, true)
	if ok && d.After(today) {
		f.Add("reviewed_on", "is in the future")
	}
	return d, f.Err()
}

// input turns a plan back into the content of a new version.
func (p Plan) input() checkedPlan {
	var out checkedPlan
	if p.AssessmentID != nil {
		out.AssessmentID = *p.AssessmentID
	}
	for _, o := range p.Objectives {
		co := checkedObjective{Area: o.Area, Description: o.Description}
		for _, a := range o.Actions {
			ca := checkedAction{ActionInput: ActionInput{Kind: a.Kind, Description: a.Description, ResponsibleTenant: a.ResponsibleTenant,
				Indicator: a.Indicator, ExpectedResult: a.ExpectedResult}, Start: a.StartOn.Time, End: a.EndOn.Time, Minutes: int(a.PlannedHours)}
			if a.ResponsibleOperator != nil {
				ca.ResponsibleOperatorID = a.ResponsibleOperator.ID
			}
			co.Actions = append(co.Actions, ca)
		}
		out.Objectives = append(out.Objectives, co)
	}
	return out
}

// readyToSign says what keeps a plan from being signed, or "".
func (p Plan) readyToSign() string {
	switch {
	case p.Status != PlanDraft:
		return fmt.Sprintf("version %d is %s: only a draft is signed", p.Version, p.Status)
	case len(p.Objectives) == 0:
		return "the plan has no objective"
	}
	for _, o := range p.Objectives {
		if len(o.Actions) == 0 {
			return fmt.Sprintf("objective %d (%s) has no action", o.Position, o.Description)
		}
	}
	return ""
}
