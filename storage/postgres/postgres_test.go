package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/storage/postgres"
	"attivi/storage/postgres/pgtest"
)

func openEmpty(t *testing.T) *sqlx.DB {
	t.Helper()
	url := pgtest.NewEmptyURL(t, false)
	db, err := postgres.Open(context.Background(), url, postgres.DefaultPool)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrateAppliesEmbeddedMigrationsOnEmptyDatabase(t *testing.T) {
	db := openEmpty(t)
	ctx := context.Background()
	applied, err := postgres.Migrate(ctx, db, pgtest.Migrations)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	all, err := postgres.LoadMigrations(pgtest.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(all) || len(all) == 0 {
		t.Fatalf("applied %d migrations, want all %d", len(applied), len(all))
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if n != len(all) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(all))
	}
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM tenants`); err != nil {
		t.Errorf("tenants table missing after migrate: %v", err)
	}
	again, err := postgres.Migrate(ctx, db, pgtest.Migrations)
	if err != nil || len(again) != 0 {
		t.Errorf("second migrate applied %v (err %v), want nothing", again, err)
	}
	pending, err := postgres.Pending(ctx, db, pgtest.Migrations)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending after migrate = %v (err %v), want none", pending, err)
	}
}

// A migration that is not idempotent (CREATE TABLE, INSERT) would fail or
// double its rows if two runners applied it; the advisory lock prevents it.
func TestConcurrentMigrateAppliesEachFileOnce(t *testing.T) {
	db := openEmpty(t)
	ctx := context.Background()
	fsys := fstest.MapFS{
		"0001_create.sql": {Data: []byte(`CREATE TABLE counter (n int); SELECT pg_sleep(0.2);`)},
		"0002_insert.sql": {Data: []byte(`INSERT INTO counter VALUES (1);`)},
		"0003_insert.sql": {Data: []byte(`INSERT INTO counter VALUES (2); SELECT pg_sleep(0.1);`)},
	}
	const runners = 6
	var wg sync.WaitGroup
	results := make([][]string, runners)
	errs := make([]error, runners)
	for i := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = postgres.Migrate(ctx, db, fsys)
		}()
	}
	wg.Wait()
	total := 0
	for i := range runners {
		if errs[i] != nil {
			t.Errorf("runner %d: %v", i, errs[i])
		}
		total += len(results[i])
	}
	if total != 3 {
		t.Errorf("runners applied %d files in all, want 3 (each once)", total)
	}
	var sum int
	if err := db.GetContext(ctx, &sum, `SELECT coalesce(sum(n), 0) FROM counter`); err != nil {
		t.Fatal(err)
	}
	if sum != 3 {
		t.Errorf("counter sum = %d, want 3 (each insert once)", sum)
	}
}

func TestFailedMigrationLeavesNothingHalfApplied(t *testing.T) {
	db := openEmpty(t)
	ctx := context.Background()
	fsys := fstest.MapFS{
		"0001_ok.sql":     {Data: []byte(`CREATE TABLE a (n int);`)},
		"0002_broken.sql": {Data: []byte(`CREATE TABLE b (n int); INSERT INTO nowhere VALUES (1);`)},
	}
	applied, err := postgres.Migrate(ctx, db, fsys)
	if err == nil {
		t.Fatal("migrate with a broken file succeeded, want an error")
	}
	if len(applied) != 1 || applied[0] != "0001_ok.sql" {
		t.Errorf("applied = %v, want [0001_ok.sql]", applied)
	}
	var b *string
	if err := db.GetContext(ctx, &b, `SELECT to_regclass('b')::text`); err != nil {
		t.Fatal(err)
	}
	if b != nil {
		t.Errorf("table b exists after its migration failed: the file was not applied in one transaction")
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no number":     {"create.sql": {Data: []byte(`SELECT 1`)}},
		"shared number": {"0001_a.sql": {Data: []byte(`SELECT 1`)}, "0001_b.sql": {Data: []byte(`SELECT 1`)}},
	} {
		if _, err := postgres.LoadMigrations(fsys); err == nil {
			t.Errorf("%s: LoadMigrations succeeded, want an error", name)
		}
	}
}

func TestTranslate(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE parent (id int PRIMARY KEY, n int CHECK (n > 0)); CREATE TABLE child (p int REFERENCES parent (id))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO parent VALUES (1, 1)`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    string
		want apperr.Code
	}{
		{"unique", `INSERT INTO parent VALUES (1, 1)`, apperr.Conflict},
		{"foreign key", `INSERT INTO child VALUES (42)`, apperr.Invalid},
		{"check", `INSERT INTO parent VALUES (2, -1)`, apperr.Invalid},
	}
	for _, c := range cases {
		_, err := db.ExecContext(ctx, c.q)
		if got := apperr.CodeOf(postgres.Translate(err)); got != c.want {
			t.Errorf("%s: code %s, want %s (err %v)", c.name, got, c.want, err)
		}
	}
	var n int
	err := db.GetContext(ctx, &n, `SELECT n FROM parent WHERE id = 99`)
	if got := apperr.CodeOf(postgres.Translate(err)); got != apperr.NotFound {
		t.Errorf("no rows: code %s, want not_found", got)
	}
	if !errors.Is(postgres.Translate(err), sql.ErrNoRows) {
		t.Errorf("translated error lost its cause")
	}
}

func TestInTxRollsBackOnError(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n int)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the function's error", err)
	}
	if err := postgres.InTx(ctx, db, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var got []int
	if err := db.SelectContext(ctx, &got, `SELECT n FROM t`); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 2 {
		t.Errorf("rows = %v, want [2]: the failed transaction was not rolled back", got)
	}
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://x:y@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", postgres.DefaultPool)
	if err == nil {
		t.Fatal("open of a closed port succeeded")
	}
}
