package notes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/apperr"
	"attivi/policies"
	"attivi/storage/postgres"
)

// PurposeConference is the only purpose whose consents count through a
// conference link.
const PurposeConference = policies.PurposeConference

// The same conditions as policies' active link and grant.
const (
	linkActive  = `l.ended_at IS NULL AND l.valid_from <= now() AND (l.valid_until IS NULL OR l.valid_until > now())`
	grantActive = policies.ActiveGrantSQL
)

// sqlArgs collects the positional arguments of a statement built from
// fragments.
type sqlArgs struct{ args []any }

func (s *sqlArgs) add(v any) string {
	s.args = append(s.args, v)
	return fmt.Sprintf("$%d", len(s.args))
}

// lazy is an argument added on first use: PostgreSQL refuses a parameter the
// statement does not use (it cannot infer its type).
type lazy struct {
	b  *sqlArgs
	v  any
	ph string
}

func (l *lazy) String() string {
	if l.ph == "" {
		l.ph = l.b.add(l.v)
	}
	return l.ph
}

// visibility turns the Casbin part of the decision (the ListFilter, computed
// once per request) into SQL conditions for the acting tenant: the rule of
// ListFilter.Allows, except that a consent counts through a conference link
// only when its purpose is case_conference. It is the SQL twin of
// Service.access; a randomized test holds them equal.
type visibility struct {
	f      policies.ListFilter
	tenant string // placeholder of the tenant id
	kind   *lazy  // the tenant kind
	b      *sqlArgs
}

// cond is the condition that the tenant may read category cat of the person
// whose id is the SQL expression pe.
func (v visibility) cond(cat, pe string) string {
	var anyNoConsent, anyConsent, confConsent bool
	var kinds, consentKinds, denyKinds []string
	for _, t := range v.f.Allow {
		if t.Category != cat {
			continue
		}
		switch {
		case t.Relationship == policies.Any && !t.Consent:
			anyNoConsent = true
		case t.Relationship == policies.Any:
			anyConsent = true
		case !t.Consent:
			kinds = append(kinds, t.Relationship)
		case t.Relationship == policies.LinkConference:
			confConsent = true
		default:
			consentKinds = append(consentKinds, t.Relationship)
		}
	}
	for _, t := range v.f.Deny {
		if t.Category == cat {
			denyKinds = append(denyKinds, t.Relationship)
		}
	}
	var c string // the category's placeholder, added when used
	catArg := func() string {
		if c == "" {
			c = v.b.add(cat)
		}
		return c
	}
	link := func(ks []string) string {
		c := catArg()
		return `EXISTS (SELECT 1 FROM person_links l WHERE l.person_id = ` + pe + ` AND l.tenant_id = ` + v.tenant + ` AND ` + linkActive +
			` AND l.kind = ANY(` + v.b.add(pq.Array(ks)) + `) AND (l.scope IS NULL OR ` + c + ` = ANY(l.scope)))`
	}
	granted := func(purpose string) string {
		c := catArg()
		s := `EXISTS (SELECT 1 FROM consent_grants g WHERE g.person_id = ` + pe + ` AND (g.grantee_tenant_id = ` + v.tenant +
			` OR g.grantee_kind = ` + v.kind.String() + `) AND ` + grantActive + ` AND ` + c + ` = ANY(g.categories)`
		if purpose != "" {
			s += ` AND g.purpose = ` + v.b.add(purpose)
		}
		return s + `)`
	}
	var ways []string
	if anyNoConsent {
		ways = append(ways, "TRUE")
	} else {
		if len(kinds) > 0 {
			ways = append(ways, link(kinds))
		}
		if anyConsent {
			ways = append(ways, granted(""))
		} else if len(consentKinds) > 0 {
			ways = append(ways, "("+link(consentKinds)+" AND "+granted("")+")")
		}
		if confConsent && !anyConsent {
			ways = append(ways, "("+link([]string{policies.LinkConference})+" AND "+granted(PurposeConference)+")")
		}
	}
	if len(ways) == 0 {
		return "FALSE"
	}
	cond := "(" + strings.Join(ways, " OR ") + ")"
	if len(denyKinds) > 0 {
		cond = "(" + cond + " AND NOT " + link(denyKinds) + ")"
	}
	return cond
}

// open reports whether the filter lets the tenant read cat of any person
// without a link or consent (a '*' relationship that needs no consent).
func open(f policies.ListFilter, cat string) bool {
	return slices.ContainsFunc(f.Allow, func(t policies.Triple) bool {
		return t.Category == cat && t.Relationship == policies.Any && !t.Consent
	})
}

