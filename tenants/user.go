package tenants

import (
	"net/mail"
	"strings"
	"time"
)

// User is a member of staff of one or more tenants.
type User struct {
	ID          string
	Email       string
	DisplayName string
	DisabledAt  *time.Time
	CreatedAt   time.Time
}

// Membership is a user's place in a tenant, with the roles held there.
type Membership struct {
	TenantID   string
	TenantSlug string
	TenantName string
	TenantKind Kind
	Roles      []Role
	DisabledAt *time.Time
}

// NormalizeEmail trims an address and checks its form; the second result
// says what is wrong, or is "".
func NormalizeEmail(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "is required"
	}
	if len(s) > 254 {
		return "", "is too long"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", "is not an email address"
	}
	return s, ""
}

// ParseRoles checks a list of role names: every one known, none repeated, at
// least one. The second result says what is wrong, or is "".
func ParseRoles(names []string) ([]Role, string) {
	if len(names) == 0 {
		return nil, "must name at least one role"
	}
	seen := map[Role]bool{}
	out := make([]Role, 0, len(names))
	for _, n := range names {
		r := Role(strings.TrimSpace(n))
		if !r.Valid() {
			return nil, "unknown role " + quote(n) + "; roles are " + roleList()
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, ""
}

func quote(s string) string { return `"` + s + `"` }

func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
