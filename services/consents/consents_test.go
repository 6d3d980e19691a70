package consents_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"attivi/policies"
	"attivi/services/consents"
)

func TestRecordAndList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(owner)
	e.link(p, careTeam, policies.LinkCareTeam)
	e.link(p, observer, policies.LinkStatusObserver)

	b := body([]string{careTeam, "kind:employment_office"}, []string{"social", "employment"},
		set("valid_until", day(365)))
	r := e.do("POST", "/api/v1/persons/"+p+"/consents", owner, b)
	if r.status != 201 {
		t.Fatalf("record: %d %s, want 201", r.status, r.body)
	}
	c := r.consent(t)
	if c.Status != consents.StatusActive || c.RecordedBy != owner || c.PersonID != p || c.Version != 1 ||
		c.Basis != "consent" || c.Purpose != "presa_in_carico" || c.ValidFrom != day(-10) ||
		c.ValidUntil == nil || *c.ValidUntil != day(365) || c.RevokedAt != nil || len(c.Withheld) != 0 {
		t.Errorf("recorded consent %+v", c)
	}
	if got, want := c.Grantees, []string{careTeam, "kind:employment_office"}; !slices.Equal(got, want) {
		t.Errorf("grantees %v, want %v", got, want)
	}
	if got, want := r.header.Get("Location"), "/api/v1/consents/"+c.ID; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}

	// One grant row per grantee, with the consent's purpose, categories and dates.
	var grants []struct {
		Tenant     *string `db:"tenant"`
		Kind       *string `db:"grantee_kind"`
		Purpose    string  `db:"purpose"`
		Categories string  `db:"categories"`
		From       string  `db:"valid_from"`
		Revoked    bool    `db:"revoked"`
	}
	err := e.db.SelectContext(context.Background(), &grants, `
SELECT t.slug AS tenant, g.grantee_kind, g.purpose, array_to_string(g.categories, ',') AS categories,
	to_char(g.valid_from, 'YYYY-MM-DD') AS valid_from, g.revoked_at IS NOT NULL AS revoked
FROM consent_grants g LEFT JOIN tenants t ON t.id = g.grantee_tenant_id
WHERE g.consent_id = $1 AND g.person_id = $2 ORDER BY t.slug NULLS LAST`, c.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 2 {
		t.Fatalf("%d grant rows, want 2 (one per grantee)", len(grants))
	}
	if g := grants[0]; g.Tenant == nil || *g.Tenant != careTeam || g.Kind != nil {
		t.Errorf("first grant: tenant %v kind %v, want tenant %s", g.Tenant, g.Kind, careTeam)
	}
	if g := grants[1]; g.Tenant != nil || g.Kind == nil || *g.Kind != "employment_office" {
		t.Errorf("second grant: tenant %v kind %v, want kind employment_office", g.Tenant, g.Kind)
	}
	for _, g := range grants {
		if g.Purpose != "presa_in_carico" || g.Categories != "social,employment" || g.From != day(-10) || g.Revoked {
			t.Errorf("grant %+v", g)
		}
	}

	items, next := e.do("GET", "/api/v1/persons/"+p+"/consents", owner, nil).list(t)
	if len(items) != 1 || items[0].ID != c.ID || items[0].Status != consents.StatusActive || next != "" {
		t.Errorf("owner's list: %+v next %q, want the one active consent", items, next)
	}

	t.Run("only the owner records", func(t *testing.T) {
		for _, tc := range []struct {
			as   string
			want int
		}{
			{careTeam, 403}, // sees the person, is not the owner
			{observer, 403}, // sees the status, is not the owner
			{stranger, 404}, // the person does not exist for it
			{owner2, 404},
		} {
			r := e.do("POST", "/api/v1/persons/"+p+"/consents", tc.as, b)
			if r.status != tc.want {
				t.Errorf("record as %s: %d %s, want %d", tc.as, r.status, r.body, tc.want)
			}
		}
		if r := e.do("POST", "/api/v1/persons/"+p+"/consents", "", b); r.status != 401 {
			t.Errorf("record anonymously: %d, want 401", r.status)
		}
		var n int
		if err := e.db.GetContext(context.Background(), &n, `SELECT count(*) FROM consents WHERE person_id = $1`, p); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d consents stored, want 1: a refused request stored one", n)
		}
	})

	t.Run("pages", func(t *testing.T) {
		q := e.person(owner)
		var ids []string
		for range 3 {
			ids = append(ids, e.record(q, owner, body([]string{careTeam}, []string{"social"})).ID)
		}
		slices.Reverse(ids) // newest first
		first, next := e.do("GET", "/api/v1/persons/"+q+"/consents?limit=2", owner, nil).list(t)
		if len(first) != 2 || next == "" {
			t.Fatalf("first page: %d items, cursor %q; want 2 and a cursor", len(first), next)
		}
		second, next2 := e.do("GET", "/api/v1/persons/"+q+"/consents?limit=2&cursor="+next, owner, nil).list(t)
		if len(second) != 1 || next2 != "" {
			t.Fatalf("second page: %d items, cursor %q; want 1 and none", len(second), next2)
		}
		got := []string{first[0].ID, first[1].ID, second[0].ID}
		if !slices.Equal(got, ids) {
			t.Errorf("pages %v, want %v", got, ids)
		}
		if r := e.do("GET", "/api/v1/persons/"+q+"/consents?cursor=bogus", owner, nil); r.status != 400 || r.err(t).Error.Fields["cursor"] == "" {
			t.Errorf("bad cursor: %d %s, want 400 naming cursor", r.status, r.body)
		}
	})
}

