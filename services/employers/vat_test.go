package employers_test

import (
	"errors"
	"strings"
	"testing"

	"attivi/services/employers"
)

// luhn is the textbook Luhn test over the whole number, computed here on
// its own so that the tests do not trust the package's arithmetic.
func luhn(s string) bool {
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

func TestParseVAT(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		problem  string // part of the message when refused
	}{
		{"01114601006", "01114601006", ""},      // an office of Rome (100)
		{"IT01114601006", "01114601006", ""},    // EU form
		{"it 0111 460 1006", "01114601006", ""}, // spaces, lower case prefix
		{" 12345670017 ", "12345670017", ""},
		{"00743110157", "00743110157", ""}, // Milan (015)
		{"04883980486", "04883980486", ""}, // Florence (048)
		{"01114601007", "", "check digit (the last) should be 6, not 7"},
		{"01141601006", "", "should be 3, not 6"}, // two digits swapped
		{"0111460100", "", "must be 11 digits, not 10"},
		{"011146010061", "", "must be 11 digits, not 12"},
		{"", "", "is empty"},
		{"IT", "", "is empty"},
		{"0111460100A", "", "only digits"},
		{"01114-601006", "", "only digits"},
		{"ITIT01114601006", "", "only digits"},
		{"01114601006IT", "", "only digits"},
		{"00000000000", "", "registration number"},
		{"12345670000", "", "tax office"},
		{"DE123456789", "", "only digits"},
		{"０1114601006", "", "only digits"}, // a full-width digit
	} {
		got, err := employers.ParseVAT(tc.in)
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("ParseVAT(%q): %v, want %s", tc.in, err, tc.want)
		case tc.problem == "" && got != tc.want:
			t.Errorf("ParseVAT(%q) = %q, want %q", tc.in, got, tc.want)
		case tc.problem != "" && err == nil:
			t.Errorf("ParseVAT(%q) = %q, want an error about %q", tc.in, got, tc.problem)
		case tc.problem != "" && !strings.Contains(err.Error(), tc.problem):
			t.Errorf("ParseVAT(%q): %q, want it to say %q", tc.in, err, tc.problem)
		}
		if err != nil {
			var ve *employers.VATError
			if !errors.As(err, &ve) {
				t.Errorf("ParseVAT(%q): error %T, want *employers.VATError", tc.in, err)
			}
		}
	}
	// Every one-digit typo of a valid number is caught.
	const valid = "04883980486"
	for i := range len(valid) {
		for d := byte('0'); d <= '9'; d++ {
			if d == valid[i] {
				continue
			}
			typo := valid[:i] + string(d) + valid[i+1:]
			if _, err := employers.ParseVAT(typo); err == nil {
				t.Errorf("ParseVAT(%q) accepted a typo of %s", typo, valid)
			}
		}
	}
}

// go test -run='^$' -fuzz=FuzzVAT -fuzztime=20s ./services/employers/
func FuzzVAT(f *testing.F) {
	for _, s := range []string{"01114601006", "IT01114601006", "it 0111 460 1006", "01114601007", "", "IT", "I", "T",
		"00000000000", "12345670000", "\xff", "0111460100\x00", "IT IT", " it01114601006"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := employers.ParseVAT(s)
		if err != nil {
			var ve *employers.VATError
			if !errors.As(err, &ve) || err.Error() == "" {
				t.Fatalf("ParseVAT(%q): error %T %q, want a *employers.VATError with a message", s, err, err)
			}
			if got != "" {
				t.Fatalf("ParseVAT(%q) = %q with an error", s, got)
			}
			return
		}
		if len(got) != 11 || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("ParseVAT(%q) = %q: not 11 digits", s, got)
		}
		if !luhn(got) {
			t.Fatalf("ParseVAT(%q) = %q, which fails the Luhn test", s, got)
		}
		if got[:7] == "0000000" || got[7:10] == "000" {
			t.Fatalf("ParseVAT(%q) = %q: zero registration number or office", s, got)
		}
		if !strings.Contains(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s), got) {
			t.Fatalf("ParseVAT(%q) = %q: digits not from the input", s, got)
		}
		for _, again := range []string{got, "IT" + got, "it " + got} {
			if re, err := employers.ParseVAT(again); err != nil || re != got {
				t.Fatalf("ParseVAT(%q) = %q, but %q parses as %q, %v", s, got, again, re, err)
			}
		}
	})
}
