package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"attivi/services/consents"
	"attivi/storage/objects"
)

// storageDetail is the help of attivi storage.
const storageDetail = "  attivi storage sweep [--grace 1h] [--full=true]\n" +
	"  attivi storage verify\n" +
	"sweep removes what dead uploads left: pending document rows older than the grace period with\n" +
	"their objects and half-done multipart uploads, and with --full (the default) the objects under\n" +
	"consents/ that no row names. Every instance sweeps dead uploads in the background; run this after\n" +
	"a crash, or with --grace 0 when no instance is running.\n" +
	"verify re-reads every stored document and compares its size, SHA-256 and version with its row,\n" +
	"and reports objects no row names and dead uploads. Exits non-zero when it finds a problem."

// storage runs attivi storage sweep|verify.
func storage(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || (args[0] != "sweep" && args[0] != "verify") {
		return errors.New("storage: the subcommands are sweep and verify (attivi storage --help)")
	}
	fs := flag.NewFlagSet("attivi storage "+args[0], flag.ContinueOnError)
	fs.SetOutput(env.stdout)
	grace := fs.Duration("grace", consents.DefaultSweepGrace, "how old a pending upload must be to be taken for dead")
	full := fs.Bool("full", true, "also list the bucket and remove objects that no row names")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("storage %s: unexpected arguments %q", args[0], fs.Args())
	}
	if *grace < 0 {
		return errors.New("storage: --grace must not be negative")
	}
	db, err := openDB(ctx, env.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := requireSchema(ctx, db); err != nil {
		return err
	}
	cfg := env.cfg
	store, err := objects.New(objects.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Bucket: cfg.S3Bucket, Secure: cfg.S3Secure})
	if err != nil {
		return fmt.Errorf("document store: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = store.Ready(rctx)
	cancel()
	if err != nil {
		return fmt.Errorf("the document store is not reachable: %w", err)
	}
	j := consents.NewJanitor(db, store, *grace, env.log)

	if args[0] == "sweep" {
		r, err := j.Sweep(ctx, *grace, *full)
		fmt.Fprintf(env.stdout, "storage sweep: %d dead uploads removed, %d incomplete uploads aborted", r.DeadUploads, r.AbortedUploads)
		if *full {
			fmt.Fprintf(env.stdout, ", %d objects that no row names removed (of %d listed)", r.OrphanObjects, r.ObjectsExamined)
		}
		fmt.Fprintln(env.stdout)
		return err
	}
	r, err := j.Verify(ctx, prefixWriter{w: env.stdout, prefix: "storage verify: "})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "storage verify: %d documents re-read (%d bytes), %d objects listed\n", r.Checked, r.Bytes, r.Objects)
	if n := r.Mismatches + r.Orphans + r.DeadUploads; n > 0 {
		return fmt.Errorf("storage verify: %d documents differ from their rows, %d objects have no row, %d dead uploads",
			r.Mismatches, r.Orphans, r.DeadUploads)
	}
	fmt.Fprintln(env.stdout, "storage verify: every document matches its row")
	return nil
}

// prefixWriter writes each line with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
