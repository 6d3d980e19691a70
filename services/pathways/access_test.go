package pathways_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"attivi/policies"
	"attivi/services/pathways"
)

// fixture gives a person a record of every kind, as the coach.
type fixture struct {
	person, assessment, plan, action, placement string
}

func (e *env) fixture(targetGroup string) fixture {
	e.t.Helper()
	p := e.person(targetGroup)
	base := "/api/v1/persons/" + p
	f := fixture{person: p}
	e.must(201, "POST", base+"/stage", coach, map[string]any{"stage": "selection"}, "If-Match", "0")
	f.assessment = e.must(201, "POST", base+"/assessments", coach, map[string]any{"assessed_on": e.day(-1, 0), "scores": scores(1, 1, 1, 1, 1, 2, 1),
		"synthesis": "sintesi", "sessions": []any{map[string]any{"held_on": e.day(-1, 0), "hours": 2}}}).obj(e.t)["id"].(string)
	plan := e.must(201, "POST", base+"/plans", coach, map[string]any{"objectives": []any{map[string]any{"area": "autonomy", "description": "autonomia",
		"actions": []any{map[string]any{"kind": "tirocinio", "start_on": e.day(0, 0), "end_on": e.day(6, 0), "planned_hours": 300,
			"indicator": "presenze", "expected_result": "assunzione"}}}}}).obj(e.t)
	f.plan = plan["id"].(string)
	f.action = at(e.t, plan, "objectives", 0, "actions", 0, "id").(string)
	f.placement = e.must(201, "POST", base+"/placements", coach, map[string]any{"kind": "formazione_esterna", "start_on": e.day(0, 0),
		"planned_end_on": e.day(3, 0), "hours_per_week": 10}).obj(e.t)["id"].(string)
	return f
}

