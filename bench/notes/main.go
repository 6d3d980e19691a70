// Command notes measures the case-notes list and full-text search (issue 7,
// "Performance") on a database of its own: it creates the database
// attivi_bench_notes next to the one ATTIVI_DATABASE_URL names (unless -url
// gives one), migrates and seeds it, fills it with -n synthetic notes over
// -n/10 synthetic persons (bench/synth), and then, for a few staff members of
// tenants that may read a small, a middling and a large part of the notes,
// times the notes service (SQL, access decision and access-log writes; no
// HTTP) for:
//
//	list     GET /api/v1/notes?limit=50                 first page, newest first
//	page5    the fifth page of the same list (keyset cursor)
//	search   GET /api/v1/notes?q=<common words>&limit=50
//	rare     GET /api/v1/notes?q=<rare word>&limit=50
//	person   GET /api/v1/persons/{id}/notes             a random person the tenant sees
//
// and prints p50, p99 and max per query, plus a 4-worker throughput run of
// the list. Usage: go run ./bench/notes [-n 1000000] [-requests 200] [-seed 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/bench/synth"
	"attivi/migrations"
	"attivi/policies"
	"attivi/services/notes"
	"attivi/storage/postgres"
	"attivi/tenants"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench notes:", err)
		os.Exit(1)
	}
}

type reader struct {
	slug string
	role tenants.Role
}

// The readers: a cooperative (job coach), the addiction service (health
// worker) and the largest municipality (social worker).
var readers = []reader{{"cat", tenants.RoleJobCoach}, {"serd-sud-est", tenants.RoleHealthWorker}, {"comune-bagno-a-ripoli", tenants.RoleSocialWorker}}

