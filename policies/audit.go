package policies

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/storage/postgres"
	"attivi/tenants"
)

// Access-log actions.
const (
	LogRead     = "read"     // a person's data by id
	LogList     = "list"     // a person returned by a list or search
	LogWrite    = "write"    // a person's data changed
	LogDownload = "download" // a document
	LogExplain  = "explain"  // the access explanation or log of a person
)

// Entry is one line of the access log.
type Entry struct {
	PersonID   string
	Action     string
	Categories []string
	Purpose    string
	Allow      bool
	Reason     string
}

// LogAccess appends entries for the actor in one statement. The database
// chains them (each row's hash covers the previous one) and refuses any
// later change. It runs outside the caller's transaction, so it holds the
// chain's lock for one statement only.
func LogAccess(ctx context.Context, db sqlx.ExecerContext, a tenants.Actor, requestID string, entries ...Entry) error {
	args, ok := logArgs(a, requestID, entries)
	if !ok {
		return nil
	}
	_, err := db.ExecContext(ctx, logAccessSQL, args...)
	return translateLog(err)
}

// LogAccess is the package's LogAccess on the engine's pool: every read of
// personal data runs it. The entries of concurrent requests are written in
// one statement (logWriter), and it returns once they are committed.
func (e *Engine) LogAccess(ctx context.Context, a tenants.Actor, requestID string, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	return e.logs.write(ctx, a, requestID, entries)
}

// AccessLogBatches says how many statements have written the access log of
// this engine, for how many requests.
func (e *Engine) AccessLogBatches() (statements, requests int64) {
	return e.logs.statements.Load(), e.logs.requests.Load()
}

const logAccessSQL = `
INSERT INTO access_log (tenant_id, user_id, person_id, action, categories, purpose, decision, reason, request_id)
SELECT nullif($1, '')::uuid, nullif($2, '')::uuid, nullif(p, '')::uuid, act, c::text[], pur, d, r, $9
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS e(p, act, c, pur, d, r)`

// logArgs are the parameters of logAccessSQL: the entries as parallel
// arrays. ok is false when there is nothing to log.
func logArgs(a tenants.Actor, requestID string, entries []Entry) (args []any, ok bool) {
	if len(entries) == 0 {
		return nil, false
	}
	persons := make([]string, len(entries))
	actions := make([]string, len(entries))
	cats := make([]string, len(entries))
	purposes := make([]string, len(entries))
	decisions := make([]string, len(entries))
	reasons := make([]string, len(entries))
	for i, e := range entries {
		persons[i], actions[i], purposes[i], reasons[i] = e.PersonID, e.Action, e.Purpose, e.Reason
		cats[i] = pqTextArray(e.Categories)
		decisions[i] = Deny
		if e.Allow {
			decisions[i] = Allow
		}
	}
	return []any{a.TenantID, a.UserID, pq.Array(persons), pq.Array(actions), pq.Array(cats),
		pq.Array(purposes), pq.Array(decisions), pq.Array(reasons), requestID}, true
}

func translateLog(err error) error {
	if err != nil {
		return postgres.Translate(fmt.Errorf("write the access log: %w", err))
	}
	return nil
}

// pqTextArray renders a text[] literal, so that one array of arrays can go
// through unnest.
func pqTextArray(s []string) string {
	v, _ := pq.Array(s).Value()
	if v == nil {
		return "{}"
	}
	return v.(string)
}

// LogLine is an entry of a person's access log as the API shows it.
type LogLine struct {
	Seq        int64     `db:"seq" json:"seq"`
	At         time.Time `db:"at" json:"at"`
	Tenant     *string   `db:"tenant" json:"tenant"`
	TenantName *string   `db:"tenant_name" json:"tenant_name"`
	UserID     *string   `db:"user_id" json:"user_id"`
	UserEmail  *string   `db:"user_email" json:"user"`
	Action     string    `db:"action" json:"action"`
	Categories []string  `db:"-" json:"categories"`
	Purpose    string    `db:"purpose" json:"purpose"`
	Decision   string    `db:"decision" json:"decision"`
	Reason     string    `db:"reason" json:"reason"`
}