// Every endpoint about a person: a tenant with no link gets 404 (and the
// denial is logged), a linked tenant without consent to employment data and
// the employment office (status observer) get 403, the coach gets through.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := e.fixture(pathways.TargetL68)
	p := "/api/v1/persons/" + f.person
	month := e.today.Format("2006-01")
	endpoints := []struct {
		method, path string
		body         any
		ifMatch      string
		ok           int
	}{
		{"GET", p + "/stage", nil, "", 200},
		{"POST", p + "/stage", map[string]any{"stage": "initial_assessment"}, "1", 201},
		{"GET", p + "/assessments", nil, "", 200},
		{"POST", p + "/assessments", map[string]any{"assessed_on": e.day(0, 0), "scores": scores(1, 1, 1, 1, 1, 1, 1), "synthesis": "s",
			"sessions": []any{map[string]any{"held_on": e.day(0, 0), "hours": 1}}}, "", 201},
		{"GET", p + "/assessments/compare", nil, "", 200},
		{"GET", "/api/v1/assessments/" + f.assessment, nil, "", 200},
		{"GET", p + "/plans", nil, "", 200},
		{"GET", "/api/v1/plans/" + f.plan, nil, "", 200},
		{"PUT", "/api/v1/plans/" + f.plan, map[string]any{"objectives": []any{map[string]any{"area": "autonomy", "description": "ancora",
			"actions": []any{map[string]any{"kind": "tirocinio", "start_on": e.day(0, 0), "end_on": e.day(6, 0), "planned_hours": 200,
				"indicator": "presenze", "expected_result": "assunzione"}}}}}, "1", 200},
		{"POST", "/api/v1/plans/" + f.plan + "/signatures", map[string]any{"signer": "participant", "name": "M. Rossi", "signed_on": e.day(0, 0)}, "", 201},
		{"POST", "/api/v1/plans/" + f.plan + "/versions", nil, "", 409}, // not yet signed: reached, refused for what it is
		{"POST", "/api/v1/plans/" + f.plan + "/reviews", map[string]any{"action_id": f.action, "reviewed_on": e.day(0, 0), "outcome": "partly"}, "", 409},
		{"GET", p + "/activities", nil, "", 200},
		{"POST", p + "/activities", map[string]any{"kind": "coaching", "held_on": e.day(0, 0), "hours": 1}, "", 201},
		{"GET", p + "/placements", nil, "", 200},
		{"POST", p + "/placements", map[string]any{"kind": "formazione_esterna", "start_on": e.day(0, 0), "planned_end_on": e.day(1, 0), "hours_per_week": 5}, "", 201},
		{"GET", "/api/v1/placements/" + f.placement, nil, "", 200},
		{"GET", "/api/v1/placements/" + f.placement + "/attendance", nil, "", 200},
		{"PUT", "/api/v1/placements/" + f.placement + "/attendance/" + month, map[string]any{"attended_hours": 1}, "", 200},
		{"POST", "/api/v1/placements/" + f.placement + "/extensions", map[string]any{"new_end_on": e.day(4, 0), "reason": "corso prolungato"}, "1", 200},
		{"POST", "/api/v1/placements/" + f.placement + "/end", map[string]any{"ended_on": e.day(0, 0), "reason": "concluso"}, "2", 200},
		{"GET", p + "/follow-ups", nil, "", 200},
		{"POST", p + "/follow-ups", map[string]any{"kind": "at_exit", "exit_on": e.day(0, 0), "observed_on": e.day(0, 0), "status": "job_seeking"}, "", 201},
	}
	for _, ep := range endpoints {
		headers := []string{}
		if ep.ifMatch != "" {
			headers = []string{"If-Match", ep.ifMatch}
		}
		for _, tc := range []struct {
			as   string
			want int
		}{{stranger, 404}, {noConsent, 403}, {observer, 403}, {coach, ep.ok}} {
			if r := e.do(ep.method, ep.path, tc.as, ep.body, headers...); r.status != tc.want {
				t.Errorf("%s %s as %s: %d %s, want %d", ep.method, ep.path, tc.as, r.status, r.body, tc.want)
			}
		}
	}
	// Not found is the same for an id that matches nothing.
	for _, path := range []string{"/api/v1/persons/00000000-0000-0000-0000-000000000000/plans", "/api/v1/plans/00000000-0000-0000-0000-000000000000",
		"/api/v1/placements/nonsense", "/api/v1/assessments/00000000-0000-0000-0000-000000000000"} {
		if r := e.do("GET", path, coach, nil); r.status != 404 {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
	}
	if r := e.do("GET", p+"/stage", "", nil); r.status != 401 {
		t.Errorf("anonymous: %d, want 401", r.status)
	}
	// The denials are in the person's access log, with who was refused.
	denied := map[string]int{}
	for _, l := range e.logOf(f.person) {
		if l.Decision == "deny" {
			denied[l.Tenant]++
		}
	}
	for _, slug := range []string{stranger, noConsent, observer} {
		if denied[slug] < len(endpoints) {
			t.Errorf("%d denials of %s logged, want %d", denied[slug], slug, len(endpoints))
		}
	}
	if denied[coach] != 0 {
		t.Errorf("%d denials of the coach logged", denied[coach])
	}
}

