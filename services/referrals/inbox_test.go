package referrals_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"attivi/policies"
	"attivi/services/referrals"
)

// The inboxes: newest first, keyset pages that neither repeat nor skip,
// status and overdue filters, the overdue flag, names only where the
// decision allows identity, and nothing for tenants or roles that are not a
// party.
func TestInboxes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	var persons []string
	for range 7 {
		p := e.person(owner, "disabile_l68")
		persons = append(persons, p)
		ids = append(ids, e.refer(p, coop, "employment").ID)
	}
	// Three are old: two still requested (overdue), one accepted (not overdue).
	for i, id := range ids[:3] {
		if _, err := e.db.Exec(`UPDATE referrals SET created_at = now() - make_interval(days => $2) WHERE id = $1`, id, 10+i); err != nil {
			t.Fatal(err)
		}
	}
	old := e.do("GET", "/api/v1/referrals/"+ids[2], coop, nil).referral(t)
	e.mustMove(old, coop, to("accepted"))
	rejected := e.mustMove(e.do("GET", "/api/v1/referrals/"+ids[6], coop, nil).referral(t), coop,
		map[string]any{"to": "rejected", "reason_code": "duplicate"})

	page := func(as, query string) ([]referrals.ReferralJSON, string) {
		t.Helper()
		res := e.do("GET", "/api/v1/referrals?"+query, as, nil)
		if res.status != 200 {
			t.Fatalf("list %s as %s: %d %s", query, as, res.status, res.body)
		}
		return res.list(t)
	}
	all := func(as, query string, limit int) []referrals.ReferralJSON {
		t.Helper()
		var out []referrals.ReferralJSON
		cursor := ""
		for range 20 {
			q := fmt.Sprintf("%s&limit=%d", query, limit)
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			items, next := page(as, q)
			out = append(out, items...)
			if next == "" {
				return out
			}
			cursor = next
		}
		t.Fatal("more than 20 pages")
		return nil
	}

	in := all(coop, "direction=incoming", 3)
	var got []string
	for i, r := range in {
		got = append(got, r.ID)
		if i > 0 && r.CreatedAt > in[i-1].CreatedAt {
			t.Errorf("item %d is newer than the one before it", i)
		}
		wantOverdue := r.ID == ids[0] || r.ID == ids[1]
		if r.Overdue != wantOverdue {
			t.Errorf("referral %d (%s): overdue %v, want %v", slices.Index(ids, r.ID), r.Status, r.Overdue, wantOverdue)
		}
		// The name is there exactly when the decision lets the cooperative read identity.
		acc, err := e.engine.Access(ctx, e.db, e.actors[coop], r.PersonID, policies.ActRead, "")
		if err != nil {
			t.Fatal(err)
		}
		if (r.Person != nil) != acc.Decisions["identity"].Allow {
			t.Errorf("referral %s (%s): name shown %v, decision %v", r.ID, r.Status, r.Person != nil, acc.Decisions["identity"].Allow)
		}
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	// ids[0..2] were moved 10, 11 and 12 days into the past.
	want = append(want[:4], ids[0], ids[1], ids[2])
	if !slices.Equal(got, want) {
		t.Errorf("incoming over pages of 3:\n got %v\nwant %v", got, want)
	}
	for _, r := range in {
		if r.ID == rejected.ID && (r.Person != nil || r.Status != "rejected") {
			t.Errorf("rejected referral in the recipient's inbox: %+v, want no name", r)
		}
	}

	overdue, _ := page(coop, "direction=incoming&overdue=true")
	if len(overdue) != 2 || overdue[0].ID != ids[0] || overdue[1].ID != ids[1] {
		t.Errorf("overdue filter: %d items, want the two old requested ones", len(overdue))
	}
	requested, _ := page(coop, "direction=incoming&status=requested")
	if len(requested) != 5 {
		t.Errorf("status=requested: %d items, want 5", len(requested))
	}
	closedOrAccepted, _ := page(coop, "direction=incoming&status=accepted,rejected")
	if len(closedOrAccepted) != 2 {
		t.Errorf("status=accepted,rejected: %d items, want 2", len(closedOrAccepted))
	}
	out := all(owner, "direction=outgoing", 2)
	if len(out) != 7 {
		t.Errorf("the sender's outgoing inbox: %d, want 7", len(out))
	}
	for _, r := range out {
		if r.Person == nil || r.Side != referrals.Sender {
			t.Errorf("outgoing %s: %+v, want the name and side sender", r.ID, r)
		}
	}
	for _, as := range []string{stranger, coopAdmin, office} {
		if items, _ := page(as, "direction=incoming"); len(items) != 0 {
			t.Errorf("%s's incoming inbox: %d items, want 0", as, len(items))
		}
	}
	if items, _ := page(owner, "direction=incoming"); len(items) != 0 {
		t.Errorf("the sender's incoming inbox: %d items, want 0", len(items))
	}
	if res := e.do("GET", "/api/v1/referrals/"+ids[3], coopAdmin, nil); res.status != 404 {
		t.Errorf("the recipient's tenant administrator reads a referral: %d, want 404", res.status)
	}
	if res := e.do("GET", "/api/v1/referrals/"+ids[3], stranger, nil); res.status != 404 {
		t.Errorf("a stranger reads a referral: %d, want 404", res.status)
	}
	if got := e.logOf(persons[3], stranger); !slices.Contains(got, "read/deny/referrals") {
		t.Errorf("the stranger's read is not in the access log: %v", got)
	}
	if got := e.logOf(persons[3], coop); !slices.Contains(got, "list/allow/referrals,identity") {
		t.Errorf("the inbox is not in the access log: %v", got)
	}
	for _, q := range []string{"", "direction=sideways", "direction=incoming&status=done", "direction=incoming&overdue=maybe", "direction=incoming&cursor=bm90LWEtY3Vyc29y"} {
		if res := e.do("GET", "/api/v1/referrals?"+q, coop, nil); res.status != 400 {
			t.Errorf("list ?%s: %d, want 400", q, res.status)
		}
	}
}

