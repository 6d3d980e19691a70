package people

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// FiscalCode is a parsed, normalized Italian fiscal code (codice fiscale) of
// a natural person.
type FiscalCode struct {
	Code      string // normalized: upper case, no spaces
	Temporary bool   // the 11-digit temporary form (codice fiscale provvisorio)

	// For the 16-character form, decoded (omocodia resolved):

	// BirthDate is at midnight UTC. The code holds only two digits of the
	// year: the century is the one that gives the latest birth date not after
	// the `now` passed to ParseFiscalCode.
	BirthDate  time.Time
	Sex        string // "F" or "M"
	BirthPlace string // Belfiore cadastral code, e.g. "D612" (Firenze) or "Z404" (foreign state)
	Omocode    bool   // some digits were replaced by letters (omocodia)
}

// FiscalCodeError says, in words a social worker understands, why a fiscal
// code was refused.
type FiscalCodeError struct {
	Msg string
}

func (e *FiscalCodeError) Error() string { return e.Msg }

func fiscalCodeErrorf(format string, args ...any) error {
	return &FiscalCodeError{Msg: fmt.Sprintf(format, args...)}
}

const (
	// monthLetters[i] is the letter of month i+1.
	monthLetters = "ABCDEHLMPRST"
	// omocodeLetters[d] replaces the digit d when two people would otherwise
	// get the same code (omocodia).
	omocodeLetters = "LMNPQRSTUV"
	// oddValues lists the letters by their value in odd positions (1st,
	// 3rd, ... 15th) for the check character: B is worth 0, A 1, K 2 and so
	// on. A digit d is worth what the letter 'A'+d is worth.
	oddValues = "BAKPLCQDREVOSFTGUHMINJWZYX"
)

// ParseFiscalCode checks and decodes a fiscal code: the 16-character code of
// a person (DM 23/12/1976, omocodia included) or the 11-digit temporary code.
// Lower case and spaces are accepted. The error is a *FiscalCodeError.
//
// Only the shape of the birth place is checked (a letter and 3 digits), not
// that the municipality or state exists.
func ParseFiscalCode(s string, now time.Time) (FiscalCode, error) {
	code, err := normalizeFiscalCode(s)
	if err != nil {
		return FiscalCode{}, err
	}
	switch {
	case len(code) == 0:
		return FiscalCode{}, fiscalCodeErrorf("is empty: it must be 16 characters (letters and digits) or 11 digits")
	case len(code) == 16:
		return parsePersonalCode(code, now)
	case len(code) == 11 && allDigits(code):
		return parseTemporaryCode(code)
	case len(code) == 11:
		return FiscalCode{}, fiscalCodeErrorf("must be 16 characters (letters and digits) or 11 digits, not 11 characters with letters")
	default:
		return FiscalCode{}, fiscalCodeErrorf("must be 16 characters (letters and digits) or 11 digits, not %d", len(code))
	}
}

// normalizeFiscalCode drops spaces and upper-cases ASCII letters. Anything
// but ASCII letters and digits is refused: upper-casing other scripts could
// turn them into ASCII letters (ı becomes I).
func normalizeFiscalCode(s string) (string, error) {
	var b strings.Builder
	b.Grow(16)
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			continue
		case 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			b.WriteRune(r)
		case r == unicode.ReplacementChar || !unicode.IsGraphic(r):
			return "", fiscalCodeErrorf("contains an invisible or unreadable character: use only letters and digits")
		default:
			return "", fiscalCodeErrorf("%q is not allowed: use only letters and digits", string(r))
		}
	}
	return b.String(), nil
}

