package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// TestDocumentsThroughTheProgram runs `attivi serve` as a process of its own
// (built with go build) against a real PostgreSQL and MinIO: a 200 MB upload
// with the server's peak memory measured, then the server killed (SIGKILL)
// in the middle of another upload, restarted, and `attivi storage sweep`:
// no orphan object, no incomplete upload, no dangling row, and `attivi
// storage verify` finds every document matching its row.
func TestDocumentsThroughTheProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program and uploads 200 MB")
	}
	db, dbURL := pgtest.NewWithURL(t)
	m := startMinio(t)
	env := map[string]string{
		"ATTIVI_DATABASE_URL": dbURL, "ATTIVI_S3_ENDPOINT": m.addr, "ATTIVI_S3_ACCESS_KEY": "attivitest",
		"ATTIVI_S3_SECRET_KEY": "attivitest-secret", "ATTIVI_S3_BUCKET": "attivi-docs", "ATTIVI_LISTEN": freeAddr(t),
		"ATTIVI_DOCUMENT_MAX_BYTES": strconv.Itoa(300 << 20),
	}
	ctx := context.Background()
	if err := run(ctx, []string{"seed"}, envFrom(env), io.Discard); err != nil {
		t.Fatalf("seed: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "attivi")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := startServe(t, bin, env)
	api := &apiClient{t: t, base: srv.base}
	api.token = api.login("assistente.sociale@attivi.example", tenants.DemoPassword)
	person := api.json("POST", "/api/v1/persons", `{"fiscal_code":"VRDLCU80A41D612O","given_name":"Lucia","family_name":"Verdi",
		"birth_date":"1980-01-01","sex":"F","residence_istat":"048001","target_group":"salute_mentale"}`, 201)["id"].(string)
	consent := api.json("POST", "/api/v1/persons/"+person+"/consents", `{"basis":"consent","purpose":"presa_in_carico",
		"grantees":["coeso"],"categories":["social"],"valid_from":"2026-01-01"}`, 201)["id"].(string)

	// 200 MB through the server, whose peak resident memory is measured.
	const size = 200 << 20
	resetPeak(t, srv.cmd.Process.Pid)
	start := time.Now()
	status, body := api.upload(consent, &slowGenerator{n: size}, size)
	if status != 201 {
		t.Fatalf("200 MB upload: %d %s (a 413 naming the JSON limit, or a 404: the documents routes are not wired in server/routes.go)\n%s",
			status, body, srv.logs())
	}
	t.Logf("200 MB upload through attivi serve in %s; the server's peak resident memory (VmHWM) during it: %d MiB",
		time.Since(start).Round(time.Millisecond), peakRSS(t, srv.cmd.Process.Pid)>>20)
	if peak := peakRSS(t, srv.cmd.Process.Pid); peak > 160<<20 {
		t.Errorf("the server's resident memory peaked at %d MiB during a 200 MB upload: it is buffered", peak>>20)
	}
	// And back: the server streams it, it does not read it into memory.
	resetPeak(t, srv.cmd.Process.Pid)
	start = time.Now()
	status, n := api.download("/api/v1/consents/" + consent + "/document")
	if status != 200 || n != size {
		t.Fatalf("200 MB download: %d, %d bytes", status, n)
	}
	t.Logf("200 MB download in %s; the server's peak resident memory during it: %d MiB",
		time.Since(start).Round(time.Millisecond), peakRSS(t, srv.cmd.Process.Pid)>>20)
	if peak := peakRSS(t, srv.cmd.Process.Pid); peak > 160<<20 {
		t.Errorf("the server's resident memory peaked at %d MiB during a 200 MB download: it is buffered", peak>>20)
	}
	var stored string
	if err := db.GetContext(ctx, &stored, `SELECT object_key FROM consent_documents WHERE consent_id = $1 AND state = 'stored'`, consent); err != nil {
		t.Fatal(err)
	}

	// Killed in the middle of the next upload: the client has sent 60 of
	// its 200 MB, several parts are in MinIO, the row is pending.
	sent := make(chan struct{})
	stuck := &slowGenerator{n: size, stallAt: 60 << 20, stalled: sent}
	done := make(chan error, 1)
	go func() {
		_, _, err := api.try(consent, stuck, size)
		done <- err
	}()
	select {
	case <-sent:
	case <-time.After(time.Minute):
		t.Fatalf("the upload did not get to 60 MB\n%s", srv.logs())
	}
	var key string
	waitUntil(t, 10*time.Second, func() bool {
		return db.GetContext(ctx, &key, `SELECT object_key FROM consent_documents WHERE consent_id = $1 AND state = 'pending'`, consent) == nil
	})
	mc := minioClient(t, m.addr)
	waitUntil(t, 10*time.Second, func() bool { return incompleteUploads(t, mc, key) > 0 })
	srv.kill()
	stuck.release()
	if err := <-done; err == nil {
		t.Error("the upload cut by the kill succeeded")
	}

	srv = startServe(t, bin, env)
	api.base = srv.base
	// The document stored before the crash is still the consent's.
	if status, body := api.get("/api/v1/consents/" + consent + "/document"); status != 200 || len(body) != size {
		t.Errorf("download after the restart: %d, %d bytes, want the 200 MB stored before", status, len(body))
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"storage", "sweep", "--grace", "0s"}, envFrom(env), &out); err != nil {
		t.Fatalf("storage sweep: %v\n%s", err, out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	if !strings.Contains(out.String(), "1 dead uploads removed") {
		t.Errorf("storage sweep: %s, want the dead upload removed", out.String())
	}
	var pending int
	if err := db.GetContext(ctx, &pending, `SELECT count(*) FROM consent_documents WHERE state = 'pending'`); err != nil {
		t.Fatal(err)
	}
	if n := incompleteUploads(t, mc, key); pending != 0 || n != 0 {
		t.Errorf("after the sweep: %d pending rows, %d incomplete uploads of the killed one, want none", pending, n)
	}
	var keys []string
	for o := range mc.ListObjectsIter(ctx, "attivi-docs", minio.ListObjectsOptions{Prefix: "consents/", Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if len(keys) != 1 || keys[0] != stored {
		t.Errorf("objects (all versions) after the sweep: %v, want only the stored document %s", keys, stored)
	}
	out.Reset()
	if err := run(ctx, []string{"storage", "verify"}, envFrom(env), &out); err != nil {
		t.Errorf("storage verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 documents re-read") || !strings.Contains(out.String(), "every document matches its row") {
		t.Errorf("storage verify: %s", out.String())
	}
	checkRowsHaveObjects(t, db, mc)
}

// checkRowsHaveObjects: no row points to a missing object.
func checkRowsHaveObjects(t *testing.T, db *sqlx.DB, mc *minio.Client) {
	t.Helper()
	var rows []struct {
		Key     string `db:"object_key"`
		Version string `db:"version_id"`
	}
	if err := db.Select(&rows, `SELECT object_key, version_id FROM consent_documents WHERE state <> 'pending'`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := mc.StatObject(context.Background(), "attivi-docs", r.Key, minio.StatObjectOptions{VersionID: r.Version}); err != nil {
			t.Errorf("row of %s version %s: %v", r.Key, r.Version, err)
		}
	}
}

type servedProgram struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	out  bytes.Buffer
}

func (s *servedProgram) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *servedProgram) kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill() // SIGKILL: no shutdown, no cleanup
		_ = s.cmd.Wait()
	}
}

func startServe(t *testing.T, bin string, env map[string]string) *servedProgram {
	t.Helper()
	s := &servedProgram{base: "http://" + env["ATTIVI_LISTEN"]}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	w := lockedWriter{&s.mu, &s.out}
	s.cmd.Stdout, s.cmd.Stderr = w, w
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("attivi serve is not ready:\n%s", s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (a *apiClient) do(method, path string, body io.Reader, size int64, contentType string) (int, []byte, error) {
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", contentType)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (a *apiClient) json(method, path, body string, want int) map[string]any {
	a.t.Helper()
	status, b, err := a.do(method, path, strings.NewReader(body), int64(len(body)), "application/json")
	if err != nil || status != want {
		a.t.Fatalf("%s %s: %d %s %v, want %d", method, path, status, b, err, want)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		a.t.Fatal(err)
	}
	return m
}

func (a *apiClient) login(email, password string) string {
	a.t.Helper()
	return a.json("POST", "/api/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), 200)["token"].(string)
}

func (a *apiClient) try(consent string, r io.Reader, size int64) (int, []byte, error) {
	return a.do("PUT", "/api/v1/consents/"+consent+"/document", r, size, "application/pdf")
}

func (a *apiClient) upload(consent string, r io.Reader, size int64) (int, []byte) {
	a.t.Helper()
	status, b, err := a.try(consent, r, size)
	if err != nil {
		a.t.Fatalf("upload: %v", err)
	}
	return status, b
}

func (a *apiClient) download(path string) (int, int64) {
	a.t.Helper()
	req, err := http.NewRequest("GET", a.base+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, n
}

func (a *apiClient) get(path string) (int, []byte) {
	a.t.Helper()
	status, b, err := a.do("GET", path, nil, 0, "")
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	return status, b
}

// slowGenerator yields n bytes of a PDF without holding them; with stallAt
// it stops there (closing stalled) until released.
type slowGenerator struct {
	n, off, stallAt int
	stalled         chan struct{}
	resume          chan struct{}
	once            sync.Once
}

func (g *slowGenerator) Read(p []byte) (int, error) {
	if g.stallAt > 0 && g.off >= g.stallAt {
		g.once.Do(func() {
			g.resume = make(chan struct{})
			close(g.stalled)
		})
		<-g.resume
		return 0, io.ErrUnexpectedEOF
	}
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(len(p), g.n-g.off)]
	if g.stallAt > 0 {
		p = p[:min(len(p), g.stallAt-g.off)]
	}
	for i := range p {
		p[i] = byte((g.off + i) % 253)
	}
	if g.off == 0 {
		copy(p, "%PDF-1.7\n")
	}
	g.off += len(p)
	return len(p), nil
}

func (g *slowGenerator) release() {
	g.once.Do(func() { g.resume = make(chan struct{}) })
	close(g.resume)
}

// resetPeak resets the peak resident memory of a process (Linux).
func resetPeak(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak memory of the server (%v): the peak includes its start", err)
	}
}

// peakRSS is a process's peak resident memory (VmHWM, Linux).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}

func minioClient(t *testing.T, addr string) *minio.Client {
	t.Helper()
	c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("attivitest", "attivitest-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// incompleteUploads counts the multipart uploads of key in progress (MinIO
// lists them by exact key).
func incompleteUploads(t *testing.T, c *minio.Client, key string) int {
	t.Helper()
	n := 0
	for u := range c.ListIncompleteUploads(context.Background(), "attivi-docs", key, false) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		n++
	}
	return n
}

func waitUntil(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not so within %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
