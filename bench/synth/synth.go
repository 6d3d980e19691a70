// Package synth fills a database with a synthetic network of persons, links
// and consents for benchmarks (attivi seed --synthetic N).
//
// Everything is drawn from a random stream per (seed, index), so the same
// seed gives the same persons (ids included) and a second run with the same
// seed adds nothing: a person whose fiscal code is already registered is
// skipped, with its links and consents. The network's tenants must be seeded
// first; users are not needed (links and consents name no user).
//
// The rows go in with COPY, in one transaction per batch of persons.
package synth

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"attivi/services/people"
	"attivi/tenants"
)

// BatchSize is the number of persons written per transaction.
const BatchSize = 5000

// The window of the synthetic history: persons are registered between these
// days, so that the data do not depend on the day the generator runs.
var (
	historyStart = time.Date(2016, 3, 1, 0, 0, 0, 0, time.UTC)
	historyEnd   = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	birthFirst   = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	birthLast    = time.Date(2005, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Generate adds n synthetic persons with links and consents, reproducibly
// from seed, and reports progress on out.
func Generate(ctx context.Context, db *sqlx.DB, n int, seed uint64, out io.Writer) error {
	if n <= 0 {
		return nil
	}
	start := time.Now()
	net, err := loadNetwork(ctx, db)
	if err != nil {
		return err
	}
	g := &generator{net: net, seed: seed, seen: make(map[string]bool, n), now: time.Now()}
	var total stats
	for from := 0; from < n; from += BatchSize {
		to := min(from+BatchSize, n)
		batch, err := g.batch(from, to)
		if err != nil {
			return err
		}
		st, err := write(ctx, db, batch)
		if err != nil {
			return fmt.Errorf("synthetic: persons %d-%d: %w", from, to-1, err)
		}
		total.add(st)
		if to%20000 == 0 || to == n {
			fmt.Fprintf(out, "synthetic: %d/%d persons\n", to, n)
		}
	}
	if total.persons > 0 {
		// The planner needs statistics of the new rows before the first request.
		if _, err := db.ExecContext(ctx, `ANALYZE persons, person_links, consents, consent_grants`); err != nil {
			return fmt.Errorf("synthetic: analyze: %w", err)
		}
	}
	fmt.Fprintf(out, "synthetic: %d persons added (%d already registered, %d codes unusable), %d links, %d consents (%d revoked), %d consent grants in %s\n",
		total.persons, total.skipped, g.unusable, total.links, total.consents, total.revoked, total.grants, time.Since(start).Round(100*time.Millisecond))
	return nil
}

type tenant struct {
	ID, Slug string
	Kind     tenants.Kind
	ISTAT    string
}

// network is what the generator needs of the seeded tenants.
type network struct {
	bySlug       map[string]tenant
	byID         map[string]tenant
	byISTAT      map[string]tenant
	cooperatives []tenant // third sector
	trainers     []tenant // training agencies
	zone         []weighted[string]
}

func loadNetwork(ctx context.Context, db *sqlx.DB) (*network, error) {
	var rows []struct {
		ID    string         `db:"id"`
		Slug  string         `db:"slug"`
		Kind  string         `db:"kind"`
		ISTAT sql.NullString `db:"istat_code"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT id, slug, kind, istat_code FROM tenants ORDER BY slug`); err != nil {
		return nil, fmt.Errorf("synthetic: tenants: %w", err)
	}
	net := &network{bySlug: map[string]tenant{}, byID: map[string]tenant{}, byISTAT: map[string]tenant{}}
	for _, r := range rows {
		t := tenant{ID: r.ID, Slug: r.Slug, Kind: tenants.Kind(r.Kind), ISTAT: r.ISTAT.String}
		net.bySlug[t.Slug] = t
		net.byID[t.ID] = t
		switch t.Kind {
		case tenants.KindMunicipality:
			net.byISTAT[t.ISTAT] = t
		case tenants.KindThirdSector:
			net.cooperatives = append(net.cooperatives, t)
		case tenants.KindTrainingAgency:
			net.trainers = append(net.trainers, t)
		}
	}
	for _, m := range tenants.ZoneMunicipalities {
		if _, ok := net.byISTAT[m.ISTATCode]; !ok {
			return nil, fmt.Errorf("synthetic: no tenant for %s (%s): seed the network first (attivi seed)", m.Name, m.ISTATCode)
		}
		net.zone = append(net.zone, weighted[string]{m.ISTATCode, zoneWeights[m.ISTATCode]})
	}
	for _, s := range []string{slugUFSMA, slugSerD, slugEmployment, slugCoordination} {
		if _, ok := net.bySlug[s]; !ok {
			return nil, fmt.Errorf("synthetic: no tenant %s: seed the network first (attivi seed)", s)
		}
	}
	if len(net.cooperatives) == 0 || len(net.trainers) == 0 {
		return nil, fmt.Errorf("synthetic: the network has no cooperative or training agency: seed it first (attivi seed)")
	}
	return net, nil
}

const (
	slugUFSMA        = "ufsma-sud-est"
	slugSerD         = "serd-sud-est"
	slugEmployment   = "collocamento-mirato-firenze"
	slugCoordination = "coordinamento-attivi"
)

// Rows as they are copied.

type personRow struct {
	ID, FiscalCode, GivenName, FamilyName string
	BirthDate                             time.Time
	Sex, ResidenceISTAT, TargetGroup      string
	Phone, Email, Address                 string
	RegisteredBy                          string
	CreatedAt                             time.Time
}

type linkRow struct {
	ID, PersonID, TenantID, Kind, Source string
	Scope                                []string
	ValidFrom                            time.Time
	ValidUntil, EndedAt                  *time.Time
	EndReason                            string
}

type consentRow struct {
	ID, PersonID, Basis, Purpose string
	Grantees, Categories         []string
	ValidFrom                    time.Time
	ValidUntil                   *time.Time
	RecordedBy                   string
	RevokedAt                    *time.Time
	RevocationReason             string
	grants                       []grantRow
}

type grantRow struct {
	TenantID, Kind string // one of the two
}

// person is one synthetic person with everything that hangs on them.
type person struct {
	personRow
	links    []linkRow
	consents []consentRow
}

type generator struct {
	net      *network
	seed     uint64
	seen     map[string]bool // fiscal codes given so far, to resolve collisions by omocodia
	unusable int             // persons dropped because no omocodia level was free (never in practice)
	now      time.Time
}

// batch makes the persons from index from to to (excluded), in index order:
// a fiscal code that an earlier index already has gets the next omocodia
// level, as the Agenzia delle Entrate does.
func (g *generator) batch(from, to int) ([]person, error) {
	out := make([]person, 0, to-from)
	for i := from; i < to; i++ {
		p, ok, err := g.person(i)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// stream is the random stream of person i: independent of the batch size.
func (g *generator) stream(i int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(g.seed), splitmix(g.seed^splitmix(uint64(i)+1))))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *generator) person(i int) (person, bool, error) {
	r := g.stream(i)
	var p person
	p.ID = newUUID(r)
	p.Sex = "M"
	if r.IntN(2) == 0 {
		p.Sex = "F"
	}
	if p.Sex == "F" {
		p.GivenName = pick(r, femaleNames)
	} else {
		p.GivenName = pick(r, maleNames)
	}
	if r.IntN(10) < 3 { // the commonest surnames are commoner
		p.FamilyName = familyNames[r.IntN(10)]
	} else {
		p.FamilyName = pick(r, familyNames)
	}
	p.BirthDate = birthFirst.AddDate(0, 0, r.IntN(days(birthFirst, birthLast)+1))
	place := pickWeighted(r, birthPlaces)
	level := 0
	for {
		p.FiscalCode = fiscalCode(p.FamilyName, p.GivenName, p.BirthDate, p.Sex, place, level)
		if p.FiscalCode == "" {
			g.unusable++
			return person{}, false, nil
		}
		if !g.seen[p.FiscalCode] {
			break
		}
		level++
	}
	g.seen[p.FiscalCode] = true
	fc, err := people.ParseFiscalCode(p.FiscalCode, g.now)
	if err != nil {
		return person{}, false, fmt.Errorf("synthetic: made an invalid fiscal code %s: %w", p.FiscalCode, err)
	}
	if bad := fc.Consistent(p.BirthDate, p.Sex); bad != nil {
		return person{}, false, fmt.Errorf("synthetic: fiscal code %s does not match %s %s: %v", p.FiscalCode, p.BirthDate.Format(time.DateOnly), p.Sex, bad)
	}

	p.TargetGroup = "disabile_l68"
	if r.IntN(10) < 3 {
		p.TargetGroup = "salute_mentale"
	}
	p.ResidenceISTAT = pickWeighted(r, g.net.zone)
	p.Phone = fmt.Sprintf("+39 3%02d %07d", 20+r.IntN(80), r.IntN(10_000_000))
	if r.IntN(10) < 4 {
		p.Email = fmt.Sprintf("%s.%s%02d@example.it", emailPart(p.GivenName), emailPart(p.FamilyName), r.IntN(100))
	}
	p.Address = fmt.Sprintf("%s %d", pick(r, streets), 1+r.IntN(120))
	p.CreatedAt = historyStart.Add(time.Duration(r.Int64N(int64(historyEnd.Sub(historyStart)))))

	owner := g.owner(r, p)
	p.RegisteredBy = owner.ID
	p.links = append(p.links, linkRow{ID: newUUID(r), PersonID: p.ID, TenantID: owner.ID, Kind: "owner", Source: "registration",
		ValidFrom: p.CreatedAt})
	g.otherLinks(r, &p, owner)
	g.addConsents(r, &p, owner)
	return p, true, nil
}

// owner: the municipality of residence for most; the mental-health unit (or
// the addiction service) for most salute_mentale persons.
func (g *generator) owner(r *rand.Rand, p person) tenant {
	home := g.net.byISTAT[p.ResidenceISTAT]
	switch x := r.IntN(100); {
	case p.TargetGroup == "salute_mentale" && x < 55:
		return g.net.bySlug[slugUFSMA]
	case p.TargetGroup == "salute_mentale" && x < 70:
		return g.net.bySlug[slugSerD]
	case p.TargetGroup == "disabile_l68" && x < 3:
		return g.net.bySlug[slugUFSMA]
	}
	return home
}

// otherLinks adds 0-3 links besides the owner's: care team and providers
// (cooperatives, training agencies, the municipality of residence when a
// health unit owns the record), the employment office as status observer of
// L.68 participants, now and then a pending referral that opens a few
// categories. A few links have ended.
func (g *generator) otherLinks(r *rand.Rand, p *person, owner tenant) {
	count := pickWeighted(r, []weighted[int]{{0, 25}, {1, 35}, {2, 25}, {3, 15}})
	has := func(tenantID, kind string) bool {
		return slices.ContainsFunc(p.links, func(l linkRow) bool { return l.TenantID == tenantID && l.Kind == kind })
	}
	for tries := 0; len(p.links) < 1+count && tries < 10; tries++ {
		kinds := []weighted[string]{{"care_team", 35}, {"provider", 35}, {"referral_recipient", 10}}
		if p.TargetGroup == "disabile_l68" {
			kinds = append(kinds, weighted[string]{"status_observer", 30})
		}
		l := linkRow{ID: newUUID(r), PersonID: p.ID, Kind: pickWeighted(r, kinds)}
		l.ValidFrom = p.CreatedAt.Add(time.Duration(r.Int64N(int64(min(365*24*time.Hour, historyEnd.Sub(p.CreatedAt)) + time.Hour))))
		var t tenant
		switch l.Kind {
		case "care_team":
			t = pick(r, g.net.cooperatives)
			if owner.Kind != tenants.KindMunicipality && r.IntN(2) == 0 {
				t = g.net.byISTAT[p.ResidenceISTAT]
			}
			l.Source = "manual"
		case "provider":
			if r.IntN(3) == 0 {
				t = pick(r, g.net.trainers)
			} else {
				t = pick(r, g.net.cooperatives)
			}
			l.Source = "referral:" + newUUID(r)
		case "referral_recipient":
			if r.IntN(2) == 0 {
				t = pick(r, g.net.trainers)
			} else {
				t = pick(r, g.net.cooperatives)
			}
			l.Source = "referral:" + newUUID(r)
			l.Scope = pick(r, [][]string{{"identity", "status"}, {"identity", "status", "employment"},
				{"identity", "status", "contact", "employment", "disability"}})
			if r.IntN(4) == 0 { // a pending referral that was never answered
				until := l.ValidFrom.AddDate(0, 0, 30)
				l.ValidUntil = &until
			}
		case "status_observer":
			t = g.net.bySlug[slugEmployment]
			l.Source = "network_rule"
		}
		if has(t.ID, l.Kind) {
			continue
		}
		l.TenantID = t.ID
		if l.Kind != "status_observer" && l.ValidUntil == nil && r.IntN(100) < 7 {
			ended := l.ValidFrom.AddDate(0, 0, 30+r.IntN(300))
			if ended.Before(g.now) {
				l.EndedAt, l.EndReason = &ended, "percorso concluso"
			}
		}
		p.links = append(p.links, l)
	}
}

var purposeCategories = map[string][][]string{
	"presa_in_carico":        {{"contact", "social"}, {"contact", "social", "health"}, {"contact", "social", "disability"}},
	"inserimento_lavorativo": {{"contact", "employment", "status"}, {"contact", "employment", "disability", "status"}, {"employment", "status"}},
	"case_conference":        {{"social", "employment"}, {"social", "health", "employment"}, {"contact", "social", "employment", "disability"}},
	"monitoraggio":           {{"status"}, {"status", "employment"}, {"status", "disability"}},
	"comunicazione":          {{"identity", "status"}, {"identity"}},
}

// addConsents adds 0-2 consents, recorded by the owner, naming the tenants
// the person is linked to and some tenant kinds; some have expired, a few
// were revoked.
func (g *generator) addConsents(r *rand.Rand, p *person, owner tenant) {
	count := pickWeighted(r, []weighted[int]{{0, 30}, {1, 45}, {2, 25}})
	var purposes []weighted[string]
	if p.TargetGroup == "disabile_l68" {
		purposes = []weighted[string]{{"inserimento_lavorativo", 45}, {"presa_in_carico", 20}, {"monitoraggio", 20}, {"case_conference", 10}, {"comunicazione", 5}}
	} else {
		purposes = []weighted[string]{{"presa_in_carico", 35}, {"case_conference", 30}, {"inserimento_lavorativo", 25}, {"monitoraggio", 5}, {"comunicazione", 5}}
	}
	for range count {
		c := consentRow{ID: newUUID(r), PersonID: p.ID, Purpose: pickWeighted(r, purposes), RecordedBy: owner.ID}
		if slices.ContainsFunc(p.consents, func(o consentRow) bool { return o.Purpose == c.Purpose }) {
			continue
		}
		c.Basis = "consent"
		switch {
		case c.Purpose == "inserimento_lavorativo" && r.IntN(2) == 0:
			c.Basis = "adesione"
		case c.Purpose == "monitoraggio" && r.IntN(2) == 0:
			c.Basis = "public_task"
		}
		c.Categories = pick(r, purposeCategories[c.Purpose])
		if p.TargetGroup == "disabile_l68" {
			c.Categories = slices.DeleteFunc(slices.Clone(c.Categories), func(s string) bool { return s == "health" })
		}
		// Grantees: the tenants linked to the person (not the owner), and
		// some kinds.
		for _, l := range p.links {
			if l.TenantID == owner.ID || r.IntN(3) == 0 {
				continue
			}
			t := g.net.byID[l.TenantID]
			if !slices.Contains(c.Grantees, t.Slug) {
				c.Grantees = append(c.Grantees, t.Slug)
				c.grants = append(c.grants, grantRow{TenantID: t.ID})
			}
		}
		kinds := map[string][]string{
			"inserimento_lavorativo": {"employment_office", "third_sector", "training_agency"},
			"monitoraggio":           {"employment_office", "coordinator"},
			"case_conference":        {"health_service", "municipality"},
			"presa_in_carico":        {"municipality", "health_service"},
			"comunicazione":          {"coordinator"},
		}[c.Purpose]
		for _, k := range kinds {
			if r.IntN(3) == 0 || len(c.grants) == 0 && k == kinds[len(kinds)-1] {
				c.Grantees = append(c.Grantees, "kind:"+k)
				c.grants = append(c.grants, grantRow{Kind: k})
			}
		}
		if len(c.grants) == 0 {
			c.Grantees = append(c.Grantees, slugCoordination)
			c.grants = append(c.grants, grantRow{TenantID: g.net.bySlug[slugCoordination].ID})
		}
		from := p.CreatedAt.AddDate(0, 0, r.IntN(30))
		c.ValidFrom = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
		if r.IntN(100) >= 35 {
			until := c.ValidFrom.AddDate(0, 0, 180+r.IntN(3*365))
			c.ValidUntil = &until
		}
		if r.IntN(100) < 4 {
			// Drawn over a fixed span, so that the stream does not depend on the day.
			revoked := c.ValidFrom.Add(time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour))))
			if revoked.After(g.now) {
				revoked = g.now
			}
			c.RevokedAt, c.RevocationReason = &revoked, "revocato su richiesta dell'interessato"
		}
		p.consents = append(p.consents, c)
	}
}

