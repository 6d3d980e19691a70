package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"
	"golang.org/x/net/html"

	"attivi/server"
	"attivi/server/servertest"
	"attivi/services/people"
	"attivi/storage/postgres"
	"attivi/tenants"
	"attivi/web"
)

const pw = "ginestra-Arno-1997"

// Tenants of the seed the tests use.
const (
	bagno      = "comune-bagno-a-ripoli"
	pelago     = "comune-pelago"
	coeso      = "coeso"
	cristoforo = "cristoforo"
	caritas    = "caritas"
)

// ---- the server under test -------------------------------------------------

// fixture is the whole server under test (servertest.Server) under the
// names these tests use.
type fixture struct {
	app      *fiber.App
	db       *sqlx.DB
	identity *tenants.Identity
	clock    *servertest.Clock
	logs     *servertest.LogBuffer
}

// newFixture builds the whole server as `attivi serve` does, on a fresh
// database with the network and the default policy seeded, and a MinIO
// bucket of its own; env is ATTIVI_ENV.
func newFixture(t *testing.T, env string) *fixture {
	t.Helper()
	s := servertest.New(t, servertest.Config{Env: env, Options: server.DefaultOptions})
	return &fixture{app: s.App, db: s.DB, identity: s.Identity, clock: s.Clock, logs: s.Logs}
}

func (f *fixture) send(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, body := servertest.Do(t, f.app, req)
	return resp, string(body)
}

// user adds a member of staff with the test password.
func (f *fixture) user(t *testing.T, tenant, email string, roles ...string) {
	t.Helper()
	if _, _, err := f.identity.AddMember(context.Background(), tenant, tenants.NewMember{Email: email, DisplayName: "Utente " + email, Password: pw, Roles: roles}, nil); err != nil {
		t.Fatalf("add %s to %s: %v", email, tenant, err)
	}
}

// api calls the JSON API with a bearer token; the tests prepare their data
// through it, as a client would.
func (f *fixture) api(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, raw := f.send(t, req)
	var m map[string]any
	_ = json.Unmarshal([]byte(raw), &m)
	return resp.StatusCode, m
}

func (f *fixture) token(t *testing.T, email string) string {
	t.Helper()
	status, body := f.api(t, "POST", "/api/v1/auth/login", "", `{"email":"`+email+`","password":"`+pw+`"}`)
	if status != 200 {
		t.Fatalf("API login %s: %d %v", email, status, body)
	}
	return body["token"].(string)
}

// must is api that fails the test unless the status is want; it returns the
// id of what was made.
func (f *fixture) must(t *testing.T, want int, method, path, token, body string) string {
	t.Helper()
	status, m := f.api(t, method, path, token, body)
	if status != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, status, m, want)
	}
	id, _ := m["id"].(string)
	return id
}

// person registers a person for the tenant of token; n makes the fiscal
// code unique. It returns the person's id.
func (f *fixture) person(t *testing.T, token, family, given, group string, n int) string {
	t.Helper()
	birth := time.Date(1980, time.March, 1+n%28, 0, 0, 0, 0, time.UTC)
	body := fmt.Sprintf(`{"fiscal_code":%q,"given_name":%q,"family_name":%q,"birth_date":%q,"sex":"F","residence_istat":"048001",
		"target_group":%q,"contact":{"phone":"055 40%04d","email":"persona%d@example.org","address":"Via Roma %d"}}`,
		fiscalCode(n, birth), given, family, birth.Format(time.DateOnly), group, n, n, n)
	return f.must(t, 201, "POST", "/api/v1/persons", token, body)
}

// fiscalCode makes a valid fiscal code of a woman born on birth in Florence;
// n picks the letters of name and surname.
func fiscalCode(n int, birth time.Time) string {
	letters := string([]byte{byte('A' + n/676%26), byte('A' + n/26%26), byte('A' + n%26)})
	s := fmt.Sprintf("BNC%s%02d%c%02dD612", letters, birth.Year()%100, "ABCDEHLMPRST"[birth.Month()-1], birth.Day()+40)
	odd := []int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}
	sum := 0
	for i := range len(s) {
		v := int(s[i] - 'A')
		if s[i] <= '9' {
			v = int(s[i] - '0')
		}
		if i%2 == 0 {
			v = odd[v]
		}
		sum += v
	}
	return s + string(rune('A'+sum%26))
}

// ---- a browser ---------------------------------------------------------------

// browser keeps cookies as a browser does (the tests check the cookies'
// attributes themselves where it matters).
type browser struct {
	f       *fixture
	cookies map[string]string
}

func (f *fixture) browser() *browser { return &browser{f: f, cookies: map[string]string{}} }

func (b *browser) do(t *testing.T, method, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, body := b.f.send(t, req)
	for _, c := range resp.Cookies() {
		if c.Value == "" || c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return resp, body
}

func (b *browser) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	return b.do(t, "GET", path, nil)
}

