package referrals

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// LogCategory is what the access log names for a read or write of a
// referral (its reason, note and history are about the person).
const LogCategory = "referrals"

// DefaultOverdueDays is how long a referral may wait for an answer before
// the inboxes flag it overdue, unless configured otherwise.
const DefaultOverdueDays = 7

// PathSource tells where a person stands in the programme for the status
// view. The default derives it from the referrals; the pathways capability
// will give one of its own (WithPath).
type PathSource func(ctx context.Context, personID string) (Path, error)

// Service runs referrals, the status view and the L.68 verifications.
type Service struct {
	db      *sqlx.DB
	engine  *policies.Engine
	now     func() time.Time
	overdue time.Duration
	path    PathSource
}

// NewService returns the referrals service. now is the clock; overdueDays
// is how many days a requested referral waits before it is flagged overdue
// (DefaultOverdueDays when less than 1).
func NewService(db *sqlx.DB, engine *policies.Engine, now func() time.Time, overdueDays int) *Service {
	if overdueDays < 1 {
		overdueDays = DefaultOverdueDays
	}
	s := &Service{db: db, engine: engine, now: now, overdue: time.Duration(overdueDays) * 24 * time.Hour}
	s.path = s.ReferralPath
	return s
}

// WithPath makes the status view use src for the stage of the path.
func (s *Service) WithPath(src PathSource) *Service {
	s.path = src
	return s
}

// ReferralPath is the path as the person's referrals tell it: the status
// view's source until the pathways record a stage.
func (s *Service) ReferralPath(ctx context.Context, personID string) (Path, error) {
	rs, err := statesOf(ctx, s.db, personID)
	if err != nil {
		return Path{}, err
	}
	return pathFromReferrals(rs), nil
}

// log writes access-log entries. A read that cannot be logged is not served.
func (s *Service) log(ctx context.Context, a tenants.Actor, entries ...policies.Entry) error {
	return s.engine.LogAccess(ctx, a, httpx.RequestID(ctx), entries...)
}

// logThen logs entries and returns err, or the logging error.
func (s *Service) logThen(ctx context.Context, a tenants.Actor, err error, entries ...policies.Entry) error {
	if lerr := s.log(ctx, a, entries...); lerr != nil {
		return lerr
	}
	return err
}

func denyEntry(personID, action, reason string, cats ...string) policies.Entry {
	return policies.Entry{PersonID: personID, Action: action, Categories: cats, Reason: reason}
}

// handlesPersons reports whether the actor's roles may read persons' identity
// through some relationship: the staff who deal with referrals. For anyone
// else (a tenant administrator, a privacy officer) referrals do not exist.
func (s *Service) handlesPersons(a tenants.Actor) bool {
	return slices.ContainsFunc(s.engine.ListFilter(a, policies.ActRead).Allow, func(t policies.Triple) bool {
		return t.Category == policies.CatIdentity
	})
}

// sideOf is the actor's side of the referral, or "" when its tenant is
// neither.
func sideOf(a tenants.Actor, r Referral) Party {
	switch a.TenantID {
	case r.FromTenantID:
		return Sender
	case r.ToTenantID:
		return Recipient
	}
	return ""
}

// Created is the result of a creation: the referral and the response that
// was sent for it, which a repeat with the same Idempotency-Key gets again.
type Created struct {
	Referral Referral
	Status   int
	Body     []byte
	Replayed bool
}

const opCreate = "POST /api/v1/referrals"

// requestHash identifies a creation request by its normalized content.
func requestHash(d Draft) []byte {
	b, _ := json.Marshal(d) // a struct of strings: cannot fail
	h := sha256.Sum256(append([]byte(opCreate+"\n"), b...))
	return h[:]
}

