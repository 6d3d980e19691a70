package consents_test

import (
	"attivi/server/servertest"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/consents"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// The cast: one staff member who belongs to several tenants of the seeded
// network, with the role that tenant gives them.
const (
	owner     = "comune-bagno-a-ripoli" // social_worker; owns the person's record
	careTeam  = "coeso"                 // social_worker, third_sector; care_team link
	stranger  = "caritas"               // social_worker, third_sector; no link
	observer  = "collocamento-mirato-firenze"
	owner2    = "comune-fiesole" // social_worker; owns another person
	healthSvc = "serd-sud-est"   // health_worker; care_team link in some tests
)

var memberships = map[string]tenants.Role{
	owner: tenants.RoleSocialWorker, careTeam: tenants.RoleSocialWorker, stranger: tenants.RoleSocialWorker,
	observer: tenants.RolePlacementOfficer, owner2: tenants.RoleSocialWorker, healthSvc: tenants.RoleHealthWorker,
}

var serial atomic.Int64

type env struct {
	t      *testing.T
	db     *sqlx.DB
	engine *policies.Engine
	svc    *consents.Service
	app    *fiber.App
	actors map[string]tenants.Actor // by tenant slug
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, slices.Concat(tenants.ZoneMunicipalities, tenants.FormerMunicipalities), tenants.Network()); err != nil {
		t.Fatalf("seed network: %v", err)
	}
	if _, err := policies.Seed(ctx, db); err != nil {
		t.Fatalf("seed policy: %v", err)
	}
	id, err := tenants.NewIdentity(db, tenants.DefaultAuth, quietLog(), time.Now, nil)
	if err != nil {
		t.Fatalf("identity: %v", err)
	}
	e := &env{t: t, db: db, actors: map[string]tenants.Actor{}}
	var userID string
	for slug, role := range memberships {
		m, _, err := id.AddMember(ctx, slug, tenants.NewMember{Email: "operatrice@example.org", DisplayName: "Operatrice",
			Password: "una frase lunga per le prove", Roles: []string{string(role)}}, nil)
		if err != nil {
			t.Fatalf("add member to %s: %v", slug, err)
		}
		userID = m.ID
		tn, err := store.BySlug(ctx, slug)
		if err != nil {
			t.Fatalf("tenant %s: %v", slug, err)
		}
		e.actors[slug] = tenants.Actor{UserID: userID, TenantID: tn.ID, TenantSlug: tn.Slug, TenantKind: tn.Kind, Roles: []tenants.Role{role}}
	}
	if e.engine, err = policies.New(ctx, db, quietLog()); err != nil {
		t.Fatalf("engine: %v", err)
	}
	e.svc = consents.NewService(db, e.engine, time.Now)
	e.app = newApp(consents.NewHandler(e.svc), e.actors)
	return e
}

type errorBody struct {
	Error struct {
		Code    apperr.Code       `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// newApp serves the consent handlers; X-Test-Actor names the tenant whose
// actor a stand-in for the authentication middleware puts in the context.
func newApp(h *consents.Handler, actors map[string]tenants.Actor) *fiber.App {
	app := servertest.ActorApp(actors)
	app.Get("/api/v1/persons/:id/consents", h.List)
	app.Post("/api/v1/persons/:id/consents", h.Create)
	app.Get("/api/v1/consents/:id", h.Get)
	app.Post("/api/v1/consents/:id/revoke", h.Revoke)
	return app
}

type response struct {
	status int
	body   []byte
	header http.Header
}

func (r response) consent(t *testing.T) consents.ConsentJSON {
	t.Helper()
	var c consents.ConsentJSON
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("consent body %s: %v", r.body, err)
	}
	return c
}

func (r response) list(t *testing.T) (items []consents.ConsentJSON, next string) {
	t.Helper()
	var l struct {
		Items      []consents.ConsentJSON `json:"items"`
		NextCursor string                 `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("list body %s: %v", r.body, err)
	}
	return l.Items, l.NextCursor
}

func (r response) err(t *testing.T) errorBody {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return b
}

// do sends a request as the actor of tenant `as` ("" for nobody).
func (e *env) do(method, path, as string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
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
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b, header: res.Header}
}

// person registers a person whose record tenant ownerSlug owns.
func (e *env) person(ownerSlug string) string {
	e.t.Helper()
	ctx := context.Background()
	var id string
	err := e.db.GetContext(ctx, &id, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ($1, 'Maria', 'Rossi', '1980-01-01', 'F', '048001', 'disabile_l68', $2) RETURNING id`,
		fmt.Sprintf("TST%013d", serial.Add(1)), e.actors[ownerSlug].TenantID)
	if err != nil {
		e.t.Fatalf("add person: %v", err)
	}
	e.link(id, ownerSlug, policies.LinkOwner)
	return id
}

// link gives tenant slug a link of kind to the person.
func (e *env) link(personID, slug, kind string) {
	e.t.Helper()
	source := "manual"
	if kind == policies.LinkOwner {
		source = "registration"
	}
	if _, err := policies.AddLink(context.Background(), e.db, policies.LinkInput{PersonID: personID,
		TenantID: e.actors[slug].TenantID, Kind: kind, Source: source}); err != nil {
		e.t.Fatalf("link %s %s: %v", slug, kind, err)
	}
}

// day is today plus n days (UTC, as the decision counts days), YYYY-MM-DD.
func day(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format(time.DateOnly) }

// body is a valid consent body; change what the test needs.
func body(grantees []string, categories []string, mods ...func(map[string]any)) map[string]any {
	b := map[string]any{"basis": "consent", "purpose": "presa_in_carico", "grantees": grantees,
		"categories": categories, "valid_from": day(-10)}
	for _, m := range mods {
		m(b)
	}
	return b
}

func set(k string, v any) func(map[string]any) { return func(b map[string]any) { b[k] = v } }

// record records a consent as the owner and returns it.
func (e *env) record(personID string, as string, b map[string]any) consents.ConsentJSON {
	e.t.Helper()
	r := e.do("POST", "/api/v1/persons/"+personID+"/consents", as, b)
	if r.status != 201 {
		e.t.Fatalf("record consent: %d %s", r.status, r.body)
	}
	return r.consent(e.t)
}

// access is the decision for the tenant reading the person's data.
func (e *env) access(personID, slug, purpose string) policies.PersonAccess {
	e.t.Helper()
	p, err := e.engine.Access(context.Background(), e.db, e.actors[slug], personID, policies.ActRead, purpose)
	if err != nil {
		e.t.Fatalf("access: %v", err)
	}
	return p
}

// logLine is a row of the access log.
type logLine struct {
	Action     string `db:"action"`
	Categories string `db:"categories"`
	Decision   string `db:"decision"`
	Reason     string `db:"reason"`
}

// logOf lists the access log of the person for tenant slug, oldest first.
func (e *env) logOf(personID, slug string) []logLine {
	e.t.Helper()
	var out []logLine
	err := e.db.SelectContext(context.Background(), &out, `
SELECT action, array_to_string(categories, ',') AS categories, decision, reason
FROM access_log WHERE person_id = $1 AND tenant_id = $2 ORDER BY seq`, personID, e.actors[slug].TenantID)
	if err != nil {
		e.t.Fatalf("access log: %v", err)
	}
	return out
}
