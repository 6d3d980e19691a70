package tenants

import (
	"github.com/gofiber/fiber/v2"

	"attivi/server/httpx"
)

// Handler serves the tenant directory.
type Handler struct {
	store *Store
}

// NewHandler returns the HTTP handlers of tenants.
func NewHandler(store *Store) *Handler { return &Handler{store: store} }

// TenantJSON is a tenant in the directory.
type TenantJSON struct {
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	Kind      Kind   `json:"kind"`
	Parent    string `json:"parent,omitempty"`
	ISTATCode string `json:"istat_code,omitempty"`
}

func toJSON(t Tenant) TenantJSON {
	return TenantJSON{Slug: t.Slug, Name: t.Name, Kind: t.Kind, Parent: t.ParentSlug, ISTATCode: t.ISTATCode}
}

// List answers GET /api/v1/tenants: the directory of the network in slug
// order, paginated. The directory holds no personal data.
func (h *Handler) List(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	ts, err := h.store.List(c.UserContext(), page.After, page.Limit+1)
	if err != nil {
		return err
	}
	items := make([]TenantJSON, len(ts))
	for i, t := range ts {
		items[i] = toJSON(t)
	}
	return c.JSON(httpx.NewList(items, page.Limit, func(t TenantJSON) string { return t.Slug }))
}

// Get answers GET /api/v1/tenants/{slug}.
func (h *Handler) Get(c *fiber.Ctx) error {
	t, err := h.store.BySlug(c.UserContext(), c.Params("slug"))
	if err != nil {
		return err
	}
	return c.JSON(toJSON(t))
}
