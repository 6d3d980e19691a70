package tenants_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

// clock is a settable time source shared by the service under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type idFixture struct {
	db    *sqlx.DB
	id    *tenants.Identity
	clock *clock
}

func newIdentity(t *testing.T) *idFixture {
	t.Helper()
	db := pgtest.New(t)
	if _, err := tenants.NewStore(db).Seed(context.Background(), allMunicipalities(), tenants.Network()); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	id, err := tenants.NewIdentity(db, tenants.DefaultAuth, slog.New(slog.NewTextHandler(io.Discard, nil)), c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &idFixture{db: db, id: id, clock: c}
}

const goodPassword = "ginestra-Arno-1997"

func (f *idFixture) addUser(t *testing.T, tenant, email string, roles ...string) tenants.Member {
	t.Helper()
	m, _, err := f.id.AddMember(context.Background(), tenant, tenants.NewMember{Email: email, Password: goodPassword, Roles: roles}, nil)
	if err != nil {
		t.Fatalf("add %s to %s: %v", email, tenant, err)
	}
	return m
}

func TestLoginAndAuthenticate(t *testing.T) {
	f := newIdentity(t)
	ctx := context.Background()
	f.addUser(t, "comune-pelago", "anna@pelago.example", "social_worker")
	res, err := f.id.Login(ctx, "Anna@Pelago.example", goodPassword, "10.0.0.1", "test")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if !strings.HasPrefix(res.Token, "atv_") || len(res.Token) < 40 {
		t.Errorf("token %q: want an atv_ token of 256 bits", res.Token)
	}
	var stored int
	if err := f.db.GetContext(ctx, &stored, `SELECT count(*) FROM sessions WHERE token_hash = convert_to($1, 'UTF8')`, res.Token); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Errorf("the token is stored in clear")
	}
	s, err := f.id.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if len(s.Memberships) != 1 || s.Memberships[0].TenantSlug != "comune-pelago" || s.Memberships[0].Roles[0] != tenants.RoleSocialWorker {
		t.Errorf("memberships %+v, want comune-pelago social_worker", s.Memberships)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	f := newIdentity(t)
	ctx := context.Background()
	f.addUser(t, "comune-pelago", "anna@pelago.example", "social_worker")
	f.addUser(t, "comune-londa", "bruno@londa.example", "social_worker")
	if err := f.id.DisableUser(ctx, "bruno@londa.example"); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, c := range []struct{ email, pw string }{
		{"anna@pelago.example", "wrong-password-123"},
		{"nobody@pelago.example", goodPassword},
		{"bruno@londa.example", goodPassword}, // disabled
	} {
		_, err := f.id.Login(ctx, c.email, c.pw, "10.0.0.2", "")
		if apperr.CodeOf(err) != apperr.Unauthorized {
			t.Fatalf("login %s: %v, want unauthorized", c.email, err)
		}
		msgs = append(msgs, err.Error())
	}
	if msgs[0] != msgs[1] || msgs[1] != msgs[2] {
		t.Errorf("failure answers differ, revealing which accounts exist: %q", msgs)
	}
}

func TestSessionEnds(t *testing.T) {
	f := newIdentity(t)
	ctx := context.Background()
	f.addUser(t, "comune-pelago", "anna@pelago.example", "social_worker")
	login := func() string {
		t.Helper()
		res, err := f.id.Login(ctx, "anna@pelago.example", goodPassword, "10.0.0.3", "")
		if err != nil {
			t.Fatal(err)
		}
		return res.Token
	}

	tok := login()
	if err := f.id.Logout(ctx, mustAuth(t, f, tok).ID); err != nil {
		t.Fatal(err)
	}
	expectUnauthorized(t, f, tok, "after logout")

	tok = login()
	f.clock.Advance(29 * time.Minute)
	mustAuth(t, f, tok) // used within the idle timeout: still alive, last use recorded
	f.clock.Advance(29 * time.Minute)
	mustAuth(t, f, tok)
	f.clock.Advance(31 * time.Minute)
	expectUnauthorized(t, f, tok, "after 31 idle minutes")

	tok = login()
	for i := 0; i < 25; i++ { // used every 29 minutes for 12 hours
		f.clock.Advance(29 * time.Minute)
		if _, err := f.id.Authenticate(ctx, tok); err != nil {
			if i < 24 {
				t.Fatalf("session ended after %d uses: %v", i, err)
			}
		}
	}
	expectUnauthorized(t, f, tok, "after the absolute lifetime")

	tok = login()
	if err := f.id.DisableUser(ctx, "anna@pelago.example"); err != nil {
		t.Fatal(err)
	}
	expectUnauthorized(t, f, tok, "after the user was disabled")

	for _, bad := range []string{"", "atv_", "atv_short", "Bearer x", strings.Repeat("a", 47), "atv_" + strings.Repeat("A", 43)} {
		expectUnauthorized(t, f, bad, "malformed token "+bad)
	}
}

func mustAuth(t *testing.T, f *idFixture, tok string) tenants.Session {
	t.Helper()
	s, err := f.id.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return s
}

func expectUnauthorized(t *testing.T, f *idFixture, tok, when string) {
	t.Helper()
	if _, err := f.id.Authenticate(context.Background(), tok); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Errorf("%s: authenticate = %v, want unauthorized", when, err)
	}
}

