package consents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/storage/objects"
	"attivi/storage/postgres"
)

// The janitor keeps the store and the rows in agreement.
//
// An upload inserts its row as pending before it writes the object, and a
// crash (or a lost connection to the database) at any later moment leaves a
// pending row that names the object. A pending row older than the grace
// period (longer than any upload may last) is a dead upload: the sweeper
// deletes its object, for good (it was never evidence), then the row. It
// also aborts the multipart uploads a killed process left half done. That
// is all indexed and cheap, and runs in the background of every instance.
//
// On demand (attivi storage sweep) it also lists the bucket to remove objects
// that no row names at all, which no crash of this code leaves but a bug or
// a hand in the bucket could. attivi storage verify re-reads every stored
// object and compares it with its row.

// docPrefix is where consent documents live in the bucket.
const docPrefix = "consents/"

// Janitor sweeps dead uploads and checks the stored documents.
type Janitor struct {
	db    *sqlx.DB
	store *objects.Store
	grace time.Duration
	log   *slog.Logger
}

// NewJanitor returns the janitor of the documents in store.
func NewJanitor(db *sqlx.DB, store *objects.Store, grace time.Duration, log *slog.Logger) *Janitor {
	return &Janitor{db: db, store: store, grace: grace, log: log}
}

// SweepReport says what a sweep removed.
type SweepReport struct {
	DeadUploads     int // pending rows older than the grace period, removed with their objects
	AbortedUploads  int // incomplete multipart uploads aborted
	OrphanObjects   int // objects no row names (full sweep only)
	ObjectsExamined int // full sweep only
}

// Sweep removes dead uploads older than grace and, when full, objects that
// no row names. Grace 0 is for a store no instance is writing to.
func (j *Janitor) Sweep(ctx context.Context, grace time.Duration, full bool) (SweepReport, error) {
	var r SweepReport
	for {
		n, aborted, err := j.sweepPending(ctx, grace)
		r.DeadUploads += n
		r.AbortedUploads += aborted
		if err != nil {
			return r, err
		}
		if n == 0 {
			break
		}
	}
	// Incomplete uploads whose row is gone too: S3 lists them by prefix
	// (MinIO only by exact key, and those the dead rows named are aborted
	// above).
	aborted, err := j.store.AbortUploads(ctx, docPrefix, time.Now().Add(-grace))
	r.AbortedUploads += aborted
	if err != nil {
		return r, err
	}
	if full {
		err = j.sweepOrphans(ctx, grace, &r)
	}
	return r, err
}

