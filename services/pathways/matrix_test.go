package pathways_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"attivi/policies"
)

// matrixEntries are the rows this package adds to the cross-tenant matrix
// of server/matrix_test.go, in its format. They are run here the way the
// harness runs them (same scenarios, every request with If-Match: 1), so
// that they are known to hold before they are wired.
var matrixEntries = []struct {
	name, method, path, body string
	expect                   map[string]string
}{
	{"path stage", "GET", "/api/v1/persons/{person}/stage", "", map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	// 409 for the right tenant: past the access check, the harness's If-Match: 1 is stale for a path with no stage (version 0).
	{"change path stage", "POST", "/api/v1/persons/{person}/stage", `{"stage":"selection"}`, map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "409"}},
	{"assessments", "GET", "/api/v1/persons/{person}/assessments", "", map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{"record an assessment", "POST", "/api/v1/persons/{person}/assessments",
		`{"assessed_on":"2026-01-10","scores":{"functioning":{"score":1},"autonomy":{"score":2},"relational":{"score":1},"work_skills":{"score":2},"motivation":{"score":1},"context_facilitators":{"score":2},"context_barriers":{"score":1}},"synthesis":"sintesi","sessions":[{"held_on":"2026-01-10","hours":2}]}`,
		map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{"action plans", "GET", "/api/v1/persons/{person}/plans", "", map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{"draft an action plan", "POST", "/api/v1/persons/{person}/plans",
		`{"objectives":[{"area":"autonomy","description":"autonomia","actions":[{"kind":"tirocinio","start_on":"2026-02-01","end_on":"2026-07-31","planned_hours":300,"indicator":"presenze","expected_result":"assunzione"}]}]}`,
		map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{"activities", "GET", "/api/v1/persons/{person}/activities", "", map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{"log an activity", "POST", "/api/v1/persons/{person}/activities", `{"kind":"orientamento","held_on":"2026-01-12","hours":1.5}`, map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{"placements", "GET", "/api/v1/persons/{person}/placements", "", map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{"record a placement", "POST", "/api/v1/persons/{person}/placements",
		`{"kind":"formazione_esterna","start_on":"2026-01-12","planned_end_on":"2026-03-31","hours_per_week":12}`,
		map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	{"follow-ups", "GET", "/api/v1/persons/{person}/follow-ups", "", map[string]string{
		"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "200"}},
	{"record a follow-up", "POST", "/api/v1/persons/{person}/follow-ups",
		`{"kind":"at_exit","exit_on":"2026-01-15","observed_on":"2026-01-15","status":"job_seeking"}`,
		map[string]string{"unlinked": "404", "noconsent": "403", "excluded": "403", "right": "201"}},
	// Employers hold no personal data: every staff role reads them.
	{"employers", "GET", "/api/v1/employers", "", map[string]string{
		"unlinked": "200", "noconsent": "200", "excluded": "200", "right": "200"}},
}

// TestMatrixEntries runs matrixEntries with the harness's scenarios: the
// owner (a municipality's social worker) is right; caritas has no link;
// a job coach of the care team has no consent; the employment office is in
// the care team with the person's consent to health and status only.
func TestMatrixEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var p string
	if err := e.db.GetContext(context.Background(), &p, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ('VRDLCU80A41D612O', 'Lucia', 'Verdi', '1980-01-01', 'F', '048001', 'salute_mentale', $1) RETURNING id`, e.actors[owner].TenantID); err != nil {
		t.Fatal(err)
	}
	e.link(p, owner, policies.LinkOwner)
	e.link(p, noConsent, policies.LinkCareTeam)
	e.link(p, observer, policies.LinkCareTeam)
	e.consent(p, observer, policies.CatHealth, policies.CatStatus)
	scenarios := map[string]string{"unlinked": stranger, "noconsent": noConsent, "excluded": observer, "right": owner}
	for _, sc := range []string{"unlinked", "noconsent", "excluded", "right"} {
		for _, m := range matrixEntries {
			var body any
			if m.body != "" {
				body = jsonRaw(m.body)
			}
			r := e.do(m.method, strings.ReplaceAll(m.path, "{person}", p), scenarios[sc], body, "If-Match", "1")
			if got := fmt.Sprint(r.status); got != m.expect[sc] {
				t.Errorf("%s as %s: %s %s, want %s", m.name, sc, got, r.body, m.expect[sc])
			}
		}
	}
}
