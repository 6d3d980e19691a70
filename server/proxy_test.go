package server_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"attivi/server"
)

// TestClientAddressBehindTrustedProxies: login throttling counts failures
// per client address. Behind a load balancer listed in TrustedProxies the
// address is the X-Forwarded-For it sets, so one client's failures do not
// lock out the others; without the setting, the header (which anyone can
// send) is ignored.
func TestClientAddressBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	fail := func(f *fixture, client string, n int) int {
		t.Helper()
		status := 0
		for i := range n {
			req := httptest.NewRequest("POST", "/api/v1/auth/login",
				strings.NewReader(fmt.Sprintf(`{"email":"nessuno%d.%s@example.org","password":"not the password"}`, i, client)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", client)
			resp, _ := f.do(t, req)
			status = resp.StatusCode
		}
		return status
	}
	const free = 50 // tenants.DefaultAuth.FreeFailuresAddr
	behind := server.DefaultOptions
	behind.TrustedProxies = []string{"0.0.0.0/0", "::/0"} // the test's requests come from 0.0.0.0
	f := newFixture(t, behind)
	if got := fail(f, "203.0.113.7", free+1); got != 429 {
		t.Fatalf("after %d failures from one client: %d, want 429", free+1, got)
	}
	if got := fail(f, "203.0.113.8", 1); got != 401 {
		t.Errorf("another client behind the same proxy: %d, want 401 (not throttled)", got)
	}

	direct := newFixture(t, server.DefaultOptions)
	fail(direct, "203.0.113.7", free+1)
	if got := fail(direct, "203.0.113.8", 1); got != 429 {
		t.Errorf("without trusted proxies, a forged X-Forwarded-For escaped the throttle: %d, want 429", got)
	}
}
