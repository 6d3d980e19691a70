package server

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDocument is the API described in OpenAPI 3.1 (DESIGN section 8),
// for the partners' developers. openapi_test.go keeps it true: its paths
// must be exactly the API routes of routes.go.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI answers GET /api/openapi.json. It describes the API and holds no
// data, so it needs no login.
func openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDocument)
}
