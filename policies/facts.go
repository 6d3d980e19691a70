package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // Europe/Rome wherever the binary runs

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// The relationship links and consent grants are the facts of the access
// model. Services change them only through these functions, inside their own
// transactions (DESIGN section 5).

// LinkInput is a new relationship link.
type LinkInput struct {
	PersonID   string
	TenantID   string
	Kind       string
	Source     string   // registration, manual, referral:<id>, conference:<id>, network_rule
	Scope      []string // categories the link opens; nil: all that the policy gives
	ValidUntil *time.Time
	CreatedBy  *string
}

// AddLink records a link; an identical open link (same person, tenant, kind
// and source) is kept as it is. It returns the link's id.
func AddLink(ctx context.Context, tx sqlx.ExtContext, l LinkInput) (string, error) {
	if !slices.Contains(Links, l.Kind) {
		return "", apperr.New(apperr.Invalid, "unknown link kind %q", l.Kind)
	}
	var scope any
	if l.Scope != nil {
		scope = pq.Array(l.Scope)
	}
	const q = `
WITH ins AS (
	INSERT INTO person_links (person_id, tenant_id, kind, source, scope, valid_until, created_by)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (person_id, tenant_id, kind, source) WHERE ended_at IS NULL DO NOTHING
	RETURNING id
)
SELECT id FROM ins
UNION ALL
SELECT id FROM person_links WHERE person_id = $1 AND tenant_id = $2 AND kind = $3 AND source = $4 AND ended_at IS NULL
LIMIT 1`
	var id string
	if err := sqlx.GetContext(ctx, tx, &id, q, l.PersonID, l.TenantID, l.Kind, l.Source, scope, l.ValidUntil, l.CreatedBy); err != nil {
		return "", postgres.Translate(fmt.Errorf("add link: %w", err))
	}
	return id, nil
}

// EndLinks ends the open links of a source (all kinds when kind is "").
func EndLinks(ctx context.Context, tx sqlx.ExtContext, personID, source, kind, reason string) (int64, error) {
	const q = `
UPDATE person_links SET ended_at = now(), end_reason = $4
WHERE person_id = $1 AND source = $2 AND ($3 = '' OR kind = $3) AND ended_at IS NULL`
	res, err := tx.ExecContext(ctx, q, personID, source, kind, reason)
	if err != nil {
		return 0, postgres.Translate(fmt.Errorf("end links: %w", err))
	}
	return res.RowsAffected()
}

// EndLink ends one link by id, if it is open and belongs to the person.
func EndLink(ctx context.Context, tx sqlx.ExtContext, personID, linkID, reason string) error {
	res, err := tx.ExecContext(ctx, `UPDATE person_links SET ended_at = now(), end_reason = $3 WHERE id = $2 AND person_id = $1 AND ended_at IS NULL`,
		personID, linkID, reason)
	if err != nil {
		return postgres.Translate(fmt.Errorf("end link: %w", err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.NotFound, "there is no open link with this id")
	}
	return nil
}

// Link is an open relationship link.
type Link struct {
	ID         string     `db:"id" json:"id"`
	Tenant     string     `db:"tenant" json:"tenant"`
	Kind       string     `db:"kind" json:"kind"`
	Source     string     `db:"source" json:"source"`
	Scope      []string   `db:"-" json:"scope,omitempty"`
	ValidFrom  time.Time  `db:"valid_from" json:"valid_from"`
	ValidUntil *time.Time `db:"valid_until" json:"valid_until,omitempty"`
}

// ActiveLinks lists a person's active links, for the owner and explanations.
func ActiveLinks(ctx context.Context, q sqlx.QueryerContext, personID string) ([]Link, error) {
	const stmt = `
SELECT l.id, t.slug AS tenant, l.kind, l.source, l.scope, l.valid_from, l.valid_until
FROM person_links l JOIN tenants t ON t.id = l.tenant_id
WHERE l.person_id = $1 AND ` + activeLink + `
ORDER BY t.slug, l.kind, l.valid_from`
	rows, err := q.QueryxContext(ctx, stmt, personID)
	if err != nil {
		return nil, postgres.Translate(fmt.Errorf("links: %w", err))
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		var l Link
		var scope pq.StringArray
		if err := rows.Scan(&l.ID, &l.Tenant, &l.Kind, &l.Source, &scope, &l.ValidFrom, &l.ValidUntil); err != nil {
			return nil, postgres.Translate(err)
		}
		l.Scope = scope
		out = append(out, l)
	}
	return out, postgres.Translate(rows.Err())
}

// activeLink is the SQL condition of an active link l.
const activeLink = `l.ended_at IS NULL AND l.valid_from <= now() AND (l.valid_until IS NULL OR l.valid_until > now())`

// TodaySQL is today's date in Italy, the calendar consents are dated in
// (the database itself runs in UTC).
const TodaySQL = `(now() AT TIME ZONE 'Europe/Rome')::date`

// ActiveGrantSQL is the SQL condition of an active consent grant g.
const ActiveGrantSQL = `g.revoked_at IS NULL AND g.valid_from <= ` + TodaySQL + ` AND (g.valid_until IS NULL OR g.valid_until >= ` + TodaySQL + `)`

const activeGrant = ActiveGrantSQL

// rome is the time zone of the network's calendar.
var rome = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic("time zone Europe/Rome: " + err.Error())
	}
	return loc
}()