func checkKey(key string) error {
	if len(key) > MaxKey {
		return &apperr.Error{Code: apperr.Malformed, Message: "the Idempotency-Key is too long",
			Fields: map[string]string{"Idempotency-Key": fmt.Sprintf("must be at most %d characters", MaxKey)}}
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return &apperr.Error{Code: apperr.Malformed, Message: "the Idempotency-Key is not valid",
				Fields: map[string]string{"Idempotency-Key": "must be printable ASCII without spaces, such as a UUID"}}
		}
	}
	return nil
}

var errOpenExists = errors.New("an open referral exists")

// Create refers a person to another tenant. The actor's tenant must be
// allowed to share every shared category of the person; the recipient gets
// a referral_recipient link scoped to them. With an idempotency key, a
// repeat of the same request returns the first result and creates nothing,
// also when the two race; the same key with another request is refused.
func (s *Service) Create(ctx context.Context, a tenants.Actor, key string, d Draft) (Created, error) {
	if err := checkKey(key); err != nil {
		return Created{}, err
	}
	d, fields := d.Check()
	if err := fields.Err(); err != nil {
		return Created{}, err
	}
	var (
		out      Created
		denied   []policies.Entry
		toTenant string
	)
	hash := requestHash(d)
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if key != "" {
			claimed, err := claimKey(ctx, tx, a.TenantID, key, opCreate, hash, a.UserID)
			if err != nil {
				return err
			}
			if !claimed {
				k, err := keyOf(ctx, tx, a.TenantID, key)
				if err != nil {
					return err
				}
				if k.Operation != opCreate || string(k.Hash) != string(hash) {
					return &apperr.Error{Code: apperr.Invalid,
						Message: "this Idempotency-Key was already used for a different request: send a new key with a new referral",
						Fields:  map[string]string{"Idempotency-Key": "was used before with another body"}}
				}
				out = Created{Status: k.Status, Body: k.Body, Replayed: true}
				return nil
			}
		}
		var found bool
		var err error
		if toTenant, found, err = tenantBySlug(ctx, tx, d.ToTenant); err != nil {
			return err
		}
		switch {
		case !found:
			fields.Add("to_tenant", "%q is not a tenant of the network", d.ToTenant)
		case toTenant == a.TenantID:
			fields.Add("to_tenant", "is your own tenant: refer the person to another one")
		}
		if err := fields.Err(); err != nil {
			return err
		}
		if denied, err = s.mayShare(ctx, tx, a, d); err != nil {
			return err
		}
		id, err := insertReferral(ctx, tx, d, a.TenantID, toTenant, a.UserID)
		if apperr.Is(err, apperr.Conflict) {
			return errOpenExists
		}
		if err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, eventInput{ReferralID: id, Version: 1, TenantID: a.TenantID, UserID: a.UserID, To: StatusRequested}); err != nil {
			return err
		}
		if _, err := policies.AddLink(ctx, tx, policies.LinkInput{PersonID: d.PersonID, TenantID: toTenant, Kind: policies.LinkReferralRecipient,
			Source: "referral:" + id, Scope: d.SharedCategories, CreatedBy: &a.UserID}); err != nil {
			return err
		}
		r, err := s.load(ctx, tx, a, id)
		if err != nil {
			return err
		}
		body, err := json.Marshal(s.toJSON(r))
		if err != nil {
			return err
		}
		out = Created{Referral: r, Status: 201, Body: body}
		if key != "" {
			return saveKeyResponse(ctx, tx, a.TenantID, key, out.Status, body)
		}
		return nil
	})
	if errors.Is(err, errOpenExists) {
		id, st, lerr := openReferral(ctx, s.db, d.PersonID, a.TenantID, toTenant)
		if lerr != nil {
			return Created{}, lerr
		}
		return Created{}, apperr.New(apperr.Conflict, "the person already has an open referral from your tenant to %s (%s, %s): follow that one", d.ToTenant, id, st)
	}
	if err != nil {
		return Created{}, s.logThen(ctx, a, err, denied...)
	}
	if out.Replayed {
		return out, nil
	}
	r := out.Referral
	return out, s.log(ctx, a, policies.Entry{PersonID: r.PersonID, Action: policies.LogWrite, Categories: append([]string{LogCategory}, r.SharedCategories...),
		Allow: true, Reason: fmt.Sprintf("referral %s to %s shares %s", r.ID, r.ToTenant, strings.Join(r.SharedCategories, ", "))})
}

