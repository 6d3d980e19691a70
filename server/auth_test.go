package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"attivi/server"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

const pw = "ginestra-Arno-1997"

func (f *fixture) user(t *testing.T, tenant, email string, roles ...string) string {
	t.Helper()
	m, _, err := f.identity.AddMember(context.Background(), tenant, tenants.NewMember{Email: email, Password: pw, Roles: roles}, nil)
	if err != nil {
		t.Fatalf("add %s: %v", email, err)
	}
	return m.ID
}

// call sends a request with an optional bearer token and X-Tenant and JSON
// body, and returns the status and the decoded JSON body.
func (f *fixture) call(t *testing.T, method, path, token, tenant, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if tenant != "" {
		req.Header.Set("X-Tenant", tenant)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, raw := f.do(t, req)
	var m map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, m
}

func (f *fixture) login(t *testing.T, email string) string {
	t.Helper()
	status, body := f.call(t, "POST", "/api/v1/auth/login", "", "", `{"email":"`+email+`","password":"`+pw+`"}`)
	if status != 200 {
		t.Fatalf("login %s: %d %v", email, status, body)
	}
	return body["token"].(string)
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestLoginMeLogout(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-pelago", "anna@pelago.example", "social_worker")
	tok := f.login(t, "anna@pelago.example")

	status, me := f.call(t, "GET", "/api/v1/me", tok, "", "")
	if status != 200 {
		t.Fatalf("me: %d %v", status, me)
	}
	acting, _ := me["acting_tenant"].(map[string]any)
	if acting["slug"] != "comune-pelago" || acting["kind"] != "municipality" {
		t.Errorf("acting tenant %v, want comune-pelago (the only membership)", me["acting_tenant"])
	}
	allowed, _ := me["allowed"].(map[string]any)
	if len(allowed) == 0 || allowed["identity"] == nil {
		t.Errorf("allowed actions %v: want what a social worker may do, including identity", me["allowed"])
	}
	if status, _ := f.call(t, "POST", "/api/v1/auth/logout", tok, "", ""); status != 204 {
		t.Errorf("logout: %d, want 204", status)
	}
	if status, body := f.call(t, "GET", "/api/v1/me", tok, "", ""); status != 401 || errCode(body) != "unauthorized" {
		t.Errorf("me after logout: %d %v, want 401", status, body)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-pelago", "anna@pelago.example", "social_worker")
	f.user(t, "caritas", "multi@coop.example", "job_coach")
	f.user(t, "coeso", "multi@coop.example", "job_coach")

	wrong, wrongBody := f.call(t, "POST", "/api/v1/auth/login", "", "", `{"email":"anna@pelago.example","password":"not-the-password"}`)
	unknown, unknownBody := f.call(t, "POST", "/api/v1/auth/login", "", "", `{"email":"ghost@pelago.example","password":"not-the-password"}`)
	if wrong != 401 || unknown != 401 {
		t.Errorf("wrong password %d, unknown email %d: want 401 both", wrong, unknown)
	}
	msg := func(b map[string]any) any { return b["error"].(map[string]any)["message"] }
	if msg(wrongBody) != msg(unknownBody) {
		t.Errorf("wrong password and unknown email answer differently: %v / %v", msg(wrongBody), msg(unknownBody))
	}
	if status, body := f.call(t, "POST", "/api/v1/auth/login", "", "", `{"email":"anna@pelago.example"}`); status != 422 || errCode(body) != "invalid" {
		t.Errorf("login without password: %d %v, want 422 naming the field", status, body)
	}

	for _, header := range []string{"", "Bearer", "Bearer ", "Basic YW5uYTpwdw==", "bearer atv_x", "Token abc", "Bearer atv_" + strings.Repeat("A", 43)} {
		req := httptest.NewRequest("GET", "/api/v1/me", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, raw := f.do(t, req)
		if resp.StatusCode != 401 || !strings.Contains(string(raw), `"unauthorized"`) {
			t.Errorf("Authorization %q: %d %s, want 401", header, resp.StatusCode, raw)
		}
	}

	// Expired session.
	tok := f.login(t, "anna@pelago.example")
	f.clock.Advance(13 * time.Hour)
	if status, _ := f.call(t, "GET", "/api/v1/me", tok, "", ""); status != 401 {
		t.Errorf("expired session: %d, want 401", status)
	}
	f.clock.Advance(-13 * time.Hour)

	// Disabled user: the session stops at once.
	tok = f.login(t, "anna@pelago.example")
	if err := f.identity.DisableUser(context.Background(), "anna@pelago.example"); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.call(t, "GET", "/api/v1/me", tok, "", ""); status != 401 {
		t.Errorf("disabled user's session: %d, want 401", status)
	}

	// A tenant the user is not in, and X-Tenant missing for a multi-tenant user.
	multi := f.login(t, "multi@coop.example")
	if status, body := f.call(t, "GET", "/api/v1/me", multi, "comune-pelago", ""); status != 403 || errCode(body) != "forbidden" {
		t.Errorf("X-Tenant of a tenant the user is not in: %d %v, want 403", status, body)
	}
	if status, body := f.call(t, "GET", "/api/v1/me", multi, "", ""); status != 200 || body["acting_tenant"] != nil {
		t.Errorf("/me without X-Tenant for two memberships: %d %v, want 200 with no acting tenant", status, body)
	}
	if status, body := f.call(t, "GET", "/api/v1/tenants/coeso/members", multi, "", ""); status != 400 || !strings.Contains(strings.ToLower(jsonString(body)), "x-tenant") {
		t.Errorf("a tenant action without X-Tenant for two memberships: %d %v, want 400 naming X-Tenant", status, body)
	}
	if status, body := f.call(t, "GET", "/api/v1/me", multi, "coeso", ""); status != 200 || body["acting_tenant"].(map[string]any)["slug"] != "coeso" {
		t.Errorf("/me with X-Tenant coeso: %d %v", status, body)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBruteForceOverHTTP(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-pelago", "anna@pelago.example", "social_worker")
	var last int
	var lastResp *http.Response
	for i := 0; i < 20; i++ {
		req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"anna@pelago.example","password":"wrong-password-1"}`))
		req.Header.Set("Content-Type", "application/json")
		lastResp, _ = f.do(t, req)
		last = lastResp.StatusCode
	}
	if last != 429 || lastResp.Header.Get("Retry-After") == "" {
		t.Errorf("20th wrong password in a minute: %d (Retry-After %q), want 429 with Retry-After", last, lastResp.Header.Get("Retry-After"))
	}
	if status, body := f.call(t, "POST", "/api/v1/auth/login", "", "", `{"email":"anna@pelago.example","password":"`+pw+`"}`); status != 429 || errCode(body) != "throttled" {
		t.Errorf("right password while throttled: %d %v, want 429", status, body)
	}
	if strings.Contains(f.logs.String(), "wrong-password-1") || strings.Contains(f.logs.String(), pw) {
		t.Errorf("a password is in the log")
	}
	if !strings.Contains(f.logs.String(), "login failed") || !strings.Contains(f.logs.String(), "login throttled") {
		t.Errorf("failures and the throttle are not logged")
	}
}

func TestStaffAdministration(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-pelago", "admin@pelago.example", "tenant_admin")
	f.user(t, "comune-pelago", "anna@pelago.example", "social_worker")
	f.user(t, "comune-londa", "admin@londa.example", "tenant_admin")
	f.user(t, "coordinamento-attivi", "net@attivi.example", "network_admin")
	admin := f.login(t, "admin@pelago.example")
	anna := f.login(t, "anna@pelago.example")
	londa := f.login(t, "admin@londa.example")
	net := f.login(t, "net@attivi.example")

	status, list := f.call(t, "GET", "/api/v1/tenants/comune-pelago/members", admin, "", "")
	if status != 200 || len(list["items"].([]any)) != 2 {
		t.Fatalf("tenant admin lists own staff: %d %v, want the 2 members", status, list)
	}
	if status, _ := f.call(t, "GET", "/api/v1/tenants/comune-pelago/members", anna, "", ""); status != 403 {
		t.Errorf("a social worker lists own tenant's staff: %d, want 403", status)
	}
	if status, _ := f.call(t, "GET", "/api/v1/tenants/comune-pelago/members", londa, "", ""); status != 404 {
		t.Errorf("another tenant's admin lists the staff: %d, want 404", status)
	}
	if status, _ := f.call(t, "GET", "/api/v1/tenants/comune-pelago/members", net, "", ""); status != 200 {
		t.Errorf("network admin lists any tenant's staff: %d, want 200", status)
	}

	status, body := f.call(t, "POST", "/api/v1/tenants/comune-pelago/members", admin, "",
		`{"email":"new@pelago.example","display_name":"Nuova Collega","password":"`+pw+`","roles":["social_worker"]}`)
	if status != 201 {
		t.Fatalf("add member: %d %v", status, body)
	}
	newID := body["id"].(string)
	newTok := f.login(t, "new@pelago.example")
	if status, body := f.call(t, "POST", "/api/v1/tenants/comune-pelago/members", admin, "", `{"email":"bad","password":"x","roles":["chef"]}`); status != 422 {
		t.Errorf("invalid member: %d %v, want 422", status, body)
	} else if fields, _ := body["error"].(map[string]any)["fields"].(map[string]any); fields["email"] == nil || fields["roles"] == nil {
		t.Errorf("invalid member fields %v, want email and roles named", fields)
	}

	// Granting tenant_admin takes effect on the next request.
	if status, _ := f.call(t, "GET", "/api/v1/tenants/comune-pelago/members", newTok, "", ""); status != 403 {
		t.Errorf("before the grant: %d, want 403", status)
	}
	if status, body := f.call(t, "PATCH", "/api/v1/tenants/comune-pelago/members/"+newID, admin, "", `{"roles":["social_worker","tenant_admin"]}`); status != 200 {
		t.Fatalf("grant tenant_admin: %d %v", status, body)
	}
	if status, _ := f.call(t, "GET", "/api/v1/tenants/comune-pelago/members", newTok, "", ""); status != 200 {
		t.Errorf("after the grant: %d, want 200", status)
	}
	// Disabling the membership ends the user's access to the tenant at once.
	if status, body := f.call(t, "PATCH", "/api/v1/tenants/comune-pelago/members/"+newID, admin, "", `{"disabled":true}`); status != 200 || body["disabled"] != true {
		t.Fatalf("disable member: %d %v", status, body)
	}
	if status, _ := f.call(t, "GET", "/api/v1/me", newTok, "comune-pelago", ""); status != 403 {
		t.Errorf("disabled member acting for the tenant: %d, want 403", status)
	}

	// Creating tenants is for network_admin.
	tenant := `{"slug":"coop-nuova","name":"Cooperativa Nuova","kind":"third_sector"}`
	if status, _ := f.call(t, "POST", "/api/v1/tenants", admin, "", tenant); status != 403 {
		t.Errorf("tenant admin creates a tenant: %d, want 403", status)
	}
	if status, body := f.call(t, "POST", "/api/v1/tenants", net, "", tenant); status != 201 || body["slug"] != "coop-nuova" {
		t.Errorf("network admin creates a tenant: %d %v, want 201", status, body)
	}
	if status, _ := f.call(t, "POST", "/api/v1/tenants", net, "", tenant); status != 409 {
		t.Errorf("the same slug again: %d, want 409", status)
	}
	if status, body := f.call(t, "POST", "/api/v1/tenants", net, "", `{"slug":"Bad Slug","name":"","kind":"bank"}`); status != 422 {
		t.Errorf("invalid tenant: %d %v, want 422", status, body)
	}
}

// Two servers on one database: a policy change made through one is enforced
// by the other within a second, with its cache warm.
func TestPolicyChangeReachesAnotherInstance(t *testing.T) {
	db, url := pgtest.NewWithURL(t)
	a := newFixtureOn(t, db, server.DefaultOptions)
	b := newFixtureOn(t, db, server.DefaultOptions)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, f := range []*fixture{a, b} {
		done, err := f.engine.Watch(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); <-done })
	}
	a.user(t, "coordinamento-attivi", "net@attivi.example", "network_admin")
	a.user(t, "comune-pelago", "admin@pelago.example", "tenant_admin")
	net := a.login(t, "net@attivi.example")
	adminOnB := b.login(t, "admin@pelago.example")
	// The new member's roles reach b by notification too: wait for them
	// (the roles are b's to learn, not part of what is tested here).
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		status, _ := b.call(t, "GET", "/api/v1/tenants/comune-pelago/members", adminOnB, "", "")
		if status == 200 {
			break // and the answer is cached
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("before the change: %d, want 200", status)
		}
	}

	status, pol := a.call(t, "GET", "/api/v1/policies", net, "", "")
	if status != 200 {
		t.Fatalf("get policies: %d %v", status, pol)
	}
	var kept []any
	for _, r := range pol["rules"].([]any) {
		rule := r.(map[string]any)
		if rule["role"] == "tenant_admin" && rule["category"] == "members" {
			continue
		}
		kept = append(kept, rule)
	}
	body := jsonString(map[string]any{"rules": kept, "summary": "tenant admins no longer manage staff"})
	version := jsonString(pol["version"])
	if status, resp := a.call(t, "PUT", "/api/v1/policies", net, "", body, "If-Match", version); status != 200 {
		t.Fatalf("put policies: %d %v", status, resp)
	}
	deadline := time.Now().Add(time.Second)
	for {
		status, _ := b.call(t, "GET", "/api/v1/tenants/comune-pelago/members", adminOnB, "", "")
		if status == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other instance still allows the removed rule after 1 s (status %d)", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, _ := a.call(t, "PUT", "/api/v1/policies", net, "", body, "If-Match", version); status != 409 {
		t.Errorf("a PUT with a stale version: %d, want 409", status)
	}
}

// The calendar feed is reached without a session, by its secret URL only,
// and stops at once when the secret is revoked.
func TestCalendarFeedThroughTheServer(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-pelago", "anna@pelago.example", "social_worker")
	tok := f.login(t, "anna@pelago.example")
	status, body := f.call(t, "POST", "/api/v1/me/calendar-secret", tok, "", "")
	if status != 201 {
		t.Fatalf("new secret: %d %v", status, body)
	}
	url := body["url"].(string)
	resp, raw := f.do(t, httptest.NewRequest("GET", url, nil))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") || !strings.Contains(string(raw), "BEGIN:VCALENDAR") {
		t.Fatalf("feed: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if status, _ := f.call(t, "DELETE", "/api/v1/me/calendar-secret", tok, "", ""); status != 204 {
		t.Fatalf("revoke: %d", status)
	}
	if resp, _ := f.do(t, httptest.NewRequest("GET", url, nil)); resp.StatusCode != 404 {
		t.Errorf("feed after revocation: %d, want 404", resp.StatusCode)
	}
}
