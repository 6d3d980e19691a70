package referrals_test

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/people"
	"attivi/services/referrals"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// The cast: each actor is a staff member of a seeded tenant with one role.
const (
	owner     = "owner"     // comune-bagno-a-ripoli, social_worker: registers and refers
	coop      = "coop"      // coeso, job_coach: the usual recipient
	coopAdmin = "coopadmin" // coeso, tenant_admin: deals with no person
	stranger  = "stranger"  // caritas, job_coach: no link to anyone
	trainer   = "trainer"   // rti-athena-cte, job_coach: another recipient
	office    = "office"    // collocamento-mirato-firenze, placement_officer
	carer     = "carer"     // ufsma-sud-est, health_worker: care team, may not share
)

var cast = map[string]struct {
	tenant string
	role   tenants.Role
}{
	owner:     {"comune-bagno-a-ripoli", tenants.RoleSocialWorker},
	coop:      {"coeso", tenants.RoleJobCoach},
	coopAdmin: {"coeso", tenants.RoleTenantAdmin},
	stranger:  {"caritas", tenants.RoleJobCoach},
	trainer:   {"rti-athena-cte", tenants.RoleJobCoach},
	office:    {"collocamento-mirato-firenze", tenants.RolePlacementOfficer},
	carer:     {"ufsma-sud-est", tenants.RoleHealthWorker},
}

// clock is the settable time of the services under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type env struct {
	t      *testing.T
	db     *sqlx.DB
	engine *policies.Engine
	svc    *referrals.Service
	people *people.Service
	app    *fiber.App
	clock  *clock
	actors map[string]tenants.Actor
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
	e := &env{t: t, db: db, actors: map[string]tenants.Actor{}, clock: &clock{t: time.Now()}}
	for name, c := range cast {
		email := name + "@example.org"
		m, _, err := id.AddMember(ctx, c.tenant, tenants.NewMember{Email: email, DisplayName: name,
			Password: "una frase lunga per le prove", Roles: []string{string(c.role)}}, nil)
		if err != nil {
			t.Fatalf("add member %s to %s: %v", name, c.tenant, err)
		}
		tn, err := store.BySlug(ctx, c.tenant)
		if err != nil {
			t.Fatalf("tenant %s: %v", c.tenant, err)
		}
		e.actors[name] = tenants.Actor{UserID: m.ID, Email: email, TenantID: tn.ID, TenantSlug: tn.Slug, TenantKind: tn.Kind, Roles: []tenants.Role{c.role}}
	}
	if e.engine, err = policies.New(ctx, db, quietLog()); err != nil {
		t.Fatalf("engine: %v", err)
	}
	e.svc = referrals.NewService(db, e.engine, e.clock.Now, 7)
	e.people = people.NewService(db, e.engine, time.Now, quietLog())
	e.app = newApp(referrals.NewHandler(e.svc, nil), e.actors)
	return e
}