// page gets path and fails the test unless it answers 200.
func (b *browser) page(t *testing.T, path string) string {
	t.Helper()
	resp, body := b.get(t, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d (Location %q), want 200:\n%s", path, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return body
}

// submit posts the form with the CSRF token of the page at from.
func (b *browser) submit(t *testing.T, from, action string, form url.Values) (*http.Response, string) {
	t.Helper()
	form.Set("csrf", inputValue(t, b.page(t, from), "csrf"))
	return b.do(t, "POST", action, form)
}

// login fills the login form.
func (b *browser) login(t *testing.T, email, password string) (*http.Response, string) {
	t.Helper()
	return b.submit(t, "/accesso", "/accesso", url.Values{"email": {email}, "password": {password}})
}

// loggedIn is a browser logged in as email.
func (f *fixture) loggedIn(t *testing.T, email string) *browser {
	t.Helper()
	b := f.browser()
	if resp, body := b.login(t, email, pw); resp.StatusCode != 303 {
		t.Fatalf("login %s: %d\n%s", email, resp.StatusCode, body)
	}
	return b
}

func wantRedirect(t *testing.T, resp *http.Response, to string) {
	t.Helper()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != to {
		t.Errorf("got %d to %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), to)
	}
}

// ---- reading HTML --------------------------------------------------------------

func parse(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not HTML: %v", err)
	}
	return doc
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// inputValue is the value of the first input named name.
func inputValue(t *testing.T, body, name string) string {
	t.Helper()
	ins := findAll(parse(t, body), func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == name })
	if len(ins) == 0 {
		t.Fatalf("no input %q in the page:\n%s", name, body)
	}
	return attr(ins[0], "value")
}

// links are the targets of the page's links that start with prefix.
func links(t *testing.T, body, prefix string) []string {
	t.Helper()
	var out []string
	for _, a := range findAll(parse(t, body), func(n *html.Node) bool { return n.Data == "a" }) {
		// Links to records: the prefix and an id (not /app/persone/nuova).
		if h := attr(a, "href"); strings.HasPrefix(h, prefix) && postgres.IsUUID(strings.TrimPrefix(h, prefix)) {
			out = append(out, h)
		}
	}
	return out
}

// section is the text of what follows the h2 titled title, up to the next h2.
func section(t *testing.T, body, title string) string {
	t.Helper()
	for _, h := range findAll(parse(t, body), func(n *html.Node) bool { return n.Data == "h2" }) {
		if text(h) != title {
			continue
		}
		var b strings.Builder
		for s := h.NextSibling; s != nil && !(s.Type == html.ElementNode && s.Data == "h2"); s = s.NextSibling {
			b.WriteString(" " + text(s))
			if s.Type == html.TextNode {
				b.WriteString(s.Data)
			}
		}
		return strings.Join(strings.Fields(b.String()), " ")
	}
	t.Fatalf("no section %q in the page:\n%s", title, body)
	return ""
}

// ---- tests -----------------------------------------------------------------------

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "anna@bagno.example", "social_worker")
	cases := []struct {
		name, email, password string
		status                int
		message               string
	}{
		{"wrong password", "anna@bagno.example", "sbagliata-Pesca-42", 401, "Email o password non corretti."},
		{"unknown email", "nessuno@bagno.example", "sbagliata-Pesca-42", 401, "Email o password non corretti."},
		{"empty password", "anna@bagno.example", "", 422, "Scrivi la tua email e la tua password."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := f.browser()
			resp, body := b.login(t, c.email, c.password)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, c.status, body)
			}
			alerts := findAll(parse(t, body), func(n *html.Node) bool { return attr(n, "role") == "alert" })
			if len(alerts) != 1 || text(alerts[0]) != c.message {
				t.Errorf("error shown %v, want %q", alerts, c.message)
			}
			if got := inputValue(t, body, "email"); got != c.email {
				t.Errorf("email field %q, want the email typed, %q", got, c.email)
			}
			if got := inputValue(t, body, "password"); got != "" || (c.password != "" && strings.Contains(body, c.password)) {
				t.Errorf("the password is echoed in the page (field value %q)", got)
			}
			if _, ok := b.cookies[web.SessionCookie]; ok {
				t.Error("a session cookie was set for a failed login")
			}
		})
	}
	t.Run("no CSRF token", func(t *testing.T) {
		b := f.browser()
		resp, body := b.do(t, "POST", "/accesso", url.Values{"email": {"anna@bagno.example"}, "password": {pw}})
		if resp.StatusCode != 403 || !strings.Contains(body, "Ricarica la pagina") {
			t.Errorf("login without the form's token: %d, want 403 with an Italian explanation:\n%s", resp.StatusCode, body)
		}
		if _, ok := b.cookies[web.SessionCookie]; ok {
			t.Error("a login without the form's token opened a session")
		}
	})
}

func TestLoginIsThrottled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "anna@bagno.example", "social_worker")
	b := f.browser()
	for i := range tenants.DefaultAuth.FreeFailures {
		if resp, _ := b.login(t, "anna@bagno.example", "sbagliata-Pesca-42"); resp.StatusCode != 401 {
			t.Fatalf("failure %d: status %d, want 401", i+1, resp.StatusCode)
		}
	}
	// Past the free failures even the right password waits.
	resp, body := b.login(t, "anna@bagno.example", pw)
	if resp.StatusCode != 429 {
		t.Fatalf("status %d, want 429:\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, "Troppi tentativi di accesso non riusciti: riprova tra ") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("want the Italian message and Retry-After (%q):\n%s", resp.Header.Get("Retry-After"), body)
	}
	if _, ok := b.cookies[web.SessionCookie]; ok {
		t.Error("a throttled login opened a session")
	}
}

func TestLoginSetsTheSessionCookie(t *testing.T) {
	t.Parallel()
	for _, env := range []string{"development", "production"} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, env)
			f.user(t, bagno, "anna@bagno.example", "social_worker")
			b := f.browser()
			resp, _ := b.login(t, "anna@bagno.example", pw)
			wantRedirect(t, resp, "/app/persone")
			var session *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == web.SessionCookie {
					session = c
				}
			}
			if session == nil {
				t.Fatal("no session cookie")
			}
			if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Secure != (env == "production") {
				t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v, want HttpOnly, Strict, /, Secure only in production",
					session.HttpOnly, session.SameSite, session.Path, session.Secure)
			}
			// The same opaque token as the API's.
			if _, err := f.identity.Authenticate(context.Background(), session.Value); err != nil {
				t.Errorf("the cookie is not a session token: %v", err)
			}
			if status, _ := f.api(t, "GET", "/api/v1/me", session.Value, ""); status != 200 {
				t.Errorf("the cookie's token on the API: %d, want 200", status)
			}
			body := b.page(t, "/app/persone")
			if !strings.Contains(body, "Comune di Bagno a Ripoli") {
				t.Errorf("the header does not name the acting tenant:\n%s", body)
			}
			resp, _ = b.get(t, "/")
			wantRedirect(t, resp, "/app/persone")
			resp, _ = b.get(t, "/accesso")
			wantRedirect(t, resp, "/app/persone")
		})
	}
}

func TestPagesNeedALiveSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "anna@bagno.example", "social_worker")

	b := f.browser()
	resp, _ := b.get(t, "/app/persone")
	wantRedirect(t, resp, "/accesso")
	resp, _ = b.get(t, "/")
	wantRedirect(t, resp, "/accesso")

	cases := []struct {
		name string
		end  func(t *testing.T, token string)
	}{
		{"not a token", nil},
		{"logged out through the API", func(t *testing.T, token string) {
			if status, _ := f.api(t, "POST", "/api/v1/auth/logout", token, ""); status != 204 {
				t.Fatalf("API logout: %d", status)
			}
		}},
		{"idle too long", func(t *testing.T, _ string) { f.clock.Advance(tenants.DefaultAuth.IdleTimeout + time.Minute) }},
		{"expired", func(t *testing.T, _ string) { f.clock.Advance(tenants.DefaultAuth.SessionTTL + time.Minute) }},
		{"user disabled", func(t *testing.T, _ string) {
			if err := f.identity.DisableUser(context.Background(), "anna@bagno.example"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b *browser
			if c.end == nil {
				b = f.browser()
				b.cookies[web.SessionCookie] = "atv_" + strings.Repeat("x", 43)
			} else {
				b = f.loggedIn(t, "anna@bagno.example")
				b.page(t, "/app/persone")
				c.end(t, b.cookies[web.SessionCookie])
			}
			resp, _ := b.get(t, "/app/persone")
			wantRedirect(t, resp, "/accesso?motivo=sessione")
			if _, ok := b.cookies[web.SessionCookie]; ok {
				t.Error("the dead session's cookie was not removed")
			}
			if body := b.page(t, "/accesso?motivo=sessione"); !strings.Contains(body, "La sessione è terminata") {
				t.Errorf("the login page does not say why:\n%s", body)
			}
		})
	}
}