// sweepPending removes up to a batch of dead uploads, each row locked while
// its object goes, so that an upload that finishes now cannot commit it.
func (j *Janitor) sweepPending(ctx context.Context, grace time.Duration) (n, aborted int, err error) {
	err = postgres.InTx(ctx, j.db, func(tx *sqlx.Tx) error {
		var rows []struct {
			ID  string `db:"id"`
			Key string `db:"object_key"`
		}
		const q = `
SELECT id, object_key FROM consent_documents
WHERE state = 'pending' AND created_at < now() - make_interval(secs => $1)
ORDER BY created_at LIMIT 100
FOR UPDATE SKIP LOCKED`
		if err := tx.SelectContext(ctx, &rows, q, grace.Seconds()); err != nil {
			return postgres.Translate(fmt.Errorf("dead uploads: %w", err))
		}
		for _, r := range rows {
			// A process killed in a multipart upload left its parts.
			// (MinIO lists incomplete uploads by exact key only.)
			a, err := j.store.AbortUploads(ctx, r.Key, time.Now().Add(-grace))
			aborted += a
			if err != nil {
				return err
			}
			if err := j.removeObject(ctx, r.Key); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM consent_documents WHERE id = $1`, r.ID); err != nil {
				return postgres.Translate(fmt.Errorf("delete dead upload: %w", err))
			}
			j.log.Info("removed a dead upload", slog.String("document", r.ID))
			n++
		}
		return nil
	})
	if err != nil {
		return 0, aborted, err
	}
	return n, aborted, nil
}

// removeObject deletes every version of key that the store shows as current,
// bypassing governance retention: an object that never got committed is not
// evidence. A missing key is fine.
func (j *Janitor) removeObject(ctx context.Context, key string) error {
	for range 100 {
		info, err := j.store.Stat(ctx, key)
		if apperr.Is(err, apperr.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := j.store.RemoveVersion(ctx, key, info.VersionID, true); err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
	}
	return fmt.Errorf("object %s: still there after 100 removals", key)
}

// known returns which of keys a row names.
func (j *Janitor) known(ctx context.Context, keys []string) (map[string]bool, error) {
	var found []string
	if err := j.db.SelectContext(ctx, &found, `SELECT object_key FROM consent_documents WHERE object_key = ANY($1)`, pq.Array(keys)); err != nil {
		return nil, postgres.Translate(fmt.Errorf("known objects: %w", err))
	}
	out := make(map[string]bool, len(found))
	for _, k := range found {
		out[k] = true
	}
	return out, nil
}

// orphans walks the bucket's documents and calls fn for each object that no
// row names, in batches of keys.
func (j *Janitor) orphans(ctx context.Context, examined *int, fn func(objects.Info) error) error {
	var batch []objects.Info
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		keys := make([]string, len(batch))
		for i, b := range batch {
			keys[i] = b.Key
		}
		known, err := j.known(ctx, keys)
		if err != nil {
			return err
		}
		for _, b := range batch {
			if !known[b.Key] {
				if err := fn(b); err != nil {
					return err
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	for info, err := range j.store.List(ctx, docPrefix) {
		if err != nil {
			return err
		}
		*examined++
		batch = append(batch, info)
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (j *Janitor) sweepOrphans(ctx context.Context, grace time.Duration, r *SweepReport) error {
	cutoff := time.Now().Add(-grace)
	return j.orphans(ctx, &r.ObjectsExamined, func(o objects.Info) error {
		if o.LastModified.After(cutoff) {
			return nil // recent: the same grace period as for everything the sweeper removes
		}
		if err := j.removeObject(ctx, o.Key); err != nil {
			return err
		}
		j.log.Info("removed an object no row names", slog.String("key", o.Key))
		r.OrphanObjects++
		return nil
	})
}

// Run sweeps dead uploads every interval until ctx ends. Failures (the
// store or the database away) are logged and retried at the next round.
func (j *Janitor) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r, err := j.Sweep(ctx, j.grace, false)
		switch {
		case err != nil && ctx.Err() == nil:
			j.log.Warn("document sweep failed, retrying later", slog.String("error", err.Error()), slog.Duration("in", every))
		case r.DeadUploads > 0 || r.AbortedUploads > 0:
			j.log.Info("document sweep", slog.Int("dead_uploads", r.DeadUploads), slog.Int("aborted_uploads", r.AbortedUploads))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// VerifyReport is what attivi storage verify found.
type VerifyReport struct {
	Checked     int      // stored and replaced documents re-read
	Bytes       int64    // bytes re-read
	Objects     int      // objects listed
	Problems    []string // mismatches and missing objects, orphans, dead uploads
	Mismatches  int
	Orphans     int
	DeadUploads int
}

// Verify re-reads every stored (current or replaced) document and compares
// its size, SHA-256 and version with its row, lists the objects that no row
// names, and the dead uploads the sweeper has yet to remove. progress, when
// not nil, is told of each problem as it is found.
func (j *Janitor) Verify(ctx context.Context, progress io.Writer) (VerifyReport, error) {
	var r VerifyReport
	problem := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		if len(r.Problems) < 1000 {
			r.Problems = append(r.Problems, s)
		}
		if progress != nil {
			fmt.Fprintln(progress, s)
		}
	}
	after := "00000000-0000-0000-0000-000000000000"
	for {
		var rows []documentRow
		if err := j.db.SelectContext(ctx, &rows, selectDocument+`
WHERE d.state IN ('stored', 'replaced') AND d.id > $1 ORDER BY d.id LIMIT 200`, after); err != nil {
			return r, postgres.Translate(fmt.Errorf("documents: %w", err))
		}
		if len(rows) == 0 {
			break
		}
		for _, row := range rows {
			after = row.ID
			d := row.document()
			r.Checked++
			size, sum, version, err := j.reread(ctx, d.Key)
			r.Bytes += size
			switch {
			case apperr.Is(err, apperr.NotFound):
				r.Mismatches++
				problem("document %s of consent %s: its object %s is missing", d.ID, d.ConsentID, d.Key)
			case err != nil:
				return r, err
			case version != d.VersionID:
				r.Mismatches++
				problem("document %s of consent %s: the object's version is %s, the row says %s", d.ID, d.ConsentID, version, d.VersionID)
			case size != d.Size || sum != d.SHA256:
				r.Mismatches++
				problem("document %s of consent %s: the object has %d bytes with SHA-256 %s, the row says %d bytes with %s",
					d.ID, d.ConsentID, size, sum, d.Size, d.SHA256)
			}
		}
	}
	err := j.orphans(ctx, &r.Objects, func(o objects.Info) error {
		r.Orphans++
		problem("object %s (%d bytes, written %s): no row names it", o.Key, o.Size, o.LastModified.UTC().Format(time.RFC3339))
		return nil
	})
	if err != nil {
		return r, err
	}
	var dead []struct {
		ID        string    `db:"id"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := j.db.SelectContext(ctx, &dead, `
SELECT id, created_at FROM consent_documents
WHERE state = 'pending' AND created_at < now() - make_interval(secs => $1) ORDER BY created_at`, j.grace.Seconds()); err != nil {
		return r, postgres.Translate(fmt.Errorf("dead uploads: %w", err))
	}
	for _, d := range dead {
		r.DeadUploads++
		problem("upload %s pending since %s: dead, the sweeper will remove it", d.ID, d.CreatedAt.UTC().Format(time.RFC3339))
	}
	return r, nil
}

// reread streams an object and returns its size, SHA-256 and version.
func (j *Janitor) reread(ctx context.Context, key string) (int64, string, string, error) {
	body, info, err := j.store.Get(ctx, key)
	if err != nil {
		return 0, "", "", err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return n, "", "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), info.VersionID, nil
}
