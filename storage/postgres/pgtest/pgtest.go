// Package pgtest gives each test a fresh, migrated PostgreSQL database,
// created from a template so that it costs milliseconds, on the server named
// by ATTIVI_DATABASE_URL (started by `make test`).
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/migrations"
	"attivi/storage/postgres"
)

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// BaseURL returns ATTIVI_DATABASE_URL. Without it the test is skipped, or
// fails when running in CI, where a skipped database test would hide a
// broken setup.
func BaseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("ATTIVI_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("ATTIVI_DATABASE_URL is not set: run the tests with `make test`")
		}
		tb.Skip("ATTIVI_DATABASE_URL is not set: run the tests with `make test`")
	}
	return u
}

// New returns an open pool on a new database with every migration applied.
// The database is dropped when the test ends.
func New(tb testing.TB) *sqlx.DB {
	tb.Helper()
	db, _ := NewWithURL(tb)
	return db
}

// NewWithURL is New that also returns the database's URL, for tests that run
// the program itself against it.
func NewWithURL(tb testing.TB) (*sqlx.DB, string) {
	tb.Helper()
	dbURL := NewEmptyURL(tb, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, dbURL, postgres.PoolConfig{MaxOpen: 8, MaxIdle: 4, MaxLifetime: time.Minute, MaxIdleTime: time.Minute})
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, dbURL
}

// NewEmptyURL creates a new database, migrated when migrated is true or
// empty otherwise, and returns its URL. It is dropped when the test ends
// (after the test's own cleanups, which close its pools).
func NewEmptyURL(tb testing.TB, migrated bool) string {
	tb.Helper()
	base := BaseURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := sqlx.ConnectContext(ctx, "postgres", base)
	if err != nil {
		tb.Fatalf("connect to test server: %v", err)
	}
	defer admin.Close()
	src := "template0"
	if migrated {
		templateOnce.Do(func() { templateName, templateErr = ensureTemplate(base) })
		if templateErr != nil {
			tb.Fatalf("prepare template database: %v", templateErr)
		}
		src = templateName
	}
	name := "attivi_t_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, src)); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := sqlx.ConnectContext(ctx, "postgres", base)
		if err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(base, name)
}

// ensureTemplate creates, once per migration set, a database with every
// migration applied, marked as a template. Test binaries of several packages
// run at once: an advisory lock makes them build it once between them.
func ensureTemplate(base string) (string, error) {
	h := sha256.New()
	ms, err := postgres.LoadMigrations(migrations.FS)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		h.Write([]byte(m.Name))
		h.Write([]byte(m.SQL))
	}
	sum := h.Sum(nil)
	name := "attivi_tpl_" + hex.EncodeToString(sum[:6])
	lockKey := int64(binary.BigEndian.Uint64(sum[:8]) >> 1)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := sqlx.ConnectContext(ctx, "postgres", base)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Connx(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockKey) //nolint:errcheck

	var isTemplate *bool
	if err := conn.GetContext(ctx, &isTemplate, `SELECT (SELECT datistemplate FROM pg_database WHERE datname = $1)`, name); err != nil {
		return "", err
	}
	if isTemplate != nil && *isTemplate {
		return name, nil
	}
	if isTemplate != nil { // left half-made by a crashed run
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE %s WITH (FORCE)`, name)); err != nil {
			return "", err
		}
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE template0`, name)); err != nil {
		return "", err
	}
	tdb, err := postgres.Open(ctx, withDatabase(base, name), postgres.PoolConfig{MaxOpen: 2, MaxIdle: 1, MaxLifetime: time.Minute, MaxIdleTime: time.Minute})
	if err != nil {
		return "", err
	}
	_, merr := postgres.Migrate(ctx, tdb, migrations.FS)
	tdb.Close()
	if merr != nil {
		return "", fmt.Errorf("migrate template: %w", merr)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s WITH IS_TEMPLATE true`, name)); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Migrations is the embedded migration set, for tests of the runner.
var Migrations fs.FS = migrations.FS
