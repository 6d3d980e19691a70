package policies_test

import (
	"attivi/server"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	p "attivi/policies"
	"attivi/tenants"
)

type errorBody struct {
	Error struct {
		Code    apperr.Code       `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// newApp serves the policy handlers; the header X-Test-Actor names the
// actor a stand-in for the authentication middleware puts in the context.
func newApp(h *p.Handler, actors map[string]tenants.Actor) *fiber.App {
	app := fiber.New(fiber.Config{Immutable: true, ErrorHandler: server.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.Use(func(c *fiber.Ctx) error {
		if a, ok := actors[c.Get("X-Test-Actor")]; ok {
			c.SetUserContext(tenants.WithActor(c.UserContext(), a))
		}
		return c.Next()
	})
	app.Get("/api/v1/policies", h.Get)
	app.Put("/api/v1/policies", h.Put)
	app.Get("/api/v1/policies/versions", h.Versions)
	return app
}

func TestPolicyHTTP(t *testing.T) {
	t.Parallel()
	db, _ := seededDB(t)
	n := newNetwork(t, db)
	e := newEngine(t, db)
	app := newApp(p.NewHandler(e), map[string]tenants.Actor{
		"admin": n.networkAdmin, "tenant-admin": n.tenantAdmin, "social": n.socialWorker,
	})
	do := func(method, path, actor string, headers map[string]string, body any) (int, []byte, http.Header) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req := httptest.NewRequest(method, path, r)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-Test-Actor", actor)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b, res.Header
	}
	errOf := func(b []byte) errorBody {
		var eb errorBody
		if err := json.Unmarshal(b, &eb); err != nil {
			t.Fatalf("error body %s: %v", b, err)
		}
		return eb
	}
	put := func(rules []p.Rule, summary string) map[string]any {
		return map[string]any{"rules": rules, "summary": summary}
	}

	t.Run("anonymous", func(t *testing.T) {
		if s, _, _ := do("GET", "/api/v1/policies", "", nil, nil); s != 401 {
			t.Errorf("status %d, want 401", s)
		}
	})
	t.Run("not a network admin", func(t *testing.T) {
		for _, who := range []string{"social", "tenant-admin"} {
			for _, r := range []struct{ method, path string }{{"GET", "/api/v1/policies"}, {"PUT", "/api/v1/policies"}, {"GET", "/api/v1/policies/versions"}} {
				s, b, _ := do(r.method, r.path, who, map[string]string{"If-Match": "1"}, put(p.DefaultRules(), "x"))
				if s != 403 || errOf(b).Error.Code != apperr.Forbidden {
					t.Errorf("%s %s as %s: %d %s, want 403 forbidden", r.method, r.path, who, s, b)
				}
			}
		}
	})
	t.Run("read", func(t *testing.T) {
		s, b, h := do("GET", "/api/v1/policies", "admin", nil, nil)
		if s != 200 {
			t.Fatalf("status %d: %s", s, b)
		}
		var got struct {
			Version int64            `json:"version"`
			Rules   []map[string]any `json:"rules"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Version != 1 || len(got.Rules) != len(p.DefaultRules()) || h.Get("ETag") != `"1"` {
			t.Errorf("version %d, %d rules, ETag %s", got.Version, len(got.Rules), h.Get("ETag"))
		}
		first := got.Rules[0]
		for _, k := range []string{"role", "relationship", "category", "action", "consent_required", "effect"} {
			if _, ok := first[k]; !ok {
				t.Errorf("rule %v has no field %q", first, k)
			}
		}
		if !strings.Contains(string(b), `"tenant_kind":"employment_office"`) {
			t.Errorf("network rules are not shown with their tenant_kind")
		}
	})
	t.Run("change", func(t *testing.T) {
		bad := p.DefaultRules()
		bad[3].Role = "job_coch"
		s, b, _ := do("PUT", "/api/v1/policies", "admin", map[string]string{"If-Match": `"1"`}, put(bad, "typo"))
		if eb := errOf(b); s != 422 || eb.Error.Code != apperr.Invalid || !strings.Contains(eb.Error.Fields["rules[3]"], `unknown role "job_coch"`) {
			t.Errorf("bad line: %d %s, want 422 naming rules[3]", s, b)
		}
		if s, b, _ := do("PUT", "/api/v1/policies", "admin", nil, put(p.DefaultRules(), "no precondition")); s != 400 {
			t.Errorf("without If-Match: %d %s, want 400", s, b)
		}
		if s, b, _ := do("PUT", "/api/v1/policies", "admin", map[string]string{"If-Match": "1"}, map[string]any{"rules": []map[string]any{{"rol": "x"}}, "summary": "x"}); s != 400 {
			t.Errorf("unknown field: %d %s, want 400", s, b)
		}

		s, b, h := do("PUT", "/api/v1/policies", "admin", map[string]string{"If-Match": `"1"`}, put(p.DefaultRules()[1:], "drop the first rule"))
		if s != 200 || h.Get("ETag") != `"2"` {
			t.Fatalf("change: %d %s (ETag %s)", s, b, h.Get("ETag"))
		}
		if e.Version() != 2 {
			t.Errorf("engine at version %d after the change, want 2", e.Version())
		}
		if s, b, _ := do("PUT", "/api/v1/policies", "admin", map[string]string{"If-Match": "1"}, put(p.DefaultRules(), "stale")); s != 409 || errOf(b).Error.Code != apperr.Conflict {
			t.Errorf("stale: %d %s, want 409", s, b)
		}
		locked := p.DefaultRules()
		locked = locked[:len(locked)-1]
		locked = slicesDeleteAdmin(locked)
		if s, b, _ := do("PUT", "/api/v1/policies", "admin", map[string]string{"If-Match": "2"}, put(locked, "lock out")); s != 422 || !strings.Contains(errOf(b).Error.Message, "network_admin") {
			t.Errorf("lock-out: %d %s, want 422 about network_admin", s, b)
		}
	})
	t.Run("history", func(t *testing.T) {
		s, b, _ := do("GET", "/api/v1/policies/versions?limit=1", "admin", nil, nil)
		var page struct {
			Items []struct {
				Version        int64   `json:"version"`
				ChangedByEmail *string `json:"changed_by_email"`
				ChangedAt      string  `json:"changed_at"`
				Summary        string  `json:"summary"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil || s != 200 {
			t.Fatalf("%d %s", s, b)
		}
		if len(page.Items) != 1 || page.Items[0].Version != 2 || page.Items[0].Summary != "drop the first rule" ||
			page.Items[0].ChangedByEmail == nil || *page.Items[0].ChangedByEmail != n.networkAdmin.Email || page.NextCursor == "" {
			t.Fatalf("first page %s", b)
		}
		s, b, _ = do("GET", "/api/v1/policies/versions?limit=1&cursor="+page.NextCursor, "admin", nil, nil)
		if s != 200 || !strings.Contains(string(b), `"summary":"default policy"`) || !strings.Contains(string(b), `"changed_by":null`) {
			t.Errorf("second page %d %s", s, b)
		}
	})
}

func slicesDeleteAdmin(rules []p.Rule) []p.Rule {
	out := rules[:0:0]
	for _, r := range rules {
		if r.Role == "network_admin" && r.Category == p.CatPolicies {
			continue
		}
		out = append(out, r)
	}
	return out
}
