package referrals_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/referrals"
)

// A social worker refers, a cooperative accepts, works and completes, the
// social worker sees the outcome: the "done when", through the API.
func TestClosedLoop(t *testing.T) {
	e := newEnv(t)
	p := e.person(owner, "salute_mentale")
	r := e.refer(p, coop, "employment", "status")
	if r.Status != referrals.StatusRequested || r.Version != 1 || r.Side != referrals.Sender || r.Person == nil ||
		!slices.Equal(r.SharedCategories, []string{"identity", "employment", "status"}) || len(r.Events) != 1 {
		t.Fatalf("created %+v: want requested, version 1, seen by the sender with the name, identity shared, one event", r)
	}
	if got := nextOf(r); !slices.Equal(got, []string{"cancelled"}) {
		t.Errorf("the sender may %v, want [cancelled]", got)
	}
	if got := e.openLinks(p, r.ID); !slices.Equal(got, []string{"referral_recipient:identity,employment,status"}) {
		t.Errorf("links while requested: %v, want the scoped recipient link", got)
	}

	in := e.do("GET", "/api/v1/referrals/"+r.ID, coop, nil)
	if in.status != 200 || in.header.Get("ETag") != `"1"` {
		t.Fatalf("recipient reads it: %d %s", in.status, in.body)
	}
	if got := nextOf(in.referral(t)); !slices.Equal(got, []string{"accepted", "rejected"}) {
		t.Errorf("the recipient may %v, want [accepted rejected]", got)
	}

	r = e.mustMove(r, coop, to("accepted"))
	if got := e.openLinks(p, r.ID); !slices.Equal(got, []string{"provider"}) {
		t.Errorf("links once accepted: %v, want the provider link only", got)
	}
	r = e.mustMove(r, coop, to("in-progress"))
	r = e.mustMove(r, coop, map[string]any{"to": "on-hold", "note": "ricovero"})
	r = e.mustMove(r, coop, to("in-progress"))
	r = e.mustMove(r, coop, map[string]any{"to": "completed", "outcome": "hired", "note": "assunta a tempo indeterminato"})
	if r.Version != 6 || r.ClosedAt == nil {
		t.Errorf("completed: version %d closed %v, want 6 and a closing time", r.Version, r.ClosedAt)
	}
	if got := e.openLinks(p, r.ID); len(got) != 0 {
		t.Errorf("links once completed: %v, want none", got)
	}

	back := e.do("GET", "/api/v1/referrals/"+r.ID, owner, nil).referral(t)
	if back.Outcome == nil || *back.Outcome != "hired" || back.Status != "completed" {
		t.Errorf("the sender sees %+v, want completed with outcome hired", back)
	}
	var path []string
	for _, ev := range back.Events {
		from := "-"
		if ev.From != nil {
			from = string(*ev.From)
		}
		path = append(path, fmt.Sprintf("%d:%s>%s@%s", ev.Version, from, ev.To, ev.Tenant))
	}
	want := []string{"1:->requested@comune-bagno-a-ripoli", "2:requested>accepted@coeso", "3:accepted>in-progress@coeso",
		"4:in-progress>on-hold@coeso", "5:on-hold>in-progress@coeso", "6:in-progress>completed@coeso"}
	if !slices.Equal(path, want) {
		t.Errorf("history %v, want %v", path, want)
	}
	if last := back.Events[5]; last.Note != "assunta a tempo indeterminato" || last.User == nil || *last.User != "coop@example.org" {
		t.Errorf("last event %+v: want the note and who made it", last)
	}
}

func nextOf(r referrals.ReferralJSON) []string {
	var out []string
	for _, n := range r.Next {
		out = append(out, string(n.To))
	}
	return out
}

// pathTo lists the moves (as the recipient) that bring a new referral to s.
var pathTo = map[referrals.Status][]map[string]any{
	referrals.StatusRequested:  nil,
	referrals.StatusAccepted:   {to("accepted")},
	referrals.StatusInProgress: {to("accepted"), to("in-progress")},
	referrals.StatusOnHold:     {to("accepted"), to("in-progress"), to("on-hold")},
	referrals.StatusCompleted:  {to("accepted"), to("in-progress"), {"to": "completed", "outcome": "training"}},
	referrals.StatusRejected:   {{"to": "rejected", "reason_code": "no_capacity"}},
}