// mayShare checks that the actor's tenant may share every category of the
// draft: 404 when the person is not visible to it, 403 naming what it may
// not share otherwise. It returns the denial to log.
func (s *Service) mayShare(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, d Draft) ([]policies.Entry, error) {
	read, err := s.engine.Access(ctx, q, a, d.PersonID, policies.ActRead, "")
	if err != nil {
		return nil, err
	}
	if !read.Visible() {
		if !read.Facts.Exists {
			return nil, errNoPerson
		}
		return []policies.Entry{denyEntry(d.PersonID, policies.LogWrite, "referral refused: the person is not visible to the tenant", LogCategory)}, errNoPerson
	}
	share := s.engine.Redecide(read, a, policies.ActShare)
	var refused []string
	for _, c := range d.SharedCategories {
		if dec := share.Decisions[c]; !dec.Allow {
			refused = append(refused, fmt.Sprintf("%s (%s)", c, strings.Join(dec.Reasons, "; ")))
		}
	}
	if len(refused) == 0 {
		return nil, nil
	}
	msg := "you may not share " + strings.Join(refused, ", ")
	return []policies.Entry{denyEntry(d.PersonID, policies.LogWrite, "referral refused: "+msg, LogCategory)},
		&apperr.Error{Code: apperr.Forbidden, Message: msg, Fields: map[string]string{"shared_categories": "name only categories your tenant may share"}}
}

var errNoPerson = apperr.New(apperr.NotFound, "there is no person with this id that you may see")

// load reads a referral with its events and what the actor may see of it.
func (s *Service) load(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, id string) (Referral, error) {
	r, err := referralByID(ctx, q, id, false)
	if err != nil {
		return Referral{}, err
	}
	if r.Events, err = eventsOf(ctx, q, id); err != nil {
		return Referral{}, err
	}
	return r, s.decorate(ctx, q, a, &r)
}

// decorate adds the viewer's side, the overdue flag and, when the actor may
// read the person's identity now, their name.
func (s *Service) decorate(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, r *Referral) error {
	r.Side = sideOf(a, *r)
	r.Overdue = overdueAt(r.Status, r.CreatedAt, s.now(), s.overdue)
	acc, err := s.engine.Access(ctx, q, a, r.PersonID, policies.ActRead, "")
	if err != nil {
		return err
	}
	r.Person = nil
	if acc.Decisions[policies.CatIdentity].Allow {
		var n struct {
			Given  string `db:"given_name"`
			Family string `db:"family_name"`
		}
		if err := sqlx.GetContext(ctx, q, &n, `SELECT given_name, family_name FROM persons WHERE id = $1`, r.PersonID); err != nil {
			return postgres.Translate(err)
		}
		r.Person = &PersonName{GivenName: n.Given, FamilyName: n.Family}
	}
	return nil
}

// readEntry is the access-log line of a referral shown to the actor.
func readEntry(r Referral, action string) policies.Entry {
	cats := []string{LogCategory}
	if r.Person != nil {
		cats = append(cats, policies.CatIdentity)
	}
	return policies.Entry{PersonID: r.PersonID, Action: action, Categories: cats, Allow: true, Reason: "referral " + r.ID}
}

