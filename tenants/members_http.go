package tenants

import (
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/storage/postgres"
)

// Objects and actions of the role checks on staff and tenants. The policy
// engine decides them like any other (object, action) pair.
const (
	ObjectMembers = "members"
	ObjectTenants = "tenants"
	ActionAdmin   = "admin"
)

// mayAdministerMembers: a tenant's own tenant_admin, or a network_admin
// acting for any tenant.
func (h *AuthHandler) mayAdministerMembers(a Actor, slug string) bool {
	return (a.TenantSlug == slug && h.authz.Allowed(a, ObjectMembers, ActionAdmin)) || h.authz.Allowed(a, ObjectTenants, ActionAdmin)
}

// MemberJSON is a member in responses.
type MemberJSON struct {
	UserJSON
	Roles      []string `json:"roles"`
	Disabled   bool     `json:"disabled"`
	DisabledAt *string  `json:"disabled_at,omitempty"`
	CreatedAt  string   `json:"created_at"`
}

func memberJSON(m Member) MemberJSON {
	out := MemberJSON{UserJSON: UserJSON{ID: m.ID, Email: m.Email, DisplayName: m.DisplayName},
		Roles: roleNames(m.Roles), CreatedAt: m.CreatedAt.UTC().Format(time.RFC3339)}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	for _, t := range []*time.Time{m.DisabledAt, m.MembershipDisabled} {
		if t != nil {
			s := t.UTC().Format(time.RFC3339)
			out.Disabled, out.DisabledAt = true, &s
			break
		}
	}
	return out
}

// membersActor returns the actor when they may administer slug's staff. To
// anyone else the tenant's staff list does not exist (404), except to its own
// members, who are told they lack the role (403).
func (h *AuthHandler) membersActor(c *fiber.Ctx) (Actor, string, error) {
	a, err := RequireActor(c.UserContext())
	if err != nil {
		return a, "", err
	}
	slug := c.Params("slug")
	if !h.mayAdministerMembers(a, slug) {
		if a.TenantSlug == slug {
			return a, "", apperr.New(apperr.Forbidden, "managing the staff of %s needs the tenant_admin role", slug)
		}
		return a, "", apperr.New(apperr.NotFound, "there is no staff list of %q you can see", slug)
	}
	return a, slug, nil
}

// ListMembers answers GET /api/v1/tenants/{slug}/members.
func (h *AuthHandler) ListMembers(c *fiber.Ctx) error {
	_, slug, err := h.membersActor(c)
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	ms, err := h.id.Members(c.UserContext(), slug, page.After, page.Limit+1)
	if err != nil {
		return err
	}
	items := make([]MemberJSON, len(ms))
	for i, m := range ms {
		items[i] = memberJSON(m)
	}
	return c.JSON(httpx.NewList(items, page.Limit, func(m MemberJSON) string { return strings.ToLower(m.Email) }))
}

type addMemberRequest struct {
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Password    string   `json:"password"`
	Roles       []string `json:"roles"`
}

// AddMember answers POST /api/v1/tenants/{slug}/members: creates the user
// (with the given initial password) or adds an existing user to the tenant.
func (h *AuthHandler) AddMember(c *fiber.Ctx) error {
	a, slug, err := h.membersActor(c)
	if err != nil {
		return err
	}
	var req addMemberRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	m, created, err := h.id.AddMember(c.UserContext(), slug, NewMember{Email: req.Email, DisplayName: req.DisplayName, Password: req.Password, Roles: req.Roles}, &a.UserID)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(memberJSON(m))
}

type changeMemberRequest struct {
	Roles    *[]string `json:"roles"`
	Disabled *bool     `json:"disabled"`
}

// ChangeMember answers PATCH /api/v1/tenants/{slug}/members/{user_id}:
// changes roles and disables or re-enables the membership.
func (h *AuthHandler) ChangeMember(c *fiber.Ctx) error {
	a, slug, err := h.membersActor(c)
	if err != nil {
		return err
	}
	var req changeMemberRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	if req.Roles == nil && req.Disabled == nil {
		return apperr.New(apperr.Invalid, "nothing to change: give roles, disabled or both")
	}
	userID := c.Params("user_id")
	if !postgres.IsUUID(userID) {
		return apperr.New(apperr.NotFound, "this user is not a member of %s", slug)
	}
	if userID == a.UserID && req.Disabled != nil && *req.Disabled {
		return apperr.New(apperr.Invalid, "you cannot disable your own membership")
	}
	m, err := h.id.ChangeMember(c.UserContext(), slug, userID, MemberChange{Roles: req.Roles, Disabled: req.Disabled}, &a.UserID)
	if err != nil {
		return err
	}
	return c.JSON(memberJSON(m))
}

type createTenantRequest struct {
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Parent    string `json:"parent"`
	ISTATCode string `json:"istat_code"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// CreateTenant answers POST /api/v1/tenants, for network_admin.
func (h *AuthHandler) CreateTenant(c *fiber.Ctx) error {
	a, err := RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	if !h.authz.Allowed(a, ObjectTenants, ActionAdmin) {
		return apperr.New(apperr.Forbidden, "creating tenants needs the network_admin role")
	}
	var req createTenantRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	fields := apperr.Fields{}
	if !slugRE.MatchString(req.Slug) || len(req.Slug) > 63 {
		fields.Add("slug", "must be lower-case letters and digits in words joined by hyphens, at most 63 characters")
	}
	if strings.TrimSpace(req.Name) == "" || len(req.Name) > 200 {
		fields.Add("name", "is required, at most 200 characters")
	}
	kind := Kind(req.Kind)
	if !kind.Valid() {
		fields.Add("kind", "must be one of municipality, health_service, employment_office, third_sector, training_agency, coordinator")
	}
	if kind == KindMunicipality && req.ISTATCode == "" {
		fields.Add("istat_code", "is required for a municipality")
	}
	if kind != KindMunicipality && req.ISTATCode != "" {
		fields.Add("istat_code", "is only for municipalities")
	}
	if err := fields.Err(); err != nil {
		return err
	}
	t, err := h.store.Create(c.UserContext(), SeedTenant{Slug: req.Slug, Name: strings.TrimSpace(req.Name), Kind: kind, Parent: req.Parent, ISTATCode: req.ISTATCode})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toJSON(t))
}
