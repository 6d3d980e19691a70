package tenants

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
)

// Authorizer answers role questions about non-personal objects (members,
// tenants, policies); the policies engine implements it.
type Authorizer interface {
	Allowed(a Actor, object, action string) bool
	AllowedActions(kind Kind, roles []Role) map[string][]string
}

// AuthHandler serves login, logout, /me and staff administration, and
// provides the authentication and acting-tenant middleware.
type AuthHandler struct {
	id    *Identity
	store *Store
	authz Authorizer
}

// NewAuthHandler returns the handlers of authentication and staff.
func NewAuthHandler(id *Identity, store *Store, authz Authorizer) *AuthHandler {
	return &AuthHandler{id: id, store: store, authz: authz}
}

type sessionKey struct{}

// SessionFrom returns the authenticated session carried by ctx.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

// RequireActor returns the actor of the request: 401 when nobody is logged
// in, 400 when the user has several tenants and named none in X-Tenant.
func RequireActor(ctx context.Context) (Actor, error) {
	if a, ok := ActorFrom(ctx); ok {
		return a, nil
	}
	s, ok := SessionFrom(ctx)
	if !ok {
		return Actor{}, apperr.New(apperr.Unauthorized, "log in first")
	}
	if len(s.Memberships) == 0 {
		return Actor{}, apperr.New(apperr.Forbidden, "your account is not a member of any tenant")
	}
	slugs := make([]string, len(s.Memberships))
	for i, m := range s.Memberships {
		slugs[i] = m.TenantSlug
	}
	return Actor{}, &apperr.Error{Code: apperr.Malformed, Message: "say which tenant you act for with the X-Tenant header",
		Fields: map[string]string{"X-Tenant": "is required: you are a member of " + strings.Join(slugs, ", ")}}
}

// Authenticate is the middleware that checks the bearer token and puts the
// session in the request context.
func (h *AuthHandler) Authenticate(c *fiber.Ctx) error {
	header := c.Get(fiber.HeaderAuthorization)
	if header == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="attivi"`)
		return apperr.New(apperr.Unauthorized, "log in first: the Authorization header is missing")
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="attivi"`)
		return apperr.New(apperr.Unauthorized, "the Authorization header must be \"Bearer <token>\"")
	}
	s, err := h.id.Authenticate(c.UserContext(), token)
	if err != nil {
		if apperr.Is(err, apperr.Unauthorized) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="attivi", error="invalid_token"`)
		}
		return err
	}
	c.Locals(httpx.LocalUserID, s.UserID)
	c.SetUserContext(context.WithValue(c.UserContext(), sessionKey{}, s))
	return c.Next()
}

// ActingTenant is the middleware that picks the tenant the request acts for
// from X-Tenant (or the user's only membership) and puts the actor in the
// request context. A tenant the user does not belong to is 403.
func (h *AuthHandler) ActingTenant(c *fiber.Ctx) error {
	s, ok := SessionFrom(c.UserContext())
	if !ok {
		return c.Next()
	}
	m, ok, err := ActingTenant(s.Memberships, strings.TrimSpace(c.Get("X-Tenant")))
	if err != nil {
		return err
	}
	if ok {
		a := Actor{UserID: s.UserID, Email: s.Email, SessionID: s.ID, TenantID: m.TenantID,
			TenantSlug: m.TenantSlug, TenantKind: m.TenantKind, Roles: m.Roles}
		c.Locals(httpx.LocalTenant, m.TenantSlug)
		c.SetUserContext(WithActor(c.UserContext(), a))
	}
	return c.Next()
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// UserJSON is a user in responses.
type UserJSON struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

// MembershipJSON is a membership in responses.
type MembershipJSON struct {
	Tenant string   `json:"tenant"`
	Name   string   `json:"name"`
	Kind   Kind     `json:"kind"`
	Roles  []string `json:"roles"`
}

func membershipsJSON(ms []Membership) []MembershipJSON {
	out := make([]MembershipJSON, len(ms))
	for i, m := range ms {
		out[i] = MembershipJSON{Tenant: m.TenantSlug, Name: m.TenantName, Kind: m.TenantKind, Roles: roleNames(m.Roles)}
	}
	return out
}

func roleNames(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// Login answers POST /api/v1/auth/login.
func (h *AuthHandler) Login(c *fiber.Ctx) error {
	var req loginRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	res, err := h.id.Login(c.UserContext(), req.Email, req.Password, c.IP(), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		if ae, ok := err.(*apperr.Error); ok && ae.Code == apperr.Throttled {
			c.Set(fiber.HeaderRetryAfter, ae.Fields["retry_after"])
		}
		return err
	}
	s := res.Session
	c.Locals(httpx.LocalUserID, s.UserID)
	return c.JSON(fiber.Map{
		"token":       res.Token,
		"token_type":  "Bearer",
		"expires_at":  s.ExpiresAt.UTC().Format(time.RFC3339),
		"user":        UserJSON{ID: s.UserID, Email: s.Email, DisplayName: s.DisplayName},
		"memberships": membershipsJSON(s.Memberships),
	})
}

// Logout answers POST /api/v1/auth/logout: the session ends on every
// instance at once.
func (h *AuthHandler) Logout(c *fiber.Ctx) error {
	s, ok := SessionFrom(c.UserContext())
	if !ok {
		return apperr.New(apperr.Unauthorized, "log in first")
	}
	if err := h.id.Logout(c.UserContext(), s.ID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Me answers GET /api/v1/me: who is logged in, their memberships, the
// acting tenant (null when not chosen) and what the acting roles allow.
func (h *AuthHandler) Me(c *fiber.Ctx) error {
	s, ok := SessionFrom(c.UserContext())
	if !ok {
		return apperr.New(apperr.Unauthorized, "log in first")
	}
	body := fiber.Map{
		"user":          UserJSON{ID: s.UserID, Email: s.Email, DisplayName: s.DisplayName},
		"memberships":   membershipsJSON(s.Memberships),
		"acting_tenant": nil,
		"roles":         []string{},
		"allowed":       map[string][]string{},
		"expires_at":    s.ExpiresAt.UTC().Format(time.RFC3339),
	}
	if a, ok := ActorFrom(c.UserContext()); ok {
		body["acting_tenant"] = fiber.Map{"slug": a.TenantSlug, "kind": a.TenantKind}
		body["roles"] = roleNames(a.Roles)
		body["allowed"] = h.authz.AllowedActions(a.TenantKind, a.Roles)
	}
	return c.JSON(body)
}
