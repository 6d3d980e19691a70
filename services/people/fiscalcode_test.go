package people_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"attivi/services/people"
)

// now is the clock for every parse: the two-digit years resolve against it.
var now = time.Date(2025, time.June, 15, 10, 30, 0, 0, time.UTC)

// oddValue is the table of DM 23/12/1976 for characters in odd positions,
// indexed by digit (0-9) or letter (A-Z as 0-25): the same for 0 and A, 1 and
// B, and so on.
var oddValue = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// checkOf computes the check letter of the first 15 characters of a code, on
// its own, so that the tests do not trust the package's arithmetic.
func checkOf(tb testing.TB, first15 string) byte {
	tb.Helper()
	if len(first15) != 15 {
		tb.Fatalf("checkOf(%q): want 15 characters, got %d", first15, len(first15))
	}
	sum := 0
	for i, c := range first15 {
		var v int
		switch {
		case '0' <= c && c <= '9':
			v = int(c - '0')
		case 'A' <= c && c <= 'Z':
			v = int(c - 'A')
		default:
			tb.Fatalf("checkOf(%q): %q is not a letter or digit", first15, c)
		}
		if (i+1)%2 == 1 {
			v = oddValue[v]
		}
		sum += v
	}
	return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[sum%26]
}

// withCheck completes a code with its check letter.
func withCheck(tb testing.TB, first15 string) string {
	tb.Helper()
	return first15 + string(checkOf(tb, first15))
}

// luhnValid is the textbook Luhn test over the whole number, which for 11
// digits is the partita IVA rule.
func luhnValid(s string) bool {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func parse(tb testing.TB, s string) (people.FiscalCode, error) {
	tb.Helper()
	f, err := people.ParseFiscalCode(s, now)
	if err != nil {
		var fe *people.FiscalCodeError
		if !errors.As(err, &fe) {
			tb.Fatalf("ParseFiscalCode(%q): error %T %v, want *people.FiscalCodeError", s, err, err)
		}
	}
	return f, err
}

// mustParse parses a code that must be valid.
func mustParse(tb testing.TB, s string) people.FiscalCode {
	tb.Helper()
	f, err := parse(tb, s)
	if err != nil {
		tb.Fatalf("ParseFiscalCode(%q): %v", s, err)
	}
	return f
}

func TestCheckOfPublicExamples(t *testing.T) {
	// Codes published as worked examples of the algorithm: they keep the
	// test's own helper honest.
	for _, code := range []string{"RSSMRA85T10A562S", "RSSMRA79B11C566R"} {
		if got, want := checkOf(t, code[:15]), code[15]; got != want {
			t.Errorf("checkOf(%q) = %c, want %c", code[:15], got, want)
		}
	}
}

func TestParseFiscalCodeValid(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		code    string
		birth   time.Time
		sex     string
		place   string
		omocode bool
	}{
		{"public example", "RSSMRA85T10A562S", "RSSMRA85T10A562S", day(1985, time.December, 10), "M", "A562", false},
		{"public example 2", "RSSMRA79B11C566R", "RSSMRA79B11C566R", day(1979, time.February, 11), "M", "C566", false},
		{"lower case and spaces", "  rss mra 85t10 a562s\t", "RSSMRA85T10A562S", day(1985, time.December, 10), "M", "A562", false},
		{"non-breaking space and new line", "RSSMRA\u00a085T10\nA562S", "RSSMRA85T10A562S", day(1985, time.December, 10), "M", "A562", false},
		{"woman first of month", withCheck(t, "BNCLRA90A41D612"), "", day(1990, time.January, 1), "F", "D612", false},
		{"woman 31st", withCheck(t, "BNCLRA90T71D612"), "", day(1990, time.December, 31), "F", "D612", false},
		{"woman born abroad", withCheck(t, "KLAMNA01E50Z404"), "", day(2001, time.May, 10), "F", "Z404", false},
		{"man 31st", withCheck(t, "VRDGPP13L31F205"), "", day(2013, time.July, 31), "M", "F205", false},
		{"leap day", withCheck(t, "RSSMRA84B29H501"), "", day(1984, time.February, 29), "M", "H501", false},
		{"leap day 2000", withCheck(t, "RSSMRA00B69H501"), "", day(2000, time.February, 29), "F", "H501", false},
		{"this year, already born", withCheck(t, "RSSMRA25A01H501"), "", day(2025, time.January, 1), "M", "H501", false},
		{"born today", withCheck(t, "RSSMRA25H15H501"), "", day(2025, time.June, 15), "M", "H501", false},
		{"tomorrow 100 years ago", withCheck(t, "RSSMRA25H16H501"), "", day(1925, time.June, 16), "M", "H501", false},
		{"later this year is last century", withCheck(t, "RSSMRA25T01H501"), "", day(1925, time.December, 1), "M", "H501", false},
		{"next year is last century", withCheck(t, "RSSMRA26A01H501"), "", day(1926, time.January, 1), "M", "H501", false},
		{"omocode public-style", withCheck(t, "RSSMRA85T10A56N"), "", day(1985, time.December, 10), "M", "A562", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.code
			if want == "" {
				want = tt.in
			}
			got := mustParse(t, tt.in)
			if got.Code != want {
				t.Errorf("Code = %q, want %q", got.Code, want)
			}
			if got.Temporary {
				t.Errorf("Temporary = true, want false")
			}
			if !got.BirthDate.Equal(tt.birth) {
				t.Errorf("BirthDate = %s, want %s", got.BirthDate.Format(time.DateOnly), tt.birth.Format(time.DateOnly))
			}
			if got.Sex != tt.sex {
				t.Errorf("Sex = %q, want %q", got.Sex, tt.sex)
			}
			if got.BirthPlace != tt.place {
				t.Errorf("BirthPlace = %q, want %q", got.BirthPlace, tt.place)
			}
			if got.Omocode != tt.omocode {
				t.Errorf("Omocode = %v, want %v", got.Omocode, tt.omocode)
			}
		})
	}
}