// at makes a new referral (of a new person) in status s.
func (e *env) at(s referrals.Status) (string, referrals.ReferralJSON) {
	e.t.Helper()
	p := e.person(owner, "disabile_l68")
	r := e.refer(p, coop, "employment")
	for _, m := range pathTo[s] {
		r = e.mustMove(r, coop, m)
	}
	return p, r
}

// Every transition of the state machine, by the side it belongs to, with
// what it requires, and what it does to the links.
func TestEveryLegalTransition(t *testing.T) {
	e := newEnv(t)
	for _, tr := range referrals.Transitions {
		p, r := e.at(tr.From)
		body := to(string(tr.To))
		for _, f := range tr.Requires {
			switch f {
			case referrals.FieldReasonCode:
				body[f] = "not_eligible"
			case referrals.FieldOutcome:
				body[f] = "internship"
			case referrals.FieldNote:
				body[f] = "la persona si è trasferita"
			}
		}
		as := coop
		if tr.By == referrals.Sender {
			as = owner
		}
		got := e.mustMove(r, as, body)
		if got.Status != tr.To || got.Version != r.Version+1 || len(got.Events) != r.Version+1 {
			t.Errorf("%s -> %s: status %s version %d events %d, want %s, %d, %d", tr.From, tr.To, got.Status, got.Version, len(got.Events), tr.To, r.Version+1, r.Version+1)
		}
		links := e.openLinks(p, r.ID)
		switch {
		case tr.To.Closed() && len(links) != 0:
			t.Errorf("%s -> %s: links %v, want none", tr.From, tr.To, links)
		case !tr.To.Closed() && !slices.Equal(links, []string{"provider"}):
			t.Errorf("%s -> %s: links %v, want [provider]", tr.From, tr.To, links)
		}
	}
}

func TestIllegalTransitions(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		from   referrals.Status
		as     string
		body   map[string]any
		status int
		field  string // the field the error names
		says   []string
	}{
		{"requested to completed", referrals.StatusRequested, coop, map[string]any{"to": "completed", "outcome": "hired"}, 422, "to", []string{"accepted", "rejected", "cancelled"}},
		{"requested to in-progress", referrals.StatusRequested, coop, to("in-progress"), 422, "to", []string{"accepted"}},
		{"accepted to accepted", referrals.StatusAccepted, coop, to("accepted"), 422, "to", []string{"in-progress"}},
		{"accepted to cancelled", referrals.StatusAccepted, owner, to("cancelled"), 422, "to", []string{"in-progress"}},
		{"on-hold to completed", referrals.StatusOnHold, coop, map[string]any{"to": "completed", "outcome": "hired"}, 422, "to", []string{"in-progress", "failed"}},
		{"completed is closed", referrals.StatusCompleted, coop, to("in-progress"), 422, "to", []string{"closed"}},
		{"rejected is closed", referrals.StatusRejected, coop, to("accepted"), 422, "to", []string{"closed"}},
		{"not a status", referrals.StatusRequested, coop, to("done"), 422, "to", []string{"requested", "on-hold"}},
		{"the sender accepts", referrals.StatusRequested, owner, to("accepted"), 403, "", []string{"recipient"}},
		{"the recipient cancels", referrals.StatusRequested, coop, to("cancelled"), 403, "", []string{"sender"}},
		{"reject without a reason", referrals.StatusRequested, coop, to("rejected"), 422, "reason_code", []string{"not_eligible"}},
		{"reject with an unknown reason", referrals.StatusRequested, coop, map[string]any{"to": "rejected", "reason_code": "busy"}, 422, "reason_code", []string{"no_capacity"}},
		{"reject for other without a note", referrals.StatusRequested, coop, map[string]any{"to": "rejected", "reason_code": "other"}, 422, "note", nil},
		{"complete without an outcome", referrals.StatusInProgress, coop, to("completed"), 422, "outcome", []string{"hired"}},
		{"fail without a note", referrals.StatusInProgress, coop, to("failed"), 422, "note", nil},
		{"accept with an outcome", referrals.StatusRequested, coop, map[string]any{"to": "accepted", "outcome": "hired"}, 422, "outcome", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, r := e.at(c.from)
			res := e.move(r.ID, c.as, r.Version, c.body)
			if res.status != c.status {
				t.Fatalf("%d %s, want %d", res.status, res.body, c.status)
			}
			b := res.err(t)
			said := b.Error.Message + " " + fmt.Sprint(b.Error.Fields)
			if c.field != "" && b.Error.Fields[c.field] == "" {
				t.Errorf("fields %v, want a message for %s", b.Error.Fields, c.field)
			}
			for _, w := range c.says {
				if !strings.Contains(said, w) {
					t.Errorf("error %q does not name %q", said, w)
				}
			}
			after := e.do("GET", "/api/v1/referrals/"+r.ID, owner, nil).referral(t)
			if after.Version != r.Version || after.Status != r.Status || len(after.Events) != r.Version {
				t.Errorf("after a refused move: %s v%d with %d events, want it unchanged", after.Status, after.Version, len(after.Events))
			}
			_ = p
		})
	}
	t.Run("no If-Match", func(t *testing.T) {
		_, r := e.at(referrals.StatusRequested)
		if res := e.do("POST", "/api/v1/referrals/"+r.ID+"/transitions", coop, to("accepted")); res.status != 400 || res.err(t).Error.Fields["If-Match"] == "" {
			t.Errorf("without If-Match: %d %s, want 400 naming If-Match", res.status, res.body)
		}
	})
	t.Run("stale If-Match", func(t *testing.T) {
		_, r := e.at(referrals.StatusAccepted)
		if res := e.move(r.ID, coop, 1, to("in-progress")); res.status != 409 || !strings.Contains(res.err(t).Error.Message, "version 2") {
			t.Errorf("with version 1 of a referral at 2: %d %s, want 409 naming the current version", res.status, res.body)
		}
	})
	t.Run("strangers", func(t *testing.T) {
		_, r := e.at(referrals.StatusRequested)
		for _, as := range []string{stranger, coopAdmin, office} {
			if res := e.move(r.ID, as, 1, to("accepted")); res.status != 404 {
				t.Errorf("%s moves it: %d %s, want 404", as, res.status, res.body)
			}
		}
	})
}