// anyConsent reports whether some category is readable with a consent and no
// link: then persons with a grant but no link are candidates too.
func anyConsent(f policies.ListFilter) bool {
	return slices.ContainsFunc(f.Allow, func(t policies.Triple) bool { return t.Relationship == policies.Any && t.Consent })
}

// aggCond is cond over the per-person aggregates of sharedBranch: pl.k<i>
// (the kinds of the tenant's links that count for the category), pg.g<i>
// (a consent of any purpose grants it) and pg.c<i> (a case_conference
// consent grants it).
func (v visibility) aggCond(cat string, i int) string {
	var anyNoConsent, anyConsent, confConsent bool
	var kinds, consentKinds, denyKinds []string
	for _, t := range v.f.Allow {
		if t.Category != cat {
			continue
		}
		switch {
		case t.Relationship == policies.Any && !t.Consent:
			anyNoConsent = true
		case t.Relationship == policies.Any:
			anyConsent = true
		case !t.Consent:
			kinds = append(kinds, t.Relationship)
		case t.Relationship == policies.LinkConference:
			confConsent = true
		default:
			consentKinds = append(consentKinds, t.Relationship)
		}
	}
	for _, t := range v.f.Deny {
		if t.Category == cat {
			denyKinds = append(denyKinds, t.Relationship)
		}
	}
	link := func(ks []string) string {
		return fmt.Sprintf("coalesce(pl.k%d && %s::text[], false)", i, v.b.add(pq.Array(ks)))
	}
	granted := fmt.Sprintf("coalesce(pg.g%d, false)", i)
	grantedConf := fmt.Sprintf("coalesce(pg.c%d, false)", i)
	var ways []string
	if anyNoConsent {
		ways = append(ways, "TRUE")
	} else {
		if len(kinds) > 0 {
			ways = append(ways, link(kinds))
		}
		if anyConsent {
			ways = append(ways, granted)
		} else if len(consentKinds) > 0 {
			ways = append(ways, "("+link(consentKinds)+" AND "+granted+")")
		}
		if confConsent && !anyConsent {
			ways = append(ways, "("+link([]string{policies.LinkConference})+" AND "+grantedConf+")")
		}
	}
	if len(ways) == 0 {
		return "FALSE"
	}
	cond := "(" + strings.Join(ways, " OR ") + ")"
	if len(denyKinds) > 0 {
		cond = "(" + cond + " AND NOT " + link(denyKinds) + ")"
	}
	return cond
}

// sharedBranch selects the notes of other tenants that the tenant may read
// in the categories cats. It aggregates, once per candidate person, the
// tenant's links (pl) and the consents granted to it (pg), decides which
// categories of each person it may read (vis), then reads each person's
// notes newest first through notes_person_idx, at most limit each.
//
// Candidates: the one person asked for, or the persons the tenant has an
// active link to, and, when a rule needs a consent but no link, the persons
// whose consent names it.
func (v visibility) sharedBranch(cats []string, personID string, walk bool, and func(...string) string, order, limit string) string {
	var kAggs, gAggs, cases []string
	for i, c := range cats {
		ph := v.b.add(c)
		kAggs = append(kAggs, fmt.Sprintf("array_agg(l.kind) FILTER (WHERE l.scope IS NULL OR %s = ANY(l.scope)) AS k%d", ph, i))
		gAggs = append(gAggs, fmt.Sprintf("bool_or(%s = ANY(g.categories)) AS g%d, bool_or(g.purpose = %s AND %s = ANY(g.categories)) AS c%d",
			ph, i, v.b.add(PurposeConference), ph, i))
		cases = append(cases, `CASE WHEN `+v.aggCond(c, i)+` THEN `+ph+`::text END`)
	}
	grantee := `(g.grantee_tenant_id = ` + v.tenant + ` OR g.grantee_kind = ` + v.kind.String() + `) AND ` + grantActive
	// from joins the candidates to their aggregates, without self-joins, so
	// that the planner's estimate of vis stays close to the candidates.
	var plWhere, pgWhere, from string
	pid := `pl.person_id`
	switch {
	case personID != "":
		ph := v.b.add(personID)
		plWhere = ` AND l.person_id = ` + ph + `::uuid`
		pgWhere = ` AND g.person_id = ` + ph + `::uuid`
		pid = `c.person_id`
		from = `(SELECT ` + ph + `::uuid AS person_id) c LEFT JOIN pl ON pl.person_id = c.person_id LEFT JOIN pg ON pg.person_id = c.person_id`
	case anyConsent(v.f):
		pid = `coalesce(pl.person_id, pg.person_id)`
		from = `pl FULL JOIN pg ON pg.person_id = pl.person_id`
	default:
		// the grants naming the tenant or its kind (by the grantee indexes);
		// those of persons without a link are dropped by the join
		from = `pl LEFT JOIN pg ON pg.person_id = pl.person_id`
	}
	return `(WITH pl AS MATERIALIZED (
		SELECT l.person_id, ` + strings.Join(kAggs, ", ") + `
		FROM person_links l WHERE l.tenant_id = ` + v.tenant + ` AND ` + linkActive + plWhere + `
		GROUP BY l.person_id
	), pg AS MATERIALIZED (
		SELECT g.person_id, ` + strings.Join(gAggs, ", ") + `
		FROM consent_grants g WHERE ` + grantee + pgWhere + `
		GROUP BY g.person_id
	), vis AS MATERIALIZED (
		SELECT ` + pid + ` AS person_id, array_remove(ARRAY[` + strings.Join(cases, ", ") + `], NULL) AS cats
		FROM ` + from + `
	)
	` + v.sharedNotes(cats, walk, and, order, limit) + `)`
}

