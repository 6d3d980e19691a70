package referrals_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"attivi/policies"
)

// The cross-tenant matrix of server/matrix_test.go for this package's
// endpoints, with the same scenarios and expectations (the entries are
// meant to join that table once the routes are wired):
//
//	unlinked  a tenant with no link to the person (caritas)
//	noconsent a tenant with a care-team link but no consent (coeso)
//	excluded  the employment office, care-team link, consent for health and status only
//	right     the owner (comune-bagno-a-ripoli)
//
// The person is a salute_mentale participant (no status_observer link); a
// referral of theirs goes from the owner to a fifth tenant (cristoforo).
type matrixEndpoint struct {
	name   string
	method string
	path   string // {person} and {referral} are replaced, in the body too
	body   string
	expect map[string]string
}

var matrix = []matrixEndpoint{
	{name: "status view", method: "GET", path: "/api/v1/persons/{person}/status", expect: map[string]string{
		"unlinked": "404", "noconsent": "200", "excluded": "200", "right": "200"}},
	{name: "L.68 checks", method: "GET", path: "/api/v1/persons/{person}/l68-checks", expect: map[string]string{
		"unlinked": "404", "noconsent": "withheld:disability", "excluded": "withheld:disability", "right": "200"}},
	{name: "record an L.68 check", method: "POST", path: "/api/v1/persons/{person}/l68-checks",
		body:   `{"registered":false,"unemployment_declaration_active":true,"source":"registry"}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "refer", method: "POST", path: "/api/v1/referrals",
		body:   `{"person_id":"{person}","to_tenant":"arca","reason":"valutazione","shared_categories":["employment"]}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "outgoing referrals", method: "GET", path: "/api/v1/referrals?direction=outgoing", expect: map[string]string{
		"unlinked": "absent", "noconsent": "absent", "excluded": "absent", "right": "listed"}},
	{name: "read a referral", method: "GET", path: "/api/v1/referrals/{referral}", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "404", "right": "200"}},
	{name: "move a referral", method: "POST", path: "/api/v1/referrals/{referral}/transitions", body: `{"to":"cancelled"}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "404", "right": "200"}},
}

func TestCrossTenantMatrix(t *testing.T) {
	e := newEnv(t)
	person := e.person(owner, "salute_mentale")
	for _, a := range []string{coop, office, carer} {
		e.link(person, a, policies.LinkCareTeam)
	}
	e.consent(person, []string{"collocamento-mirato-firenze"}, "health", "status")
	res := e.do("POST", "/api/v1/referrals", owner, map[string]any{"person_id": person, "to_tenant": "cristoforo",
		"reason": "laboratorio", "shared_categories": []string{"employment"}})
	if res.status != 201 {
		t.Fatalf("referral: %d %s", res.status, res.body)
	}
	referral := res.referral(t).ID
	actors := map[string]string{"unlinked": stranger, "noconsent": coop, "excluded": office, "right": owner}
	for _, scenario := range []string{"unlinked", "noconsent", "excluded", "right"} {
		for _, m := range matrix {
			rep := strings.NewReplacer("{person}", person, "{referral}", referral)
			var body any
			if m.body != "" {
				if err := json.Unmarshal([]byte(rep.Replace(m.body)), &body); err != nil {
					t.Fatal(err)
				}
			}
			r := e.do(m.method, rep.Replace(m.path), actors[scenario], body, "If-Match", "1")
			var got map[string]any
			_ = json.Unmarshal(r.body, &got)
			want := m.expect[scenario]
			kind, cat, _ := strings.Cut(want, ":")
			ok := false
			switch kind {
			case "withheld":
				ok = r.status == 200 && slices.Contains(strs(got["withheld"]), cat) && got[cat] == nil
			case "listed", "absent":
				listed := false
				items, _ := got["items"].([]any)
				for _, it := range items {
					listed = listed || it.(map[string]any)["person_id"] == person
				}
				ok = r.status == 200 && listed == (kind == "listed")
			default:
				ok = strings.TrimSpace(want) == itoa(r.status)
			}
			if !ok {
				t.Errorf("%s as %s: got %d %s, want %s", m.name, scenario, r.status, r.body, want)
			}
		}
	}
}

func strs(v any) []string {
	var out []string
	s, _ := v.([]any)
	for _, x := range s {
		if y, ok := x.(string); ok {
			out = append(out, y)
		}
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