func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "anna@bagno.example", "social_worker")
	b := f.loggedIn(t, "anna@bagno.example")
	token := b.cookies[web.SessionCookie]

	resp, _ := b.submit(t, "/app/persone", "/esci", url.Values{})
	wantRedirect(t, resp, "/accesso?motivo=uscita")
	if _, ok := b.cookies[web.SessionCookie]; ok {
		t.Error("the session cookie is still there after logout")
	}
	// The old cookie no longer opens anything, on the web or the API.
	old := f.browser()
	old.cookies[web.SessionCookie] = token
	resp, _ = old.get(t, "/app/persone")
	wantRedirect(t, resp, "/accesso?motivo=sessione")
	if status, _ := f.api(t, "GET", "/api/v1/me", token, ""); status != 401 {
		t.Errorf("API with the logged-out token: %d, want 401", status)
	}
}

func TestPostsWithoutTheCSRFTokenAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "anna@bagno.example", "social_worker")
	f.user(t, pelago, "anna@bagno.example", "social_worker")
	f.user(t, pelago, "piero@pelago.example", "social_worker")
	other := f.loggedIn(t, "piero@pelago.example")
	otherToken := inputValue(t, other.page(t, "/app/persone"), "csrf")

	b := f.loggedIn(t, "anna@bagno.example")
	mine := inputValue(t, b.page(t, "/app/ente"), "csrf")
	if mine == otherToken {
		t.Fatal("two sessions have the same CSRF token")
	}
	for _, c := range []struct{ name, action, token string }{
		{"logout, no token", "/esci", ""},
		{"logout, another session's token", "/esci", otherToken},
		{"tenant choice, no token", "/app/ente", ""},
		{"tenant choice, another session's token", "/app/ente", otherToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{"ente": {pelago}}
			if c.token != "" {
				form.Set("csrf", c.token)
			}
			resp, body := b.do(t, "POST", c.action, form)
			if resp.StatusCode != 403 || !strings.Contains(body, "Il modulo non è più valido") {
				t.Errorf("status %d, want 403 with an Italian explanation:\n%s", resp.StatusCode, body)
			}
			// Nothing changed: still logged in, still no tenant chosen.
			if _, ok := b.cookies[web.TenantCookie]; ok {
				t.Error("the tenant was chosen")
			}
			resp, _ = b.get(t, "/app/persone")
			wantRedirect(t, resp, "/app/ente")
		})
	}
	if _, err := f.identity.Authenticate(context.Background(), b.cookies[web.SessionCookie]); err != nil {
		t.Errorf("the session ended after refused logouts: %v", err)
	}
}

func TestTenantChoice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "owner@bagno.example", "social_worker")
	f.user(t, pelago, "owner@pelago.example", "social_worker")
	f.user(t, bagno, "anna@zona.example", "social_worker")
	f.user(t, pelago, "anna@zona.example", "social_worker")
	f.person(t, f.token(t, "owner@bagno.example"), "Verdi", "Lucia", people.TargetL68, 1)
	f.person(t, f.token(t, "owner@pelago.example"), "Bruni", "Marta", people.TargetL68, 2)

	b := f.loggedIn(t, "anna@zona.example")
	resp, _ := b.get(t, "/app/persone")
	wantRedirect(t, resp, "/app/ente")
	choice := b.page(t, "/app/ente")
	for _, name := range []string{"Comune di Bagno a Ripoli", "Comune di Pelago"} {
		if !strings.Contains(choice, name) {
			t.Errorf("the choice does not offer %s:\n%s", name, choice)
		}
	}

	for _, c := range []struct{ slug, name, sees, hidden string }{
		{pelago, "Comune di Pelago", "Bruni", "Verdi"},
		{bagno, "Comune di Bagno a Ripoli", "Verdi", "Bruni"},
	} {
		resp, _ = b.submit(t, "/app/ente", "/app/ente", url.Values{"ente": {c.slug}})
		wantRedirect(t, resp, "/app/persone")
		body := b.page(t, "/app/persone")
		header := findAll(parse(t, body), func(n *html.Node) bool { return attr(n, "class") == "ente" })
		if len(header) != 1 || text(header[0]) != "Ente: "+c.name {
			t.Errorf("acting for %s: header %v, want it named", c.slug, header)
		}
		if !strings.Contains(body, c.sees) || strings.Contains(body, c.hidden) {
			t.Errorf("acting for %s: want %s listed and %s not:\n%s", c.slug, c.sees, c.hidden, body)
		}
	}

	t.Run("forged tenant cookie", func(t *testing.T) {
		for _, email := range []string{"anna@zona.example", "owner@bagno.example"} {
			b := f.loggedIn(t, email)
			b.cookies[web.TenantCookie] = caritas
			resp, body := b.get(t, "/app/persone")
			if resp.StatusCode != 403 || !strings.Contains(text(parse(t, body)), "Non fai parte dell'ente scelto") || strings.Contains(body, "Verdi") {
				t.Errorf("%s with a tenant cookie for caritas: %d, want 403 and no data:\n%s", email, resp.StatusCode, body)
			}
			if _, ok := b.cookies[web.TenantCookie]; ok {
				t.Errorf("%s: the forged tenant cookie was kept", email)
			}
		}
		b := f.loggedIn(t, "anna@zona.example")
		resp, _ := b.submit(t, "/app/ente", "/app/ente", url.Values{"ente": {caritas}})
		if resp.StatusCode != 403 {
			t.Errorf("choosing a tenant the user is not a member of: %d, want 403", resp.StatusCode)
		}
		if _, ok := b.cookies[web.TenantCookie]; ok {
			t.Error("a tenant the user is not a member of was chosen")
		}
	})
}

// visibleNetwork is a network of persons: three of comune-bagno-a-ripoli
// (one also with coeso in its care team), one of comune-pelago.
type visibleNetwork struct {
	f                         *fixture
	owner                     string // API token of the owner at comune-bagno-a-ripoli
	lucia, anna, mario, marta string
}

func newVisibleNetwork(t *testing.T) visibleNetwork {
	t.Helper()
	f := newFixture(t, "development")
	f.user(t, bagno, "owner@bagno.example", "social_worker")
	f.user(t, pelago, "owner@pelago.example", "social_worker")
	f.user(t, coeso, "coach@coeso.example", "job_coach")
	f.user(t, caritas, "coach@caritas.example", "job_coach")
	f.user(t, cristoforo, "coach@cristoforo.example", "job_coach")
	n := visibleNetwork{f: f, owner: f.token(t, "owner@bagno.example")}
	n.lucia = f.person(t, n.owner, "Verdi", "Lucia", people.TargetMentalHealth, 1)
	n.anna = f.person(t, n.owner, "Verdi", "Anna", people.TargetL68, 2)
	n.mario = f.person(t, n.owner, "Rossi", "Mara", people.TargetL68, 3)
	n.marta = f.person(t, f.token(t, "owner@pelago.example"), "Bruni", "Marta", people.TargetL68, 4)
	f.must(t, 201, "POST", "/api/v1/persons/"+n.lucia+"/links", n.owner, `{"tenant":"coeso","kind":"care_team"}`)
	return n
}

