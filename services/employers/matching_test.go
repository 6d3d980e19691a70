package employers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"attivi/policies"
	"attivi/services/employers"
	"attivi/services/pathways"
)

// participant is a person of the matching scenario.
type participant struct {
	name       string
	ownerSlug  string
	linked     bool // care team of the coach, with consent to employment data
	teamOnly   bool // care team of the coach and the other cooperative, no consent
	scores     []int
	interests  []string
	planKind   string
	stages     []string
	placement  bool // a running placement
	assessment bool
}

func (e *env) participant(p participant) string {
	e.t.Helper()
	ctx := context.Background()
	var id string
	if err := e.db.GetContext(ctx, &id, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ($1, $2, 'Test', '1985-05-05', 'F', '048001', 'disabile_l68', $3) RETURNING id`,
		fmt.Sprintf("TST%013d", serial.Add(1)), p.name, e.actors[p.ownerSlug].TenantID); err != nil {
		e.t.Fatal(err)
	}
	link := func(slug, kind string) {
		if _, err := policies.AddLink(ctx, e.db, policies.LinkInput{PersonID: id, TenantID: e.actors[slug].TenantID, Kind: kind, Source: "manual"}); err != nil {
			e.t.Fatal(err)
		}
	}
	link(p.ownerSlug, policies.LinkOwner)
	if p.linked || p.teamOnly {
		link(coach, policies.LinkCareTeam)
		link(noConsent, policies.LinkCareTeam)
	}
	if p.linked {
		var cid string
		if err := e.db.GetContext(ctx, &cid, `INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, recorded_by_tenant)
			VALUES ($1, 'consent', 'inserimento_lavorativo', '{coeso}', '{employment}', current_date - 30, $2) RETURNING id`, id, e.actors[p.ownerSlug].TenantID); err != nil {
			e.t.Fatal(err)
		}
		if err := policies.AddGrants(ctx, e.db, policies.GrantInput{ConsentID: cid, PersonID: id, Purpose: "inserimento_lavorativo",
			GranteeTenantIDs: []string{e.actors[coach].TenantID}, Categories: []string{policies.CatEmployment}, ValidFrom: e.today.AddDate(0, 0, -30)}); err != nil {
			e.t.Fatal(err)
		}
	}
	// The records are written by the owner, who may write them.
	a := e.actors[p.ownerSlug]
	day := func(n int) string { return e.today.AddDate(0, 0, n).Format(time.DateOnly) }
	for i, s := range p.stages {
		if _, err := e.paths.ChangeStage(ctx, a, id, i, pathways.StageChange{Stage: s, EnteredOn: day(-60 + i), Reason: map[bool]string{true: "withdrew"}[s == "closed"]}); err != nil {
			e.t.Fatalf("stage %s: %v", s, err)
		}
	}
	if p.assessment {
		sc := map[string]pathways.Score{}
		for i, area := range pathways.Areas {
			sc[area] = pathways.Score{Score: p.scores[i]}
		}
		if _, err := e.paths.CreateAssessment(ctx, a, id, pathways.AssessmentInput{AssessedOn: day(-30), Scores: sc, Interests: p.interests,
			Synthesis: "sintesi", Sessions: []pathways.Session{{HeldOn: day(-30), Hours: json.Number("2")}}}); err != nil {
			e.t.Fatalf("assessment: %v", err)
		}
	}
	if p.planKind != "" {
		if _, err := e.paths.CreatePlan(ctx, a, id, pathways.PlanInput{Objectives: []pathways.ObjectiveInput{{Area: "autonomy", Description: "autonomia",
			Actions: []pathways.ActionInput{{Kind: p.planKind, StartOn: day(0), EndOn: day(90), PlannedHours: "100", Indicator: "presenze", ExpectedResult: "assunzione"}}}}}); err != nil {
			e.t.Fatalf("plan: %v", err)
		}
	}
	if p.placement {
		if _, err := e.paths.CreatePlacement(ctx, a, id, pathways.PlacementInput{Kind: "formazione_esterna", StartOn: day(-10), PlannedEndOn: day(60),
			HoursPerWeek: "10"}); err != nil {
			e.t.Fatalf("placement: %v", err)
		}
	}
	return id
}

func TestMatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	//            functioning autonomy relational work_skills motivation facilitators barriers
	fit := []int{1, 1, 1, 1, 1, 3, 1}
	alba := e.participant(participant{name: "Alba", ownerSlug: owner, linked: true, scores: fit, interests: []string{"giardinaggio", "animali"},
		planKind: "tirocinio", stages: []string{"selection", "initial_assessment", "orientation", "employability_assessment", "plan"}, assessment: true})
	bruno := e.participant(participant{name: "Bruno", ownerSlug: owner, linked: true, scores: []int{2, 3, 1, 2, 2, 1, 2}, interests: []string{"cucina"},
		planKind: "laboratorio_preformazione", stages: []string{"selection", "initial_assessment", "orientation"}, assessment: true})
	carla := e.participant(participant{name: "Carla", ownerSlug: owner, linked: true, scores: fit, interests: []string{"verde pubblico"},
		planKind: "tirocinio", placement: true, assessment: true})
	dario := e.participant(participant{name: "Dario", ownerSlug: owner2, scores: fit, interests: []string{"giardinaggio"}, planKind: "tirocinio",
		stages: []string{"selection", "initial_assessment", "orientation", "employability_assessment", "plan"}, assessment: true})
	elena := e.participant(participant{name: "Elena", ownerSlug: owner, teamOnly: true, scores: fit, interests: []string{"giardinaggio"},
		planKind: "tirocinio", assessment: true})
	franco := e.participant(participant{name: "Franco", ownerSlug: owner, linked: true, scores: fit, interests: []string{"giardinaggio"},
		stages: []string{"selection", "closed"}, assessment: true})
	gino := e.participant(participant{name: "Gino", ownerSlug: owner, linked: true}) // no assessment

	emp := e.must(201, "POST", "/api/v1/employers", coach, employerBody("Verde Chianti srl"))["id"].(string)
	o := e.must(201, "POST", "/api/v1/openings", coach, map[string]any{"employer_id": emp, "role": "Giardiniere", "tasks": "manutenzione di parchi e giardini, taglio siepi",
		"kind": "tirocinio", "hours_per_week": 20, "max_scores": map[string]any{"autonomy": 2, "relational": 2}})
	path := "/api/v1/openings/" + o["id"].(string) + "/matches"

	var res struct {
		Items []employers.Match `json:"items"`
	}
	r := e.do("GET", path, coach, nil)
	if r.status != 200 {
		t.Fatalf("matches: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Items {
		got = append(got, m.GivenName)
	}
	if strings.Join(got, ",") != "Alba,Carla,Bruno" {
		t.Fatalf("ranked %v, want Alba, Carla, Bruno: the coach may not read Dario (no link) nor Elena's employment data (no consent); Franco's path is closed, Gino has no assessment", got)
	}
	want := map[string]struct {
		score   int
		reasons []string
	}{
		alba: {95, []string{"the draft plan foresees tirocinio, the kind", "autonomy 1: the tasks allow up to 2", "relational 1: the tasks allow up to 2",
			`professional interest "giardinaggio" matches`, "motivation 1", "the path is at the stage plan"}},
		carla: {40 + 10 + 10 + 10 - 10 - 30, []string{"a placement (formazione_esterna) is running", "the path is still at the stage not started"}},
		bruno: {0 - 15 + 10 - 10, []string{"the draft plan foresees laboratorio_preformazione, not tirocinio", "autonomy 3: the tasks allow up to 2", "still at the stage orientation"}},
	}
	for _, m := range res.Items {
		w := want[m.PersonID]
		if m.Score != w.score {
			t.Errorf("%s: score %d, want %d (reasons %+v)", m.GivenName, m.Score, w.score, m.Reasons)
		}
		sum := 0
		var whys []string
		for _, rs := range m.Reasons {
			sum += rs.Points
			whys = append(whys, rs.Why)
		}
		if sum != m.Score {
			t.Errorf("%s: the reasons add up to %d, the score is %d", m.GivenName, sum, m.Score)
		}
		for _, part := range w.reasons {
			if !strings.Contains(strings.Join(whys, " | "), part) {
				t.Errorf("%s: reasons %q, want one saying %q", m.GivenName, whys, part)
			}
		}
	}
	if res.Items[1].Reasons[0].Points != 40 || res.Items[2].Reasons[1].Points != -15 {
		t.Errorf("points: %+v / %+v", res.Items[1].Reasons, res.Items[2].Reasons)
	}

	// Every tenant sees only whom it may read: the owner of the records sees
	// Elena too (its own records need no consent), the other municipality
	// only Dario, a tenant with no links nobody.
	names := func(as string) string {
		var res struct {
			Items []employers.Match `json:"items"`
		}
		r := e.do("GET", path, as, nil)
		if r.status != 200 {
			t.Fatalf("matches as %s: %d %s", as, r.status, r.body)
		}
		_ = json.Unmarshal(r.body, &res)
		var out []string
		for _, m := range res.Items {
			out = append(out, m.GivenName)
		}
		return strings.Join(out, ",")
	}
	for as, want := range map[string]string{owner: "Alba,Elena,Carla,Bruno", owner2: "Dario", stranger: "", noConsent: ""} {
		if got := names(as); got != want {
			t.Errorf("matches as %s: %q, want %q", as, got, want)
		}
	}
	if got := names(coach); got != "Alba,Carla,Bruno" {
		t.Errorf("limit: %s", got)
	}
	if r := e.do("GET", path+"?limit=1", coach, nil); !strings.Contains(string(r.body), "Alba") || strings.Contains(string(r.body), "Carla") {
		t.Errorf("limit=1: %s", r.body)
	}

	// Each participant shown is in their access log; the others are not.
	var logged []string
	if err := e.db.SelectContext(context.Background(), &logged, `
SELECT DISTINCT a.person_id::text FROM access_log a WHERE a.tenant_id = $1 AND a.action = 'list' AND a.reason LIKE 'matched with opening%'`,
		e.actors[coach].TenantID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{alba, bruno, carla} {
		if !strings.Contains(strings.Join(logged, " "), id) {
			t.Errorf("%s shown to the coach but not logged", id)
		}
	}
	for _, id := range []string{dario, elena, franco, gino} {
		if strings.Contains(strings.Join(logged, " "), id) {
			t.Errorf("%s logged as shown to the coach", id)
		}
	}
}

func TestRankReasons(t *testing.T) {
	o := employers.Opening{Role: "Magazziniere", Tasks: "carico e scarico merci", Kind: "inserimento_borsa_lavoro",
		MaxScores: map[string]int{"work_skills": 1, "context_barriers": 2}}
	c := pathways.Candidate{PersonID: "p", Stage: "plan", Scores: map[string]int{"work_skills": 3, "context_barriers": 2, "motivation": 0},
		Interests: []string{"magazzino", "logistica", "consegne"}, PlanID: "x", PlanStatus: "signed", PlanKinds: []string{"inserimento_borsa_lavoro"}}
	m := employers.Rank(o, c)
	var whys []string
	for _, r := range m.Reasons {
		whys = append(whys, fmt.Sprintf("%+d %s", r.Points, r.Why))
	}
	wantWhys := []string{
		"+40 the plan in force foresees inserimento_borsa_lavoro, the kind of this opening",
		"+10 context_barriers 2: the tasks allow up to 2",
		"-30 work_skills 3: the tasks allow up to 1",
		`+15 professional interest "magazzino" matches the role or tasks`,
		"+10 motivation 0: no or mild difficulty",
		"+10 the path is at the stage plan",
	}
	if strings.Join(whys, "\n") != strings.Join(wantWhys, "\n") || m.Score != 55 || m.GivenName != "" {
		t.Errorf("Rank:\n%s\nscore %d; want\n%s\nscore 55, no name", strings.Join(whys, "\n"), m.Score, strings.Join(wantWhys, "\n"))
	}
}
