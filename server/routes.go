package server

import "github.com/gofiber/fiber/v2"

// routes lists the whole API on one screen. The middleware chain is
// recover -> request id -> access log -> context (server.New), then
// authentication -> acting tenant for everything below `authed`.
// Authorization is not a route pattern: each service asks the policies
// engine, which sees the data category.
func routes(app *fiber.App, d Deps) {
	app.Get("/healthz", healthz)
	app.Get("/readyz", readyz(d.Ready, d.Logger))

	v1 := app.Group("/api/v1")
	v1.Post("/auth/login", d.Auth.Login)
	v1.Get("/tenants", d.Tenants.List) // the directory holds no personal data
	v1.Get("/tenants/:slug", d.Tenants.Get)

	authed := v1.Group("", d.Auth.Authenticate, d.Auth.ActingTenant)
	authed.Post("/auth/logout", d.Auth.Logout)
	authed.Get("/me", d.Auth.Me)
	authed.Post("/tenants", d.Auth.CreateTenant)
	authed.Get("/tenants/:slug/members", d.Auth.ListMembers)
	authed.Post("/tenants/:slug/members", d.Auth.AddMember)
	authed.Patch("/tenants/:slug/members/:user_id", d.Auth.ChangeMember)
	authed.Get("/policies", d.Policies.Get)
	authed.Put("/policies", d.Policies.Put)
	authed.Get("/policies/versions", d.Policies.Versions)

	authed.Post("/persons", d.Persons.Register)
	authed.Get("/persons", d.Persons.List)
	authed.Get("/persons/:id", d.Persons.Get)
	authed.Patch("/persons/:id", d.Persons.Update)
	authed.Get("/persons/:id/links", d.Persons.Links)
	authed.Post("/persons/:id/links", d.Persons.AddLink)
	authed.Delete("/persons/:id/links/:link_id", d.Persons.EndLink)
	authed.Get("/persons/:id/access", d.Persons.Access)
	authed.Get("/persons/:id/access-log", d.Persons.AccessLog)
	authed.Get("/persons/:id/consents", d.Consents.List)
	authed.Post("/persons/:id/consents", d.Consents.Create)
	authed.Get("/consents/:id", d.Consents.Get)
	authed.Post("/consents/:id/revoke", d.Consents.Revoke)
}