// Get reads one referral with its history, for its sender and recipient.
func (s *Service) Get(ctx context.Context, a tenants.Actor, id string) (Referral, error) {
	if !postgres.IsUUID(id) {
		return Referral{}, errNoReferral
	}
	r, err := referralByID(ctx, s.db, id, false)
	if err != nil {
		return Referral{}, err
	}
	if why := s.hidden(a, r); why != "" {
		return Referral{}, s.logThen(ctx, a, errNoReferral, denyEntry(r.PersonID, policies.LogRead, why, LogCategory))
	}
	if r.Events, err = eventsOf(ctx, s.db, id); err != nil {
		return Referral{}, err
	}
	if err := s.decorate(ctx, s.db, a, &r); err != nil {
		return Referral{}, err
	}
	return r, s.log(ctx, a, readEntry(r, policies.LogRead))
}

// hidden says why the referral does not exist for the actor, or "".
func (s *Service) hidden(a tenants.Actor, r Referral) string {
	if sideOf(a, r) == "" {
		return "referral " + r.ID + ": the tenant is neither its sender nor its recipient"
	}
	if !s.handlesPersons(a) {
		return "referral " + r.ID + ": the user's roles do not deal with persons"
	}
	return ""
}

// Transition moves the referral as m asks, if it is still at version
// ifMatch: the status, its event and the links change in one transaction,
// with the referral locked, so that of two concurrent moves from the same
// version exactly one wins and the other is a conflict.
func (s *Service) Transition(ctx context.Context, a tenants.Actor, id string, ifMatch int, m Move) (Referral, error) {
	if !postgres.IsUUID(id) {
		return Referral{}, errNoReferral
	}
	m = Move{To: strings.TrimSpace(m.To), ReasonCode: strings.TrimSpace(m.ReasonCode), Outcome: strings.TrimSpace(m.Outcome), Note: strings.TrimSpace(m.Note)}
	var (
		out    Referral
		from   Status
		denied []policies.Entry
	)
	err := postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		r, err := referralByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if why := s.hidden(a, r); why != "" {
			denied = append(denied, denyEntry(r.PersonID, policies.LogWrite, why, LogCategory))
			return errNoReferral
		}
		if r.Version != ifMatch {
			return apperr.New(apperr.Conflict, "the referral changed after version %d: it is now %s at version %d; reload it and decide again",
				ifMatch, r.Status, r.Version)
		}
		t, err := m.Check(r.Status, sideOf(a, r))
		if err != nil {
			return err
		}
		from = r.Status
		v, err := moveReferral(ctx, tx, id, r.Version, t.To, m.ReasonCode, m.Outcome)
		if err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, eventInput{ReferralID: id, Version: v, TenantID: a.TenantID, UserID: a.UserID, From: &r.Status,
			To: t.To, ReasonCode: m.ReasonCode, Outcome: m.Outcome, Note: m.Note}); err != nil {
			return err
		}
		if err := moveLinks(ctx, tx, r, t.To, a.UserID); err != nil {
			return err
		}
		out, err = s.load(ctx, tx, a, id)
		return err
	})
	if err != nil {
		return Referral{}, s.logThen(ctx, a, err, denied...)
	}
	return out, s.log(ctx, a, policies.Entry{PersonID: out.PersonID, Action: policies.LogWrite, Categories: []string{LogCategory},
		Allow: true, Reason: fmt.Sprintf("referral %s: %s -> %s", out.ID, from, out.Status)})
}

// moveLinks changes the links of the referral for its move to to: the
// recipient's pending link ends when the referral leaves requested, an
// accepted referral gives the recipient a provider link, a closed one ends
// every link it opened.
func moveLinks(ctx context.Context, tx *sqlx.Tx, r Referral, to Status, userID string) error {
	source := "referral:" + r.ID
	if r.Status == StatusRequested {
		if _, err := policies.EndLinks(ctx, tx, r.PersonID, source, policies.LinkReferralRecipient, "referral "+string(to)); err != nil {
			return err
		}
	}
	if to == StatusAccepted {
		if _, err := policies.AddLink(ctx, tx, policies.LinkInput{PersonID: r.PersonID, TenantID: r.ToTenantID, Kind: policies.LinkProvider,
			Source: source, CreatedBy: &userID}); err != nil {
			return err
		}
	}
	if to.Closed() {
		if _, err := policies.EndLinks(ctx, tx, r.PersonID, source, "", "referral "+string(to)); err != nil {
			return err
		}
	}
	return nil
}