func TestPersonsListSearchAndPages(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	b := n.f.loggedIn(t, "owner@bagno.example")

	// In name order: Rossi Mara, Verdi Anna, Verdi Lucia.
	all := []string{"/app/persone/" + n.mario, "/app/persone/" + n.anna, "/app/persone/" + n.lucia}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"everyone the tenant sees", "", all},
		{"search by surname", "verdi", all[1:]},
		{"search by name", "mara", all[:1]},
		{"search for a person of another tenant", "bruni", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := b.page(t, "/app/persone?q="+c.query)
			got := links(t, body, "/app/persone/")
			if !slices.Equal(got, c.want) {
				t.Errorf("listed %v, want %v (name order)", got, c.want)
			}
			if strings.Contains(body, "Bruni") || strings.Contains(body, n.marta) {
				t.Error("a person of another tenant, without a link, is in the list")
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var got []string
		path, pages := "/app/persone?limit=2", 0
		for path != "" && pages < 5 {
			body := b.page(t, path)
			pages++
			got = append(got, links(t, body, "/app/persone/")...)
			path = ""
			for _, a := range findAll(parse(t, body), func(n *html.Node) bool { return n.Data == "a" && attr(n, "rel") == "next" }) {
				if text(a) != "Pagina successiva" {
					t.Errorf("next page link says %q", text(a))
				}
				path = attr(a, "href")
			}
		}
		if pages != 2 || !slices.Equal(got, all) {
			t.Errorf("%d pages listing %v, want 2 pages listing %v", pages, got, all)
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		resp, body := b.get(t, "/app/persone?cursor=bm90LWEtY3Vyc29y")
		if resp.StatusCode != 400 || !strings.Contains(body, "riparti dalla prima pagina") {
			t.Errorf("status %d, want 400 with an Italian explanation:\n%s", resp.StatusCode, body)
		}
	})
}

func TestPersonNotVisibleIsNotFound(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	b := n.f.loggedIn(t, "owner@bagno.example")
	b.page(t, "/app/persone/"+n.lucia)

	var bodies []string
	for _, id := range []string{n.marta, "7f0c3b9e-2a51-4c1e-9d4b-1f2e3a4b5c6d", "not-a-uuid", "%27%3B--"} {
		resp, body := b.get(t, "/app/persone/"+id)
		if resp.StatusCode != 404 {
			t.Errorf("person %s: %d, want 404", id, resp.StatusCode)
		}
		if strings.Contains(body, "Bruni") {
			t.Errorf("person %s: the page names the hidden person", id)
		}
		bodies = append(bodies, body)
	}
	for i, body := range bodies[1:] {
		if body != bodies[0] {
			t.Errorf("page %d differs from the page of a person of another tenant:\n%s\n---\n%s", i+1, body, bodies[0])
		}
	}
	if !strings.Contains(bodies[0], "non è visibile al tuo ente") {
		t.Errorf("the not-found page is not in Italian:\n%s", bodies[0])
	}
	// Unknown pages under /app are the same Italian page; elsewhere the
	// server answers in JSON, as before the web interface.
	resp, body := b.get(t, "/app/nulla")
	if resp.StatusCode != 404 || body != bodies[0] {
		t.Errorf("unknown page: %d, want the same 404 page", resp.StatusCode)
	}
	for path, status := range map[string]int{"/nulla": 404, "/api/v1/nulla": 401} {
		if resp, _ := b.get(t, path); resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, want JSON %d", path, resp.StatusCode, resp.Header.Get("Content-Type"), status)
		}
	}
}

func TestWithheldCategoriesAreNamedNotShown(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	coach := n.f.loggedIn(t, "coach@coeso.example")
	const phone, email, group = "055 400001", "persona1@example.org", "salute mentale"

	body := coach.page(t, "/app/persone/"+n.lucia)
	if got := section(t, body, "Identità"); !strings.Contains(got, "Verdi") {
		t.Errorf("identity section %q: want the name", got)
	}
	if got := section(t, body, "Contatti"); got != "Non visibile al tuo ente." {
		t.Errorf("contact section %q, want it withheld", got)
	}
	for _, secret := range []string{phone, email, "Via Roma", group} {
		if strings.Contains(body, secret) {
			t.Errorf("the page shows withheld data %q:\n%s", secret, body)
		}
	}
	if got := section(t, body, "Cosa può vedere il tuo ente"); !strings.Contains(got, "Contatti Non visibile al tuo ente.") ||
		!strings.Contains(got, "Salute Non visibile al tuo ente.") || !strings.Contains(got, "Identità Visibile.") {
		t.Errorf("categories %q: want contact and health withheld, identity visible", got)
	}
	if got := section(t, body, "Legame del tuo ente con la persona"); got != "équipe di cura" {
		t.Errorf("links %q, want the care team", got)
	}
	if got := section(t, body, "Consensi"); got != "Nessun consenso visibile al tuo ente." {
		t.Errorf("consents %q, want none", got)
	}

	// Once the person consents, the contact shows, and so does the consent.
	n.f.must(t, 201, "POST", "/api/v1/persons/"+n.lucia+"/consents", n.owner,
		`{"basis":"consent","purpose":"inserimento_lavorativo","grantees":["coeso","arca"],"categories":["contact"],"valid_from":"2026-01-01"}`)
	body = coach.page(t, "/app/persone/"+n.lucia)
	if got := section(t, body, "Contatti"); !strings.Contains(got, phone) || !strings.Contains(got, email) {
		t.Errorf("contact section %q after the consent: want phone and email", got)
	}
	got := section(t, body, "Consensi")
	if !strings.Contains(got, "inserimento lavorativo") || !strings.Contains(got, "coeso (e altri enti, non mostrati al tuo ente)") || strings.Contains(got, "arca") {
		t.Errorf("consents %q: want the consent naming coeso, the other grantee withheld", got)
	}
	// The owner sees the contact and the target group (as disability data);
	// health data only with the person's consent, even as owner.
	body = n.f.loggedIn(t, "owner@bagno.example").page(t, "/app/persone/"+n.anna)
	if got := section(t, body, "Contatti"); !strings.Contains(got, "055 400002") {
		t.Errorf("the owner's contact section %q: want the phone", got)
	}
	got = section(t, body, "Cosa può vedere il tuo ente")
	if !strings.Contains(got, "Disabilità Visibile. Gruppo del programma: persona con disabilità iscritta al collocamento mirato (L. 68/1999).") ||
		!strings.Contains(got, "Salute Non visibile al tuo ente.") {
		t.Errorf("the owner's categories %q: want disability with the target group, health withheld", got)
	}
}

