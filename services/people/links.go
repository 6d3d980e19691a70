package people

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// requireOwnerShare checks that the actor's tenant owns the person's record
// and may share it: only the owner forms the care team. Not visible: 404.
func (s *Service) requireOwnerShare(ctx context.Context, a tenants.Actor, personID string) error {
	read, err := s.engine.Access(ctx, s.db, a, personID, policies.ActRead, "")
	if err != nil {
		return err
	}
	if !read.Visible() {
		return errNotFound
	}
	acc := s.engine.Redecide(read, a, policies.ActShare)
	isOwner := false
	for _, l := range acc.Facts.Links {
		isOwner = isOwner || l == policies.LinkOwner
	}
	if !isOwner || !acc.Decisions[policies.CatIdentity].Allow {
		return apperr.New(apperr.Forbidden, "only the tenant that owns the record (presa in carico) may change its care team")
	}
	return nil
}

// AddCareTeam links another tenant to the person as care team, until the
// given time (nil: until ended).
func (s *Service) AddCareTeam(ctx context.Context, a tenants.Actor, requestID, personID, tenantSlug string, until *time.Time) (policies.Link, error) {
	if err := s.requireOwnerShare(ctx, a, personID); err != nil {
		return policies.Link{}, err
	}
	var tenantID string
	if err := s.db.GetContext(ctx, &tenantID, `SELECT id FROM tenants WHERE slug = $1`, tenantSlug); err != nil {
		if apperr.Is(postgres.Translate(err), apperr.NotFound) {
			return policies.Link{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"tenant": "is not a tenant of the network"}}
		}
		return policies.Link{}, postgres.Translate(err)
	}
	if tenantID == a.TenantID {
		return policies.Link{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"tenant": "is your own tenant, which already owns the record"}}
	}
	if until != nil && !until.After(s.now()) {
		return policies.Link{}, &apperr.Error{Code: apperr.Invalid, Message: "some fields are not valid", Fields: map[string]string{"valid_until": "must be in the future"}}
	}
	var id string
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		id, err = policies.AddLink(ctx, tx, policies.LinkInput{PersonID: personID, TenantID: tenantID, Kind: policies.LinkCareTeam,
			Source: "manual", ValidUntil: until, CreatedBy: &a.UserID})
		return err
	})
	if err != nil {
		return policies.Link{}, err
	}
	links, err := policies.ActiveLinks(ctx, s.db, personID)
	if err != nil {
		return policies.Link{}, err
	}
	for _, l := range links {
		if l.ID == id {
			return l, nil
		}
	}
	return policies.Link{}, apperr.New(apperr.Internal, "the new link is not active")
}

// EndCareTeam ends a care-team link the owner made.
func (s *Service) EndCareTeam(ctx context.Context, a tenants.Actor, personID, linkID, reason string) error {
	if err := s.requireOwnerShare(ctx, a, personID); err != nil {
		return err
	}
	links, err := policies.ActiveLinks(ctx, s.db, personID)
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.ID == linkID && l.Kind == policies.LinkCareTeam && l.Source == "manual" {
			return postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
				return policies.EndLink(ctx, tx, personID, linkID, reason)
			})
		}
	}
	return apperr.New(apperr.NotFound, "there is no open care-team link with this id")
}

// Links lists the person's active links, for a tenant that may see them.
func (s *Service) Links(ctx context.Context, a tenants.Actor, personID string) ([]policies.Link, error) {
	acc, err := s.engine.Access(ctx, s.db, a, personID, policies.ActRead, "")
	if err != nil {
		return nil, err
	}
	if !acc.Visible() {
		return nil, errNotFound
	}
	return policies.ActiveLinks(ctx, s.db, personID)
}

// requireAudit checks that the actor may read the person's access log and
// the explanation of their access (the owner's staff, the privacy officer).
func (s *Service) requireAudit(ctx context.Context, a tenants.Actor, requestID, personID string) error {
	d, f, err := s.engine.DecideObject(ctx, s.db, a, personID, policies.CatAudit, policies.ActRead)
	if err != nil {
		return err
	}
	if !f.Exists {
		return errNotFound
	}
	if !d.Allow {
		if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogExplain, Reason: "audit not allowed"}); err != nil {
			return err
		}
		read, err := s.engine.Access(ctx, s.db, a, personID, policies.ActRead, "")
		if err != nil {
			return err
		}
		if !read.Visible() {
			return errNotFound
		}
		return apperr.New(apperr.Forbidden, "who accessed this person's data is for the owner of the record and the privacy officer")
	}
	return s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogExplain, Categories: []string{policies.CatAudit}, Allow: true})
}

// Explain says, for every tenant and category, what the tenant may do with
// the person's data and why.
func (s *Service) Explain(ctx context.Context, a tenants.Actor, requestID, personID string) ([]policies.TenantExplanation, error) {
	if err := s.requireAudit(ctx, a, requestID, personID); err != nil {
		return nil, err
	}
	return s.engine.Explain(ctx, s.db, personID)
}

// AccessLog answers "who accessed my data": the log of the person, newest
// first.
func (s *Service) AccessLog(ctx context.Context, a tenants.Actor, requestID, personID string, before int64, limit int) ([]policies.LogLine, error) {
	if err := s.requireAudit(ctx, a, requestID, personID); err != nil {
		return nil, err
	}
	return policies.PersonLog(ctx, s.db, personID, before, limit)
}
