package policies

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the policy administration API:
//
//	GET /api/v1/policies            the matrix in force and its version (also as ETag)
//	PUT /api/v1/policies            replace it: {"rules": [...], "summary": "..."}, If-Match: <version>
//	GET /api/v1/policies/versions   the history of changes, newest first
//
// Who may call them is decided by the Engine (policies read / admin), which
// the default policy gives to network_admin.
type Handler struct {
	engine *Engine
}

// NewHandler returns the handlers on engine.
func NewHandler(engine *Engine) *Handler { return &Handler{engine: engine} }

// PolicyJSON is the matrix with its version.
type PolicyJSON struct {
	Version int64  `json:"version"`
	Rules   []Rule `json:"rules"`
}

// PutPolicyJSON is the body of PUT /api/v1/policies.
type PutPolicyJSON struct {
	Rules   []Rule `json:"rules"`
	Summary string `json:"summary"`
}

// ChangeJSON is one entry of the history.
type ChangeJSON struct {
	Version        int64   `json:"version"`
	ChangedBy      *string `json:"changed_by"`
	ChangedByEmail *string `json:"changed_by_email"`
	ChangedAt      string  `json:"changed_at"`
	Summary        string  `json:"summary"`
	Rules          int     `json:"rules"`
}

func (h *Handler) authorize(c *fiber.Ctx, action string) (tenants.Actor, error) {
	a, ok := tenants.ActorFrom(c.UserContext())
	if !ok {
		return a, apperr.New(apperr.Unauthorized, "sign in to use the policies")
	}
	if !h.engine.Allowed(a, CatPolicies, action) {
		return a, apperr.New(apperr.Forbidden, "only a network administrator may %s the policies", map[string]string{ActRead: "see", ActAdmin: "change"}[action])
	}
	return a, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// Get serves GET /api/v1/policies.
func (h *Handler) Get(c *fiber.Ctx) error {
	if _, err := h.authorize(c, ActRead); err != nil {
		return err
	}
	v, rules := h.engine.Policy()
	if rules == nil {
		rules = []Rule{}
	}
	c.Set(fiber.HeaderETag, etag(v))
	return c.JSON(PolicyJSON{Version: v, Rules: rules})
}

// Put serves PUT /api/v1/policies.
func (h *Handler) Put(c *fiber.Ctx) error {
	a, err := h.authorize(c, ActAdmin)
	if err != nil {
		return err
	}
	ifMatch, err := httpx.RequireIfMatch(c, 0)
	if err != nil {
		return err
	}
	var body PutPolicyJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		return err
	}
	v, err := h.engine.Replace(c.UserContext(), a, int64(ifMatch), body.Rules, body.Summary)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(v))
	return c.JSON(PolicyJSON{Version: v, Rules: body.Rules})
}

// Versions serves GET /api/v1/policies/versions.
func (h *Handler) Versions(c *fiber.Ctx) error {
	if _, err := h.authorize(c, ActRead); err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	var before int64
	if page.After != "" {
		if before, err = strconv.ParseInt(page.After, 10, 64); err != nil || before <= 0 {
			return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid",
				Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
		}
	}
	cs, err := h.engine.History(c.UserContext(), before, page.Limit+1)
	if err != nil {
		return err
	}
	items := make([]ChangeJSON, len(cs))
	for i, ch := range cs {
		items[i] = ChangeJSON{Version: ch.Version, ChangedBy: ch.ChangedBy, ChangedByEmail: ch.ChangedByEmail,
			ChangedAt: ch.ChangedAt.UTC().Format(time.RFC3339), Summary: ch.Summary, Rules: ch.Rules}
	}
	return c.JSON(httpx.NewList(items, page.Limit, func(ch ChangeJSON) string { return strconv.FormatInt(ch.Version, 10) }))
}