// The overdue threshold is the constructor's: a service configured with 30
// days flags nothing 10 days old.
func TestOverdueDaysAreConfigurable(t *testing.T) {
	e := newEnv(t)
	p := e.person(owner, "disabile_l68")
	r := e.refer(p, coop, "employment")
	if _, err := e.db.Exec(`UPDATE referrals SET created_at = now() - interval '10 days' WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.do("GET", "/api/v1/referrals/"+r.ID, coop, nil).referral(t); !got.Overdue {
		t.Errorf("10 days with a 7-day threshold: not overdue")
	}
	lenient := newApp(referrals.NewHandler(referrals.NewService(e.db, e.engine, time.Now, 30), nil), e.actors)
	e.app = lenient
	if got := e.do("GET", "/api/v1/referrals/"+r.ID, coop, nil).referral(t); got.Overdue {
		t.Errorf("10 days with a 30-day threshold: overdue")
	}
	// A clock 25 days on makes it overdue again.
	e.clock.Set(time.Now().Add(25 * 24 * time.Hour))
	e.app = newApp(referrals.NewHandler(referrals.NewService(e.db, e.engine, e.clock.Now, 30), nil), e.actors)
	if got := e.do("GET", "/api/v1/referrals/"+r.ID, coop, nil).referral(t); !got.Overdue {
		t.Errorf("35 days with a 30-day threshold: not overdue")
	}
}

func TestL68Checks(t *testing.T) {
	e := newEnv(t)
	p := e.person(owner, "disabile_l68")
	e.link(p, coop, policies.LinkCareTeam)
	check := map[string]any{"registered": true, "registration_date": "2019-03-04", "invalidity_range": "67-79%",
		"unemployment_declaration_active": true, "source": "registry", "next_check_due": time.Now().AddDate(1, 0, 0).Format(time.DateOnly)}

	// The office records through its status_observer link, without consent.
	res := e.do("POST", "/api/v1/persons/"+p+"/l68-checks", office, check)
	if res.status != 201 {
		t.Fatalf("the office records a check: %d %s", res.status, res.body)
	}
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"empty", map[string]any{}, "registered"},
		{"no DID", map[string]any{"registered": false, "source": "registry"}, "unemployment_declaration_active"},
		{"registered without date", map[string]any{"registered": true, "invalidity_range": "100%", "unemployment_declaration_active": false, "source": "certificate"}, "registration_date"},
		{"registered without range", map[string]any{"registered": true, "registration_date": "2020-01-01", "unemployment_declaration_active": false, "source": "certificate"}, "invalidity_range"},
		{"unknown range", map[string]any{"registered": true, "registration_date": "2020-01-01", "invalidity_range": "45%", "unemployment_declaration_active": false, "source": "certificate"}, "invalidity_range"},
		{"date without registration", map[string]any{"registered": false, "registration_date": "2020-01-01", "unemployment_declaration_active": false, "source": "registry"}, "registration_date"},
		{"unknown source", map[string]any{"registered": false, "unemployment_declaration_active": false, "source": "gossip"}, "source"},
		{"next check in the past", map[string]any{"registered": false, "unemployment_declaration_active": false, "source": "registry", "next_check_due": "2001-01-01"}, "next_check_due"},
	} {
		if r := e.do("POST", "/api/v1/persons/"+p+"/l68-checks", office, c.body); r.status != 422 || r.err(t).Error.Fields[c.field] == "" {
			t.Errorf("%s: %d %s, want 422 naming %s", c.name, r.status, r.body, c.field)
		}
	}
	// The owner records one too.
	if r := e.do("POST", "/api/v1/persons/"+p+"/l68-checks", owner, map[string]any{"registered": false,
		"unemployment_declaration_active": true, "source": "self_declaration", "note": "in attesa di verbale"}); r.status != 201 {
		t.Fatalf("the owner records a check: %d %s", r.status, r.body)
	}
	list := func(as string) (int, []string, []string) {
		t.Helper()
		r := e.do("GET", "/api/v1/persons/"+p+"/l68-checks", as, nil)
		if r.status != 200 {
			return r.status, nil, nil
		}
		var l referrals.L68ListJSON
		mustJSON(t, r.body, &l)
		var tenants []string
		for _, x := range l.Items {
			tenants = append(tenants, x.Tenant)
		}
		return 200, tenants, l.Withheld
	}
	if st, got, withheld := list(owner); st != 200 || !slices.Equal(got, []string{"comune-bagno-a-ripoli", "collocamento-mirato-firenze"}) || len(withheld) != 0 {
		t.Errorf("the owner reads %d %v withheld %v, want both checks, newest first", st, got, withheld)
	}
	if st, got, withheld := list(office); st != 200 || !slices.Equal(got, []string{"collocamento-mirato-firenze"}) || !slices.Equal(withheld, []string{"disability"}) {
		t.Errorf("the office without consent reads %d %v withheld %v, want only its own check, disability withheld", st, got, withheld)
	}
	if st, got, withheld := list(coop); st != 200 || len(got) != 0 || !slices.Equal(withheld, []string{"disability"}) {
		t.Errorf("the care team without consent reads %d %v withheld %v, want none, disability withheld", st, got, withheld)
	}
	if st, _, _ := list(stranger); st != 404 {
		t.Errorf("a stranger lists the checks: %d, want 404", st)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/l68-checks", coop, check); r.status != 403 {
		t.Errorf("the care team records a check: %d, want 403", r.status)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/l68-checks", stranger, check); r.status != 404 {
		t.Errorf("a stranger records a check: %d, want 404", r.status)
	}
	// With the person's consent for disability, the office reads every check.
	e.consent(p, []string{"collocamento-mirato-firenze", "coeso"}, "disability")
	if st, got, withheld := list(office); st != 200 || len(got) != 2 || len(withheld) != 0 {
		t.Errorf("the office with consent reads %d %v withheld %v, want both", st, got, withheld)
	}
	if st, got, _ := list(coop); st != 200 || len(got) != 2 {
		t.Errorf("the care team with consent reads %d %v, want both", st, got)
	}
	if got := e.logOf(p, office); !slices.Contains(got, "write/allow/disability") || !slices.Contains(got, "read/allow/disability") {
		t.Errorf("the office's access log: %v", got)
	}
}