// The maximum length of a placement depends on its kind and the person's
// target group, extensions included; the message names the target group
// only to a tenant that may read it.
func TestLengthCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l68 := e.person(pathways.TargetL68)
	mental := e.person(pathways.TargetMentalHealth)
	start := e.today.AddDate(0, -6, 0)
	body := func(kind string, end time.Time) map[string]any {
		return map[string]any{"kind": kind, "employer_id": e.employer("Azienda " + kind), "start_on": start.Format(time.DateOnly),
			"planned_end_on": end.Format(time.DateOnly), "hours_per_week": 20, "company_tutor": map[string]any{"name": "Tutor"},
			"inail_ref": "PAT 1", "rc_policy_ref": "RC 1"}
	}
	for _, tc := range []struct {
		person, kind string
		months       int // the cap; 0: none
	}{
		{l68, "tirocinio", 24}, {mental, "tirocinio", 12}, {l68, "percorso_in_azienda", 24}, {mental, "percorso_in_azienda", 12},
		{l68, "inserimento_borsa_lavoro", 24}, {mental, "inserimento_borsa_lavoro", 24}, {l68, "assunzione", 0},
	} {
		path := "/api/v1/persons/" + tc.person + "/placements"
		if tc.months == 0 {
			e.must(201, "POST", path, coach, body(tc.kind, start.AddDate(10, 0, 0)))
			continue
		}
		last := pathways.LatestEnd(start, tc.months)
		e.must(201, "POST", path, coach, body(tc.kind, last))
		r := e.do("POST", path, coach, body(tc.kind, last.AddDate(0, 0, 1)))
		if msg := r.err(t).Error.Fields["planned_end_on"]; r.status != 422 || !strings.Contains(msg, fmt.Sprintf("at most %d months for this participant", tc.months)) {
			t.Errorf("%s of %d months and a day: %d %s, want 422 with the cap", tc.kind, tc.months, r.status, r.body)
		}
	}
	// Extensions count: a 24-month placement cannot be extended.
	pl := e.must(201, "POST", "/api/v1/persons/"+l68+"/placements", coach, body("tirocinio", start.AddDate(1, 0, 0))).obj(t)
	path := "/api/v1/placements/" + pl["id"].(string) + "/extensions"
	e.must(200, "POST", path, coach, map[string]any{"new_end_on": pathways.LatestEnd(start, 24).Format(time.DateOnly), "reason": "proroga"}, "If-Match", "1")
	r := e.do("POST", path, coach, map[string]any{"new_end_on": pathways.LatestEnd(start, 24).AddDate(0, 0, 1).Format(time.DateOnly), "reason": "proroga"}, "If-Match", "2")
	if r.status != 422 || !strings.Contains(r.err(t).Error.Fields["new_end_on"], "24 months") {
		t.Errorf("extension past 24 months: %d %s, want 422", r.status, r.body)
	}
	// With the person's consent to disability data, the reason is named.
	e.consent(l68, coach, policies.CatDisability)
	r = e.do("POST", "/api/v1/persons/"+l68+"/placements", coach, body("tirocinio", start.AddDate(3, 0, 0)))
	if msg := r.err(t).Error.Fields["planned_end_on"]; r.status != 422 || !strings.Contains(msg, "target group disabile_l68") {
		t.Errorf("cap message to a tenant that may read disability data: %q", msg)
	}
	var n int
	if err := e.db.GetContext(context.Background(), &n, `SELECT count(*) FROM placements WHERE kind <> 'assunzione' AND planned_end_on >= start_on + interval '24 months'`); err != nil || n != 0 {
		t.Errorf("%d placements over 24 months stored (%v)", n, err)
	}
}

