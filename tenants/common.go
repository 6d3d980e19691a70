package tenants

import (
	_ "embed"
	"strings"
	"unicode"
)

//go:embed common_passwords.txt
var commonPasswordsText string

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonPasswordsText, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}()

// isCommonPassword reports whether the lower-cased password is a common word
// or keyboard walk, alone, repeated, or wrapped in digits and punctuation.
func isCommonPassword(norm string) bool {
	core := strings.TrimFunc(norm, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	if core == "" {
		// only digits and symbols: "123456789012", "!!!!111122223333"
		return true
	}
	if commonPasswords[core] || commonPasswords[norm] {
		return true
	}
	// a common word repeated: "passwordpassword", "ciaociaociao"
	for n := 2; n <= 4; n++ {
		if len(core)%n == 0 {
			part := core[:len(core)/n]
			if strings.Repeat(part, n) == core && (commonPasswords[part] || len(part) <= 3) {
				return true
			}
		}
	}
	return false
}