// sharedNotes reads the notes of the persons in vis: per person through
// notes_person_idx, or (walk) all notes newest first through
// notes_created_idx (or the text index, as the planner sees fit) joined to
// vis.
func (v visibility) sharedNotes(cats []string, walk bool, and func(...string) string, order, limit string) string {
	if walk {
		// The IN is wrapped in IS TRUE so that the planner keeps it as a
		// hashed subplan (a filter) instead of turning it into a join, whose
		// output has no order: the walk stops after limit rows.
		// One IN per category, on the person id alone: small enough for the
		// planner to hash.
		ins := make([]string, len(cats))
		for i, c := range cats {
			ph := v.b.add(c)
			ins[i] = `(n.category = ` + ph + ` AND n.person_id IN (SELECT person_id FROM vis WHERE ` + ph + ` = ANY(cats)))`
		}
		return `SELECT ` + noteColumns + ` FROM notes n
	WHERE ` + and(`(`+strings.Join(ins, " OR ")+`) IS TRUE`, `n.author_tenant_id <> `+v.tenant, `NOT n.sensitive`) + `
	` + order + ` LIMIT ` + limit
	}
	return `SELECT n.* FROM vis CROSS JOIN LATERAL (
		SELECT ` + noteColumns + ` FROM notes n
		WHERE ` + and(`n.person_id = vis.person_id`, `n.category = ANY(vis.cats)`, `n.author_tenant_id <> `+v.tenant, `NOT n.sensitive`) + `
		` + order + ` LIMIT ` + limit + `
	) n
	WHERE cardinality(vis.cats) > 0
	ORDER BY n.created_at DESC, n.id DESC LIMIT ` + limit
}

// ListParams select a page of notes.
type ListParams struct {
	TenantID   string
	TenantKind string
	Filter     policies.ListFilter // of the read action
	PersonID   string              // "": every person (network-wide search)
	Query      string              // websearch_to_tsquery('italian', ...)
	Category   string
	After      *Cursor
	Limit      int

	// walk reads the shared notes by walking all notes newest first and
	// keeping those of readable persons, instead of reading each candidate
	// person's notes (listNotes decides: see walkFrom).
	walk bool
}

// walkFrom is the number of candidate persons from which walking the notes
// newest first beats reading each candidate's notes: with ~10 notes a
// person, a tenant linked to more persons than this finds a page of notes
// it may read within the first few thousand notes.
const walkFrom = 300

type noteRow struct {
	ID             string     `db:"id"`
	PersonID       string     `db:"person_id"`
	AuthorTenantID string     `db:"author_tenant_id"`
	AuthorTenant   string     `db:"author_tenant"`
	AuthorUserID   string     `db:"author_user_id"`
	Category       string     `db:"category"`
	Body           string     `db:"body"`
	Sensitive      bool       `db:"sensitive"`
	ReferralID     *string    `db:"referral_id"`
	ConferenceID   *string    `db:"conference_id"`
	AmendsID       *string    `db:"amends_id"`
	ErrorAt        *time.Time `db:"entered_in_error_at"`
	ErrorBy        *string    `db:"entered_in_error_by"`
	ErrorReason    string     `db:"entered_in_error_reason"`
	CreatedAt      time.Time  `db:"created_at"`
}

