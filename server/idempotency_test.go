package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"attivi/server"
	"attivi/services/people"
)

// TestIdempotencyKeyOnCreatingRequests: any POST with an Idempotency-Key
// runs once; a repeat gets the first response back, also when repeats race;
// the same key with another body is refused; a failed request releases its
// key; keys are per tenant and expire.
func TestIdempotencyKeyOnCreatingRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-bagno-a-ripoli", "as@bagno.example", "social_worker")
	f.user(t, "comune-fiesole", "as@fiesole.example", "social_worker")
	bagno, fiesole := f.login(t, "as@bagno.example"), f.login(t, "as@fiesole.example")
	// Temporary 11-digit codes carry no birth date or sex to agree with.
	code := func(n int) string {
		t.Helper()
		for d := 0; d <= 9; d++ {
			c := fmt.Sprintf("0000000%03d%d", n, d)
			if _, err := people.ParseFiscalCode(c, time.Now()); err == nil {
				return c
			}
		}
		t.Fatalf("no valid temporary code for %d", n)
		return ""
	}
	person := func(code string) string {
		return `{"fiscal_code":"` + code + `","given_name":"Mario","family_name":"Rossi","birth_date":"1985-12-10","sex":"M",` +
			`"residence_istat":"048001","target_group":"disabile_l68"}`
	}
	post := func(token, key, body string) (status int, location, replayed, raw string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/v1/persons", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, b := f.do(t, req)
		return resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Idempotent-Replayed"), string(b)
	}
	count := func(code string) int {
		t.Helper()
		var n int
		if err := f.db.Get(&n, `SELECT count(*) FROM persons WHERE fiscal_code = $1`, code); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The first request runs, its repeat is the same answer and creates nothing.
	s1, loc1, rep1, body1 := post(bagno, "k-1", person("RSSMRA85T10A562S"))
	s2, loc2, rep2, body2 := post(bagno, "k-1", person("RSSMRA85T10A562S"))
	if s1 != 201 || rep1 != "" || s2 != 201 || rep2 != "true" || loc1 == "" || loc2 != loc1 || body2 != body1 {
		t.Errorf("first %d %q %q, repeat %d %q %q: want 201 twice, the same Location and body, the repeat marked replayed", s1, loc1, rep1, s2, loc2, rep2)
	}
	if n := count("RSSMRA85T10A562S"); n != 1 {
		t.Errorf("%d persons registered, want 1", n)
	}
	// The same key with another request is refused, naming the header.
	if s, _, _, raw := post(bagno, "k-1", person("RSSMRA85T10A562S")+" "); s != 422 || !strings.Contains(raw, `"Idempotency-Key"`) {
		t.Errorf("same key, other body: %d %s, want 422 naming Idempotency-Key", s, raw)
	}
	// A bad key is a bad request.
	if s, _, _, raw := post(bagno, "a key with spaces", person(code(2))); s != 400 || !strings.Contains(raw, `"Idempotency-Key"`) {
		t.Errorf("bad key: %d %s, want 400", s, raw)
	}
	// A failed request releases its key: corrected, it runs.
	if s, _, _, _ := post(bagno, "k-2", `{"fiscal_code":"nonsense"}`); s != 422 {
		t.Fatalf("invalid registration: %d, want 422", s)
	}
	if s, _, rep, raw := post(bagno, "k-2", person(code(2))); s != 201 || rep != "" {
		t.Errorf("after a failure the key is free: %d %q %s, want a fresh 201", s, rep, raw)
	}
	// Keys are per tenant: Fiesole's k-1 is another key.
	if s, _, rep, raw := post(fiesole, "k-1", person(code(3))); s != 201 || rep != "" {
		t.Errorf("another tenant's k-1: %d %q %s, want a fresh 201", s, rep, raw)
	}

	// Eight clients send the same request with the same key at once: one
	// person, and every answer that is not "still running" is the same.
	var wg sync.WaitGroup
	type answer struct {
		status int
		loc    string
	}
	answers := make(chan answer, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, loc, _, _ := post(bagno, "k-race", person(code(4)))
			answers <- answer{s, loc}
		}()
	}
	wg.Wait()
	close(answers)
	var locs []string
	for a := range answers {
		switch a.status {
		case 201:
			locs = append(locs, a.loc)
		case 409:
		default:
			t.Errorf("racing repeat: %d", a.status)
		}
	}
	if n := count(code(4)); n != 1 {
		t.Errorf("racing repeats registered %d persons, want 1", n)
	}
	for _, l := range locs {
		if l != locs[0] {
			t.Errorf("racing repeats answered different records: %v", locs)
		}
	}
	if len(locs) == 0 {
		t.Error("no racing request succeeded")
	}

	// Keys expire.
	if _, err := f.db.Exec(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'k-1'`); err != nil {
		t.Fatal(err)
	}
	n, err := server.ForgetIdempotencyKeys(context.Background(), f.db, time.Now())
	if err != nil || n != 2 {
		t.Errorf("forgot %d keys (%v), want the two k-1", n, err)
	}
}