type errorBody struct {
	Error struct {
		Code    apperr.Code       `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// newApp serves the referral handlers; X-Test-Actor names the actor that a
// stand-in for the authentication middleware puts in the context.
func newApp(h *referrals.Handler, actors map[string]tenants.Actor) *fiber.App {
	app := servertest.ActorApp(actors)
	app.Post("/api/v1/referrals", h.Create)
	app.Get("/api/v1/referrals", h.List)
	app.Get("/api/v1/referrals/:id", h.Get)
	app.Post("/api/v1/referrals/:id/transitions", h.Transition)
	app.Get("/api/v1/persons/:id/status", h.Status)
	app.Get("/api/v1/persons/:id/l68-checks", h.L68Checks)
	app.Post("/api/v1/persons/:id/l68-checks", h.RecordL68Check)
	return app
}

type response struct {
	status int
	body   []byte
	header http.Header
}

func (r response) referral(t *testing.T) referrals.ReferralJSON {
	t.Helper()
	var x referrals.ReferralJSON
	if err := json.Unmarshal(r.body, &x); err != nil {
		t.Fatalf("referral body %s: %v", r.body, err)
	}
	return x
}

func (r response) list(t *testing.T) (items []referrals.ReferralJSON, next string) {
	t.Helper()
	var l struct {
		Items      []referrals.ReferralJSON `json:"items"`
		NextCursor string                   `json:"next_cursor"`
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

// do sends a request as actor `as` ("" for nobody); headers are name, value pairs.
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

var serial atomic.Int64

// temporaryCode makes a valid 11-digit temporary fiscal code.
func temporaryCode(n int64) string {
	s := fmt.Sprintf("%010d", 1_000_000_000+n)
	sum := 0
	for i := range 10 {
		d := int(s[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return s + string(rune('0'+(10-sum%10)%10))
}

func str(s string) *string { return &s }

func peopleTarget(tg string) people.Input { return people.Input{TargetGroup: &tg} }

// person registers a person as actor as (through the persons service, so
// the network rules' links are made) and returns their id.
func (e *env) person(as, targetGroup string) string {
	e.t.Helper()
	n := serial.Add(1)
	v, err := e.people.Register(context.Background(), e.actors[as], "", people.Input{FiscalCode: str(temporaryCode(n)),
		GivenName: str("Maria"), FamilyName: str(fmt.Sprintf("Rossi%c", 'a'+rune(n%26))), BirthDate: str("1980-01-01"), Sex: str("F"),
		ResidenceISTAT: str("048001"), TargetGroup: str(targetGroup)})
	if err != nil {
		e.t.Fatalf("register person: %v", err)
	}
	return v.Person.ID
}

// consent records, as the owner, a consent granting categories to tenants
// (by slug), with its grants: what the consents service writes.
func (e *env) consent(personID string, grantees []string, categories ...string) {
	e.t.Helper()
	ctx := context.Background()
	from := time.Now().UTC().AddDate(0, 0, -1)
	var id string
	err := e.db.GetContext(ctx, &id, `INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, recorded_by_tenant)
		VALUES ($1, 'consent', 'inserimento_lavorativo', $2, $3, $4, $5) RETURNING id`,
		personID, pq.Array(grantees), pq.Array(categories), from, e.actors[owner].TenantID)
	if err != nil {
		e.t.Fatalf("consent: %v", err)
	}
	g := policies.GrantInput{ConsentID: id, PersonID: personID, Purpose: "inserimento_lavorativo", Categories: categories, ValidFrom: from}
	for _, slug := range grantees {
		var tid string
		if err := e.db.GetContext(ctx, &tid, `SELECT id FROM tenants WHERE slug = $1`, slug); err != nil {
			e.t.Fatalf("grantee %s: %v", slug, err)
		}
		g.GranteeTenantIDs = append(g.GranteeTenantIDs, tid)
	}
	if err := policies.AddGrants(ctx, e.db, g); err != nil {
		e.t.Fatalf("grants: %v", err)
	}
}

// link gives the tenant of actor a manual link of kind to the person.
func (e *env) link(personID, actor, kind string) {
	e.t.Helper()
	if _, err := policies.AddLink(context.Background(), e.db, policies.LinkInput{PersonID: personID,
		TenantID: e.actors[actor].TenantID, Kind: kind, Source: "manual"}); err != nil {
		e.t.Fatalf("link: %v", err)
	}
}

func newReferral(personID, to string, shared ...string) map[string]any {
	return map[string]any{"person_id": personID, "to_tenant": cast[to].tenant, "reason": "inserimento lavorativo: valutazione",
		"priority": "routine", "shared_categories": shared, "note": "persona motivata"}
}

// refer creates a referral as the owner and returns it.
func (e *env) refer(personID, to string, shared ...string) referrals.ReferralJSON {
	e.t.Helper()
	r := e.do("POST", "/api/v1/referrals", owner, newReferral(personID, to, shared...))
	if r.status != 201 {
		e.t.Fatalf("refer: %d %s", r.status, r.body)
	}
	return r.referral(e.t)
}

// move asks for a transition as actor as with If-Match version.
func (e *env) move(id, as string, version int, body map[string]any) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/referrals/"+id+"/transitions", as, body, "If-Match", fmt.Sprintf(`"%d"`, version))
}

// mustMove moves the referral and fails the test unless it succeeds.
func (e *env) mustMove(r referrals.ReferralJSON, as string, body map[string]any) referrals.ReferralJSON {
	e.t.Helper()
	res := e.move(r.ID, as, r.Version, body)
	if res.status != 200 {
		e.t.Fatalf("move %s -> %v as %s: %d %s", r.Status, body["to"], as, res.status, res.body)
	}
	return res.referral(e.t)
}

func to(s string) map[string]any { return map[string]any{"to": s} }

// openLinks lists the open links of the person's referral: kind and scope.
func (e *env) openLinks(personID, referralID string) []string {
	e.t.Helper()
	var out []string
	err := e.db.SelectContext(context.Background(), &out, `SELECT kind || coalesce(':' || array_to_string(scope, ','), '')
		FROM person_links WHERE person_id = $1 AND source = $2 AND ended_at IS NULL ORDER BY kind`, personID, "referral:"+referralID)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// readable is what actor may read of the person through the persons service.
func (e *env) readable(personID, as string) ([]string, error) {
	v, err := e.people.Get(context.Background(), e.actors[as], "", personID, "")
	return v.Readable, err
}

// logOf lists the access log of the person for actor's tenant, oldest first:
// action/decision/categories.
func (e *env) logOf(personID, as string) []string {
	e.t.Helper()
	var out []string
	err := e.db.SelectContext(context.Background(), &out, `
SELECT action || '/' || decision || '/' || array_to_string(categories, ',')
FROM access_log WHERE person_id = $1 AND tenant_id = $2 ORDER BY seq`, personID, e.actors[as].TenantID)
	if err != nil {
		e.t.Fatalf("access log: %v", err)
	}
	return out
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
}
