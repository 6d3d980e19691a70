package pathways_test

import (
	"context"
	"strings"
	"testing"

	"attivi/services/pathways"
)

// TestAuthorReadsItsOwnRecords: a record is always readable by the tenant
// that wrote it (DESIGN section 6). A cooperative that wrote an assessment
// and an activity keeps reading them after the person's consent to it is
// revoked and its link ends, and sees nothing else of the path: the other
// tenants' records are absent from its lists and not found by id; it may no
// longer write. The tenant with access sees everyone's records.
func TestAuthorReadsItsOwnRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := e.fixture(pathways.TargetL68) // the coach's assessment, plan and placement
	p := "/api/v1/persons/" + f.person
	ctx := context.Background()

	// arca, on the care team, gets a consent for a while and writes.
	e.consent(f.person, noConsent, "employment")
	own := e.must(201, "POST", p+"/assessments", noConsent, map[string]any{"assessed_on": e.day(0, 0), "scores": scores(2, 2, 2, 2, 2, 2, 2),
		"synthesis": "valutazione di arca", "sessions": []any{map[string]any{"held_on": e.day(0, 0), "hours": 1}}}).obj(t)["id"].(string)
	e.must(201, "POST", p+"/activities", noConsent, map[string]any{"kind": "coaching", "held_on": e.day(0, 0), "hours": 2})
	e.must(201, "POST", p+"/activities", coach, map[string]any{"kind": "coaching", "held_on": e.day(0, 0), "hours": 3})

	lose := map[string]string{
		"consent revoked": `UPDATE consent_grants SET revoked_at = now() WHERE person_id = $1 AND grantee_tenant_id = $2 AND revoked_at IS NULL`,
		"link ended":      `UPDATE person_links SET ended_at = now(), end_reason = 'fine presa in carico' WHERE person_id = $1 AND tenant_id = $2 AND ended_at IS NULL`,
	}
	for _, step := range []string{"consent revoked", "link ended"} {
		if _, err := e.db.ExecContext(ctx, lose[step], f.person, e.actors[noConsent].TenantID); err != nil {
			t.Fatal(err)
		}
		as := items(t, e.must(200, "GET", p+"/assessments", noConsent, nil))
		if len(as) != 1 || as[0]["id"] != own {
			t.Errorf("%s: arca lists %d assessments, want only its own", step, len(as))
		}
		e.must(200, "GET", "/api/v1/assessments/"+own, noConsent, nil)
		if acts := items(t, e.must(200, "GET", p+"/activities", noConsent, nil)); len(acts) != 1 || acts[0]["tenant"] != noConsent {
			t.Errorf("%s: arca lists activities %v, want only its own", step, acts)
		}
		for _, path := range []string{p + "/plans", p + "/placements", p + "/follow-ups"} {
			if list := items(t, e.must(200, "GET", path, noConsent, nil)); len(list) != 0 {
				t.Errorf("%s: GET %s as arca shows %d records of other tenants", step, path, len(list))
			}
		}
		for _, path := range []string{"/api/v1/assessments/" + f.assessment, "/api/v1/plans/" + f.plan,
			"/api/v1/placements/" + f.placement, "/api/v1/placements/" + f.placement + "/attendance"} {
			if r := e.do("GET", path, noConsent, nil); r.status != 404 {
				t.Errorf("%s: GET %s (the coach's) as arca: %d, want 404", step, path, r.status)
			}
		}
		if r := e.do("POST", p+"/activities", noConsent, map[string]any{"kind": "coaching", "held_on": e.day(0, 0), "hours": 1}); r.status < 400 {
			t.Errorf("%s: arca still writes activities: %d", step, r.status)
		}
		if r := e.do("GET", p+"/stage", noConsent, nil); r.status < 400 {
			t.Errorf("%s: arca reads the stage of the path: %d", step, r.status)
		}
	}
	// Who wrote nothing sees nothing; who has access sees every tenant's records.
	if r := e.do("GET", p+"/assessments", stranger, nil); r.status != 404 {
		t.Errorf("caritas, which wrote nothing: %d, want 404", r.status)
	}
	if all := items(t, e.must(200, "GET", p+"/assessments", coach, nil)); len(all) != 2 {
		t.Errorf("the coach lists %d assessments, want both", len(all))
	}
	// The reads of arca are logged as allowed, saying on what ground.
	ownReads := 0
	for _, l := range e.logOf(f.person) {
		if l.Tenant == noConsent && l.Decision == "allow" && strings.Contains(l.Reason, "only the records the tenant wrote") {
			ownReads++
		}
	}
	if ownReads < 10 {
		t.Errorf("%d reads of its own records logged for arca, want every one", ownReads)
	}
}

// items are the records of a list response.
func items(t *testing.T, r response) []map[string]any {
	t.Helper()
	var body struct {
		Items []map[string]any `json:"items"`
	}
	r.into(t, &body)
	return body.Items
}
