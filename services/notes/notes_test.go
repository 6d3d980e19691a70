package notes_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"attivi/policies"
)

// TestNoteVisibility: a health note, a riservata health note and a disability
// note written by SerD (the owner), as each relationship and consent
// combination lets another tenant read them.
func TestNoteVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type want struct {
		person     int  // status of the person's note list
		health     bool // the health note
		disability bool // the disability note
	}
	cases := []struct {
		name   string
		reader string
		setup  func(p string)
		want   want
	}{
		{"no link", ufsma, func(p string) {}, want{404, false, false}},
		{"no link, consent health", ufsma, func(p string) { e.consent(p, ufsma, "presa_in_carico", "health") }, want{404, false, false}},
		{"care team, no consent", ufsma, func(p string) { e.link(p, ufsma, policies.LinkCareTeam, nil) }, want{200, false, false}},
		{"care team, consent health", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkCareTeam, nil)
			e.consent(p, ufsma, "presa_in_carico", "health")
		}, want{200, true, false}},
		{"care team, consent to its kind", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkCareTeam, nil)
			e.consent(p, "kind:health_service", "inserimento_lavorativo", "health", "disability")
		}, want{200, true, true}},
		{"care team, consent social only", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkCareTeam, nil)
			e.consent(p, ufsma, "presa_in_carico", "social")
		}, want{200, false, false}},
		{"care team, consent to another tenant", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkCareTeam, nil)
			e.consent(p, comune, "presa_in_carico", "health")
		}, want{200, false, false}},
		{"care team, consent revoked", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkCareTeam, nil)
			c := e.consent(p, ufsma, "presa_in_carico", "health")
			if _, err := e.db.Exec(`UPDATE consent_grants SET revoked_at = now() WHERE consent_id = $1`, c); err != nil {
				t.Fatal(err)
			}
		}, want{200, false, false}},
		{"care team ended", ufsma, func(p string) {
			if _, err := e.db.Exec(`INSERT INTO person_links (person_id, tenant_id, kind, source, valid_from, valid_until)
				VALUES ($1, $2, 'care_team', 'manual', now() - interval '2 days', now() - interval '1 day')`, p, e.actors[ufsma].TenantID); err != nil {
				t.Fatal(err)
			}
			e.consent(p, ufsma, "presa_in_carico", "health")
		}, want{404, false, false}},
		{"employment office: care team and health consent, network rule refuses health", collocament, func(p string) {
			e.link(p, collocament, policies.LinkCareTeam, nil)
			e.consent(p, collocament, "inserimento_lavorativo", "health", "disability")
		}, want{200, false, true}},
		{"status observer", collocament, func(p string) {
			e.link(p, collocament, policies.LinkStatusObserver, nil)
			e.consent(p, collocament, "inserimento_lavorativo", "health", "disability")
		}, want{200, false, true}},
		{"municipality care team, consent health", comune, func(p string) {
			e.link(p, comune, policies.LinkCareTeam, nil)
			e.consent(p, comune, "presa_in_carico", "health")
		}, want{200, true, false}},
		{"job coach care team, consent health: no role rule", coeso, func(p string) {
			e.link(p, coeso, policies.LinkCareTeam, nil)
			e.consent(p, coeso, "presa_in_carico", "health", "disability")
		}, want{200, false, true}},
		{"conference, consent for another purpose", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkConference, nil)
			e.consent(p, ufsma, "presa_in_carico", "health")
		}, want{200, false, false}},
		{"conference, consent for case_conference", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkConference, nil)
			e.consent(p, ufsma, "case_conference", "health")
		}, want{200, true, false}},
		{"conference and care team, consent for another purpose", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkConference, nil)
			e.link(p, ufsma, policies.LinkCareTeam, nil)
			e.consent(p, ufsma, "presa_in_carico", "health")
		}, want{200, true, false}},
		{"coordinator in conference: never health", coord, func(p string) {
			e.link(p, coord, policies.LinkConference, nil)
			e.consent(p, coord, "case_conference", "health", "disability")
		}, want{200, false, false}},
		{"referral recipient scoped to disability, consent health", ufsma, func(p string) {
			e.link(p, ufsma, policies.LinkReferralRecipient, []string{"disability"})
			e.consent(p, ufsma, "presa_in_carico", "health", "disability")
		}, want{200, false, true}},
		{"the author", serd, func(p string) {}, want{200, true, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := e.person(serd)
			h := e.write(p, serd, "health", "Colloquio clinico: buona aderenza al programma terapeutico.", false)
			s := e.write(p, serd, "health", "Riservata: episodio di ricaduta.", true)
			d := e.write(p, serd, "disability", "Invalidità civile riconosciuta al 67%.", false)
			tc.setup(p)

			r := e.do("GET", "/api/v1/persons/"+p+"/notes", tc.reader, nil)
			if r.status != tc.want.person {
				t.Fatalf("list as %s: %d %s, want %d", tc.reader, r.status, r.body, tc.want.person)
			}
			var want []string
			if tc.want.disability {
				want = append(want, d.ID)
			}
			if tc.reader == serd {
				want = append(want, s.ID)
			}
			if tc.want.health {
				want = append(want, h.ID)
			}
			if r.status == 200 {
				items, _ := r.list(t)
				if got := ids(items); !slices.Equal(got, want) {
					t.Errorf("list as %s: %v, want %v (disability %s, riservata %s, health %s)", tc.reader, got, want, d.ID, s.ID, h.ID)
				}
			}
			// The network-wide list says the same about this person.
			all, _ := e.do("GET", "/api/v1/notes?person_id="+p, tc.reader, nil).list(t)
			if got := ids(all); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("network-wide list as %s: %v, want %v", tc.reader, got, want)
			}
			for _, n := range []struct {
				id   string
				want bool
			}{{h.ID, tc.want.health}, {s.ID, tc.reader == serd}, {d.ID, tc.want.disability}} {
				st := e.do("GET", "/api/v1/persons/"+p+"/notes/"+n.id, tc.reader, nil).status
				if (st == 200) != n.want || (st != 200 && st != 404) {
					t.Errorf("read note %s as %s: %d, want readable %v (404 otherwise)", n.id, tc.reader, st, n.want)
				}
			}
		})
	}
}

