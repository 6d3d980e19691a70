package objects_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"attivi/apperr"
	"attivi/storage/objects"
	"attivi/storage/objects/objtest"
)

const mib = 1 << 20

func TestEnsureBucket(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := objtest.Config(t)
	a, err := objects.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := objects.New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// Two instances starting at once on a missing bucket.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*objects.Store{a, b} {
		wg.Go(func() { errs[i] = s.EnsureBucket(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: EnsureBucket on a missing bucket: %v", i, err)
		}
	}
	// And again on the existing bucket.
	if err := a.EnsureBucket(ctx); err != nil {
		t.Errorf("EnsureBucket on an existing bucket: %v", err)
	}

	c := objtest.Client(t)
	v, err := c.GetBucketVersioning(ctx, cfg.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Enabled() {
		t.Errorf("versioning status = %q, want %q", v.Status, minio.Enabled)
	}
	lock, _, _, _, err := c.GetObjectLockConfig(ctx, cfg.Bucket)
	if err != nil {
		t.Logf("GetObjectLockConfig: %v", err)
	}
	want := lock == "Enabled"
	for i, s := range []*objects.Store{a, b} {
		if got := s.ObjectLock(); got != want {
			t.Errorf("instance %d: ObjectLock() = %v, want %v (server says %q)", i, got, want, lock)
		}
	}
	t.Logf("object lock: %v", a.ObjectLock())
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := objtest.New(t)
	const key = "roundtrip/1"
	content := []byte("consenso informato firmato, pagina 1 di 1\n")

	put, err := s.Put(ctx, key, bytes.NewReader(content), int64(len(content)), objects.PutOptions{
		ContentType: "text/plain",
		Metadata:    map[string]string{"Document-Kind": "consent"},
	})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got, want := put.SHA256, sha256hex(content); got != want {
		t.Errorf("Put SHA256 = %s, want %s", got, want)
	}
	if got, want := put.Size, int64(len(content)); got != want {
		t.Errorf("Put Size = %d, want %d", got, want)
	}
	if put.VersionID == "" {
		t.Error("Put VersionID is empty on a versioned bucket")
	}

	body, got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	if !bytes.Equal(data, content) {
		t.Errorf("Get body = %q, want %q", data, content)
	}
	if got.Size != put.Size || got.VersionID != put.VersionID || got.ContentType != "text/plain" || got.ETag != put.ETag {
		t.Errorf("Get info = %+v, want size %d, version %s, type text/plain, etag %s", got, put.Size, put.VersionID, put.ETag)
	}

	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Size != put.Size || st.VersionID != put.VersionID || st.ContentType != "text/plain" || st.ETag != put.ETag {
		t.Errorf("Stat = %+v, want size %d, version %s, type text/plain, etag %s", st, put.Size, put.VersionID, put.ETag)
	}
	if got, want := st.Metadata["document-kind"], "consent"; got != want {
		t.Errorf("Stat metadata document-kind = %q, want %q (all: %v)", got, want, st.Metadata)
	}
	if st.LastModified.IsZero() {
		t.Error("Stat LastModified is zero")
	}

	// Replacing the key keeps the previous version.
	second := []byte("consenso informato firmato, seconda versione\n")
	put2, err := s.Put(ctx, key, bytes.NewReader(second), int64(len(second)), objects.PutOptions{})
	if err != nil {
		t.Fatalf("Put again: %v", err)
	}
	if put2.VersionID == put.VersionID {
		t.Errorf("the second Put has the same version id %s", put2.VersionID)
	}
	if got := readAll(t, s, key); !bytes.Equal(got, second) {
		t.Errorf("after replacing, Get = %q, want %q", got, second)
	}
	c := objtest.Client(t)
	if n, _ := versions(t, c, s.Bucket(), key); n != 2 {
		t.Errorf("versions after replacing = %d, want 2", n)
	}

	if err := s.Remove(ctx, key); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, _, err := s.Get(ctx, key); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Get after Remove: err = %v, want code %s", err, apperr.NotFound)
	}
	if _, err := s.Stat(ctx, key); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Stat after Remove: err = %v, want code %s", err, apperr.NotFound)
	}
	if n, markers := versions(t, c, s.Bucket(), key); n != 2 || markers != 1 {
		t.Errorf("after Remove: %d versions and %d delete markers, want 2 and 1", n, markers)
	}
	if _, _, err := s.Get(ctx, "roundtrip/never-written"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Get of a missing key: err = %v, want code %s", err, apperr.NotFound)
	}
	if err := s.RemoveVersion(ctx, key, put.VersionID, false); err != nil {
		t.Errorf("RemoveVersion: %v", err)
	}
	if n, _ := versions(t, c, s.Bucket(), key); n != 1 {
		t.Errorf("versions after RemoveVersion = %d, want 1", n)
	}
}

