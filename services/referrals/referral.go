// Package referrals is the referral capability: a tenant that may share a
// person refers them to another tenant, the referral moves through the
// statuses of an HL7 FHIR Task, and its outcome (or the reason it was
// rejected) goes back to the sender (DESIGN sections 2, 6 and 8). It also
// serves the status view, the minimal projection the employment office sees
// through its status_observer link, and the L.68 verifications.
//
// Access:
//   - a referral exists only for its two tenants, the sender and the
//     recipient, and only for their staff whose roles handle persons (that
//     may read identity through some relationship); for anyone else it is a
//     404 and it is never in their lists;
//   - the recipient gets a referral_recipient link, scoped to the shared
//     categories, while the referral is requested; accepting turns it into a
//     provider link; closing (rejected, cancelled, completed, failed) ends
//     the links of the referral. Links and referral change in one
//     transaction;
//   - the person's name appears in a referral only when the tenant may read
//     the person's identity now (the decision, in the list's SQL).
package referrals

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres"
)

// Status is where a referral stands: the HL7 FHIR Task statuses the
// programme uses.
type Status string

const (
	StatusRequested  Status = "requested"
	StatusAccepted   Status = "accepted"
	StatusRejected   Status = "rejected"
	StatusInProgress Status = "in-progress"
	StatusOnHold     Status = "on-hold"
	StatusCompleted  Status = "completed"
	StatusCancelled  Status = "cancelled"
	StatusFailed     Status = "failed"
)

// Statuses lists every status.
var Statuses = []Status{StatusRequested, StatusAccepted, StatusRejected, StatusInProgress, StatusOnHold,
	StatusCompleted, StatusCancelled, StatusFailed}

// Closed reports whether s ends the referral: no transition leaves it.
func (s Status) Closed() bool {
	return s == StatusRejected || s == StatusCompleted || s == StatusCancelled || s == StatusFailed
}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Party is a side of the referral.
type Party string

const (
	Sender    Party = "sender"
	Recipient Party = "recipient"
)

// Fields a transition may require.
const (
	FieldReasonCode = "reason_code"
	FieldOutcome    = "outcome"
	FieldNote       = "note"
)

// Transition is one legal move of the state machine: who may make it, and
// what it must carry.
type Transition struct {
	From     Status
	To       Status
	By       Party
	Requires []string
}

// Transitions is the state machine (issue 5; FHIR Task):
//
//	from         to           by         requires
//	requested    accepted     recipient
//	requested    rejected     recipient  reason_code (and a note when it is "other")
//	requested    cancelled    sender
//	accepted     in-progress  recipient
//	in-progress  on-hold      recipient
//	on-hold      in-progress  recipient
//	in-progress  completed    recipient  outcome (and a note when it is "other")
//	in-progress  failed       recipient  note (what went wrong goes back to the sender)
//	on-hold      failed       recipient  note
//
// Links: leaving requested ends the referral_recipient link; entering
// accepted adds the provider link; entering a closed status ends every link
// of the referral.
var Transitions = []Transition{
	{StatusRequested, StatusAccepted, Recipient, nil},
	{StatusRequested, StatusRejected, Recipient, []string{FieldReasonCode}},
	{StatusRequested, StatusCancelled, Sender, nil},
	{StatusAccepted, StatusInProgress, Recipient, nil},
	{StatusInProgress, StatusOnHold, Recipient, nil},
	{StatusOnHold, StatusInProgress, Recipient, nil},
	{StatusInProgress, StatusCompleted, Recipient, []string{FieldOutcome}},
	{StatusInProgress, StatusFailed, Recipient, []string{FieldNote}},
	{StatusOnHold, StatusFailed, Recipient, []string{FieldNote}},
}

// From lists the transitions that leave s.
func From(s Status) []Transition {
	var out []Transition
	for _, t := range Transitions {
		if t.From == s {
			out = append(out, t)
		}
	}
	return out
}

// describe renders transitions for a person: "accepted (by the recipient)".
func describe(ts []Transition) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s (by the %s", t.To, t.By)
		if len(t.Requires) > 0 {
			parts[i] += ", with " + strings.Join(t.Requires, ", ")
		}
		parts[i] += ")"
	}
	return strings.Join(parts, ", ")
}

// Reason codes of a rejection.
var ReasonCodes = []string{"not_eligible", "no_capacity", "could_not_contact", "declined_by_person", "duplicate", "other"}

// Outcomes of a completed referral.
var Outcomes = []string{"hired", "internship", "training", "continuing", "dropped_out", "other"}

// Priorities of a referral (FHIR Task.priority).
var Priorities = []string{"routine", "urgent", "asap", "stat"}

// Limits.
const (
	MaxReason = 2000
	MaxNote   = 4000
	MaxKey    = 255
)

// Move is a transition a tenant asks for.
type Move struct {
	To         string
	ReasonCode string
	Outcome    string
	Note       string
}

