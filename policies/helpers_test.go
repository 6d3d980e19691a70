package policies_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

var serial atomic.Int64

// testLog shows warnings and errors of the engine on stderr.
func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// seededDB returns a fresh migrated database with the default policy, and
// its URL.
func seededDB(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	db, url := pgtest.NewWithURL(t)
	if _, err := policies.Seed(context.Background(), db); err != nil {
		t.Fatalf("seed policy: %v", err)
	}
	return db, url
}

func newEngine(t testing.TB, db *sqlx.DB) *policies.Engine {
	t.Helper()
	e, err := policies.New(context.Background(), db, testLog())
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	return e
}

// tenant is a tenant created for a test.
type tenant struct {
	ID, Slug string
	Kind     tenants.Kind
}

func addTenant(t testing.TB, db *sqlx.DB, slug string, kind tenants.Kind) tenant {
	t.Helper()
	ctx := context.Background()
	var istat *string
	if kind == tenants.KindMunicipality {
		code := fmt.Sprintf("%06d", serial.Add(1))
		istat = &code
		if _, err := db.ExecContext(ctx, `INSERT INTO municipalities (istat_code, name, province) VALUES ($1, $2, 'FI')`, code, "Comune "+slug); err != nil {
			t.Fatalf("add municipality: %v", err)
		}
	}
	var id string
	err := db.GetContext(ctx, &id, `INSERT INTO tenants (slug, name, kind, istat_code) VALUES ($1, $2, $3, $4) RETURNING id`,
		slug, "Tenant "+slug, string(kind), istat)
	if err != nil {
		t.Fatalf("add tenant %s: %v", slug, err)
	}
	return tenant{ID: id, Slug: slug, Kind: kind}
}

// addUser creates a user who is a member of tn with roles and returns the
// actor they are when acting for tn.
func addUser(t testing.TB, db *sqlx.DB, tn tenant, roles ...tenants.Role) tenants.Actor {
	t.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("user%d@example.org", serial.Add(1))
	var id string
	if err := db.GetContext(ctx, &id, `INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id`, email); err != nil {
		t.Fatalf("add user: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO memberships (user_id, tenant_id) VALUES ($1, $2)`, id, tn.ID); err != nil {
		t.Fatalf("add membership: %v", err)
	}
	for _, r := range roles {
		grantRole(t, db, id, tn, r)
	}
	return tenants.Actor{UserID: id, Email: email, TenantID: tn.ID, TenantSlug: tn.Slug, TenantKind: tn.Kind, Roles: roles}
}

func grantRole(t testing.TB, db *sqlx.DB, userID string, tn tenant, r tenants.Role) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO membership_roles (user_id, tenant_id, role) VALUES ($1, $2, $3)`, userID, tn.ID, string(r)); err != nil {
		t.Fatalf("grant %s: %v", r, err)
	}
}

// eventually polls cond every 10 ms for up to d and reports whether it held.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// network is the cast of DESIGN section 2 on one database.
type network struct {
	comune, serd, collocamento, coop, formazione, coordinamento tenant

	socialWorker, healthWorker, jobCoach, placementOfficer, coordinator,
	privacyOfficer, tenantAdmin, networkAdmin,
	// a social worker role given at the employment office: the network
	// rules must still keep health and social from it
	officeSocialWorker, agencyJobCoach tenants.Actor
}

func newNetwork(t testing.TB, db *sqlx.DB) *network {
	t.Helper()
	n := &network{
		comune:        addTenant(t, db, "comune-test", tenants.KindMunicipality),
		serd:          addTenant(t, db, "serd-test", tenants.KindHealthService),
		collocamento:  addTenant(t, db, "collocamento-test", tenants.KindEmploymentOffice),
		coop:          addTenant(t, db, "coop-test", tenants.KindThirdSector),
		formazione:    addTenant(t, db, "formazione-test", tenants.KindTrainingAgency),
		coordinamento: addTenant(t, db, "coordinamento-test", tenants.KindCoordinator),
	}
	n.socialWorker = addUser(t, db, n.comune, tenants.RoleSocialWorker)
	n.healthWorker = addUser(t, db, n.serd, tenants.RoleHealthWorker)
	n.jobCoach = addUser(t, db, n.coop, tenants.RoleJobCoach)
	n.placementOfficer = addUser(t, db, n.collocamento, tenants.RolePlacementOfficer)
	n.coordinator = addUser(t, db, n.coordinamento, tenants.RoleCoordinator)
	n.privacyOfficer = addUser(t, db, n.coordinamento, tenants.RolePrivacyOfficer)
	n.tenantAdmin = addUser(t, db, n.comune, tenants.RoleTenantAdmin)
	n.networkAdmin = addUser(t, db, n.coordinamento, tenants.RoleNetworkAdmin)
	n.officeSocialWorker = addUser(t, db, n.collocamento, tenants.RoleSocialWorker, tenants.RolePlacementOfficer)
	n.agencyJobCoach = addUser(t, db, n.formazione, tenants.RoleJobCoach, tenants.RoleHealthWorker)
	return n
}

// about builds person facts.
func about(links []string, granted ...string) *policies.Facts {
	return &policies.Facts{Links: links, Granted: granted}
}

func links(ls ...string) []string { return ls }

// fieldsOf asserts that err is an invalid error and returns its fields.
func fieldsOf(t testing.TB, err error) map[string]string {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid {
		t.Fatalf("error %v, want an invalid error", err)
	}
	return ae.Fields
}

func itoa(i int) string { return strconv.Itoa(i) }
