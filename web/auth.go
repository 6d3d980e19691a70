package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/tenants"
)

// loginPage is the data of the login form.
type loginPage struct {
	Email  string // kept after a failure; the password never is
	CSRF   string
	Error  string
	Notice string
}

// notices are the reasons the login page may be shown for (?motivo=).
var notices = map[string]string{
	"sessione": "La sessione è terminata (scaduta, chiusa o non più valida): accedi di nuovo.",
	"uscita":   "Sei uscito da ATTIVI.",
}

// loginErrors are the Italian answers to a refused login, by error code;
// other errors get the error page.
var loginErrors = map[apperr.Code]string{
	apperr.Unauthorized: "Email o password non corretti.",
	apperr.Invalid:      "Scrivi la tua email e la tua password.",
	apperr.Throttled:    "Troppi tentativi di accesso non riusciti: riprova tra %s secondi.",
}

// Home answers GET /: the persons for a logged-in user, the login otherwise.
func (h *Handler) Home(c *fiber.Ctx) error {
	return h.loginOr(c, func() error { return c.Redirect("/accesso", fiber.StatusSeeOther) })
}

// loginOr sends a logged-in user to the persons, anyone else to next.
func (h *Handler) loginOr(c *fiber.Ctx, next func() error) error {
	_, ok, err := h.session(c)
	switch {
	case err != nil:
		return err
	case ok:
		return c.Redirect("/app/persone", fiber.StatusSeeOther)
	}
	return next()
}

// loginCSRF is the CSRF value of the login form: the one of the browser's
// login cookie, or a new one (and the cookie).
func (h *Handler) loginCSRF(c *fiber.Ctx) string {
	t := c.Cookies(LoginCookie)
	if len(t) != 43 { // randomToken's length
		t = randomToken()
		h.setCookie(c, LoginCookie, t, time.Time{})
	}
	return t
}

// LoginForm answers GET /accesso.
func (h *Handler) LoginForm(c *fiber.Ctx) error {
	return h.loginOr(c, func() error {
		return h.render(c, fiber.StatusOK, "login", "Accesso", loginPage{CSRF: h.loginCSRF(c), Notice: notices[c.Query("motivo")]})
	})
}

// Login answers POST /accesso: the session cookie and the persons page, or
// the form again saying what went wrong.
func (h *Handler) Login(c *fiber.Ctx) error {
	if !sameToken(c.FormValue(csrfField), c.Cookies(LoginCookie)) {
		return errBadForm
	}
	email := strings.TrimSpace(c.FormValue("email"))
	res, err := h.id.Login(c.UserContext(), email, c.FormValue("password"), c.IP(), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		ae, status := h.classify(c, err)
		msg, known := loginErrors[ae.Code]
		if !known {
			return err
		}
		if ae.Code == apperr.Throttled {
			c.Set(fiber.HeaderRetryAfter, ae.Fields["retry_after"])
			msg = strings.Replace(msg, "%s", ae.Fields["retry_after"], 1)
		}
		return h.render(c, status, "login", "Accesso", loginPage{Email: email, CSRF: h.loginCSRF(c), Error: msg})
	}
	c.Locals(httpx.LocalUserID, res.Session.UserID)
	h.setCookie(c, SessionCookie, res.Token, res.Session.ExpiresAt)
	h.clearCookie(c, TenantCookie) // another user's choice, in a shared browser
	h.clearCookie(c, LoginCookie)
	return c.Redirect("/app/persone", fiber.StatusSeeOther)
}

// Logout answers POST /esci: the session ends (everywhere, the API's token
// too) and the cookies are forgotten.
func (h *Handler) Logout(c *fiber.Ctx) error {
	v, ok, err := h.session(c)
	if err != nil {
		return err
	}
	if ok {
		if !sameToken(c.FormValue(csrfField), v.csrf) {
			return errBadForm
		}
		if err := h.id.Logout(c.UserContext(), v.session.ID); err != nil {
			return err
		}
	}
	return h.endSession(c, "uscita")
}

// tenantPage is the data of the tenant choice.
type tenantPage struct {
	Choices []tenantChoice
	CSRF    string
}

type tenantChoice struct {
	Slug, Name, Kind string
	Current          bool
}

// TenantForm answers GET /app/ente: the tenants the user may act for.
func (h *Handler) TenantForm(c *fiber.Ctx) error {
	v := visitorOf(c)
	p := tenantPage{CSRF: v.csrf}
	for _, m := range v.session.Memberships {
		p.Choices = append(p.Choices, tenantChoice{Slug: m.TenantSlug, Name: m.TenantName, Kind: kindNames[m.TenantKind],
			Current: v.acting != nil && v.acting.TenantSlug == m.TenantSlug})
	}
	return h.render(c, fiber.StatusOK, "tenant", "Scegli l'ente", p)
}

// ChooseTenant answers POST /app/ente: the choice, if the user is a member.
func (h *Handler) ChooseTenant(c *fiber.Ctx) error {
	v := visitorOf(c)
	slug := c.FormValue("ente")
	if slug == "" {
		return &userError{err: apperr.New(apperr.Malformed, "no tenant chosen"), text: "Scegli un ente dall'elenco."}
	}
	if _, _, err := tenants.ActingTenant(v.session.Memberships, slug); err != nil {
		return errNotMember
	}
	h.setCookie(c, TenantCookie, slug, v.session.ExpiresAt)
	return c.Redirect("/app/persone", fiber.StatusSeeOther)
}