// Check decides whether side may move a referral from cur as m asks: an
// unknown or illegal target is invalid (naming the allowed ones), a legal
// move by the wrong side is forbidden, missing or misplaced fields are
// invalid. It returns the transition.
func (m Move) Check(cur Status, side Party) (Transition, error) {
	to := Status(strings.TrimSpace(m.To))
	legal := From(cur)
	if to == "" || !to.Valid() {
		return Transition{}, &apperr.Error{Code: apperr.Invalid, Message: fmt.Sprintf("%q is not a status of a referral", m.To),
			Fields: map[string]string{"to": "must be one of " + joinStatuses(Statuses)}}
	}
	i := slices.IndexFunc(legal, func(t Transition) bool { return t.To == to })
	if i < 0 {
		msg := fmt.Sprintf("a referral that is %s cannot move to %s", cur, to)
		field := "this referral is closed: it cannot move any more"
		if len(legal) > 0 {
			msg += "; it can move to " + describe(legal)
			field = "must be one of: " + describe(legal)
		} else {
			msg += ": it is closed"
		}
		return Transition{}, &apperr.Error{Code: apperr.Invalid, Message: msg, Fields: map[string]string{"to": field}}
	}
	t := legal[i]
	if t.By != side {
		return Transition{}, apperr.New(apperr.Forbidden, "only the %s of the referral may move it to %s", t.By, to)
	}
	f := apperr.Fields{}
	needs := func(field string) bool { return slices.Contains(t.Requires, field) }
	m.ReasonCode, m.Outcome = strings.TrimSpace(m.ReasonCode), strings.TrimSpace(m.Outcome)
	note := strings.TrimSpace(m.Note)
	switch {
	case needs(FieldReasonCode) && m.ReasonCode == "":
		f.Add(FieldReasonCode, "is required to reject a referral: one of %s", strings.Join(ReasonCodes, ", "))
	case needs(FieldReasonCode) && !slices.Contains(ReasonCodes, m.ReasonCode):
		f.Add(FieldReasonCode, "%q is not a reason: use one of %s", m.ReasonCode, strings.Join(ReasonCodes, ", "))
	case !needs(FieldReasonCode) && m.ReasonCode != "":
		f.Add(FieldReasonCode, "goes only with a rejection")
	case m.ReasonCode == "other" && note == "":
		f.Add(FieldNote, "is required when the reason is other: say why in a few words")
	}
	switch {
	case needs(FieldOutcome) && m.Outcome == "":
		f.Add(FieldOutcome, "is required to complete a referral: one of %s", strings.Join(Outcomes, ", "))
	case needs(FieldOutcome) && !slices.Contains(Outcomes, m.Outcome):
		f.Add(FieldOutcome, "%q is not an outcome: use one of %s", m.Outcome, strings.Join(Outcomes, ", "))
	case !needs(FieldOutcome) && m.Outcome != "":
		f.Add(FieldOutcome, "goes only with a completion")
	case m.Outcome == "other" && note == "":
		f.Add(FieldNote, "is required when the outcome is other: say what it was")
	}
	if needs(FieldNote) && note == "" {
		f.Add(FieldNote, "is required: say what went wrong, the sender will read it")
	}
	if utf8.RuneCountInString(note) > MaxNote {
		f.Add(FieldNote, "must be at most %d characters", MaxNote)
	}
	return t, f.Err()
}

func joinStatuses(ss []Status) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// Referral is a referral as one of its tenants sees it.
type Referral struct {
	ID               string
	PersonID         string
	FromTenantID     string
	FromTenant       string // slug
	ToTenantID       string
	ToTenant         string // slug
	CreatedBy        *string
	Reason           string
	Priority         string
	SharedCategories []string
	Note             string
	Status           Status
	ReasonCode       *string
	Outcome          *string
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	ClosedAt         *time.Time

	// For the viewer who asked.
	Person  *PersonName // nil: the viewer may not read the person's identity
	Overdue bool
	Side    Party
	Events  []Event // by id only
}

// PersonName is what a referral shows of the person to a tenant that may
// read their identity.
type PersonName struct {
	GivenName  string
	FamilyName string
}

// Event is a change of a referral's status (its creation included).
type Event struct {
	Version    int
	At         time.Time
	Tenant     string
	UserID     *string
	UserEmail  *string
	From       *Status
	To         Status
	ReasonCode *string
	Outcome    *string
	Note       string
}

// Next lists what side may do with the referral now.
func (r Referral) Next(side Party) []Transition {
	var out []Transition
	for _, t := range From(r.Status) {
		if t.By == side {
			out = append(out, t)
		}
	}
	return out
}

// overdueAt says whether a referral created at created in status s is
// overdue at now: still requested after the given time.
func overdueAt(s Status, created, now time.Time, after time.Duration) bool {
	return s == StatusRequested && now.Sub(created) > after
}

// Draft is a referral as the sender submits it.
type Draft struct {
	PersonID         string
	ToTenant         string // slug
	Reason           string
	Priority         string
	SharedCategories []string
	Note             string
}

