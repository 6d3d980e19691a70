package pathways_test

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/employers"
	"attivi/services/pathways"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// The cast: a staff member in each of these tenants of the seeded network,
// with the role the tenant gives them.
const (
	owner       = "comune-bagno-a-ripoli"       // social_worker: owns the participants' records
	coach       = "coeso"                       // job_coach: care team, with consent to employment data
	noConsent   = "arca"                        // job_coach: care team, no consent
	stranger    = "caritas"                     // job_coach: no link at all
	observer    = "collocamento-mirato-firenze" // placement_officer: status observer
	coordinator = "coordinamento-attivi"        // coordinator: aggregates
)

var memberships = map[string]tenants.Role{
	owner: tenants.RoleSocialWorker, coach: tenants.RoleJobCoach, noConsent: tenants.RoleJobCoach,
	stranger: tenants.RoleJobCoach, observer: tenants.RolePlacementOfficer, coordinator: tenants.RoleCoordinator,
}

var serial atomic.Int64

type env struct {
	t      *testing.T
	db     *sqlx.DB
	engine *policies.Engine
	svc    *pathways.Service
	emp    *employers.Service
	app    *fiber.App
	actors map[string]tenants.Actor
	today  time.Time
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
	e := &env{t: t, db: db, actors: map[string]tenants.Actor{}, today: policies.Today(time.Now())}
	for slug, role := range memberships {
		e.actors[slug] = e.member(id, store, slug, "operatore@"+slug+".example", role)
	}
	if e.engine, err = policies.New(ctx, db, quietLog()); err != nil {
		t.Fatalf("engine: %v", err)
	}
	e.svc = pathways.NewService(db, e.engine, time.Now)
	e.emp = employers.NewService(db, e.engine, e.svc, time.Now)
	e.app = newApp(pathways.NewHandler(e.svc), employers.NewHandler(e.emp), e.actors)
	return e
}

func (e *env) member(id *tenants.Identity, store *tenants.Store, slug, email string, role tenants.Role) tenants.Actor {
	e.t.Helper()
	m, _, err := id.AddMember(context.Background(), slug, tenants.NewMember{Email: email, DisplayName: "Operatore " + slug,
		Password: "una frase lunga per le prove", Roles: []string{string(role)}}, nil)
	if err != nil {
		e.t.Fatalf("add member to %s: %v", slug, err)
	}
	tn, err := store.BySlug(context.Background(), slug)
	if err != nil {
		e.t.Fatalf("tenant %s: %v", slug, err)
	}
	return tenants.Actor{UserID: m.ID, TenantID: tn.ID, TenantSlug: tn.Slug, TenantKind: tn.Kind, Roles: []tenants.Role{role}}
}

type errorBody struct {
	Error struct {
		Code    apperr.Code       `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// newApp serves the handlers as server/routes.go should; X-Test-Actor names
// the tenant whose actor stands in for the authentication middleware.
func newApp(h *pathways.Handler, eh *employers.Handler, actors map[string]tenants.Actor) *fiber.App {
	app := servertest.ActorApp(actors)
	routes(app, h, eh)
	return app
}

// routes registers the handlers as they are listed for server/routes.go.
func routes(r fiber.Router, h *pathways.Handler, eh *employers.Handler) {
	r.Get("/api/v1/persons/:id/stage", h.GetStage)
	r.Post("/api/v1/persons/:id/stage", h.ChangeStage)
	r.Get("/api/v1/persons/:id/assessments", h.ListAssessments)
	r.Post("/api/v1/persons/:id/assessments", h.CreateAssessment)
	r.Get("/api/v1/persons/:id/assessments/compare", h.CompareAssessments)
	r.Get("/api/v1/assessments/:id", h.GetAssessment)
	r.Get("/api/v1/persons/:id/plans", h.ListPlans)
	r.Post("/api/v1/persons/:id/plans", h.CreatePlan)
	r.Get("/api/v1/plans/:id", h.GetPlan)
	r.Put("/api/v1/plans/:id", h.UpdatePlan)
	r.Post("/api/v1/plans/:id/versions", h.NewPlanVersion)
	r.Post("/api/v1/plans/:id/signatures", h.SignPlan)
	r.Post("/api/v1/plans/:id/reviews", h.ReviewPlan)
	r.Get("/api/v1/persons/:id/activities", h.ListActivities)
	r.Post("/api/v1/persons/:id/activities", h.LogActivity)
	r.Post("/api/v1/activities", h.LogNetworkActivity)
	r.Get("/api/v1/activities/totals", h.ActivityTotals)
	r.Get("/api/v1/persons/:id/placements", h.ListPlacements)
	r.Post("/api/v1/persons/:id/placements", h.CreatePlacement)
	r.Get("/api/v1/placements/:id", h.GetPlacement)
	r.Post("/api/v1/placements/:id/extensions", h.ExtendPlacement)
	r.Post("/api/v1/placements/:id/end", h.EndPlacement)
	r.Get("/api/v1/placements/:id/attendance", h.ListAttendance)
	r.Put("/api/v1/placements/:id/attendance/:month", h.RecordAttendance)
	r.Get("/api/v1/persons/:id/follow-ups", h.ListFollowUps)
	r.Post("/api/v1/persons/:id/follow-ups", h.CreateFollowUp)

	r.Get("/api/v1/employers", eh.List)
	r.Post("/api/v1/employers", eh.Create)
	r.Get("/api/v1/employers/:id", eh.Get)
	r.Patch("/api/v1/employers/:id", eh.Update)
	r.Get("/api/v1/employers/:id/contacts", eh.Contacts)
	r.Post("/api/v1/employers/:id/contacts", eh.AddContact)
	r.Get("/api/v1/employers/:id/scouting", eh.Scouting)
	r.Post("/api/v1/employers/:id/scouting", eh.AddScouting)
	r.Get("/api/v1/openings", eh.Openings)
	r.Post("/api/v1/openings", eh.CreateOpening)
	r.Get("/api/v1/openings/:id", eh.Opening)
	r.Patch("/api/v1/openings/:id", eh.ChangeOpening)
	r.Get("/api/v1/openings/:id/matches", eh.Matches)
}

type response struct {
	status int
	body   []byte
	etag   string
}

// json decodes the body into a map.
func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return m
}

func (r response) into(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

func (r response) err(t *testing.T) errorBody {
	t.Helper()
	var b errorBody
	r.into(t, &b)
	return b
}

// do sends a request as the actor of tenant `as`; headers are name, value pairs.
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
	return response{status: res.StatusCode, body: b, etag: res.Header.Get("ETag")}
}

// must sends a request and fails the test unless it gets want.
func (e *env) must(want int, method, path, as string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, as, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s as %s: %d %s, want %d", method, path, as, r.status, r.body, want)
	}
	return r
}

// person registers a participant owned by the owner tenant, with the coach
// and the other job coach in the care team and the employment office as
// status observer; the coach has the person's consent to employment data
// (and cats, when given).
func (e *env) person(targetGroup string, cats ...string) string {
	e.t.Helper()
	var id string
	err := e.db.GetContext(context.Background(), &id, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ($1, 'Maria', $2, '1980-01-01', 'F', '048001', $3, $4) RETURNING id`,
		fmt.Sprintf("TST%013d", serial.Add(1)), fmt.Sprintf("Rossi%d", serial.Load()), targetGroup, e.actors[owner].TenantID)
	if err != nil {
		e.t.Fatalf("add person: %v", err)
	}
	e.link(id, owner, policies.LinkOwner)
	e.link(id, coach, policies.LinkCareTeam)
	e.link(id, noConsent, policies.LinkCareTeam)
	e.link(id, observer, policies.LinkStatusObserver)
	e.consent(id, coach, append([]string{policies.CatEmployment}, cats...)...)
	return id
}

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

