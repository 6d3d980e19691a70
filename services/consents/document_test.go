package consents_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"attivi/services/consents"
	"attivi/storage/objects/objtest"
)

var keyPattern = regexp.MustCompile(`^consents/[0-9a-f-]{36}/[0-9a-f-]{36}$`)

func TestDocumentRoundTrip(t *testing.T) {
	t.Parallel()
	d := newDocEnv(t, objtest.New(t))
	ctx := context.Background()
	pdf := randomBytes(t, []byte("%PDF-1.7\n"), 300_000)
	p7m, cert, err := consents.BuildP7M(pdf, consents.P7MOptions{SigningTime: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, contentType, ext string
		content                []byte
	}{
		{"PDF", consents.TypePDF, ".pdf", pdf},
		{"JPEG", consents.TypeJPEG, ".jpg", randomBytes(t, []byte{0xFF, 0xD8, 0xFF, 0xE0}, 120_000)},
		{"PNG", consents.TypePNG, ".png", randomBytes(t, []byte("\x89PNG\r\n\x1A\n"), 90_000)},
		{"p7m", consents.TypeP7M, ".pdf.p7m", p7m},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, c := d.consentFor()
			r := d.upload(c, owner, tc.content)
			if r.status != 201 {
				t.Fatalf("upload: %d %s, want 201", r.status, r.body)
			}
			doc := r.document(t)
			if doc.ContentType != tc.contentType || doc.Size != int64(len(tc.content)) || doc.SHA256 != sha256hex(tc.content) ||
				doc.ConsentID != c || doc.UploadedBy != owner || doc.Replaced {
				t.Errorf("uploaded %+v, want %s, %d bytes, sha %s", doc, tc.contentType, len(tc.content), sha256hex(tc.content))
			}
			if tc.contentType == consents.TypeP7M {
				if doc.Signer == nil || doc.Signer.Subject != cert.Subject.String() || doc.InnerType != consents.TypePDF || doc.Signer.SignedAt == nil {
					t.Errorf("p7m signer %+v inner %q, want %q and a PDF inside", doc.Signer, doc.InnerType, cert.Subject.String())
				}
			} else if doc.Signer != nil {
				t.Errorf("signer %+v on a %s", doc.Signer, tc.name)
			}

			var key, version string
			if err := d.db.QueryRowContext(ctx, `SELECT object_key, version_id FROM consent_documents WHERE id = $1 AND state = 'stored'`, doc.ID).Scan(&key, &version); err != nil {
				t.Fatal(err)
			}
			if !keyPattern.MatchString(key) || !strings.HasPrefix(key, "consents/"+c+"/") {
				t.Errorf("object key %q: want consents/<consent>/<uuid>, nothing else", key)
			}
			// Retention until ten years after the last valid day.
			if d.store.ObjectLock() {
				if doc.RetainUntil == nil {
					t.Fatal("no retention on a bucket with object lock")
				}
				mode, until, err := objtest.Client(t).GetObjectRetention(ctx, d.store.Bucket(), key, version)
				if err != nil {
					t.Fatal(err)
				}
				want := time.Now().UTC().AddDate(11, 0, 1).Truncate(24 * time.Hour)
				if mode == nil || *mode != minio.Governance || until == nil || until.Sub(want).Abs() > 48*time.Hour {
					t.Errorf("retention %v until %v, want GOVERNANCE until about %v", mode, until, want)
				}
			} else {
				t.Log("the bucket has no object lock: retention not tested")
			}

			g := d.download(c, owner)
			if g.status != 200 || !bytes.Equal(g.body, tc.content) {
				t.Fatalf("download: %d, %d bytes, want 200 and the %d bytes uploaded", g.status, len(g.body), len(tc.content))
			}
			sum := sha256.Sum256(tc.content)
			for h, want := range map[string]string{
				"Content-Type":        tc.contentType,
				"Content-Length":      fmt.Sprint(len(tc.content)),
				"ETag":                `"` + hex.EncodeToString(sum[:]) + `"`,
				"X-Checksum-SHA256":   hex.EncodeToString(sum[:]),
				"Repr-Digest":         "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":",
				"Accept-Ranges":       "bytes",
				"Content-Disposition": `attachment; filename="consenso-` + c + tc.ext + `"`,
				"Cache-Control":       "private, no-store",
			} {
				if got := g.header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			found := false
			for _, l := range d.logOf(p, owner) {
				found = found || (l.Action == "download" && l.Decision == "allow" && strings.Contains(l.Reason, doc.ID))
			}
			if !found {
				t.Errorf("the download is not in the access log: %+v", d.logOf(p, owner))
			}
		})
	}

	t.Run("a new upload replaces the document and keeps the old one", func(t *testing.T) {
		_, c := d.consentFor()
		first := d.upload(c, owner, pdf).document(t)
		second := randomBytes(t, []byte("%PDF-1.4\n"), 50_000)
		r := d.upload(c, owner, second)
		if r.status != 200 || !r.document(t).Replaced {
			t.Fatalf("replace: %d %s, want 200 with replaced", r.status, r.body)
		}
		if got := d.rows(c); got["stored"] != 1 || got["replaced"] != 1 || got["pending"] != 0 {
			t.Errorf("rows %v, want one stored and one replaced", got)
		}
		if g := d.download(c, owner); !bytes.Equal(g.body, second) {
			t.Errorf("download after replacing: %d bytes, want the new document", len(g.body))
		}
		var oldKey string
		if err := d.db.QueryRowContext(ctx, `SELECT object_key FROM consent_documents WHERE id = $1 AND state = 'replaced'`, first.ID).Scan(&oldKey); err != nil {
			t.Fatal(err)
		}
		body, _, err := d.store.Get(ctx, oldKey)
		if err != nil {
			t.Fatalf("the replaced document's object: %v", err)
		}
		old, _ := io.ReadAll(body)
		body.Close()
		if !bytes.Equal(old, pdf) {
			t.Error("the replaced document's object changed")
		}
	})
}

