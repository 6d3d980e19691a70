// Command referrals benchmarks the referrals API (issue 5, "Performance")
// on the database named by ATTIVI_DATABASE_URL, which it fills if needed:
// the network, N synthetic persons (synth.Generate) and M referrals
// (synth.GenerateReferrals). It serves the referral handlers over loopback
// HTTP in this process (a header names the acting tenant's staff member, in
// place of the login the server does) and measures:
//
//  1. the incoming inbox, GET /api/v1/referrals?direction=incoming&limit=50
//     (and &status=requested, and the second page by cursor), as job coaches
//     of the cooperatives and training agencies: latency p50/p90/p99/max and
//     throughput with C concurrent clients, plus the index scans of the
//     referrals table during the run (no sequential scan);
//
//  2. transitions with W concurrent writers over H referrals that move
//     in-progress <-> on-hold, each a GET (for the version) then a POST with
//     If-Match: successful transitions per second, conflicts, latency; then
//     it checks that no update was lost: for every referral, the version grew
//     by exactly its successful transitions and its events are exactly
//     versions 1..version.
//
//     go run ./bench/referrals -persons 100000 -referrals 300000 -duration 20s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/bench/synth"
	"attivi/migrations"
	"attivi/policies"
	"attivi/services/referrals"
	"attivi/storage/postgres"
	"attivi/tenants"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	persons, referrals      int
	seed                    uint64
	duration                time.Duration
	conc, writers, hot, lim int
}

func run() error {
	var c config
	flag.IntVar(&c.persons, "persons", 100_000, "synthetic persons")
	flag.IntVar(&c.referrals, "referrals", 300_000, "synthetic referrals")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the synthetic data")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "duration of each load phase")
	flag.IntVar(&c.conc, "c", 8, "concurrent clients of the inbox")
	flag.IntVar(&c.writers, "writers", 8, "concurrent writers of transitions")
	flag.IntVar(&c.hot, "hot", 100, "referrals the writers move (fewer: more contention)")
	flag.IntVar(&c.lim, "limit", 50, "page size of the inbox")
	flag.Parse()
	url := os.Getenv("ATTIVI_DATABASE_URL")
	if url == "" {
		return errors.New("set ATTIVI_DATABASE_URL to a database the benchmark may fill")
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.DefaultPool)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := prepare(ctx, db, c); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	actors, err := staff(ctx, db, log)
	if err != nil {
		return err
	}
	engine, err := policies.New(ctx, db, log)
	if err != nil {
		return err
	}
	base, stop, err := serve(referrals.NewHandler(referrals.NewService(db, engine, time.Now, referrals.DefaultOverdueDays), nil), actors)
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	if err := inbox(ctx, db, client, base, actors, c); err != nil {
		return err
	}
	return transitions(ctx, db, client, base, actors, c)
}