// TestParseFiscalCodeOmocode replaces every subset of the seven digits with
// their omocodia letters: one, several, all seven, for codes using all ten
// digits. Each variant, with its own
// check letter, is valid and decodes to the person of the plain code.
func TestParseFiscalCodeOmocode(t *testing.T) {
	const omocodeLetters = "LMNPQRSTUV"
	digitPositions := []int{6, 7, 9, 10, 12, 13, 14} // 0-based: 7, 8, 10, 11, 13, 14, 15
	for _, plain := range []string{"RSSMRA85T10A562", "BNCLRA08B69Z404", "VRDLCU73C23H703"} {
		base := mustParse(t, withCheck(t, plain))
		for mask := 1; mask < 1<<len(digitPositions); mask++ {
			b := []byte(plain)
			for i, p := range digitPositions {
				if mask&(1<<i) != 0 {
					b[p] = omocodeLetters[b[p]-'0']
				}
			}
			code := withCheck(t, string(b))
			got, err := parse(t, code)
			if err != nil {
				t.Errorf("ParseFiscalCode(%q): %v", code, err)
				continue
			}
			if got.Code != code || !got.Omocode || !got.BirthDate.Equal(base.BirthDate) || got.Sex != base.Sex || got.BirthPlace != base.BirthPlace {
				t.Errorf("ParseFiscalCode(%q) = %+v, want the person of %s (%s %s %s) as omocode",
					code, got, base.Code, base.BirthDate.Format(time.DateOnly), base.Sex, base.BirthPlace)
			}
		}
	}
}

func TestParseFiscalCodeInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "is empty: it must be 16 characters (letters and digits) or 11 digits"},
		{"only spaces", "   ", "is empty: it must be 16 characters (letters and digits) or 11 digits"},
		{"15 characters", "RSSMRA85T10A562", "must be 16 characters (letters and digits) or 11 digits, not 15"},
		{"17 characters", "RSSMRA85T10A562SX", "must be 16 characters (letters and digits) or 11 digits, not 17"},
		{"10 digits", "0123456789", "must be 16 characters (letters and digits) or 11 digits, not 10"},
		{"11 with letters", "RSSMRA85T10", "must be 16 characters (letters and digits) or 11 digits, not 11 characters with letters"},
		{"dash", "RSSMRA-85T10A562S", `"-" is not allowed: use only letters and digits`},
		{"accented letter", "RSSMRÀ85T10A562S", `"À" is not allowed: use only letters and digits`},
		{"dotless i", "RSSMRı85T10A562S", `"ı" is not allowed: use only letters and digits`},
		{"zero width space", "RSSMRA\u200b85T10A562S", "contains an invisible or unreadable character: use only letters and digits"},
		{"broken text", "RSSMRA\xff85T10A562S", "contains an invisible or unreadable character: use only letters and digits"},
		{"digit in name", withCheck(t, "RSSM1A85T10A562"), "character 5 should be a letter (the first 6 come from surname and name), not 1"},
		{"letter in year", withCheck(t, "RSSMRA8AT10A562"), "the birth year 8A is not valid: it must be 2 digits"},
		{"bad month letter", withCheck(t, "RSSMRA85Q10A562"), "the month letter Q is not a month"},
		{"digit as month", withCheck(t, "RSSMRA85110A562"), "the month letter 1 is not a month"},
		{"letter in day", withCheck(t, "RSSMRA85T1AA562"), "the birth day 1A is not valid: it must be 2 digits"},
		{"day 0", withCheck(t, "RSSMRA85T00A562"), "day 0 is not a valid day (1-31 for men, 41-71 for women)"},
		{"day 32", withCheck(t, "RSSMRA85T32A562"), "day 32 is not a valid day (1-31 for men, 41-71 for women)"},
		{"day 40", withCheck(t, "RSSMRA85T40A562"), "day 40 is not a valid day (1-31 for men, 41-71 for women)"},
		{"day 72", withCheck(t, "RSSMRA85T72A562"), "day 72 is not a valid day (1-31 for men, 41-71 for women)"},
		{"day 99 as omocode", withCheck(t, "RSSMRA85TVVA562"), "day 99 is not a valid day (1-31 for men, 41-71 for women)"},
		{"february 30", withCheck(t, "RSSMRA85B30A562"), "the birth date February 30 does not exist"},
		{"february 30 woman", withCheck(t, "RSSMRA85B70A562"), "the birth date February 30 does not exist"},
		{"april 31", withCheck(t, "RSSMRA85D31A562"), "the birth date April 31 does not exist"},
		{"leap day not in a leap year", withCheck(t, "RSSMRA85B29A562"), "the birth date February 29 1985 does not exist (1985 is not a leap year)"},
		{"digit as place letter", withCheck(t, "RSSMRA85T101562"), "the municipality code 1562 is not valid: it must be a letter and 3 digits"},
		{"letter in place digits", withCheck(t, "RSSMRA85T10Z99X"), "the municipality code Z99X is not valid: it must be a letter and 3 digits"},
		{"A as omocodia letter", withCheck(t, "RSSMRA85T10A5A2"), "the municipality code A5A2 is not valid: it must be a letter and 3 digits"},
		{"wrong check letter", "RSSMRA85T10A562X", "the check character should be S, not X: a character was probably mistyped"},
		{"digit as check letter", "RSSMRA85T10A5621", "the check character should be S, not 1: a character was probably mistyped"},
		{"omocode letter not re-checked", "RSSMRA85T10A56NS", "the check character should be H, not S: a character was probably mistyped"},
		{"temporary wrong check digit", "01234567890", "the check digit should be 7, not 0: a digit was probably mistyped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, tt.in)
			if err == nil {
				t.Fatalf("ParseFiscalCode(%q) = %+v, want error %q", tt.in, got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseFiscalCode(%q) error\n got %q\nwant %q", tt.in, err.Error(), tt.want)
			}
		})
	}
}

