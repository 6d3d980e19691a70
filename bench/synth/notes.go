package synth

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// NotesPerPerson is how many notes GenerateNotes wants per person: when the
// database has fewer than n/NotesPerPerson persons, it adds them with
// Generate first.
const NotesPerPerson = 10

// notesBatch is the number of notes written per transaction.
const notesBatch = 20000

// GenerateNotes makes the database hold n synthetic case notes (written by
// the synthetic authors, one disabled user per tenant), over the persons
// present, adding persons with their links and consents when there are too
// few. Each note is drawn from a random stream per (seed, index), so the same
// seed on the same persons gives the same notes, and a second run adds only
// what is missing.
//
// A note is written by a tenant linked to the person (the owner most often),
// in a category that fits the tenant's kind (a health service writes health
// notes, a cooperative employment notes...), with an Italian body built from
// the phrases of case notes; 3% are riservata, 1% are followed by an
// amendment, 0.5% are marked entered in error.
func GenerateNotes(ctx context.Context, db *sqlx.DB, n int, seed uint64) error {
	if n <= 0 {
		return nil
	}
	var persons int
	if err := db.GetContext(ctx, &persons, `SELECT count(*) FROM persons`); err != nil {
		return fmt.Errorf("synthetic notes: %w", err)
	}
	if want := n / NotesPerPerson; persons < want {
		if err := Generate(ctx, db, want, seed, io.Discard); err != nil { // the persons already made from seed are skipped
			return err
		}
	}
	authors, err := noteAuthors(ctx, db)
	if err != nil {
		return err
	}
	ps, err := notePersons(ctx, db)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return fmt.Errorf("synthetic notes: no person has a link")
	}
	var have int
	if err := db.GetContext(ctx, &have, `SELECT count(*) FROM notes WHERE author_user_id = ANY($1::uuid[])`, pq.Array(authorIDs(authors))); err != nil {
		return fmt.Errorf("synthetic notes: %w", err)
	}
	for from := have; from < n; {
		var rows []noteRow
		for i := from; len(rows) < notesBatch && i < n; i++ {
			rows = append(rows, makeNote(seed, i, ps, authors)...)
			from = i + 1
		}
		if err := writeNotes(ctx, db, rows); err != nil {
			return fmt.Errorf("synthetic notes: %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, `ANALYZE notes`); err != nil {
		return fmt.Errorf("synthetic notes: analyze: %w", err)
	}
	return nil
}

type noteAuthor struct {
	UserID string `db:"user_id"`
	Kind   string `db:"kind"`
}

func authorIDs(m map[string]noteAuthor) []string {
	out := make([]string, 0, len(m))
	for _, a := range m {
		out = append(out, a.UserID)
	}
	return out
}

// noteAuthors makes (once) one disabled user per tenant that signs the
// synthetic notes, member of its tenant, and returns them by tenant id.
func noteAuthors(ctx context.Context, db *sqlx.DB) (map[string]noteAuthor, error) {
	const q = `
WITH t AS (SELECT id, slug FROM tenants),
u AS (
	INSERT INTO users (email, display_name, password_hash, disabled_at)
	SELECT 'synth-notes@' || t.slug || '.example', 'Autore sintetico', '!', now() FROM t
	ON CONFLICT ((lower(email))) DO NOTHING
	RETURNING id, email
)
INSERT INTO memberships (user_id, tenant_id)
SELECT u.id, t.id FROM u JOIN t ON u.email = 'synth-notes@' || t.slug || '.example'
ON CONFLICT DO NOTHING`
	if _, err := db.ExecContext(ctx, q); err != nil {
		return nil, fmt.Errorf("synthetic note authors: %w", err)
	}
	var rows []struct {
		TenantID string `db:"tenant_id"`
		noteAuthor
	}
	if err := db.SelectContext(ctx, &rows, `SELECT t.id AS tenant_id, u.id AS user_id, t.kind FROM tenants t
JOIN users u ON lower(u.email) = 'synth-notes@' || t.slug || '.example'`); err != nil {
		return nil, fmt.Errorf("synthetic note authors: %w", err)
	}
	out := make(map[string]noteAuthor, len(rows))
	for _, r := range rows {
		out[r.TenantID] = r.noteAuthor
	}
	return out, nil
}

type notePerson struct {
	ID      string         `db:"id"`
	Created time.Time      `db:"created_at"`
	Owners  pq.StringArray `db:"owners"`
	Others  pq.StringArray `db:"others"`
}

// notePersons lists the persons with the tenants linked to them (owners
// apart), in id order so that the draw does not depend on storage order.
func notePersons(ctx context.Context, db *sqlx.DB) ([]notePerson, error) {
	var out []notePerson
	err := db.SelectContext(ctx, &out, `
SELECT p.id, p.created_at,
	coalesce(array_agg(DISTINCT l.tenant_id::text) FILTER (WHERE l.kind = 'owner'), '{}') AS owners,
	coalesce(array_agg(DISTINCT l.tenant_id::text) FILTER (WHERE l.kind <> 'owner'), '{}') AS others
FROM persons p JOIN person_links l ON l.person_id = p.id
GROUP BY p.id ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("synthetic notes: persons: %w", err)
	}
	return out, nil
}

type noteRow struct {
	ID, PersonID, TenantID, UserID, Category, Body string
	Sensitive                                      bool
	AmendsID                                       *string
	ErrorAt                                        *time.Time
	ErrorBy                                        *string
	ErrorReason                                    string
	CreatedAt                                      time.Time
}

// Categories a tenant of each kind writes notes in, with weights.
var noteCategories = map[string][]weighted[string]{
	"municipality":      {{"social", 60}, {"employment", 15}, {"contact", 10}, {"status", 10}, {"disability", 5}},
	"health_service":    {{"health", 70}, {"disability", 10}, {"social", 10}, {"employment", 10}},
	"employment_office": {{"disability", 50}, {"employment", 30}, {"status", 20}},
	"third_sector":      {{"employment", 75}, {"status", 15}, {"social", 10}},
	"training_agency":   {{"employment", 85}, {"status", 15}},
	"coordinator":       {{"status", 60}, {"employment", 40}},
}

var notePhrases = map[string][]string{
	"social": {"colloquio con l'assistente sociale", "situazione abitativa precaria", "richiesta di contributo per l'affitto",
		"rete familiare di sostegno", "visita domiciliare", "difficoltà economiche del nucleo", "sostegno ai figli minori"},
	"health": {"colloquio clinico", "aderenza alla terapia farmacologica", "controllo tossicologico negativo", "umore stabile",
		"rivalutazione psichiatrica", "terapia sostitutiva con metadone", "ricovero breve in SPDC", "buon compenso clinico"},
	"employment": {"colloquio di orientamento", "bilancio delle competenze", "tirocinio in azienda", "borsa lavoro attivata",
		"incontro con il tutor aziendale", "laboratorio di preformazione", "ricerca attiva di lavoro", "matching con un'azienda del territorio",
		"puntualità e autonomia nelle mansioni di magazzino", "corso di formazione esterna"},
	"disability": {"verifica iscrizione legge 68", "invalidità civile riconosciuta", "accertamento della capacità lavorativa",
		"collocamento mirato", "ausili richiesti per la postazione"},
	"contact":  {"nuovo recapito telefonico", "cambio di domicilio", "preferisce essere contattata al mattino"},
	"status":   {"inserito nel programma", "fase di orientamento conclusa", "percorso sospeso", "percorso concluso con assunzione"},
	"identity": {"verifica documento di identità"},
}

var noteConnectives = []string{"Si concorda", "Si rileva", "Emerge", "Si propone", "Si conferma", "Da verificare", "Riferisce", "Si osserva"}

// makeNote draws note i (and its amendment, when it has one).
func makeNote(seed uint64, i int, ps []notePerson, authors map[string]noteAuthor) []noteRow {
	r := rand.New(rand.NewPCG(splitmix(seed^0x6e6f746573), splitmix(uint64(i)+1)))
	p := ps[r.IntN(len(ps))]
	tenantID := ""
	switch {
	case len(p.Owners) > 0 && (len(p.Others) == 0 || r.IntN(100) < 60):
		tenantID = p.Owners[r.IntN(len(p.Owners))]
	case len(p.Others) > 0:
		tenantID = p.Others[r.IntN(len(p.Others))]
	}
	a := authors[tenantID]
	cats := noteCategories[a.Kind]
	if cats == nil {
		cats = noteCategories["municipality"]
	}
	cat := pickWeighted(r, cats)
	var b strings.Builder
	for k := range 1 + r.IntN(4) {
		if k > 0 {
			b.WriteString(" ")
		}
		phrases := notePhrases[cat]
		if r.IntN(4) == 0 { // notes wander across topics
			phrases = notePhrases["employment"]
		}
		fmt.Fprintf(&b, "%s: %s.", pick(r, noteConnectives), pick(r, phrases))
	}
	span := historyEnd.Sub(p.Created)
	if span <= 0 {
		span = time.Hour
	}
	n := noteRow{ID: newUUID(r), PersonID: p.ID, TenantID: tenantID, UserID: a.UserID, Category: cat, Body: b.String(),
		Sensitive: r.IntN(100) < 3, CreatedAt: p.Created.Add(time.Duration(r.Int64N(int64(span))))}
	if r.IntN(200) == 0 {
		at := n.CreatedAt.Add(time.Hour)
		n.ErrorAt, n.ErrorBy, n.ErrorReason = &at, &a.UserID, "nota inserita per errore"
	}
	out := []noteRow{n}
	if n.ErrorAt == nil && r.IntN(100) == 0 {
		am := n
		am.ID, am.AmendsID = newUUID(r), &n.ID
		am.Body = "Rettifica: " + pick(r, notePhrases[cat]) + "."
		am.CreatedAt = n.CreatedAt.Add(24 * time.Hour)
		out = append(out, am)
	}
	return out
}

func writeNotes(ctx context.Context, db *sqlx.DB, rows []noteRow) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("notes", "id", "person_id", "author_tenant_id", "author_user_id", "category", "body",
		"sensitive", "amends_id", "entered_in_error_at", "entered_in_error_by", "entered_in_error_reason", "created_at"))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, n := range rows {
		var amends, errBy any
		if n.AmendsID != nil {
			amends = *n.AmendsID
		}
		if n.ErrorBy != nil {
			errBy = *n.ErrorBy
		}
		if _, err := stmt.ExecContext(ctx, n.ID, n.PersonID, n.TenantID, n.UserID, n.Category, n.Body, n.Sensitive,
			amends, timeOrNil(n.ErrorAt), errBy, n.ErrorReason, n.CreatedAt); err != nil {
			return err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return err
	}
	return tx.Commit()
}