// ListParams select a page of an inbox.
type ListParams struct {
	Incoming    bool     // the tenant's incoming referrals; otherwise its outgoing ones
	Statuses    []Status // none: every status
	OverdueOnly bool
	Cursor      string // from a previous page
	Limit       int    // fetch one more than shown, to know there is a next page
}

// Cursor is the position of a referral in an inbox.
func Cursor(r Referral) string { return r.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + r.ID }

// List lists an inbox of the actor's tenant, newest first, with the overdue
// flag; each referral returned is in the access log.
func (s *Service) List(ctx context.Context, a tenants.Actor, p ListParams) ([]Referral, error) {
	lp := listParams{TenantID: a.TenantID, Incoming: p.Incoming, Statuses: p.Statuses, Limit: p.Limit}
	if p.Cursor != "" {
		at, id, ok := strings.Cut(p.Cursor, "|")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || !postgres.IsUUID(id) {
			return nil, &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid",
				Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
		}
		lp.AfterAt, lp.AfterID = &t, id
	}
	if p.OverdueOnly {
		cut := s.now().Add(-s.overdue)
		lp.OverdueAt = &cut
	}
	if !s.handlesPersons(a) {
		return nil, nil
	}
	named, args := s.engine.ListFilter(a, policies.ActRead).SQL(policies.CatIdentity, string(a.TenantKind), "x.person_id", "$1", 2)
	rs, err := listReferrals(ctx, s.db, lp, named, args)
	if err != nil {
		return nil, err
	}
	now := s.now()
	entries := make([]policies.Entry, len(rs))
	for i := range rs {
		rs[i].Side = sideOf(a, rs[i])
		rs[i].Overdue = overdueAt(rs[i].Status, rs[i].CreatedAt, now, s.overdue)
		entries[i] = readEntry(rs[i], policies.LogList)
	}
	return rs, s.log(ctx, a, entries...)
}

// StatusView is the minimal projection of a person (category status).
type StatusView struct {
	PersonID string
	Path
}

// Status answers the status view of a person for a tenant whose decision
// allows reading their status category: the owner, the services that
// follow them, the employment office as status observer.
func (s *Service) Status(ctx context.Context, a tenants.Actor, personID string) (StatusView, error) {
	if !postgres.IsUUID(personID) {
		return StatusView{}, errNoPerson
	}
	acc, err := s.engine.Access(ctx, s.db, a, personID, policies.ActRead, "")
	if err != nil {
		return StatusView{}, err
	}
	if !acc.Visible() {
		if !acc.Facts.Exists {
			return StatusView{}, errNoPerson
		}
		return StatusView{}, s.logThen(ctx, a, errNoPerson, denyEntry(personID, policies.LogRead, "status view: the person is not visible to the tenant", policies.CatStatus))
	}
	if d := acc.Decisions[policies.CatStatus]; !d.Allow {
		why := "you may not read the status of this person: " + strings.Join(d.Reasons, "; ")
		return StatusView{}, s.logThen(ctx, a, apperr.New(apperr.Forbidden, "%s", why), denyEntry(personID, policies.LogRead, why, policies.CatStatus))
	}
	p, err := s.path(ctx, personID)
	if err != nil {
		return StatusView{}, err
	}
	return StatusView{PersonID: personID, Path: p}, s.log(ctx, a, policies.Entry{PersonID: personID, Action: policies.LogRead,
		Categories: []string{policies.CatStatus}, Allow: true, Reason: "status view"})
}