func (r noteRow) note() Note {
	n := Note{ID: r.ID, PersonID: r.PersonID, AuthorTenantID: r.AuthorTenantID, AuthorTenant: r.AuthorTenant,
		AuthorUserID: r.AuthorUserID, Category: r.Category, Body: r.Body, Sensitive: r.Sensitive,
		ReferralID: r.ReferralID, ConferenceID: r.ConferenceID, AmendsID: r.AmendsID, CreatedAt: r.CreatedAt}
	if r.ErrorAt != nil {
		m := ErrorMark{At: *r.ErrorAt, Reason: r.ErrorReason}
		if r.ErrorBy != nil {
			m.UserID = *r.ErrorBy
		}
		n.EnteredInError = &m
	}
	return n
}

const noteColumns = `n.id, n.person_id, n.author_tenant_id, n.author_user_id, n.category, n.body, n.sensitive,
	n.referral_id, n.conference_id, n.amends_id, n.entered_in_error_at, n.entered_in_error_by, n.entered_in_error_reason, n.created_at`

// listSQL builds the list query: the union of
//
//	own    notes the tenant wrote, in the categories its roles may read;
//	shared notes of the candidate persons (those the tenant has a link to,
//	       or a grant from when a category needs no link), not riservata, in
//	       the categories the decision allows for each person (computed once
//	       per person, not per note);
//	open   notes of categories the policy opens to the tenant for every
//	       person (none in the default policy), network-wide only;
//
// each newest first and limited, merged and limited again.
func listSQL(p ListParams) (string, []any) {
	b := &sqlArgs{}
	tenant, kind := b.add(p.TenantID), &lazy{b: b, v: p.TenantKind}
	v := visibility{f: p.Filter, tenant: tenant, kind: kind, b: b}
	roleCats := p.Filter.Categories()
	if p.Category != "" {
		roleCats = slices.DeleteFunc(roleCats, func(c string) bool { return c != p.Category })
	}
	limit := b.add(p.Limit)
	var extra []string
	if p.PersonID != "" {
		extra = append(extra, `n.person_id = `+b.add(p.PersonID)+`::uuid`)
	}
	if p.Query != "" {
		extra = append(extra, `n.body_tsv @@ websearch_to_tsquery('italian', `+b.add(p.Query)+`)`)
	}
	if p.After != nil {
		extra = append(extra, `(n.created_at, n.id) < (`+b.add(p.After.At)+`::timestamptz, `+b.add(p.After.ID)+`::uuid)`)
	}
	and := func(conds ...string) string { return strings.Join(append(conds, extra...), "\n\t\tAND ") }
	const order = `ORDER BY n.created_at DESC, n.id DESC`

	var branches []string
	if len(roleCats) == 0 {
		return "", nil // the roles may read no category: nothing to list
	}
	branches = append(branches, `(SELECT `+noteColumns+` FROM notes n
	WHERE `+and(`n.author_tenant_id = `+tenant, `n.category = ANY(`+b.add(pq.Array(roleCats))+`)`)+`
	`+order+` LIMIT `+limit+`)`)

	var linked, opened []string
	for _, c := range roleCats {
		if p.PersonID == "" && open(p.Filter, c) {
			opened = append(opened, c)
		} else {
			linked = append(linked, c)
		}
	}
	if len(linked) > 0 {
		branches = append(branches, v.sharedBranch(linked, p.PersonID, p.walk && p.PersonID == "", and, order, limit))
	}
	for _, c := range opened {
		branches = append(branches, `(SELECT `+noteColumns+` FROM notes n
	WHERE `+and(`n.category = `+b.add(c), `n.author_tenant_id <> `+tenant, `NOT n.sensitive`, v.cond(c, "n.person_id"))+`
	`+order+` LIMIT `+limit+`)`)
	}
	stmt := `SELECT x.*, t.slug AS author_tenant FROM (
	` + strings.Join(branches, "\n\tUNION ALL\n\t") + `
) x JOIN tenants t ON t.id = x.author_tenant_id
ORDER BY x.created_at DESC, x.id DESC
LIMIT ` + limit
	return stmt, b.args
}