// The access decision follows the consents: what a care-team tenant may read
// of a person beyond identity and status.
func TestDecisionFollowsConsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	allowed := func(p, slug, purpose, cat string) bool {
		t.Helper()
		return e.access(p, slug, purpose).Decisions[cat].Allow
	}

	t.Run("by slug, then revoked", func(t *testing.T) {
		p := e.person(owner)
		e.link(p, careTeam, policies.LinkCareTeam)
		if allowed(p, careTeam, "", "social") {
			t.Fatal("social allowed before any consent")
		}
		if !allowed(p, careTeam, "", "identity") {
			t.Fatal("identity denied to the care team: the link does not work")
		}
		c := e.record(p, owner, body([]string{careTeam}, []string{"social"}))
		if !allowed(p, careTeam, "", "social") {
			t.Fatal("social denied while a consent names the tenant")
		}
		if allowed(p, careTeam, "", "health") {
			t.Error("health allowed: the consent names social only")
		}
		if allowed(p, stranger, "", "social") {
			t.Error("social allowed to a tenant without link")
		}
		if r := e.do("POST", "/api/v1/consents/"+c.ID+"/revoke", owner, map[string]string{"reason": "la persona ha ritirato il consenso"}); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if allowed(p, careTeam, "", "social") {
			t.Error("social still allowed on the request after the revocation")
		}
	})

	t.Run("by kind", func(t *testing.T) {
		p := e.person(owner)
		e.link(p, careTeam, policies.LinkCareTeam)
		e.link(p, stranger, policies.LinkCareTeam) // caritas: third sector too
		e.link(p, healthSvc, policies.LinkCareTeam)
		e.record(p, owner, body([]string{"kind:third_sector"}, []string{"social"}))
		for _, slug := range []string{careTeam, stranger} {
			if !allowed(p, slug, "", "social") {
				t.Errorf("social denied to %s (third sector) while a consent names the kind", slug)
			}
		}
		if allowed(p, healthSvc, "", "social") {
			t.Error("social allowed to the health service: the consent names the third sector")
		}
	})

	t.Run("dates", func(t *testing.T) {
		p := e.person(owner)
		e.link(p, careTeam, policies.LinkCareTeam)
		expired := e.record(p, owner, body([]string{careTeam}, []string{"social"},
			set("valid_from", day(-30)), set("valid_until", day(-1))))
		scheduled := e.record(p, owner, body([]string{careTeam}, []string{"employment"}, set("valid_from", day(1))))
		lastDay := e.record(p, owner, body([]string{careTeam}, []string{"contact"},
			set("valid_from", day(-30)), set("valid_until", day(0))))
		if expired.Status != consents.StatusExpired || scheduled.Status != consents.StatusScheduled || lastDay.Status != consents.StatusActive {
			t.Errorf("statuses %s %s %s, want expired scheduled active", expired.Status, scheduled.Status, lastDay.Status)
		}
		if allowed(p, careTeam, "", "social") {
			t.Error("social allowed by a consent that ended yesterday")
		}
		if allowed(p, careTeam, "", "employment") {
			t.Error("employment allowed by a consent that starts tomorrow")
		}
		if !allowed(p, careTeam, "", "contact") {
			t.Error("contact denied on the last day of its consent")
		}
	})

	t.Run("two purposes", func(t *testing.T) {
		p := e.person(owner)
		e.link(p, careTeam, policies.LinkCareTeam)
		care := e.record(p, owner, body([]string{careTeam}, []string{"social"}))
		e.record(p, owner, body([]string{careTeam}, []string{"employment"}, set("purpose", "inserimento_lavorativo")))
		for _, tc := range []struct {
			purpose            string
			social, employment bool
		}{
			{"", true, true},
			{"presa_in_carico", true, false},
			{"inserimento_lavorativo", false, true},
			{"comunicazione", false, false},
		} {
			a := e.access(p, careTeam, tc.purpose)
			if a.Decisions["social"].Allow != tc.social || a.Decisions["employment"].Allow != tc.employment {
				t.Errorf("purpose %q: social %v employment %v, want %v %v", tc.purpose,
					a.Decisions["social"].Allow, a.Decisions["employment"].Allow, tc.social, tc.employment)
			}
		}
		e.do("POST", "/api/v1/consents/"+care.ID+"/revoke", owner, map[string]string{"reason": "fine della presa in carico"})
		if allowed(p, careTeam, "", "social") || !allowed(p, careTeam, "", "employment") {
			t.Error("revoking one consent must end its categories and keep the other consent's")
		}
	})
}

func TestValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(owner)
	ok := func(b map[string]any) map[string]any { return b }
	for _, tc := range []struct {
		name   string
		body   map[string]any
		fields []string // fields named, all at once
	}{
		{"empty", map[string]any{}, []string{"basis", "purpose", "grantees", "categories", "valid_from"}},
		{"unknown basis and purpose", body([]string{careTeam}, []string{"social"}, set("basis", "oral"), set("purpose", "marketing")), []string{"basis", "purpose"}},
		{"unknown grantee slug", body([]string{careTeam, "nessuno"}, []string{"social"}), []string{"grantees"}},
		{"unknown kind", body([]string{"kind:hospital"}, []string{"social"}), []string{"grantees"}},
		{"duplicate grantee", body([]string{careTeam, " COESO "}, []string{"social"}), []string{"grantees"}},
		{"empty grantee", body([]string{""}, []string{"social"}), []string{"grantees"}},
		{"no grantees", body([]string{}, []string{"social"}), []string{"grantees"}},
		{"unknown category", body([]string{careTeam}, []string{"salute"}), []string{"categories"}},
		{"duplicate category", body([]string{careTeam}, []string{"social", "social"}), []string{"categories"}},
		{"no categories", body([]string{careTeam}, []string{}), []string{"categories"}},
		{"until before from", body([]string{careTeam}, []string{"social"}, set("valid_until", day(-11))), []string{"valid_until"}},
		{"not dates", body([]string{careTeam}, []string{"social"}, set("valid_from", "31/12/2025"), set("valid_until", "domani")), []string{"valid_from", "valid_until"}},
		{"implausible year", body([]string{careTeam}, []string{"social"}, set("valid_from", "0025-01-01")), []string{"valid_from"}},
		{"everything at once", body([]string{"nessuno", "kind:x"}, []string{"x"}, set("basis", "x"), set("valid_until", "x")),
			[]string{"basis", "grantees", "categories", "valid_until"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/persons/"+p+"/consents", owner, ok(tc.body))
			if r.status != 422 {
				t.Fatalf("%d %s, want 422", r.status, r.body)
			}
			got := r.err(t).Error.Fields
			for _, f := range tc.fields {
				if got[f] == "" {
					t.Errorf("field %s not named: %v", f, got)
				}
			}
			if len(got) != len(tc.fields) {
				t.Errorf("fields %v, want exactly %v", got, tc.fields)
			}
		})
	}
	t.Run("messages say what is wrong", func(t *testing.T) {
		r := e.do("POST", "/api/v1/persons/"+p+"/consents", owner, body([]string{"nessuno", "kind:hospital", careTeam, careTeam}, []string{"social"}))
		msg := r.err(t).Error.Fields["grantees"]
		for _, want := range []string{`"nessuno" is not a tenant`, `"hospital" is not a kind`, `"coeso" is listed twice`} {
			if !strings.Contains(msg, want) {
				t.Errorf("grantees message %q does not say %q", msg, want)
			}
		}
	})
	t.Run("malformed", func(t *testing.T) {
		if r := e.do("POST", "/api/v1/persons/"+p+"/consents", owner, map[string]any{"grantees": "coeso"}); r.status != 400 || r.err(t).Error.Fields["grantees"] == "" {
			t.Errorf("grantees as a string: %d %s, want 400 naming grantees", r.status, r.body)
		}
		if r := e.do("POST", "/api/v1/persons/"+p+"/consents", owner, map[string]any{"signed": true}); r.status != 400 {
			t.Errorf("unknown field: %d %s, want 400", r.status, r.body)
		}
	})
	var n int
	if err := e.db.GetContext(context.Background(), &n, `SELECT count(*) FROM consents`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d consents stored from invalid requests", n)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(owner)
	e.link(p, careTeam, policies.LinkCareTeam)
	c := e.record(p, owner, body([]string{careTeam, "kind:health_service"}, []string{"social"}))
	path := "/api/v1/consents/" + c.ID + "/revoke"
	reason := map[string]string{"reason": "la persona ha ritirato il consenso il 3 marzo"}

	for _, tc := range []struct {
		name    string
		as      string
		body    any
		headers []string
		want    int
		field   string
	}{
		{"no reason", owner, map[string]string{"reason": "  "}, nil, 422, "reason"},
		{"reason too long", owner, map[string]string{"reason": strings.Repeat("x", 501)}, nil, 422, "reason"},
		{"stale If-Match", owner, reason, []string{"If-Match", `"7"`}, 409, ""},
		{"bad If-Match", owner, reason, []string{"If-Match", "latest"}, 400, "If-Match"},
		{"a grantee", careTeam, reason, nil, 403, ""},
		{"no link", stranger, reason, nil, 404, ""},
	} {
		r := e.do("POST", path, tc.as, tc.body, tc.headers...)
		if r.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.want)
			continue
		}
		if tc.field != "" && r.err(t).Error.Fields[tc.field] == "" {
			t.Errorf("%s: %s does not name %s", tc.name, r.body, tc.field)
		}
	}
	if !e.access(p, careTeam, "").Decisions["social"].Allow {
		t.Fatal("a refused revocation ended the consent")
	}

	r := e.do("POST", path, owner, reason, "If-Match", `"1"`)
	if r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	got := r.consent(t)
	if got.Status != consents.StatusRevoked || got.RevokedAt == nil || got.RevocationReason != reason["reason"] || got.Version != 2 {
		t.Errorf("revoked consent %+v", got)
	}
	if h := r.header.Get("ETag"); h != `"2"` {
		t.Errorf("ETag %q, want \"2\"", h)
	}
	var live int
	if err := e.db.GetContext(context.Background(), &live, `SELECT count(*) FROM consent_grants WHERE consent_id = $1 AND revoked_at IS NULL`, c.ID); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Errorf("%d grants still live after the revocation", live)
	}
	if r := e.do("POST", path, owner, reason); r.status != 409 {
		t.Errorf("revoke twice: %d %s, want 409", r.status, r.body)
	}
	items, _ := e.do("GET", "/api/v1/persons/"+p+"/consents", owner, nil).list(t)
	if len(items) != 1 || items[0].Status != consents.StatusRevoked {
		t.Errorf("list after revocation: %+v", items)
	}
	// The grantee learns that it was revoked, not why.
	seen := e.do("GET", "/api/v1/consents/"+c.ID, careTeam, nil).consent(t)
	if seen.Status != consents.StatusRevoked || seen.RevocationReason != "" || !slices.Contains(seen.Withheld, consents.WithheldReason) {
		t.Errorf("revoked consent as the grantee sees it: %+v", seen)
	}
}