// TestParseFiscalCodeEverySubstitution changes one character of a valid code
// in every way: none may pass. Where the change keeps the code's shape, the
// refusal must come from the check letter.
func TestParseFiscalCodeEverySubstitution(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	valid := withCheck(t, "BNCLRA90A41D612")
	mustParse(t, valid)
	// sameShape reports whether putting c at pos keeps a well-formed code
	// with a real date, so that only the check letter can refuse it.
	sameShape := func(pos int, c byte) bool {
		isLetter := 'A' <= c && c <= 'Z'
		digit := strings.IndexByte("0123456789", c)
		if digit < 0 {
			digit = strings.IndexByte("LMNPQRSTUV", c)
		}
		switch {
		case pos == 15:
			return true
		case pos < 6, pos == 11:
			return isLetter
		case pos == 8:
			return strings.IndexByte("ABCDEHLMPRST", c) >= 0
		case pos == 9: // tens of day 41: 0-3 and 4-7 give days of January
			return 0 <= digit && digit <= 7
		case pos == 10: // units of day 41: 40 is no day
			return digit > 0
		default: // year and municipality digits
			return digit >= 0
		}
	}
	tried := 0
	for pos := range len(valid) {
		for _, c := range []byte(alphabet) {
			if c == valid[pos] {
				continue
			}
			b := []byte(valid)
			b[pos] = c
			code := string(b)
			tried++
			got, err := parse(t, code)
			if err == nil {
				t.Errorf("ParseFiscalCode(%q) = %+v, want an error (from %s, character %d)", code, got, valid, pos+1)
				continue
			}
			if !sameShape(pos, c) {
				continue
			}
			want := fmt.Sprintf("the check character should be %c, not %c: a character was probably mistyped", checkOf(t, code[:15]), code[15])
			if err.Error() != want {
				t.Errorf("ParseFiscalCode(%q) error\n got %q\nwant %q", code, err.Error(), want)
			}
		}
	}
	if want := 16 * 35; tried != want {
		t.Errorf("tried %d substitutions, want %d", tried, want)
	}
}

func TestParseFiscalCodeTemporary(t *testing.T) {
	for _, in := range []string{"01234567897", "12345678903", " 1234 5678 903 ", "00000000000"} {
		if !luhnValid(strings.ReplaceAll(in, " ", "")) {
			t.Fatalf("test data: %q does not pass the Luhn test", in)
		}
		got := mustParse(t, in)
		if want := strings.ReplaceAll(in, " ", ""); got.Code != want || !got.Temporary {
			t.Errorf("ParseFiscalCode(%q) = %+v, want Code %q, Temporary", in, got, want)
		}
		if !got.BirthDate.IsZero() || got.Sex != "" || got.BirthPlace != "" || got.Omocode {
			t.Errorf("ParseFiscalCode(%q) = %+v, want no decoded data", in, got)
		}
	}

	// Every single wrong digit is refused, the check digit named.
	const valid = "12345678903"
	for pos := range len(valid) {
		for c := byte('0'); c <= '9'; c++ {
			if c == valid[pos] {
				continue
			}
			b := []byte(valid)
			b[pos] = c
			code := string(b)
			_, err := parse(t, code)
			if err == nil {
				t.Errorf("ParseFiscalCode(%q): no error, want a wrong check digit", code)
				continue
			}
			want := ""
			for d := byte('0'); d <= '9'; d++ {
				if luhnValid(code[:10] + string(d)) {
					want = fmt.Sprintf("the check digit should be %c, not %c: a digit was probably mistyped", d, code[10])
				}
			}
			if err.Error() != want {
				t.Errorf("ParseFiscalCode(%q) error\n got %q\nwant %q", code, err.Error(), want)
			}
		}
	}
}

