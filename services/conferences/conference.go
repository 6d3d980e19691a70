// Package conferences holds the joint case conferences of the network
// (équipe, riunione di rete, UVM): invitations, the persons discussed, the
// minutes with per-person decisions and action items, and their calendar
// (DESIGN sections 3 and 6, issue 7).
//
// Rules:
//   - The organizer is the acting tenant. It may put in a conference only
//     persons it may see and share (its roles allow the share action on some
//     category of the person: the owner, in the default policy).
//   - A tenant is invited for a person only if an active consent of the
//     person for the purpose case_conference names it (its slug or its
//     kind); otherwise the request is refused (422) naming the person by id
//     and the tenant, and the organizer may invite it `without` that person.
//   - While the conference is scheduled, each invited tenant has a
//     `conference` link (source conference:<id>) to each person discussed
//     with it: it reads identity and status, and what the case_conference
//     consent grants. Declining ends the tenant's links; closing and
//     cancelling end them all.
//   - A conference exists for its organizer and the invited tenants; for any
//     other tenant it is not found (404). An invited tenant sees the persons
//     discussed with it, never the others nor the exclusions.
//   - The minutes (text, per-person decisions, action items) are written by
//     the organizer with If-Match until the conference is closed; after that
//     a change is an amendment. A decision carries a data category and is
//     shown only to tenants that may read that category of the person (and
//     to the organizer, who wrote it). The text and the action items are for
//     every participant that did not decline: they are the record of the
//     meeting, so what concerns one person belongs in a decision.
//   - Calendars: the title is the only text of the organizer that goes into
//     iCalendar files (SUMMARY), so it is refused when it contains a fiscal
//     code or a name of a person discussed; DESCRIPTION is a fixed sentence
//     with the organizer's name, and no person id or name is ever written.
package conferences

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"attivi/apperr"
	"attivi/policies"
)

// Statuses of a conference.
const (
	StatusScheduled = "scheduled"
	StatusClosed    = "closed"
	StatusCancelled = "cancelled"
)

// Answers to an invitation.
const (
	AnswerPending  = "pending"
	AnswerAccepted = "accepted"
	AnswerDeclined = "declined"
)

// Attendance values.
const (
	AttendanceUnknown = "unknown"
	AttendancePresent = "present"
	AttendanceAbsent  = "absent"
)

// Action item statuses.
const (
	ItemOpen      = "open"
	ItemDone      = "done"
	ItemCancelled = "cancelled"
)

// PurposeConference is the consent purpose a conference needs.
const PurposeConference = policies.PurposeConference

// Limits.
const (
	MaxTitle       = 200
	MaxLocation    = 300
	MaxVideoURL    = 500
	MaxTenants     = 50
	MaxUsers       = 100
	MaxPersons     = 50
	MaxDuration    = 24 * time.Hour
	MaxMinutesText = 100000
	MaxDecision    = 5000
	MaxWhat        = 1000
	MaxItems       = 200
	MaxReason      = 500
)

// Conference is a conference as one tenant sees it.
type Conference struct {
	ID            string
	Organizer     string // slug
	OrganizerID   string
	OrganizerName string
	CreatedBy     string
	Title         string
	StartsAt      time.Time
	EndsAt        time.Time
	Location      string
	VideoURL      string
	Status        string
	Sequence      int
	Version       int
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ClosedAt      *time.Time
	CancelledAt   *time.Time
	CancelReason  string
	Invitations   []Invitation
	Users         []InvitedUser
	PersonIDs     []string    // the persons discussed with the viewer (all, for the organizer)
	Without       []Exclusion // organizer only
	PersonCount   int         // in lists, instead of the persons
}

// Invitation is an invited tenant and its answer.
type Invitation struct {
	Tenant     string     `db:"slug"`
	TenantID   string     `db:"tenant_id"`
	Answer     string     `db:"answer"`
	AnsweredAt *time.Time `db:"answered_at"`
	Attendance string     `db:"attendance"`
}

// InvitedUser is a staff member invited by name.
type InvitedUser struct {
	UserID     string `db:"user_id"`
	Tenant     string `db:"slug"`
	Email      string `db:"email"`
	Name       string `db:"display_name"`
	Attendance string `db:"attendance"`
}

// Exclusion is an invited tenant with which a person is not discussed.
type Exclusion struct {
	Tenant   string `db:"slug" json:"tenant"`
	PersonID string `db:"person_id" json:"person_id"`
}