func parsePersonalCode(code string, now time.Time) (FiscalCode, error) {
	for i := range 6 {
		if !isLetter(code[i]) {
			return FiscalCode{}, fiscalCodeErrorf("character %d should be a letter (the first 6 come from surname and name), not %c", i+1, code[i])
		}
	}

	yy, yearOmo, ok := decodeNumber(code[6:8])
	if !ok {
		return FiscalCode{}, fiscalCodeErrorf("the birth year %s is not valid: it must be 2 digits", code[6:8])
	}
	m := strings.IndexByte(monthLetters, code[8])
	if m < 0 {
		return FiscalCode{}, fiscalCodeErrorf("the month letter %c is not a month", code[8])
	}
	month := time.Month(m + 1)
	dd, dayOmo, ok := decodeNumber(code[9:11])
	if !ok {
		return FiscalCode{}, fiscalCodeErrorf("the birth day %s is not valid: it must be 2 digits", code[9:11])
	}
	sex, day := "M", dd
	switch {
	case 1 <= dd && dd <= 31:
	case 41 <= dd && dd <= 71:
		sex, day = "F", dd-40
	default:
		return FiscalCode{}, fiscalCodeErrorf("day %d is not a valid day (1-31 for men, 41-71 for women)", dd)
	}
	place, placeOmo, ok := decodeNumber(code[12:15])
	if !ok || !isLetter(code[11]) {
		return FiscalCode{}, fiscalCodeErrorf("the municipality code %s is not valid: it must be a letter and 3 digits", code[11:15])
	}

	year := birthYear(yy, month, day, now)
	if last := daysIn(month, year); day > last {
		if month == time.February && day == 29 {
			return FiscalCode{}, fiscalCodeErrorf("the birth date February 29 %d does not exist (%d is not a leap year)", year, year)
		}
		return FiscalCode{}, fiscalCodeErrorf("the birth date %s %d does not exist", month, day)
	}

	if want := checkLetter(code[:15]); code[15] != want {
		return FiscalCode{}, fiscalCodeErrorf("the check character should be %c, not %c: a character was probably mistyped", want, code[15])
	}

	return FiscalCode{
		Code:       code,
		BirthDate:  time.Date(year, month, day, 0, 0, 0, 0, time.UTC),
		Sex:        sex,
		BirthPlace: fmt.Sprintf("%c%03d", code[11], place),
		Omocode:    yearOmo || dayOmo || placeOmo,
	}, nil
}

// decodeNumber reads the digits of s, where a digit may be written as its
// omocodia letter. omocode reports whether any letter was found.
func decodeNumber(s string) (n int, omocode, ok bool) {
	for i := range len(s) {
		c := s[i]
		d := -1
		if '0' <= c && c <= '9' {
			d = int(c - '0')
		} else if d = strings.IndexByte(omocodeLetters, c); d >= 0 {
			omocode = true
		}
		if d < 0 {
			return 0, false, false
		}
		n = n*10 + d
	}
	return n, omocode, true
}

// birthYear resolves the two-digit year yy to the latest year that puts the
// birth date (month, day) not after now's date: with now in June 2025, 25A01
// is January 2025 but 25T01 is December 1925.
func birthYear(yy int, month time.Month, day int, now time.Time) int {
	ny, nm, nd := now.Date()
	year := ny - mod(ny-yy, 100)
	if year == ny && (month > nm || month == nm && day > nd) {
		year -= 100
	}
	return year
}

func mod(a, b int) int { return (a%b + b) % b }

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// checkLetter computes the check character of the first 15 characters of a
// code, as written (omocodia letters included).
func checkLetter(s string) byte {
	sum := 0
	for i := range len(s) {
		v := int(s[i] - 'A')
		if '0' <= s[i] && s[i] <= '9' {
			v = int(s[i] - '0')
		}
		if i%2 == 0 { // odd position, counting from 1
			v = strings.IndexByte(oddValues, byte('A'+v))
		}
		sum += v
	}
	return byte('A' + sum%26)
}

// parseTemporaryCode checks the 11-digit temporary code, whose last digit is
// computed as for the partita IVA: digits in odd positions count as they are,
// those in even positions are doubled (less 9 when over 9).
func parseTemporaryCode(code string) (FiscalCode, error) {
	sum := 0
	for i := range 10 {
		d := int(code[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if want := byte('0' + (10-sum%10)%10); code[10] != want {
		return FiscalCode{}, fiscalCodeErrorf("the check digit should be %c, not %c: a digit was probably mistyped", want, code[10])
	}
	return FiscalCode{Code: code, Temporary: true}, nil
}

// Consistent compares the code with the declared birth date and sex and
// returns the mismatches keyed by field ("birth_date", "sex"), or nil. Only
// what the code holds is compared: the last two digits of the year, month and
// day. A zero birth date or a sex other than "F" or "M" is not compared, nor
// is anything for a temporary code.
func (f FiscalCode) Consistent(birth time.Time, sex string) map[string]string {
	if f.Temporary || f.Code == "" {
		return nil
	}
	problems := map[string]string{}
	if !birth.IsZero() {
		by, bm, bd := birth.Date()
		fy, fm, fd := f.BirthDate.Date()
		if mod(by, 100) != mod(fy, 100) || bm != fm || bd != fd {
			problems["birth_date"] = fmt.Sprintf("does not match the fiscal code, which gives %s", f.BirthDate.Format("2 January 2006"))
		}
	}
	switch s := strings.ToUpper(strings.TrimSpace(sex)); {
	case s != "F" && s != "M", s == f.Sex:
	case f.Sex == "F":
		problems["sex"] = "does not match the fiscal code, which is for a woman"
	default:
		problems["sex"] = "does not match the fiscal code, which is for a man"
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' }

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
