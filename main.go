// Command attivi is the ATTIVI network platform: one binary that serves the
// API and the staff interface, migrates the database and seeds the network.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/bench/synth"
	"attivi/migrations"
	"attivi/policies"
	"attivi/server"
	"attivi/services/consents"
	"attivi/services/people"
	"attivi/storage/objects"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "attivi:", err)
		os.Exit(1)
	}
}

// command is one subcommand: what it does, which settings it needs, and its
// body, which gets the loaded configuration and the remaining arguments.
type command struct {
	name, summary, detail string
	need                  need
	run                   func(ctx context.Context, env *environment, args []string) error
}

// environment is what every command gets: configuration, logger, output.
type environment struct {
	cfg    Config
	log    *slog.Logger
	stdout io.Writer
	// listening, when set, is told the address the server listens on (tests).
	listening func(addr string)
	// synthetic is seed's --synthetic N.
	synthetic int
}

func commands() []command {
	return []command{
		{name: "serve", summary: "serve the API on ATTIVI_LISTEN until SIGINT or SIGTERM",
			detail: "Serves the HTTP API. Refuses to start if the database schema is not up to date (run\n" +
				"'attivi migrate' first). On SIGINT/SIGTERM it stops accepting connections and lets\n" +
				"requests in flight finish within ATTIVI_SHUTDOWN_TIMEOUT.",
			need: need{db: true, s3: true}, run: serve},
		{name: "migrate", summary: "apply the database migrations that are not applied yet",
			detail: "Applies the embedded migrations in order, each in its own transaction, recorded in\n" +
				"schema_migrations. Safe to run from several instances at once: an advisory lock makes\n" +
				"them take turns, and each file is applied exactly once.",
			need: need{db: true}, run: migrate},
		{name: "seed", summary: "load the network: municipalities and the tenants of the zone",
			detail: "Loads the municipality reference table and the 31 tenants of the network (DESIGN\n" +
				"section 4). Idempotent: a second run changes nothing.",
			need: need{db: true}, run: seed},
		{name: "users", summary: "add staff accounts and disable them (attivi users --help)",
			detail: "  attivi users add --tenant SLUG --email EMAIL --role ROLE [--name NAME] [--password-stdin]\n" +
				"  attivi users disable --email EMAIL\n" +
				"The first administrator of a deployment: attivi users add --tenant coordinamento-attivi\n" +
				"--email you@example.org --role network_admin --password-stdin",
			need: need{db: true}, run: users},
		{name: "audit", summary: "check the access log's hash chain (attivi audit verify)",
			detail: "  attivi audit verify\n" +
				"Recomputes the hash of every access-log row and its link to the previous one, and\n" +
				"reports altered, removed or reordered rows. Exits non-zero when the chain is broken.",
			need: need{db: true}, run: audit},
		{name: "storage", summary: "sweep dead uploads, verify the consent documents (attivi storage --help)",
			detail: storageDetail, need: need{db: true, s3: true}, run: storage},
		{name: "version", summary: "print the version and exit", run: printVersion},
	}
}

// run is the whole program: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return runWith(ctx, args, getenv, stdout, nil)
}

func runWith(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, listening func(string)) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout, cmds)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return flag.ErrHelp
	}
	for _, cmd := range cmds {
		if cmd.name != args[0] {
			continue
		}
		rest := args[1:]
		synthetic := 0
		if cmd.name == "users" || cmd.name == "audit" { // have subcommands with their own flags
			if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
				commandUsage(stdout, cmd)
				return flag.ErrHelp
			}
		} else {
			fs := flag.NewFlagSet("attivi "+cmd.name, flag.ContinueOnError)
			fs.SetOutput(stdout)
			fs.Usage = func() { commandUsage(stdout, cmd); fs.PrintDefaults() }
			if cmd.name == "seed" {
				fs.IntVar(&synthetic, "synthetic", 0, "also generate N synthetic persons with links and consents (for benchmarks; never in production)")
			}
			if err := fs.Parse(rest); err != nil {
				return err
			}
			rest = fs.Args()
		}
		cfg, err := loadConfig(getenv, cmd.need)
		if err != nil {
			return err
		}
		env := &environment{cfg: cfg, log: newLogger(cfg, stdout), stdout: stdout, listening: listening, synthetic: synthetic}
		return cmd.run(ctx, env, rest)
	}
	usage(stdout, cmds)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "attivi: the ATTIVI network platform\n\nUsage: attivi <command> [--help]\n\nCommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