func TestReferralInbox(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	ref := n.f.must(t, 201, "POST", "/api/v1/referrals", n.owner,
		`{"person_id":"`+n.anna+`","to_tenant":"cristoforo","reason":"Valutazione per tirocinio","priority":"urgent","shared_categories":["employment"]}`)

	recipient := n.f.loggedIn(t, "coach@cristoforo.example")
	body := recipient.page(t, "/app/segnalazioni")
	rows := findAll(parse(t, body), func(n *html.Node) bool { return n.Data == "tr" })
	if len(rows) != 2 {
		t.Fatalf("inbox has %d rows, want a header and one referral:\n%s", len(rows), body)
	}
	if got := text(rows[1]); !strings.Contains(got, "comune-bagno-a-ripoli") || !strings.Contains(got, "urgente") || !strings.Contains(got, "In attesa di risposta") {
		t.Errorf("inbox row %q: want sender, priority and status in Italian", got)
	}
	if got := links(t, body, "/app/segnalazioni/"); !slices.Equal(got, []string{"/app/segnalazioni/" + ref}) {
		t.Errorf("links %v, want the referral", got)
	}
	detail := recipient.page(t, "/app/segnalazioni/"+ref)
	if !strings.Contains(detail, "Valutazione per tirocinio") || !strings.Contains(detail, "Percorso lavorativo") {
		t.Errorf("the referral page lacks its reason or shared categories:\n%s", detail)
	}

	owner := n.f.loggedIn(t, "owner@bagno.example")
	if got := links(t, owner.page(t, "/app/segnalazioni?direzione=inviate"), "/app/segnalazioni/"); !slices.Equal(got, []string{"/app/segnalazioni/" + ref}) {
		t.Errorf("the sender's outgoing list has %v, want the referral", got)
	}
	if body := owner.page(t, "/app/segnalazioni"); !strings.Contains(body, "Nessuna segnalazione.") {
		t.Errorf("the sender's inbox is not empty:\n%s", body)
	}

	other := n.f.loggedIn(t, "coach@caritas.example")
	if body := other.page(t, "/app/segnalazioni"); !strings.Contains(body, "Nessuna segnalazione.") {
		t.Errorf("another tenant's inbox shows the referral:\n%s", body)
	}
	resp, hidden := other.get(t, "/app/segnalazioni/"+ref)
	_, unknown := other.get(t, "/app/segnalazioni/7f0c3b9e-2a51-4c1e-9d4b-1f2e3a4b5c6d")
	if resp.StatusCode != 404 || hidden != unknown {
		t.Errorf("another tenant reading the referral: %d, want 404, the page of an unknown id", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	b := n.f.loggedIn(t, "owner@bagno.example")
	anonymous := n.f.browser()
	for _, c := range []struct {
		who  *browser
		path string
	}{
		{anonymous, "/accesso"},
		{b, "/app/persone"},
		{b, "/app/persone?q=verdi"},
		{b, "/app/persone/" + n.lucia},
		{b, "/app/persone/" + n.marta},
		{b, "/app/segnalazioni"},
		{b, "/app/ente"},
	} {
		resp, body := c.who.get(t, c.path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", c.path, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", c.path, k, got, want)
			}
		}
		// Nothing the CSP would block, nothing from elsewhere.
		for _, bad := range []string{"<script", " style=", "<style", "http://", "https://"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: the page contains %q", c.path, bad)
			}
		}
	}
	resp, css := anonymous.get(t, "/static/attivi.css")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css, "body") {
		t.Errorf("stylesheet: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// accessRows are the access-log rows of a person after seq, without what
// differs between two identical reads (ids, times, request ids).
func accessRows(t *testing.T, db *sqlx.DB, person string, after int64) ([]string, int64) {
	t.Helper()
	var rows []struct {
		Seq  int64  `db:"seq"`
		Line string `db:"line"`
	}
	err := db.Select(&rows, `SELECT seq, concat_ws(' | ', tenant_id, user_id, action, array_to_string(categories, ','), purpose, decision, reason) AS line
		FROM access_log WHERE person_id = $1 AND seq > $2 ORDER BY seq`, person, after)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range rows {
		lines = append(lines, r.Line)
		after = r.Seq
	}
	slices.Sort(lines)
	return lines, after
}

func TestReadingAPersonIsLoggedAsThroughTheAPI(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	for _, c := range []struct {
		name, email, person string
		api                 []string // the API calls that read what the page shows
		status              int
	}{
		{"care team, contact withheld", "coach@coeso.example", n.lucia, []string{"/api/v1/persons/{id}", "/api/v1/persons/{id}/consents"}, 200},
		{"owner", "owner@bagno.example", n.anna, []string{"/api/v1/persons/{id}", "/api/v1/persons/{id}/consents"}, 200},
		{"a person the tenant may not see", "coach@caritas.example", n.lucia, []string{"/api/v1/persons/{id}"}, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, seq := accessRows(t, n.f.db, c.person, 0)
			token := n.f.token(t, c.email)
			for _, p := range c.api {
				if status, _ := n.f.api(t, "GET", strings.ReplaceAll(p, "{id}", c.person), token, ""); status != c.status {
					t.Fatalf("API %s: %d, want %d", p, status, c.status)
				}
			}
			viaAPI, seq := accessRows(t, n.f.db, c.person, seq)
			if resp, _ := n.f.loggedIn(t, c.email).get(t, "/app/persone/"+c.person); resp.StatusCode != c.status {
				t.Fatalf("web: %d, want %d", resp.StatusCode, c.status)
			}
			viaWeb, _ := accessRows(t, n.f.db, c.person, seq)
			if len(viaAPI) == 0 || !slices.Equal(viaWeb, viaAPI) {
				t.Errorf("access log through the web:\n%s\nthrough the API:\n%s", strings.Join(viaWeb, "\n"), strings.Join(viaAPI, "\n"))
			}
		})
	}
}

func TestInternalErrorShowsOnlyTheRequestID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "anna@bagno.example", "social_worker")
	b := f.loggedIn(t, "anna@bagno.example")
	f.db.Close() // every query now fails

	resp, body := b.get(t, "/app/persone")
	rid := resp.Header.Get("X-Request-ID")
	if resp.StatusCode != 500 || rid == "" {
		t.Fatalf("status %d, request id %q: want 500 with a request id", resp.StatusCode, rid)
	}
	if !strings.Contains(body, "Errore interno") || !strings.Contains(body, rid) || strings.Contains(body, "sql") || strings.Contains(body, "closed") {
		t.Errorf("the page must say \"Errore interno\" and the request id, and nothing of the cause:\n%s", body)
	}
	logged := 0
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"internal error"`) {
			logged++
			if !strings.Contains(line, `"request_id":"`+rid+`"`) {
				t.Errorf("the error is logged without its request id: %s", line)
			}
			if strings.Contains(line, "anna@") {
				t.Errorf("the error log line has personal data: %s", line)
			}
		}
	}
	if logged != 1 {
		t.Errorf("the internal error is logged %d times, want once:\n%s", logged, f.logs.String())
	}
}

// TestStatusCheckByFiscalCode: the employment office, which may not read
// identities, finds where an L.68 participant stands by the fiscal code it
// holds, and sees nothing of who they are; a person outside its remit, and
// any person for a tenant without a link, is the same "not visible" page.
func TestStatusCheckByFiscalCode(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	f := n.f
	f.user(t, "collocamento-mirato-firenze", "officer@collocamento.example", "placement_officer")
	office := f.loggedIn(t, "officer@collocamento.example")
	anna := fiscalCode(2, time.Date(1980, time.March, 3, 0, 0, 0, 0, time.UTC))  // L.68
	lucia := fiscalCode(1, time.Date(1980, time.March, 2, 0, 0, 0, 0, time.UTC)) // mental health

	body := office.page(t, "/app/stato?codice_fiscale="+strings.ToLower(anna))
	if !strings.Contains(body, "Nel programma") || !strings.Contains(body, "Fase") {
		t.Errorf("the office's check shows no status:\n%s", body)
	}
	for _, leak := range []string{"Verdi", "Anna", "persona2@example.org"} {
		if strings.Contains(body, leak) {
			t.Errorf("the status page shows %q", leak)
		}
	}
	notVisible := func(b *browser, who, code string) string {
		t.Helper()
		resp, body := b.get(t, "/app/stato?codice_fiscale="+code)
		if resp.StatusCode != 404 || !strings.Contains(body, "Nessuna persona con questo codice fiscale è visibile al tuo ente.") {
			t.Errorf("%s, %s: %d, want the 404 page", who, code, resp.StatusCode)
		}
		return body
	}
	unknown := fiscalCode(99, time.Date(1980, time.March, 5, 0, 0, 0, 0, time.UTC))
	outside := strings.ReplaceAll(notVisible(office, "office, a mental-health participant", lucia), lucia, "CODE")
	nobody := strings.ReplaceAll(notVisible(office, "office, a code nobody has", unknown), unknown, "CODE")
	if outside != nobody { // but for the code typed, which the form keeps
		t.Error("a person outside the office's remit and a code nobody has give different pages")
	}
	f.user(t, caritas, "other@caritas.example", "job_coach")
	notVisible(f.loggedIn(t, "other@caritas.example"), "a cooperative without a link", anna)
	if resp, body := office.get(t, "/app/stato?codice_fiscale=ABC"); resp.StatusCode != 400 || !strings.Contains(body, "Il codice fiscale non è valido") {
		t.Errorf("a broken code: %d, want 400 with the Italian explanation", resp.StatusCode)
	}
	if body := office.page(t, "/app/stato"); !strings.Contains(body, `name="codice_fiscale"`) {
		t.Error("no form to check a code")
	}
}

// TestRegisterAPerson: a social worker registers a person through the form:
// the tenant becomes the owner and lands on the person's page; what the
// service refuses comes back as the form, the values kept, an Italian
// sentence beside each field to correct; a person already in the network
// names the tenant to ask; nothing is registered twice.
func TestRegisterAPerson(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "development")
	f.user(t, bagno, "owner@bagno.example", "social_worker")
	b := f.loggedIn(t, "owner@bagno.example")
	birth := time.Date(1980, time.March, 7, 0, 0, 0, 0, time.UTC)
	form := func(code, family string) url.Values {
		return url.Values{"fiscal_code": {code}, "family_name": {family}, "given_name": {"Anna"}, "birth_date": {"1980-03-07"},
			"sex": {"F"}, "residence_istat": {"048001"}, "target_group": {people.TargetL68}, "phone": {"055 123456"}}
	}
	if body := b.page(t, "/app/persone/nuova"); !strings.Contains(body, "Registra una persona") || !strings.Contains(body, `value="048001"`) {
		t.Fatalf("no registration form:\n%s", body)
	}
	// Refused: a wrong check character and no surname.
	bad := form(fiscalCode(7, birth)[:15]+"Z", "")
	resp, body := b.submit(t, "/app/persone/nuova", "/app/persone/nuova", bad)
	if resp.StatusCode != 422 || !strings.Contains(body, "Il codice fiscale non è valido") || !strings.Contains(body, "Scrivi il cognome") ||
		!strings.Contains(body, `value="055 123456"`) {
		t.Errorf("refused registration: %d, want 422 with the Italian problems and the values kept:\n%s", resp.StatusCode, body)
	}
	// Accepted: the person's page.
	resp, _ = b.submit(t, "/app/persone/nuova", "/app/persone/nuova", form(fiscalCode(7, birth), "Verdi"))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/app/persone/") {
		t.Fatalf("registration: %d to %q, want 303 to the person's page", resp.StatusCode, loc)
	}
	if body := b.page(t, loc); !strings.Contains(body, "Verdi Anna") {
		t.Errorf("the new person's page does not show them:\n%s", body)
	}
	// Again: already registered, naming the tenant to ask.
	resp, body = b.submit(t, "/app/persone/nuova", "/app/persone/nuova", form(fiscalCode(7, birth), "Verdi"))
	if resp.StatusCode != 409 || !strings.Contains(body, "già registrata") || !strings.Contains(body, bagno) {
		t.Errorf("a second registration: %d, want 409 naming %s:\n%s", resp.StatusCode, bagno, body)
	}
	var n int
	if err := f.db.Get(&n, `SELECT count(*) FROM persons WHERE fiscal_code = $1`, fiscalCode(7, birth)); err != nil || n != 1 {
		t.Errorf("%d persons with the code (%v), want 1", n, err)
	}
	// Without the form's token nothing is registered.
	resp, _ = b.do(t, "POST", "/app/persone/nuova", form(fiscalCode(8, birth), "Neri"))
	if resp.StatusCode != 403 {
		t.Errorf("a registration without the CSRF token: %d, want 403", resp.StatusCode)
	}
	if err := f.db.Get(&n, `SELECT count(*) FROM persons WHERE fiscal_code = $1`, fiscalCode(8, birth)); err != nil || n != 0 {
		t.Errorf("a registration without the token stored %d persons", n)
	}
}

// TestRecordAConsent: the tenant that holds a person's record records their
// consent through the form; the chosen grantee then reads what it grants.
// A refusal keeps what was ticked and says what to correct; another tenant
// is refused and nothing is stored.
func TestRecordAConsent(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	f := n.f
	owner := f.loggedIn(t, "owner@bagno.example")
	formPath := "/app/persone/" + n.lucia + "/consensi/nuovo"
	if body := owner.page(t, "/app/persone/"+n.lucia); !strings.Contains(body, formPath) {
		t.Errorf("the owner's view of the person has no link to record a consent")
	}
	if body := owner.page(t, formPath); !strings.Contains(body, `value="coeso"`) || !strings.Contains(body, `value="kind:third_sector"`) {
		t.Fatalf("the form does not offer the network's tenants and kinds:\n%s", body)
	}
	count := func() int {
		var c int
		if err := f.db.Get(&c, `SELECT count(*) FROM consents WHERE person_id = $1`, n.lucia); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := count()
	// Nothing ticked: the form again, the choices kept.
	resp, body := owner.submit(t, formPath, formPath, url.Values{"basis": {"consent"}, "purpose": {"presa_in_carico"}, "valid_from": {"2026-01-01"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "Scegli almeno un ente") || !strings.Contains(body, "Scegli almeno una categoria") ||
		!strings.Contains(body, `<option value="presa_in_carico" selected>`) {
		t.Errorf("an empty consent: %d, want 422 with the Italian problems:\n%s", resp.StatusCode, body)
	}
	// Recorded: coeso (care team) may then read the contact data.
	coach := f.loggedIn(t, "coach@coeso.example")
	if body := coach.page(t, "/app/persone/"+n.lucia); strings.Contains(body, "persona1@example.org") {
		t.Fatal("the care team reads the contact data before any consent")
	}
	resp, _ = owner.submit(t, formPath, formPath, url.Values{"basis": {"consent"}, "purpose": {"presa_in_carico"},
		"grantees": {"coeso"}, "categories": {"contact", "social"}, "valid_from": {"2026-01-01"}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/app/persone/"+n.lucia {
		t.Fatalf("recording the consent: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if body := coach.page(t, "/app/persone/"+n.lucia); !strings.Contains(body, "persona1@example.org") {
		t.Error("after the consent the care team still does not read the contact data")
	}
	// Another tenant cannot record the person's consents.
	other := f.loggedIn(t, "owner@pelago.example")
	resp, _ = other.submit(t, "/app/persone", formPath, url.Values{"basis": {"consent"}, "purpose": {"presa_in_carico"},
		"grantees": {"caritas"}, "categories": {"health"}, "valid_from": {"2026-01-01"}})
	if resp.StatusCode != 404 && resp.StatusCode != 403 {
		t.Errorf("another tenant records a consent: %d, want refused", resp.StatusCode)
	}
	if got := count(); got != before+1 {
		t.Errorf("%d consents stored, want %d", got, before+1)
	}
}

// TestReferAPerson: the owner refers a person through the form; the
// recipient finds it in its inbox; the same form sent twice refers once; a
// second referral to the same tenant while one is open, and a referral
// without a reason, come back with what to do, in Italian.
func TestReferAPerson(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	f := n.f
	owner := f.loggedIn(t, "owner@bagno.example")
	path := "/app/persone/" + n.anna + "/segnala"
	if body := owner.page(t, "/app/persone/"+n.anna); !strings.Contains(body, path) {
		t.Errorf("the owner's view of the person has no link to refer them")
	}
	body := owner.page(t, path)
	if strings.Contains(body, `<option value="`+bagno+`"`) {
		t.Error("the form offers the owner's own tenant as recipient")
	}
	form := url.Values{"csrf": {inputValue(t, body, "csrf")}, "chiave": {inputValue(t, body, "chiave")}, "to_tenant": {caritas},
		"reason": {"orientamento al lavoro"}, "priority": {"routine"}, "shared_categories": {"identity", "status", "contact"}}
	// No reason: the form again.
	noReason := url.Values{}
	for k, v := range form {
		noReason[k] = v
	}
	noReason.Set("reason", "")
	if resp, body := owner.do(t, "POST", path, noReason); resp.StatusCode != 422 || !strings.Contains(body, "Scrivi il motivo") {
		t.Errorf("a referral without a reason: %d, want 422 with the Italian problem:\n%s", resp.StatusCode, body)
	}
	for i := range 2 { // sent twice, as a double click would
		if resp, _ := owner.do(t, "POST", path, form); resp.StatusCode != 303 {
			t.Fatalf("sending the referral (%d): %d", i+1, resp.StatusCode)
		}
	}
	var sent int
	if err := f.db.Get(&sent, `SELECT count(*) FROM referrals WHERE person_id = $1`, n.anna); err != nil || sent != 1 {
		t.Errorf("%d referrals (%v), want 1", sent, err)
	}
	inbox := f.loggedIn(t, "coach@caritas.example").page(t, "/app/segnalazioni")
	if !strings.Contains(inbox, "Verdi Anna") {
		t.Errorf("the recipient's inbox does not show the referral:\n%s", inbox)
	}
	// A new form to the same tenant while the referral is open.
	body = owner.page(t, path)
	form.Set("csrf", inputValue(t, body, "csrf"))
	form.Set("chiave", inputValue(t, body, "chiave"))
	if resp, body := owner.do(t, "POST", path, form); resp.StatusCode != 409 || !strings.Contains(body, "già una segnalazione aperta") {
		t.Errorf("a second open referral: %d, want 409:\n%s", resp.StatusCode, body)
	}
}

// TestAnswerAReferral: the recipient accepts a referral on its page; a
// rejection without a reason and a move on a stale page come back with what
// to do; the history records the move.
func TestAnswerAReferral(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	f := n.f
	id := f.must(t, 201, "POST", "/api/v1/referrals", n.owner,
		`{"person_id":"`+n.anna+`","to_tenant":"`+caritas+`","reason":"orientamento","priority":"routine","shared_categories":["identity","status"]}`)
	coach := f.loggedIn(t, "coach@caritas.example")
	page := "/app/segnalazioni/" + id
	body := coach.page(t, page)
	if !strings.Contains(body, `value="accepted"`) || !strings.Contains(body, `value="rejected"`) {
		t.Fatalf("the recipient is not offered to accept or reject:\n%s", body)
	}
	move := func(to, reason, version string) (*http.Response, string) {
		return coach.do(t, "POST", page+"/stato", url.Values{"csrf": {inputValue(t, coach.page(t, page), "csrf")}, "versione": {version},
			"stato": {to}, "reason_code": {reason}})
	}
	if resp, body := move("rejected", "", "1"); resp.StatusCode != 422 || !strings.Contains(body, "Scegli il motivo") {
		t.Errorf("a rejection without a reason: %d, want 422:\n%s", resp.StatusCode, body)
	}
	if resp, _ := move("accepted", "", "1"); resp.StatusCode != 303 {
		t.Fatalf("accepting: %d", resp.StatusCode)
	}
	body = coach.page(t, page)
	if !strings.Contains(body, `value="in-progress"`) || strings.Contains(body, `value="accepted"`) {
		t.Errorf("after accepting, the page does not offer the next moves:\n%s", body)
	}
	if resp, body := move("in-progress", "", "1"); resp.StatusCode != 409 || !strings.Contains(body, "nel frattempo") {
		t.Errorf("a move from a stale page: %d, want 409:\n%s", resp.StatusCode, body)
	}
	var status string
	if err := f.db.Get(&status, `SELECT status FROM referrals WHERE id = $1`, id); err != nil || status != "accepted" {
		t.Errorf("the referral is %q (%v), want accepted", status, err)
	}
}

// TestCaseNotes: the owner writes notes on the person's page; the care team
// reads a note of a category only with the person's consent (and its roles'
// leave), and never a note marked riservata; an empty note comes back with
// what to correct.
func TestCaseNotes(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	f := n.f
	owner := f.loggedIn(t, "owner@bagno.example")
	path := "/app/persone/" + n.lucia + "/note"
	if body := owner.page(t, "/app/persone/"+n.lucia); !strings.Contains(body, path) {
		t.Error("the person's page has no link to the notes")
	}
	write := func(category, body string, sensitive bool) (*http.Response, string) {
		form := url.Values{"category": {category}, "body": {body}}
		if sensitive {
			form.Set("riservata", "1")
		}
		return owner.submit(t, path, path, form)
	}
	// Employment notes: what a cooperative on the care team may read, with
	// the person's consent.
	if resp, body := write("employment", "", false); resp.StatusCode != 422 || !strings.Contains(body, "Scrivi la nota") {
		t.Errorf("an empty note: %d, want 422 with the Italian problem", resp.StatusCode)
	}
	for _, w := range []struct {
		body      string
		sensitive bool
	}{{"Colloquio con la famiglia: situazione abitativa stabile.", false}, {"Nota riservata del servizio sociale.", true}} {
		if resp, _ := write("employment", w.body, w.sensitive); resp.StatusCode != 303 {
			t.Fatalf("writing a note: %d", resp.StatusCode)
		}
	}
	if body := owner.page(t, path); !strings.Contains(body, "situazione abitativa stabile") || !strings.Contains(body, "Nota riservata") {
		t.Errorf("the owner does not read its own notes:\n%s", body)
	}
	coach := f.loggedIn(t, "coach@coeso.example")
	if body := coach.page(t, path); strings.Contains(body, "situazione abitativa") {
		t.Error("the care team reads an employment note without the person's consent")
	}
	f.must(t, 201, "POST", "/api/v1/persons/"+n.lucia+"/consents", n.owner,
		`{"basis":"consent","purpose":"inserimento_lavorativo","grantees":["coeso"],"categories":["employment"],"valid_from":"2026-01-01"}`)
	body := coach.page(t, path)
	if !strings.Contains(body, "situazione abitativa stabile") || strings.Contains(body, "Nota riservata") {
		t.Errorf("with the consent the care team should read the shared note and not the riservata one:\n%s", body)
	}
	if resp, _ := f.loggedIn(t, "coach@caritas.example").get(t, path); resp.StatusCode != 404 {
		t.Errorf("a tenant without a link: %d, want 404", resp.StatusCode)
	}
}

// TestConferencePages: an invited tenant finds the conference in its list,
// with the tenants invited, the persons discussed with it and the minutes;
// a tenant not invited does not find it, by list or by id.
func TestConferencePages(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	f := n.f
	f.must(t, 201, "POST", "/api/v1/persons/"+n.lucia+"/consents", n.owner,
		`{"basis":"consent","purpose":"case_conference","grantees":["coeso"],"categories":["identity","employment"],"valid_from":"2026-01-01"}`)
	starts := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Hour)
	id := f.must(t, 201, "POST", "/api/v1/conferences", n.owner, fmt.Sprintf(
		`{"title":"Équipe di dicembre","starts_at":%q,"ends_at":%q,"location":"Sala riunioni","invited_tenants":["coeso"],"person_ids":[%q]}`,
		starts.Format(time.RFC3339), starts.Add(time.Hour).Format(time.RFC3339), n.lucia))
	req := httptest.NewRequest("PUT", "/api/v1/conferences/"+id+"/minutes", strings.NewReader(`{"text":"Si concorda un tirocinio da gennaio."}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+n.owner)
	req.Header.Set("If-Match", `"1"`)
	if resp, body := f.send(t, req); resp.StatusCode != 200 {
		t.Fatalf("minutes: %d %s", resp.StatusCode, body)
	}
	coach := f.loggedIn(t, "coach@coeso.example")
	if body := coach.page(t, "/app/riunioni"); !strings.Contains(body, "/app/riunioni/"+id) || !strings.Contains(body, "Équipe di dicembre") {
		t.Errorf("the invited tenant's list lacks the conference:\n%s", body)
	}
	body := coach.page(t, "/app/riunioni/"+id)
	for _, want := range []string{"Équipe di dicembre", "Sala riunioni", "coeso", "/app/persone/" + n.lucia, "Si concorda un tirocinio da gennaio."} {
		if !strings.Contains(body, want) {
			t.Errorf("the conference page lacks %q", want)
		}
	}
	other := f.loggedIn(t, "coach@caritas.example")
	if body := other.page(t, "/app/riunioni"); strings.Contains(body, id) {
		t.Error("a tenant not invited sees the conference in its list")
	}
	if resp, _ := other.get(t, "/app/riunioni/"+id); resp.StatusCode != 404 {
		t.Errorf("a tenant not invited opens the conference: %d, want 404", resp.StatusCode)
	}
}

