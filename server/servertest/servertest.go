// Package servertest builds the whole server for tests, as `attivi serve`
// does: the network and the default policy seeded on a PostgreSQL test
// database (pgtest), the policies engine, the identity service on a settable
// clock, the consent documents on a MinIO bucket of its own (objtest) and
// every handler, behind server.New.
package servertest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/policies"
	"attivi/server"
	"attivi/services/consents"
	"attivi/services/people"
	"attivi/storage/objects/objtest"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// Config is what New builds the server from. The zero Config is a fresh
// database, server.DefaultOptions, no readiness checks and an empty
// ATTIVI_ENV (so the web interface's cookies are Secure).
type Config struct {
	// DB is the database to serve; nil is a fresh one from pgtest.New. Two
	// servers on one database stand for two instances of the program.
	DB *sqlx.DB
	// Env is ATTIVI_ENV, the wiring's Env.
	Env string
	// Options are the HTTP limits; the zero Options is server.DefaultOptions.
	Options server.Options
	// Ready are the checks the readiness probe asks.
	Ready []server.Check
}

// Server is the server under test and the parts tests reach into.
type Server struct {
	App      *fiber.App
	DB       *sqlx.DB
	Identity *tenants.Identity
	Engine   *policies.Engine
	// Clock is the identity service's time (sessions, lockouts); the rest
	// of the server runs on time.Now.
	Clock *Clock
	// Logs holds what the server logs, as JSON lines.
	Logs *LogBuffer
}

// New builds the server described by cfg. Whatever it makes (database,
// bucket) is removed when the test ends.
func New(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	db := cfg.DB
	if db == nil {
		db = pgtest.New(tb)
	}
	opts := cfg.Options
	if reflect.ValueOf(opts).IsZero() {
		opts = server.DefaultOptions
	}
	ctx := context.Background()
	munis := append(append([]tenants.Municipality{}, tenants.ZoneMunicipalities...), tenants.FormerMunicipalities...)
	if _, err := tenants.NewStore(db).Seed(ctx, munis, tenants.Network()); err != nil {
		tb.Fatalf("seed the network: %v", err)
	}
	if _, err := policies.Seed(ctx, db); err != nil {
		tb.Fatalf("seed the default policy: %v", err)
	}
	logs := &LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	engine, err := policies.New(ctx, db, log)
	if err != nil {
		tb.Fatalf("policies engine: %v", err)
	}
	clock := NewClock(time.Now())
	identity, err := tenants.NewIdentity(db, tenants.DefaultAuth, log, clock.Now, func(ctx context.Context) {
		if err := engine.Reload(ctx); err != nil {
			tb.Errorf("reload: %v", err)
		}
	})
	if err != nil {
		tb.Fatalf("identity service: %v", err)
	}
	docs, err := consents.NewDocuments(consents.NewService(db, engine, time.Now), people.NewService(db, engine, time.Now, log),
		objtest.New(tb), consents.DocumentConfig{MaxBytes: 8 << 20, RetentionYears: 10, SweepGrace: time.Hour}, log)
	if err != nil {
		tb.Fatalf("documents service: %v", err)
	}
	app := server.New(ctx, server.Handlers(server.Wiring{
		DB: db, Engine: engine, Identity: identity, Logger: log, Now: time.Now,
		Ready: cfg.Ready, Documents: docs, Env: cfg.Env,
	}), opts)
	return &Server{App: app, DB: db, Identity: identity, Engine: engine, Clock: clock, Logs: logs}
}

// Do sends req to app as a client would, with no time limit (the database
// answers when it does), and returns the response and its whole body.
func Do(tb testing.TB, app *fiber.App, req *http.Request) (*http.Response, []byte) {
	tb.Helper()
	resp, err := app.Test(req, -1)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read the body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// Clock is a settable time, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that stands at t until advanced.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d, backwards when d is negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// LogBuffer is a log destination tests can read while the server writes to
// it. The zero LogBuffer is empty and ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ActorHeader names, in a request to an ActorApp, the key of the actor
// that stands in for authentication.
const ActorHeader = "X-Test-Actor"

// ActorApp is a Fiber app for one service's handlers, as server.New would
// run them after authentication: the server's error handler, and the actor
// actors[X-Test-Actor] (none when the header names nobody) in the request's
// context. The map is read at each request, so actors added later count.
func ActorApp(actors map[string]tenants.Actor) *fiber.App {
	app := fiber.New(fiber.Config{Immutable: true, ErrorHandler: server.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.Use(func(c *fiber.Ctx) error {
		if a, ok := actors[c.Get(ActorHeader)]; ok {
			c.SetUserContext(tenants.WithActor(c.UserContext(), a))
		}
		return c.Next()
	})
	return app
}