func TestDocumentRanges(t *testing.T) {
	t.Parallel()
	d := newDocEnv(t, objtest.New(t))
	_, c := d.consentFor()
	content := randomBytes(t, []byte("%PDF-1.5\n"), 100_000)
	doc := d.upload(c, owner, content).document(t)
	etag := `"` + doc.SHA256 + `"`
	for _, tc := range []struct {
		rng, ifRange string
		status       int
		from, to     int // expected body content[from:to]
	}{
		{rng: "bytes=0-99", status: 206, from: 0, to: 100},
		{rng: "bytes=99990-", status: 206, from: 99990, to: 100000},
		{rng: "bytes=-500", status: 206, from: 99500, to: 100000},
		{rng: "bytes=5000-999999", status: 206, from: 5000, to: 100000},
		{rng: "bytes=0-99", ifRange: etag, status: 206, from: 0, to: 100},
		{rng: "bytes=0-99", ifRange: `"another"`, status: 200, from: 0, to: 100000},
		{rng: "bytes=0-1,5-6", status: 200, from: 0, to: 100000},
		{rng: "bytes=100000-", status: 416},
		{rng: "bytes=-0", status: 416},
	} {
		h := []string{"Range", tc.rng}
		if tc.ifRange != "" {
			h = append(h, "If-Range", tc.ifRange)
		}
		r := d.download(c, owner, h...)
		if r.status != tc.status {
			t.Errorf("Range %s (If-Range %s): %d, want %d", tc.rng, tc.ifRange, r.status, tc.status)
			continue
		}
		switch tc.status {
		case 416:
			if got := r.header.Get("Content-Range"); got != "bytes */100000" {
				t.Errorf("Range %s: Content-Range %q, want bytes */100000", tc.rng, got)
			}
		case 206:
			want := fmt.Sprintf("bytes %d-%d/100000", tc.from, tc.to-1)
			if got := r.header.Get("Content-Range"); got != want {
				t.Errorf("Range %s: Content-Range %q, want %q", tc.rng, got, want)
			}
			fallthrough
		default:
			if !bytes.Equal(r.body, content[tc.from:tc.to]) {
				t.Errorf("Range %s: %d bytes, want bytes %d..%d", tc.rng, len(r.body), tc.from, tc.to)
			}
		}
	}
	// HEAD answers the headers without the content.
	h := d.send("HEAD", "/api/v1/consents/"+c+"/document", owner, nil, 0)
	if h.status != 200 || h.header.Get("Content-Length") != "100000" || h.header.Get("X-Checksum-SHA256") != doc.SHA256 || len(h.body) != 0 {
		t.Errorf("HEAD: %d %v, %d bytes", h.status, h.header, len(h.body))
	}
}