func commandUsage(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: attivi %s\n\n%s.\n", c.name, strings.ToUpper(c.summary[:1])+c.summary[1:])
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", c.detail)
	}
	fmt.Fprintln(w, "\nEnvironment:")
	for _, e := range envVars {
		if !usesVar(c, e.Name) {
			continue
		}
		def := ""
		if e.Default != "" {
			def = " (default " + e.Default + ")"
		} else if (c.need.db && e.Name == "ATTIVI_DATABASE_URL") || (c.need.s3 && strings.HasPrefix(e.Name, "ATTIVI_S3_")) {
			def = " (required)"
		}
		fmt.Fprintf(w, "  %-24s %s%s\n", e.Name, e.Help, def)
	}
}

// usesVar says whether command c reads the variable, for its --help.
func usesVar(c command, name string) bool {
	switch {
	case name == "ATTIVI_ENV" || name == "ATTIVI_LOG_LEVEL":
		return true
	case name == "ATTIVI_DATABASE_URL" || name == "ATTIVI_DB_MAX_CONNS":
		return c.need.db
	case strings.HasPrefix(name, "ATTIVI_S3_"):
		return c.need.s3
	default: // HTTP and session settings
		return c.name == "serve"
	}
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Env == "production" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func openDB(ctx context.Context, cfg Config) (*sqlx.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	pc := postgres.DefaultPool
	pc.MaxOpen, pc.MaxIdle = cfg.DBMaxConns, cfg.DBMaxConns
	return postgres.Open(ctx, cfg.DatabaseURL, pc)
}

func migrate(ctx context.Context, env *environment, _ []string) error {
	db, err := openDB(ctx, env.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := postgres.Migrate(ctx, db, migrations.FS)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(env.stdout, "migrate: the database is up to date")
	}
	for _, name := range applied {
		fmt.Fprintln(env.stdout, "migrate: applied", name)
	}
	return nil
}

func seed(ctx context.Context, env *environment, _ []string) error {
	db, err := openDB(ctx, env.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := requireSchema(ctx, db); err != nil {
		return err
	}
	munis := append(append([]tenants.Municipality{}, tenants.ZoneMunicipalities...), tenants.FormerMunicipalities...)
	res, err := tenants.NewStore(db).Seed(ctx, munis, tenants.Network())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "seed: municipalities %d added, %d updated; tenants %d added, %d updated\n",
		res.MunicipalitiesInserted, res.MunicipalitiesUpdated, res.TenantsInserted, res.TenantsUpdated)
	seeded, err := policies.Seed(ctx, db)
	if err != nil {
		return err
	}
	if seeded {
		fmt.Fprintln(env.stdout, "seed: default access policy loaded")
	}
	if env.cfg.Env != "development" {
		if env.synthetic > 0 {
			return errors.New("seed: --synthetic makes fake persons and is refused with ATTIVI_ENV=production")
		}
		return nil
	}
	if env.synthetic > 0 {
		if err := synth.Generate(ctx, db, env.synthetic, 1, env.stdout); err != nil {
			return err
		}
	}
	id, err := tenants.NewIdentity(db, tenants.DefaultAuth, env.log, time.Now, nil)
	if err != nil {
		return err
	}
	if err := id.SeedDemo(ctx); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "seed: demo accounts (development only), password %q:\n", tenants.DemoPassword)
	for _, d := range tenants.DemoAccounts {
		fmt.Fprintf(env.stdout, "  %-36s %-28s %s\n", d.Email, d.Tenant, strings.Join(d.Roles, ", "))
	}
	return nil
}

func requireSchema(ctx context.Context, db *sqlx.DB) error {
	pending, err := postgres.Pending(ctx, db, migrations.FS)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("the database schema is not up to date (%d migrations pending, first %s): run 'attivi migrate'", len(pending), pending[0])
	}
	return nil
}

