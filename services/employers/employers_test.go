package employers_test

import (
	"attivi/server/servertest"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/policies"
	"attivi/services/employers"
	"attivi/services/pathways"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

const (
	owner     = "comune-bagno-a-ripoli" // social_worker: owns the participants' records
	owner2    = "comune-fiesole"        // social_worker: owns a participant the coach has no link to
	coach     = "coeso"                 // job_coach: care team, consent to employment data
	stranger  = "caritas"               // job_coach: no link
	officer   = "collocamento-mirato-firenze"
	noConsent = "arca" // job_coach: care team, no consent
)

var memberships = map[string]tenants.Role{
	owner: tenants.RoleSocialWorker, owner2: tenants.RoleSocialWorker, coach: tenants.RoleJobCoach,
	stranger: tenants.RoleJobCoach, officer: tenants.RolePlacementOfficer, noConsent: tenants.RoleJobCoach,
}

var serial atomic.Int64

type env struct {
	t      *testing.T
	db     *sqlx.DB
	paths  *pathways.Service
	app    *fiber.App
	actors map[string]tenants.Actor
	today  time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := pgtest.New(t)
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, slices.Concat(tenants.ZoneMunicipalities, tenants.FormerMunicipalities), tenants.Network()); err != nil {
		t.Fatalf("seed network: %v", err)
	}
	if _, err := policies.Seed(ctx, db); err != nil {
		t.Fatalf("seed policy: %v", err)
	}
	id, err := tenants.NewIdentity(db, tenants.DefaultAuth, log, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, actors: map[string]tenants.Actor{}, today: policies.Today(time.Now())}
	for slug, role := range memberships {
		m, _, err := id.AddMember(ctx, slug, tenants.NewMember{Email: "staff@" + slug + ".example", DisplayName: "Staff " + slug,
			Password: "una frase lunga per le prove", Roles: []string{string(role)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tn, err := store.BySlug(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		e.actors[slug] = tenants.Actor{UserID: m.ID, TenantID: tn.ID, TenantSlug: slug, TenantKind: tn.Kind, Roles: []tenants.Role{role}}
	}
	engine, err := policies.New(ctx, db, log)
	if err != nil {
		t.Fatal(err)
	}
	e.paths = pathways.NewService(db, engine, time.Now)
	h := employers.NewHandler(employers.NewService(db, engine, e.paths, time.Now))
	e.app = servertest.ActorApp(e.actors)
	r := e.app.Group("/api/v1")
	r.Get("/employers", h.List)
	r.Post("/employers", h.Create)
	r.Get("/employers/:id", h.Get)
	r.Patch("/employers/:id", h.Update)
	r.Get("/employers/:id/contacts", h.Contacts)
	r.Post("/employers/:id/contacts", h.AddContact)
	r.Get("/employers/:id/scouting", h.Scouting)
	r.Post("/employers/:id/scouting", h.AddScouting)
	r.Get("/openings", h.Openings)
	r.Post("/openings", h.CreateOpening)
	r.Get("/openings/:id", h.Opening)
	r.Patch("/openings/:id", h.ChangeOpening)
	r.Get("/openings/:id/matches", h.Matches)
	return e
}

type response struct {
	status int
	body   []byte
	etag   string
}

func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return m
}

func (r response) fields(t *testing.T) map[string]any {
	t.Helper()
	f, _ := r.obj(t)["error"].(map[string]any)["fields"].(map[string]any)
	return f
}

func (e *env) do(method, path, as string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Test-Actor", as)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.app.Test(req, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b, etag: res.Header.Get("ETag")}
}

func (e *env) must(want int, method, path, as string, body any, headers ...string) map[string]any {
	e.t.Helper()
	r := e.do(method, path, as, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s as %s: %d %s, want %d", method, path, as, r.status, r.body, want)
	}
	return r.obj(e.t)
}

// vat makes a valid partita IVA from n (office 048, Firenze).
func vat(n int) string {
	first10 := fmt.Sprintf("%07d048", (n*7919)%10_000_000+1)
	sum := 0
	for i := range 10 {
		d := int(first10[i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return first10 + string(rune('0'+(10-sum%10)%10))
}

func employerBody(name string, mods ...func(map[string]any)) map[string]any {
	b := map[string]any{"name": name, "vat_number": vat(int(serial.Add(1))), "ateco_code": "81.30.00", "ateco_version": "2007",
		"size": "small", "employees": 20, "l68_obligation": true}
	for _, m := range mods {
		m(b)
	}
	return b
}

func set(k string, v any) func(map[string]any) { return func(b map[string]any) { b[k] = v } }

func TestEmployers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := employerBody("Verde Chianti srl", set("municipality_istat", "048021"))
	emp := e.must(201, "POST", "/api/v1/employers", coach, body)
	id := emp["id"].(string)
	if emp["vat_number"] != body["vat_number"] || emp["created_by"] != coach || emp["version"] != 1.0 || emp["municipality_istat"] != "048021" {
		t.Errorf("employer: %v", emp)
	}
	// Who may write: job coaches, placement officers, coordinators; social workers read.
	if r := e.do("POST", "/api/v1/employers", owner, employerBody("Altra srl")); r.status != 403 {
		t.Errorf("social worker registers an employer: %d, want 403", r.status)
	}
	e.must(201, "POST", "/api/v1/employers", officer, employerBody("Officina Pelago snc", set("size", "micro"), set("employees", 4), set("l68_obligation", false)))
	for _, as := range []string{owner, stranger, officer, coach} {
		e.must(200, "GET", "/api/v1/employers/"+id, as, nil)
	}
	if r := e.do("GET", "/api/v1/employers/"+id, "", nil); r.status != 401 {
		t.Errorf("anonymous: %d, want 401", r.status)
	}
	// Validation, all problems at once.
	r := e.do("POST", "/api/v1/employers", coach, employerBody("", set("vat_number", "IT01114601007"), set("ateco_code", "8130"),
		set("ateco_version", "2002"), set("employees", 10), set("size", "micro")))
	f := r.fields(t)
	if r.status != 422 || !strings.Contains(fmt.Sprint(f["vat_number"]), "check digit") || f["name"] == nil || f["ateco_code"] == nil ||
		f["ateco_version"] == nil || !strings.Contains(fmt.Sprint(f["size"]), "10 employees make a small") || f["l68_obligation"] == nil {
		t.Errorf("invalid employer: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/employers", coach, employerBody("Doppione srl", set("vat_number", "IT "+body["vat_number"].(string)))); r.status != 409 ||
		r.fields(t)["vat_number"] == nil {
		t.Errorf("same VAT number again: %d %s, want 409 naming vat_number", r.status, r.body)
	}
	// Change with If-Match.
	if r := e.do("PATCH", "/api/v1/employers/"+id, coach, map[string]any{"employees": 60}); r.status != 400 {
		t.Errorf("PATCH without If-Match: %d, want 400", r.status)
	}
	if r := e.do("PATCH", "/api/v1/employers/"+id, coach, map[string]any{"employees": 60}, "If-Match", "1"); r.status != 422 {
		t.Errorf("60 employees in a small company: %d, want 422", r.status)
	}
	ch := e.must(200, "PATCH", "/api/v1/employers/"+id, coach, map[string]any{"employees": 60, "size": "medium", "ateco_code": "81.30", "ateco_version": "2025"}, "If-Match", "1")
	if ch["version"] != 2.0 || ch["size"] != "medium" || ch["ateco_version"] != "2025" || ch["name"] != "Verde Chianti srl" {
		t.Errorf("changed: %v", ch)
	}
	if r := e.do("PATCH", "/api/v1/employers/"+id, coach, map[string]any{"address": "Via Roma 1"}, "If-Match", "1"); r.status != 409 {
		t.Errorf("stale PATCH: %d, want 409", r.status)
	}
	// Search and pages.
	l := e.must(200, "GET", "/api/v1/employers?q=verde", stranger, nil)
	if items := l["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Errorf("search verde: %v", l)
	}
	l = e.must(200, "GET", "/api/v1/employers?q="+body["vat_number"].(string)[:6], stranger, nil)
	if items := l["items"].([]any); len(items) != 1 {
		t.Errorf("search by VAT prefix: %v", l)
	}
	p1 := e.must(200, "GET", "/api/v1/employers?limit=1", owner, nil)
	p2 := e.must(200, "GET", "/api/v1/employers?limit=1&cursor="+p1["next_cursor"].(string), owner, nil)
	if p1["items"].([]any)[0].(map[string]any)["name"] != "Officina Pelago snc" || p2["items"].([]any)[0].(map[string]any)["name"] != "Verde Chianti srl" || p2["next_cursor"] != nil {
		t.Errorf("pages: %v / %v", p1, p2)
	}
	if r := e.do("GET", "/api/v1/employers/00000000-0000-0000-0000-000000000000", coach, nil); r.status != 404 {
		t.Errorf("unknown employer: %d", r.status)
	}

	// Contacts and the scouting log.
	c := e.must(201, "POST", "/api/v1/employers/"+id+"/contacts", coach, map[string]any{"name": "Anna Verdi", "role": "responsabile personale", "email": "anna@verde.example"})
	if r := e.do("POST", "/api/v1/employers/"+id+"/contacts", coach, map[string]any{"name": "X", "email": "non-una-mail"}); r.status != 422 {
		t.Errorf("bad contact: %d", r.status)
	}
	if cs := e.must(200, "GET", "/api/v1/employers/"+id+"/contacts", owner, nil)["items"].([]any); len(cs) != 1 {
		t.Errorf("contacts: %v", cs)
	}
	day := func(n int) string { return e.today.AddDate(0, 0, n).Format(time.DateOnly) }
	e.must(201, "POST", "/api/v1/employers/"+id+"/scouting", coach, map[string]any{"contacted_on": day(-20), "channel": "phone", "outcome": "call_back",
		"contact_id": c["id"], "next_step": "visita in azienda", "next_step_on": day(-10)})
	e.must(201, "POST", "/api/v1/employers/"+id+"/scouting", coach, map[string]any{"contacted_on": day(-10), "channel": "visit", "outcome": "opening", "notes": "cercano un giardiniere"})
	other := e.must(201, "POST", "/api/v1/employers", coach, employerBody("Terza srl"))["id"].(string)
	if r := e.do("POST", "/api/v1/employers/"+other+"/scouting", coach, map[string]any{"contacted_on": day(0), "channel": "email", "outcome": "no_answer", "contact_id": c["id"]}); r.status != 422 {
		t.Errorf("scouting with another employer's contact: %d %s, want 422", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/employers/"+id+"/scouting", coach, map[string]any{"contacted_on": day(1), "channel": "fax", "outcome": "maybe"}); r.status != 422 || len(r.fields(t)) != 3 {
		t.Errorf("bad scouting: %d %s, want 3 problems", r.status, r.body)
	}
	log := e.must(200, "GET", "/api/v1/employers/"+id+"/scouting", stranger, nil)["items"].([]any)
	if len(log) != 2 || log[0].(map[string]any)["outcome"] != "opening" || log[1].(map[string]any)["user"] != "Staff coeso" {
		t.Errorf("scouting log: %v", log)
	}

	// Openings.
	ob := map[string]any{"employer_id": id, "role": "Giardiniere", "tasks": "manutenzione del verde", "kind": "tirocinio", "hours_per_week": 20,
		"requirements": "patente B", "accessibility_notes": "lavoro all'aperto", "max_scores": map[string]any{"autonomy": 2}}
	o := e.must(201, "POST", "/api/v1/openings", coach, ob)
	if o["status"] != "open" || at(o, "employer", "name") != "Verde Chianti srl" || at(o, "max_scores", "autonomy") != 2.0 || o["opened_on"] != day(0) {
		t.Errorf("opening: %v", o)
	}
	ob["max_scores"] = map[string]any{"context_facilitators": 2, "autonomy": 7}
	ob["kind"] = "stage"
	if r := e.do("POST", "/api/v1/openings", coach, ob); r.status != 422 || len(r.fields(t)) != 3 {
		t.Errorf("bad opening: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/openings", owner, ob); r.status != 403 {
		t.Errorf("opening by a social worker: %d", r.status)
	}
	if l := e.must(200, "GET", "/api/v1/openings?status=open&employer="+id, owner, nil)["items"].([]any); len(l) != 1 {
		t.Errorf("open openings: %v", l)
	}
	e.must(200, "PATCH", "/api/v1/openings/"+o["id"].(string), coach, map[string]any{"status": "filled"}, "If-Match", "1")
	if l := e.must(200, "GET", "/api/v1/openings?status=open", owner, nil)["items"].([]any); len(l) != 0 {
		t.Errorf("open openings after filling: %v", l)
	}
	if r := e.do("GET", "/api/v1/openings/"+o["id"].(string)+"/matches", coach, nil); r.status != 409 {
		t.Errorf("matches of a filled opening: %d, want 409", r.status)
	}
}

func at(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}
