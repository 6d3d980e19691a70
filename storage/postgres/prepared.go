package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// Statements runs the hot queries of a pool as prepared statements. An
// unnamed statement with parameters costs two round trips, and PostgreSQL
// parses and plans it every time (for the session lookup, four times the
// cost of running it); a prepared one is parsed once per connection
// (database/sql prepares it again on each connection that runs it) and runs
// in one round trip. Use it for fixed queries whose plan does not depend on
// the values: a generic plan is chosen after a few runs.
type Statements struct {
	db *sqlx.DB
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

// NewStatements returns an empty set of prepared statements on db.
func NewStatements(db *sqlx.DB) *Statements {
	return &Statements{db: db, m: map[string]*sqlx.Stmt{}}
}

// stmt returns query prepared on the pool, preparing it the first time. A
// failure (the database is down) is not remembered: the next call tries
// again.
func (s *Statements) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[query]; ok {
		return st, nil
	}
	st, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, Translate(fmt.Errorf("prepare statement: %w", err))
	}
	s.m[query] = st
	return st, nil
}

// Get runs query and scans its one row into dest, like sqlx.GetContext. On
// the pool the statement is prepared; on anything else (a transaction) it
// runs as an ordinary query, because a statement prepared in a transaction
// would be parsed again for every transaction.
// A nil *Statements runs every query as an ordinary one.
func (s *Statements) Get(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	if s == nil || q != sqlx.QueryerContext(s.db) {
		return sqlx.GetContext(ctx, q, dest, query, args...)
	}
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

// Select runs query and scans its rows into dest, like sqlx.SelectContext,
// prepared on the pool as Get is.
func (s *Statements) Select(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	if q != sqlx.QueryerContext(s.db) {
		return sqlx.SelectContext(ctx, q, dest, query, args...)
	}
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// Exec runs query on the pool as a prepared statement.
func (s *Statements) Exec(ctx context.Context, query string, args ...any) error {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// Close releases the prepared statements.
func (s *Statements) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for q, st := range s.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.m, q)
	}
	return first
}