func TestGetRange(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := objtest.New(t)
	content := make([]byte, 1000)
	for i := range content {
		content[i] = byte(i)
	}
	if _, err := s.Put(ctx, "range/1", bytes.NewReader(content), int64(len(content)), objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		start, end int64
		want       []byte
	}{
		{0, 0, content[:1]},
		{10, 19, content[10:20]},
		{990, -1, content[990:]},
		{0, -1, content},
		{995, 5000, content[995:]},
	} {
		body, info, err := s.GetRange(ctx, "range/1", tc.start, tc.end)
		if err != nil {
			t.Errorf("GetRange(%d, %d): %v", tc.start, tc.end, err)
			continue
		}
		got, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Errorf("GetRange(%d, %d): reading: %v", tc.start, tc.end, err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("GetRange(%d, %d) = %d bytes, want %d", tc.start, tc.end, len(got), len(tc.want))
		}
		if info.Size != int64(len(content)) {
			t.Errorf("GetRange(%d, %d) Info.Size = %d, want %d", tc.start, tc.end, info.Size, len(content))
		}
	}
	if _, _, err := s.GetRange(ctx, "range/1", 2000, -1); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("GetRange beyond the end: err = %v, want code %s", err, apperr.Invalid)
	}
	if _, _, err := s.GetRange(ctx, "range/missing", 0, 10); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetRange of a missing key: err = %v, want code %s", err, apperr.NotFound)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := objtest.New(t)
	for _, key := range []string{"a/2", "a/1", "b/1"} {
		if _, err := s.Put(ctx, key, bytes.NewReader([]byte(key)), 3, objects.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove(ctx, "a/2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "a/3", bytes.NewReader([]byte("a/3")), 3, objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for info, err := range s.List(ctx, "a/") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if info.Size != 3 {
			t.Errorf("List %s: size %d, want 3", info.Key, info.Size)
		}
		got = append(got, info.Key)
	}
	if want := []string{"a/1", "a/3"}; !equal(got, want) {
		t.Errorf("List(a/) = %v, want %v", got, want)
	}
	// Breaking out of the walk is fine.
	for range s.List(ctx, "") {
		break
	}
}