// PersonLog lists who accessed a person's data, newest first, before seq
// (0: from the newest).
func PersonLog(ctx context.Context, q sqlx.QueryerContext, personID string, before int64, limit int) ([]LogLine, error) {
	const stmt = `
SELECT a.seq, a.at, t.slug AS tenant, t.name AS tenant_name, a.user_id, u.email AS user_email,
	a.action, a.categories, a.purpose, a.decision, a.reason
FROM access_log a
LEFT JOIN tenants t ON t.id = a.tenant_id
LEFT JOIN users u ON u.id = a.user_id
WHERE a.person_id = $1 AND ($2 = 0 OR a.seq < $2)
ORDER BY a.seq DESC
LIMIT $3`
	rows, err := q.QueryxContext(ctx, stmt, personID, before, limit)
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("person access log: %w", err))
	}
	defer rows.Close()
	var out []LogLine
	for rows.Next() {
		var l LogLine
		var cats pq.StringArray
		if err := rows.Scan(&l.Seq, &l.At, &l.Tenant, &l.TenantName, &l.UserID, &l.UserEmail, &l.Action, &cats, &l.Purpose, &l.Decision, &l.Reason); err != nil {
			return nil, postgres.Translate(err)
		}
		l.Categories = cats
		if l.Categories == nil {
			l.Categories = []string{}
		}
		out = append(out, l)
	}
	return out, postgres.Translate(rows.Err())
}

// Verification is the result of checking the access log's chain.
type Verification struct {
	Rows int64
	// Broken lists the first problems found (at most 20): a row whose hash
	// does not match its content, whose prev_hash is not the previous row's
	// hash, or a gap in the sequence (a removed row).
	Broken []string
}

// VerifyAccessLog recomputes the hash chain of the whole access log with the
// same canonical form the database used when it wrote each row.
func VerifyAccessLog(ctx context.Context, db sqlx.QueryerContext) (Verification, error) {
	const stmt = `
SELECT a.seq,
	a.hash = digest(a.prev_hash || convert_to(access_log_canonical(a), 'UTF8'), 'sha256') AS content_ok,
	a.prev_hash = coalesce(lag(a.hash) OVER w, '\x'::bytea) AS link_ok,
	a.seq = coalesce(lag(a.seq) OVER w, 0) + 1 AS seq_ok
FROM access_log a
WINDOW w AS (ORDER BY a.seq)
ORDER BY a.seq`
	rows, err := db.QueryxContext(ctx, stmt)
	if err != nil {
		return Verification{}, postgres.Translate(fmt.Errorf("verify the access log: %w", err))
	}
	defer rows.Close()
	var v Verification
	var last int64
	for rows.Next() {
		var seq int64
		var contentOK, linkOK, seqOK bool
		if err := rows.Scan(&seq, &contentOK, &linkOK, &seqOK); err != nil {
			return v, postgres.Translate(err)
		}
		v.Rows++
		last = seq
		add := func(s string) {
			if len(v.Broken) < 20 {
				v.Broken = append(v.Broken, s)
			}
		}
		if !seqOK {
			add(fmt.Sprintf("row %d: rows before it are missing", seq))
		}
		if !contentOK {
			add(fmt.Sprintf("row %d: its content does not match its hash (altered)", seq))
		}
		if !linkOK {
			add(fmt.Sprintf("row %d: it does not follow the previous row's hash", seq))
		}
	}
	if err := rows.Err(); err != nil {
		return v, postgres.Translate(err)
	}
	var head struct {
		Seq  int64  `db:"last_seq"`
		Hash []byte `db:"last_hash"`
	}
	if err := sqlx.GetContext(ctx, db, &head, `SELECT last_seq, last_hash FROM access_log_head`); err != nil {
		return v, postgres.Translate(err)
	}
	if head.Seq != last && len(v.Broken) < 20 {
		v.Broken = append(v.Broken, fmt.Sprintf("the chain's head says %d rows, the log ends at %d (rows removed at the end)", head.Seq, last))
	}
	return v, nil
}