// Draft is a new conference as submitted.
type Draft struct {
	Title          string
	StartsAt       string
	EndsAt         string
	Location       string
	VideoURL       string
	InvitedTenants []string
	InvitedUsers   []string
	PersonIDs      []string
	Without        []Exclusion
}

// Schedule is the when and where of a conference, checked.
type Schedule struct {
	Title    string
	StartsAt time.Time
	EndsAt   time.Time
	Location string
	VideoURL string
}

// checkSchedule validates the parts of a draft or change that go into
// calendars.
func checkSchedule(f apperr.Fields, title, starts, ends, location, video string) Schedule {
	s := Schedule{Title: strings.TrimSpace(title), Location: strings.TrimSpace(location), VideoURL: strings.TrimSpace(video)}
	switch {
	case s.Title == "":
		f.Add("title", "is required")
	case utf8.RuneCountInString(s.Title) > MaxTitle:
		f.Add("title", "must be at most %d characters", MaxTitle)
	case strings.ContainsAny(s.Title, "\r\n"):
		f.Add("title", "must be one line")
	case fiscalCodeLike.MatchString(strings.ToUpper(s.Title)):
		f.Add("title", "must not contain a fiscal code: the title is copied into calendars outside the platform")
	}
	var err error
	if s.StartsAt, err = time.Parse(time.RFC3339, starts); err != nil {
		f.Add("starts_at", "must be a time in RFC 3339 form, like 2026-03-10T09:00:00+01:00")
	}
	if s.EndsAt, err = time.Parse(time.RFC3339, ends); err != nil {
		f.Add("ends_at", "must be a time in RFC 3339 form, like 2026-03-10T11:00:00+01:00")
	}
	if f["starts_at"] == "" && f["ends_at"] == "" {
		switch {
		case !s.EndsAt.After(s.StartsAt):
			f.Add("ends_at", "must be after starts_at")
		case s.EndsAt.Sub(s.StartsAt) > MaxDuration:
			f.Add("ends_at", "a conference lasts at most 24 hours")
		}
	}
	s.StartsAt, s.EndsAt = s.StartsAt.UTC().Truncate(time.Second), s.EndsAt.UTC().Truncate(time.Second)
	if utf8.RuneCountInString(s.Location) > MaxLocation {
		f.Add("location", "must be at most %d characters", MaxLocation)
	}
	if s.VideoURL != "" {
		u, err := url.Parse(s.VideoURL)
		switch {
		case err != nil || u.Scheme != "https" || u.Host == "":
			f.Add("video_url", "must be an https:// link")
		case len(s.VideoURL) > MaxVideoURL:
			f.Add("video_url", "must be at most %d characters", MaxVideoURL)
		}
	}
	if s.Location == "" && s.VideoURL == "" {
		f.Add("location", "give a place (location) or a video link (video_url)")
	}
	return s
}

