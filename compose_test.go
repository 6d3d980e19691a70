package main

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of compose.yaml the checks below read. Fields that compose allows in
// two shapes (list or map) are kept as yaml.Node and normalised by the helpers.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string    `yaml:"image"`
	Build       yaml.Node `yaml:"build"`
	User        string    `yaml:"user"`
	Environment yaml.Node `yaml:"environment"`
	DependsOn   yaml.Node `yaml:"depends_on"`
	Volumes     []yaml.Node
	Healthcheck *struct {
		Test    yaml.Node `yaml:"test"`
		Disable bool      `yaml:"disable"`
	} `yaml:"healthcheck"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatalf("read compose.yaml: %v", err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	return c
}

// env returns a service's environment whether written as a map or as a KEY=VALUE list.
func (s composeService) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch s.Environment.Kind {
	case 0:
	case yaml.MappingNode:
		if err := s.Environment.Decode(&out); err != nil {
			t.Fatalf("environment: %v", err)
		}
	case yaml.SequenceNode:
		var list []string
		if err := s.Environment.Decode(&list); err != nil {
			t.Fatalf("environment: %v", err)
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		t.Fatalf("environment: got YAML kind %v, want a map or a list", s.Environment.Kind)
	}
	return out
}

// dependsOn returns dependency -> condition ("" for the short list form).
func (s composeService) dependsOn(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch s.DependsOn.Kind {
	case 0:
	case yaml.SequenceNode:
		var list []string
		if err := s.DependsOn.Decode(&list); err != nil {
			t.Fatalf("depends_on: %v", err)
		}
		for _, d := range list {
			out[d] = ""
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := s.DependsOn.Decode(&m); err != nil {
			t.Fatalf("depends_on: %v", err)
		}
		for d, v := range m {
			out[d] = v.Condition
		}
	default:
		t.Fatalf("depends_on: got YAML kind %v, want a map or a list", s.DependsOn.Kind)
	}
	return out
}

// namedVolumes returns the named (not bind-mounted) volumes a service mounts.
func (s composeService) namedVolumes(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, n := range s.Volumes {
		var source string
		switch n.Kind {
		case yaml.ScalarNode:
			spec := n.Value
			src, _, ok := strings.Cut(spec, ":")
			if !ok { // anonymous volume: just a container path
				continue
			}
			source = src
		case yaml.MappingNode:
			var v struct {
				Type   string `yaml:"type"`
				Source string `yaml:"source"`
			}
			if err := n.Decode(&v); err != nil {
				t.Fatalf("volumes: %v", err)
			}
			if v.Type != "volume" {
				continue
			}
			source = v.Source
		default:
			t.Fatalf("volumes: got YAML kind %v, want a string or a map", n.Kind)
		}
		if source == "" || strings.HasPrefix(source, ".") || strings.HasPrefix(source, "/") ||
			strings.HasPrefix(source, "~") || strings.HasPrefix(source, "$") {
			continue // bind mount
		}
		out = append(out, source)
	}
	return out
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, want := range []string{"postgres", "minio", "attivi"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("services: got %v, want one named %q", names, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if got, want := c.Services["postgres"].Image, "postgres:15"; got != want {
		t.Errorf("postgres image: got %q, want %q", got, want)
	}
	if got := c.Services["minio"].Image; !strings.HasPrefix(got, "minio/minio") {
		t.Errorf("minio image: got %q, want minio/minio[:tag]", got)
	}
	build := c.Services["attivi"].Build
	var dockerfile string
	switch build.Kind {
	case yaml.ScalarNode:
		dockerfile = "Dockerfile"
	case yaml.MappingNode:
		var b struct {
			Dockerfile string `yaml:"dockerfile"`
		}
		if err := build.Decode(&b); err != nil {
			t.Fatalf("attivi build: %v", err)
		}
		dockerfile = b.Dockerfile
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
	default:
		t.Fatalf("attivi build: got none, want a build from Dockerfile")
	}
	if dockerfile != "Dockerfile" {
		t.Errorf("attivi build dockerfile: got %q, want %q", dockerfile, "Dockerfile")
	}
	if u := c.Services["attivi"].User; u == "root" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		t.Errorf("attivi user: got %q, want the image's non-root user", u)
	}
}

func TestComposeDependsOnHealthy(t *testing.T) {
	c := loadCompose(t)
	deps := c.Services["attivi"].dependsOn(t)
	for _, d := range []string{"postgres", "minio"} {
		got, ok := deps[d]
		if !ok {
			t.Errorf("attivi depends_on: got %v, want %s with condition service_healthy", deps, d)
			continue
		}
		if got != "service_healthy" {
			t.Errorf("attivi depends_on %s condition: got %q, want %q", d, got, "service_healthy")
		}
	}
}

func TestComposeDatabaseURL(t *testing.T) {
	c := loadCompose(t)
	pg := c.Services["postgres"].env(t)
	app := c.Services["attivi"].env(t)
	raw, ok := app["ATTIVI_DATABASE_URL"]
	if !ok {
		t.Fatalf("attivi environment: got no ATTIVI_DATABASE_URL, want one")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("ATTIVI_DATABASE_URL %q: %v", raw, err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		t.Errorf("ATTIVI_DATABASE_URL scheme: got %q, want postgres", u.Scheme)
	}
	if got, want := u.Hostname(), "postgres"; got != want {
		t.Errorf("ATTIVI_DATABASE_URL host: got %q, want %q (the compose service)", got, want)
	}
	if p := u.Port(); p != "" && p != "5432" {
		t.Errorf("ATTIVI_DATABASE_URL port: got %q, want 5432", p)
	}
	wantUser := pg["POSTGRES_USER"]
	if wantUser == "" {
		wantUser = "postgres" // the image's default
	}
	if got := u.User.Username(); got != wantUser {
		t.Errorf("ATTIVI_DATABASE_URL user: got %q, want %q (POSTGRES_USER)", got, wantUser)
	}
	wantPass := pg["POSTGRES_PASSWORD"]
	if wantPass == "" {
		t.Errorf("postgres POSTGRES_PASSWORD: got empty, want a password (the image refuses to start without one)")
	}
	if got, _ := u.User.Password(); got != wantPass {
		t.Errorf("ATTIVI_DATABASE_URL password: got %q, want %q (POSTGRES_PASSWORD)", got, wantPass)
	}
	wantDB := pg["POSTGRES_DB"]
	if wantDB == "" {
		wantDB = wantUser // the image's default
	}
	if got := strings.TrimPrefix(u.Path, "/"); got != wantDB {
		t.Errorf("ATTIVI_DATABASE_URL database: got %q, want %q (POSTGRES_DB)", got, wantDB)
	}
}

func TestComposeS3(t *testing.T) {
	c := loadCompose(t)
	mio := c.Services["minio"].env(t)
	app := c.Services["attivi"].env(t)
	host, port, err := net.SplitHostPort(app["ATTIVI_S3_ENDPOINT"])
	if err != nil {
		t.Fatalf("ATTIVI_S3_ENDPOINT: got %q, want host:port (%v)", app["ATTIVI_S3_ENDPOINT"], err)
	}
	if host != "minio" {
		t.Errorf("ATTIVI_S3_ENDPOINT host: got %q, want %q (the compose service)", host, "minio")
	}
	if port != "9000" {
		t.Errorf("ATTIVI_S3_ENDPOINT port: got %q, want %q (minio's S3 port)", port, "9000")
	}
	for _, kv := range [][2]string{
		{"ATTIVI_S3_ACCESS_KEY", "MINIO_ROOT_USER"},
		{"ATTIVI_S3_SECRET_KEY", "MINIO_ROOT_PASSWORD"},
	} {
		got, want := app[kv[0]], mio[kv[1]]
		if want == "" {
			t.Errorf("minio %s: got empty, want a value", kv[1])
		}
		if got != want {
			t.Errorf("attivi %s: got %q, want %q (minio %s)", kv[0], got, want, kv[1])
		}
	}
	if got := app["ATTIVI_S3_SECURE"]; got != "false" {
		t.Errorf("ATTIVI_S3_SECURE: got %q, want %q (minio serves plain HTTP here)", got, "false")
	}
	if got := app["ATTIVI_S3_BUCKET"]; got == "" {
		t.Errorf("ATTIVI_S3_BUCKET: got empty, want a bucket name")
	}
	if got, want := app["ATTIVI_ENV"], "production"; got != want {
		t.Errorf("attivi ATTIVI_ENV: got %q, want %q", got, want)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		h := s.Healthcheck
		if h == nil || h.Disable || h.Test.Kind == 0 {
			t.Errorf("service %s healthcheck: got none, want one", name)
			continue
		}
		var test []string
		switch h.Test.Kind {
		case yaml.ScalarNode:
			test = []string{"CMD-SHELL", h.Test.Value}
		case yaml.SequenceNode:
			if err := h.Test.Decode(&test); err != nil {
				t.Fatalf("service %s healthcheck test: %v", name, err)
			}
		}
		if len(test) < 2 || test[0] == "NONE" {
			t.Errorf("service %s healthcheck test: got %q, want a command", name, test)
		}
	}
	for name, want := range map[string]string{"postgres": "pg_isready", "minio": "/minio/health/live", "attivi": "/readyz"} {
		s, ok := c.Services[name]
		if !ok || s.Healthcheck == nil {
			continue // reported above
		}
		var test []string
		if s.Healthcheck.Test.Kind == yaml.ScalarNode {
			test = []string{s.Healthcheck.Test.Value}
		} else {
			_ = s.Healthcheck.Test.Decode(&test)
		}
		if got := strings.Join(test, " "); !strings.Contains(got, want) {
			t.Errorf("service %s healthcheck test: got %q, want it to use %s", name, got, want)
		}
	}
}

func TestComposeVolumes(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for _, v := range s.namedVolumes(t) {
			if _, ok := c.Volumes[v]; !ok {
				t.Errorf("service %s mounts volume %q: got top-level volumes %v, want it declared", name, v, keys(c.Volumes))
			}
		}
	}
	for _, name := range []string{"postgres", "minio"} {
		if len(c.Services[name].namedVolumes(t)) == 0 {
			t.Errorf("service %s volumes: got no named volume, want its data on one", name)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestComposeDockerfileNonRoot checks that the final stage of the Dockerfile switches to a
// non-root user.
func TestComposeDockerfileNonRoot(t *testing.T) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatalf("open Dockerfile: %v", err)
	}
	defer f.Close()
	var stages int
	var user string // the last USER of the current stage
	sc := bufio.NewScanner(f)
	var line string
	for sc.Scan() {
		part := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(part, "#") && line == "" {
			continue
		}
		if strings.HasSuffix(part, "\\") {
			line += strings.TrimSuffix(part, "\\") + " "
			continue
		}
		line += part
		fields := strings.Fields(line)
		line = ""
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages++
			user = ""
		case "USER":
			if len(fields) < 2 {
				t.Fatalf("Dockerfile: USER without a user")
			}
			user = fields[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	if stages == 0 {
		t.Fatalf("Dockerfile: got no FROM, want a multi-stage build")
	}
	if stages < 2 {
		t.Errorf("Dockerfile stages: got %d, want a multi-stage build (>= 2)", stages)
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("Dockerfile final stage USER: got %q, want a non-root user", user)
	}
}
