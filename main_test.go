package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"attivi/storage/postgres/pgtest"
)

// envFrom returns a getenv over a map, falling back to nothing: the tests
// decide every variable the program sees.
func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHelpNamesEveryVariable(t *testing.T) {
	for _, cmd := range []string{"serve", "migrate", "seed", "users", "version"} {
		var out bytes.Buffer
		err := run(context.Background(), []string{cmd, "--help"}, envFrom(nil), &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: %v, want ErrHelp", cmd, err)
		}
		if !strings.Contains(out.String(), "ATTIVI_ENV") {
			t.Errorf("%s --help does not list the variables it reads:\n%s", cmd, out.String())
		}
	}
	var out bytes.Buffer
	_ = run(context.Background(), []string{"serve", "--help"}, envFrom(nil), &out)
	for _, v := range []string{"ATTIVI_DATABASE_URL", "ATTIVI_S3_ENDPOINT", "ATTIVI_LISTEN", "ATTIVI_S3_SECRET_KEY"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("serve --help does not mention %s", v)
		}
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve"}, envFrom(map[string]string{
		"ATTIVI_ENV":             "staging",
		"ATTIVI_LISTEN":          "8080",
		"ATTIVI_DATABASE_URL":    "mysql://x",
		"ATTIVI_S3_ENDPOINT":     "http://minio:9000",
		"ATTIVI_BODY_LIMIT":      "-3",
		"ATTIVI_TRUSTED_PROXIES": "10.0.0.0/8, lb.example",
	}), &out)
	if err == nil {
		t.Fatal("serve with a broken configuration started")
	}
	for _, name := range []string{"ATTIVI_ENV", "ATTIVI_LISTEN", "ATTIVI_DATABASE_URL", "ATTIVI_S3_ENDPOINT", "ATTIVI_S3_ACCESS_KEY", "ATTIVI_BODY_LIMIT",
		"ATTIVI_TRUSTED_PROXIES"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestConfigLogMasksSecrets(t *testing.T) {
	cfg, err := loadConfig(envFrom(map[string]string{
		"ATTIVI_DATABASE_URL":  "postgres://attivi:hunter2-db@db:5432/attivi",
		"ATTIVI_S3_ENDPOINT":   "minio:9000",
		"ATTIVI_S3_ACCESS_KEY": "attivi",
		"ATTIVI_S3_SECRET_KEY": "hunter2-s3",
		"ATTIVI_ENV":           "production",
	}), need{db: true, s3: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	newLogger(cfg, &out).Info("config", "config", cfg)
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("a secret is in the log: %s", out.String())
	}
	if !strings.Contains(out.String(), "db:5432") || !strings.HasPrefix(out.String(), "{") {
		t.Errorf("the log should be JSON in production and keep the non-secret parts: %s", out.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, envFrom(nil), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "attivi ") {
		t.Errorf("version printed %q", out.String())
	}
}

func TestConcurrentMigrateAndIdempotentSeed(t *testing.T) {
	url := pgtest.NewEmptyURL(t, false)
	env := envFrom(map[string]string{"ATTIVI_DATABASE_URL": url})
	outs := make([]bytes.Buffer, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(context.Background(), []string{"migrate"}, env, &outs[i])
		}()
	}
	wg.Wait()
	applied := 0
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("migrate %d: %v", i, errs[i])
		}
		applied += strings.Count(outs[i].String(), "applied ")
	}
	files, _ := os.ReadDir("migrations")
	sqlFiles := 0
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".sql") {
			sqlFiles++
		}
	}
	if applied != sqlFiles {
		t.Errorf("two concurrent migrates applied %d files in all, want each of the %d once\n%s\n%s", applied, sqlFiles, outs[0].String(), outs[1].String())
	}

	var first, second bytes.Buffer
	if err := run(context.Background(), []string{"seed"}, env, &first); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if !strings.Contains(first.String(), "tenants 31 added") {
		t.Errorf("first seed: %s, want 31 tenants added", first.String())
	}
	if err := run(context.Background(), []string{"seed"}, env, &second); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	if !strings.Contains(second.String(), "municipalities 0 added, 0 updated; tenants 0 added, 0 updated") {
		t.Errorf("second seed changed something: %s", second.String())
	}
}