// Every endpoint: the wrong tenant gets 404, the right one 200; a tenant
// sees only the consents that concern it.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(owner)
	e.link(p, careTeam, policies.LinkCareTeam)
	mine := e.record(p, owner, body([]string{careTeam, healthSvc}, []string{"social"}))
	byKind := e.record(p, owner, body([]string{"kind:third_sector"}, []string{"employment"}, set("purpose", "inserimento_lavorativo")))
	notMine := e.record(p, owner, body([]string{healthSvc}, []string{"health"}))

	other := e.person(owner2) // another person, of another owner
	theirs := e.record(other, owner2, body([]string{careTeam}, []string{"social"}))

	reason := map[string]string{"reason": "prova"}
	t.Run("a tenant without link", func(t *testing.T) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/persons/" + p + "/consents"},
			{"GET", "/api/v1/consents/" + mine.ID},
			{"POST", "/api/v1/consents/" + mine.ID + "/revoke"},
			{"POST", "/api/v1/persons/" + p + "/consents"},
		} {
			var b any
			if r.method == "POST" {
				b = reason
				if strings.HasSuffix(r.path, "/consents") {
					b = body([]string{stranger}, []string{"social"})
				}
			}
			if res := e.do(r.method, r.path, stranger, b); res.status != 404 {
				t.Errorf("%s %s as %s: %d %s, want 404", r.method, r.path, stranger, res.status, res.body)
			}
		}
	})
	t.Run("the owner of another person", func(t *testing.T) {
		if r := e.do("GET", "/api/v1/consents/"+theirs.ID, owner, nil); r.status != 404 {
			t.Errorf("another person's consent: %d, want 404", r.status)
		}
		if r := e.do("POST", "/api/v1/consents/"+theirs.ID+"/revoke", owner, reason); r.status != 404 {
			t.Errorf("revoke another person's consent: %d, want 404", r.status)
		}
		items, _ := e.do("GET", "/api/v1/persons/"+p+"/consents", owner, nil).list(t)
		if len(items) != 3 || slices.ContainsFunc(items, func(c consents.ConsentJSON) bool { return c.ID == theirs.ID }) {
			t.Errorf("owner's list of %s: %d items, want its 3 and not the other person's", p, len(items))
		}
		if r := e.do("GET", "/api/v1/consents/"+theirs.ID, owner2, nil); r.status != 200 {
			t.Errorf("its own owner: %d, want 200", r.status)
		}
	})
	t.Run("a grantee sees what names it", func(t *testing.T) {
		items, _ := e.do("GET", "/api/v1/persons/"+p+"/consents", careTeam, nil).list(t)
		var ids []string
		for _, c := range items {
			ids = append(ids, c.ID)
		}
		if want := []string{byKind.ID, mine.ID}; !slices.Equal(ids, want) {
			t.Fatalf("care team's list %v, want %v (newest first, not %s)", ids, want, notMine.ID)
		}
		if got := items[1]; !slices.Equal(got.Grantees, []string{careTeam}) || !slices.Equal(got.Withheld, []string{consents.WithheldGrantees}) {
			t.Errorf("other grantees shown to a grantee: grantees %v withheld %v", got.Grantees, got.Withheld)
		}
		if got := items[0]; !slices.Equal(got.Grantees, []string{"kind:third_sector"}) || len(got.Withheld) != 0 {
			t.Errorf("consent to its kind: grantees %v withheld %v", got.Grantees, got.Withheld)
		}
		if r := e.do("GET", "/api/v1/consents/"+mine.ID, careTeam, nil); r.status != 200 {
			t.Errorf("a consent naming it: %d, want 200", r.status)
		}
		if r := e.do("GET", "/api/v1/consents/"+notMine.ID, careTeam, nil); r.status != 404 {
			t.Errorf("a consent not naming it: %d, want 404", r.status)
		}
		if r := e.do("POST", "/api/v1/consents/"+notMine.ID+"/revoke", careTeam, reason); r.status != 404 {
			t.Errorf("revoke a consent not naming it: %d, want 404", r.status)
		}
	})
	t.Run("ids that are not consents", func(t *testing.T) {
		for _, id := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000", p} {
			if r := e.do("GET", "/api/v1/consents/"+id, owner, nil); r.status != 404 {
				t.Errorf("GET consent %s: %d, want 404", id, r.status)
			}
		}
		for _, id := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000", mine.ID} {
			if r := e.do("GET", "/api/v1/persons/"+id+"/consents", owner, nil); r.status != 404 {
				t.Errorf("GET consents of person %s: %d, want 404", id, r.status)
			}
		}
	})
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(owner)
	e.link(p, careTeam, policies.LinkCareTeam)
	c := e.record(p, owner, body([]string{healthSvc}, []string{"social"}))

	e.do("GET", "/api/v1/persons/"+p+"/consents", owner, nil)
	e.do("GET", "/api/v1/consents/"+c.ID, owner, nil)
	e.do("GET", "/api/v1/persons/"+p+"/consents", stranger, nil)
	e.do("GET", "/api/v1/consents/"+c.ID, stranger, nil)
	e.do("GET", "/api/v1/consents/"+c.ID, careTeam, nil) // visible person, consent not naming it
	e.do("POST", "/api/v1/persons/"+p+"/consents", careTeam, body([]string{careTeam}, []string{"social"}))

	type want struct{ action, decision string }
	check := func(slug string, wants ...want) {
		t.Helper()
		got := e.logOf(p, slug)
		if len(got) != len(wants) {
			t.Fatalf("%s: %d log rows %+v, want %d", slug, len(got), got, len(wants))
		}
		for i, w := range wants {
			g := got[i]
			if g.Action != w.action || g.Decision != w.decision || g.Categories != consents.LogCategory || g.Reason == "" {
				t.Errorf("%s row %d: %+v, want %s %s on %s with a reason", slug, i, g, w.action, w.decision, consents.LogCategory)
			}
		}
	}
	check(owner, want{"write", "allow"}, want{"read", "allow"}, want{"read", "allow"})
	check(stranger, want{"read", "deny"}, want{"read", "deny"})
	check(careTeam, want{"read", "deny"}, want{"write", "deny"})

	v, err := policies.VerifyAccessLog(context.Background(), e.db)
	if err != nil || len(v.Broken) > 0 {
		t.Errorf("access log chain: %v %v", err, v.Broken)
	}
}

func TestStatusOn(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	until := d("2025-06-30")
	revoked := d("2025-03-01")
	for _, tc := range []struct {
		c    consents.Consent
		day  string
		want consents.Status
	}{
		{consents.Consent{ValidFrom: d("2025-01-01")}, "2024-12-31", consents.StatusScheduled},
		{consents.Consent{ValidFrom: d("2025-01-01")}, "2025-01-01", consents.StatusActive},
		{consents.Consent{ValidFrom: d("2025-01-01"), ValidUntil: &until}, "2025-06-30", consents.StatusActive},
		{consents.Consent{ValidFrom: d("2025-01-01"), ValidUntil: &until}, "2025-07-01", consents.StatusExpired},
		{consents.Consent{ValidFrom: d("2025-01-01"), RevokedAt: &revoked}, "2025-02-01", consents.StatusRevoked},
	} {
		if got := tc.c.StatusOn(d(tc.day)); got != tc.want {
			t.Errorf("from %s until %v revoked %v on %s: %s, want %s", tc.c.ValidFrom.Format(time.DateOnly), tc.c.ValidUntil, tc.c.RevokedAt, tc.day, got, tc.want)
		}
	}
}