func TestWriteNeedsWritePermission(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(serd)
	e.link(p, ufsma, policies.LinkCareTeam, nil)
	body := map[string]any{"category": "health", "body": "Visita di controllo."}
	// Care team health_worker writes health only with consent.
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes", ufsma, body); r.status != 403 {
		t.Errorf("write without consent: %d %s, want 403", r.status, r.body)
	}
	e.consent(p, ufsma, "presa_in_carico", "health")
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes", ufsma, body); r.status != 201 {
		t.Errorf("write with consent: %d %s, want 201", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes", caritas, body); r.status != 404 {
		t.Errorf("write as a stranger: %d %s, want 404", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes", "", body); r.status != 401 {
		t.Errorf("write anonymously: %d, want 401", r.status)
	}
	r := e.do("POST", "/api/v1/persons/"+p+"/notes", serd, map[string]any{"category": "mood", "body": "  ", "referral_id": "x", "conference_id": "00000000-0000-0000-0000-000000000000"})
	f := r.err(t).Error.Fields
	if r.status != 422 || f["category"] == "" || f["body"] == "" || f["referral_id"] == "" {
		t.Errorf("invalid note: %d %s, want 422 naming category, body and referral_id", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/persons/"+p+"/notes", serd, map[string]any{"category": "health", "body": "x", "conference_id": "00000000-0000-0000-0000-000000000000"})
	if r.status != 422 || r.err(t).Error.Fields["conference_id"] == "" {
		t.Errorf("unknown conference: %d %s, want 422 naming conference_id", r.status, r.body)
	}
}

func TestAmendmentAndEnteredInError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(serd)
	e.link(p, ufsma, policies.LinkCareTeam, nil)
	e.consent(p, ufsma, "presa_in_carico", "health")
	orig := e.write(p, serd, "health", "Terapia con metadone 40 mg.", false)

	// Only the author tenant corrects.
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/amendments", ufsma, map[string]any{"body": "x"}); r.status != 403 {
		t.Errorf("amend as a reader: %d %s, want 403", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/amendments", caritas, map[string]any{"body": "x"}); r.status != 404 {
		t.Errorf("amend as a stranger: %d %s, want 404", r.status, r.body)
	}
	r := e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/amendments", serd, map[string]any{"body": "Correzione: 30 mg, non 40."})
	if r.status != 201 {
		t.Fatalf("amend: %d %s", r.status, r.body)
	}
	am := r.note(t)
	if am.Amends == nil || *am.Amends != orig.ID || am.Category != "health" || am.Sensitive || am.Author.Tenant != serd {
		t.Errorf("amendment %+v: want amends %s, health, not riservata, by %s", am, orig.ID, serd)
	}
	// Both stay visible to whoever may read them, the original naming its amendment.
	for _, as := range []string{serd, ufsma} {
		items, _ := e.do("GET", "/api/v1/persons/"+p+"/notes", as, nil).list(t)
		if got := ids(items); !slices.Equal(got, []string{am.ID, orig.ID}) {
			t.Errorf("list as %s: %v, want amendment then original", as, got)
		}
		o := e.do("GET", "/api/v1/persons/"+p+"/notes/"+orig.ID, as, nil).note(t)
		if o.Body != orig.Body || !slices.Equal(o.AmendedBy, []string{am.ID}) {
			t.Errorf("original as %s: %+v, want its body unchanged and amended_by [%s]", as, o, am.ID)
		}
	}

	// Entered in error: a reason is required, the mark is shown, once.
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/entered-in-error", serd, map[string]any{"reason": " "}); r.status != 422 {
		t.Errorf("mark without reason: %d %s, want 422", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/entered-in-error", ufsma, map[string]any{"reason": "x"}); r.status != 403 {
		t.Errorf("mark as a reader: %d %s, want 403", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/entered-in-error", serd, map[string]any{"reason": "Nota scritta sulla persona sbagliata"})
	if r.status != 200 {
		t.Fatalf("mark: %d %s", r.status, r.body)
	}
	if m := r.note(t).EnteredInError; m == nil || m.Reason != "Nota scritta sulla persona sbagliata" || m.UserID != e.actors[serd].UserID {
		t.Errorf("mark %+v", m)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/entered-in-error", serd, map[string]any{"reason": "again"}); r.status != 409 {
		t.Errorf("second mark: %d %s, want 409", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/persons/"+p+"/notes/"+orig.ID+"/amendments", serd, map[string]any{"body": "x"}); r.status != 409 {
		t.Errorf("amend a note entered in error: %d %s, want 409", r.status, r.body)
	}
	o := e.do("GET", "/api/v1/persons/"+p+"/notes/"+orig.ID, ufsma, nil).note(t)
	if o.EnteredInError == nil || o.Body != orig.Body {
		t.Errorf("marked note as reader: %+v, want it visible with its mark", o)
	}

	// The database refuses edits and deletions, whoever asks.
	ctx := context.Background()
	if _, err := e.db.ExecContext(ctx, `UPDATE notes SET body = 'altered' WHERE id = $1`, am.ID); err == nil {
		t.Error("UPDATE of a note body succeeded")
	}
	if _, err := e.db.ExecContext(ctx, `UPDATE notes SET entered_in_error_reason = 'other' WHERE id = $1`, orig.ID); err == nil {
		t.Error("changing an entered-in-error mark succeeded")
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM notes WHERE id = $1`, am.ID); err == nil {
		t.Error("DELETE of a note succeeded")
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO notes (person_id, author_tenant_id, author_user_id, category, body, amends_id)
		VALUES ($1, $2, $3, 'social', 'x', $4)`, p, e.actors[serd].TenantID, e.actors[serd].UserID, orig.ID); err == nil {
		t.Error("an amendment in another category was stored")
	}
}

func TestSearchAndAccessLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person(serd)
	q := e.person(serd)
	e.link(p, ufsma, policies.LinkCareTeam, nil)
	e.consent(p, ufsma, "presa_in_carico", "health", "disability")
	n1 := e.write(p, serd, "health", "Il paziente riferisce difficoltà nel lavoro di magazzino.", false)
	e.write(p, serd, "disability", "Richiesta visita per l'invalidità.", false)
	n3 := e.write(q, serd, "health", "Lavorava in un magazzino, ora disoccupato.", false) // not readable by ufsma
	_ = n3

	// Italian stemming: "lavorare" finds "lavoro" and "lavorava" for the author ...
	items, _ := e.do("GET", "/api/v1/notes?q=lavorare%20magazzini", serd, nil).list(t)
	if len(items) != 2 {
		t.Errorf("author's search: %v, want 2 notes", ids(items))
	}
	// ... and only the readable one for ufsma, with websearch syntax.
	items, _ = e.do("GET", "/api/v1/notes?q=magazzino%20-invalidit%C3%A0", ufsma, nil).list(t)
	if got := ids(items); !slices.Equal(got, []string{n1.ID}) {
		t.Errorf("reader's search: %v, want [%s]", got, n1.ID)
	}
	if r := e.do("GET", "/api/v1/notes?q="+strings.Repeat("a", 201), ufsma, nil); r.status != 400 {
		t.Errorf("long query: %d, want 400", r.status)
	}
	if r := e.do("GET", "/api/v1/notes?category=mood", ufsma, nil); r.status != 400 {
		t.Errorf("bad category: %d, want 400", r.status)
	}

	// One log entry per person listed, naming the notes; one per note read.
	before := len(e.logOf(p, ufsma))
	all, _ := e.do("GET", "/api/v1/persons/"+p+"/notes", ufsma, nil).list(t)
	log := e.logOf(p, ufsma)[before:]
	if len(log) != 1 || log[0].Action != "list" || log[0].Decision != "allow" || log[0].Categories != "health,disability" ||
		!strings.Contains(log[0].Reason, all[0].ID) || !strings.Contains(log[0].Reason, all[1].ID) {
		t.Errorf("list log %+v, want one list entry for health,disability naming both notes", log)
	}
	e.do("GET", "/api/v1/persons/"+p+"/notes/"+n1.ID, ufsma, nil)
	e.do("GET", "/api/v1/persons/"+q+"/notes/"+n3.ID, ufsma, nil)
	if l := e.logOf(p, ufsma); l[len(l)-1].Action != "read" || l[len(l)-1].Decision != "allow" || !strings.Contains(l[len(l)-1].Reason, n1.ID) {
		t.Errorf("read log %+v", l[len(l)-1])
	}
	if l := e.logOf(q, ufsma); len(l) != 1 || l[0].Decision != "deny" {
		t.Errorf("denied read log %+v, want one denial", l)
	}

	// Pages.
	for range 3 {
		e.write(p, serd, "health", "Controllo.", false)
	}
	first, next := e.do("GET", "/api/v1/persons/"+p+"/notes?limit=3", ufsma, nil).list(t)
	second, next2 := e.do("GET", "/api/v1/persons/"+p+"/notes?limit=3&cursor="+next, ufsma, nil).list(t)
	if len(first) != 3 || next == "" || len(second) != 2 || next2 != "" {
		t.Errorf("pages: %d (%q) then %d (%q), want 3 then 2", len(first), next, len(second), next2)
	}
	if slices.ContainsFunc(second, func(n notesJSON) bool { return slices.Contains(ids(first), n.ID) }) {
		t.Error("pages overlap")
	}
}
