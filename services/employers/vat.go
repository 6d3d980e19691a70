package employers

import (
	"fmt"
	"strings"
)

// VATError says, in words an operator understands, why a partita IVA was
// refused.
type VATError struct {
	Msg string
}

func (e *VATError) Error() string { return e.Msg }

func vatErrorf(format string, args ...any) error { return &VATError{Msg: fmt.Sprintf(format, args...)} }

// ParseVAT checks an Italian VAT number (partita IVA) and returns it as its
// 11 digits. Spaces and an "IT" prefix (the EU form, IT01234567890) are
// accepted. The number is 7 digits of registration number (matricola), 3 of
// the tax office, and a check digit computed as Luhn's. The error is a
// *VATError.
//
// It checks the form, not that the number was ever issued or is active
// (that takes the Agenzia delle Entrate's VIES or anagrafe service).
func ParseVAT(s string) (string, error) {
	t := strings.TrimLeft(s, " \t")
	if len(t) >= 2 && t[0]|0x20 == 'i' && t[1]|0x20 == 't' {
		t = t[2:] // the EU prefix
	}
	b := make([]byte, 0, 11)
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == ' ' || c == '\t':
		case c >= '0' && c <= '9':
			b = append(b, c)
		default:
			return "", vatErrorf("may contain only digits (an IT prefix and spaces are accepted), not %q", printable(t[i:]))
		}
	}
	switch {
	case len(b) == 0:
		return "", vatErrorf("is empty: a partita IVA is 11 digits")
	case len(b) != 11:
		return "", vatErrorf("must be 11 digits, not %d", len(b))
	case string(b[:7]) == "0000000":
		return "", vatErrorf("the first 7 digits (the registration number) cannot all be zero")
	case string(b[7:10]) == "000":
		return "", vatErrorf("digits 8 to 10 are the code of the tax office that issued the number, and 000 is not one")
	}
	if want := vatCheckDigit(b[:10]); b[10] != want {
		return "", vatErrorf("the check digit (the last) should be %c, not %c: a digit was probably mistyped", want, b[10])
	}
	return string(b), nil
}

// vatCheckDigit is the Luhn check digit of the first 10 digits: digits in
// odd positions (1st, 3rd, ...) count as they are, those in even positions
// are doubled (minus 9 when over 9).
func vatCheckDigit(first10 []byte) byte {
	sum := 0
	for i, c := range first10 {
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// printable shortens the rest of an input for a message.
func printable(s string) string {
	r := []rune(s)
	if len(r) > 10 {
		return string(r[:10]) + "…"
	}
	return string(r)
}
