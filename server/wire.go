package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/services/conferences"
	"attivi/services/consents"
	"attivi/services/employers"
	"attivi/services/notes"
	"attivi/services/pathways"
	"attivi/services/people"
	"attivi/services/referrals"
	"attivi/services/reports"
	"attivi/tenants"
	"attivi/web"
)

// Wiring is what the services are built from: the program (attivi serve)
// and the tests build the same server with it.
type Wiring struct {
	DB                  *sqlx.DB
	Engine              *policies.Engine
	Identity            *tenants.Identity
	Logger              *slog.Logger
	Now                 func() time.Time
	ReferralOverdueDays int
	Ready               []Check
	Documents           *consents.Documents
	// Env is ATTIVI_ENV. The web interface's cookies are Secure (HTTPS
	// only) unless it is "development".
	Env string
}

// Handlers builds every service and its handlers.
func Handlers(w Wiring) Deps {
	tenantStore := tenants.NewStore(w.DB)
	refs := referrals.NewService(w.DB, w.Engine, w.Now, w.ReferralOverdueDays)
	refs.WithPath(statusPath(w.DB, w.Now, refs))
	paths := pathways.NewService(w.DB, w.Engine, w.Now)
	confs := conferences.NewService(w.DB, w.Engine, w.Now, w.Logger)
	persons := people.NewService(w.DB, w.Engine, w.Now, w.Logger)
	cons := consents.NewService(w.DB, w.Engine, w.Now)
	caseNotes := notes.NewService(w.DB, w.Engine, w.Now, w.Logger, confs, nil)
	return Deps{
		Logger:      w.Logger,
		Ready:       w.Ready,
		Tenants:     tenants.NewHandler(tenantStore),
		Auth:        tenants.NewAuthHandler(w.Identity, tenantStore, w.Engine),
		Policies:    policies.NewHandler(w.Engine),
		Persons:     people.NewHandler(persons),
		Consents:    consents.NewHandler(cons),
		Referrals:   referrals.NewHandler(refs, persons.FindByFiscalCode),
		Pathways:    pathways.NewHandler(paths),
		Employers:   employers.NewHandler(employers.NewService(w.DB, w.Engine, paths, w.Now)),
		Notes:       notes.NewHandler(caseNotes),
		Conferences: conferences.NewHandler(confs),
		Documents:   consents.NewDocumentHandler(w.Documents),
		Reports:     reports.NewHandler(reports.NewService(w.DB, w.Engine, w.Now)),
		Idempotency: idempotency(w.DB),
		Metrics:     NewMetrics(w.DB.DB),
		Web: web.New(web.Config{Identity: w.Identity, Persons: persons, Consents: cons, Referrals: refs, Tenants: tenantStore, Notes: caseNotes, Confs: confs,
			Logger: w.Logger, SecureCookies: w.Env != "development", Classify: classify}),
	}
}

// classify lends the server's one error table to the web pages: the
// application error err stands for and its HTTP status.
func classify(c *fiber.Ctx, err error) (*apperr.Error, int) {
	ae := normalize(c, err)
	return ae, statusOf[ae.Code].status
}

// statusPath is where a person stands for the status view: the stage and
// placement the pathways record, or, before the path has started there,
// what the person's referrals say.
func statusPath(db *sqlx.DB, now func() time.Time, refs *referrals.Service) referrals.PathSource {
	return func(ctx context.Context, personID string) (referrals.Path, error) {
		st, found, err := pathways.CurrentStage(ctx, db, personID)
		if err != nil {
			return referrals.Path{}, err
		}
		if !found {
			return refs.ReferralPath(ctx, personID)
		}
		since := st.Since
		p := referrals.Path{Enrolled: true, Stage: st.Stage, StageSince: &since, Active: st.Stage != "closed", Source: "pathways"}
		pl, found, err := pathways.CurrentPlacement(ctx, db, personID, now())
		if err != nil {
			return referrals.Path{}, err
		}
		if found {
			end := pl.PlannedEndOn
			p.Placement = &referrals.Placement{Kind: pl.Kind, StartDate: pl.StartOn, EndDate: &end}
		}
		return p, nil
	}
}
