package consents_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"

	"attivi/apperr"
	"attivi/storage/objects"
	"attivi/storage/objects/objtest"
)

// TestSweepAndVerify: what a crash leaves (a pending row with or without its
// object, a half-done multipart upload) goes after the grace period, an
// upload under way stays, a full sweep also removes objects no row names,
// and verify reports what differs between the store and the rows.
func TestSweepAndVerify(t *testing.T) {
	t.Parallel()
	d := newDocEnv(t, objtest.New(t))
	ctx := context.Background()
	j := d.docs.Janitor()
	_, c := d.consentFor()
	stored := d.upload(c, owner, pdfContent(10_000)).document(t)

	pending := func(age time.Duration, withObject bool) string {
		t.Helper()
		id := uuid.NewString()
		key := "consents/" + c + "/" + id
		_, err := d.db.ExecContext(ctx, `
INSERT INTO consent_documents (id, consent_id, object_key, uploaded_by_tenant, created_at)
VALUES ($1, $2, $3, $4, now() - make_interval(secs => $5))`, id, c, key, d.actors[owner].TenantID, age.Seconds())
		if err != nil {
			t.Fatal(err)
		}
		if withObject {
			// Under retention, as uploads are: the sweeper must bypass it.
			content := pdfContent(5000)
			if _, err := d.store.Put(ctx, key, bytes.NewReader(content), int64(len(content)),
				objects.PutOptions{RetainUntil: time.Now().AddDate(1, 0, 0)}); err != nil {
				t.Fatal(err)
			}
		}
		return key
	}
	dead := pending(2*time.Hour, true)       // crashed after the object was written
	deadEmpty := pending(3*time.Hour, false) // crashed before
	live := pending(time.Minute, true)       // an upload under way
	orphan := "consents/" + c + "/" + uuid.NewString()
	if _, err := d.store.Put(ctx, orphan, bytes.NewReader(pdfContent(100)), 100, objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// A multipart upload a killed process left half done, of the live
	// upload's key (MinIO lists incomplete uploads by exact key only).
	core := minio.Core{Client: objtest.Client(t)}
	if _, err := core.NewMultipartUpload(ctx, d.store.Bucket(), live, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	r, err := j.Sweep(ctx, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeadUploads != 2 || r.AbortedUploads != 0 || r.OrphanObjects != 0 {
		t.Errorf("sweep with a one-hour grace: %+v, want the 2 dead uploads only", r)
	}
	keys, incomplete := d.objectsOf(c, live)
	slices.Sort(keys)
	want := []string{live, orphan, "consents/" + c + "/" + stored.ID}
	slices.Sort(want)
	if !slices.Equal(keys, want) || incomplete != 1 {
		t.Errorf("objects after the sweep %v (%d incomplete), want %v (1)", keys, incomplete, want)
	}
	for v := range objtest.Client(t).ListObjectsIter(ctx, d.store.Bucket(), minio.ListObjectsOptions{Prefix: dead, WithVersions: true}) {
		t.Errorf("a version of the dead upload's object is left: %+v", v)
	}
	if rows := d.rows(c); rows["stored"] != 1 || rows["pending"] != 1 {
		t.Errorf("rows after the sweep %v, want the stored one and the live upload", rows)
	}
	_ = deadEmpty

	vr, err := j.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vr.Checked != 1 || vr.Mismatches != 0 || vr.Orphans != 1 || vr.DeadUploads != 0 || !strings.Contains(strings.Join(vr.Problems, "\n"), orphan) {
		t.Errorf("verify: %+v, want 1 checked, the orphan reported", vr)
	}
	// Someone writes over the stored document's object in the bucket.
	storedKey := "consents/" + c + "/" + stored.ID
	if _, err := objtest.Client(t).PutObject(ctx, d.store.Bucket(), storedKey, strings.NewReader("altro"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	vr, err = j.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vr.Mismatches != 1 || !strings.Contains(strings.Join(vr.Problems, "\n"), stored.ID) {
		t.Errorf("verify after the object changed: %+v, want the mismatch of %s", vr, stored.ID)
	}
	if g := d.download(c, owner); g.status != 500 {
		t.Errorf("download of a document whose object changed: %d, want 500 (never the wrong content)", g.status)
	}

	// A full sweep of a store nobody is writing to: no grace.
	r, err = j.Sweep(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeadUploads != 1 || r.AbortedUploads != 1 || r.OrphanObjects != 1 {
		t.Errorf("full sweep without grace: %+v, want the live upload (and its incomplete upload) and the orphan", r)
	}
	keys, incomplete = d.objectsOf(c, live)
	if !slices.Equal(keys, []string{storedKey}) || incomplete != 0 {
		t.Errorf("objects after the full sweep %v (%d incomplete), want only the stored document's", keys, incomplete)
	}
	if _, err := d.store.Stat(ctx, orphan); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("the orphan: %v, want not found", err)
	}
}