func count(ctx context.Context, db *sqlx.DB, table string) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(*) FROM `+table)
	return n, err
}

// prepare migrates, seeds the network and the policy, and generates what is
// missing of the synthetic data.
func prepare(ctx context.Context, db *sqlx.DB, c config) error {
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
	if n, err := count(ctx, db, "persons"); err != nil {
		return err
	} else if n < c.persons {
		t0 := time.Now()
		if err := synth.Generate(ctx, db, c.persons, c.seed, os.Stdout); err != nil {
			return err
		}
		fmt.Printf("persons generated in %s\n", time.Since(t0).Round(time.Second))
	}
	if n, err := count(ctx, db, "referrals"); err != nil {
		return err
	} else if n < c.referrals {
		t0 := time.Now()
		if err := synth.GenerateReferrals(ctx, db, c.referrals, c.seed); err != nil {
			return err
		}
		fmt.Printf("referrals generated in %s\n", time.Since(t0).Round(time.Second))
	}
	var st struct {
		Persons   int `db:"persons"`
		Referrals int `db:"referrals"`
		Events    int `db:"events"`
		Links     int `db:"links"`
		Requested int `db:"requested"`
	}
	err := db.GetContext(ctx, &st, `SELECT (SELECT count(*) FROM persons) AS persons, (SELECT count(*) FROM referrals) AS referrals,
		(SELECT count(*) FROM referral_events) AS events, (SELECT count(*) FROM person_links) AS links,
		(SELECT count(*) FROM referrals WHERE status = 'requested') AS requested`)
	if err != nil {
		return err
	}
	fmt.Printf("data: %d persons, %d referrals (%d requested), %d referral events, %d person links\n",
		st.Persons, st.Referrals, st.Requested, st.Events, st.Links)
	return nil
}

// staff adds a job coach to every cooperative and training agency (the
// recipients) and returns them as actors by tenant slug.
func staff(ctx context.Context, db *sqlx.DB, log *slog.Logger) (map[string]tenants.Actor, error) {
	id, err := tenants.NewIdentity(db, tenants.DefaultAuth, log, time.Now, nil)
	if err != nil {
		return nil, err
	}
	var ts []struct {
		ID   string `db:"id"`
		Slug string `db:"slug"`
		Kind string `db:"kind"`
	}
	if err := db.SelectContext(ctx, &ts, `SELECT id, slug, kind FROM tenants WHERE kind IN ('third_sector', 'training_agency') ORDER BY slug`); err != nil {
		return nil, err
	}
	out := map[string]tenants.Actor{}
	for _, t := range ts {
		email := "bench.coach." + t.Slug + "@attivi.example"
		m, _, err := id.AddMember(ctx, t.Slug, tenants.NewMember{Email: email, Password: "bench-referrals-Arno-2026",
			Roles: []string{string(tenants.RoleJobCoach)}}, nil)
		if err != nil {
			return nil, fmt.Errorf("staff of %s: %w", t.Slug, err)
		}
		out[t.Slug] = tenants.Actor{UserID: m.ID, Email: email, TenantID: t.ID, TenantSlug: t.Slug, TenantKind: tenants.Kind(t.Kind),
			Roles: []tenants.Role{tenants.RoleJobCoach}}
	}
	return out, nil
}

// serve runs the referral handlers on a loopback port; X-Bench-Actor names
// the tenant whose job coach acts.
func serve(h *referrals.Handler, actors map[string]tenants.Actor) (string, func(), error) {
	app := fiber.New(fiber.Config{Immutable: true, DisableStartupMessage: true, ErrorHandler: func(c *fiber.Ctx, err error) error {
		code := map[apperr.Code]int{apperr.Malformed: 400, apperr.Invalid: 422, apperr.Forbidden: 403, apperr.NotFound: 404,
			apperr.Conflict: 409, apperr.Unavailable: 503}[apperr.CodeOf(err)]
		if code == 0 {
			code = 500
		}
		return c.Status(code).JSON(fiber.Map{"error": fiber.Map{"code": apperr.CodeOf(err), "message": err.Error()}})
	}})
	app.Use(func(c *fiber.Ctx) error {
		if a, ok := actors[c.Get("X-Bench-Actor")]; ok {
			c.SetUserContext(tenants.WithActor(c.UserContext(), a))
		}
		return c.Next()
	})
	app.Get("/api/v1/referrals", h.List)
	app.Get("/api/v1/referrals/:id", h.Get)
	app.Post("/api/v1/referrals/:id/transitions", h.Transition)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go app.Listener(ln) //nolint:errcheck // ends with Shutdown
	return "http://" + ln.Addr().String(), func() { _ = app.Shutdown() }, nil
}

// latencies collects request durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(name string, elapsed time.Duration, errs int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.d)
	q := func(p float64) time.Duration {
		if len(l.d) == 0 {
			return 0
		}
		return l.d[min(len(l.d)-1, int(p*float64(len(l.d))))]
	}
	fmt.Printf("  %-44s %7d req in %s = %7.1f req/s  p50 %6.2fms  p90 %6.2fms  p99 %6.2fms  max %6.2fms  errors %d\n",
		name, len(l.d), elapsed.Round(time.Millisecond), float64(len(l.d))/elapsed.Seconds(),
		ms(q(0.50)), ms(q(0.90)), ms(q(0.99)), ms(q(1)), errs)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type resp struct {
	status int
	body   []byte
}

func call(client *http.Client, method, url, actor string, body string, headers ...string) (resp, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return resp{}, err
	}
	req.Header.Set("X-Bench-Actor", actor)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return resp{res.StatusCode, b}, err
}

type scanStats struct {
	Seq int64 `db:"seq_scan"`
	Idx int64 `db:"idx_scan"`
}

func tableScans(ctx context.Context, db *sqlx.DB) (scanStats, error) {
	var s scanStats
	err := db.GetContext(ctx, &s, `SELECT seq_scan, coalesce(idx_scan, 0) AS idx_scan FROM pg_stat_user_tables WHERE relname = 'referrals'`)
	return s, err
}

// inbox loads the incoming inboxes of the recipients.
func inbox(ctx context.Context, db *sqlx.DB, client *http.Client, base string, actors map[string]tenants.Actor, c config) error {
	var slugs []string
	var sizes []string
	for s := range actors {
		slugs = append(slugs, s)
	}
	slices.Sort(slugs)
	for _, s := range slugs {
		var n int
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM referrals WHERE to_tenant_id = $1`, actors[s].TenantID); err != nil {
			return err
		}
		sizes = append(sizes, fmt.Sprintf("%s %d", s, n))
	}
	fmt.Printf("\n== incoming inbox, %d clients, %s per variant; inbox sizes: %s\n", c.conc, c.duration, strings.Join(sizes, ", "))
	// The cursor of each tenant's first page, for the second-page variant.
	cursors := map[string]string{}
	for _, s := range slugs {
		r, err := call(client, "GET", fmt.Sprintf("%s/api/v1/referrals?direction=incoming&limit=%d", base, c.lim), s, "")
		if err != nil || r.status != 200 {
			return fmt.Errorf("first page of %s: %d %s %v", s, r.status, r.body, err)
		}
		var l struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &l); err != nil {
			return err
		}
		cursors[s] = l.NextCursor
	}
	variants := []struct {
		name  string
		query func(slug string) string
	}{
		{"?direction=incoming&limit=50", func(string) string { return fmt.Sprintf("direction=incoming&limit=%d", c.lim) }},
		{"?direction=incoming&status=requested&limit=50", func(string) string {
			return fmt.Sprintf("direction=incoming&status=requested&limit=%d", c.lim)
		}},
		{"?direction=incoming&limit=50&cursor= (page 2)", func(s string) string {
			return fmt.Sprintf("direction=incoming&limit=%d&cursor=%s", c.lim, cursors[s])
		}},
	}
	for _, v := range variants {
		time.Sleep(600 * time.Millisecond) // statistics are flushed at most every 500ms
		before, err := tableScans(ctx, db)
		if err != nil {
			return err
		}
		var lat latencies
		var errs atomic.Int64
		deadline := time.Now().Add(c.duration)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range c.conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for time.Now().Before(deadline) {
					s := slugs[r.IntN(len(slugs))]
					t0 := time.Now()
					res, err := call(client, "GET", base+"/api/v1/referrals?"+v.query(s), s, "")
					lat.add(time.Since(t0))
					if err != nil || res.status != 200 {
						errs.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		lat.report(v.name, time.Since(start), errs.Load())
		time.Sleep(600 * time.Millisecond) // statistics are flushed at most every 500ms
		after, err := tableScans(ctx, db)
		if err != nil {
			return err
		}
		fmt.Printf("  %-44s referrals table: %d index scans, %d sequential scans during the run\n", "", after.Idx-before.Idx, after.Seq-before.Seq)
	}
	return nil
}

// transitions moves hot referrals in-progress <-> on-hold with concurrent
// writers, then checks that no update was lost.
func transitions(ctx context.Context, db *sqlx.DB, client *http.Client, base string, actors map[string]tenants.Actor, c config) error {
	var hot []struct {
		ID      string `db:"id"`
		Tenant  string `db:"slug"`
		Version int    `db:"version"`
		Events  int    `db:"events"`
	}
	err := db.SelectContext(ctx, &hot, `
SELECT r.id, t.slug, r.version, (SELECT count(*) FROM referral_events e WHERE e.referral_id = r.id) AS events
FROM referrals r JOIN tenants t ON t.id = r.to_tenant_id
WHERE r.status IN ('in-progress', 'on-hold') AND t.kind IN ('third_sector', 'training_agency')
ORDER BY r.id LIMIT $1`, c.hot)
	if err != nil {
		return err
	}
	if len(hot) == 0 {
		return errors.New("no referral in progress to move")
	}
	fmt.Printf("\n== transitions: %d writers over %d referrals in progress or on hold, %s (each: GET for the version, POST with If-Match)\n",
		c.writers, len(hot), c.duration)
	succeeded := make([]atomic.Int64, len(hot))
	var conflicts, other atomic.Int64
	var post latencies
	deadline := time.Now().Add(c.duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for time.Now().Before(deadline) {
				i := r.IntN(len(hot))
				h := hot[i]
				g, err := call(client, "GET", base+"/api/v1/referrals/"+h.ID, h.Tenant, "")
				if err != nil || g.status != 200 {
					other.Add(1)
					continue
				}
				var cur struct {
					Status  string `json:"status"`
					Version int    `json:"version"`
				}
				if err := json.Unmarshal(g.body, &cur); err != nil {
					other.Add(1)
					continue
				}
				next := "on-hold"
				if cur.Status == "on-hold" {
					next = "in-progress"
				}
				t0 := time.Now()
				p, err := call(client, "POST", base+"/api/v1/referrals/"+h.ID+"/transitions", h.Tenant, `{"to":"`+next+`"}`,
					"If-Match", fmt.Sprintf(`"%d"`, cur.Version))
				post.add(time.Since(t0))
				switch {
				case err != nil:
					other.Add(1)
				case p.status == 200:
					succeeded[i].Add(1)
				case p.status == 409:
					conflicts.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var total int64
	for i := range succeeded {
		total += succeeded[i].Load()
	}
	post.report("POST /api/v1/referrals/{id}/transitions", elapsed, other.Load())
	fmt.Printf("  %d successful transitions = %.1f/s, %d conflicts (409: a concurrent writer moved it first)\n",
		total, float64(total)/elapsed.Seconds(), conflicts.Load())

	// No lost update.
	var lost []string
	var events int64
	for i, h := range hot {
		var now struct {
			Version int `db:"version"`
			Events  int `db:"events"`
			Max     int `db:"max"`
			Min     int `db:"min"`
		}
		if err := db.GetContext(ctx, &now, `SELECT r.version, count(e.*) AS events, coalesce(max(e.version), 0) AS max, coalesce(min(e.version), 0) AS min
			FROM referrals r LEFT JOIN referral_events e ON e.referral_id = r.id WHERE r.id = $1 GROUP BY r.version`, h.ID); err != nil {
			return err
		}
		n := int(succeeded[i].Load())
		events += int64(now.Events - h.Events)
		if now.Version != h.Version+n || now.Events != now.Version || now.Max != now.Version || now.Min != 1 {
			lost = append(lost, fmt.Sprintf("%s: version %d -> %d with %d successful transitions; %d events %d..%d",
				h.ID, h.Version, now.Version, n, now.Events, now.Min, now.Max))
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("lost updates:\n%s", strings.Join(lost, "\n"))
	}
	fmt.Printf("  no lost update: versions grew by exactly %d in all (the successful transitions), %d new events, every referral's events are versions 1..version\n",
		total, events)
	return nil
}
