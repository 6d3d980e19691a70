package server

import "github.com/gofiber/fiber/v2"

// routes lists the whole API on one screen, and the web interface after it.
// The middleware chain is recover -> request id -> access log -> context
// (server.New), then authentication -> acting tenant for everything below
// `authed`.
// Authorization is not a route pattern: each service asks the policies
// engine, which sees the data category.
func routes(app *fiber.App, d Deps) {
	app.Get("/healthz", healthz)
	app.Get("/readyz", readyz(d.Ready, d.Logger))
	app.Get("/metrics", d.Metrics.Handler()) // counts and durations by route pattern: no personal data
	app.Get("/api/openapi.json", openAPI)    // this API in OpenAPI 3.1 (server/openapi.json): no data, no login

	v1 := app.Group("/api/v1")
	v1.Post("/auth/login", d.Auth.Login)
	v1.Get("/tenants", d.Tenants.List) // the directory holds no personal data
	v1.Get("/tenants/:slug", d.Tenants.Get)

	// The calendar feed is for calendar programs: its secret URL is the credential.
	v1.Get("/calendar/:secret.ics", d.Conferences.Feed)

	// Every POST below takes an optional Idempotency-Key (server/idempotency.go).
	authed := v1.Group("", d.Auth.Authenticate, d.Auth.ActingTenant, d.Idempotency)
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
	authed.Put("/consents/:id/document", d.Documents.Upload).Name(StreamBody)
	authed.Get("/consents/:id/document", d.Documents.Download)
	authed.Get("/consents/:id/form.pdf", d.Documents.Form)

	authed.Post("/referrals", d.Referrals.Create)
	authed.Get("/referrals", d.Referrals.List)
	authed.Get("/referrals/:id", d.Referrals.Get)
	authed.Post("/referrals/:id/transitions", d.Referrals.Transition)
	authed.Get("/persons/:id/status", d.Referrals.Status)
	authed.Get("/status", d.Referrals.StatusByFiscalCode) // ?fiscal_code=: the employment office's check
	authed.Get("/persons/:id/l68-checks", d.Referrals.L68Checks)
	authed.Post("/persons/:id/l68-checks", d.Referrals.RecordL68Check)

	p := d.Pathways
	authed.Get("/persons/:id/stage", p.GetStage)
	authed.Post("/persons/:id/stage", p.ChangeStage)
	authed.Get("/persons/:id/assessments", p.ListAssessments)
	authed.Post("/persons/:id/assessments", p.CreateAssessment)
	authed.Get("/persons/:id/assessments/compare", p.CompareAssessments)
	authed.Get("/assessments/:id", p.GetAssessment)
	authed.Get("/persons/:id/plans", p.ListPlans)
	authed.Post("/persons/:id/plans", p.CreatePlan)
	authed.Get("/plans/:id", p.GetPlan)
	authed.Put("/plans/:id", p.UpdatePlan)
	authed.Post("/plans/:id/versions", p.NewPlanVersion)
	authed.Post("/plans/:id/signatures", p.SignPlan)
	authed.Post("/plans/:id/reviews", p.ReviewPlan)
	authed.Get("/persons/:id/activities", p.ListActivities)
	authed.Post("/persons/:id/activities", p.LogActivity)
	authed.Post("/activities", p.LogNetworkActivity)
	authed.Get("/activities/totals", p.ActivityTotals)
	authed.Get("/persons/:id/placements", p.ListPlacements)
	authed.Post("/persons/:id/placements", p.CreatePlacement)
	authed.Get("/placements/:id", p.GetPlacement)
	authed.Post("/placements/:id/extensions", p.ExtendPlacement)
	authed.Post("/placements/:id/end", p.EndPlacement)
	authed.Get("/placements/:id/attendance", p.ListAttendance)
	authed.Put("/placements/:id/attendance/:month", p.RecordAttendance)
	authed.Get("/persons/:id/follow-ups", p.ListFollowUps)
	authed.Post("/persons/:id/follow-ups", p.CreateFollowUp)

	n := d.Notes
	authed.Get("/persons/:id/notes", n.List)
	authed.Post("/persons/:id/notes", n.Create)
	authed.Get("/persons/:id/notes/:note_id", n.Get)
	authed.Post("/persons/:id/notes/:note_id/amendments", n.Amend)
	authed.Post("/persons/:id/notes/:note_id/entered-in-error", n.MarkEnteredInError)
	authed.Get("/notes", n.Search)

	cf := d.Conferences
	authed.Post("/conferences", cf.Create)
	authed.Get("/conferences", cf.List)
	authed.Get("/conferences/:id", cf.Get)
	authed.Patch("/conferences/:id", cf.Reschedule)
	authed.Post("/conferences/:id/invitations/:tenant/answer", cf.Answer)
	authed.Put("/conferences/:id/attendance", cf.Attendance)
	authed.Get("/conferences/:id/minutes", cf.Minutes)
	authed.Put("/conferences/:id/minutes", cf.PutMinutes)
	authed.Post("/conferences/:id/minutes/amendments", cf.AmendMinutes)
	authed.Post("/conferences/:id/close", cf.Close)
	authed.Post("/conferences/:id/cancel", cf.Cancel)
	authed.Get("/conferences/:id/ics", cf.ICS)
	authed.Get("/action-items", cf.ActionItems)
	authed.Patch("/action-items/:id", cf.UpdateItem)
	authed.Post("/me/calendar-secret", cf.NewCalendarSecret)
	authed.Delete("/me/calendar-secret", cf.RevokeCalendarSecret)

	e := d.Employers
	authed.Get("/employers", e.List)
	authed.Post("/employers", e.Create)
	authed.Get("/employers/:id", e.Get)
	authed.Patch("/employers/:id", e.Update)
	authed.Get("/employers/:id/contacts", e.Contacts)
	authed.Post("/employers/:id/contacts", e.AddContact)
	authed.Get("/employers/:id/scouting", e.Scouting)
	authed.Post("/employers/:id/scouting", e.AddScouting)
	authed.Get("/openings", e.Openings)
	authed.Post("/openings", e.CreateOpening)
	authed.Get("/openings/:id", e.Opening)
	authed.Patch("/openings/:id", e.ChangeOpening)
	authed.Get("/openings/:id/matches", e.Matches)

	authed.Get("/reports/indicators", d.Reports.Indicators) // ?from=&to=&format=json|csv|xlsx

	// The staff web interface (package web): Italian pages on the same
	// services, logged in by a session cookie. ui.Pages sets the security
	// headers and answers errors with Italian pages; ui.Session checks the
	// cookie, the CSRF token of every POST and the chosen acting tenant.
	ui := d.Web
	app.Get("/", ui.Pages, ui.Home)
	app.Get("/static/attivi.css", ui.Pages, ui.Stylesheet)
	app.Get("/accesso", ui.Pages, ui.LoginForm)
	app.Post("/accesso", ui.Pages, ui.Login)
	app.Post("/esci", ui.Pages, ui.Logout)
	staff := app.Group("/app", ui.Pages, ui.Session)
	staff.Get("/ente", ui.TenantForm)
	staff.Post("/ente", ui.ChooseTenant)
	acting := staff.Group("", ui.RequireTenant)
	acting.Get("/persone", ui.Persons)
	acting.Get("/persone/nuova", ui.RegisterForm)
	acting.Post("/persone/nuova", ui.Register)
	acting.Get("/persone/:id", ui.Person)
	acting.Get("/persone/:id/consensi/nuovo", ui.ConsentForm)
	acting.Post("/persone/:id/consensi/nuovo", ui.RecordConsent)
	acting.Get("/persone/:id/note", ui.Notes)
	acting.Get("/persone/:id/accessi", ui.AccessLog)
	acting.Post("/persone/:id/note", ui.WriteNote)
	acting.Get("/persone/:id/segnala", ui.ReferForm)
	acting.Post("/persone/:id/segnala", ui.Refer)
	acting.Get("/segnalazioni", ui.Referrals)
	acting.Post("/segnalazioni/:id/stato", ui.Move)
	acting.Get("/stato", ui.Status)
	acting.Get("/riunioni", ui.Conferences)
	acting.Get("/riunioni/:id", ui.Conference)
	acting.Get("/segnalazioni/:id", ui.Referral)
}