type stats struct {
	persons, skipped, links, consents, revoked, grants int
}

func (s *stats) add(o stats) {
	s.persons += o.persons
	s.skipped += o.skipped
	s.links += o.links
	s.consents += o.consents
	s.revoked += o.revoked
	s.grants += o.grants
}

// write stores a batch in one transaction: the persons through a temporary
// table (a fiscal code or id already present is skipped), then, by COPY, the
// links and consents of those actually added.
func write(ctx context.Context, db *sqlx.DB, batch []person) (stats, error) {
	var st stats
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return st, err
	}
	defer tx.Rollback() //nolint:errcheck

	const temp = `
CREATE TEMP TABLE synth_persons (
	id uuid, fiscal_code text, given_name text, family_name text, birth_date date, sex char(1),
	residence_istat char(6), target_group text, phone text, email text, address text,
	registered_by uuid, created_at timestamptz
) ON COMMIT DROP`
	if _, err := tx.ExecContext(ctx, temp); err != nil {
		return st, err
	}
	err = copyRows(ctx, tx, "synth_persons", []string{"id", "fiscal_code", "given_name", "family_name", "birth_date", "sex",
		"residence_istat", "target_group", "phone", "email", "address", "registered_by", "created_at"}, len(batch), func(i int) []any {
		p := batch[i]
		return []any{p.ID, p.FiscalCode, p.GivenName, p.FamilyName, p.BirthDate.Format(time.DateOnly), p.Sex, p.ResidenceISTAT,
			p.TargetGroup, p.Phone, p.Email, p.Address, p.RegisteredBy, p.CreatedAt}
	})
	if err != nil {
		return st, err
	}
	const insert = `
INSERT INTO persons (id, fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group,
	phone, email, address, registered_by, created_at, updated_at)
SELECT id, fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group,
	phone, email, address, registered_by, created_at, created_at
FROM synth_persons
ON CONFLICT DO NOTHING
RETURNING id`
	var ids []string
	if err := tx.SelectContext(ctx, &ids, insert); err != nil {
		return st, err
	}
	added := make(map[string]bool, len(ids))
	for _, id := range ids {
		added[id] = true
	}
	var links []linkRow
	var consents []consentRow
	for _, p := range batch {
		if !added[p.ID] {
			st.skipped++
			continue
		}
		st.persons++
		links = append(links, p.links...)
		consents = append(consents, p.consents...)
	}
	err = copyRows(ctx, tx, "person_links", []string{"id", "person_id", "tenant_id", "kind", "source", "scope", "valid_from",
		"valid_until", "ended_at", "end_reason", "created_at"}, len(links), func(i int) []any {
		l := links[i]
		return []any{l.ID, l.PersonID, l.TenantID, l.Kind, l.Source, textArray(l.Scope), l.ValidFrom,
			timeOrNil(l.ValidUntil), timeOrNil(l.EndedAt), l.EndReason, l.ValidFrom}
	})
	if err != nil {
		return st, err
	}
	st.links = len(links)
	err = copyRows(ctx, tx, "consents", []string{"id", "person_id", "basis", "purpose", "grantees", "categories", "valid_from",
		"valid_until", "recorded_by_tenant", "revoked_at", "revocation_reason", "created_at"}, len(consents), func(i int) []any {
		c := consents[i]
		if c.RevokedAt != nil {
			st.revoked++
		}
		return []any{c.ID, c.PersonID, c.Basis, c.Purpose, textArray(c.Grantees), textArray(c.Categories), c.ValidFrom.Format(time.DateOnly),
			dateOrNil(c.ValidUntil), c.RecordedBy, timeOrNil(c.RevokedAt), c.RevocationReason, c.ValidFrom}
	})
	if err != nil {
		return st, err
	}
	st.consents = len(consents)
	type grant struct {
		c consentRow
		g grantRow
	}
	var grants []grant
	for _, c := range consents {
		for _, g := range c.grants {
			grants = append(grants, grant{c, g})
		}
	}
	err = copyRows(ctx, tx, "consent_grants", []string{"consent_id", "person_id", "grantee_tenant_id", "grantee_kind", "purpose",
		"categories", "valid_from", "valid_until", "revoked_at"}, len(grants), func(i int) []any {
		c, g := grants[i].c, grants[i].g
		return []any{c.ID, c.PersonID, stringOrNil(g.TenantID), stringOrNil(g.Kind), c.Purpose, textArray(c.Categories),
			c.ValidFrom.Format(time.DateOnly), dateOrNil(c.ValidUntil), timeOrNil(c.RevokedAt)}
	})
	if err != nil {
		return st, err
	}
	st.grants = len(grants)
	return st, tx.Commit()
}

// copyRows copies n rows into table with COPY FROM STDIN.
func copyRows(ctx context.Context, tx *sqlx.Tx, table string, cols []string, n int, row func(i int) []any) error {
	if n == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, cols...))
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	defer stmt.Close()
	for i := range n {
		if _, err := stmt.ExecContext(ctx, row(i)...); err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

func textArray(s []string) any {
	if s == nil {
		return nil
	}
	v, _ := pq.Array(s).Value()
	return v
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

func dateOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format(time.DateOnly)
}

func stringOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Random helpers.

type weighted[T any] struct {
	v T
	w int
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func pickWeighted[T any](r *rand.Rand, s []weighted[T]) T {
	total := 0
	for _, x := range s {
		total += x.w
	}
	n := r.IntN(total)
	for _, x := range s {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return s[len(s)-1].v
}

func days(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }

// newUUID draws a version 4 UUID from r, so that ids are reproducible.
func newUUID(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func emailPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return -1
	}, s)
}
