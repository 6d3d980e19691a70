package server

import "github.com/gofiber/fiber/v2"

// routes lists the whole API on one screen.
func routes(app *fiber.App, d Deps) {
	app.Get("/healthz", healthz)
	app.Get("/readyz", readyz(d.Ready, d.Logger))

	v1 := app.Group("/api/v1")
	v1.Get("/tenants", d.Tenants.List)
	v1.Get("/tenants/:slug", d.Tenants.Get)
}
