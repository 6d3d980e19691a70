package conferences_test

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

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/conferences"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// The cast: a staff member per tenant, with the role that tenant gives them.
const (
	organizer = "comune-bagno-a-ripoli" // social_worker; owns the persons
	serd      = "serd-sud-est"          // health_worker
	coeso     = "coeso"                 // job_coach, third_sector
	ufsma     = "ufsma-sud-est"         // health_worker
	stranger  = "caritas"               // social_worker, never invited
)

var roles = map[string]tenants.Role{
	organizer: tenants.RoleSocialWorker, serd: tenants.RoleHealthWorker, coeso: tenants.RoleJobCoach,
	ufsma: tenants.RoleHealthWorker, stranger: tenants.RoleSocialWorker,
}

var serial atomic.Int64

type env struct {
	t      *testing.T
	db     *sqlx.DB
	engine *policies.Engine
	svc    *conferences.Service
	app    *fiber.App
	actors map[string]tenants.Actor
	clock  *clock
}

type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time { return time.Unix(0, c.t.Load()).UTC() }

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
	e := &env{t: t, db: db, actors: map[string]tenants.Actor{}, clock: &clock{}}
	e.clock.t.Store(time.Now().UnixNano())
	for slug, role := range roles {
		m, _, err := id.AddMember(ctx, slug, tenants.NewMember{Email: "staff@" + slug + ".example", DisplayName: "Staff " + slug,
			Password: "una frase lunga per le prove", Roles: []string{string(role)}}, nil)
		if err != nil {
			t.Fatalf("add member to %s: %v", slug, err)
		}
		tn, err := store.BySlug(ctx, slug)
		if err != nil {
			t.Fatalf("tenant %s: %v", slug, err)
		}
		e.actors[slug] = tenants.Actor{UserID: m.ID, TenantID: tn.ID, TenantSlug: tn.Slug, TenantKind: tn.Kind, Roles: []tenants.Role{role}}
	}
	if e.engine, err = policies.New(ctx, db, quietLog()); err != nil {
		t.Fatalf("engine: %v", err)
	}
	e.svc = conferences.NewService(db, e.engine, e.clock.now, quietLog())
	e.app = newApp(conferences.NewHandler(e.svc), e.actors)
	return e
}

type errorBody struct {
	Error struct {
		Code    apperr.Code       `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func newApp(h *conferences.Handler, actors map[string]tenants.Actor) *fiber.App {
	app := servertest.ActorApp(actors)
	app.Get("/api/v1/calendar/:secret.ics", h.Feed) // no login: the secret is the credential
	app.Post("/api/v1/conferences", h.Create)
	app.Get("/api/v1/conferences", h.List)
	app.Get("/api/v1/conferences/:id", h.Get)
	app.Patch("/api/v1/conferences/:id", h.Reschedule)
	app.Post("/api/v1/conferences/:id/invitations/:tenant/answer", h.Answer)
	app.Put("/api/v1/conferences/:id/attendance", h.Attendance)
	app.Get("/api/v1/conferences/:id/minutes", h.Minutes)
	app.Put("/api/v1/conferences/:id/minutes", h.PutMinutes)
	app.Post("/api/v1/conferences/:id/minutes/amendments", h.AmendMinutes)
	app.Post("/api/v1/conferences/:id/close", h.Close)
	app.Post("/api/v1/conferences/:id/cancel", h.Cancel)
	app.Get("/api/v1/conferences/:id/ics", h.ICS)
	app.Get("/api/v1/action-items", h.ActionItems)
	app.Patch("/api/v1/action-items/:id", h.UpdateItem)
	app.Post("/api/v1/me/calendar-secret", h.NewCalendarSecret)
	app.Delete("/api/v1/me/calendar-secret", h.RevokeCalendarSecret)
	return app
}

type response struct {
	status int
	body   []byte
	header map[string]string
}

func (r response) conference(t *testing.T) conferences.ConferenceJSON {
	t.Helper()
	var c conferences.ConferenceJSON
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("conference body %s: %v", r.body, err)
	}
	return c
}

func (r response) minutes(t *testing.T) conferences.MinutesJSON {
	t.Helper()
	var m conferences.MinutesJSON
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("minutes body %s: %v", r.body, err)
	}
	return m
}

func (r response) err(t *testing.T) errorBody {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return b
}

// do sends a request as the actor of tenant `as`; headers are name, value
// pairs.
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
	h := map[string]string{}
	for k := range res.Header {
		h[k] = res.Header.Get(k)
	}
	return response{status: res.StatusCode, body: b, header: h}
}

// person adds a person owned by the organizer.
func (e *env) person(family string) string {
	e.t.Helper()
	var id string
	err := e.db.GetContext(context.Background(), &id, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ($1, 'Giulia', $2, '1985-05-05', 'F', '048001', 'salute_mentale', $3) RETURNING id`,
		fmt.Sprintf("%011d", 40000000000+serial.Add(1)), family, e.actors[organizer].TenantID)
	if err != nil {
		e.t.Fatalf("add person: %v", err)
	}
	if _, err := policies.AddLink(context.Background(), e.db, policies.LinkInput{PersonID: id, TenantID: e.actors[organizer].TenantID,
		Kind: policies.LinkOwner, Source: "registration"}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// consent records a consent of the person for purpose to grantee (a slug or
// kind:<kind>).
func (e *env) consent(personID, grantee, purpose string, categories ...string) {
	e.t.Helper()
	ctx := context.Background()
	var cid string
	if err := e.db.GetContext(ctx, &cid, `INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, recorded_by_tenant)
		VALUES ($1, 'consent', $2, $3, $4, current_date - 1, $5) RETURNING id`, personID, purpose,
		"{"+grantee+"}", "{"+strings.Join(categories, ",")+"}", e.actors[organizer].TenantID); err != nil {
		e.t.Fatalf("consent: %v", err)
	}
	g := policies.GrantInput{ConsentID: cid, PersonID: personID, Purpose: purpose, Categories: categories, ValidFrom: time.Now().AddDate(0, 0, -1)}
	if k, ok := strings.CutPrefix(grantee, "kind:"); ok {
		g.GranteeKinds = []string{k}
	} else {
		g.GranteeTenantIDs = []string{e.actors[grantee].TenantID}
	}
	if err := policies.AddGrants(ctx, e.db, g); err != nil {
		e.t.Fatalf("grants: %v", err)
	}
}

// links lists the open links of kind conference of the person, as tenant
// slug -> source.
func (e *env) links(personID string) map[string]string {
	e.t.Helper()
	ls, err := policies.ActiveLinks(context.Background(), e.db, personID)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range ls {
		if l.Kind == policies.LinkConference {
			out[l.Tenant] = l.Source
		}
	}
	return out
}

// draft is a valid conference body; change what the test needs.
func draft(persons []string, invited []string, mods ...func(map[string]any)) map[string]any {
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	b := map[string]any{"title": "Équipe di rete, zona sud-est", "starts_at": start.Format(time.RFC3339),
		"ends_at": start.Add(2 * time.Hour).Format(time.RFC3339), "location": "Sala riunioni, Via Roma 1; Bagno a Ripoli",
		"invited_tenants": invited, "person_ids": persons}
	for _, m := range mods {
		m(b)
	}
	return b
}

func set(k string, v any) func(map[string]any) { return func(b map[string]any) { b[k] = v } }

func (e *env) create(b map[string]any) conferences.ConferenceJSON {
	e.t.Helper()
	r := e.do("POST", "/api/v1/conferences", organizer, b)
	if r.status != 201 {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.conference(e.t)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
