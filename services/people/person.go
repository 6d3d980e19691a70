// Package people is the persons capability: registering participants,
// finding them, reading their record by category and changing it, and the
// relationship links the owner manages (the care team). Every read and write
// goes through the policies engine and is written to the access log.
package people

import (
	"net/mail"
	"strings"
	"time"
	"unicode"

	"attivi/apperr"
)

// Target groups of the programme.
const (
	TargetL68          = "disabile_l68"
	TargetMentalHealth = "salute_mentale"
)

// Person is a participant's record.
type Person struct {
	ID             string
	FiscalCode     string
	GivenName      string
	FamilyName     string
	BirthDate      time.Time
	Sex            string
	ResidenceISTAT string
	ResidenceName  string
	TargetGroup    string
	Phone          string
	Email          string
	Address        string
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// targetGroupCategory is the data category the target group belongs to: it
// tells that the person is disabled or followed for mental health, so it is
// disability or health data, not identity.
func targetGroupCategory(tg string) string {
	if tg == TargetMentalHealth {
		return "health"
	}
	return "disability"
}

// Input is what a registration or a change gives. For a change, nil fields
// stay as they are.
type Input struct {
	FiscalCode     *string
	GivenName      *string
	FamilyName     *string
	BirthDate      *string
	Sex            *string
	ResidenceISTAT *string
	TargetGroup    *string
	Phone          *string
	Email          *string
	Address        *string
}

// categoryOf says which category each field belongs to (the target group's
// depends on its value).
var fieldCategory = map[string]string{
	"fiscal_code": "identity", "given_name": "identity", "family_name": "identity", "birth_date": "identity",
	"sex": "identity", "residence_istat": "identity",
	"phone": "contact", "email": "contact", "address": "contact",
}

// validName checks a given or family name.
func validName(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "is required"
	case len([]rune(s)) > 100:
		return "is longer than 100 characters"
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || r == ' ' || r == '\'' || r == '-' || r == '.' || r == '’') {
			return "may contain only letters, spaces, apostrophes, hyphens and dots"
		}
	}
	return ""
}

// normalizeName trims and folds inner runs of spaces.
func normalizeName(s string) string { return strings.Join(strings.Fields(s), " ") }

func validPhone(s string) string {
	if len(s) > 40 {
		return "is longer than 40 characters"
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+ ()-./", r):
		default:
			return "may contain only digits, spaces and + ( ) - . /"
		}
	}
	if s != "" && digits < 6 {
		return "is too short to be a phone number"
	}
	return ""
}

func validEmail(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 254 {
		return "is too long"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "is not an email address"
	}
	return ""
}

// validate checks the fields present in in. For a registration every
// identity field and the target group are required. It returns the problems
// per field and the parsed birth date and fiscal code when valid.
func validate(in Input, registering bool, now time.Time) (apperr.Fields, *time.Time, *FiscalCode) {
	f := apperr.Fields{}
	required := func(name string, v *string) bool {
		if v == nil {
			if registering {
				f.Add(name, "is required")
			}
			return false
		}
		return true
	}
	var birth *time.Time
	if required("birth_date", in.BirthDate) {
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(*in.BirthDate))
		switch {
		case err != nil:
			f.Add("birth_date", "must be a date as YYYY-MM-DD")
		case d.After(now):
			f.Add("birth_date", "is in the future")
		case d.Before(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)):
			f.Add("birth_date", "is before 1900")
		default:
			birth = &d
		}
	}
	if required("sex", in.Sex) && *in.Sex != "F" && *in.Sex != "M" {
		f.Add("sex", "must be F or M")
	}
	var fc *FiscalCode
	if required("fiscal_code", in.FiscalCode) {
		code, err := ParseFiscalCode(*in.FiscalCode, now)
		if err != nil {
			f.Add("fiscal_code", "%s", err.Error())
		} else {
			fc = &code
		}
	}
	if required("given_name", in.GivenName) {
		if p := validName(*in.GivenName); p != "" {
			f.Add("given_name", "%s", p)
		}
	}
	if required("family_name", in.FamilyName) {
		if p := validName(*in.FamilyName); p != "" {
			f.Add("family_name", "%s", p)
		}
	}
	if required("residence_istat", in.ResidenceISTAT) {
		if s := strings.TrimSpace(*in.ResidenceISTAT); len(s) != 6 || strings.Trim(s, "0123456789") != "" {
			f.Add("residence_istat", "must be the 6-digit ISTAT code of the municipality")
		}
	}
	if required("target_group", in.TargetGroup) && *in.TargetGroup != TargetL68 && *in.TargetGroup != TargetMentalHealth {
		f.Add("target_group", "must be disabile_l68 or salute_mentale")
	}
	if in.Phone != nil {
		if p := validPhone(strings.TrimSpace(*in.Phone)); p != "" {
			f.Add("phone", "%s", p)
		}
	}
	if in.Email != nil {
		if p := validEmail(strings.TrimSpace(*in.Email)); p != "" {
			f.Add("email", "%s", p)
		}
	}
	if in.Address != nil && len(*in.Address) > 300 {
		f.Add("address", "is longer than 300 characters")
	}
	return f, birth, fc
}
