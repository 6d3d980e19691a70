package notes

import (
	"context"
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

// Conferences answers whether a conference in which the tenant takes part
// (as organizer or invited) discusses the person with it. The conferences
// service implements it.
type Conferences interface {
	Discusses(ctx context.Context, tenantID, conferenceID, personID string) (bool, error)
}

// Referrals answers whether a referral sent or received by the tenant
// concerns the person. Until the referrals service implements it, a
// referral id is checked for its form only (nil).
type Referrals interface {
	Concerns(ctx context.Context, tenantID, referralID, personID string) (bool, error)
}

// Service writes and reads case notes.
type Service struct {
	db          *sqlx.DB
	engine      *policies.Engine
	now         func() time.Time
	log         *slog.Logger
	conferences Conferences // nil: conference_id is refused
	referrals   Referrals   // nil: referral_id is checked for its form only
}

// NewService returns the notes service.
func NewService(db *sqlx.DB, engine *policies.Engine, now func() time.Time, log *slog.Logger, conferences Conferences, referrals Referrals) *Service {
	return &Service{db: db, engine: engine, now: now, log: log, conferences: conferences, referrals: referrals}
}

var errNoPerson = apperr.New(apperr.NotFound, "there is no person with this id that you may see")

// Access is what the acting tenant may do, for one action, with the notes
// of one person: per category, the decision of the access model.
type Access struct {
	Exists  bool
	Allowed map[string]bool
	Reasons map[string][]string
}

// Visible says whether the person exists for the actor: some category may
// be read.
func (a Access) Visible() bool {
	if !a.Exists {
		return false
	}
	for _, ok := range a.Allowed {
		if ok {
			return true
		}
	}
	return false
}

// Decide decides every category of the person for the actor doing action:
// the engine's decision (Engine.Access), in which a conference link counts
// with case-conference consents only. It is the reference the SQL of note
// lists is tested against, and what the conferences service uses for the
// decisions in minutes.
func Decide(ctx context.Context, q sqlx.QueryerContext, engine *policies.Engine, a tenants.Actor, personID, action string) (Access, error) {
	out := Access{Allowed: map[string]bool{}, Reasons: map[string][]string{}}
	acc, err := engine.Access(ctx, q, a, personID, action, "")
	if err != nil {
		return out, err
	}
	out.Exists = acc.Facts.Exists
	if !out.Exists {
		return out, nil
	}
	for c, d := range acc.Decisions {
		out.Allowed[c], out.Reasons[c] = d.Allow, d.Reasons
	}
	return out, nil
}

func (s *Service) access(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, personID, action string) (Access, error) {
	return Decide(ctx, q, s.engine, a, personID, action)
}

// roleCategories are the categories the actor's roles may do action on in
// some circumstance: what a tenant may do with the notes it wrote.
func (s *Service) roleCategories(a tenants.Actor, action string) []string {
	return s.engine.ListFilter(a, action).Categories()
}

func (s *Service) logAccess(ctx context.Context, a tenants.Actor, requestID string, entries ...policies.Entry) error {
	return s.engine.LogAccess(ctx, a, requestID, entries...)
}

// personExists answers whether the person's notes exist for the actor at
// all: the person is visible, or the tenant wrote notes about them.
func (s *Service) personExists(ctx context.Context, a tenants.Actor, personID string, acc Access) (bool, error) {
	if !acc.Exists {
		return false, nil
	}
	if acc.Visible() {
		return true, nil
	}
	return authoredAbout(ctx, s.db, a.TenantID, personID)
}

// Create writes a note about the person. The actor's tenant must be allowed
// to write the category (its link, the network rules and the consent).
func (s *Service) Create(ctx context.Context, a tenants.Actor, requestID, personID string, d Draft) (Note, error) {
	if !isUUID(personID) {
		return Note{}, errNoPerson
	}
	read, err := s.access(ctx, s.db, a, personID, policies.ActRead)
	if err != nil {
		return Note{}, err
	}
	if ok, err := s.personExists(ctx, a, personID, read); err != nil || !ok {
		if err == nil {
			err = errNoPerson
			if read.Exists {
				if lerr := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogWrite,
					Categories: nonEmpty(d.Category), Reason: "note refused: the person is not visible to the tenant"}); lerr != nil {
					return Note{}, lerr
				}
			}
		}
		return Note{}, err
	}
	fields := d.Check()
	if err := fields.Err(); err != nil {
		return Note{}, err
	}
	write, err := s.access(ctx, s.db, a, personID, policies.ActWrite)
	if err != nil {
		return Note{}, err
	}
	if !write.Allowed[d.Category] {
		if lerr := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogWrite,
			Categories: []string{d.Category}, Reason: "note refused: " + strings.Join(write.Reasons[d.Category], "; ")}); lerr != nil {
			return Note{}, lerr
		}
		return Note{}, apperr.New(apperr.Forbidden, "you may not write %s notes about this person: %s", d.Category, strings.Join(write.Reasons[d.Category], "; "))
	}
	if err := s.checkRefs(ctx, a, personID, d); err != nil {
		return Note{}, err
	}
	id, err := insertNote(ctx, s.db, newNote{PersonID: personID, TenantID: a.TenantID, UserID: a.UserID, Draft: d})
	if err != nil {
		return Note{}, err
	}
	if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogWrite,
		Categories: []string{d.Category}, Allow: true, Reason: "note " + id}); err != nil {
		return Note{}, err
	}
	return s.one(ctx, personID, id)
}

