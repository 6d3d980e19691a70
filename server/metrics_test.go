package server_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"attivi/server"
)

// TestMetricsByRoutePattern: /metrics counts requests by route pattern and
// status, never by path (no person's id), and reports the database pool.
func TestMetricsByRoutePattern(t *testing.T) {
	t.Parallel()
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-bagno-a-ripoli", "as@bagno.example", "social_worker")
	token := f.login(t, "as@bagno.example")
	const id = "5d6f1a2e-8c1b-4c39-9f5e-0a1b2c3d4e5f"
	for range 3 {
		if status, _ := f.call(t, "GET", "/healthz", "", "", ""); status != 200 {
			t.Fatalf("healthz: %d", status)
		}
	}
	if status, _ := f.call(t, "GET", "/api/v1/persons/"+id, token, "", ""); status != 404 {
		t.Fatalf("unknown person: %d", status)
	}
	resp, body := f.do(t, httptest.NewRequest("GET", "/metrics", nil))
	text := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`attivi_http_requests_total{method="GET",route="/healthz",status="200"} 3`,
		`attivi_http_requests_total{method="GET",route="/api/v1/persons/:id",status="404"} 1`,
		`attivi_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"} 3`,
		`go_sql_max_open_connections{db_name="attivi"}`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, id) {
		t.Error("/metrics names a person's id")
	}
}