// TestPutLargeStreams uploads 10 MB and 100 MB from a generator and checks
// that memory does not follow the object size.
func TestPutLargeStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 110 MB")
	}
	// Not parallel: the heap is measured.
	ctx := t.Context()
	s := objtest.New(t)

	type result struct{ upHeap, upSys, downHeap uint64 }
	run := func(key string, size int64) result {
		t.Helper()
		want := sha256.New()
		src := io.TeeReader(generate(uint64(size), size), want)
		var info objects.Info
		var err error
		upHeap, upSys := peakDuring(func() {
			info, err = s.Put(ctx, key, src, size, objects.PutOptions{})
		})
		if err != nil {
			t.Fatalf("Put %d bytes: %v", size, err)
		}
		wantSum := hex.EncodeToString(want.Sum(nil))
		if info.SHA256 != wantSum || info.Size != size {
			t.Errorf("Put %d bytes: got sha256 %s size %d, want %s %d", size, info.SHA256, info.Size, wantSum, size)
		}

		var gotSum string
		var n int64
		downHeap, _ := peakDuring(func() {
			body, _, err := s.Get(ctx, key)
			if err != nil {
				t.Errorf("Get: %v", err)
				return
			}
			defer body.Close()
			h := sha256.New()
			n, err = io.Copy(h, body)
			if err != nil {
				t.Errorf("reading %d bytes back: %v", size, err)
			}
			gotSum = hex.EncodeToString(h.Sum(nil))
		})
		if gotSum != wantSum || n != size {
			t.Errorf("read back %d bytes: got sha256 %s size %d, want %s %d", size, gotSum, n, wantSum, size)
		}
		return result{upHeap, upSys, downHeap}
	}

	small := run("large/10mb", 10_000_000)
	large := run("large/100mb", 100_000_000)
	t.Logf("10 MB:  peak heap growth upload %.1f MiB (sys %.1f MiB), download %.1f MiB",
		float64(small.upHeap)/mib, float64(small.upSys)/mib, float64(small.downHeap)/mib)
	t.Logf("100 MB: peak heap growth upload %.1f MiB (sys %.1f MiB), download %.1f MiB",
		float64(large.upHeap)/mib, float64(large.upSys)/mib, float64(large.downHeap)/mib)

	if large.upHeap >= 64*mib {
		t.Errorf("100 MB upload: peak heap growth %.1f MiB, want < 64 MiB", float64(large.upHeap)/mib)
	}
	if large.upHeap > small.upHeap+32*mib {
		t.Errorf("100 MB upload: peak heap growth %.1f MiB, more than the 10 MB one (%.1f MiB) + 32 MiB",
			float64(large.upHeap)/mib, float64(small.upHeap)/mib)
	}
	if large.downHeap >= 64*mib {
		t.Errorf("100 MB download: peak heap growth %.1f MiB, want < 64 MiB", float64(large.downHeap)/mib)
	}
}

// peakDuring runs f while sampling the heap every few milliseconds and
// returns the peak growth of HeapInuse and Sys over the values before f.
func peakDuring(f func()) (heap, sys uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseSys := ms.HeapInuse, ms.Sys
	peakHeap, peakSys := baseHeap, baseSys
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
		peakSys = max(peakSys, ms.Sys)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	sample()
	return peakHeap - baseHeap, peakSys - baseSys
}

var errBoom = errors.New("the disk caught fire")

// TestPutFailureLeavesNothing checks that an upload that goes wrong half-way
// leaves neither an object nor an incomplete multipart upload.
func TestPutFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	s := objtest.New(t)
	c := objtest.Client(t)

	// The check below must be able to see an incomplete upload.
	core := minio.Core{Client: c}
	id, err := core.NewMultipartUpload(t.Context(), s.Bucket(), "failure/probe", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := incomplete(t, c, s.Bucket(), "failure/probe"); n != 1 {
		t.Fatalf("incomplete uploads after starting one = %d, want 1: the check cannot see them", n)
	}
	if err := core.AbortMultipartUpload(t.Context(), s.Bucket(), "failure/probe", id); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		declared int64 // size given to Put
		stream   int64 // bytes the reader has
		failAt   int64 // the reader fails after this many bytes (0: never)
		cancelAt int64 // ctx is cancelled after this many bytes (0: never)
		code     apperr.Code
		cause    error
	}{
		{name: "reader fails, single put", declared: 10 * mib, stream: 10 * mib, failAt: 5 * mib, code: apperr.Invalid, cause: errBoom},
		{name: "reader fails, multipart", declared: 40 * mib, stream: 40 * mib, failAt: 20 * mib, code: apperr.Invalid, cause: errBoom},
		{name: "reader fails, unknown size", declared: -1, stream: 40 * mib, failAt: 20 * mib, code: apperr.Invalid, cause: errBoom},
		{name: "reader fails on the last byte", declared: 10 * mib, stream: 10 * mib, failAt: 10*mib - 1, code: apperr.Invalid, cause: errBoom},
		{name: "ctx cancelled, single put", declared: 10 * mib, stream: 10 * mib, cancelAt: 5 * mib, code: apperr.Unavailable, cause: context.Canceled},
		{name: "ctx cancelled, multipart", declared: 40 * mib, stream: 40 * mib, cancelAt: 20 * mib, code: apperr.Unavailable, cause: context.Canceled},
		{name: "ctx cancelled, unknown size", declared: -1, stream: 40 * mib, cancelAt: 20 * mib, code: apperr.Unavailable, cause: context.Canceled},
		{name: "shorter than declared, single put", declared: 1000, stream: 500, code: apperr.Invalid},
		{name: "shorter than declared, multipart", declared: 40 * mib, stream: 20*mib + 1, code: apperr.Invalid},
		{name: "shorter than declared by one byte", declared: 40 * mib, stream: 40*mib - 1, code: apperr.Invalid},
		{name: "longer than declared, single put", declared: 500, stream: 1000, code: apperr.Invalid},
		{name: "longer than declared, multipart", declared: 20 * mib, stream: 20*mib + 1, code: apperr.Invalid},
		{name: "declared empty, stream not", declared: 0, stream: 1, code: apperr.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := &scriptedReader{r: generate(1, tc.stream), failAt: tc.failAt, cancelAt: tc.cancelAt, cancel: cancel}
			key := "failure/" + tc.name

			_, err := s.Put(ctx, key, r, tc.declared, objects.PutOptions{})
			if err == nil {
				t.Fatal("Put succeeded, want an error")
			}
			if got := apperr.CodeOf(err); got != tc.code {
				t.Errorf("Put: code %s, want %s (err: %v)", got, tc.code, err)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("Put: err = %v, want it to wrap %v", err, tc.cause)
			}
			t.Logf("Put: %v", err)

			if _, err := s.Stat(t.Context(), key); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Stat after the failed Put: err = %v, want code %s", err, apperr.NotFound)
			}
			if n, markers := versions(t, c, s.Bucket(), key); n+markers != 0 {
				t.Errorf("%d versions and %d delete markers left, want none", n, markers)
			}
			if n := incomplete(t, c, s.Bucket(), key); n != 0 {
				t.Errorf("%d incomplete multipart uploads left, want none", n)
			}
		})
	}

	// The same reader, without the scripted failure, uploads fine.
	r := &scriptedReader{r: generate(1, 20*mib)}
	if _, err := s.Put(t.Context(), "failure/none", r, 20*mib, objects.PutOptions{}); err != nil {
		t.Errorf("Put without a failure: %v", err)
	}
}