// Concurrent accept (recipient) and cancel (sender) of the same version:
// exactly one wins, the other gets 409, the history holds one decision.
func TestConcurrentAcceptAndCancel(t *testing.T) {
	e := newEnv(t)
	for round := range 10 {
		p, r := e.at(referrals.StatusRequested)
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := map[string]int{}
		var mu sync.Mutex
		for _, m := range []struct{ as, to string }{{coop, "accepted"}, {owner, "cancelled"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res := e.move(r.ID, m.as, 1, to(m.to))
				mu.Lock()
				results[m.to] = res.status
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		winner := ""
		for s, st := range results {
			switch st {
			case 200:
				wins++
				winner = s
			case 409:
			default:
				t.Errorf("round %d: %s got %d, want 200 or 409", round, s, st)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %v, want exactly one winner", round, results)
		}
		after := e.do("GET", "/api/v1/referrals/"+r.ID, owner, nil).referral(t)
		if len(after.Events) != 2 || after.Version != 2 || string(after.Status) != winner || string(after.Events[1].To) != winner {
			t.Errorf("round %d: %s v%d with %d events, want the winner %s and one decision", round, after.Status, after.Version, len(after.Events), winner)
		}
		links := e.openLinks(p, r.ID)
		if winner == "accepted" && !slices.Equal(links, []string{"provider"}) || winner == "cancelled" && len(links) != 0 {
			t.Errorf("round %d: winner %s, links %v", round, winner, links)
		}
	}
}

// The same Idempotency-Key from racing requests: one referral, every
// request gets the first response; another body with the key is refused.
func TestIdempotentCreation(t *testing.T) {
	e := newEnv(t)
	p := e.person(owner, "disabile_l68")
	body := newReferral(p, coop, "employment")
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	res := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i] = e.do("POST", "/api/v1/referrals", owner, body, "Idempotency-Key", "key-7f3c")
		}()
	}
	close(start)
	wg.Wait()
	replayed := 0
	for i, r := range res {
		if r.status != 201 || string(r.body) != string(res[0].body) {
			t.Errorf("request %d: %d %s, want 201 with the first body %s", i, r.status, r.body, res[0].body)
		}
		if r.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if replayed != n-1 {
		t.Errorf("%d responses replayed, want %d", replayed, n-1)
	}
	var count int
	if err := e.db.Get(&count, `SELECT count(*) FROM referrals WHERE person_id = $1`, p); err != nil || count != 1 {
		t.Errorf("%d referrals (%v), want 1", count, err)
	}
	if err := e.db.Get(&count, `SELECT count(*) FROM referral_events e JOIN referrals r ON r.id = e.referral_id WHERE r.person_id = $1`, p); err != nil || count != 1 {
		t.Errorf("%d events (%v), want 1", count, err)
	}

	// Later, after the referral moved on: still the first result.
	first := res[0].referral(t)
	e.mustMove(first, coop, to("accepted"))
	again := e.do("POST", "/api/v1/referrals", owner, body, "Idempotency-Key", "key-7f3c")
	if again.status != 201 || string(again.body) != string(res[0].body) {
		t.Errorf("a repeat after acceptance: %d %s, want the first response", again.status, again.body)
	}
	other := newReferral(p, trainer, "employment")
	if r := e.do("POST", "/api/v1/referrals", owner, other, "Idempotency-Key", "key-7f3c"); r.status != 422 ||
		!strings.Contains(r.err(t).Error.Message, "different request") {
		t.Errorf("the key with another body: %d %s, want 422 saying it was used for a different request", r.status, r.body)
	}
	// The key belongs to the tenant: another tenant may use the same string.
	p2 := e.person(carer, "salute_mentale")
	if r := e.do("POST", "/api/v1/referrals", carer, newReferral(p2, coop, "employment"), "Idempotency-Key", "key-7f3c"); r.status != 201 {
		t.Errorf("another tenant with the same key: %d %s, want 201", r.status, r.body)
	}
	// Without a key, a second identical referral while the first is open is a conflict.
	p3 := e.person(owner, "disabile_l68")
	e.refer(p3, coop, "employment")
	if r := e.do("POST", "/api/v1/referrals", owner, newReferral(p3, coop, "employment")); r.status != 409 || !strings.Contains(r.err(t).Error.Message, "open referral") {
		t.Errorf("a duplicate without a key: %d %s, want 409 naming the open referral", r.status, r.body)
	}
}

func TestCreateRefusals(t *testing.T) {
	e := newEnv(t)
	p := e.person(owner, "disabile_l68")
	e.link(p, carer, policies.LinkCareTeam)
	cases := []struct {
		name   string
		as     string
		body   map[string]any
		status int
		field  string
	}{
		{"nothing", owner, map[string]any{}, 422, "reason"},
		{"unknown category", owner, newReferral(p, coop, "gossip"), 422, "shared_categories"},
		{"unknown priority", owner, func() map[string]any { b := newReferral(p, coop); b["priority"] = "yesterday"; return b }(), 422, "priority"},
		{"unknown tenant", owner, func() map[string]any { b := newReferral(p, coop); b["to_tenant"] = "nowhere"; return b }(), 422, "to_tenant"},
		{"own tenant", owner, func() map[string]any { b := newReferral(p, coop); b["to_tenant"] = "comune-bagno-a-ripoli"; return b }(), 422, "to_tenant"},
		{"a person the tenant does not see", stranger, newReferral(p, coop), 404, ""},
		{"a person that does not exist", owner, newReferral("00000000-0000-4000-8000-000000000000", coop), 404, ""},
		{"the care team may not share", carer, newReferral(p, coop), 403, "shared_categories"},
		{"the owner may not share health", owner, newReferral(p, coop, "health"), 403, "shared_categories"},
	}
	for _, c := range cases {
		r := e.do("POST", "/api/v1/referrals", c.as, c.body)
		if r.status != c.status || c.field != "" && r.err(t).Error.Fields[c.field] == "" {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, r.status, r.body, c.status, c.field)
		}
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM referrals`); err != nil || n != 0 {
		t.Errorf("%d referrals after refusals, want 0", n)
	}
	if got := e.logOf(p, stranger); !slices.Contains(got, "write/deny/referrals") {
		t.Errorf("the stranger's attempt is not in the access log: %v", got)
	}
}

// What the recipient sees of the person: only what the referral shares
// while pending (and the matrix with consent allows), what the provider
// link gives once accepted, nothing once rejected.
func TestWhatTheRecipientSees(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.person(owner, "disabile_l68")
	e.consent(p, []string{"coeso", "rti-athena-cte"}, "contact", "employment", "disability")

	before, err := e.readable(p, coop)
	if apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("before the referral the cooperative reads %v (%v), want not_found", before, err)
	}
	r := e.refer(p, coop, "employment", "status")
	got, err := e.readable(p, coop)
	if err != nil || !slices.Equal(got, []string{"identity", "employment", "status"}) {
		t.Errorf("pending: reads %v (%v), want identity employment status (contact and disability are consented but not shared)", got, err)
	}
	acc, err := e.engine.Access(ctx, e.db, e.actors[coop], p, policies.ActRead, "")
	if err != nil || acc.Decisions["contact"].Allow || !acc.Decisions["employment"].Allow {
		t.Errorf("pending, the decision: %v %v", acc.Allowed(), err)
	}

	e.mustMove(r, coop, to("accepted"))
	got, err = e.readable(p, coop)
	if err != nil || !slices.Equal(got, []string{"identity", "contact", "disability", "employment", "status"}) {
		t.Errorf("accepted: reads %v (%v), want what the provider link gives with consent: identity contact disability employment status", got, err)
	}

	r2 := e.refer(p, trainer, "employment")
	if got, err := e.readable(p, trainer); err != nil || !slices.Contains(got, "identity") {
		t.Errorf("trainer, pending: %v %v", got, err)
	}
	e.mustMove(r2, trainer, map[string]any{"to": "rejected", "reason_code": "other", "note": "corso al completo"})
	if got, err := e.readable(p, trainer); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("trainer after rejecting: reads %v (%v), want not_found", got, err)
	}
	// The referral itself stays in both inboxes; the person's name only where
	// the tenant may still read identity.
	mine := e.do("GET", "/api/v1/referrals/"+r2.ID, trainer, nil).referral(t)
	if mine.Person != nil || !slices.Equal(mine.Withheld, []string{"identity"}) || mine.Status != "rejected" {
		t.Errorf("the trainer reads its rejected referral as %+v, want no name, identity withheld", mine)
	}
	theirs := e.do("GET", "/api/v1/referrals/"+r2.ID, owner, nil).referral(t)
	last := theirs.Events[len(theirs.Events)-1]
	if theirs.ReasonCode == nil || *theirs.ReasonCode != "other" || last.Note != "corso al completo" || theirs.Person == nil {
		t.Errorf("the sender reads %+v: want the rejection reason and its note (the closed loop)", theirs)
	}
}

// The employment office: the status_observer link from the network rules
// for L.68 participants, the status view and 404 on everything else.
func TestEmploymentOfficeStatusView(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l68 := e.person(owner, "disabile_l68")
	mental := e.person(owner, "salute_mentale")

	var src string
	if err := e.db.Get(&src, `SELECT source FROM person_links WHERE person_id = $1 AND kind = 'status_observer' AND tenant_id = $2 AND ended_at IS NULL`,
		l68, e.actors[office].TenantID); err != nil || src != policies.SourceNetworkRule {
		t.Fatalf("the office's link to the L.68 participant: %q (%v), want one made by the network rule", src, err)
	}
	st := e.do("GET", "/api/v1/persons/"+l68+"/status", office, nil)
	if st.status != 200 || !strings.Contains(string(st.body), `"stage":"not_started"`) || !strings.Contains(string(st.body), `"enrolled":false`) ||
		!strings.Contains(string(st.body), `"placement":null`) {
		t.Fatalf("status before any referral: %d %s", st.status, st.body)
	}
	r := e.refer(l68, coop, "employment")
	if st := e.do("GET", "/api/v1/persons/"+l68+"/status", office, nil); !strings.Contains(string(st.body), `"stage":"referred"`) ||
		!strings.Contains(string(st.body), `"active":true`) {
		t.Errorf("status while referred: %s", st.body)
	}
	r = e.mustMove(r, coop, to("accepted"))
	e.mustMove(r, coop, to("in-progress"))
	if st := e.do("GET", "/api/v1/persons/"+l68+"/status", office, nil); !strings.Contains(string(st.body), `"stage":"in_service"`) ||
		!strings.Contains(string(st.body), `"enrolled":true`) {
		t.Errorf("status in service: %s", st.body)
	}

	// Nothing else: the person by id gives status only (disability without consent is withheld).
	if got, err := e.readable(l68, office); err != nil || !slices.Equal(got, []string{"status"}) {
		t.Errorf("the office reads %v (%v) of the person, want status only", got, err)
	}
	if res := e.do("GET", "/api/v1/referrals/"+r.ID, office, nil); res.status != 404 {
		t.Errorf("the office reads the referral: %d, want 404", res.status)
	}
	if items, _ := e.do("GET", "/api/v1/referrals?direction=incoming", office, nil).list(t); len(items) != 0 {
		t.Errorf("the office's inbox: %d items, want 0", len(items))
	}
	for name, id := range map[string]string{"a mental-health participant": mental, "nobody": "00000000-0000-4000-8000-000000000000", "not an id": "x"} {
		if res := e.do("GET", "/api/v1/persons/"+id+"/status", office, nil); res.status != 404 {
			t.Errorf("status of %s: %d, want 404", name, res.status)
		}
		if res := e.do("GET", "/api/v1/persons/"+id+"/l68-checks", office, nil); res.status != 404 {
			t.Errorf("L.68 checks of %s: %d, want 404", name, res.status)
		}
	}
	if got := e.logOf(l68, office); !slices.Contains(got, "read/allow/status") {
		t.Errorf("the status reads are not in the access log: %v", got)
	}
	if got := e.logOf(mental, office); !slices.Contains(got, "read/deny/status") {
		t.Errorf("the refused status read is not in the access log: %v", got)
	}
	// The owner reads the status too; a tenant that may see the person but
	// not its status category (a scoped link) is refused, one that may not
	// see it at all gets 404.
	if res := e.do("GET", "/api/v1/persons/"+l68+"/status", owner, nil); res.status != 200 {
		t.Errorf("the owner's status view: %d", res.status)
	}
	if res := e.do("GET", "/api/v1/persons/"+l68+"/status", stranger, nil); res.status != 404 {
		t.Errorf("a stranger's status view: %d, want 404", res.status)
	}

	// Leaving the group ends the link: the person is gone for the office.
	// (A health unit owns these records: changing the target group to or
	// from salute_mentale writes health data.)
	moving := e.person(carer, "disabile_l68")
	if res := e.do("GET", "/api/v1/persons/"+moving+"/status", office, nil); res.status != 200 {
		t.Errorf("status of an L.68 participant owned by a health unit: %d, want 200", res.status)
	}
	if _, err := e.people.Update(ctx, e.actors[carer], "", moving, 1, peopleTarget("salute_mentale")); err != nil {
		t.Fatalf("change target group: %v", err)
	}
	if res := e.do("GET", "/api/v1/persons/"+moving+"/status", office, nil); res.status != 404 {
		t.Errorf("status after leaving the L.68 group: %d, want 404", res.status)
	}
	// Moving into the group makes it.
	joining := e.person(carer, "salute_mentale")
	if _, err := e.people.Update(ctx, e.actors[carer], "", joining, 1, peopleTarget("disabile_l68")); err != nil {
		t.Fatalf("change target group: %v", err)
	}
	if res := e.do("GET", "/api/v1/persons/"+joining+"/status", office, nil); res.status != 200 {
		t.Errorf("status after joining the L.68 group: %d, want 200", res.status)
	}
	tx := e.db.MustBegin()
	if n, err := policies.LeaveProgramme(ctx, tx, joining, "uscita dal programma"); err != nil || n != 1 {
		t.Errorf("leave the programme: %d links ended (%v), want 1", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if res := e.do("GET", "/api/v1/persons/"+joining+"/status", office, nil); res.status != 404 {
		t.Errorf("status after leaving the programme: %d, want 404", res.status)
	}
}
