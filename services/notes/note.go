// Package notes keeps the case notes (diario) of a person: written by one
// tenant in one data category, shared by the access decision, never edited
// nor deleted (DESIGN sections 3 and 6, issue 7).
//
// Who reads a note:
//   - the author tenant, always (DESIGN section 6: a record is always
//     readable by the tenant that wrote it), provided its staff's roles may
//     read the note's category in some circumstance (a tenant administrator
//     of SerD reads no clinical note);
//   - another tenant, if the note is not riservata (sensitive) and the access
//     decision allows it to read the note's category of the person: role x
//     link x network rule x consent. A consent counts through a `conference`
//     link only if its purpose is case_conference (issue 7: participants read
//     what the consent allows for that purpose); through any other link a
//     consent of any purpose counts, as for persons.
//
// Lists are filtered in SQL from the same rule (store.go), and a randomized
// test holds the list to the per-note decision.
//
// Corrections: an amendment is a new note that references the original and
// keeps its person, category, sensitivity and author tenant, so that it is
// visible to exactly whoever sees the original. A note written by mistake is
// marked entered in error with a reason; it stays visible, with the mark.
// Both are for the author tenant only. The database refuses any other change
// and every deletion.
//
// The access log gets one entry per person per request, as for person lists
// (DESIGN section 6): categories are those of the notes returned, and the
// reason names the notes by id, so "who accessed my data" says which notes.
package notes

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"attivi/apperr"
	"attivi/policies"
)

// Limits.
const (
	MaxBody   = 20000
	MaxReason = 1000
	MaxQuery  = 200
)

// Note is a case note as a tenant sees it.
type Note struct {
	ID             string
	PersonID       string
	AuthorTenantID string
	AuthorTenant   string // slug
	AuthorUserID   string
	Category       string
	Body           string
	Sensitive      bool
	ReferralID     *string
	ConferenceID   *string
	AmendsID       *string
	AmendedBy      []string
	EnteredInError *ErrorMark
	CreatedAt      time.Time
}

// ErrorMark says that a note was entered in error: when, by whom, why.
type ErrorMark struct {
	At     time.Time
	UserID string
	Reason string
}

// Draft is a new note as submitted.
type Draft struct {
	Category     string
	Body         string
	Sensitive    bool
	ReferralID   *string
	ConferenceID *string
}

// Check validates a draft and reports every problem at once.
func (d Draft) Check() apperr.Fields {
	f := apperr.Fields{}
	switch {
	case d.Category == "":
		f.Add("category", "is required: one of %s", strings.Join(policies.PersonCategories, ", "))
	case !slices.Contains(policies.PersonCategories, d.Category):
		f.Add("category", "must be one of %s", strings.Join(policies.PersonCategories, ", "))
	}
	checkBody(f, "body", d.Body)
	if d.ReferralID != nil && !isUUID(*d.ReferralID) {
		f.Add("referral_id", "is not the id of a referral")
	}
	if d.ConferenceID != nil && !isUUID(*d.ConferenceID) {
		f.Add("conference_id", "is not the id of a conference")
	}
	return f
}

func checkBody(f apperr.Fields, field, body string) {
	switch {
	case strings.TrimSpace(body) == "":
		f.Add(field, "is required: write the note")
	case utf8.RuneCountInString(body) > MaxBody:
		f.Add(field, "must be at most %d characters", MaxBody)
	case !utf8.ValidString(body) || strings.ContainsRune(body, 0):
		f.Add(field, "contains characters that are not text")
	}
}

// CheckReason validates the reason of an entered-in-error mark.
func CheckReason(reason string) apperr.Fields {
	f := apperr.Fields{}
	switch {
	case strings.TrimSpace(reason) == "":
		f.Add("reason", "is required: say why the note was entered in error")
	case utf8.RuneCountInString(reason) > MaxReason:
		f.Add("reason", "must be at most %d characters", MaxReason)
	}
	return f
}

// Readable is the per-note rule: what a tenant may read of a note, given
// whether it wrote it, which categories its roles may read at all
// (roleCats), and which categories of the person the access decision lets it
// read (allowed).
func Readable(authorIsTenant, sensitive bool, category string, roleCats []string, allowed map[string]bool) bool {
	if authorIsTenant {
		return slices.Contains(roleCats, category)
	}
	return !sensitive && allowed[category]
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

// Cursor is the position of a note in lists: newest first.
type Cursor struct {
	At time.Time
	ID string
}

func (c Cursor) String() string { return c.At.UTC().Format(time.RFC3339Nano) + "|" + c.ID }

func parseCursor(s string) (Cursor, error) {
	at, id, ok := strings.Cut(s, "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || !isUUID(id) {
		return Cursor{}, fmt.Errorf("bad cursor")
	}
	return Cursor{At: t, ID: id}, nil
}

// CursorOf is the position of note n, to list the notes after it.
func CursorOf(n Note) *Cursor { return &Cursor{At: n.CreatedAt, ID: n.ID} }
