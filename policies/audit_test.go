package policies_test

import (
	"context"
	"sync"
	"testing"

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
