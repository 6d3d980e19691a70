package notes_test

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
	"attivi/services/notes"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// The cast: one staff member who belongs to several tenants of the seeded
// network, with the role that tenant gives them.
const (
	serd        = "serd-sud-est"  // health_worker; owns the persons of most tests and writes health notes
	ufsma       = "ufsma-sud-est" // health_worker
	comune      = "comune-bagno-a-ripoli"
	collocament = "collocamento-mirato-firenze" // placement_officer; never health (network rule)
	coeso       = "coeso"                       // job_coach
	caritas     = "caritas"                     // social_worker
	coord       = "coordinamento-attivi"        // coordinator
)

var memberships = map[string]tenants.Role{
	serd: tenants.RoleHealthWorker, ufsma: tenants.RoleHealthWorker, comune: tenants.RoleSocialWorker,
	collocament: tenants.RolePlacementOfficer, coeso: tenants.RoleJobCoach, caritas: tenants.RoleSocialWorker,
	coord: tenants.RoleCoordinator,
}

var serial atomic.Int64

type env struct {
	t      *testing.T
	db     *sqlx.DB
	engine *policies.Engine
	svc    *notes.Service
	app    *fiber.App
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
	e := &env{t: t, db: db, actors: map[string]tenants.Actor{}}
	for slug, role := range memberships {
		m, _, err := id.AddMember(ctx, slug, tenants.NewMember{Email: "operatrice@example.org", DisplayName: "Operatrice",
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
	e.svc = notes.NewService(db, e.engine, time.Now, quietLog(), nil, nil)
	e.app = newApp(notes.NewHandler(e.svc), e.actors)
	return e
}

type errorBody struct {
	Error struct {
		Code    apperr.Code       `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// newApp serves the notes handlers; X-Test-Actor names the tenant whose
// actor a stand-in for the authentication middleware puts in the context.
func newApp(h *notes.Handler, actors map[string]tenants.Actor) *fiber.App {
	app := servertest.ActorApp(actors)
	app.Get("/api/v1/notes", h.Search)
	app.Get("/api/v1/persons/:id/notes", h.List)
	app.Post("/api/v1/persons/:id/notes", h.Create)
	app.Get("/api/v1/persons/:id/notes/:note_id", h.Get)
	app.Post("/api/v1/persons/:id/notes/:note_id/amendments", h.Amend)
	app.Post("/api/v1/persons/:id/notes/:note_id/entered-in-error", h.MarkEnteredInError)
	return app
}

type response struct {
	status int
	body   []byte
}

func (r response) note(t *testing.T) notes.NoteJSON {
	t.Helper()
	var n notes.NoteJSON
	if err := json.Unmarshal(r.body, &n); err != nil {
		t.Fatalf("note body %s: %v", r.body, err)
	}
	return n
}

func (r response) list(t *testing.T) (items []notes.NoteJSON, next string) {
	t.Helper()
	var l struct {
		Items      []notes.NoteJSON `json:"items"`
		NextCursor string           `json:"next_cursor"`
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

func (e *env) do(method, path, as string, body any) response {
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
	res, err := e.app.Test(req, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b}
}

// person adds a person whose record tenant ownerSlug owns.
func (e *env) person(ownerSlug string) string {
	e.t.Helper()
	var id string
	err := e.db.GetContext(context.Background(), &id, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ($1, 'Maria', 'Rossi', '1980-01-01', 'F', '048001', 'salute_mentale', $2) RETURNING id`,
		fmt.Sprintf("%011d", 20000000000+serial.Add(1)), e.actors[ownerSlug].TenantID)
	if err != nil {
		e.t.Fatalf("add person: %v", err)
	}
	e.link(id, ownerSlug, policies.LinkOwner, nil)
	return id
}

// link gives tenant slug a link of kind to the person (scoped when scope is
// not nil).
func (e *env) link(personID, slug, kind string, scope []string) {
	e.t.Helper()
	source := "manual"
	switch kind {
	case policies.LinkOwner:
		source = "registration"
	case policies.LinkConference:
		source = "conference:test"
	}
	if _, err := policies.AddLink(context.Background(), e.db, policies.LinkInput{PersonID: personID,
		TenantID: e.actors[slug].TenantID, Kind: kind, Source: source, Scope: scope}); err != nil {
		e.t.Fatalf("link %s %s: %v", slug, kind, err)
	}
}

// consent records a consent of the person with its grants: to a tenant slug
// or "kind:<kind>", for purpose and categories. It returns the consent id.
func (e *env) consent(personID, grantee, purpose string, categories ...string) string {
	e.t.Helper()
	ctx := context.Background()
	var cid string
	if err := e.db.GetContext(ctx, &cid, `INSERT INTO consents (person_id, basis, purpose, grantees, categories, valid_from, recorded_by_tenant)
		VALUES ($1, 'consent', $2, $3, $4, current_date - 1, $5) RETURNING id`, personID, purpose,
		"{"+grantee+"}", "{"+joinComma(categories)+"}", e.actors[serd].TenantID); err != nil {
		e.t.Fatalf("consent: %v", err)
	}
	g := policies.GrantInput{ConsentID: cid, PersonID: personID, Purpose: purpose, Categories: categories, ValidFrom: time.Now().AddDate(0, 0, -1)}
	if k, ok := cutPrefix(grantee, "kind:"); ok {
		g.GranteeKinds = []string{k}
	} else {
		g.GranteeTenantIDs = []string{e.actors[grantee].TenantID}
	}
	if err := policies.AddGrants(ctx, e.db, g); err != nil {
		e.t.Fatalf("grants: %v", err)
	}
	return cid
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// write posts a note as tenant `as` and returns it.
func (e *env) write(personID, as, category, body string, sensitive bool) notes.NoteJSON {
	e.t.Helper()
	r := e.do("POST", "/api/v1/persons/"+personID+"/notes", as, map[string]any{"category": category, "body": body, "sensitive": sensitive})
	if r.status != 201 {
		e.t.Fatalf("write %s note as %s: %d %s", category, as, r.status, r.body)
	}
	return r.note(e.t)
}

// ids lists the ids of notes.
func ids(ns []notes.NoteJSON) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

type logLine struct {
	Action     string `db:"action"`
	Categories string `db:"categories"`
	Decision   string `db:"decision"`
	Reason     string `db:"reason"`
}

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

type notesJSON = notes.NoteJSON
