package referrals

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"attivi/apperr"
)

// L.68/1999 verifications: dated records of what a tenant checked about a
// person's registration in the lists of the Collocamento Mirato (data
// category disability). The employment office records them through its
// status_observer link (its own legal task: no consent needed to write);
// the owner of the record may too. They are read by the tenants whose
// decision allows reading the person's disability data, and always by the
// tenant that recorded them.

// Invalidity ranges: over 45% of civil invalidity is the threshold of L.68
// art. 1; 67-79% and 80-99% are the bands of the hiring incentive of art. 13
// (35% and 70% of the wage); 100%; other_category for the other routes of
// art. 1 (work invalids over 33%, service invalids, blind, deaf), where a
// civil-invalidity percentage does not apply.
var InvalidityRanges = []string{"46-66%", "67-79%", "80-99%", "100%", "other_category"}

// L68Sources say where the verification comes from: the office's own
// registry, an invalidity certificate (verbale), the person's declaration.
var L68Sources = []string{"registry", "certificate", "self_declaration", "other"}

// L68Input is a verification as submitted.
type L68Input struct {
	Registered                    *bool
	RegistrationDate              *string // YYYY-MM-DD
	InvalidityRange               *string
	UnemploymentDeclarationActive *bool // DID, dichiarazione di immediata disponibilità
	Source                        string
	Note                          string
	NextCheckDue                  *string // YYYY-MM-DD
}

// L68Check is a recorded verification.
type L68Check struct {
	ID                            string
	PersonID                      string
	Tenant                        string // slug of the tenant that recorded it
	CheckedBy                     *string
	CheckedByEmail                *string
	Registered                    bool
	RegistrationDate              *time.Time
	InvalidityRange               *string
	UnemploymentDeclarationActive bool
	Source                        string
	Note                          string
	CheckedAt                     time.Time
	NextCheckDue                  *time.Time
}

// checked is a valid input.
type checkedL68 struct {
	Registered        bool
	RegistrationDate  *time.Time
	InvalidityRange   *string
	DeclarationActive bool
	Source            string
	Note              string
	NextCheckDue      *time.Time
}

// Check validates the input on day today (Italy) and reports every problem.
func (in L68Input) Check(today time.Time) (checkedL68, apperr.Fields) {
	f := apperr.Fields{}
	var out checkedL68
	if in.Registered == nil {
		f.Add("registered", "is required: true when the person is registered in the L.68 lists, false otherwise")
	} else {
		out.Registered = *in.Registered
	}
	if in.UnemploymentDeclarationActive == nil {
		f.Add("unemployment_declaration_active", "is required: whether the person's declaration of availability (DID) is active")
	} else {
		out.DeclarationActive = *in.UnemploymentDeclarationActive
	}
	date := func(field string, s *string) *time.Time {
		if s == nil || strings.TrimSpace(*s) == "" {
			return nil
		}
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(*s))
		if err != nil || d.Year() < 1900 {
			f.Add(field, "must be a date as YYYY-MM-DD")
			return nil
		}
		return &d
	}
	out.RegistrationDate = date("registration_date", in.RegistrationDate)
	out.NextCheckDue = date("next_check_due", in.NextCheckDue)
	if in.InvalidityRange != nil && strings.TrimSpace(*in.InvalidityRange) != "" {
		r := strings.TrimSpace(*in.InvalidityRange)
		if !slices.Contains(InvalidityRanges, r) {
			f.Add("invalidity_range", "%q is not a range: use one of %s", r, strings.Join(InvalidityRanges, ", "))
		} else {
			out.InvalidityRange = &r
		}
	}
	if in.Registered != nil && *in.Registered {
		if out.RegistrationDate == nil && f["registration_date"] == "" {
			f.Add("registration_date", "is required when the person is registered: the day of registration in the lists")
		}
		if out.InvalidityRange == nil && f["invalidity_range"] == "" {
			f.Add("invalidity_range", "is required when the person is registered: one of %s", strings.Join(InvalidityRanges, ", "))
		}
	}
	if in.Registered != nil && !*in.Registered && out.RegistrationDate != nil {
		f.Add("registration_date", "goes only with a registration: leave it out when registered is false")
	}
	if out.RegistrationDate != nil && out.RegistrationDate.After(today) {
		f.Add("registration_date", "is in the future")
	}
	if out.NextCheckDue != nil && out.NextCheckDue.Before(today) {
		f.Add("next_check_due", "is in the past: the next check is due on a day from today on")
	}
	out.Source = strings.TrimSpace(in.Source)
	switch {
	case out.Source == "":
		f.Add("source", "is required: %s", strings.Join(L68Sources, ", "))
	case !slices.Contains(L68Sources, out.Source):
		f.Add("source", "%q is not a source: use one of %s", out.Source, strings.Join(L68Sources, ", "))
	}
	out.Note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(out.Note) > 2000 {
		f.Add("note", "must be at most 2000 characters")
	}
	return out, f
}