func nonEmpty(c string) []string {
	if c == "" {
		return nil
	}
	return []string{c}
}

// checkRefs checks the conference and referral a note refers to.
func (s *Service) checkRefs(ctx context.Context, a tenants.Actor, personID string, d Draft) error {
	f := apperr.Fields{}
	if d.ConferenceID != nil {
		ok := false
		if s.conferences != nil {
			var err error
			if ok, err = s.conferences.Discusses(ctx, a.TenantID, *d.ConferenceID, personID); err != nil {
				return err
			}
		}
		if !ok {
			f.Add("conference_id", "is not a conference of your tenant that discusses this person")
		}
	}
	if d.ReferralID != nil && s.referrals != nil {
		ok, err := s.referrals.Concerns(ctx, a.TenantID, *d.ReferralID, personID)
		if err != nil {
			return err
		}
		if !ok {
			f.Add("referral_id", "is not a referral of your tenant about this person")
		}
	}
	return f.Err()
}

func (s *Service) one(ctx context.Context, personID, id string) (Note, error) {
	n, err := noteByID(ctx, s.db, personID, id, false)
	if err != nil {
		return Note{}, err
	}
	ns := []Note{n}
	if err := withAmendments(ctx, s.db, ns); err != nil {
		return Note{}, err
	}
	return ns[0], nil
}

// readable is the per-note decision for the actor, with the person's access.
func (s *Service) readable(a tenants.Actor, n Note, acc Access) bool {
	return Readable(n.AuthorTenantID == a.TenantID, n.Sensitive, n.Category, s.roleCategories(a, policies.ActRead), acc.Allowed)
}

// Get reads one note. A note the actor may not read does not exist for it.
func (s *Service) Get(ctx context.Context, a tenants.Actor, requestID, personID, id string) (Note, error) {
	if !isUUID(personID) || !isUUID(id) {
		return Note{}, errNoNote
	}
	acc, err := s.access(ctx, s.db, a, personID, policies.ActRead)
	if err != nil {
		return Note{}, err
	}
	n, err := s.one(ctx, personID, id)
	if apperr.Is(err, apperr.NotFound) {
		return Note{}, errNoNote
	}
	if err != nil {
		return Note{}, err
	}
	if !s.readable(a, n, acc) {
		reason := "note " + id + " not readable: "
		if n.Sensitive {
			reason += "riservata, only for the author tenant"
		} else {
			reason += strings.Join(acc.Reasons[n.Category], "; ")
		}
		if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogRead,
			Categories: []string{n.Category}, Reason: reason}); err != nil {
			return Note{}, err
		}
		return Note{}, errNoNote
	}
	if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogRead,
		Categories: []string{n.Category}, Allow: true, Reason: "note " + id}); err != nil {
		return Note{}, err
	}
	return n, nil
}

// List returns a page of the notes the actor may read, newest first: of one
// person (PersonID set; a person that does not exist for the actor is not
// found) or of every person (the network-wide search). Every person whose
// notes are returned gets one access-log entry.
func (s *Service) List(ctx context.Context, a tenants.Actor, requestID string, p ListParams) ([]Note, error) {
	if p.PersonID != "" {
		if !isUUID(p.PersonID) {
			return nil, errNoPerson
		}
		acc, err := s.access(ctx, s.db, a, p.PersonID, policies.ActRead)
		if err != nil {
			return nil, err
		}
		if ok, err := s.personExists(ctx, a, p.PersonID, acc); err != nil || !ok {
			if err == nil {
				err = errNoPerson
				if acc.Exists {
					if lerr := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: p.PersonID, Action: policies.LogList,
						Reason: "notes refused: the person is not visible to the tenant"}); lerr != nil {
						return nil, lerr
					}
				}
			}
			return nil, err
		}
	}
	p.TenantID, p.TenantKind = a.TenantID, string(a.TenantKind)
	p.Filter = s.engine.ListFilter(a, policies.ActRead)
	ns, err := listNotes(ctx, s.db, p)
	if err != nil {
		return nil, err
	}
	if err := withAmendments(ctx, s.db, ns); err != nil {
		return nil, err
	}
	if err := s.logAccess(ctx, a, requestID, listEntries(ns)...); err != nil {
		return nil, err
	}
	return ns, nil
}

