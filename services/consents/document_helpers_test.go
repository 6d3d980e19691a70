package consents_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/server"
	"attivi/services/consents"
	"attivi/services/people"
	"attivi/storage/objects"
	"attivi/storage/objects/objtest"
	"attivi/tenants"
)

// docEnv serves the consent and document handlers on a real listener, with
// the server's streaming body handling (server.LimitBodies), so that uploads
// stream as in production.
type docEnv struct {
	*env
	store  *objects.Store
	docs   *consents.Documents
	base   string
	cfg    consents.DocumentConfig
	client *http.Client
}

// jsonLimit is the body limit of the JSON routes in these tests.
const jsonLimit = 1 << 20

func newDocEnv(t *testing.T, store *objects.Store, mods ...func(*consents.DocumentConfig)) *docEnv {
	t.Helper()
	e := newEnv(t)
	cfg := consents.DocumentConfig{MaxBytes: 8 << 20, RetentionYears: consents.DefaultRetentionYears, SweepGrace: consents.DefaultSweepGrace}
	for _, m := range mods {
		m(&cfg)
	}
	docs, err := consents.NewDocuments(e.svc, people.NewService(e.db, e.engine, time.Now, quietLog()), store, cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	h := consents.NewDocumentHandler(docs)
	ch := consents.NewHandler(e.svc)
	app := fiber.New(fiber.Config{Immutable: true, StreamRequestBody: true, BodyLimit: jsonLimit, DisableStartupMessage: true,
		ErrorHandler: server.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	app.Use(server.LimitBodies(app, jsonLimit))
	app.Use(func(c *fiber.Ctx) error {
		if a, ok := e.actors[c.Get("X-Test-Actor")]; ok {
			c.SetUserContext(tenants.WithActor(c.UserContext(), a))
		}
		return c.Next()
	})
	app.Get("/api/v1/consents/:id", ch.Get)
	app.Post("/api/v1/consents/:id/revoke", ch.Revoke)
	app.Put("/api/v1/consents/:id/document", h.Upload).Name(server.StreamBody)
	app.Get("/api/v1/consents/:id/document", h.Download)
	app.Get("/api/v1/consents/:id/form.pdf", h.Form)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return &docEnv{env: e, store: store, docs: docs, base: "http://" + ln.Addr().String(), cfg: cfg,
		client: &http.Client{Timeout: 5 * time.Minute}}
}

// send makes a request to the listener as the actor of tenant `as`. size is
// the Content-Length, -1 to send chunked.
func (d *docEnv) send(method, path, as string, body io.Reader, size int64, headers ...string) response {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	req.Header.Set("X-Test-Actor", as)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b, header: res.Header}
}

func (d *docEnv) upload(consentID, as string, content []byte) response {
	d.t.Helper()
	return d.send("PUT", "/api/v1/consents/"+consentID+"/document", as, bytes.NewReader(content), int64(len(content)),
		"Content-Type", "application/octet-stream")
}

func (d *docEnv) download(consentID, as string, headers ...string) response {
	d.t.Helper()
	return d.send("GET", "/api/v1/consents/"+consentID+"/document", as, nil, 0, headers...)
}

func (r response) document(t *testing.T) consents.DocumentJSON {
	t.Helper()
	var d consents.DocumentJSON
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("document body %s: %v", r.body, err)
	}
	return d
}

// consentFor records a consent of a new person owned by owner, naming the
// care team (coeso, which is linked) and the employment offices.
func (d *docEnv) consentFor(mods ...func(map[string]any)) (personID, consentID string) {
	d.t.Helper()
	p := d.person(owner)
	d.link(p, careTeam, "care_team")
	c := d.record(p, owner, body([]string{careTeam, "kind:employment_office"}, []string{"social", "employment"},
		append([]func(map[string]any){set("valid_until", day(365))}, mods...)...))
	return p, c.ID
}

// docs of a consent by state.
func (d *docEnv) rows(consentID string) map[string]int {
	d.t.Helper()
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := d.db.SelectContext(context.Background(), &rows,
		`SELECT state, count(*) AS n FROM consent_documents WHERE consent_id = $1 GROUP BY state`, consentID); err != nil {
		d.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out
}

// objectsOf lists the current objects of a consent, and counts the
// incomplete multipart uploads under its prefix and of the keys given
// (MinIO lists them by exact key only).
func (d *docEnv) objectsOf(consentID string, uploadKeys ...string) (keys []string, incomplete int) {
	d.t.Helper()
	ctx := context.Background()
	for info, err := range d.store.List(ctx, "consents/"+consentID+"/") {
		if err != nil {
			d.t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	for _, prefix := range append([]string{"consents/" + consentID + "/"}, uploadKeys...) {
		for u := range objtest.Client(d.t).ListIncompleteUploads(ctx, d.store.Bucket(), prefix, true) {
			if u.Err != nil {
				d.t.Fatal(u.Err)
			}
			incomplete++
		}
	}
	return keys, incomplete
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(t *testing.T, prefix []byte, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	copy(b, prefix)
	return b
}

// ownMinio is a MinIO of the test's own, to stop and start again on the same
// port and folder: the one `make test` builds (ATTIVI_TEST_MINIO_BIN).
type ownMinio struct {
	bin, addr, dir string
	cmd            *exec.Cmd
}

const (
	minioUser     = "attivitest"
	minioPassword = "attivitest-secret"
)

func startOwnMinio(t *testing.T) *ownMinio {
	t.Helper()
	bin := os.Getenv("ATTIVI_TEST_MINIO_BIN")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("ATTIVI_TEST_MINIO_BIN is not set: run the tests with `make test`")
		}
		t.Skip("ATTIVI_TEST_MINIO_BIN is not set: run the tests with `make test`")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	m := &ownMinio{bin: bin, addr: addr, dir: t.TempDir()}
	m.start(t)
	t.Cleanup(m.stop)
	return m
}

func (m *ownMinio) start(t *testing.T) {
	t.Helper()
	m.cmd = exec.Command(m.bin, "server", "--quiet", "--address", m.addr, "--console-address", "127.0.0.1:0", m.dir)
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword)
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + m.addr + "/minio/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("minio did not start on %s", m.addr)
}

func (m *ownMinio) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

func (m *ownMinio) store(t *testing.T, bucket string) *objects.Store {
	t.Helper()
	s, err := objects.New(objects.Config{Endpoint: m.addr, AccessKey: minioUser, SecretKey: minioPassword, Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// errorMessage is the message of an error response.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	return r.err(t).Error.Message
}