// A signed plan changes only by a new version: the API refuses, and so does
// the database.
func TestPlanVersioning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := e.fixture(pathways.TargetMentalHealth)
	plan := "/api/v1/plans/" + f.plan
	sign := func(path, signer string) response {
		return e.do("POST", path+"/signatures", coach, map[string]any{"signer": signer, "name": "Nome", "signed_on": e.day(0, 0)})
	}
	if r := e.do("POST", plan+"/versions", coach, nil); r.status != 409 || !strings.Contains(r.err(t).Error.Message, "change it instead") {
		t.Errorf("new version of an unsigned draft: %d %s", r.status, r.body)
	}
	sign(plan, "participant")
	ctx := context.Background()
	if _, err := e.db.ExecContext(ctx, `UPDATE plan_actions SET planned_minutes = 1 WHERE plan_id = $1`, f.plan); err == nil {
		t.Error("the database let a signed plan's action change")
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM plan_objectives WHERE plan_id = $1`, f.plan); err == nil {
		t.Error("the database let a signed plan's objective go")
	}
	if r := e.do("POST", plan+"/versions", coach, nil); r.status != 409 {
		t.Errorf("new version of a plan being signed: %d", r.status)
	}
	sign(plan, "case_manager")
	if r := sign(plan, "service"); r.status != 201 || r.obj(t)["status"] != "signed" {
		t.Fatalf("third signature: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", plan, coach, map[string]any{"objectives": []any{map[string]any{"area": "autonomy", "description": "x"}}}, "If-Match", "1"); r.status != 409 {
		t.Errorf("PUT on a signed plan: %d, want 409", r.status)
	}
	// A new version with new content, given in the request.
	v2 := e.must(201, "POST", plan+"/versions", coach, map[string]any{"objectives": []any{map[string]any{"area": "motivation", "description": "motivazione",
		"actions": []any{map[string]any{"kind": "laboratorio_preformazione", "start_on": e.day(0, 0), "end_on": e.day(2, 0), "planned_hours": 60,
			"indicator": "frequenza", "expected_result": "costanza"}}}}}).obj(t)
	if v2["version"] != 2.0 || at(t, v2, "objectives", 0, "area") != "motivation" {
		t.Errorf("version 2: %v", v2)
	}
	if r := e.do("POST", plan+"/versions", coach, nil); r.status != 409 {
		t.Errorf("a second draft: %d, want 409", r.status)
	}
	// An unsigned draft does change.
	if _, err := e.db.ExecContext(ctx, `UPDATE plan_actions SET planned_minutes = 61 WHERE plan_id = $1`, v2["id"]); err != nil {
		t.Errorf("a draft's action: %v", err)
	}
	if r := e.do("POST", "/api/v1/plans/"+v2["id"].(string)+"/signatures", coach, map[string]any{"signer": "notary", "name": "x", "signed_on": e.day(1, 0)}); r.status != 422 {
		t.Errorf("bad signature: %d %s", r.status, r.body)
	} else if f := r.err(t).Error.Fields; f["signer"] == "" || f["signed_on"] == "" {
		t.Errorf("bad signature fields: %v", f)
	}
	ps := e.must(200, "GET", "/api/v1/persons/"+f.person+"/plans", coach, nil).obj(t)
	if got := []any{at(t, ps, "items", 0, "status"), at(t, ps, "items", 1, "status")}; got[0] != "draft" || got[1] != "signed" {
		t.Errorf("statuses %v, want the draft and the version in force", got)
	}
}

// The matching candidates are exactly the persons for whom the per-person
// decision allows employment data: the SQL condition is held to the
// decision over a random network of links and consents.
func TestCandidatesEqualDecision(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	slugs := []string{owner, coach, noConsent, stranger, observer, coordinator}
	kinds := []string{policies.LinkCareTeam, policies.LinkProvider, policies.LinkReferralRecipient, policies.LinkConference, policies.LinkStatusObserver}
	var persons []string
	for i := 0; i < 40; i++ {
		var id string
		if err := e.db.GetContext(ctx, &id, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ($1, 'Nome', 'Cognome', '1990-01-01', 'M', '048001', 'disabile_l68', $2) RETURNING id`,
			fmt.Sprintf("%011d", 20000000000+i), e.actors[owner].TenantID); err != nil {
			t.Fatal(err)
		}
		persons = append(persons, id)
		e.link(id, slugs[rng.IntN(2)], policies.LinkOwner) // owned by the municipality or the coach's cooperative
		for range rng.IntN(4) {
			slug := slugs[rng.IntN(len(slugs))]
			l := policies.LinkInput{PersonID: id, TenantID: e.actors[slug].TenantID, Kind: kinds[rng.IntN(len(kinds))], Source: fmt.Sprintf("s%d", rng.IntN(3))}
			if rng.IntN(4) == 0 {
				l.Scope = []string{[]string{policies.CatEmployment, policies.CatIdentity, policies.CatStatus}[rng.IntN(3)]}
			}
			if _, err := policies.AddLink(ctx, e.db, l); err != nil {
				t.Fatal(err)
			}
		}
		for range rng.IntN(3) {
			cats := [][]string{{policies.CatEmployment}, {policies.CatIdentity, policies.CatEmployment}, {policies.CatContact}}[rng.IntN(3)]
			e.consent(id, slugs[rng.IntN(len(slugs))], cats...)
		}
		if rng.IntN(5) > 0 { // most have an assessment
			if _, err := e.db.ExecContext(ctx, `INSERT INTO assessments (person_id, tenant_id, operator_id, assessed_on) VALUES ($1, $2, $3, current_date)`,
				id, e.actors[coach].TenantID, e.actors[coach].UserID); err != nil {
				t.Fatal(err)
			}
		}
		if rng.IntN(6) == 0 { // a few closed paths
			if _, err := e.db.ExecContext(ctx, `INSERT INTO pathway_stages (person_id, seq, stage, entered_on, reason, tenant_id) VALUES ($1, 1, 'closed', current_date, 'withdrew', $2)`,
				id, e.actors[coach].TenantID); err != nil {
				t.Fatal(err)
			}
		}
	}
	allowed := 0
	for _, slug := range slugs {
		a := e.actors[slug]
		cs, err := e.svc.Candidates(ctx, a)
		if err != nil {
			t.Fatalf("candidates of %s: %v", slug, err)
		}
		got := map[string]pathways.Candidate{}
		for _, c := range cs {
			got[c.PersonID] = c
		}
		for _, id := range persons {
			acc, err := e.engine.Access(ctx, e.db, a, id, policies.ActRead, "")
			if err != nil {
				t.Fatal(err)
			}
			var assessed, closed bool
			if err := e.db.GetContext(ctx, &assessed, `SELECT EXISTS (SELECT 1 FROM assessments WHERE person_id = $1)`, id); err != nil {
				t.Fatal(err)
			}
			if err := e.db.GetContext(ctx, &closed, `SELECT EXISTS (SELECT 1 FROM pathway_stages WHERE person_id = $1 AND stage = 'closed')`, id); err != nil {
				t.Fatal(err)
			}
			want := acc.Decisions[policies.CatEmployment].Allow && assessed && !closed
			c, listed := got[id]
			if listed != want {
				t.Errorf("%s, person %s: candidate %v, decision %v (facts %+v, assessed %v, closed %v)", slug, id, listed, want, acc.Facts, assessed, closed)
			}
			if listed {
				allowed++
				if c.NameVisible != acc.Decisions[policies.CatIdentity].Allow || (c.FamilyName != "") != c.NameVisible {
					t.Errorf("%s, person %s: name visible %v (%q), identity decision %v", slug, id, c.NameVisible, c.FamilyName, acc.Decisions[policies.CatIdentity].Allow)
				}
			}
		}
	}
	if allowed == 0 {
		t.Error("no candidate at all: the test network exercises nothing")
	}
}