func listNotes(ctx context.Context, q sqlx.QueryerContext, p ListParams) ([]Note, error) {
	if p.PersonID == "" {
		var linked int
		err := sqlx.GetContext(ctx, q, &linked, `SELECT count(*) FROM (SELECT DISTINCT l.person_id FROM person_links l
	WHERE l.tenant_id = $1 AND l.ended_at IS NULL LIMIT `+fmt.Sprint(walkFrom)+`) x`, p.TenantID)
		if err != nil {
			return nil, postgres.Translate(fmt.Errorf("list notes: %w", err))
		}
		p.walk = linked >= walkFrom
	}
	return queryNotes(ctx, q, p)
}

func queryNotes(ctx context.Context, q sqlx.QueryerContext, p ListParams) ([]Note, error) {
	stmt, args := listSQL(p)
	if stmt == "" {
		return nil, nil
	}
	var rows []noteRow
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, args...); err != nil {
		return nil, postgres.Translate(fmt.Errorf("list notes: %w", err))
	}
	out := make([]Note, len(rows))
	for i, r := range rows {
		out[i] = r.note()
	}
	return out, nil
}

// withAmendments fills AmendedBy: the amendments of a note have its
// person, category, sensitivity and author, so whoever reads it reads them.
func withAmendments(ctx context.Context, q sqlx.QueryerContext, ns []Note) error {
	if len(ns) == 0 {
		return nil
	}
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	var rows []struct {
		Of string `db:"amends_id"`
		ID string `db:"id"`
	}
	const stmt = `SELECT amends_id, id FROM notes WHERE amends_id = ANY($1::uuid[]) ORDER BY created_at, id`
	if err := sqlx.SelectContext(ctx, q, &rows, stmt, pq.Array(ids)); err != nil {
		return postgres.Translate(fmt.Errorf("amendments: %w", err))
	}
	by := map[string][]string{}
	for _, r := range rows {
		by[r.Of] = append(by[r.Of], r.ID)
	}
	for i := range ns {
		ns[i].AmendedBy = by[ns[i].ID]
		if ns[i].AmendedBy == nil {
			ns[i].AmendedBy = []string{}
		}
	}
	return nil
}

var errNoNote = apperr.New(apperr.NotFound, "there is no note with this id that you may see")

func noteByID(ctx context.Context, q sqlx.QueryerContext, personID, id string, forUpdate bool) (Note, error) {
	if !isUUID(id) || !isUUID(personID) {
		return Note{}, errNoNote
	}
	stmt := `SELECT ` + noteColumns + `, t.slug AS author_tenant FROM notes n JOIN tenants t ON t.id = n.author_tenant_id
WHERE n.id = $1 AND n.person_id = $2`
	if forUpdate {
		stmt += ` FOR UPDATE OF n`
	}
	var r noteRow
	if err := sqlx.GetContext(ctx, q, &r, stmt, id, personID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Note{}, errNoNote
		}
		return Note{}, postgres.Translate(fmt.Errorf("note: %w", err))
	}
	return r.note(), nil
}

type newNote struct {
	PersonID, TenantID, UserID string
	Draft
	AmendsID *string
}

func insertNote(ctx context.Context, q sqlx.QueryerContext, n newNote) (string, error) {
	const stmt = `
INSERT INTO notes (person_id, author_tenant_id, author_user_id, category, body, sensitive, referral_id, conference_id, amends_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id`
	var id string
	err := sqlx.GetContext(ctx, q, &id, stmt, n.PersonID, n.TenantID, n.UserID, n.Category, n.Body, n.Sensitive,
		n.ReferralID, n.ConferenceID, n.AmendsID)
	return id, postgres.Translate(err)
}

func markError(ctx context.Context, tx *sqlx.Tx, id, userID, reason string) error {
	res, err := tx.ExecContext(ctx, `UPDATE notes SET entered_in_error_at = now(), entered_in_error_by = $2, entered_in_error_reason = $3
WHERE id = $1 AND entered_in_error_at IS NULL`, id, userID, reason)
	if err != nil {
		return postgres.Translate(fmt.Errorf("mark note: %w", err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.New(apperr.Conflict, "the note is already marked entered in error")
	}
	return nil
}

// authoredAbout reports whether the tenant wrote a note about the person: a
// record is always readable by the tenant that wrote it, so the person's
// notes exist for it even without a link.
func authoredAbout(ctx context.Context, q sqlx.QueryerContext, tenantID, personID string) (bool, error) {
	var ok bool
	err := sqlx.GetContext(ctx, q, &ok, `SELECT EXISTS (SELECT 1 FROM notes WHERE person_id = $1 AND author_tenant_id = $2)`, personID, tenantID)
	return ok, postgres.Translate(err)
}