// consent records the person's consent to the categories for tenant slug.
func (e *env) consent(personID, slug string, cats ...string) {
	e.t.Helper()
	ctx := context.Background()
	var cid string
	if err := e.db.GetContext(ctx, &cid, `
INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, recorded_by_tenant)
VALUES ($1, 'consent', 'inserimento_lavorativo', ARRAY[$2], $3, current_date - 30, $4) RETURNING id`,
		personID, slug, "{"+join(cats)+"}", e.actors[owner].TenantID); err != nil {
		e.t.Fatalf("consent: %v", err)
	}
	if err := policies.AddGrants(ctx, e.db, policies.GrantInput{ConsentID: cid, PersonID: personID, Purpose: "inserimento_lavorativo",
		GranteeTenantIDs: []string{e.actors[slug].TenantID}, Categories: cats, ValidFrom: e.today.AddDate(0, 0, -30)}); err != nil {
		e.t.Fatalf("grants: %v", err)
	}
}

func join(ss []string) string {
	var b bytes.Buffer
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}

// employer registers an employer through the employers service.
func (e *env) employer(name string) string {
	e.t.Helper()
	vat := vatNumber(int(serial.Add(1)))
	r := e.must(201, "POST", "/api/v1/employers", coach, map[string]any{"name": name, "vat_number": vat,
		"ateco_code": "81.30.00", "ateco_version": "2007", "size": "small", "employees": 20, "l68_obligation": true})
	return r.obj(e.t)["id"].(string)
}

// vatNumber makes a valid partita IVA from a serial (office 048, Firenze).
func vatNumber(n int) string {
	first10 := fmt.Sprintf("%07d048", n%10_000_000+1)
	sum := 0
	for i := range 10 {
		d := int(first10[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return first10 + string(rune('0'+(10-sum%10)%10))
}

// day is today plus months and days, YYYY-MM-DD.
func (e *env) day(months, days int) string {
	return e.today.AddDate(0, months, days).Format(time.DateOnly)
}

type logLine struct {
	Tenant   string `db:"tenant"`
	Action   string `db:"action"`
	Decision string `db:"decision"`
	Reason   string `db:"reason"`
}

// logOf lists the access log of a person, oldest first.
func (e *env) logOf(personID string) []logLine {
	e.t.Helper()
	var out []logLine
	if err := e.db.SelectContext(context.Background(), &out, `
SELECT t.slug AS tenant, a.action, a.decision, a.reason
FROM access_log a JOIN tenants t ON t.id = a.tenant_id WHERE a.person_id = $1 ORDER BY a.seq`, personID); err != nil {
		e.t.Fatalf("access log: %v", err)
	}
	return out
}

// jsonRaw is a request body given as JSON text.
func jsonRaw(s string) json.RawMessage { return json.RawMessage(s) }