func TestFiscalCodeConsistent(t *testing.T) {
	man := mustParse(t, "RSSMRA85T10A562S")                // 10 December 1985
	woman := mustParse(t, withCheck(t, "BNCLRA90A41D612")) // 1 January 1990
	temporary := mustParse(t, "12345678903")
	tests := []struct {
		name  string
		code  people.FiscalCode
		birth time.Time
		sex   string
		want  map[string]string
	}{
		{"all match", man, day(1985, time.December, 10), "M", nil},
		{"sex in lower case", woman, day(1990, time.January, 1), " f ", nil},
		{"declared date with a time and zone", man, time.Date(1985, time.December, 10, 23, 0, 0, 0, time.FixedZone("CET", 3600)), "M", nil},
		{"same day a century apart", man, day(1885, time.December, 10), "M", nil},
		{"nothing declared", man, time.Time{}, "", nil},
		{"temporary has nothing to compare", temporary, day(1985, time.December, 10), "F", nil},
		{"wrong day", man, day(1985, time.December, 11), "M", map[string]string{
			"birth_date": "does not match the fiscal code, which gives 10 December 1985",
		}},
		{"wrong year", man, day(1986, time.December, 10), "M", map[string]string{
			"birth_date": "does not match the fiscal code, which gives 10 December 1985",
		}},
		{"man declared a woman", man, day(1985, time.December, 10), "F", map[string]string{
			"sex": "does not match the fiscal code, which is for a man",
		}},
		{"woman declared a man, and wrong month", woman, day(1990, time.February, 1), "M", map[string]string{
			"birth_date": "does not match the fiscal code, which gives 1 January 1990",
			"sex":        "does not match the fiscal code, which is for a woman",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.code.Consistent(tt.birth, tt.sex)
			if len(got) != len(tt.want) {
				t.Fatalf("Consistent = %v, want %v", got, tt.want)
			}
			for field, want := range tt.want {
				if got[field] != want {
					t.Errorf("Consistent()[%q] = %q, want %q", field, got[field], want)
				}
			}
		})
	}
}

func FuzzParseFiscalCode(f *testing.F) {
	for _, s := range []string{
		"RSSMRA85T10A562S", "rss mra 85t10 a562s", "RSSMRA85T10A56NT", "RSSMRA79B11C566R",
		"RSSMRA85T10A562X", "RSSMRA85Q10A562S", "RSSMRA85B30A562S", "RSSMRA85T10Z99XS",
		"RSSMRALMTMLAMNPQ", "12345678903", "12345678900", "RSSMRA85T10", "", " ", "\xff", "ı",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := people.ParseFiscalCode(s, now)
		if err != nil {
			var fe *people.FiscalCodeError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFiscalCode(%q): error %T, want *people.FiscalCodeError", s, err)
			}
			if err.Error() == "" {
				t.Fatalf("ParseFiscalCode(%q): empty error message", s)
			}
			return
		}
		if n := len(got.Code); n != 16 && n != 11 {
			t.Fatalf("ParseFiscalCode(%q).Code = %q: %d characters, want 16 or 11", s, got.Code, n)
		}
		if got.Temporary != (len(got.Code) == 11) {
			t.Fatalf("ParseFiscalCode(%q) = %+v: Temporary does not match the length", s, got)
		}
		if !got.Temporary && got.BirthDate.After(now) {
			t.Fatalf("ParseFiscalCode(%q).BirthDate = %s, after now", s, got.BirthDate)
		}
		for _, again := range []string{got.Code, strings.ToLower(got.Code)} {
			re, err := people.ParseFiscalCode(again, now)
			if err != nil {
				t.Fatalf("ParseFiscalCode(%q) = %q, which re-parses with error %v", s, got.Code, err)
			}
			if re.Code != got.Code || re.Temporary != got.Temporary || !re.BirthDate.Equal(got.BirthDate) ||
				re.Sex != got.Sex || re.BirthPlace != got.BirthPlace || re.Omocode != got.Omocode {
				t.Fatalf("ParseFiscalCode(%q) = %+v, but its code %q re-parses as %+v", s, got, again, re)
			}
		}
	})
}