func TestBruteForceIsThrottledThenForgotten(t *testing.T) {
	f := newIdentity(t)
	ctx := context.Background()
	f.addUser(t, "comune-pelago", "anna@pelago.example", "social_worker")
	var codes []apperr.Code
	for i := 0; i < 20; i++ {
		f.clock.Advance(2 * time.Second) // 20 attempts within a minute
		_, err := f.id.Login(ctx, "anna@pelago.example", "wrong-password-123", "10.0.0.4", "")
		codes = append(codes, apperr.CodeOf(err))
	}
	if codes[0] != apperr.Unauthorized {
		t.Errorf("first wrong password: %s, want unauthorized", codes[0])
	}
	if codes[19] != apperr.Throttled {
		t.Errorf("20th wrong password in a minute: %s, want throttled (all: %v)", codes[19], codes)
	}
	_, err := f.id.Login(ctx, "anna@pelago.example", goodPassword, "10.0.0.4", "")
	if apperr.CodeOf(err) != apperr.Throttled {
		t.Errorf("right password while throttled: %v, want throttled", err)
	}
	// Another account from another address is not affected.
	f.addUser(t, "comune-londa", "bruno@londa.example", "social_worker")
	if _, err := f.id.Login(ctx, "bruno@londa.example", goodPassword, "10.0.0.5", ""); err != nil {
		t.Errorf("another account: %v, want a login", err)
	}
	// The delay ends: the account is delayed, not locked for good.
	f.clock.Advance(16 * time.Minute)
	if _, err := f.id.Login(ctx, "anna@pelago.example", goodPassword, "10.0.0.4", ""); err != nil {
		t.Errorf("after the window: %v, want a login", err)
	}
}

func TestActingTenant(t *testing.T) {
	ms := []tenants.Membership{{TenantSlug: "caritas"}, {TenantSlug: "coeso"}}
	if m, ok, err := tenants.ActingTenant(ms, "coeso"); err != nil || !ok || m.TenantSlug != "coeso" {
		t.Errorf("X-Tenant coeso: %v %v %v", m.TenantSlug, ok, err)
	}
	if _, ok, err := tenants.ActingTenant(ms, ""); err != nil || ok {
		t.Errorf("no X-Tenant with two memberships: ok %v err %v, want no tenant chosen", ok, err)
	}
	if _, _, err := tenants.ActingTenant(ms, "arca"); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("X-Tenant of another tenant: %v, want forbidden", err)
	}
	if m, ok, _ := tenants.ActingTenant(ms[:1], ""); !ok || m.TenantSlug != "caritas" {
		t.Errorf("single membership: %v %v, want caritas", m.TenantSlug, ok)
	}
}

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		pw, email string
		ok        bool
	}{
		{"ginestra-Arno-1997", "a@b.example", true},
		{"corta", "a@b.example", false},
		{"Password2024!", "a@b.example", false},
		{"passwordpassword", "a@b.example", false},
		{"123456789012", "a@b.example", false},
		{"juventus1897!!", "a@b.example", false},
		{"qwertyuiop12", "a@b.example", false},
		{"aaaaaaaaaaaaaa", "a@b.example", false},
		{"mario.rossi.2024", "mario.rossi@comune.example", false},
		{"tre gatti sul tetto", "a@b.example", true},
	} {
		got := tenants.CheckPassword(c.pw, c.email) == ""
		if got != c.ok {
			t.Errorf("CheckPassword(%q) acceptable = %v, want %v (%s)", c.pw, got, c.ok, tenants.CheckPassword(c.pw, c.email))
		}
	}
}

func TestAddMemberValidatesAndAddsExistingUsers(t *testing.T) {
	f := newIdentity(t)
	ctx := context.Background()
	_, _, err := f.id.AddMember(ctx, "caritas", tenants.NewMember{Email: "not-an-email", Password: "short", Roles: []string{"job_coch"}}, nil)
	var ae *apperr.Error
	if !asAppErr(err, &ae) || ae.Fields["email"] == "" || ae.Fields["roles"] == "" {
		t.Fatalf("bad member: %v, want invalid naming email and roles", err)
	}
	_, _, err = f.id.AddMember(ctx, "caritas", tenants.NewMember{Email: "c@caritas.example", Password: "password1234", Roles: []string{"job_coach"}}, nil)
	if !asAppErr(err, &ae) || ae.Fields["password"] == "" {
		t.Fatalf("common password: %v, want invalid naming password", err)
	}
	f.addUser(t, "caritas", "c@caritas.example", "job_coach")
	m, created, err := f.id.AddMember(ctx, "coeso", tenants.NewMember{Email: "C@caritas.example", Roles: []string{"job_coach", "tenant_admin"}}, nil)
	if err != nil || created {
		t.Fatalf("existing user to a second tenant: created %v err %v, want added", created, err)
	}
	ms, err := f.id.Members(ctx, "coeso", "", 10)
	if err != nil || len(ms) != 1 || ms[0].ID != m.ID || len(ms[0].Roles) != 2 {
		t.Fatalf("coeso members %+v (err %v), want the one user with two roles", ms, err)
	}
	if _, _, err := f.id.AddMember(ctx, "no-such-tenant", tenants.NewMember{Email: "x@y.example", Password: goodPassword, Roles: []string{"job_coach"}}, nil); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("unknown tenant: %v, want not_found", err)
	}
}

func asAppErr(err error, target **apperr.Error) bool {
	e, ok := err.(*apperr.Error)
	if ok {
		*target = e
	}
	return ok
}