func TestDocumentRefusals(t *testing.T) {
	t.Parallel()
	d := newDocEnv(t, objtest.New(t), func(c *consents.DocumentConfig) { c.MaxBytes = 1 << 20 })
	badSig, _, err := consents.BuildP7M(pdfContent(20_000), consents.P7MOptions{TamperSig: true})
	if err != nil {
		t.Fatal(err)
	}
	exeInside, _, err := consents.BuildP7M(append([]byte("MZ\x90\x00"), make([]byte, 5000)...), consents.P7MOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p7m, _, err := consents.BuildP7M(pdfContent(20_000), consents.P7MOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
		size    int64 // 0: len(content); -1: chunked
		status  int
		msg     string
	}{
		{name: "a renamed executable", content: append([]byte("MZ\x90\x00\x03"), make([]byte, 40_000)...), status: 415, msg: "program"},
		{name: "a text file", content: []byte("ho firmato il consenso"), status: 415, msg: "not a PDF"},
		{name: "a zip (office) file", content: append([]byte("PK\x03\x04"), make([]byte, 1000)...), status: 415, msg: "not a PDF"},
		{name: "a base64 .p7m", content: []byte(base64.StdEncoding.EncodeToString(p7m)), status: 415, msg: "base64"},
		{name: "an empty file", content: []byte{}, status: 422, msg: "empty"},
		{name: "an empty chunked upload", content: []byte{}, size: -1, status: 422, msg: "empty"},
		{name: "too large by Content-Length", content: pdfContent(3 << 20), status: 413, msg: "limit"},
		{name: "too large, chunked", content: pdfContent(3 << 20), size: -1, status: 413, msg: "limit"},
		{name: "just too large, chunked", content: pdfContent(1<<20 + 1), size: -1, status: 413, msg: "limit"},
		{name: "a .p7m whose signature does not verify", content: badSig, status: 422, msg: "does not verify"},
		{name: "a .p7m with a program inside", content: exeInside, status: 415, msg: "inside the .p7m"},
		{name: "a detached .p7m", content: mustP7M(t, consents.P7MOptions{Detached: true}), status: 422, msg: "detached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := d.consentFor()
			size := int64(len(tc.content))
			if tc.size != 0 {
				size = tc.size
			}
			r := d.send("PUT", "/api/v1/consents/"+c+"/document", owner, bytes.NewReader(tc.content), size,
				"Content-Type", "application/pdf")
			if r.status != tc.status || !strings.Contains(r.errorMessage(t), tc.msg) {
				t.Errorf("%d %s, want %d mentioning %q", r.status, r.body, tc.status, tc.msg)
			}
			if rows := d.rows(c); len(rows) != 0 {
				t.Errorf("rows left behind: %v", rows)
			}
			if keys, incomplete := d.objectsOf(c); len(keys) != 0 || incomplete != 0 {
				t.Errorf("objects left behind: %v, %d incomplete uploads", keys, incomplete)
			}
			if g := d.download(c, owner); g.status != 404 {
				t.Errorf("download after a refused upload: %d, want 404", g.status)
			}
		})
	}
	// Exactly at the limit is fine.
	_, c := d.consentFor()
	if r := d.send("PUT", "/api/v1/consents/"+c+"/document", owner, bytes.NewReader(pdfContent(1<<20)), -1); r.status != 201 {
		t.Errorf("a document of exactly the limit, chunked: %d %s, want 201", r.status, r.body)
	}

	t.Run("JSON routes keep their limit", func(t *testing.T) {
		_, c := d.consentFor()
		big := `{"reason":"` + strings.Repeat("x", 2<<20) + `"}`
		for _, size := range []int64{int64(len(big)), -1} {
			r := d.send("POST", "/api/v1/consents/"+c+"/revoke", owner, strings.NewReader(big), size, "Content-Type", "application/json")
			if r.status != 413 {
				t.Errorf("a 2 MiB JSON body (size %d): %d %s, want 413", size, r.status, r.body)
			}
		}
		// A normal one still works, also chunked.
		r := d.send("POST", "/api/v1/consents/"+c+"/revoke", owner, strings.NewReader(`{"reason":"revocato su richiesta"}`), -1, "Content-Type", "application/json")
		if r.status != 200 {
			t.Errorf("a small chunked JSON body: %d %s, want 200", r.status, r.body)
		}
	})
}

