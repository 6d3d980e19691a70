package synth

import (
	"fmt"
	"strings"
	"time"
)

// The 16-character fiscal code (DM 23/12/1976), as services/people parses
// it; every code made here is checked with people.ParseFiscalCode.

const (
	monthLetters   = "ABCDEHLMPRST"
	omocodeLetters = "LMNPQRSTUV"
	oddValues      = "BAKPLCQDREVOSFTGUHMINJWZYX"
)

// omocodePositions are the digit positions that omocodia replaces with
// letters, in the order the Agenzia delle Entrate uses them (right to left).
var omocodePositions = []int{14, 13, 12, 10, 9, 7, 6}

// fiscalCode returns the code of a person at omocodia level (0: none, k: the
// k rightmost digits written as letters), or "" when level is beyond 7.
func fiscalCode(family, given string, birth time.Time, sex, place string, level int) string {
	if level > len(omocodePositions) {
		return ""
	}
	day := birth.Day()
	if sex == "F" {
		day += 40
	}
	b := []byte(surnameCode(family) + givenNameCode(given) +
		fmt.Sprintf("%02d%c%02d", birth.Year()%100, monthLetters[birth.Month()-1], day) + place)
	for _, p := range omocodePositions[:level] {
		b[p] = omocodeLetters[b[p]-'0']
	}
	return string(b) + string(checkLetter(string(b)))
}

func lettersOf(s string) (consonants, vowels string) {
	var c, v strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case strings.ContainsRune("AEIOU", r):
			v.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			c.WriteRune(r)
		}
	}
	return c.String(), v.String()
}

func surnameCode(s string) string {
	c, v := lettersOf(s)
	return (c + v + "XXX")[:3]
}

func givenNameCode(s string) string {
	c, v := lettersOf(s)
	if len(c) >= 4 {
		return c[:1] + c[2:4]
	}
	return (c + v + "XXX")[:3]
}

func checkLetter(s string) byte {
	sum := 0
	for i := range len(s) {
		v := int(s[i] - 'A')
		if s[i] >= '0' && s[i] <= '9' {
			v = int(s[i] - '0')
		}
		if i%2 == 0 { // odd position, counting from 1
			v = strings.IndexByte(oddValues, byte('A'+v))
		}
		sum += v
	}
	return byte('A' + sum%26)
}
