package people

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// Service registers, finds, reads and changes persons.
type Service struct {
	db     *sqlx.DB
	stmts  *postgres.Statements // the hot reads: a person by id, the list
	engine *policies.Engine
	now    func() time.Time
	log    *slog.Logger
}

// NewService returns the persons service.
func NewService(db *sqlx.DB, engine *policies.Engine, now func() time.Time, log *slog.Logger) *Service {
	return &Service{db: db, stmts: postgres.NewStatements(db), engine: engine, now: now, log: log}
}

// View is a person as one tenant may see them: the record, and which
// categories it may read (the rest are withheld).
type View struct {
	Person   Person
	Readable []string
	Withheld []string
	Links    []string // the acting tenant's links to the person
}

// Has reports whether the view includes category c.
func (v View) Has(c string) bool { return slices.Contains(v.Readable, c) }

// logAccess writes access-log entries; a failure to log is an error of the
// request, since an unlogged read must not happen.
func (s *Service) logAccess(ctx context.Context, a tenants.Actor, requestID string, entries ...policies.Entry) error {
	return s.engine.LogAccess(ctx, a, requestID, entries...)
}

// Register records a new person with the acting tenant as owner. A fiscal
// code already in the network is a conflict that names only the tenant to
// ask, nothing else about the person.
func (s *Service) Register(ctx context.Context, a tenants.Actor, requestID string, in Input) (View, error) {
	owner := s.engine.Decide(policies.Request{Actor: a, Category: policies.CatIdentity, Action: policies.ActWrite,
		Person: &policies.Facts{Links: []string{policies.LinkOwner}}})
	if !owner.Allow {
		return View{}, apperr.New(apperr.Forbidden, "your roles in %s may not register persons", a.TenantSlug)
	}
	now := s.now()
	fields, birth, fc := validate(in, true, now)
	if err := s.checkResidenceField(ctx, in, fields, now); err != nil {
		return View{}, err
	}
	if fc != nil && birth != nil && fields["sex"] == "" {
		for k, v := range fc.Consistent(*birth, *in.Sex) {
			fields.Add(k, "%s", v)
		}
	}
	if err := fields.Err(); err != nil {
		return View{}, err
	}
	if err := s.refuseKnown(ctx, fc.Code); err != nil {
		return View{}, err
	}
	p := Person{FiscalCode: fc.Code, GivenName: normalizeName(*in.GivenName), FamilyName: normalizeName(*in.FamilyName),
		BirthDate: *birth, Sex: *in.Sex, ResidenceISTAT: strings.TrimSpace(*in.ResidenceISTAT), TargetGroup: *in.TargetGroup,
		Phone: trimmed(in.Phone), Email: trimmed(in.Email), Address: trimmed(in.Address)}
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		id, err := insertPerson(ctx, tx, p, a.TenantID)
		if err != nil {
			return err
		}
		p.ID = id
		if _, err = policies.AddLink(ctx, tx, policies.LinkInput{PersonID: id, TenantID: a.TenantID, Kind: policies.LinkOwner,
			Source: "registration", CreatedBy: &a.UserID}); err != nil {
			return err
		}
		// The network rules' status_observer links (the employment office for L.68 participants).
		return s.engine.SyncObservers(ctx, tx, id, p.TargetGroup)
	})
	if apperr.Is(err, apperr.Conflict) { // registered by someone else in the meantime
		if err := s.refuseKnown(ctx, fc.Code); err != nil {
			return View{}, err
		}
	}
	if err != nil {
		return View{}, err
	}
	if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: p.ID, Action: policies.LogWrite,
		Categories: []string{policies.CatIdentity, policies.CatContact, targetGroupCategory(p.TargetGroup)}, Allow: true, Reason: "registration"}); err != nil {
		return View{}, err
	}
	return s.view(ctx, a, p.ID, "")
}

// checkResidenceField adds a problem for a residence code that is not valid
// today (unknown, or of a municipality that has ceased).
func (s *Service) checkResidenceField(ctx context.Context, in Input, fields apperr.Fields, now time.Time) error {
	if in.ResidenceISTAT == nil || fields["residence_istat"] != "" {
		return nil
	}
	problem, err := checkResidence(ctx, s.db, strings.TrimSpace(*in.ResidenceISTAT), now)
	if err == nil && problem != "" {
		fields.Add("residence_istat", "%s", problem)
	}
	return err
}