func mustP7M(t *testing.T, o consents.P7MOptions) []byte {
	t.Helper()
	b, _, err := consents.BuildP7M(pdfContent(10_000), o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDocumentTruncatedUpload: a client that disconnects half-way leaves
// nothing behind, whether the upload was a single PUT or multipart.
func TestDocumentTruncatedUpload(t *testing.T) {
	t.Parallel()
	d := newDocEnv(t, objtest.New(t), func(c *consents.DocumentConfig) { c.MaxBytes = 100 << 20 })
	for _, tc := range []struct {
		name       string
		declared   int
		sent       int
		contLength bool
	}{
		{name: "single PUT", declared: 4 << 20, sent: 2 << 20, contLength: true},
		{name: "multipart", declared: 60 << 20, sent: 40 << 20, contLength: true},
		{name: "chunked", declared: -1, sent: 40 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := d.consentFor()
			conn, err := net.Dial("tcp", strings.TrimPrefix(d.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			w := bufio.NewWriterSize(conn, 64<<10)
			fmt.Fprintf(w, "PUT /api/v1/consents/%s/document HTTP/1.1\r\nHost: x\r\nX-Test-Actor: %s\r\n", c, owner)
			if tc.contLength {
				fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", tc.declared)
			} else {
				fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n")
			}
			chunk := pdfContent(64 << 10)
			for sent := 0; sent < tc.sent; sent += len(chunk) {
				if !tc.contLength {
					fmt.Fprintf(w, "%x\r\n", len(chunk))
				}
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
				if !tc.contLength {
					w.WriteString("\r\n")
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			// Wait for the upload to be under way, then vanish.
			waitFor(t, 10*time.Second, func() bool { return d.rows(c)["pending"] == 1 })
			var key string
			if err := d.db.QueryRowContext(context.Background(), `SELECT object_key FROM consent_documents WHERE consent_id = $1`, c).Scan(&key); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			conn.Close()
			waitFor(t, 30*time.Second, func() bool { return len(d.rows(c)) == 0 })
			if keys, incomplete := d.objectsOf(c, key); len(keys) != 0 || incomplete != 0 {
				t.Errorf("left behind: objects %v, %d incomplete uploads", keys, incomplete)
			}
		})
	}
}

func waitFor(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not so within %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDocumentCrossTenant(t *testing.T) {
	t.Parallel()
	d := newDocEnv(t, objtest.New(t))
	p, c := d.consentFor()
	content := pdfContent(10_000)
	for _, tc := range []struct {
		as                        string
		upload, download, formPDF int
	}{
		{as: stranger, upload: 404, download: 404, formPDF: 404}, // no link to the person
		{as: owner2, upload: 404, download: 404, formPDF: 404},   // another municipality
		{as: careTeam, upload: 403, download: 404, formPDF: 404}, // sees the consent, which names it, but not whole
	} {
		if r := d.upload(c, tc.as, content); r.status != tc.upload {
			t.Errorf("upload as %s: %d %s, want %d", tc.as, r.status, r.body, tc.upload)
		}
	}
	if r := d.upload(c, owner, content); r.status != 201 {
		t.Fatalf("upload as the owner: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		as                string
		download, formPDF int
	}{
		{as: stranger, download: 404, formPDF: 404},
		{as: owner2, download: 404, formPDF: 404},
		{as: careTeam, download: 404, formPDF: 404},
		{as: owner, download: 200, formPDF: 200},
	} {
		if r := d.download(c, tc.as); r.status != tc.download || (r.status == 200) != bytes.Equal(r.body, content) {
			t.Errorf("download as %s: %d, want %d", tc.as, r.status, tc.download)
		}
		if r := d.send("GET", "/api/v1/consents/"+c+"/form.pdf", tc.as, nil, 0); r.status != tc.formPDF {
			t.Errorf("form as %s: %d %s, want %d", tc.as, r.status, r.body, tc.formPDF)
		}
	}
	// The care team sees the consent itself, only not its document.
	if r := d.do("GET", "/api/v1/consents/"+c, careTeam, nil); r.status != 200 {
		t.Errorf("consent as %s: %d, want 200", careTeam, r.status)
	}
	for _, as := range []string{stranger, careTeam} {
		denied := false
		for _, l := range d.logOf(p, as) {
			denied = denied || (l.Action == "download" && l.Decision == "deny")
		}
		if !denied {
			t.Errorf("the refused download of %s is not in the access log: %+v", as, d.logOf(p, as))
		}
	}
}

// TestDocumentStoreDown: with MinIO stopped the document endpoints answer
// 503 with a clear message, the rest keeps working, and documents work again
// once MinIO is back, without a restart.
func TestDocumentStoreDown(t *testing.T) {
	t.Parallel()
	m := startOwnMinio(t)
	d := newDocEnv(t, m.store(t, "attivi-down"), func(c *consents.DocumentConfig) { c.MaxBytes = 64 << 20 })
	_, c := d.consentFor()
	first := pdfContent(50_000)
	if r := d.upload(c, owner, first); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}

	m.stop()
	start := time.Now()
	r := d.upload(c, owner, pdfContent(30<<20))
	if r.status != 503 || !strings.Contains(r.errorMessage(t), "document store is not reachable") {
		t.Errorf("upload with MinIO down: %d %s, want 503 saying the document store is not reachable", r.status, r.body)
	}
	t.Logf("upload refused in %s", time.Since(start).Round(time.Millisecond))
	if g := d.download(c, owner); g.status != 503 || !strings.Contains(g.errorMessage(t), "document store is not reachable") {
		t.Errorf("download with MinIO down: %d %s, want 503", g.status, g.body)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the refusals took %s", time.Since(start))
	}
	if g := d.do("GET", "/api/v1/consents/"+c, owner, nil); g.status != 200 {
		t.Errorf("the consent with MinIO down: %d, want 200", g.status)
	}
	if g := d.send("GET", "/api/v1/consents/"+c+"/form.pdf", owner, nil, 0); g.status != 200 {
		t.Errorf("the form with MinIO down: %d, want 200 (it needs no store)", g.status)
	}
	if rows := d.rows(c); rows["stored"] != 1 || rows["pending"] != 0 {
		t.Errorf("rows after the refused upload: %v", rows)
	}

	m.start(t)
	second := pdfContent(70_000)
	waitFor(t, 30*time.Second, func() bool { return d.upload(c, owner, second).status == 200 })
	if g := d.download(c, owner); g.status != 200 || !bytes.Equal(g.body, second) {
		t.Errorf("download after MinIO came back: %d, %d bytes", g.status, len(g.body))
	}
}

// TestDocumentLargeUploadMemory sends 200 MB through the server and checks
// that the memory it takes does not grow with the document.
func TestDocumentLargeUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB upload")
	}
	d := newDocEnv(t, objtest.New(t), func(c *consents.DocumentConfig) { c.MaxBytes = 256 << 20 })
	_, c := d.consentFor()
	const size = 200 << 20
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	h := sha256.New()
	body := io.TeeReader(&generator{n: size}, h)
	start := time.Now()
	r := d.send("PUT", "/api/v1/consents/"+c+"/document", owner, body, size)
	upload := time.Since(start)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	doc := r.document(t)
	if doc.Size != size || doc.SHA256 != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("stored %d bytes with %s, want %d with %x", doc.Size, doc.SHA256, size, h.Sum(nil))
	}
	uploadPeak := peak.Load()
	peak.Store(0)

	start = time.Now()
	req, err := http.NewRequest("GET", d.base+"/api/v1/consents/"+c+"/document", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test-Actor", owner)
	res, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dh := sha256.New()
	n, err := io.Copy(dh, res.Body)
	res.Body.Close()
	download := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil || res.StatusCode != 200 || n != size || hex.EncodeToString(dh.Sum(nil)) != doc.SHA256 {
		t.Errorf("download: %d, %d bytes, %v", res.StatusCode, n, err)
	}
	downloadPeak := peak.Load()
	t.Logf("200 MB (the test's client included): heap in use %d MiB before; upload %s, peak %d MiB; download %s, peak %d MiB",
		base.HeapInuse>>20, upload.Round(time.Millisecond), uploadPeak>>20, download.Round(time.Millisecond), downloadPeak>>20)
	for what, p := range map[string]uint64{"upload": uploadPeak, "download": downloadPeak} {
		if p > base.HeapInuse+96<<20 {
			t.Errorf("heap in use peaked at %d MiB during a 200 MB %s (base %d MiB): it is buffered", p>>20, what, base.HeapInuse>>20)
		}
	}
}

// generator yields n bytes that sniff as a PDF, without holding them.
type generator struct {
	n, off int
}

func (g *generator) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(len(p), g.n-g.off)]
	for i := range p {
		p[i] = byte((g.off + i) * 7 % 251)
	}
	if g.off == 0 {
		copy(p, "%PDF-1.7\n")
	}
	g.off += len(p)
	return len(p), nil
}
