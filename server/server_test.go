package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/policies"
	"attivi/server"
	"attivi/server/httpx"
	"attivi/server/servertest"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// fixture is the whole server under test (servertest.Server) under the
// names these tests use.
type fixture struct {
	app      *fiber.App
	logs     *servertest.LogBuffer
	db       *sqlx.DB
	identity *tenants.Identity
	engine   *policies.Engine
	clock    *servertest.Clock
}

// newFixture builds the whole server on a fresh database.
func newFixture(t *testing.T, opts server.Options, checks ...server.Check) *fixture {
	t.Helper()
	return newFixtureOn(t, pgtest.New(t), opts, checks...)
}

// newFixtureOn builds the whole server, as `attivi serve` does, on db: the
// network seeded, the default policy, the engine, identity and handlers.
func newFixtureOn(t *testing.T, db *sqlx.DB, opts server.Options, checks ...server.Check) *fixture {
	t.Helper()
	s := servertest.New(t, servertest.Config{DB: db, Options: opts, Ready: checks})
	return &fixture{app: s.App, logs: s.Logs, db: s.DB, identity: s.Identity, engine: s.Engine, clock: s.Clock}
}

type errorBody struct {
	Error struct {
		Code      string            `json:"code"`
		Message   string            `json:"message"`
		Fields    map[string]string `json:"fields"`
		RequestID string            `json:"request_id"`
	} `json:"error"`
}

func (f *fixture) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	return servertest.Do(t, f.app, req)
}

func decodeError(t *testing.T, body []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not the JSON error model: %v: %s", err, body)
	}
	return e
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	resp, body := f.do(t, httptest.NewRequest("GET", "/nothing-here", nil))
	if resp.StatusCode != 404 {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
	e := decodeError(t, body)
	if e.Error.Code != "not_found" || e.Error.RequestID == "" {
		t.Errorf("body %s: want code not_found and a request id", body)
	}
	if got := resp.Header.Get("X-Request-ID"); got != e.Error.RequestID {
		t.Errorf("X-Request-ID header %q, body request id %q: want the same", got, e.Error.RequestID)
	}
}

func TestRequestIDIsEchoedOrGenerated(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	resp, _ := f.do(t, req)
	if got := resp.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("echoed request id %q, want abc-123", got)
	}
	req = httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-ID", "not valid <script>")
	resp, _ = f.do(t, req)
	if got := resp.Header.Get("X-Request-ID"); got == "" || strings.Contains(got, "<") {
		t.Errorf("request id %q for an invalid header, want a generated one", got)
	}
}

