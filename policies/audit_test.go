package policies_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/lib/pq"

	p "attivi/policies"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// Concurrent writers, each appending many rows per statement, still build
// one unbroken chain.
func TestAccessLogChainUnderConcurrency(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	const writers, statements, rows = 8, 15, 7
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entries := make([]p.Entry, rows)
			for i := range entries {
				entries[i] = p.Entry{Action: p.LogList, Categories: []string{p.CatIdentity}, Allow: i%2 == 0, Reason: "test"}
			}
			for range statements {
				if err := p.LogAccess(ctx, db, tenants.Actor{}, "writer-"+string(rune('a'+w)), entries...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, err := p.VerifyAccessLog(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if v.Rows != writers*statements*rows || len(v.Broken) != 0 {
		t.Errorf("verify: %d rows, problems %v; want %d rows and an intact chain", v.Rows, v.Broken, writers*statements*rows)
	}
	var headSeq int64
	if err := db.Get(&headSeq, `SELECT last_seq FROM access_log_head`); err != nil || headSeq != v.Rows {
		t.Errorf("head at %d (err %v), want %d", headSeq, err, v.Rows)
	}
}

// The engine writes the entries of concurrent requests in group commits:
// every request returns once its entries are committed, each row keeps its
// own tenant, user and request, the chain stays whole, and there are fewer
// statements than requests.
func TestEngineLogsConcurrentRequestsTogether(t *testing.T) {
	db, _ := seededDB(t)
	ctx := context.Background()
	e := newEngine(t, db)
	var tenantIDs []string
	if err := db.Select(&tenantIDs, `SELECT id FROM tenants ORDER BY slug LIMIT 4`); err != nil {
		t.Fatal(err)
	}
	if len(tenantIDs) == 0 { // a bare policy database: make some
		for i := range 4 {
			var id string
			if err := db.Get(&id, `INSERT INTO tenants (slug, name, kind) VALUES ($1, $1, 'third_sector') RETURNING id`,
				"log-tenant-"+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
			tenantIDs = append(tenantIDs, id)
		}
	}
	const writers, requests, rows = 24, 15, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers*requests)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := tenants.Actor{TenantID: tenantIDs[w%len(tenantIDs)]}
			entries := make([]p.Entry, rows)
			for i := range entries {
				entries[i] = p.Entry{Action: p.LogRead, Categories: []string{p.CatIdentity}, Allow: true, Reason: "test"}
			}
			for r := range requests {
				errs <- e.LogAccess(ctx, a, fmt.Sprintf("w%02d-r%02d", w, r), entries...)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each request's rows: all there, with the writer's tenant.
	var wrong int
	if err := db.Get(&wrong, `
SELECT count(*) FROM (
	SELECT request_id, count(*) AS n, count(DISTINCT tenant_id) AS tenants, min(tenant_id::text) AS tenant
	FROM access_log GROUP BY request_id) g
WHERE n <> $1 OR tenants <> 1
	OR tenant <> ($2::text[])[(substr(request_id, 2, 2)::int % $3) + 1]`, rows, pq.Array(tenantIDs), len(tenantIDs)); err != nil {
		t.Fatal(err)
	}
	var logged int
	if err := db.Get(&logged, `SELECT count(DISTINCT request_id) FROM access_log`); err != nil {
		t.Fatal(err)
	}
	if logged != writers*requests || wrong != 0 {
		t.Errorf("%d requests logged (want %d), %d with the wrong rows or tenant", logged, writers*requests, wrong)
	}
	v, err := p.VerifyAccessLog(ctx, db)
	if err != nil || len(v.Broken) != 0 || v.Rows != writers*requests*rows {
		t.Errorf("verify: %+v %v, want %d rows and an intact chain", v, err, writers*requests*rows)
	}
	statements, reqs := e.AccessLogBatches()
	if reqs != writers*requests || statements >= reqs {
		t.Errorf("%d statements for %d requests: want all requests, in fewer statements", statements, reqs)
	}
	t.Logf("%d requests logged in %d statements", reqs, statements)
}

// A request whose entry the database refuses fails alone: the requests
// written in the same batch are logged.
func TestEngineLogBadEntryFailsAlone(t *testing.T) {
	db, _ := seededDB(t)
	ctx := context.Background()
	e := newEngine(t, db)
	var wg sync.WaitGroup
	results := make([]error, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entry := p.Entry{Action: p.LogRead, Allow: true, Reason: "test"}
			if i == 7 {
				entry.PersonID = "not-a-uuid" // a bug of a caller
			}
			results[i] = e.LogAccess(ctx, tenants.Actor{}, fmt.Sprintf("req-%02d", i), entry)
		}()
	}
	wg.Wait()
	for i, err := range results {
		if (err != nil) != (i == 7) {
			t.Errorf("request %d: %v", i, err)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM access_log`); err != nil || n != 15 {
		t.Errorf("%d rows logged (%v), want the 15 good requests", n, err)
	}
}