// TestAccessLogPage: the tenant holding the record reads who accessed the
// person's data, including another tenant's refused attempt; a tenant that
// may not read the log does not get it.
func TestAccessLogPage(t *testing.T) {
	t.Parallel()
	n := newVisibleNetwork(t)
	f := n.f
	f.loggedIn(t, "coach@coeso.example").page(t, "/app/persone/"+n.lucia) // a read by the care team
	if resp, _ := f.loggedIn(t, "coach@caritas.example").get(t, "/app/persone/"+n.lucia); resp.StatusCode != 404 {
		t.Fatalf("caritas opens the person: %d", resp.StatusCode) // a refused attempt
	}
	owner := f.loggedIn(t, "owner@bagno.example")
	if body := owner.page(t, "/app/persone/"+n.lucia); !strings.Contains(body, "/app/persone/"+n.lucia+"/accessi") {
		t.Error("the owner's view of the person has no link to the access log")
	}
	body := owner.page(t, "/app/persone/"+n.lucia+"/accessi")
	for _, want := range []string{"coach@coeso.example", "coach@caritas.example", "rifiutato", "consentito"} {
		if !strings.Contains(body, want) {
			t.Errorf("the access log page lacks %q", want)
		}
	}
	if resp, _ := f.loggedIn(t, "coach@coeso.example").get(t, "/app/persone/"+n.lucia+"/accessi"); resp.StatusCode == 200 {
		t.Error("the care team reads the person's access log")
	}
}
