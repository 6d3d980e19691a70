package conferences_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"attivi/policies"
	"attivi/services/conferences"
	"attivi/services/notes"
)

// readable says what tenant slug may read of the person now, as notes decide.
func (e *env) readable(personID, slug string) []string {
	e.t.Helper()
	acc, err := notes.Decide(context.Background(), e.db, e.engine, e.actors[slug], personID, policies.ActRead)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, c := range policies.PersonCategories {
		if acc.Allowed[c] {
			out = append(out, c)
		}
	}
	return out
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p1, p2 := e.person("Bianchi"), e.person("Neri")
	e.consent(p1, serd, "case_conference", "health", "social")
	e.consent(p1, "kind:third_sector", "case_conference", "employment")
	e.consent(p2, serd, "case_conference", "social")
	e.consent(p2, coeso, "presa_in_carico", "employment") // another purpose: does not count

	// coeso lacks the consent for p2: refused, naming p2 and coeso only.
	r := e.do("POST", "/api/v1/conferences", organizer, draft([]string{p1, p2}, []string{serd, coeso}))
	if r.status != 422 {
		t.Fatalf("create without consent: %d %s, want 422", r.status, r.body)
	}
	msg := r.err(t).Error.Message
	if !strings.Contains(msg, p2) || !strings.Contains(msg, coeso) || strings.Contains(msg, p1) || strings.Contains(msg, "Neri") {
		t.Errorf("refusal %q: want it to name person %s and %s only, by id", msg, p2, coeso)
	}
	if f := r.err(t).Error.Fields["invited_tenants[1]"]; !strings.Contains(f, p2) {
		t.Errorf("refusal fields %v: want invited_tenants[1] naming %s", r.err(t).Error.Fields, p2)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM conferences`); err != nil || n != 0 {
		t.Errorf("%d conferences stored after a refusal (%v)", n, err)
	}

	// Invited without that person: accepted.
	c := e.create(draft([]string{p1, p2}, []string{serd, coeso}, set("without", []map[string]string{{"tenant": coeso, "person_id": p2}}),
		set("invited_users", []string{e.actors[coeso].UserID, e.actors[organizer].UserID})))
	if c.Status != "scheduled" || c.Sequence != 0 || c.Version != 1 || c.Organizer != organizer || len(c.InvitedTenants) != 2 || len(c.InvitedUsers) != 2 {
		t.Errorf("created %+v", c)
	}
	src := "conference:" + c.ID
	if got := e.links(p1); got[serd] != src || got[coeso] != src || len(got) != 2 {
		t.Errorf("links to p1: %v, want serd and coeso from %s", got, src)
	}
	if got := e.links(p2); got[serd] != src || len(got) != 1 {
		t.Errorf("links to p2: %v, want serd only", got)
	}
	// What the link opens: identity and status, and what the case_conference consent grants.
	if got := e.readable(p1, coeso); !slices.Equal(got, []string{"identity", "employment", "status"}) {
		t.Errorf("coeso reads of p1: %v", got)
	}
	if got := e.readable(p1, serd); !slices.Equal(got, []string{"identity", "social", "health", "status"}) {
		t.Errorf("serd reads of p1: %v", got)
	}
	if got := e.readable(p2, coeso); len(got) != 0 {
		t.Errorf("coeso reads of p2, discussed without it: %v", got)
	}

	// Notes may refer to the conference, for the persons it discusses.
	ns := notes.NewService(e.db, e.engine, time.Now, quietLog(), e.svc, nil)
	if _, err := ns.Create(context.Background(), e.actors[organizer], "", p1, notes.Draft{Category: "social", Body: "Preparazione dell'équipe.", ConferenceID: &c.ID}); err != nil {
		t.Errorf("note about p1 referring to the conference: %v", err)
	}
	p3 := e.person("Gialli")
	if _, err := ns.Create(context.Background(), e.actors[organizer], "", p3, notes.Draft{Category: "social", Body: "x", ConferenceID: &c.ID}); err == nil {
		t.Error("a note about a person the conference does not discuss refers to it")
	}

	// Who sees what of the conference.
	if g := e.do("GET", "/api/v1/conferences/"+c.ID, coeso, nil).conference(t); !slices.Equal(g.PersonIDs, []string{p1}) || g.Without != nil {
		t.Errorf("coeso sees persons %v and exclusions %v, want [p1] and none", g.PersonIDs, g.Without)
	}
	if g := e.do("GET", "/api/v1/conferences/"+c.ID, organizer, nil).conference(t); !slices.Equal(g.PersonIDs, []string{p1, p2}) || len(g.Without) != 1 {
		t.Errorf("organizer sees %v / %v", g.PersonIDs, g.Without)
	}
	if r := e.do("GET", "/api/v1/conferences/"+c.ID, stranger, nil); r.status != 404 {
		t.Errorf("stranger: %d, want 404", r.status)
	}
	var logged int
	if err := e.db.Get(&logged, `SELECT count(*) FROM access_log WHERE person_id = $1 AND tenant_id = $2 AND action = 'read' AND reason LIKE '%'||$3`,
		p1, e.actors[coeso].TenantID, c.ID); err != nil || logged != 1 {
		t.Errorf("access log of coeso reading the conference: %d entries (%v), want 1", logged, err)
	}
	list := e.do("GET", "/api/v1/conferences", coeso, nil)
	if !strings.Contains(string(list.body), c.ID) || strings.Contains(string(list.body), p1) {
		t.Errorf("coeso's list %s: want the conference, without person ids", list.body)
	}
	if l := e.do("GET", "/api/v1/conferences", stranger, nil); strings.Contains(string(l.body), c.ID) {
		t.Error("the stranger's list shows the conference")
	}

	// Answers.
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/invitations/"+serd+"/answer", coeso, map[string]string{"answer": "accept"}); r.status != 403 {
		t.Errorf("answer for another tenant: %d, want 403", r.status)
	}
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/invitations/"+coeso+"/answer", coeso, map[string]string{"answer": "accept"}); r.status != 200 {
		t.Errorf("accept: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/invitations/"+serd+"/answer", serd, map[string]string{"answer": "decline"}); r.status != 200 {
		t.Errorf("decline: %d %s", r.status, r.body)
	}
	if got := e.links(p1); got[serd] != "" || got[coeso] == "" {
		t.Errorf("links to p1 after serd declined: %v, want coeso's only", got)
	}
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/invitations/"+serd+"/answer", serd, map[string]string{"answer": "accept"}); r.status != 409 {
		t.Errorf("accept after declining: %d, want 409", r.status)
	}

	// Attendance, by the organizer.
	att := map[string]any{"tenants": map[string]string{coeso: "present", serd: "absent"}, "users": map[string]string{e.actors[coeso].UserID: "present"}}
	if r := e.do("PUT", "/api/v1/conferences/"+c.ID+"/attendance", coeso, att); r.status != 403 {
		t.Errorf("attendance by coeso: %d, want 403", r.status)
	}
	r = e.do("PUT", "/api/v1/conferences/"+c.ID+"/attendance", organizer, att)
	if r.status != 200 {
		t.Fatalf("attendance: %d %s", r.status, r.body)
	}
	for _, i := range r.conference(t).InvitedTenants {
		if want := map[string]string{coeso: "present", serd: "absent"}[i.Tenant]; i.Attendance != want {
			t.Errorf("attendance of %s: %s, want %s", i.Tenant, i.Attendance, want)
		}
	}

	// Minutes with decisions and action items.
	yesterday := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	nextWeek := time.Now().AddDate(0, 0, 7).Format(time.DateOnly)
	minutes := map[string]any{"text": "Verbale: presenti CO&SO e Comune.",
		"decisions": []map[string]string{
			{"person_id": p1, "category": "employment", "decision": "Avvio tirocinio in azienda"},
			{"person_id": p1, "category": "health", "decision": "Rivalutazione terapeutica"},
			{"person_id": p2, "category": "social", "decision": "Contributo affitto"}},
		"action_items": []map[string]any{
			{"what": "Contattare l'azienda", "assignee_tenant": coeso, "assignee_user_id": e.actors[coeso].UserID, "due_date": yesterday},
			{"what": "Preparare il progetto", "assignee_tenant": organizer, "assignee_user_id": e.actors[organizer].UserID, "due_date": nextWeek}}}
	if r := e.do("PUT", "/api/v1/conferences/"+c.ID+"/minutes", organizer, minutes); r.status != 400 {
		t.Errorf("minutes without If-Match: %d, want 400", r.status)
	}
	bad := map[string]any{"decisions": []map[string]string{{"person_id": p1, "category": "mood", "decision": ""}},
		"action_items": []map[string]any{{"what": "x", "assignee_tenant": stranger}}}
	if r := e.do("PUT", "/api/v1/conferences/"+c.ID+"/minutes", organizer, bad, "If-Match", "1"); r.status != 422 || len(r.err(t).Error.Fields) != 3 {
		t.Errorf("bad minutes: %d %s, want 422 with 3 fields", r.status, r.body)
	}
	if r := e.do("PUT", "/api/v1/conferences/"+c.ID+"/minutes", coeso, minutes, "If-Match", "1"); r.status != 403 {
		t.Errorf("minutes by coeso: %d, want 403", r.status)
	}
	r = e.do("PUT", "/api/v1/conferences/"+c.ID+"/minutes", organizer, minutes, "If-Match", "1")
	if r.status != 200 || r.header["Etag"] != `"2"` {
		t.Fatalf("minutes: %d %s %v", r.status, r.body, r.header)
	}
	if m := r.minutes(t); len(m.Decisions) != 3 || len(m.ActionItems) != 2 || m.Version != 2 {
		t.Errorf("organizer's minutes %+v", m)
	}
	m := e.do("GET", "/api/v1/conferences/"+c.ID+"/minutes", coeso, nil).minutes(t)
	if len(m.Decisions) != 1 || m.Decisions[0].Category != "employment" || m.Withheld != 2 || m.Text == "" || len(m.ActionItems) != 2 {
		t.Errorf("coeso's minutes %+v: want the employment decision only, 2 withheld", m)
	}
	if r := e.do("GET", "/api/v1/conferences/"+c.ID+"/minutes", serd, nil); r.status != 403 {
		t.Errorf("minutes for serd, who declined: %d, want 403", r.status)
	}

	// Action items.
	items := func(as, who string) []conferences.ItemJSON {
		var l struct{ Items []conferences.ItemJSON }
		r := e.do("GET", "/api/v1/action-items?assignee="+who, as, nil)
		if r.status != 200 {
			t.Fatalf("action items: %d %s", r.status, r.body)
		}
		if err := jsonUnmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	ci := items(coeso, "tenant")
	if len(ci) != 1 || !ci[0].Overdue || ci[0].ConferenceID != c.ID {
		t.Errorf("coeso's items %+v: want one, overdue", ci)
	}
	if oi := items(organizer, "me"); len(oi) != 1 || oi[0].Overdue {
		t.Errorf("organizer's own items %+v: want one, not overdue", oi)
	}
	if si := items(stranger, "tenant"); len(si) != 0 {
		t.Errorf("stranger's items %+v", si)
	}
	if r := e.do("GET", "/api/v1/action-items?assignee=everyone", coeso, nil); r.status != 400 {
		t.Errorf("bad assignee: %d, want 400", r.status)
	}
	if r := e.do("PATCH", "/api/v1/action-items/"+ci[0].ID, stranger, map[string]string{"status": "done"}, "If-Match", "1"); r.status != 404 {
		t.Errorf("stranger changes an item: %d, want 404", r.status)
	}

	// Close: links end, minutes freeze, amendments instead.
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/close", coeso, nil); r.status != 403 {
		t.Errorf("close by coeso: %d, want 403", r.status)
	}
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/close", organizer, nil, "If-Match", "1"); r.status != 409 {
		t.Errorf("close with a stale If-Match: %d, want 409", r.status)
	}
	r = e.do("POST", "/api/v1/conferences/"+c.ID+"/close", organizer, nil)
	if r.status != 200 || r.conference(t).Status != "closed" {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	if got := e.links(p1); len(got) != 0 {
		t.Errorf("links after close: %v, want none", got)
	}
	if got := e.readable(p1, coeso); len(got) != 0 {
		t.Errorf("coeso reads of p1 after close: %v, want nothing", got)
	}
	if r := e.do("PUT", "/api/v1/conferences/"+c.ID+"/minutes", organizer, minutes, "If-Match", "2"); r.status != 409 {
		t.Errorf("minutes after close: %d, want 409", r.status)
	}
	if r := e.do("PUT", "/api/v1/conferences/"+c.ID+"/attendance", organizer, att); r.status != 409 {
		t.Errorf("attendance after close: %d, want 409", r.status)
	}
	r = e.do("POST", "/api/v1/conferences/"+c.ID+"/minutes/amendments", organizer, map[string]any{"text": "Rettifica: il tirocinio parte a maggio.",
		"decisions": []map[string]string{{"person_id": p1, "category": "employment", "decision": "Tirocinio da maggio"}}})
	if r.status != 201 {
		t.Fatalf("amend: %d %s", r.status, r.body)
	}
	if am := r.minutes(t); len(am.Amendments) != 1 || len(am.Decisions) != 4 || am.Decisions[3].AmendmentID == nil || am.Text != "Verbale: presenti CO&SO e Comune." {
		t.Errorf("amended minutes %+v", am)
	}
	// The work on action items goes on after close.
	r = e.do("PATCH", "/api/v1/action-items/"+ci[0].ID, coeso, map[string]string{"status": "done"}, "If-Match", "1")
	if r.status != 200 {
		t.Fatalf("item done: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/api/v1/action-items/"+ci[0].ID, coeso, map[string]string{"status": "open"}, "If-Match", "1"); r.status != 409 {
		t.Errorf("stale item change: %d, want 409", r.status)
	}
	if ci := items(coeso, "tenant"); len(ci) != 0 {
		t.Errorf("coeso's open items after done: %+v", ci)
	}
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/cancel", organizer, nil); r.status != 409 {
		t.Errorf("cancel a closed conference: %d, want 409", r.status)
	}
}

func TestOrganizerMayShareOnlyWhatItHolds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person("Verdi")
	e.consent(p, serd, "case_conference", "health")
	// A person the tenant does not see; one it sees without owning it.
	r := e.do("POST", "/api/v1/conferences", coeso, draft([]string{p}, []string{serd}))
	if r.status != 422 || !strings.Contains(r.err(t).Error.Fields["person_ids[0]"], "no person") {
		t.Errorf("unseen person: %d %s, want 422 on person_ids[0]", r.status, r.body)
	}
	if _, err := policies.AddLink(context.Background(), e.db, policies.LinkInput{PersonID: p, TenantID: e.actors[ufsma].TenantID,
		Kind: policies.LinkCareTeam, Source: "manual"}); err != nil {
		t.Fatal(err)
	}
	// ufsma sees p (care team) but may not share it.
	r = e.do("POST", "/api/v1/conferences", ufsma, draft([]string{p}, []string{serd}))
	if r.status != 422 || !strings.Contains(r.err(t).Error.Fields["person_ids[0]"], "share") {
		t.Errorf("person seen but not shareable: %d %s, want 422 on person_ids[0]", r.status, r.body)
	}
	// The title goes into calendars: no names of persons discussed, no fiscal codes.
	for _, title := range []string{"Riunione per Verdi", "Caso di GIULIA", "Caso RSSMRA80A01H501U"} {
		r := e.do("POST", "/api/v1/conferences", organizer, draft([]string{p}, []string{serd}, set("title", title)))
		if r.status != 422 || r.err(t).Error.Fields["title"] == "" {
			t.Errorf("title %q: %d %s, want 422 on title", title, r.status, r.body)
		}
	}
	// A word that contains a name is not the name.
	if r := e.do("POST", "/api/v1/conferences", organizer, draft([]string{p}, []string{serd}, set("title", "Verdicchio e tirocini"))); r.status != 201 {
		t.Errorf("title with a word containing a name: %d %s, want 201", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/conferences", organizer, map[string]any{"title": "", "starts_at": "tomorrow", "ends_at": "2026-01-01T10:00:00Z",
		"invited_tenants": []string{"nobody", organizer}, "video_url": "http://x", "person_ids": []string{"x"}})
	f := r.err(t).Error.Fields
	for _, k := range []string{"title", "starts_at", "video_url", "invited_tenants[0]", "invited_tenants[1]", "person_ids[0]"} {
		if f[k] == "" {
			t.Errorf("invalid draft: no problem reported for %s (%v)", k, f)
		}
	}
}

func TestConcurrentMinuteEdits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(draft(nil, []string{serd}))
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.do("PUT", "/api/v1/conferences/"+c.ID+"/minutes", organizer,
				map[string]any{"text": "versione " + string(rune('A'+i))}, "If-Match", "1").status
		}()
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, code := range codes {
		switch code {
		case 200:
			ok++
		case 409:
			conflict++
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("concurrent edits from version 1: %v, want one 200 and %d 409", codes, n-1)
	}
	m := e.do("GET", "/api/v1/conferences/"+c.ID+"/minutes", organizer, nil).minutes(t)
	if m.Version != 2 || !strings.HasPrefix(m.Text, "versione ") {
		t.Errorf("minutes after the race: version %d text %q, want version 2 and the winner's text", m.Version, m.Text)
	}
}

func TestEveryEndpointIsNotFoundForOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(draft(nil, []string{serd}))
	for _, ep := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/conferences/" + c.ID, nil},
		{"PATCH", "/api/v1/conferences/" + c.ID, map[string]string{"title": "x"}},
		{"POST", "/api/v1/conferences/" + c.ID + "/invitations/" + stranger + "/answer", map[string]string{"answer": "accept"}},
		{"PUT", "/api/v1/conferences/" + c.ID + "/attendance", map[string]any{"tenants": map[string]string{serd: "present"}}},
		{"GET", "/api/v1/conferences/" + c.ID + "/minutes", nil},
		{"PUT", "/api/v1/conferences/" + c.ID + "/minutes", map[string]string{"text": "x"}},
		{"POST", "/api/v1/conferences/" + c.ID + "/minutes/amendments", map[string]string{"text": "x"}},
		{"POST", "/api/v1/conferences/" + c.ID + "/close", nil},
		{"POST", "/api/v1/conferences/" + c.ID + "/cancel", map[string]string{"reason": "x"}},
		{"GET", "/api/v1/conferences/" + c.ID + "/ics", nil},
	} {
		if r := e.do(ep.method, ep.path, stranger, ep.body, "If-Match", "1"); r.status != 404 {
			t.Errorf("%s %s as a stranger: %d %s, want 404", ep.method, ep.path, r.status, r.body)
		}
		if ep.method == "GET" {
			if r := e.do(ep.method, ep.path, serd, nil); r.status != 200 {
				t.Errorf("%s %s as invited: %d %s, want 200", ep.method, ep.path, r.status, r.body)
			}
		}
	}
	if r := e.do("GET", "/api/v1/conferences/not-an-id", serd, nil); r.status != 404 {
		t.Errorf("malformed id: %d, want 404", r.status)
	}
}
