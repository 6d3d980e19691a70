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
// {referral} is a referral from the owner to cristoforo sharing employment.
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
		body:   `{"basis":"consent","purpose":"monitoraggio","grantees":["coordinamento-attivi"],"categories":["status"],"valid_from":"2026-01-01"}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "read a consent", method: "GET", path: "/api/v1/consents/{consent}", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "200", "right": "200"}},
	// The consent's signed form: uploaded by the owner of the record only;
	// read whole (it names every grantee) by the owner or the recorder only.
	{name: "upload a consent's signed form", method: "PUT", path: "/api/v1/consents/{consent}/document", body: "%PDF-1.4\n%firmato\n", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "403", "right": "201"}},
	{name: "download a consent's signed form", method: "GET", path: "/api/v1/consents/{consent}/document", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "404", "right": "200"}},
	{name: "ready-to-sign consent form", method: "GET", path: "/api/v1/consents/{consent}/form.pdf", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "404", "right": "200"}},

	// Referrals, the status view and L.68 verifications.
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

	// The path to work (category employment) and employers (no personal data).
	{name: "path stage", method: "GET", path: "/api/v1/persons/{person}/stage", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	// 409 for the right tenant: past the access check, If-Match 1 is stale for a path with no stage yet.
	{name: "change path stage", method: "POST", path: "/api/v1/persons/{person}/stage", body: `{"stage":"selection"}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "409"}},
	{name: "assessments", method: "GET", path: "/api/v1/persons/{person}/assessments", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "record an assessment", method: "POST", path: "/api/v1/persons/{person}/assessments",
		body:   `{"assessed_on":"2026-01-10","scores":{"functioning":{"score":1},"autonomy":{"score":2},"relational":{"score":1},"work_skills":{"score":2},"motivation":{"score":1},"context_facilitators":{"score":2},"context_barriers":{"score":1}},"synthesis":"sintesi","sessions":[{"held_on":"2026-01-10","hours":2}]}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "action plans", method: "GET", path: "/api/v1/persons/{person}/plans", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "draft an action plan", method: "POST", path: "/api/v1/persons/{person}/plans",
		body:   `{"objectives":[{"area":"autonomy","description":"autonomia","actions":[{"kind":"tirocinio","start_on":"2026-02-01","end_on":"2026-07-31","planned_hours":300,"indicator":"presenze","expected_result":"assunzione"}]}]}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "activities", method: "GET", path: "/api/v1/persons/{person}/activities", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "log an activity", method: "POST", path: "/api/v1/persons/{person}/activities", body: `{"kind":"orientamento","held_on":"2026-01-12","hours":1.5}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "placements", method: "GET", path: "/api/v1/persons/{person}/placements", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "record a placement", method: "POST", path: "/api/v1/persons/{person}/placements",
		body:   `{"kind":"formazione_esterna","start_on":"2026-01-12","planned_end_on":"2026-03-31","hours_per_week":12}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "follow-ups", method: "GET", path: "/api/v1/persons/{person}/follow-ups", expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{name: "record a follow-up", method: "POST", path: "/api/v1/persons/{person}/follow-ups",
		body:   `{"kind":"at_exit","exit_on":"2026-01-15","observed_on":"2026-01-15","status":"job_seeking"}`,
		expect: map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "employers", method: "GET", path: "/api/v1/employers", expect: map[string]string{
		"unlinked": "200", "noconsent": "200", "excluded": "200", "right": "200"}},

	// Case notes ({note}: a social note of the owner) and the conference
	// ({conference}: the owner's, inviting the employment office for the person).
	{name: "notes of the person", method: "GET", path: "/api/v1/persons/{person}/notes", expect: map[string]string{
		"unlinked": "404", "noconsent": "200", "excluded": "200", "right": "200"}},
	{name: "search notes", method: "GET", path: "/api/v1/notes?person_id={person}", expect: map[string]string{
		"unlinked": "404", "noconsent": "200", "excluded": "200", "right": "200"}},
	{name: "read a note", method: "GET", path: "/api/v1/persons/{person}/notes/{note}", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "404", "right": "200"}},
	{name: "write a note", method: "POST", path: "/api/v1/persons/{person}/notes", body: `{"category":"employment","body":"Colloquio"}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{name: "amend a note", method: "POST", path: "/api/v1/persons/{person}/notes/{note}/amendments", body: `{"body":"Rettifica"}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "404", "right": "201"}},
	{name: "note entered in error", method: "POST", path: "/api/v1/persons/{person}/notes/{note}/entered-in-error", body: `{"reason":"Persona sbagliata"}`, expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "404", "right": "200"}},
	{name: "read a conference", method: "GET", path: "/api/v1/conferences/{conference}", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "200", "right": "200"}},
	{name: "conference minutes", method: "GET", path: "/api/v1/conferences/{conference}/minutes", expect: map[string]string{
		"unlinked": "404", "noconsent": "404", "excluded": "200", "right": "200"}},
	{name: "conference calendar", method: "GET", path: "/api/v1/conferences/{conference}/ics", expect: map[string]string{
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
	status, r := f.call(t, "POST", "/api/v1/referrals", owner, "",
		`{"person_id":"`+person+`","to_tenant":"cristoforo","reason":"inserimento","priority":"routine","shared_categories":["employment"]}`)
	if status != 201 {
		t.Fatalf("referral: %d %v", status, r)
	}
	referral := r["id"].(string)
	if status, b := f.call(t, "POST", "/api/v1/persons/"+person+"/consents", owner, "",
		`{"basis":"consent","purpose":"case_conference","grantees":["collocamento-mirato-firenze"],"categories":["status"],"valid_from":"2026-01-01"}`); status != 201 {
		t.Fatalf("conference consent: %d %v", status, b)
	}
	status, cf := f.call(t, "POST", "/api/v1/conferences", owner, "", `{"title":"Équipe di rete","starts_at":"2031-03-10T09:00:00Z",
		"ends_at":"2031-03-10T11:00:00Z","location":"Sala","invited_tenants":["collocamento-mirato-firenze"],"person_ids":["`+person+`"]}`)
	if status != 201 {
		t.Fatalf("conference: %d %v", status, cf)
	}
	conference := cf["id"].(string)
	status, nt := f.call(t, "POST", "/api/v1/persons/"+person+"/notes", owner, "", `{"category":"social","body":"Colloquio"}`)
	if status != 201 {
		t.Fatalf("note: %d %v", status, nt)
	}
	note := nt["id"].(string)

	run := func(scenario string, e matrixEndpoint, token string) {
		t.Helper()
		fill := strings.NewReplacer("{person}", person, "{consent}", consent, "{referral}", referral, "{note}", note, "{conference}", conference)
		status, body := f.call(t, e.method, fill.Replace(e.path), token, "", fill.Replace(e.body), "If-Match", "1")
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
				item := it.(map[string]any)
				listed = listed || item["id"] == person || item["person_id"] == person
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