// fiscalCodeLike finds a 16-character fiscal code (with omocodia) or an
// 11-digit number in upper-cased text.
var fiscalCodeLike = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPR-T][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]|\b[0-9]{11}\b`)

// mentions reports whether title contains name as a whole word, ignoring
// case: the check that keeps the names of the persons discussed out of
// calendars.
func mentions(title, name string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	if utf8.RuneCountInString(name) < 2 {
		return false
	}
	t := strings.ToLower(title)
	for i := 0; ; {
		j := strings.Index(t[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		before, _ := utf8.DecodeLastRuneInString(t[:start])
		after, _ := utf8.DecodeRuneInString(t[end:])
		if (start == 0 || !isWordRune(before)) && (end == len(t) || !isWordRune(after)) {
			return true
		}
		i = start + 1
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' }

// checkDraft validates what can be checked without the database.
func (d Draft) check() (Schedule, apperr.Fields) {
	f := apperr.Fields{}
	s := checkSchedule(f, d.Title, d.StartsAt, d.EndsAt, d.Location, d.VideoURL)
	checkList(f, "invited_tenants", d.InvitedTenants, MaxTenants, func(string) bool { return true })
	checkList(f, "invited_users", d.InvitedUsers, MaxUsers, isUUID)
	checkList(f, "person_ids", d.PersonIDs, MaxPersons, isUUID)
	for i, w := range d.Without {
		switch {
		case !slices.Contains(d.InvitedTenants, w.Tenant):
			f.Add(fmt.Sprintf("without[%d].tenant", i), "must be one of the invited tenants")
		case !slices.Contains(d.PersonIDs, w.PersonID):
			f.Add(fmt.Sprintf("without[%d].person_id", i), "must be one of person_ids")
		}
	}
	return s, f
}

func checkList(f apperr.Fields, field string, vs []string, max int, valid func(string) bool) {
	if len(vs) > max {
		f.Add(field, "may name at most %d", max)
		return
	}
	for i, v := range vs {
		switch {
		case !valid(v):
			f.Add(fmt.Sprintf("%s[%d]", field, i), "is not an id")
		case slices.Index(vs, v) < i:
			f.Add(fmt.Sprintf("%s[%d]", field, i), "is repeated")
		}
	}
}

// DecisionDraft is a decision about one person in the minutes.
type DecisionDraft struct {
	PersonID string
	Category string
	Decision string
}

// ItemDraft is an action item in the minutes: with ID, a change of an
// existing one.
type ItemDraft struct {
	ID             string
	What           string
	AssigneeTenant string
	AssigneeUser   string
	DueDate        string // YYYY-MM-DD or ""
	Status         string // "" is open
}

// MinutesDraft is the body of PUT .../minutes and of an amendment.
type MinutesDraft struct {
	Text      string
	Decisions []DecisionDraft
	Items     []ItemDraft
}

type checkedItem struct {
	ItemDraft
	Due *time.Time
}

// check validates the minutes against the persons of the conference.
func (m MinutesDraft) check(persons []string, amendment bool) ([]checkedItem, apperr.Fields) {
	f := apperr.Fields{}
	switch {
	case utf8.RuneCountInString(m.Text) > MaxMinutesText:
		f.Add("text", "must be at most %d characters", MaxMinutesText)
	case amendment && strings.TrimSpace(m.Text) == "" && len(m.Decisions) == 0 && len(m.Items) == 0:
		f.Add("text", "is required: say what the amendment changes")
	}
	if len(m.Decisions) > MaxPersons*10 {
		f.Add("decisions", "may hold at most %d decisions", MaxPersons*10)
	}
	for i, d := range m.Decisions {
		k := fmt.Sprintf("decisions[%d]", i)
		if !slices.Contains(persons, d.PersonID) {
			f.Add(k+".person_id", "is not a person discussed in this conference")
		}
		if !slices.Contains(policies.PersonCategories, d.Category) {
			f.Add(k+".category", "must be one of %s", strings.Join(policies.PersonCategories, ", "))
		}
		switch {
		case strings.TrimSpace(d.Decision) == "":
			f.Add(k+".decision", "is required")
		case utf8.RuneCountInString(d.Decision) > MaxDecision:
			f.Add(k+".decision", "must be at most %d characters", MaxDecision)
		}
	}
	if len(m.Items) > MaxItems {
		f.Add("action_items", "may hold at most %d items", MaxItems)
	}
	out := make([]checkedItem, len(m.Items))
	for i, it := range m.Items {
		k := fmt.Sprintf("action_items[%d]", i)
		out[i].ItemDraft = it
		if it.ID != "" && (amendment || !isUUID(it.ID)) {
			f.Add(k+".id", "is not an action item of these minutes")
		}
		switch {
		case strings.TrimSpace(it.What) == "":
			f.Add(k+".what", "is required: what is to be done")
		case utf8.RuneCountInString(it.What) > MaxWhat:
			f.Add(k+".what", "must be at most %d characters", MaxWhat)
		}
		if it.AssigneeTenant == "" {
			f.Add(k+".assignee_tenant", "is required: the organizer or an invited tenant")
		}
		if it.AssigneeUser != "" && !isUUID(it.AssigneeUser) {
			f.Add(k+".assignee_user_id", "is not the id of a user")
		}
		if it.DueDate != "" {
			d, err := time.Parse(time.DateOnly, it.DueDate)
			if err != nil {
				f.Add(k+".due_date", "must be a date, YYYY-MM-DD")
			} else {
				out[i].Due = &d
			}
		}
		if out[i].Status == "" {
			out[i].Status = ItemOpen
		}
		if !slices.Contains([]string{ItemOpen, ItemDone, ItemCancelled}, out[i].Status) {
			f.Add(k+".status", "must be open, done or cancelled")
		}
	}
	return out, f
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
