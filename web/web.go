// Package web is the staff web interface: server-rendered Italian pages
// (html/template, one embedded stylesheet, no JavaScript) on the same
// services the API uses, called through their Go functions, so the services
// decide access and write the access log exactly as for the API.
//
// Authentication: POST /accesso logs in through tenants.Identity.Login and
// puts the session's opaque token in an HttpOnly, SameSite=Strict cookie;
// every /app request authenticates it with Identity.Authenticate, the same
// check as the API's bearer token, so an expired, idle or revoked session or
// a disabled user ends the web session too.
//
// CSRF: every POST form carries a token. Logged in, it is an HMAC keyed by
// the session token (which only the browser holding the cookie knows), so it
// needs no server state and works on every instance; the login form, before
// any session, uses a random value that must match a cookie (double submit).
//
// Acting tenant: chosen on /app/ente by a user with several memberships and
// kept in a cookie, checked against the session's memberships on every
// request (tenants.ActingTenant); automatic with one membership.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/services/conferences"
	"attivi/services/consents"
	"attivi/services/notes"
	"attivi/services/people"
	"attivi/services/referrals"
	"attivi/tenants"
)

// Names of the cookies.
const (
	SessionCookie = "attivi_session" // the session token, as the API's bearer token
	TenantCookie  = "attivi_tenant"  // the slug of the chosen acting tenant
	LoginCookie   = "attivi_login"   // the CSRF value of the login form
)

// csrfField is the name of the CSRF token in every POST form.
const csrfField = "csrf"

// Classify is the server's error table: the application error err stands
// for and its HTTP status.
type Classify func(c *fiber.Ctx, err error) (*apperr.Error, int)

// Config is what the web interface is built from.
type Config struct {
	Identity  *tenants.Identity
	Persons   *people.Service
	Consents  *consents.Service
	Referrals *referrals.Service
	Tenants   *tenants.Store // the directory, for the consent form's grantees
	Notes     *notes.Service
	Confs     *conferences.Service
	Logger    *slog.Logger
	// SecureCookies marks the cookies Secure (sent over HTTPS only): true
	// everywhere but in development.
	SecureCookies bool
	Classify      Classify
}

// Handler serves the pages.
type Handler struct {
	id        *tenants.Identity
	persons   *people.Service
	consents  *consents.Service
	referrals *referrals.Service
	tenants   *tenants.Store
	notesSvc  *notes.Service
	confs     *conferences.Service
	log       *slog.Logger
	secure    bool
	classify  Classify
	pages     pages
}

// New returns the web interface. It panics when a template does not parse,
// which is a bug of the program, found at start.
func New(cfg Config) *Handler {
	return &Handler{id: cfg.Identity, persons: cfg.Persons, consents: cfg.Consents, referrals: cfg.Referrals, tenants: cfg.Tenants, notesSvc: cfg.Notes, confs: cfg.Confs,
		log: cfg.Logger, secure: cfg.SecureCookies, classify: cfg.Classify, pages: mustParsePages()}
}

// visitor is the logged-in user of a request, kept in the Fiber locals.
type visitor struct {
	session tenants.Session
	token   string
	csrf    string
	acting  *tenants.Membership // nil until a tenant is chosen
}

const visitorKey = "attivi.web.visitor"

func visitorOf(c *fiber.Ctx) *visitor {
	v, _ := c.Locals(visitorKey).(*visitor)
	return v
}

// actor is who acts in the request; only called below RequireTenant.
func (v *visitor) actor() tenants.Actor {
	m := v.acting
	return tenants.Actor{UserID: v.session.UserID, Email: v.session.Email, SessionID: v.session.ID,
		TenantID: m.TenantID, TenantSlug: m.TenantSlug, TenantKind: m.TenantKind, Roles: m.Roles}
}