func (s *Service) refuseKnown(ctx context.Context, code string) error {
	name, slug, found, err := holderOf(ctx, s.db, code)
	if err != nil || !found {
		return err
	}
	return &apperr.Error{Code: apperr.Conflict,
		Message: fmt.Sprintf("this person is already registered in the network: ask %s (%s)", name, slug),
		Fields:  map[string]string{"fiscal_code": "is already registered", "holder": slug}}
}

func trimmed(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

// view reads a person as the actor may see them, without logging.
func (s *Service) view(ctx context.Context, a tenants.Actor, id, purpose string) (View, error) {
	acc, err := s.engine.Access(ctx, s.db, a, id, policies.ActRead, purpose)
	if err != nil {
		return View{}, err
	}
	if !acc.Visible() {
		return View{}, errNotFound
	}
	p, err := personByID(ctx, s.stmts, s.db, id)
	if err != nil {
		return View{}, err
	}
	return View{Person: p, Readable: acc.Allowed(), Withheld: acc.Withheld(), Links: acc.Facts.Links}, nil
}

// Get reads a person for the actor: the categories it may read, the others
// withheld. A person the tenant may not see at all is not found. The read
// (or its refusal) is in the access log.
func (s *Service) Get(ctx context.Context, a tenants.Actor, requestID, id, purpose string) (View, error) {
	v, err := s.view(ctx, a, id, purpose)
	if apperr.Is(err, apperr.NotFound) {
		if postgres.IsUUID(id) {
			if lerr := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: existingOrEmpty(ctx, s.db, id), Action: policies.LogRead,
				Purpose: purpose, Reason: "no category of the person may be read"}); lerr != nil {
				return View{}, lerr
			}
		}
		return View{}, err
	}
	if err != nil {
		return View{}, err
	}
	if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: id, Action: policies.LogRead, Categories: v.Readable,
		Purpose: purpose, Allow: true}); err != nil {
		return View{}, err
	}
	return v, nil
}

// FindByFiscalCode returns the id of the person a fiscal code names, when
// the actor's tenant may see something of them. It serves the employment
// office, which knows the codes of the persons on its L.68 lists and may
// read their status but not their identity: the answer is an id, nothing
// the office did not bring. A person the tenant may not see is not found,
// as for an id, and the refusal is logged; a code that is not a fiscal code
// is a bad request naming what is wrong with it.
func (s *Service) FindByFiscalCode(ctx context.Context, a tenants.Actor, requestID, code string) (string, error) {
	fc, err := ParseFiscalCode(code, s.now())
	if err != nil {
		return "", &apperr.Error{Code: apperr.Malformed, Message: "the fiscal code is not valid",
			Fields: map[string]string{"fiscal_code": err.Error()}}
	}
	var id string
	if err := sqlx.GetContext(ctx, s.db, &id, `SELECT id FROM persons WHERE fiscal_code = $1`, fc.Code); err != nil {
		if apperr.Is(postgres.Translate(err), apperr.NotFound) {
			return "", errNotFound
		}
		return "", postgres.Translate(fmt.Errorf("find by fiscal code: %w", err))
	}
	acc, err := s.engine.Access(ctx, s.db, a, id, policies.ActRead, "")
	if err != nil {
		return "", err
	}
	if !acc.Visible() {
		if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: id, Action: policies.LogRead,
			Reason: "lookup by fiscal code: no category of the person may be read"}); err != nil {
			return "", err
		}
		return "", errNotFound
	}
	return id, nil
}

// existingOrEmpty returns id when such a person exists (a denial about a
// real person goes in their log), or "" for an id that matches nobody.
func existingOrEmpty(ctx context.Context, q sqlx.QueryerContext, id string) string {
	var ok bool
	if err := sqlx.GetContext(ctx, q, &ok, `SELECT EXISTS (SELECT 1 FROM persons WHERE id = $1)`, id); err != nil || !ok {
		return ""
	}
	return id
}

