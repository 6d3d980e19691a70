// Package postgres opens the PostgreSQL pool, runs transactions, translates
// driver errors into application errors and applies the embedded migrations.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
)

// PoolConfig holds the limits of the connection pool.
type PoolConfig struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
	MaxIdleTime time.Duration
}

// DefaultPool is sized for a 2-core instance: PostgreSQL is most efficient with
// a few busy connections per core, and several instances share one server.
// Idle connections are kept up to the open limit: a connection closed after
// a burst and opened again at the next costs a new server process, its
// catalog caches, its prepared statements and the compilation of the access
// log's triggers, several milliseconds that land on the slowest requests.
// MaxIdleTime closes them when the load goes away.
var DefaultPool = PoolConfig{MaxOpen: 16, MaxIdle: 16, MaxLifetime: 30 * time.Minute, MaxIdleTime: 5 * time.Minute}

// Open connects to url and checks the connection with a ping bounded by ctx.
func Open(ctx context.Context, url string, pc PoolConfig) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(pc.MaxOpen)
	db.SetMaxIdleConns(pc.MaxIdle)
	db.SetConnMaxLifetime(pc.MaxLifetime)
	db.SetConnMaxIdleTime(pc.MaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

// InTx runs fn in a transaction: committed when fn returns nil, rolled back
// otherwise (and when fn panics).
func InTx(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return Translate(fmt.Errorf("begin transaction: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return Translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// Ping reports whether the database answers, for the readiness probe.
func Ping(ctx context.Context, db *sqlx.DB) error {
	var one int
	return db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Translate maps driver errors to application errors and leaves others as
// they are. The driver error stays in the chain for the logs; the message is
// generic so that no SQL or data reaches a client.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Wrap(err, apperr.NotFound, "not found")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(err, apperr.Unavailable, "the database did not answer in time")
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return apperr.Wrap(err, apperr.Conflict, "already exists")
		case "23503": // foreign_key_violation
			return apperr.Wrap(err, apperr.Invalid, "refers to something that does not exist")
		case "23514", "23502", "22P02", "22007", "22008", "22001": // check, not null, bad text repr, bad datetime, out of range, too long
			return apperr.Wrap(err, apperr.Invalid, "a value is not acceptable")
		case "40001", "40P01": // serialization failure, deadlock
			return apperr.Wrap(err, apperr.Conflict, "a concurrent change got there first, try again")
		case "57014": // query_canceled
			return apperr.Wrap(err, apperr.Unavailable, "the request was cancelled")
		}
		switch pe.Code.Class() {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return apperr.Wrap(err, apperr.Unavailable, "the database is not available")
		}
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) {
		return apperr.Wrap(err, apperr.Unavailable, "the database is not available")
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, pq.ErrSSLNotSupported) {
		return apperr.Wrap(err, apperr.Unavailable, "the database is not available")
	}
	return err
}

// IsUUID reports whether s is a UUID in its textual form. Ids from URLs are
// checked with it before they reach a query, so that a malformed id is a
// plain "not found" rather than a driver error.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