// csrfToken is the CSRF token of the session whose token is given.
func csrfToken(sessionToken string) string {
	mac := hmac.New(sha256.New, []byte(sessionToken))
	mac.Write([]byte("attivi web csrf v1"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// sameToken compares two tokens in constant time; empty never matches.
func sameToken(got, want string) bool {
	return got != "" && want != "" && hmac.Equal([]byte(got), []byte(want))
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadForm = &userError{err: apperr.New(apperr.Forbidden, "missing or wrong CSRF token"),
	text: "Il modulo non è più valido (pagina aperta troppo a lungo o inviata da un altro sito). Ricarica la pagina e riprova."}

var errNotMember = &userError{err: apperr.New(apperr.Forbidden, "the tenant cookie names a tenant the user is not a member of"),
	text: "Non fai parte dell'ente scelto. Scegli di nuovo l'ente per cui lavori."}

// setCookie sets one of the interface's cookies; an empty value with a
// zero expiry removes it.
func (h *Handler) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: "/", HTTPOnly: true, Secure: h.secure,
		SameSite: fiber.CookieSameSiteStrictMode, Expires: expires, SessionOnly: expires.IsZero()}
	if value == "" {
		ck.Expires, ck.SessionOnly = time.Unix(1, 0), false
	}
	c.Cookie(ck)
}

func (h *Handler) clearCookie(c *fiber.Ctx, name string) { h.setCookie(c, name, "", time.Time{}) }

// session authenticates the session cookie. ok is false when there is no
// live session (no cookie, or one Identity refuses).
func (h *Handler) session(c *fiber.Ctx) (v *visitor, ok bool, err error) {
	token := c.Cookies(SessionCookie)
	if token == "" {
		return nil, false, nil
	}
	s, err := h.id.Authenticate(c.UserContext(), token)
	if apperr.Is(err, apperr.Unauthorized) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	c.Locals(httpx.LocalUserID, s.UserID)
	return &visitor{session: s, token: token, csrf: csrfToken(token)}, true, nil
}

// endSession forgets the browser's session and sends it to the login page,
// saying why.
func (h *Handler) endSession(c *fiber.Ctx, reason string) error {
	h.clearCookie(c, SessionCookie)
	h.clearCookie(c, TenantCookie)
	to := "/accesso"
	if reason != "" {
		to += "?motivo=" + reason
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// Session is the middleware of the /app pages: a live session (otherwise
// the login page), a valid CSRF token on every POST, and the acting tenant
// when one is chosen (or the only one); a tenant cookie naming a tenant the
// user is not a member of is refused and forgotten.
func (h *Handler) Session(c *fiber.Ctx) error {
	v, ok, err := h.session(c)
	if err != nil {
		return err
	}
	if !ok {
		reason := ""
		if c.Cookies(SessionCookie) != "" {
			reason = "sessione"
		}
		return h.endSession(c, reason)
	}
	c.Locals(visitorKey, v)
	if c.Method() == fiber.MethodPost && !sameToken(c.FormValue(csrfField), v.csrf) {
		return errBadForm
	}
	m, chosen, err := tenants.ActingTenant(v.session.Memberships, c.Cookies(TenantCookie))
	if err != nil {
		h.clearCookie(c, TenantCookie)
		return errNotMember
	}
	if chosen {
		v.acting = &m
		c.Locals(httpx.LocalTenant, m.TenantSlug)
		c.SetUserContext(tenants.WithActor(c.UserContext(), v.actor()))
	}
	return c.Next()
}

// RequireTenant sends a user who has not chosen the tenant they act for to
// the choice.
func (h *Handler) RequireTenant(c *fiber.Ctx) error {
	if v := visitorOf(c); v == nil || v.acting == nil {
		return c.Redirect("/app/ente", fiber.StatusSeeOther)
	}
	return c.Next()
}

// Pages is the first middleware of every page: the security headers, and
// errors answered with an Italian page.
func (h *Handler) Pages(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := c.Next(); err != nil {
		return h.fail(c, err)
	}
	return nil
}

// userError is an error of the web layer with the Italian sentence to show.
type userError struct {
	err  *apperr.Error
	text string
}

func (e *userError) Error() string { return e.err.Error() }
func (e *userError) Unwrap() error { return e.err }

// errorPages are the Italian title and sentence of each error code.
var errorPages = map[apperr.Code][2]string{
	apperr.Malformed:    {"Richiesta non valida", "La richiesta non è valida: torna indietro e riprova."},
	apperr.Invalid:      {"Dati non validi", "Alcuni dati inseriti non sono validi: torna indietro e correggili."},
	apperr.Forbidden:    {"Operazione non permessa", "Il tuo ruolo nel tuo ente non permette questa operazione."},
	apperr.NotFound:     {"Non trovato", "Quello che cerchi non esiste, oppure non è visibile al tuo ente."},
	apperr.Conflict:     {"Dati cambiati nel frattempo", "Qualcun altro ha cambiato questi dati nel frattempo: ricarica la pagina e riprova."},
	apperr.TooLarge:     {"Richiesta troppo grande", "I dati inviati sono troppo grandi."},
	apperr.Unsupported:  {"Formato non accettato", "Il formato dei dati inviati non è accettato."},
	apperr.Unavailable:  {"Servizio non disponibile", "Il servizio non è disponibile in questo momento: riprova tra qualche minuto."},
	apperr.Throttled:    {"Troppi tentativi", "Troppi tentativi: aspetta qualche minuto e riprova."},
	apperr.Internal:     {"Errore interno", "Si è verificato un errore interno. Se si ripete, comunica all'assistenza il codice della richiesta qui sotto."},
	apperr.Unauthorized: {"Accesso richiesto", "Accedi di nuovo."},
}

// fail answers an error with a page: the status from the server's table, an
// Italian sentence, and for internal errors only the request id (the error
// itself is logged once, here, with the request id).
func (h *Handler) fail(c *fiber.Ctx, err error) error {
	ae, status := h.classify(c, err)
	if ae.Code == apperr.Unauthorized {
		return h.endSession(c, "sessione")
	}
	text := errorPages[ae.Code]
	var ue *userError
	if errors.As(err, &ue) {
		text[1] = ue.text
	}
	p := errorPage{Title: text[0], Message: text[1]}
	if ae.Code == apperr.Internal {
		p.RequestID = requestID(c)
		tenant, _ := c.Locals(httpx.LocalTenant).(string)
		h.log.LogAttrs(context.WithoutCancel(c.UserContext()), slog.LevelError, "internal error",
			slog.String("request_id", p.RequestID), slog.String("tenant", tenant),
			slog.String("method", c.Method()), slog.String("path", c.Path()), slog.String("error", err.Error()))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "error", p.Title, p)
}

func requestID(c *fiber.Ctx) string {
	if id := httpx.RequestID(c.UserContext()); id != "" {
		return id
	}
	id, _ := c.Locals(httpx.LocalRequestID).(string)
	return id
}