// RecordL68Check records an L.68 verification of the person: for a tenant
// whose decision allows writing the person's disability data.
func (s *Service) RecordL68Check(ctx context.Context, a tenants.Actor, personID string, in L68Input) (L68Check, error) {
	if !postgres.IsUUID(personID) {
		return L68Check{}, errNoPerson
	}
	acc, err := s.engine.Access(ctx, s.db, a, personID, policies.ActWrite, "")
	if err != nil {
		return L68Check{}, err
	}
	if !acc.Facts.Exists {
		return L68Check{}, errNoPerson
	}
	if d := acc.Decisions[policies.CatDisability]; !d.Allow {
		if read := s.engine.Redecide(acc, a, policies.ActRead); !read.Visible() {
			return L68Check{}, s.logThen(ctx, a, errNoPerson, denyEntry(personID, policies.LogWrite, "L.68 check: the person is not visible to the tenant", policies.CatDisability))
		}
		why := "you may not record L.68 verifications of this person: " + strings.Join(d.Reasons, "; ")
		return L68Check{}, s.logThen(ctx, a, apperr.New(apperr.Forbidden, "%s", why), denyEntry(personID, policies.LogWrite, why, policies.CatDisability))
	}
	c, fields := in.Check(policies.Today(s.now()))
	if err := fields.Err(); err != nil {
		return L68Check{}, err
	}
	var out L68Check
	err = postgres.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		out, err = insertL68(ctx, tx, personID, a.TenantID, a.UserID, c)
		return err
	})
	if err != nil {
		return L68Check{}, err
	}
	return out, s.log(ctx, a, policies.Entry{PersonID: personID, Action: policies.LogWrite, Categories: []string{policies.CatDisability},
		Allow: true, Reason: "L.68 check " + out.ID})
}

// L68List is a page of a person's L.68 verifications for one tenant.
type L68List struct {
	Items []L68Check
	// Withheld is "disability" when the tenant may not read the person's
	// disability data: it sees only the checks it recorded itself.
	Withheld []string
}

// L68Cursor is the position of a check in the list.
func L68Cursor(c L68Check) string { return c.CheckedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID }

// L68Checks lists the person's verifications, newest first: all of them for
// a tenant that may read the person's disability data, only its own to
// another tenant that may see the person.
func (s *Service) L68Checks(ctx context.Context, a tenants.Actor, personID, cursor string, limit int) (L68List, error) {
	if !postgres.IsUUID(personID) {
		return L68List{}, errNoPerson
	}
	var afterAt *time.Time
	var afterID string
	if cursor != "" {
		at, id, ok := strings.Cut(cursor, "|")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || !postgres.IsUUID(id) {
			return L68List{}, &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid",
				Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
		}
		afterAt, afterID = &t, id
	}
	acc, err := s.engine.Access(ctx, s.db, a, personID, policies.ActRead, "")
	if err != nil {
		return L68List{}, err
	}
	if !acc.Visible() {
		if !acc.Facts.Exists {
			return L68List{}, errNoPerson
		}
		return L68List{}, s.logThen(ctx, a, errNoPerson, denyEntry(personID, policies.LogRead, "L.68 checks: the person is not visible to the tenant", policies.CatDisability))
	}
	var out L68List
	only := ""
	if !acc.Decisions[policies.CatDisability].Allow {
		only, out.Withheld = a.TenantID, []string{policies.CatDisability}
	}
	if out.Items, err = listL68(ctx, s.db, personID, only, afterAt, afterID, limit); err != nil {
		return L68List{}, err
	}
	e := policies.Entry{PersonID: personID, Action: policies.LogRead, Categories: []string{policies.CatDisability}, Allow: true,
		Reason: fmt.Sprintf("L.68 checks: %d shown", len(out.Items))}
	if only != "" {
		e.Reason += ", only those the tenant recorded (disability data withheld: " + strings.Join(acc.Decisions[policies.CatDisability].Reasons, "; ") + ")"
	}
	return out, s.log(ctx, a, e)
}