func serve(ctx context.Context, env *environment, _ []string) error {
	cfg, log := env.cfg, env.log
	log.Info("starting attivi", slog.String("version", versionString()), slog.Any("config", cfg))
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := requireSchema(ctx, db); err != nil {
		return err
	}
	store, err := objects.New(objects.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Bucket: cfg.S3Bucket, Secure: cfg.S3Secure})
	if err != nil {
		return fmt.Errorf("document store: %w", err)
	}
	engine, err := policies.New(ctx, db, log)
	if err != nil {
		return fmt.Errorf("load the access policy: %w", err)
	}
	if _, rules := engine.Policy(); len(rules) == 0 {
		log.Warn("the access policy is empty, so every request for data is refused: run 'attivi seed'")
	}
	watching, err := engine.Watch(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("watch policy changes: %w", err)
	}
	defer func() { <-watching }()
	auth := tenants.DefaultAuth
	auth.SessionTTL, auth.IdleTimeout = cfg.SessionTTL, cfg.SessionIdle
	identity, err := tenants.NewIdentity(db, auth, log, time.Now, func(ctx context.Context) {
		if err := engine.Reload(ctx); err != nil {
			log.Error("reload the access policy after a role change", slog.String("error", err.Error()))
		}
	})
	if err != nil {
		return err
	}

	// The document store may be down at start: everything but documents
	// works without it, so the bucket is ensured in the background until it
	// succeeds, and /readyz says 503 meanwhile.
	go ensureBucket(ctx, store, log)

	docs, err := consents.NewDocuments(consents.NewService(db, engine, time.Now), people.NewService(db, engine, time.Now, log), store,
		consents.DocumentConfig{MaxBytes: cfg.DocumentMaxBytes, RetentionYears: cfg.DocumentRetentionYears, SweepGrace: cfg.DocumentSweepGrace}, log)
	if err != nil {
		return err
	}
	go docs.Janitor().Run(ctx, 10*time.Minute) // dead uploads, in the background
	go forgetIdempotencyKeys(ctx, db, log, time.Hour)

	app := server.New(context.WithoutCancel(ctx), server.Handlers(server.Wiring{
		DB: db, Engine: engine, Identity: identity, Logger: log, Now: time.Now,
		ReferralOverdueDays: cfg.ReferralOverdueDays,
		Documents:           docs,
		Env:                 cfg.Env,
		Ready: []server.Check{
			{Name: "postgres", Check: func(ctx context.Context) error { return postgres.Ping(ctx, db) }},
			{Name: "minio", Check: store.Ready},
		},
	}), server.Options{
		BodyLimit:       cfg.BodyLimit,
		ReadTimeout:     server.DefaultOptions.ReadTimeout,
		WriteTimeout:    server.DefaultOptions.WriteTimeout,
		IdleTimeout:     server.DefaultOptions.IdleTimeout,
		RequestTimeout:  cfg.RequestTimeout,
		ShutdownTimeout: cfg.ShutdownTimeout,
		TrustedProxies:  cfg.TrustedProxies,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()))
	if env.listening != nil {
		env.listening(ln.Addr().String())
	}
	return server.Serve(ctx, app, ln, cfg.ShutdownTimeout, log)
}

// forgetIdempotencyKeys deletes expired idempotency keys (and the
// responses they kept) every period until ctx ends. Any instance may do it:
// the delete is the same whoever runs it.
func forgetIdempotencyKeys(ctx context.Context, db *sqlx.DB, log *slog.Logger, every time.Duration) {
	for {
		n, err := server.ForgetIdempotencyKeys(ctx, db, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("forget expired idempotency keys", slog.String("error", err.Error()))
		case n > 0:
			log.Info("expired idempotency keys forgotten", slog.Int64("keys", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func ensureBucket(ctx context.Context, store *objects.Store, log *slog.Logger) {
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := store.EnsureBucket(cctx)
		cancel()
		if err == nil {
			log.Info("document store ready", slog.Bool("object_lock", store.ObjectLock()))
			return
		}
		log.Warn("document store not ready, retrying", slog.String("error", err.Error()), slog.Duration("in", delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

func printVersion(_ context.Context, env *environment, _ []string) error {
	fmt.Fprintln(env.stdout, "attivi", versionString())
	return nil
}

func audit(ctx context.Context, env *environment, args []string) error {
	if len(args) != 1 || args[0] != "verify" {
		return errors.New("audit: the only subcommand is verify (attivi audit verify)")
	}
	db, err := openDB(ctx, env.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := requireSchema(ctx, db); err != nil {
		return err
	}
	v, err := policies.VerifyAccessLog(ctx, db)
	if err != nil {
		return err
	}
	if len(v.Broken) > 0 {
		for _, b := range v.Broken {
			fmt.Fprintln(env.stdout, "audit:", b)
		}
		return fmt.Errorf("the access log has been tampered with: %d problems found in %d rows", len(v.Broken), v.Rows)
	}
	fmt.Fprintf(env.stdout, "audit: the access log is intact (%d rows)\n", v.Rows)
	return nil
}