// scriptedReader reads r, failing with errBoom after failAt bytes or calling
// cancel after cancelAt bytes (zero: never).
type scriptedReader struct {
	r        io.Reader
	n        int64
	failAt   int64
	cancelAt int64
	cancel   context.CancelFunc
}

func (r *scriptedReader) Read(p []byte) (int, error) {
	if r.failAt > 0 {
		if r.n >= r.failAt {
			return 0, errBoom
		}
		p = p[:min(int64(len(p)), r.failAt-r.n)]
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.cancelAt > 0 && r.n >= r.cancelAt {
		r.cancel()
	}
	return n, err
}

func TestReady(t *testing.T) {
	t.Parallel()
	s := objtest.New(t)
	if err := s.Ready(t.Context()); err != nil {
		t.Errorf("Ready against the server: %v", err)
	}

	t.Run("closed port", func(t *testing.T) {
		t.Parallel()
		down, err := objects.New(objects.Config{Endpoint: "127.0.0.1:1", AccessKey: "x", SecretKey: "y", Bucket: "attivi-ready"})
		if err != nil {
			t.Fatal(err)
		}
		const deadline = 2 * time.Second
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		start := time.Now()
		err = down.Ready(ctx)
		elapsed := time.Since(start)
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("Ready against a closed port: err = %v, want code %s", err, apperr.Unavailable)
		}
		if elapsed > deadline+time.Second {
			t.Errorf("Ready took %v, want about the %v deadline at most", elapsed, deadline)
		}
		t.Logf("Ready against a closed port: %v after %v", err, elapsed.Round(time.Millisecond))
	})

	t.Run("server comes back", func(t *testing.T) {
		t.Parallel()
		cfg := objtest.Config(t)
		p := startProxy(t, objtestEndpoint(t))
		cfg.Endpoint = p.addr
		s, err := objects.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureBucket(t.Context()); err != nil {
			t.Fatal(err)
		}
		ready := func(timeout time.Duration) error {
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			return s.Ready(ctx)
		}
		if err := ready(5 * time.Second); err != nil {
			t.Fatalf("Ready through the proxy: %v", err)
		}
		p.stop()
		if err := ready(time.Second); !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("Ready with the server gone: err = %v, want code %s", err, apperr.Unavailable)
		}
		p.restart(t)
		if err := ready(5 * time.Second); err != nil {
			t.Errorf("Ready after the server came back: %v", err)
		}
	})
}