// Check validates and normalizes the draft: every problem at once, per
// field. Identity is always shared (the recipient must know who the person
// is); the categories come back in DESIGN order.
func (d Draft) Check() (Draft, apperr.Fields) {
	f := apperr.Fields{}
	out := Draft{PersonID: strings.TrimSpace(d.PersonID), ToTenant: strings.ToLower(strings.TrimSpace(d.ToTenant)),
		Reason: strings.TrimSpace(d.Reason), Priority: strings.TrimSpace(d.Priority), Note: strings.TrimSpace(d.Note)}
	switch {
	case out.PersonID == "":
		f.Add("person_id", "is required")
	case !postgres.IsUUID(out.PersonID):
		f.Add("person_id", "is not the id of a person")
	}
	if out.ToTenant == "" {
		f.Add("to_tenant", "is required: the slug of the tenant you refer the person to")
	}
	switch n := utf8.RuneCountInString(out.Reason); {
	case n == 0:
		f.Add("reason", "is required: say why you refer the person")
	case n > MaxReason:
		f.Add("reason", "must be at most %d characters", MaxReason)
	}
	if out.Priority == "" {
		out.Priority = "routine"
	} else if !slices.Contains(Priorities, out.Priority) {
		f.Add("priority", "%q is not a priority: use one of %s", out.Priority, strings.Join(Priorities, ", "))
	}
	if utf8.RuneCountInString(out.Note) > MaxNote {
		f.Add("note", "must be at most %d characters", MaxNote)
	}
	var bad []string
	cats := []string{policies.CatIdentity}
	for _, c := range d.SharedCategories {
		c = strings.TrimSpace(c)
		switch {
		case !slices.Contains(policies.PersonCategories, c):
			bad = append(bad, fmt.Sprintf("%q is not a category of data", c))
		case !slices.Contains(cats, c):
			cats = append(cats, c)
		}
	}
	if len(bad) > 0 {
		f.Add("shared_categories", "%s (categories: %s)", strings.Join(bad, "; "), strings.Join(policies.PersonCategories, ", "))
	}
	for _, c := range policies.PersonCategories {
		if slices.Contains(cats, c) {
			out.SharedCategories = append(out.SharedCategories, c)
		}
	}
	return out, f
}

// Stages of a person's path, as the status view derives them from the
// referrals until the pathways capability gives a real one.
const (
	StageNotStarted = "not_started" // registered, never referred
	StageReferred   = "referred"    // a referral is waiting for an answer
	StageInService  = "in_service"  // accepted or in progress at a service
	StageOnHold     = "on_hold"
	StageCompleted  = "completed" // the last referral was completed
	StageClosed     = "closed"    // the last referral was rejected, cancelled or failed
)

// Path is where a person stands in the programme: the minimal projection of
// the status view (DESIGN section 6, category status).
type Path struct {
	Enrolled   bool
	Stage      string
	StageSince *time.Time
	Placement  *Placement // nil until the pathways capability records placements
	Active     bool
	Source     string // what the stage is derived from: "referrals" for now
}

// Placement is the current placement of a person.
type Placement struct {
	Kind      string
	StartDate time.Time
	EndDate   *time.Time
}

// referralState is what the status view needs of one referral.
type referralState struct {
	Status    Status
	UpdatedAt time.Time
}

// pathFromReferrals derives the path from the person's referrals (all
// tenants'): in service when one is accepted or in progress, on hold, else
// referred when one is waiting, else the fate of the last one. Enrolled: a
// service of the programme has taken the person in (some referral was
// accepted).
func pathFromReferrals(rs []referralState) Path {
	p := Path{Stage: StageNotStarted, Source: "referrals"}
	pick := func(stage string, match func(Status) bool) bool {
		var since *time.Time
		for _, r := range rs {
			if match(r.Status) && (since == nil || r.UpdatedAt.After(*since)) {
				t := r.UpdatedAt
				since = &t
			}
		}
		if since == nil {
			return false
		}
		p.Stage, p.StageSince = stage, since
		return true
	}
	switch {
	case pick(StageInService, func(s Status) bool { return s == StatusAccepted || s == StatusInProgress }):
	case pick(StageOnHold, func(s Status) bool { return s == StatusOnHold }):
	case pick(StageReferred, func(s Status) bool { return s == StatusRequested }):
	default:
		var last *referralState
		for i := range rs {
			if rs[i].Status.Closed() && (last == nil || rs[i].UpdatedAt.After(last.UpdatedAt)) {
				last = &rs[i]
			}
		}
		if last != nil {
			p.Stage, p.StageSince = StageClosed, &last.UpdatedAt
			if last.Status == StatusCompleted {
				p.Stage = StageCompleted
			}
		}
	}
	p.Active = p.Stage == StageReferred || p.Stage == StageInService || p.Stage == StageOnHold
	for _, r := range rs {
		switch r.Status {
		case StatusAccepted, StatusInProgress, StatusOnHold, StatusCompleted, StatusFailed:
			p.Enrolled = true
		}
	}
	return p
}
