package policies

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"attivi/storage/postgres"
	"attivi/tenants"
)

// logWriter writes the access log of an instance in group commits. Every
// insert into the access log takes the chain's head lock until it commits,
// so concurrent requests queue on that row: under load most of a list
// request's time went to waiting for it (measured: two thirds of the active
// backends in Lock:tuple). The writer instead sends the entries of every
// request waiting at a moment in one statement, which takes the lock once,
// runs the statement triggers once and commits once; a request still waits
// until its entries are committed, so nothing is shown before it is logged.
//
// There is no background goroutine to stop: the first request that finds
// the writer idle starts one, which writes batches until the queue is empty
// and then ends.
type logWriter struct {
	stmts   *postgres.Statements
	mu      sync.Mutex
	queue   []*pendingLog
	running bool
	// statements and requests count what was written (for tests and
	// monitoring): requests/statements is the batching achieved.
	statements, requests atomic.Int64
}

// pendingLog is one request's entries, waiting for their batch.
type pendingLog struct {
	actor     tenants.Actor
	requestID string
	entries   []Entry
	done      chan error
}

// maxBatchEntries bounds one statement (a request logs at most a page of
// 200 persons, so a batch holds at least 25 requests).
const maxBatchEntries = 5000

// logTimeout bounds one batch's statement, whatever the requests' contexts.
const logTimeout = 15 * time.Second

// write queues the entries and waits until they are committed, or until
// ctx ends (the entries may then still be written: a log entry too many is
// harmless, a response without its entry is not, and the caller does not
// respond with the data after an error).
func (w *logWriter) write(ctx context.Context, a tenants.Actor, requestID string, entries []Entry) error {
	p := &pendingLog{actor: a, requestID: requestID, entries: entries, done: make(chan error, 1)}
	w.mu.Lock()
	w.queue = append(w.queue, p)
	if !w.running {
		w.running = true
		go w.run()
	}
	w.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return translateLog(ctx.Err())
	}
}

// run writes batches until the queue is empty.
func (w *logWriter) run() {
	for {
		w.mu.Lock()
		n, rows := 0, 0
		for n < len(w.queue) && (n == 0 || rows+len(w.queue[n].entries) <= maxBatchEntries) {
			rows += len(w.queue[n].entries)
			n++
		}
		batch := w.queue[:n:n]
		w.queue = w.queue[n:]
		if n == 0 {
			w.running = false
			w.queue = nil // let the old backing array go
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		err := w.insert(batch)
		if err != nil && len(batch) > 1 {
			// One request's bad entry must not fail the others: each on
			// its own (when the database is down, they all fail anyway).
			for _, p := range batch {
				p.done <- w.insert([]*pendingLog{p})
			}
			continue
		}
		for _, p := range batch {
			p.done <- err
		}
	}
}

// batchLogSQL is logAccessSQL with the actor and request of each row.
const batchLogSQL = `
INSERT INTO access_log (tenant_id, user_id, person_id, action, categories, purpose, decision, reason, request_id)
SELECT nullif(t, '')::uuid, nullif(u, '')::uuid, nullif(p, '')::uuid, act, c::text[], pur, d, r, rq
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
	AS e(t, u, p, act, c, pur, d, r, rq)`

func (w *logWriter) insert(batch []*pendingLog) error {
	var cols [9][]string
	for _, p := range batch {
		for _, e := range p.entries {
			decision := Deny
			if e.Allow {
				decision = Allow
			}
			row := [9]string{p.actor.TenantID, p.actor.UserID, e.PersonID, e.Action, pqTextArray(e.Categories), e.Purpose, decision, e.Reason, p.requestID}
			for i, v := range row {
				cols[i] = append(cols[i], v)
			}
		}
	}
	args := make([]any, len(cols))
	for i, c := range cols {
		args[i] = pq.Array(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	if err := w.stmts.Exec(ctx, batchLogSQL, args...); err != nil {
		return translateLog(fmt.Errorf("a batch of %d requests: %w", len(batch), err))
	}
	w.statements.Add(1)
	w.requests.Add(int64(len(batch)))
	return nil
}