// serveReal runs the app on a loopback listener: some limits (the body
// size) are enforced while fasthttp reads the request, which app.Test skips.
func serveReal(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Serve(ctx, app, ln, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestOversizeBodyIs413(t *testing.T) {
	opts := server.DefaultOptions
	opts.BodyLimit = 1024
	f := newFixture(t, opts)
	f.app.Post("/test/echo", func(c *fiber.Ctx) error { return c.SendStatus(204) })
	base := serveReal(t, f.app)
	resp, err := http.Post(base+"/test/echo", "application/json", strings.NewReader(strings.Repeat("x", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413 (%s)", resp.StatusCode, body)
	}
	if e := decodeError(t, body); e.Error.Code != "too_large" || !strings.Contains(e.Error.Message, "1024") || e.Error.RequestID == "" {
		t.Errorf("body %s: want code too_large naming the limit, with a request id", body)
	}
	small, err := http.Post(base+"/test/echo", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	small.Body.Close()
	if small.StatusCode != 204 {
		t.Errorf("a body under the limit: status %d, want 204", small.StatusCode)
	}
}

func TestMalformedJSON(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.app.Post("/test/echo", func(c *fiber.Ctx) error {
		var v struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		}
		if err := httpx.BindJSON(c, &v); err != nil {
			return err
		}
		return c.JSON(v)
	})
	cases := []struct {
		name, body, field string
	}{
		{"syntax", `{"name": "x",`, ""},
		{"not json", `name=x`, ""},
		{"empty", ``, ""},
		{"wrong type", `{"name": "x", "count": "three"}`, "count"},
		{"unknown field", `{"nome": "x"}`, "nome"},
		{"trailing data", `{"name": "x"} {"name": "y"}`, ""},
		{"array", `[1, 2]`, ""},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("POST", "/test/echo", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		resp, body := f.do(t, req)
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400 (%s)", tc.name, resp.StatusCode, body)
			continue
		}
		e := decodeError(t, body)
		if e.Error.Code != "invalid" || e.Error.Message == "" {
			t.Errorf("%s: body %s, want code invalid with a message", tc.name, body)
		}
		if tc.field != "" && e.Error.Fields[tc.field] == "" {
			t.Errorf("%s: fields %v, want a message for %q", tc.name, e.Error.Fields, tc.field)
		}
	}
	req := httptest.NewRequest("POST", "/test/echo", strings.NewReader(`{"name": "ok", "count": 3}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, body := f.do(t, req); resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("valid JSON: status %d body %s, want 200 echo", resp.StatusCode, body)
	}
}

func TestPanicIs500WithRequestIDAndNothingLeaked(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	f.app.Get("/test/panic", func(c *fiber.Ctx) error { panic("secret detail: SELECT * FROM persons") })
	req := httptest.NewRequest("GET", "/test/panic", nil)
	req.Header.Set("X-Request-ID", "panic-req-1")
	resp, body := f.do(t, req)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	e := decodeError(t, body)
	if e.Error.Code != "internal" || e.Error.RequestID != "panic-req-1" || e.Error.Message != "internal error" {
		t.Errorf("body %s: want code internal, message 'internal error', request id panic-req-1", body)
	}
	if strings.Contains(string(body), "secret") || strings.Contains(string(body), "SELECT") {
		t.Errorf("body leaks the panic: %s", body)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "secret detail") || !strings.Contains(logs, "panic-req-1") || !strings.Contains(logs, "stack") {
		t.Errorf("the panic is not logged with its request id and stack: %s", logs)
	}
	// The server goes on serving.
	if resp, _ := f.do(t, httptest.NewRequest("GET", "/healthz", nil)); resp.StatusCode != 200 {
		t.Errorf("after a panic /healthz = %d, want 200", resp.StatusCode)
	}
}

func TestAccessLogOneLinePerRequestWithoutQuery(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	req := httptest.NewRequest("GET", "/api/v1/tenants?limit=2&q=Mario+Rossi", nil)
	req.Header.Set("X-Request-ID", "log-req-1")
	if resp, _ := f.do(t, req); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == "request" && m["request_id"] == "log-req-1" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d access-log lines for the request, want 1", len(lines))
	}
	if lines[0]["status"] != float64(200) || lines[0]["path"] != "/api/v1/tenants" {
		t.Errorf("access log %v: want status 200 and path without query", lines[0])
	}
	if strings.Contains(f.logs.String(), "Rossi") {
		t.Errorf("the log holds the search text: %s", f.logs.String())
	}
}

func TestReadyzNamesWhatIsDownAndRecovers(t *testing.T) {
	var minioDown atomic.Bool
	f := newFixture(t, server.DefaultOptions,
		server.Check{Name: "postgres", Check: func(context.Context) error { return nil }},
		server.Check{Name: "minio", Check: func(context.Context) error {
			if minioDown.Load() {
				return errors.New("connection refused")
			}
			return nil
		}},
	)
	if resp, _ := f.do(t, httptest.NewRequest("GET", "/readyz", nil)); resp.StatusCode != 200 {
		t.Fatalf("ready: status %d, want 200", resp.StatusCode)
	}
	minioDown.Store(true)
	resp, body := f.do(t, httptest.NewRequest("GET", "/readyz", nil))
	if resp.StatusCode != 503 {
		t.Fatalf("minio down: status %d, want 503", resp.StatusCode)
	}
	e := decodeError(t, body)
	if e.Error.Code != "unavailable" || e.Error.Fields["minio"] == "" || e.Error.Fields["postgres"] != "" {
		t.Errorf("body %s: want unavailable naming minio only", body)
	}
	minioDown.Store(false)
	if resp, _ := f.do(t, httptest.NewRequest("GET", "/readyz", nil)); resp.StatusCode != 200 {
		t.Errorf("after recovery: status %d, want 200", resp.StatusCode)
	}
}

func TestTenantDirectoryPaginates(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	var all []map[string]any
	next := "/api/v1/tenants?limit=7"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		resp, body := f.do(t, httptest.NewRequest("GET", next, nil))
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", next, resp.StatusCode, body)
		}
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		next = ""
		if page.NextCursor != "" {
			next = "/api/v1/tenants?limit=7&cursor=" + page.NextCursor
		}
	}
	if len(all) != 31 {
		t.Fatalf("directory lists %d tenants, want 31", len(all))
	}
	seen := map[string]bool{}
	for _, tn := range all {
		slug := tn["slug"].(string)
		if seen[slug] {
			t.Errorf("%s listed twice", slug)
		}
		seen[slug] = true
		if slug == "serd-sud-est" && (tn["parent"] != "usl-toscana-centro" || tn["kind"] != "health_service") {
			t.Errorf("serd-sud-est = %v, want kind health_service, parent usl-toscana-centro", tn)
		}
		if slug == "comune-fiesole" && tn["istat_code"] != "048015" {
			t.Errorf("comune-fiesole = %v, want istat_code 048015", tn)
		}
	}
	for _, bad := range []string{"limit=0", "limit=abc", "limit=1000", "cursor=%%%"} {
		resp, body := f.do(t, httptest.NewRequest("GET", "/api/v1/tenants?"+strings.ReplaceAll(bad, "%%%", "%25%25"), nil))
		if resp.StatusCode != 400 {
			t.Errorf("?%s: status %d, want 400 (%s)", bad, resp.StatusCode, body)
		}
	}
	resp, body := f.do(t, httptest.NewRequest("GET", "/api/v1/tenants/no-such-tenant", nil))
	if resp.StatusCode != 404 || decodeError(t, body).Error.Code != "not_found" {
		t.Errorf("unknown slug: %d %s, want 404 not_found", resp.StatusCode, body)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	f := newFixture(t, server.DefaultOptions)
	started := make(chan struct{})
	f.app.Get("/test/slow", func(c *fiber.Ctx) error {
		close(started)
		time.Sleep(500 * time.Millisecond)
		return c.SendString("done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, f.app, ln, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-started
	cancel() // SIGTERM arrives while the request is in flight
	r := <-got
	if r.err != nil || r.status != 200 || r.body != "done" {
		t.Errorf("in-flight request: status %d body %q err %v, want 200 done", r.status, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil after a clean shutdown", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Errorf("the server still accepts connections after shutdown")
	}
}