// listEntries makes one access-log entry per person, in the order of first
// appearance, naming the notes returned.
func listEntries(ns []Note) []policies.Entry {
	type acc struct {
		cats []string
		ids  []string
	}
	var order []string
	by := map[string]*acc{}
	for _, n := range ns {
		e, ok := by[n.PersonID]
		if !ok {
			e = &acc{}
			by[n.PersonID] = e
			order = append(order, n.PersonID)
		}
		if !slices.Contains(e.cats, n.Category) {
			e.cats = append(e.cats, n.Category)
		}
		e.ids = append(e.ids, n.ID)
	}
	out := make([]policies.Entry, 0, len(order))
	for _, p := range order {
		e := by[p]
		var cats []string
		for _, c := range policies.PersonCategories {
			if slices.Contains(e.cats, c) {
				cats = append(cats, c)
			}
		}
		out = append(out, policies.Entry{PersonID: p, Action: policies.LogList, Categories: cats, Allow: true,
			Reason: "notes " + strings.Join(e.ids, ",")})
	}
	return out
}

// ownNote loads a note for a correction by the actor's tenant: it must be
// readable, written by the tenant, and the roles must be allowed to write its
// category. A note the actor may not read is not found.
func (s *Service) ownNote(ctx context.Context, a tenants.Actor, personID, id string) (Note, error) {
	if !isUUID(personID) || !isUUID(id) {
		return Note{}, errNoNote
	}
	acc, err := s.access(ctx, s.db, a, personID, policies.ActRead)
	if err != nil {
		return Note{}, err
	}
	n, err := noteByID(ctx, s.db, personID, id, false)
	if err != nil {
		return Note{}, err
	}
	if !s.readable(a, n, acc) {
		return Note{}, errNoNote
	}
	if n.AuthorTenantID != a.TenantID {
		return Note{}, apperr.New(apperr.Forbidden, "only the tenant that wrote a note (%s) may amend it or mark it entered in error", n.AuthorTenant)
	}
	if !slices.Contains(s.roleCategories(a, policies.ActWrite), n.Category) {
		return Note{}, apperr.New(apperr.Forbidden, "your roles in %s may not write %s notes", a.TenantSlug, n.Category)
	}
	return n, nil
}

// Amend writes an amendment of a note: a new note with the original's
// person, category, sensitivity and author tenant, that references it.
func (s *Service) Amend(ctx context.Context, a tenants.Actor, requestID, personID, id, body string) (Note, error) {
	orig, err := s.ownNote(ctx, a, personID, id)
	if err != nil {
		return Note{}, err
	}
	f := apperr.Fields{}
	checkBody(f, "body", body)
	if err := f.Err(); err != nil {
		return Note{}, err
	}
	if orig.EnteredInError != nil {
		return Note{}, apperr.New(apperr.Conflict, "the note was marked entered in error: write a new note instead of amending it")
	}
	var newID string
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if _, err := noteByID(ctx, tx, personID, id, true); err != nil { // waits for a concurrent mark
			return err
		}
		var marked bool
		if err := tx.GetContext(ctx, &marked, `SELECT entered_in_error_at IS NOT NULL FROM notes WHERE id = $1`, id); err != nil {
			return postgres.Translate(err)
		}
		if marked {
			return apperr.New(apperr.Conflict, "the note was marked entered in error: write a new note instead of amending it")
		}
		newID, err = insertNote(ctx, tx, newNote{PersonID: personID, TenantID: a.TenantID, UserID: a.UserID, AmendsID: &orig.ID,
			Draft: Draft{Category: orig.Category, Body: body, Sensitive: orig.Sensitive, ReferralID: orig.ReferralID, ConferenceID: orig.ConferenceID}})
		return err
	})
	if err != nil {
		return Note{}, err
	}
	if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogWrite,
		Categories: []string{orig.Category}, Allow: true, Reason: "note " + newID + " amends note " + orig.ID}); err != nil {
		return Note{}, err
	}
	return s.one(ctx, personID, newID)
}

// MarkEnteredInError marks a note as written by mistake, with a reason. The
// note stays, with the mark, for whoever may read it.
func (s *Service) MarkEnteredInError(ctx context.Context, a tenants.Actor, requestID, personID, id, reason string) (Note, error) {
	n, err := s.ownNote(ctx, a, personID, id)
	if err != nil {
		return Note{}, err
	}
	if err := CheckReason(reason).Err(); err != nil {
		return Note{}, err
	}
	reason = strings.TrimSpace(reason)
	if err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error { return markError(ctx, tx, id, a.UserID, reason) }); err != nil {
		return Note{}, err
	}
	if err := s.logAccess(ctx, a, requestID, policies.Entry{PersonID: personID, Action: policies.LogWrite,
		Categories: []string{n.Category}, Allow: true, Reason: "note " + id + " marked entered in error"}); err != nil {
		return Note{}, err
	}
	return s.one(ctx, personID, id)
}
