package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"

	"github.com/jmoiron/sqlx"
)

// migrationLockKey is the advisory lock that serialises migration runs of
// every instance against one database ("attivimg" in ASCII).
const migrationLockKey int64 = 0x61747469766d67

var migrationName = regexp.MustCompile(`^\d{4}_[a-z0-9_]+\.sql$`)

// Migration is one numbered SQL file.
type Migration struct {
	Name string
	SQL  string
}

// LoadMigrations reads the *.sql files at the top of fsys in name order. A
// file whose name does not follow NNNN_name.sql is an error, so that a typo
// cannot silently skip a migration.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		if !migrationName.MatchString(e.Name()) {
			return nil, fmt.Errorf("migration %q: name must look like 0001_what_it_does.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	for i := 1; i < len(ms); i++ {
		if ms[i].Name[:4] == ms[i-1].Name[:4] {
			return nil, fmt.Errorf("migrations %s and %s share a number", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// Migrate applies the migrations of fsys that the database has not recorded,
// each in its own transaction together with its record. An advisory lock held
// on one connection for the whole run makes concurrent runs (two instances
// starting at once) wait for each other, so each file is applied exactly once.
// It returns the names it applied.
func Migrate(ctx context.Context, db *sqlx.DB, fsys fs.FS) ([]string, error) {
	ms, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return nil, Translate(fmt.Errorf("migrate: get connection: %w", err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return nil, Translate(fmt.Errorf("migrate: take lock: %w", err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey) //nolint:errcheck // released with the session anyway

	const create = `
CREATE TABLE IF NOT EXISTS schema_migrations (
	name       text PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, Translate(fmt.Errorf("migrate: create schema_migrations: %w", err))
	}
	done := map[string]bool{}
	var names []string
	if err := sqlx.SelectContext(ctx, conn, &names, `SELECT name FROM schema_migrations`); err != nil {
		return nil, Translate(fmt.Errorf("migrate: read schema_migrations: %w", err))
	}
	for _, n := range names {
		done[n] = true
	}
	var applied []string
	for _, m := range ms {
		if done[m.Name] {
			continue
		}
		if err := applyOne(ctx, conn, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

func applyOne(ctx context.Context, conn *sqlx.Conn, m Migration) error {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return Translate(fmt.Errorf("migration %s: begin: %w", m.Name, err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, m.Name); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

// Pending returns the names of the migrations of fsys that the database has
// not applied, so that a server can refuse to run on an old schema.
func Pending(ctx context.Context, db *sqlx.DB, fsys fs.FS) ([]string, error) {
	ms, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := db.GetContext(ctx, &exists, `SELECT to_regclass('schema_migrations') IS NOT NULL`); err != nil {
		return nil, Translate(fmt.Errorf("check schema_migrations: %w", err))
	}
	done := map[string]bool{}
	if exists {
		var names []string
		if err := db.SelectContext(ctx, &names, `SELECT name FROM schema_migrations`); err != nil {
			return nil, Translate(fmt.Errorf("read schema_migrations: %w", err))
		}
		for _, n := range names {
			done[n] = true
		}
	}
	var pending []string
	for _, m := range ms {
		if !done[m.Name] {
			pending = append(pending, m.Name)
		}
	}
	return pending, nil
}