// Update changes the fields given in in, if the record is still at version.
// Each changed field needs the write permission on its category.
func (s *Service) Update(ctx context.Context, a tenants.Actor, requestID, id string, version int, in Input) (View, error) {
	read, err := s.engine.Access(ctx, s.db, a, id, policies.ActRead, "")
	if err != nil {
		return View{}, err
	}
	if !read.Visible() {
		return View{}, errNotFound
	}
	write := s.engine.Redecide(read, a, policies.ActWrite)
	now := s.now()
	fields, birth, fc := validate(in, false, now)
	if err := s.checkResidenceField(ctx, in, fields, now); err != nil {
		return View{}, err
	}
	if err := fields.Err(); err != nil {
		return View{}, err
	}
	cur, err := personByID(ctx, s.stmts, s.db, id)
	if err != nil {
		return View{}, err
	}
	next := cur
	changed := map[string]bool{}
	set := func(field string, dst *string, v *string, norm func(string) string) {
		if v != nil && norm(*v) != *dst {
			*dst = norm(*v)
			changed[fieldCategory[field]] = true
		}
	}
	if fc != nil && fc.Code != cur.FiscalCode {
		next.FiscalCode = fc.Code
		changed[policies.CatIdentity] = true
	}
	set("given_name", &next.GivenName, in.GivenName, normalizeName)
	set("family_name", &next.FamilyName, in.FamilyName, normalizeName)
	set("sex", &next.Sex, in.Sex, strings.TrimSpace)
	set("residence_istat", &next.ResidenceISTAT, in.ResidenceISTAT, strings.TrimSpace)
	set("phone", &next.Phone, in.Phone, strings.TrimSpace)
	set("email", &next.Email, in.Email, strings.TrimSpace)
	set("address", &next.Address, in.Address, strings.TrimSpace)
	if birth != nil && !birth.Equal(cur.BirthDate) {
		next.BirthDate = *birth
		changed[policies.CatIdentity] = true
	}
	if in.TargetGroup != nil && *in.TargetGroup != cur.TargetGroup {
		next.TargetGroup = *in.TargetGroup
		changed[targetGroupCategory(cur.TargetGroup)] = true
		changed[targetGroupCategory(next.TargetGroup)] = true
	}
	if changed[policies.CatIdentity] {
		code, err := ParseFiscalCode(next.FiscalCode, now)
		if err == nil {
			for k, v := range code.Consistent(next.BirthDate, next.Sex) {
				fields.Add(k, "%s", v)
			}
		}
		if err := fields.Err(); err != nil {
			return View{}, err
		}
	}
	var cats []string
	for _, c := range policies.PersonCategories {
		if !changed[c] {
			continue
		}
		if !write.Decisions[c].Allow {
			return View{}, apperr.New(apperr.Forbidden, "you may not change the %s data of this person: %s", c, strings.Join(write.Decisions[c].Reasons, "; "))
		}
		cats = append(cats, c)
	}
	if len(cats) > 0 {
		if next.FiscalCode != cur.FiscalCode {
			if err := s.refuseKnown(ctx, next.FiscalCode); err != nil {
				return View{}, err
			}
		}
		err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
			if _, err := updatePerson(ctx, tx, next, version); err != nil || next.TargetGroup == cur.TargetGroup {
				return err
			}
			return s.engine.SyncObservers(ctx, tx, id, next.TargetGroup)
		})
		if err != nil {
			return View{}, err
		}
		if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: id, Action: policies.LogWrite, Categories: cats, Allow: true}); err != nil {
			return View{}, err
		}
	} else if cur.Version != version {
		return View{}, apperr.New(apperr.Conflict, "the record was changed by someone else after version %d: reload it and apply your change again", version)
	}
	return s.view(ctx, a, id, "")
}

// Search lists a page of the persons whose identity the actor may read,
// matching the query (a name, or the start of a fiscal code), in name order,
// and says whether more follow. Each person shown is written to the access
// log (the look-ahead row that tells about a next page is not shown, so not
// logged).
func (s *Service) Search(ctx context.Context, a tenants.Actor, requestID string, p SearchParams) ([]Summary, bool, error) {
	f := s.engine.ListFilter(a, policies.ActRead)
	out, err := search(ctx, s.stmts, s.db, a.TenantID, string(a.TenantKind), f, p)
	if err != nil {
		return nil, false, err
	}
	more := len(out) > p.Limit
	if more {
		out = out[:p.Limit]
	}
	entries := make([]policies.Entry, len(out))
	for i, sm := range out {
		entries[i] = policies.Entry{PersonID: sm.ID, Action: policies.LogList, Categories: []string{policies.CatIdentity}, Allow: true}
	}
	if err := s.logAccess(ctx, a, requestID, entries...); err != nil {
		return nil, false, err
	}
	return out, more, nil
}
