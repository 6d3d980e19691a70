package reports_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jmoiron/sqlx"

	"attivi/policies"
	"attivi/server/servertest"
	"attivi/services/reports"
	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

type env struct {
	app    *fiber.App
	actors map[string]tenants.Actor
}

// newEnv seeds the network with a coordinator, a job coach of CO&SO and a
// social worker, and the path records of two participants: activities,
// placements with attendance, follow-ups, some of them outside the period
// of the tests (the year 2025).
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, slices.Concat(tenants.ZoneMunicipalities, tenants.FormerMunicipalities), tenants.Network()); err != nil {
		t.Fatal(err)
	}
	if _, err := policies.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	id, err := tenants.NewIdentity(db, tenants.DefaultAuth, log, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{actors: map[string]tenants.Actor{}}
	for slug, role := range map[string]tenants.Role{"coordinamento-attivi": tenants.RoleCoordinator, "coeso": tenants.RoleJobCoach,
		"comune-bagno-a-ripoli": tenants.RoleSocialWorker} {
		m, _, err := id.AddMember(ctx, slug, tenants.NewMember{Email: "op@" + slug + ".example", DisplayName: "Operatore",
			Password: "una frase lunga per le prove", Roles: []string{string(role)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tn, err := store.BySlug(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		e.actors[slug] = tenants.Actor{UserID: m.ID, TenantID: tn.ID, TenantSlug: slug, TenantKind: tn.Kind, Roles: []tenants.Role{role}}
	}
	coach := e.actors["coeso"]
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var persons []string
	for i, tg := range []string{"disabile_l68", "salute_mentale"} {
		var p string
		if err := db.GetContext(ctx, &p, `INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
			VALUES ($1, 'Anna', 'Bianchi', '1980-01-01', 'F', '048001', $2, $3) RETURNING id`, "0000000000"+string(rune('1'+i)), tg, coach.TenantID); err != nil {
			t.Fatal(err)
		}
		persons = append(persons, p)
	}
	act := `INSERT INTO activities (person_id, tenant_id, operator_id, kind, held_on, minutes) VALUES ($1, $2, $3, $4, $5, $6)`
	exec(act, persons[0], coach.TenantID, coach.UserID, "coaching", "2026-03-02", 90)
	exec(act, persons[1], coach.TenantID, coach.UserID, "coaching", "2026-04-10", 60)
	exec(act, persons[0], coach.TenantID, coach.UserID, "orientamento", "2026-05-05", 45)
	exec(act, persons[0], coach.TenantID, coach.UserID, "coaching", "2025-12-31", 600) // before the period
	pl := `INSERT INTO placements (person_id, tenant_id, kind, start_on, planned_end_on, ended_on, end_reason, minutes_per_week, case_manager_id,
		target_group, monthly_cap_cents, hourly_rate_cents)
		VALUES ($1, $2, $3, $4, $5, $6::date, CASE WHEN $6::date IS NULL THEN '' ELSE 'concluso' END, 600, $7, $8, 40000, 500) RETURNING id`
	var tirocinio string
	if err := db.GetContext(ctx, &tirocinio, pl, persons[0], coach.TenantID, "inserimento_borsa_lavoro", "2026-02-01", "2026-07-31", nil, coach.UserID, "disabile_l68"); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO placement_attendance (placement_id, month, attended_minutes, cap_cents, rate_cents, allowance_cents, tenant_id, user_id)
		VALUES ($1, '2026-02-01', 3000, 40000, 500, 25000, $2, $3)`, tirocinio, coach.TenantID, coach.UserID)
	var other string
	if err := db.GetContext(ctx, &other, pl, persons[1], coach.TenantID, "tirocinio", "2026-03-01", "2026-05-31", "2026-05-31", coach.UserID, "salute_mentale"); err != nil {
		t.Fatal(err)
	}
	fu := `INSERT INTO follow_ups (person_id, tenant_id, kind, exit_on, observed_on, status, improved_situation) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	exec(fu, persons[1], coach.TenantID, "at_exit", "2026-05-31", "2026-05-31", "job_seeking", nil)
	exec(fu, persons[1], coach.TenantID, "six_months", "2026-05-31", "2026-11-30", "employed", true)

	now := func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }
	h := reports.NewHandler(reports.NewService(db, mustEngine(t, db, log), now))
	e.app = servertest.ActorApp(e.actors)
	e.app.Get("/api/v1/reports/indicators", h.Indicators)
	return e
}

func (e *env) get(t *testing.T, as, query string) (int, string, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", "/api/v1/reports/indicators"+query, nil)
	req.Header.Set("X-Test-Actor", as)
	res, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

func TestIndicatorsJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, _, body := e.get(t, "coordinamento-attivi", "")
	if status != 200 {
		t.Fatalf("coordinator: %d %s", status, body)
	}
	var got struct {
		From  string `json:"from"`
		To    string `json:"to"`
		Hours []struct {
			Kind         string  `json:"kind"`
			Hours        float64 `json:"hours"`
			Activities   int     `json:"activities"`
			Participants int     `json:"participants"`
		} `json:"hours_by_activity"`
		Placements []struct {
			Kind           string  `json:"kind"`
			TargetGroup    string  `json:"target_group"`
			Open, Ended    int     `json:"-"`
			AttendedHours  float64 `json:"attended_hours"`
			AllowanceCents int64   `json:"allowance_cents"`
		} `json:"placements_by_kind"`
		Outcomes []struct {
			Kind, Status string
			Participants int `json:"participants"`
		} `json:"outcomes"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	// The default period is this year to today.
	if got.From != "2026-01-01" || got.To != "2026-11-28" {
		t.Errorf("period %s..%s, want 2026-01-01..2026-11-28", got.From, got.To)
	}
	if len(got.Hours) != 2 || got.Hours[0].Kind != "coaching" || got.Hours[0].Hours != 2.5 || got.Hours[0].Activities != 2 ||
		got.Hours[0].Participants != 2 || got.Hours[1].Kind != "orientamento" || got.Hours[1].Hours != 0.75 {
		t.Errorf("hours by activity %+v, want coaching 2.5 h in 2 activities for 2 participants and orientamento 0.75 h (not December 2025's)", got.Hours)
	}
	if len(got.Placements) != 2 || got.Placements[0].Kind != "inserimento_borsa_lavoro" || got.Placements[0].AttendedHours != 50 ||
		got.Placements[0].AllowanceCents != 25000 || got.Placements[1].Kind != "tirocinio" {
		t.Errorf("placements %+v", got.Placements)
	}
	if len(got.Outcomes) != 2 || got.Outcomes[1].Kind != "six_months" || got.Outcomes[1].Status != "employed" {
		t.Errorf("outcomes %+v", got.Outcomes)
	}

	// A period that holds only December 2025.
	_, _, body = e.get(t, "coordinamento-attivi", "?from=2025-12-01&to=2025-12-31")
	if !strings.Contains(string(body), `"hours":10`) || strings.Contains(string(body), "orientamento") {
		t.Errorf("December 2025: %s, want the 10 hours of coaching only", body)
	}
}

func TestIndicatorsRefusalsAndBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		as, query string
		want      int
		field     string
	}{
		{"coeso", "", 403, ""},
		{"comune-bagno-a-ripoli", "?format=xlsx", 403, ""},
		{"", "", 401, ""},
		{"coordinamento-attivi", "?format=pdf", 400, "format"},
		{"coordinamento-attivi", "?from=2026-13-01", 400, "from"},
		{"coordinamento-attivi", "?from=2026-05-01&to=2026-04-30", 400, "to"},
		{"coordinamento-attivi", "?from=1990-01-01&to=2026-01-01", 400, "to"},
	} {
		status, _, body := e.get(t, tc.as, tc.query)
		if status != tc.want || (tc.field != "" && !strings.Contains(string(body), `"fields":{"`+tc.field+`"`)) {
			t.Errorf("%s %q: %d %s, want %d naming %q", tc.as, tc.query, status, body, tc.want, tc.field)
		}
	}
}

func TestIndicatorsCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, ctype, body := e.get(t, "coordinamento-attivi", "?format=csv&from=2026-01-01&to=2026-06-30")
	if status != 200 || ctype != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %d %s %s", status, ctype, body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], []string{"from", "to", "indicator", "kind", "group", "measure", "value"}) {
		t.Errorf("header %v", rows[0])
	}
	want := [][]string{
		{"2026-01-01", "2026-06-30", "hours_by_activity", "coaching", "", "hours", "2.5"},
		{"2026-01-01", "2026-06-30", "placements_by_kind", "inserimento_borsa_lavoro", "disabile_l68", "allowance_cents", "25000"},
		{"2026-01-01", "2026-06-30", "outcomes", "six_months", "employed", "improved_situation", "1"},
	}
	for _, w := range want {
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, w) }) {
			t.Errorf("the CSV has no row %v", w)
		}
	}
}

// TestIndicatorsWorkbook opens the .xlsx as a spreadsheet program would: a
// zip whose parts are declared, each sheet's XML well formed, the cells
// where the Italian headers and the figures say.
func TestIndicatorsWorkbook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, ctype, body := e.get(t, "coordinamento-attivi", "?format=xlsx&from=2026-01-01&to=2026-06-30")
	if status != 200 || ctype != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatalf("xlsx: %d %s", status, ctype)
	}
	z, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	parts := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		parts[f.Name] = string(b)
	}
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
		"xl/worksheets/sheet1.xml", "xl/worksheets/sheet4.xml"} {
		if _, ok := parts[name]; !ok {
			t.Errorf("the workbook has no part %s", name)
		}
	}
	for _, s := range []string{"Periodo", "Ore per attività", "Inserimenti per tipo", "Esiti"} {
		if !strings.Contains(parts["xl/workbook.xml"], `name="`+s+`"`) {
			t.Errorf("no sheet named %q", s)
		}
	}
	// The cells of the placements sheet, by reference.
	var sheet struct {
		Rows []struct {
			Cells []struct {
				Ref    string `xml:"r,attr"`
				Type   string `xml:"t,attr"`
				Value  string `xml:"v"`
				Inline string `xml:"is>t"`
			} `xml:"c"`
		} `xml:"sheetData>row"`
	}
	if err := xml.Unmarshal([]byte(parts["xl/worksheets/sheet3.xml"]), &sheet); err != nil {
		t.Fatalf("sheet 3: %v", err)
	}
	cells := map[string]string{}
	for _, r := range sheet.Rows {
		for _, c := range r.Cells {
			cells[c.Ref] = c.Value + c.Inline
		}
	}
	for ref, want := range map[string]string{"A1": "Tipo di inserimento", "I1": "Borse lavoro (EUR)", "A2": "inserimento_borsa_lavoro",
		"B2": "Disabili (L. 68/1999)", "H2": "50", "I2": "250", "B3": "Salute mentale"} {
		if cells[ref] != want {
			t.Errorf("placements sheet %s = %q, want %q", ref, cells[ref], want)
		}
	}
}

func mustEngine(t *testing.T, db *sqlx.DB, log *slog.Logger) *policies.Engine {
	t.Helper()
	e, err := policies.New(context.Background(), db, log)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