func TestServeRefusesAnOldSchema(t *testing.T) {
	url := pgtest.NewEmptyURL(t, false)
	err := run(context.Background(), []string{"serve"}, envFrom(map[string]string{
		"ATTIVI_DATABASE_URL": url, "ATTIVI_S3_ENDPOINT": "127.0.0.1:1",
		"ATTIVI_S3_ACCESS_KEY": "x", "ATTIVI_S3_SECRET_KEY": "y", "ATTIVI_LISTEN": "127.0.0.1:0",
	}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "attivi migrate") {
		t.Errorf("serve on an empty database: %v, want a refusal that says to run attivi migrate", err)
	}
}

// minioServer is a MinIO of the test's own, which it can stop and start
// again on the same port and data folder.
type minioServer struct {
	bin, addr, dir string
	cmd            *exec.Cmd
}

func startMinio(t *testing.T) *minioServer {
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
	m := &minioServer{bin: bin, addr: addr, dir: t.TempDir()}
	m.start(t)
	t.Cleanup(m.stop)
	return m
}

func (m *minioServer) start(t *testing.T) {
	t.Helper()
	m.cmd = exec.Command(m.bin, "server", "--quiet", "--address", m.addr, "--console-address", "127.0.0.1:0", m.dir)
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=attivitest", "MINIO_ROOT_PASSWORD=attivitest-secret")
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + m.addr + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("minio did not start on %s", m.addr)
}

func (m *minioServer) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

// serveInBackground runs `attivi serve` and returns its base URL and a stop
// function that cancels it like SIGTERM and waits for it to return.
func serveInBackground(t *testing.T, env map[string]string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	var mu sync.Mutex
	go func() {
		done <- runWith(ctx, []string{"serve"}, envFrom(env), lockedWriter{&mu, &logs}, func(a string) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		var once sync.Once
		var serr error
		stop := func() error {
			once.Do(func() { cancel(); serr = <-done })
			return serr
		}
		t.Cleanup(func() { _ = stop() })
		return "http://" + a, stop
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped at start: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start listening")
	}
	return "", nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitStatus polls url until it answers want, and returns the last body.
func waitStatus(t *testing.T, url string, want int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			if resp.StatusCode == want {
				return string(b)
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: want %d within %s, last answer %s", url, want, within, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestServeReadinessFollowsMinio(t *testing.T) {
	_, dbURL := pgtest.NewWithURL(t)
	m := startMinio(t)
	base, stop := serveInBackground(t, map[string]string{
		"ATTIVI_DATABASE_URL": dbURL, "ATTIVI_S3_ENDPOINT": m.addr, "ATTIVI_S3_ACCESS_KEY": "attivitest",
		"ATTIVI_S3_SECRET_KEY": "attivitest-secret", "ATTIVI_S3_BUCKET": "attivi-readyz", "ATTIVI_LISTEN": "127.0.0.1:0",
	})
	waitStatus(t, base+"/readyz", 200, 30*time.Second)
	waitStatus(t, base+"/healthz", 200, time.Second)

	m.stop()
	body := waitStatus(t, base+"/readyz", 503, 30*time.Second)
	var e struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != "unavailable" || e.Error.Fields["minio"] == "" || e.Error.Fields["postgres"] != "" {
		t.Errorf("readyz with minio down: %s, want unavailable naming minio only", body)
	}
	// The rest of the API keeps working without the document store.
	waitStatus(t, base+"/api/v1/tenants", 200, 5*time.Second)

	m.start(t)
	waitStatus(t, base+"/readyz", 200, 30*time.Second)
	if err := stop(); err != nil {
		t.Errorf("serve returned %v after SIGTERM, want nil", err)
	}
}

func TestDemoAccountsOnlyInDevelopment(t *testing.T) {
	db, url := pgtest.NewWithURL(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"seed"}, envFrom(map[string]string{"ATTIVI_DATABASE_URL": url, "ATTIVI_ENV": "production"}), &out); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	if n != 0 || strings.Contains(out.String(), "demo") {
		t.Errorf("production seed made %d users and printed %q, want none", n, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"seed"}, envFrom(map[string]string{"ATTIVI_DATABASE_URL": url}), &out); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&n, `SELECT count(DISTINCT role) FROM membership_roles`); err != nil {
		t.Fatal(err)
	}
	if n != 8 || !strings.Contains(out.String(), "attivi-demo-2026") {
		t.Errorf("development seed: %d roles covered, output %q; want a demo account for each of the 8 roles, printed with the password", n, out.String())
	}
}

func TestUsersCommand(t *testing.T) {
	db, url := pgtest.NewWithURL(t)
	env := envFrom(map[string]string{"ATTIVI_DATABASE_URL": url, "ATTIVI_ENV": "production"})
	if err := run(context.Background(), []string{"seed"}, env, io.Discard); err != nil {
		t.Fatal(err)
	}
	stdin = strings.NewReader("una frase lunga e segreta\n")
	t.Cleanup(func() { stdin = os.Stdin })
	var out bytes.Buffer
	err := run(context.Background(), []string{"users", "add", "--tenant", "coordinamento-attivi", "--email", "first@attivi.example", "--role", "network_admin", "--password-stdin"}, env, &out)
	if err != nil {
		t.Fatalf("users add: %v", err)
	}
	if strings.Contains(out.String(), "segreta") {
		t.Errorf("the password read from stdin is printed: %s", out.String())
	}
	var role string
	if err := db.Get(&role, `SELECT r.role FROM membership_roles r JOIN users u ON u.id = r.user_id WHERE u.email = 'first@attivi.example'`); err != nil || role != "network_admin" {
		t.Errorf("role %q (err %v), want network_admin", role, err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"users", "add", "--tenant", "caritas", "--email", "gen@attivi.example", "--role", "job_coach"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "password (shown once)") {
		t.Errorf("without --password-stdin a generated password should be printed once: %s", out.String())
	}
	if err := run(context.Background(), []string{"users", "add", "--tenant", "caritas", "--email", "x@attivi.example", "--role", "chef"}, env, io.Discard); err == nil || !strings.Contains(err.Error(), "roles") {
		t.Errorf("unknown role: %v, want an error naming roles", err)
	}
	if err := run(context.Background(), []string{"users", "disable", "--email", "gen@attivi.example"}, env, io.Discard); err != nil {
		t.Fatal(err)
	}
	var disabled bool
	if err := db.Get(&disabled, `SELECT disabled_at IS NOT NULL FROM users WHERE email = 'gen@attivi.example'`); err != nil || !disabled {
		t.Errorf("user not disabled (err %v)", err)
	}
	if err := run(context.Background(), []string{"users", "disable", "--email", "nobody@attivi.example"}, env, io.Discard); err == nil {
		t.Errorf("disabling an unknown user succeeded")
	}
}

func TestAuditVerifyCatchesTampering(t *testing.T) {
	db, url := pgtest.NewWithURL(t)
	env := envFrom(map[string]string{"ATTIVI_DATABASE_URL": url, "ATTIVI_ENV": "production"})
	if _, err := db.Exec(`INSERT INTO access_log (action, decision, reason) VALUES ('read', 'allow', 'a'), ('read', 'deny', 'b'), ('list', 'allow', 'c')`); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"audit", "verify"}, env, &out); err != nil || !strings.Contains(out.String(), "intact (3 rows)") {
		t.Fatalf("verify an intact log: %v %s", err, out.String())
	}
	if _, err := db.Exec(`ALTER TABLE access_log DISABLE TRIGGER access_log_append_only;
		UPDATE access_log SET decision = 'allow' WHERE seq = 2;
		ALTER TABLE access_log ENABLE TRIGGER access_log_append_only;`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(context.Background(), []string{"audit", "verify"}, env, &out)
	if err == nil || !strings.Contains(out.String(), "row 2") {
		t.Errorf("verify a tampered log: %v %s, want an error naming row 2", err, out.String())
	}
	if _, err := db.Exec(`ALTER TABLE access_log DISABLE TRIGGER access_log_append_only;
		DELETE FROM access_log WHERE seq = 3;
		ALTER TABLE access_log ENABLE TRIGGER access_log_append_only;`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"audit", "verify"}, env, &out); err == nil || !strings.Contains(out.String(), "removed") {
		t.Errorf("verify a log whose last row was removed: %v %s, want it reported", err, out.String())
	}
}
