package server_test

import (
	"slices"
	"strings"
	"testing"

	"attivi/server"
)

// The cross-tenant matrix: every endpoint about a person, asked by
//
//	unlinked  a tenant with no link to the person (caritas)
//	noconsent a tenant with a care-team link but no consent (coeso)
//	excluded  a tenant of a kind the network rules exclude from health,
//	          linked and named by a consent for health (the employment office)
//	right     the owner (comune-bagno-a-ripoli), or the tenant the consent names
//
// Expectations: "404" (the person does not exist for the tenant), "200",
// "403", "withheld:<category>" (200, the category named under withheld),
// "shows:<category>" (200, the category present), "absent"/"listed" for
// lists. Every new endpoint about a person joins the table.
type matrixEndpoint struct {
	name   string
	method string
	path   string // {person} and {consent} are replaced
	body   string
	expect map[string]string
}

var matrix = []matrixEndpoint{
	{name: "read person", method: "GET", path: "/api/v1/persons/{person}", expect: map[string]string{
		"unlinked": "404", "noconsent": "withheld:contact", "excluded": "withheld:health", "right": "shows:contact"}},
	{name: "read person, health", method: "GET", path: "/api/v1/persons/{person}", expect: map[string]string{
		"unlinked": "404", "noconsent": "withheld:health", "excluded": "withheld:health", "right": "shows:health"}},
	{name: "search persons", method: "GET", path: "/api/v1/persons?q=verdi", expect: map[string]string{
		"unlinked": "absent", "noconsent": "listed", "excluded": "listed", "right": "listed"}},
	{name: "change person", method: "PATCH", path: "/api/v1/persons/{person}", body: `{"contact":{"phone":"055 000000"}}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "links", method: "GET", path: "/api/v1/persons/{person}/links", expect: map[string]string{
		"unlinked": "404", "noconsent": "200", "excluded": "200", "right": "200"}},
	{name: "add care team", method: "POST", path: "/api/v1/persons/{person}/links", body: `{"tenant":"arca","kind":"care_team"}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "access explanation", method: "GET", path: "/api/v1/persons/{person}/access", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "access log", method: "GET", path: "/api/v1/persons/{person}/access-log", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "consents of the person", method: "GET", path: "/api/v1/persons/{person}/consents", expect: map[string]string{
		"unlinked": "404", "noconsent": "200", "excluded": "200", "right": "200"}},
	{name: "record a consent", method: "POST", path: "/api/v1/persons/{person}/consents",
		body: `{"basis":"consent","purpose":"monitoraggio","grantees":["coordinamento-attivi"],"categories":["status"],"valid_from":"2026-01-01"}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "read a consent", method: "GET", path: "/api/v1/consents/{consent}", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "200", "right": "200"}},
}

func TestCrossTenantMatrix(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-bagno-a-ripoli", "owner@bagno.example", "social_worker")
	f.user(t, "caritas", "coach@caritas.example", "job_coach")
	f.user(t, "coeso", "coach@coeso.example", "job_coach")
	f.user(t, "collocamento-mirato-firenze", "officer@cm.example", "placement_officer")
	f.user(t, "ufsma-sud-est", "doctor@ufsma.example", "health_worker")
	clinician := f.login(t, "doctor@ufsma.example")
	tokens := map[string]string{
		"right":     f.login(t, "owner@bagno.example"),
		"unlinked":  f.login(t, "coach@caritas.example"),
		"noconsent": f.login(t, "coach@coeso.example"),
		"excluded":  f.login(t, "officer@cm.example"),
	}
	owner := tokens["right"]
	status, p := f.call(t, "POST", "/api/v1/persons", owner, "", `{"fiscal_code":"VRDLCU80A41D612O","given_name":"Lucia","family_name":"Verdi",
		"birth_date":"1980-01-01","sex":"F","residence_istat":"048001","target_group":"salute_mentale",
		"contact":{"phone":"055 123456","email":"lucia.verdi@example.org","address":"Via Chiantigiana 5"}}`)
	if status != 201 {
		t.Fatalf("register: %d %v", status, p)
	}
	person := p["id"].(string)
	for _, body := range []string{`{"tenant":"coeso","kind":"care_team"}`, `{"tenant":"collocamento-mirato-firenze"}`, `{"tenant":"ufsma-sud-est"}`} {
		if status, b := f.call(t, "POST", "/api/v1/persons/"+person+"/links", owner, "", body); status != 201 {
			t.Fatalf("link %s: %d %v", body, status, b)
		}
	}
	// The person consents to health data for the employment office (which the
	// network rules still refuse) and to nothing for coeso yet.
	status, c := f.call(t, "POST", "/api/v1/persons/"+person+"/consents", owner, "",
		`{"basis":"consent","purpose":"inserimento_lavorativo","grantees":["collocamento-mirato-firenze"],"categories":["health","status"],"valid_from":"2026-01-01"}`)
	if status != 201 {
		t.Fatalf("consent: %d %v", status, c)
	}
	consent := c["id"].(string)

	run := func(scenario string, e matrixEndpoint, token string) {
		t.Helper()
		path := strings.NewReplacer("{person}", person, "{consent}", consent).Replace(e.path)
		status, body := f.call(t, e.method, path, token, "", e.body, "If-Match", "1")
		want := e.expect[scenario]
		kind, cat, _ := strings.Cut(want, ":")
		ok := false
		switch kind {
		case "withheld":
			ok = status == 200 && slices.Contains(anyStrings(body["withheld"]), cat) && body[cat] == nil
		case "shows":
			ok = status == 200 && body[cat] != nil && !slices.Contains(anyStrings(body["withheld"]), cat)
		case "listed", "absent":
			listed := false
			for _, it := range anySlice(body["items"]) {
				listed = listed || it.(map[string]any)["id"] == person
			}
			ok = status == 200 && listed == (kind == "listed")
		default:
			ok = jsonString(status) == want
		}
		if !ok {
			t.Errorf("%s as %s: got %d %v, want %s", e.name, scenario, status, body, want)
		}
	}
	for _, scenario := range []string{"unlinked", "noconsent", "excluded"} {
		for _, e := range matrix {
			run(scenario, e, tokens[scenario])
		}
	}
	// The right tenant: coeso once the person consents to contact for it, the
	// mental-health unit for health, the owner for the owner's endpoints.
	status, c2 := f.call(t, "POST", "/api/v1/persons/"+person+"/consents", owner, "",
		`{"basis":"consent","purpose":"inserimento_lavorativo","grantees":["coeso","ufsma-sud-est"],"categories":["contact","health"],"valid_from":"2026-01-01"}`)
	if status != 201 {
		t.Fatalf("consent for coeso: %d %v", status, c2)
	}
	for _, e := range matrix {
		token := owner
		switch e.name {
		case "read person", "read a consent":
			token = tokens["noconsent"] // coeso, now with consent
		case "read person, health":
			token = clinician
		}
		if e.name == "read a consent" {
			consent = c2["id"].(string)
		}
		run("right", e, token)
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range anySlice(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
