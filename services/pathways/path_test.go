package pathways_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"attivi/services/pathways"
)

// at walks a decoded JSON value: string keys for objects, ints for lists.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %v is not an object", path, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: %v is not a list of more than %d", path, v, k)
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func scores(vals ...int) map[string]any {
	out := map[string]any{}
	for i, a := range pathways.Areas {
		out[a] = map[string]any{"score": vals[i]}
	}
	return out
}

// TestWholePath runs a participant's path from selection to the follow-up
// six months after the exit, through the API, as the job coach of the care
// team with the person's consent.
func TestWholePath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(pathways.TargetL68)
	base := "/api/v1/persons/" + p
	// The path began two years ago; m(months, days) is a day of it.
	m := func(months, days int) string { return e.day(months-24, days) }

	// Stages.
	r := e.must(200, "GET", base+"/stage", coach, nil)
	if got := r.obj(t); got["current"] != nil || got["version"] != 0.0 || r.etag != `"0"` || !slices.Equal(strs(got["next"]), []string{"selection"}) {
		t.Fatalf("stage before the path: %s (ETag %s)", r.body, r.etag)
	}
	if r := e.do("POST", base+"/stage", coach, map[string]any{"stage": "selection"}); r.status != 400 || r.err(t).Error.Fields["If-Match"] == "" {
		t.Errorf("stage without If-Match: %d %s, want 400 naming If-Match", r.status, r.body)
	}
	if r := e.do("POST", base+"/stage", coach, map[string]any{"stage": "orientation"}, "If-Match", "0"); r.status != 422 ||
		!strings.Contains(r.err(t).Error.Fields["stage"], "starts with selection") {
		t.Errorf("path starting at orientation: %d %s, want 422", r.status, r.body)
	}
	version := 0
	stage := func(to, on string, extra ...string) map[string]any {
		t.Helper()
		body := map[string]any{"stage": to, "entered_on": on}
		for i := 0; i+1 < len(extra); i += 2 {
			body[extra[i]] = extra[i+1]
		}
		r := e.must(201, "POST", base+"/stage", coach, body, "If-Match", fmt.Sprint(version))
		version++
		if r.etag != fmt.Sprintf(`"%d"`, version) {
			t.Errorf("stage %s: ETag %s, want %d", to, r.etag, version)
		}
		return r.obj(t)
	}
	stage("selection", m(0, 0))
	if r := e.do("POST", base+"/stage", coach, map[string]any{"stage": "initial_assessment"}, "If-Match", "0"); r.status != 409 {
		t.Errorf("stale If-Match: %d %s, want 409", r.status, r.body)
	}
	if r := e.do("POST", base+"/stage", coach, map[string]any{"stage": "plan"}, "If-Match", "1"); r.status != 422 ||
		!strings.Contains(r.err(t).Error.Fields["stage"], "from selection the path may go to initial_assessment or closed") {
		t.Errorf("skipping stages: %d %s, want 422 saying where it may go", r.status, r.body)
	}
	if r := e.do("POST", base+"/stage", coach, map[string]any{"stage": "initial_assessment", "entered_on": m(-1, 0)}, "If-Match", "1"); r.status != 422 ||
		r.err(t).Error.Fields["entered_on"] == "" {
		t.Errorf("stage dated before the previous: %d %s, want 422", r.status, r.body)
	}
	stage("initial_assessment", m(0, 10))
	stage("orientation", m(0, 20))
	stage("employability_assessment", m(1, 0))

	// Two assessments, compared.
	assess := func(on string, sc map[string]any, sessions ...map[string]any) map[string]any {
		t.Helper()
		return e.must(201, "POST", base+"/assessments", coach, map[string]any{"assessed_on": on, "scores": sc,
			"strengths": []string{"puntualità"}, "limits": []string{"ansia nei luoghi affollati"},
			"interests": []string{"giardinaggio", "cura del verde"}, "synthesis": "Buone risorse, da sostenere l'autonomia.",
			"sessions": sessions}).obj(t)
	}
	//                          functioning autonomy relational work_skills motivation facilitators barriers
	a1 := assess(m(0, 25), scores(2, 3, 2, 2, 2, 1, 2), map[string]any{"held_on": m(0, 15), "hours": "2"},
		map[string]any{"held_on": m(0, 25), "hours": 1.5})
	if got := at(t, a1, "total_hours"); got != 3.5 {
		t.Errorf("assessment hours %v, want 3.5", got)
	}
	if got := at(t, a1, "operator", "name"); got != "Operatore coeso" {
		t.Errorf("operator %v, want the coach", got)
	}
	if r := e.do("POST", base+"/assessments", coach, map[string]any{"assessed_on": m(0, 25), "scores": map[string]any{"autonomy": map[string]any{"score": 5}},
		"synthesis": "x", "sessions": []any{map[string]any{"held_on": m(0, 25), "hours": "1.33"}}}); r.status != 422 {
		t.Errorf("bad assessment: %d %s, want 422", r.status, r.body)
	} else if f := r.err(t).Error.Fields; f["scores.autonomy"] == "" || f["scores"] == "" || !strings.Contains(f["sessions[0].hours"], "whole minutes") {
		t.Errorf("bad assessment fields %v: want the score, the missing areas and the hours", f)
	}
	a2 := assess(m(1, 0), scores(2, 1, 3, 2, 1, 3, 2), map[string]any{"held_on": m(1, 0), "hours": 1})
	cmp := e.must(200, "GET", base+"/assessments/compare", coach, nil).obj(t)
	if got, want := strs(cmp["improved"]), []string{"autonomy", "motivation", "context_facilitators"}; !slices.Equal(got, want) {
		t.Errorf("improved %v, want %v", got, want)
	}
	if got, want := strs(cmp["worsened"]), []string{"relational"}; !slices.Equal(got, want) {
		t.Errorf("worsened %v, want %v", got, want)
	}
	cmp2 := e.must(200, "GET", fmt.Sprintf("%s/assessments/compare?from=%s&to=%s", base, a2["id"], a1["id"]), coach, nil).obj(t)
	if at(t, cmp2, "from", "id") != a1["id"] || !slices.Equal(strs(cmp2["improved"]), strs(cmp["improved"])) {
		t.Errorf("comparison asked the other way round is not in date order: %v", cmp2)
	}
	stage("plan", m(1, 5))

	// The plan: drafted, changed, signed, then a new version.
	action := func(kind, tenant, start, end string, hours any) map[string]any {
		return map[string]any{"kind": kind, "responsible_tenant": tenant, "responsible_operator_id": e.actors[tenant].UserID,
			"start_on": start, "end_on": end, "planned_hours": hours, "indicator": "presenze registrate",
			"expected_result": "autonomia nel lavoro di squadra"}
	}
	content := map[string]any{"assessment_id": a2["id"], "objectives": []any{
		map[string]any{"area": "autonomy", "description": "Lavorare in autonomia in un'azienda del verde",
			"actions": []any{action("tirocinio", coach, m(3, 0), m(9, 0), "480")}},
		map[string]any{"area": "work_skills", "description": "Competenze di base",
			"actions": []any{action("laboratorio_preformazione", owner, m(1, 10), m(2, 20), 40)}},
	}}
	r = e.must(201, "POST", base+"/plans", coach, content)
	plan := r.obj(t)
	planPath := "/api/v1/plans/" + plan["id"].(string)
	if plan["status"] != "draft" || plan["version"] != 1.0 || r.etag != `"1"` || at(t, plan, "objectives", 1, "actions", 0, "responsible_tenant") != owner {
		t.Fatalf("new plan: %s", r.body)
	}
	if r := e.do("POST", base+"/plans", coach, content); r.status != 409 {
		t.Errorf("a second draft: %d %s, want 409", r.status, r.body)
	}
	content["objectives"].([]any)[1].(map[string]any)["description"] = "Competenze di base del giardinaggio"
	if r := e.must(200, "PUT", planPath, coach, content, "If-Match", "1"); r.etag != `"2"` {
		t.Errorf("changed draft: ETag %s, want 2", r.etag)
	}
	if r := e.do("PUT", planPath, coach, content, "If-Match", "1"); r.status != 409 {
		t.Errorf("change at a stale revision: %d, want 409", r.status)
	}
	sign := func(path, signer string) map[string]any {
		t.Helper()
		return e.must(201, "POST", path+"/signatures", coach, map[string]any{"signer": signer, "name": "Firma " + signer, "signed_on": m(1, 6)}).obj(t)
	}
	if got := sign(planPath, "participant"); got["frozen"] != true || got["status"] != "draft" {
		t.Errorf("after the participant signed: %v", got)
	}
	if r := e.do("PUT", planPath, coach, content, "If-Match", "2"); r.status != 409 || !strings.Contains(r.err(t).Error.Message, "new version") {
		t.Errorf("change after a signature: %d %s, want 409 pointing to a new version", r.status, r.body)
	}
	if r := e.do("POST", planPath+"/signatures", coach, map[string]any{"signer": "participant", "name": "x", "signed_on": m(1, 6)}); r.status != 409 {
		t.Errorf("signed twice: %d, want 409", r.status)
	}
	sign(planPath, "case_manager")
	if got := sign(planPath, "service"); got["status"] != "signed" || got["signed_at"] == nil {
		t.Fatalf("with three signatures: %v", got)
	}
	r = e.must(201, "POST", planPath+"/versions", coach, nil)
	v2 := r.obj(t)
	v2Path := "/api/v1/plans/" + v2["id"].(string)
	if v2["version"] != 2.0 || v2["supersedes"] != plan["id"] || v2["status"] != "draft" ||
		at(t, v2, "objectives", 1, "description") != "Competenze di base del giardinaggio" {
		t.Fatalf("new version: %s", r.body)
	}
	content["objectives"].([]any)[0].(map[string]any)["actions"].([]any)[0].(map[string]any)["planned_hours"] = "500"
	e.must(200, "PUT", v2Path, coach, content, "If-Match", "1")
	if got := at(t, e.must(200, "GET", planPath, coach, nil).obj(t), "status"); got != "signed" {
		t.Errorf("version 1 while version 2 is a draft: %v, want still signed (in force)", got)
	}
	for _, s := range []string{"participant", "case_manager", "service"} {
		sign(v2Path, s)
	}
	if got := at(t, e.must(200, "GET", planPath, coach, nil).obj(t), "status"); got != "superseded" {
		t.Errorf("version 1 after version 2 was signed: %v, want superseded", got)
	}
	v2 = e.must(200, "GET", v2Path, coach, nil).obj(t)
	if got := at(t, v2, "objectives", 0, "actions", 0, "planned_hours"); got != 500.0 {
		t.Errorf("version 2's planned hours %v, want 500", got)
	}
	list := e.must(200, "GET", base+"/plans", coach, nil).obj(t)
	if n := len(list["items"].([]any)); n != 2 || at(t, list, "items", 0, "version") != 2.0 {
		t.Errorf("plans: %v, want both versions, newest first", list)
	}
	tirocinio := at(t, v2, "objectives", 0, "actions", 0, "id").(string)

	// Activities.
	for _, a := range []map[string]any{
		{"kind": "orientamento", "held_on": m(0, 20), "hours": "2"},
		{"kind": "coaching", "held_on": m(1, 2), "hours": 1.5},
	} {
		e.must(201, "POST", base+"/activities", coach, a)
	}
	if r := e.do("POST", base+"/activities", coach, map[string]any{"kind": "pranzo", "held_on": e.day(1, 0), "hours": "1.33"}); r.status != 422 {
		t.Errorf("bad activity: %d, want 422", r.status)
	} else if f := r.err(t).Error.Fields; f["kind"] == "" || f["held_on"] == "" || f["hours"] == "" {
		t.Errorf("bad activity fields: %v", f)
	}

	// The placement with borsa lavoro.
	emp := e.employer("Verde Chianti srl")
	t0 := time.Date(e.today.Year(), e.today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -21, 0)
	d := func(months, days int) string { return t0.AddDate(0, months, days).Format(time.DateOnly) }
	r = e.must(201, "POST", base+"/placements", coach, map[string]any{"kind": "tirocinio", "employer_id": emp, "plan_action_id": tirocinio,
		"start_on": d(0, 0), "planned_end_on": d(6, -1), "hours_per_week": 20, "company_tutor": map[string]any{"name": "Gino Bianchi", "phone": "055 1234567"},
		"monthly_cap_cents": 40000, "hourly_rate_cents": 500, "inail_ref": "PAT 123456", "rc_policy_ref": "RC-2024-77"})
	pl := r.obj(t)
	plPath := "/api/v1/placements/" + pl["id"].(string)
	if pl["max_months"] != 24.0 || at(t, pl, "employer", "name") != "Verde Chianti srl" || pl["status"] != "ended" && pl["status"] != "overdue" {
		t.Errorf("placement: %s", r.body)
	}
	cur, found, err := pathways.CurrentPlacement(context.Background(), e.db, p, time.Now())
	if err != nil || !found || cur.Kind != "tirocinio" || cur.StartOn.Format(time.DateOnly) != d(0, 0) || cur.PlannedEndOn.Format(time.DateOnly) != d(6, -1) {
		t.Errorf("CurrentPlacement: %+v %v %v", cur, found, err)
	}
	stage("in_placement", d(0, 0))
	e.must(201, "POST", base+"/activities", coach, map[string]any{"kind": "tutoraggio", "held_on": d(0, 3), "hours": 0.25})

	month := func(n int) string { return t0.AddDate(0, n, 0).Format("2006-01") }
	for _, tc := range []struct {
		month     string
		hours     any
		allowance float64
	}{
		{month(0), "80", 40000}, // 80 h x 5 EUR = 400 EUR: the cap
		{month(1), "62.5", 31250},
		{month(2), 0, 0},
		{month(3), "90", 40000}, // 450 EUR, capped at 400
	} {
		r := e.must(200, "PUT", plPath+"/attendance/"+tc.month, coach, map[string]any{"attended_hours": tc.hours})
		if got := r.obj(t)["allowance_cents"]; got != tc.allowance {
			t.Errorf("%s with %v hours: allowance %v cents, want %v", tc.month, tc.hours, got, tc.allowance)
		}
	}
	if r := e.do("PUT", plPath+"/attendance/"+month(0), coach, map[string]any{"attended_hours": 70}); r.status != 400 {
		t.Errorf("correcting a month without If-Match: %d, want 400", r.status)
	}
	if r := e.must(200, "PUT", plPath+"/attendance/"+month(0), coach, map[string]any{"attended_hours": 70}, "If-Match", "1"); r.obj(t)["allowance_cents"] != 35000.0 || r.etag != `"2"` {
		t.Errorf("corrected month: %s (ETag %s), want 35000 cents at version 2", r.body, r.etag)
	}
	if r := e.do("PUT", plPath+"/attendance/"+month(-1), coach, map[string]any{"attended_hours": 10}); r.status != 422 {
		t.Errorf("a month before the placement: %d, want 422", r.status)
	}
	att := e.must(200, "GET", plPath+"/attendance", coach, nil).obj(t)
	if att["total_allowance_cents"] != 35000.0+31250+0+40000 || att["attended_hours"] != 70+62.5+90 {
		t.Errorf("attendance totals: %v", att)
	}
	r = e.must(200, "POST", plPath+"/extensions", coach, map[string]any{"new_end_on": d(12, -1), "reason": "consolidare le competenze"}, "If-Match", "1")
	if got := r.obj(t); got["planned_end_on"] != d(12, -1) || got["original_end_on"] != d(6, -1) || r.etag != `"2"` {
		t.Errorf("extended: %s", r.body)
	}
	if r := e.do("POST", plPath+"/end", coach, map[string]any{"ended_on": d(11, 0), "reason": "assunto"}, "If-Match", "1"); r.status != 409 {
		t.Errorf("end at a stale version: %d, want 409", r.status)
	}
	if got := e.must(200, "POST", plPath+"/end", coach, map[string]any{"ended_on": d(11, 0), "reason": "assunto"}, "If-Match", "2").obj(t); got["status"] != "ended" {
		t.Errorf("ended: %v", got)
	}
	if _, found, _ := pathways.CurrentPlacement(context.Background(), e.db, p, time.Now()); found {
		t.Error("CurrentPlacement found an ended placement")
	}

	// Review, follow-ups, closing.
	stage("follow_up", d(11, 0))
	rv := e.must(201, "POST", v2Path+"/reviews", coach, map[string]any{"action_id": tirocinio, "reviewed_on": d(11, 0), "outcome": "achieved", "notes": "assunto a tempo determinato"}).obj(t)
	if at(t, rv, "reviews", 0, "outcome") != "achieved" {
		t.Errorf("review: %v", rv)
	}
	if r := e.do("POST", planPath+"/reviews", coach, map[string]any{"action_id": tirocinio, "reviewed_on": d(11, 0), "outcome": "achieved"}); r.status != 409 {
		t.Errorf("review of a superseded version: %d, want 409", r.status)
	}
	e.must(201, "POST", base+"/follow-ups", coach, map[string]any{"kind": "at_exit", "exit_on": d(11, 0), "observed_on": d(11, 0),
		"status": "employed", "contract": "fixed_term", "employer_id": emp})
	if r := e.do("POST", base+"/follow-ups", coach, map[string]any{"kind": "at_exit", "exit_on": d(11, 0), "observed_on": d(11, 1), "status": "employed"}); r.status != 409 {
		t.Errorf("second at_exit follow-up: %d %s, want 409", r.status, r.body)
	}
	if r := e.do("POST", base+"/follow-ups", coach, map[string]any{"kind": "six_months", "exit_on": d(11, 0), "observed_on": d(14, 0), "status": "employed", "improved_situation": true}); r.status != 422 {
		t.Errorf("six-month follow-up three months after: %d, want 422", r.status)
	}
	e.must(201, "POST", base+"/follow-ups", coach, map[string]any{"kind": "six_months", "exit_on": d(11, 0), "observed_on": d(17, 1),
		"status": "employed", "contract": "permanent", "improved_situation": true})
	if r := e.do("POST", base+"/stage", coach, map[string]any{"stage": "closed"}, "If-Match", fmt.Sprint(version)); r.status != 422 || r.err(t).Error.Fields["reason"] == "" {
		t.Errorf("closing without a reason: %d %s, want 422", r.status, r.body)
	}
	stage("closed", e.day(0, 0), "reason", "hired")

	sv := e.must(200, "GET", base+"/stage", coach, nil).obj(t)
	if n := len(sv["history"].([]any)); n != 8 || at(t, sv, "current", "stage") != "closed" || at(t, sv, "history", 3, "tenant") != coach {
		t.Errorf("the path: %v", sv)
	}
	cs, found, err := pathways.CurrentStage(context.Background(), e.db, p)
	if err != nil || !found || cs.Stage != "closed" || cs.Reason != "hired" || !cs.Since.Equal(e.today) {
		t.Errorf("CurrentStage: %+v %v %v", cs, found, err)
	}
	acts := e.must(200, "GET", base+"/activities", coach, nil).obj(t)
	if at(t, acts, "totals", "hours") != 3.75 || len(acts["items"].([]any)) != 3 {
		t.Errorf("activities: %v", acts)
	}
	byKind := map[string]any{}
	for _, k := range at(t, acts, "totals", "by_kind").([]any) {
		byKind[k.(map[string]any)["key"].(string)] = k.(map[string]any)["hours"]
	}
	if byKind["orientamento"] != 2.0 || byKind["coaching"] != 1.5 || byKind["tutoraggio"] != 0.25 {
		t.Errorf("hours by kind: %v", byKind)
	}

	// The coordinator's numbers, one query each.
	ctx := context.Background()
	from, to := e.today.AddDate(-3, 0, 0), e.today
	hours, err := pathways.HoursByActivity(ctx, e.db, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 3 || hours[0].Kind != "coaching" || hours[0].Hours != 90 || hours[0].Participants != 1 {
		t.Errorf("hours by activity: %+v", hours)
	}
	pk, err := pathways.PlacementsByKind(ctx, e.db, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk) != 1 || pk[0].Kind != "tirocinio" || pk[0].TargetGroup != "disabile_l68" || pk[0].Ended != 1 || pk[0].Extended != 1 ||
		pk[0].AllowanceCents != 106250 || pk[0].AttendedHours != pathways.Hours(222*60+30) {
		t.Errorf("placements by kind: %+v", pk)
	}
	oc, err := pathways.Outcomes(ctx, e.db, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(oc) != 2 || oc[0].Kind != "at_exit" || oc[0].Status != "employed" || oc[1].Kind != "six_months" || oc[1].ImprovedSituation != 1 {
		t.Errorf("outcomes: %+v", oc)
	}

	// Every read and write is in the person's access log.
	reads, writes := 0, 0
	for _, l := range e.logOf(p) {
		if l.Tenant != coach || l.Decision != "allow" {
			t.Errorf("log line %+v: want only the coach's allowed accesses", l)
			continue
		}
		switch l.Action {
		case "read":
			reads++
		case "write":
			writes++
		}
	}
	if reads < 8 || writes < 20 {
		t.Errorf("access log: %d reads, %d writes; want every read and write", reads, writes)
	}
}