func TestRetention(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := objtest.New(t)
	if !s.ObjectLock() {
		t.Skip("the server does not support object lock")
	}
	const key = "retention/consent"
	until := time.Now().Add(time.Hour)
	info, err := s.Put(ctx, key, bytes.NewReader([]byte("evidence")), 8, objects.PutOptions{RetainUntil: until})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info.Retention == nil || info.Retention.Before(until) || info.Retention.Sub(until) >= time.Second {
		t.Errorf("Put Retention = %v, want %v rounded up to the second", info.Retention, until)
	}

	c := objtest.Client(t)
	mode, date, err := c.GetObjectRetention(ctx, s.Bucket(), key, info.VersionID)
	if err != nil {
		t.Fatalf("GetObjectRetention: %v", err)
	}
	if mode == nil || *mode != minio.Governance {
		t.Errorf("retention mode = %v, want %s", mode, minio.Governance)
	}
	if date == nil || info.Retention == nil || !date.Equal(*info.Retention) {
		t.Errorf("retain until = %v, want %v", date, info.Retention)
	}
	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retention == nil || info.Retention == nil || !st.Retention.Equal(*info.Retention) {
		t.Errorf("Stat Retention = %v, want %v", st.Retention, info.Retention)
	}

	err = s.RemoveVersion(ctx, key, info.VersionID, false)
	if !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("RemoveVersion under retention: err = %v, want code %s", err, apperr.Forbidden)
	}
	t.Logf("RemoveVersion under retention: %v", err)
	if _, err := s.Stat(ctx, key); err != nil {
		t.Errorf("Stat after the refused RemoveVersion: %v", err)
	}

	// A delete marker is allowed and the version stays.
	if err := s.Remove(ctx, key); err != nil {
		t.Errorf("Remove under retention: %v", err)
	}
	if n, _ := versions(t, c, s.Bucket(), key); n != 1 {
		t.Errorf("versions after Remove = %d, want 1", n)
	}
	if err := s.RemoveVersion(ctx, key, info.VersionID, true); err != nil {
		t.Errorf("RemoveVersion bypassing governance: %v", err)
	}
	if n, _ := versions(t, c, s.Bucket(), key); n != 0 {
		t.Errorf("versions after RemoveVersion with bypass = %d, want 0", n)
	}
}

// generate returns size deterministic pseudo-random bytes, made as they are read.
func generate(seed uint64, size int64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return io.LimitReader(rand.NewChaCha8(s), size)
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readAll(t *testing.T, s *objects.Store, key string) []byte {
	t.Helper()
	body, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return b
}

// versions counts the versions and delete markers of key.
func versions(t *testing.T, c *minio.Client, bucket, key string) (objects, markers int) {
	t.Helper()
	for oi := range c.ListObjectsIter(t.Context(), bucket, minio.ListObjectsOptions{Prefix: key, Recursive: true, WithVersions: true}) {
		if oi.Err != nil {
			t.Fatalf("listing versions: %v", oi.Err)
		}
		if oi.Key != key {
			continue
		}
		if oi.IsDeleteMarker {
			markers++
		} else {
			objects++
		}
	}
	return objects, markers
}

// incomplete counts the incomplete multipart uploads of key (MinIO lists them
// only for an exact key).
func incomplete(t *testing.T, c *minio.Client, bucket, key string) int {
	t.Helper()
	n := 0
	for u := range c.ListIncompleteUploads(t.Context(), bucket, key, true) {
		if u.Err != nil {
			t.Fatalf("listing incomplete uploads: %v", u.Err)
		}
		if u.Key == key {
			n++
		}
	}
	return n
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func objtestEndpoint(t *testing.T) string {
	t.Helper()
	c := objtest.Client(t)
	return c.EndpointURL().Host
}

// proxy forwards TCP connections to target; stop and restart it to play a
// server that goes away and comes back on the same address.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				down.Close()
				continue
			}
			p.mu.Lock()
			p.conns[down], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(up, down)
			go pipe(down, up)
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restart(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("restarting the proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