// Today is the day of t in Italy, at midnight UTC: the day TodaySQL names.
func Today(t time.Time) time.Time {
	t = t.In(rome)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// GrantInput are the grants of one consent: one row per grantee.
type GrantInput struct {
	ConsentID        string
	PersonID         string
	GranteeTenantIDs []string
	GranteeKinds     []string
	Purpose          string
	Categories       []string
	ValidFrom        time.Time
	ValidUntil       *time.Time
}

// AddGrants records the grants of a consent.
func AddGrants(ctx context.Context, tx sqlx.ExtContext, g GrantInput) error {
	const q = `
INSERT INTO consent_grants (consent_id, person_id, grantee_tenant_id, grantee_kind, purpose, categories, valid_from, valid_until)
SELECT $1::uuid, $2::uuid, t, NULL, $4::text, $5::text[], $6::date, $7::date FROM unnest($3::uuid[]) AS t
UNION ALL
SELECT $1::uuid, $2::uuid, NULL, k, $4::text, $5::text[], $6::date, $7::date FROM unnest($8::text[]) AS k`
	_, err := tx.ExecContext(ctx, q, g.ConsentID, g.PersonID, pq.Array(g.GranteeTenantIDs), g.Purpose, pq.Array(g.Categories),
		g.ValidFrom, g.ValidUntil, pq.Array(g.GranteeKinds))
	return postgres.Translate(err)
}

// RevokeGrants ends every grant of a consent: the very next decision, on
// any instance, no longer sees them (nothing about grants is cached).
func RevokeGrants(ctx context.Context, tx sqlx.ExtContext, consentID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE consent_grants SET revoked_at = now() WHERE consent_id = $1 AND revoked_at IS NULL`, consentID)
	return postgres.Translate(err)
}

// PurposeConference is the purpose of the consents a conference link needs:
// a tenant that sees a person because it takes part in a case conference
// about them reads what the person consented to share for case
// conferences, not what they consented to for another purpose.
const PurposeConference = "case_conference"

// PersonFacts are the facts of one tenant about one person.
type PersonFacts struct {
	Exists  bool
	Links   []string            // active link kinds
	Scopes  map[string][]string // kind -> categories, for links that open fewer than all
	Granted []string            // categories granted by active consents (for the purpose asked, if any)
	// GrantedConference are the categories granted by active consents for
	// PurposeConference (none when another purpose was asked): the only
	// ones a conference link counts with.
	GrantedConference []string
}

// LinksFor are the link kinds that count for category c: a scoped link
// counts only for the categories of its scope.
func (f PersonFacts) LinksFor(c string) []string {
	var out []string
	for _, k := range f.Links {
		if scope, limited := f.Scopes[k]; limited && !slices.Contains(scope, c) {
			continue
		}
		out = append(out, k)
	}
	return out
}

type factsRow struct {
	Exists            bool           `db:"exists"`
	Links             []byte         `db:"links"`
	Granted           pq.StringArray `db:"granted"`
	GrantedConference pq.StringArray `db:"granted_conference"`
}

// factsSQL reads, in one query, whether the person exists, the acting
// tenant's active links to them (with their scopes) and the categories their
// active consents grant the tenant (by slug or by kind) for the purpose (any
// purpose when $4 is ”), and those granted for case conferences.
const factsSQL = `
SELECT
	EXISTS (SELECT 1 FROM persons WHERE id = $1) AS exists,
	coalesce((SELECT json_agg(json_build_object('kind', l.kind, 'scope', l.scope))
		FROM person_links l WHERE l.person_id = $1 AND l.tenant_id = $2 AND ` + activeLink + `), '[]') AS links,
	coalesce((SELECT array_agg(DISTINCT c ORDER BY c)
		FROM consent_grants g, unnest(g.categories) AS c
		WHERE g.person_id = $1 AND (g.grantee_tenant_id = $2 OR g.grantee_kind = $3)
		  AND ($4 = '' OR g.purpose = $4) AND ` + activeGrant + `), '{}') AS granted,
	coalesce((SELECT array_agg(DISTINCT c ORDER BY c)
		FROM consent_grants g, unnest(g.categories) AS c
		WHERE g.person_id = $1 AND (g.grantee_tenant_id = $2 OR g.grantee_kind = $3)
		  AND g.purpose = '` + PurposeConference + `' AND $4 IN ('', '` + PurposeConference + `') AND ` + activeGrant + `), '{}') AS granted_conference`

// ReadFacts reads the facts of the acting tenant about a person.
func ReadFacts(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, personID, purpose string) (PersonFacts, error) {
	return readFacts(ctx, nil, q, a, personID, purpose)
}

// readFacts reads the facts through st, prepared when q is st's pool (st
// may be nil: an ordinary query).
func readFacts(ctx context.Context, st *postgres.Statements, q sqlx.QueryerContext, a tenants.Actor, personID, purpose string) (PersonFacts, error) {
	if !postgres.IsUUID(personID) {
		return PersonFacts{}, nil
	}
	var r factsRow
	if err := st.Get(ctx, q, &r, factsSQL, personID, a.TenantID, string(a.TenantKind), purpose); err != nil {
		return PersonFacts{}, postgres.Translate(fmt.Errorf("access facts: %w", err))
	}
	return decodeFacts(r.Exists, r.Links, r.Granted, r.GrantedConference)
}

func decodeFacts(exists bool, links []byte, granted, grantedConference []string) (PersonFacts, error) {
	f := PersonFacts{Exists: exists, Granted: granted, GrantedConference: grantedConference}
	var ls []struct {
		Kind  string   `json:"kind"`
		Scope []string `json:"scope"`
	}
	if err := jsonUnmarshal(links, &ls); err != nil {
		return f, err
	}
	for _, l := range ls {
		unscoped := l.Scope == nil
		if !slices.Contains(f.Links, l.Kind) {
			f.Links = append(f.Links, l.Kind)
		} else if _, limited := f.Scopes[l.Kind]; !limited {
			continue // an unscoped link of this kind already opens everything
		}
		if unscoped {
			delete(f.Scopes, l.Kind)
			continue
		}
		if f.Scopes == nil {
			f.Scopes = map[string][]string{}
		}
		f.Scopes[l.Kind] = append(f.Scopes[l.Kind], l.Scope...)
	}
	slices.Sort(f.Links)
	return f, nil
}

// PersonAccess is what the acting tenant may do with one person's data for
// one action: a decision per category, from one facts query.
type PersonAccess struct {
	Facts     PersonFacts
	Decisions map[string]Decision
}

// Allowed lists the categories the action is allowed on, in DESIGN order.
func (p PersonAccess) Allowed() []string {
	var out []string
	for _, c := range PersonCategories {
		if p.Decisions[c].Allow {
			out = append(out, c)
		}
	}
	return out
}

// Withheld lists the categories the action is not allowed on.
func (p PersonAccess) Withheld() []string {
	var out []string
	for _, c := range PersonCategories {
		if !p.Decisions[c].Allow {
			out = append(out, c)
		}
	}
	return out
}

// Visible says whether the person exists for the actor at all: some
// category is allowed. A person who is not visible is a 404, never a 403.
func (p PersonAccess) Visible() bool { return p.Facts.Exists && len(p.Allowed()) > 0 }

// Access decides every category of a person for the actor doing action.
// It is the function services call before they read or write a person's
// data: one SQL query for the facts, then the cached Casbin decisions.
func (e *Engine) Access(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, personID, action, purpose string) (PersonAccess, error) {
	f, err := readFacts(ctx, e.stmts, q, a, personID, purpose)
	if err != nil {
		return PersonAccess{}, err
	}
	return e.decideAll(a, f, action), nil
}

// Redecide decides another action on the facts an Access already read, so
// a request that needs two answers (read and write, read and share) costs
// one facts query.
func (e *Engine) Redecide(p PersonAccess, a tenants.Actor, action string) PersonAccess {
	return e.decideAll(a, p.Facts, action)
}

func (e *Engine) decideAll(a tenants.Actor, f PersonFacts, action string) PersonAccess {
	p := PersonAccess{Facts: f, Decisions: make(map[string]Decision, len(PersonCategories))}
	for _, c := range PersonCategories {
		if !f.Exists {
			p.Decisions[c] = Decision{Missing: "relationship", Reasons: []string{"there is no such person"}}
			continue
		}
		p.Decisions[c] = e.decideCategory(a, f, c, action)
	}
	return p
}

// decideCategory decides one category of a person from the facts: the
// Casbin decision on the links that count for the category and the granted
// categories, with one rule about purpose that a flat list of grants cannot
// state. A conference link counts with the consents given for case
// conferences only (PurposeConference):
//
//	allow = Decide(L, G) and (Decide(L without conference, G) or Decide(L, Gc))
//
// The first term carries the denials (a deny never depends on consent);
// the second says that some allowing way holds with the consent its link
// needs. ListFilter.SQL states the same for lists.
func (e *Engine) decideCategory(a tenants.Actor, f PersonFacts, c, action string) Decision {
	links := f.LinksFor(c)
	decide := func(links, granted []string) Decision {
		return e.Decide(Request{Actor: a, Category: c, Action: action, Person: &Facts{Links: links, Granted: granted}})
	}
	d := decide(links, f.Granted)
	if !d.Allow || !slices.Contains(links, LinkConference) {
		return d
	}
	without := slices.DeleteFunc(slices.Clone(links), func(k string) bool { return k == LinkConference })
	if decide(without, f.Granted).Allow {
		return d
	}
	if dc := decide(links, f.GrantedConference); dc.Allow {
		return dc
	}
	return Decision{Missing: "consent", Reasons: []string{fmt.Sprintf(
		"tenant %s has the link conference, but no active consent of the person for the purpose %s grants %s data to it",
		a.TenantSlug, PurposeConference, c)}}
}

// DecideObject decides a non-category object about one person (its access
// log: CatAudit) with the person's facts.
func (e *Engine) DecideObject(ctx context.Context, q sqlx.QueryerContext, a tenants.Actor, personID, object, action string) (Decision, PersonFacts, error) {
	f, err := readFacts(ctx, e.stmts, q, a, personID, "")
	if err != nil || !f.Exists {
		return Decision{Missing: "relationship"}, f, err
	}
	return e.Decide(Request{Actor: a, Category: object, Action: action, Person: &Facts{Links: f.Links, Granted: f.Granted}}), f, nil
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