func run() error {
	n := flag.Int("n", 1_000_000, "synthetic notes")
	requests := flag.Int("requests", 200, "timed requests per query and reader")
	seed := flag.Uint64("seed", 1, "seed of the synthetic data")
	dbURL := flag.String("url", "", "database (default: attivi_bench_notes beside ATTIVI_DATABASE_URL)")
	flag.Parse()
	ctx := context.Background()
	if *dbURL == "" {
		base := os.Getenv("ATTIVI_DATABASE_URL")
		if base == "" {
			return fmt.Errorf("set ATTIVI_DATABASE_URL or -url")
		}
		u, err := url.Parse(base)
		if err != nil {
			return err
		}
		admin, err := sqlx.ConnectContext(ctx, "postgres", base)
		if err != nil {
			return err
		}
		var exists bool
		if err := admin.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'attivi_bench_notes')`); err != nil {
			return err
		}
		if !exists {
			if _, err := admin.ExecContext(ctx, `CREATE DATABASE attivi_bench_notes`); err != nil {
				return err
			}
		}
		admin.Close()
		u.Path = "/attivi_bench_notes"
		*dbURL = u.String()
	}
	db, err := postgres.Open(ctx, *dbURL, postgres.DefaultPool)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := postgres.Migrate(ctx, db, migrations.FS); err != nil {
		return err
	}
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, slices.Concat(tenants.ZoneMunicipalities, tenants.FormerMunicipalities), tenants.Network()); err != nil {
		return err
	}
	if _, err := policies.Seed(ctx, db); err != nil {
		return err
	}
	start := time.Now()
	if err := synth.GenerateNotes(ctx, db, *n, *seed); err != nil {
		return err
	}
	var persons, total int
	_ = db.GetContext(ctx, &persons, `SELECT count(*) FROM persons`)
	_ = db.GetContext(ctx, &total, `SELECT count(*) FROM notes`)
	fmt.Printf("== data: %d persons, %d notes (generation and checks took %s)\n", persons, total, time.Since(start).Round(time.Second))

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ident, err := tenants.NewIdentity(db, tenants.DefaultAuth, log, time.Now, nil)
	if err != nil {
		return err
	}
	var actors []tenants.Actor
	for _, r := range readers {
		m, _, err := ident.AddMember(ctx, r.slug, tenants.NewMember{Email: "bench-notes@" + r.slug + ".example", Password: "una frase lunga per il banco di prova",
			Roles: []string{string(r.role)}}, nil)
		if err != nil {
			return err
		}
		t, err := store.BySlug(ctx, r.slug)
		if err != nil {
			return err
		}
		actors = append(actors, tenants.Actor{UserID: m.ID, TenantID: t.ID, TenantSlug: t.Slug, TenantKind: t.Kind, Roles: []tenants.Role{r.role}})
	}
	engine, err := policies.New(ctx, db, log)
	if err != nil {
		return err
	}
	svc := notes.NewService(db, engine, time.Now, log, nil, nil)

	for _, a := range actors {
		var linked, ofLinked, own int
		_ = db.GetContext(ctx, &linked, `SELECT count(DISTINCT person_id) FROM person_links WHERE tenant_id = $1 AND ended_at IS NULL`, a.TenantID)
		_ = db.GetContext(ctx, &ofLinked, `SELECT count(*) FROM notes WHERE person_id IN (SELECT person_id FROM person_links WHERE tenant_id = $1 AND ended_at IS NULL)`, a.TenantID)
		_ = db.GetContext(ctx, &own, `SELECT count(*) FROM notes WHERE author_tenant_id = $1`, a.TenantID)
		readable, visiblePersons, err := countReadable(ctx, svc, a)
		if err != nil {
			return err
		}
		fmt.Printf("\n== %s (%s): linked to %d persons (%d notes), wrote %d notes; may read %d notes (%.2f%% of %d) of %d persons\n",
			a.TenantSlug, a.Roles[0], linked, ofLinked, own, readable, 100*float64(readable)/float64(total), total, len(visiblePersons))
		list := func(p notes.ListParams) func() error {
			return func() error { _, err := svc.List(ctx, a, "bench", p); return err }
		}
		// The cursor of page 5.
		p := notes.ListParams{Limit: 51}
		for range 4 {
			ns, err := svc.List(ctx, a, "bench", p)
			if err != nil {
				return err
			}
			if len(ns) < 51 {
				break
			}
			p.After = notes.CursorOf(ns[49])
		}
		i := 0
		byPerson := func() error {
			if len(visiblePersons) == 0 {
				return nil
			}
			i++
			_, err := svc.List(ctx, a, "bench", notes.ListParams{PersonID: visiblePersons[i%len(visiblePersons)], Limit: 51})
			return err
		}
		for _, q := range []struct {
			name string
			f    func() error
		}{
			{"list", list(notes.ListParams{Limit: 51})},
			{"page5", list(p)},
			{"search", list(notes.ListParams{Limit: 51, Query: "tirocinio azienda"})},
			{"rare", list(notes.ListParams{Limit: 51, Query: "ausili postazione"})},
			{"person", byPerson},
		} {
			d, err := timeIt(*requests, q.f)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			fmt.Printf("   %-7s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%d requests)\n", q.name, ms(d[len(d)/2]), ms(d[len(d)*99/100]), ms(d[len(d)-1]), len(d))
		}
		rps, err := throughput(4, 5*time.Second, list(notes.ListParams{Limit: 51}))
		if err != nil {
			return err
		}
		fmt.Printf("   list, 4 workers for 5 s: %.0f requests/s\n", rps)
	}
	return nil
}

// countReadable pages through every note the actor may read.
func countReadable(ctx context.Context, svc *notes.Service, a tenants.Actor) (int, []string, error) {
	p := notes.ListParams{Limit: 201}
	count := 0
	seen := map[string]bool{}
	var persons []string
	for {
		ns, err := svc.List(ctx, a, "bench-count", p)
		if err != nil {
			return 0, nil, err
		}
		page := ns[:min(len(ns), 200)]
		count += len(page)
		for _, n := range page {
			if !seen[n.PersonID] {
				seen[n.PersonID] = true
				persons = append(persons, n.PersonID)
			}
		}
		if len(ns) <= 200 || count > 300_000 {
			return count, persons, nil
		}
		p.After = notes.CursorOf(ns[199])
	}
}

func timeIt(n int, f func() error) ([]time.Duration, error) {
	for range 5 { // warm up
		if err := f(); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, n)
	for i := range n {
		t := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		out[i] = time.Since(t)
	}
	slices.Sort(out)
	return out, nil
}

func throughput(workers int, d time.Duration, f func() error) (float64, error) {
	var mu sync.Mutex
	var firstErr error
	count := 0
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				err := f()
				mu.Lock()
				count++
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(count) / d.Seconds(), firstErr
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