// Activities without a participant are for staff who work with employers;
// the totals of the network are for the coordinator.
func TestNetworkActivitiesAndTotals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(pathways.TargetL68)
	e.must(201, "POST", "/api/v1/persons/"+p+"/activities", coach, map[string]any{"kind": "orientamento", "held_on": e.day(0, 0), "hours": 2})
	e.must(201, "POST", "/api/v1/activities", coach, map[string]any{"kind": "scouting", "held_on": e.day(0, 0), "hours": "3.5"})
	if r := e.do("POST", "/api/v1/activities", coach, map[string]any{"kind": "coaching", "held_on": e.day(0, 0), "hours": 1}); r.status != 422 {
		t.Errorf("coaching without a participant: %d, want 422", r.status)
	}
	if r := e.do("POST", "/api/v1/activities", owner, map[string]any{"kind": "scouting", "held_on": e.day(0, 0), "hours": 1}); r.status != 403 {
		t.Errorf("scouting by a social worker: %d, want 403", r.status)
	}
	own := e.must(200, "GET", "/api/v1/activities/totals", coach, nil).obj(t)
	if at(t, own, "own", "hours") != 5.5 || own["network"] != nil {
		t.Errorf("coach's totals: %v", own)
	}
	co := e.must(200, "GET", "/api/v1/activities/totals?from="+e.day(-1, 0)+"&to="+e.day(0, 0), coordinator, nil).obj(t)
	if at(t, co, "network", "hours") != 5.5 || at(t, co, "network", "by_tenant", 0, "key") != coach || at(t, co, "own", "hours") != 0.0 {
		t.Errorf("coordinator's totals: %v", co)
	}
	if r := e.do("GET", "/api/v1/activities/totals?from=2025-13-01", coach, nil); r.status != 400 {
		t.Errorf("bad period: %d, want 400", r.status)
	}
}
