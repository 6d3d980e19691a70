package conferences_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"attivi/services/conferences"
)

// event parses an iCalendar body and returns the calendar and its one event.
func event(t *testing.T, body []byte) (*icsComponent, *icsComponent) {
	t.Helper()
	cal, err := parseICS(body)
	if err != nil {
		t.Fatalf("parse iCalendar: %v\n%s", err, body)
	}
	evs := cal.Sub("VEVENT")
	if len(evs) != 1 {
		t.Fatalf("%d VEVENTs, want 1", len(evs))
	}
	return cal, evs[0]
}

// field returns the TEXT value of a property.
func field(t *testing.T, c *icsComponent, name string) string {
	t.Helper()
	p, err := c.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Text()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestICS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.person("Ferretti")
	e.consent(p, serd, "case_conference", "health")
	start := time.Date(2031, 3, 10, 8, 30, 0, 0, time.UTC)
	long := "Casa della Salute di Bagno a Ripoli, sala riunioni al primo piano, ingresso da Via dell'Antella; citofonare \"Servizi\""
	c := e.create(draft([]string{p}, []string{serd}, set("title", "Équipe di rete: tirocini, borse lavoro; verifica"),
		set("starts_at", start.Format(time.RFC3339)), set("ends_at", start.Add(90*time.Minute).Format(time.RFC3339)),
		set("location", long), set("video_url", "https://meet.example.org/attivi-rete?x=1,2"),
		set("invited_users", []string{e.actors[serd].UserID})))

	r := e.do("GET", "/api/v1/conferences/"+c.ID+"/ics", serd, nil)
	if r.status != 200 || !strings.HasPrefix(r.header["Content-Type"], "text/calendar") || !strings.Contains(r.header["Content-Type"], "method=REQUEST") {
		t.Fatalf("ics: %d %v", r.status, r.header)
	}
	cal, ev := event(t, r.body)
	for name, want := range map[string]string{"VERSION": "2.0", "METHOD": "REQUEST", "CALSCALE": "GREGORIAN"} {
		if got := field(t, cal, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if _, err := cal.Get("PRODID"); err != nil {
		t.Error(err)
	}
	uid := field(t, ev, "UID")
	for name, want := range map[string]string{
		"UID":         c.ID + "@attivi",
		"SEQUENCE":    "0",
		"DTSTART":     "20310310T083000Z",
		"DTEND":       "20310310T100000Z",
		"SUMMARY":     "Équipe di rete: tirocini, borse lavoro; verifica",
		"LOCATION":    long,
		"URL":         "https://meet.example.org/attivi-rete?x=1,2",
		"STATUS":      "CONFIRMED",
		"DESCRIPTION": "Riunione di rete A.T.T.I.V.I. organizzata da Comune di Bagno a Ripoli. Persone discusse e verbale sulla piattaforma.\nCollegamento: https://meet.example.org/attivi-rete?x=1,2",
	} {
		if name == "URL" { // a URI, not TEXT: not escaped
			if p, err := ev.Get("URL"); err != nil || p.Value != want {
				t.Errorf("URL: %q (%v), want %q", p.Value, err, want)
			}
			continue
		}
		if got := field(t, ev, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"DTSTAMP", "CREATED", "LAST-MODIFIED"} {
		p, err := ev.Get(name)
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := time.Parse("20060102T150405Z", p.Value); err != nil {
			t.Errorf("%s %q: not a UTC date-time", name, p.Value)
		}
	}
	org, err := ev.Get("ORGANIZER")
	if err != nil || org.Value != "mailto:staff@"+organizer+".example" || org.Params["CN"] != "Staff "+organizer {
		t.Errorf("ORGANIZER %+v (%v)", org, err)
	}
	att := ev.All("ATTENDEE")
	if len(att) != 1 || att[0].Value != "mailto:staff@"+serd+".example" || att[0].Params["PARTSTAT"] != "NEEDS-ACTION" {
		t.Errorf("ATTENDEE %+v", att)
	}
	// No personal data of the case: neither the person's id nor their names.
	for _, s := range []string{p, "Ferretti", "Giulia"} {
		if strings.Contains(string(r.body), s) {
			t.Errorf("the calendar contains %q", s)
		}
	}

	// The invited tenant accepts: PARTSTAT follows.
	e.do("POST", "/api/v1/conferences/"+c.ID+"/invitations/"+serd+"/answer", serd, map[string]string{"answer": "accept"})
	_, ev = event(t, e.do("GET", "/api/v1/conferences/"+c.ID+"/ics", organizer, nil).body)
	if a := ev.All("ATTENDEE"); len(a) != 1 || a[0].Params["PARTSTAT"] != "ACCEPTED" {
		t.Errorf("ATTENDEE after accepting %+v", a)
	}

	// Rescheduled: same UID, SEQUENCE 1, new times.
	if r := e.do("PATCH", "/api/v1/conferences/"+c.ID, organizer, map[string]string{"starts_at": "2031-03-11T09:00:00+01:00", "ends_at": "2031-03-11T10:30:00+01:00"}, "If-Match", "1"); r.status != 200 {
		t.Fatalf("reschedule: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/api/v1/conferences/"+c.ID, organizer, map[string]string{"title": "x"}, "If-Match", "1"); r.status != 409 {
		t.Errorf("stale reschedule: %d, want 409", r.status)
	}
	if r := e.do("PATCH", "/api/v1/conferences/"+c.ID, organizer, map[string]string{"title": "Caso Ferretti"}, "If-Match", "2"); r.status != 422 {
		t.Errorf("reschedule with a name in the title: %d, want 422", r.status)
	}
	_, ev = event(t, e.do("GET", "/api/v1/conferences/"+c.ID+"/ics", serd, nil).body)
	if field(t, ev, "UID") != uid || field(t, ev, "SEQUENCE") != "1" || field(t, ev, "DTSTART") != "20310311T080000Z" || field(t, ev, "DTEND") != "20310311T093000Z" {
		t.Errorf("after reschedule: UID %s SEQUENCE %s DTSTART %s DTEND %s", field(t, ev, "UID"), field(t, ev, "SEQUENCE"), field(t, ev, "DTSTART"), field(t, ev, "DTEND"))
	}

	// Cancelled: METHOD:CANCEL, STATUS:CANCELLED, SEQUENCE 2; links end.
	if r := e.do("POST", "/api/v1/conferences/"+c.ID+"/cancel", organizer, map[string]string{"reason": "Sala non disponibile"}); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/v1/conferences/"+c.ID+"/ics", serd, nil)
	if !strings.Contains(r.header["Content-Type"], "method=CANCEL") {
		t.Errorf("Content-Type %q after cancel", r.header["Content-Type"])
	}
	cal, ev = event(t, r.body)
	if field(t, cal, "METHOD") != "CANCEL" || field(t, ev, "STATUS") != "CANCELLED" || field(t, ev, "SEQUENCE") != "2" || field(t, ev, "UID") != uid {
		t.Errorf("after cancel: METHOD %s STATUS %s SEQUENCE %s", field(t, cal, "METHOD"), field(t, ev, "STATUS"), field(t, ev, "SEQUENCE"))
	}
	if got := e.links(p); len(got) != 0 {
		t.Errorf("links after cancel: %v", got)
	}
}

func TestCalendarFeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mine := e.create(draft(nil, []string{serd}, set("invited_users", []string{e.actors[serd].UserID})))
	other := e.create(draft(nil, []string{coeso}))
	cancelled := e.create(draft(nil, []string{serd}, set("invited_users", []string{e.actors[serd].UserID}), set("title", "Annullata")))
	e.do("POST", "/api/v1/conferences/"+cancelled.ID+"/cancel", organizer, nil)

	r := e.do("POST", "/api/v1/me/calendar-secret", serd, nil)
	var s struct{ Secret, URL string }
	if err := json.Unmarshal(r.body, &s); r.status != 201 || err != nil || len(s.Secret) != 43 || s.URL != "/api/v1/calendar/"+s.Secret+".ics" {
		t.Fatalf("new secret: %d %s", r.status, r.body)
	}
	var stored []byte
	if err := e.db.Get(&stored, `SELECT secret_hash FROM calendar_secrets WHERE user_id = $1`, e.actors[serd].UserID); err != nil || len(stored) != 32 || strings.Contains(string(stored), s.Secret) {
		t.Errorf("stored secret: %x (%v), want a 32-byte hash", stored, err)
	}

	r = e.do("GET", s.URL, "", nil) // no login
	if r.status != 200 {
		t.Fatalf("feed: %d %s", r.status, r.body)
	}
	cal, err := parseICS(r.body)
	if err != nil {
		t.Fatalf("parse feed: %v", err)
	}
	if field(t, cal, "METHOD") != "PUBLISH" {
		t.Errorf("feed METHOD %s", field(t, cal, "METHOD"))
	}
	got := map[string]string{}
	for _, ev := range cal.Sub("VEVENT") {
		got[field(t, ev, "UID")] = field(t, ev, "STATUS")
	}
	want := map[string]string{conferences.UID(mine.ID): "CONFIRMED", conferences.UID(cancelled.ID): "CANCELLED"}
	if len(got) != len(want) || got[conferences.UID(mine.ID)] != "CONFIRMED" || got[conferences.UID(cancelled.ID)] != "CANCELLED" {
		t.Errorf("feed events %v, want %v (not %s)", got, want, other.ID)
	}

	// Rotating replaces the secret; revoking removes it.
	r = e.do("POST", "/api/v1/me/calendar-secret", serd, nil)
	var s2 struct{ Secret, URL string }
	_ = json.Unmarshal(r.body, &s2)
	if s2.Secret == s.Secret {
		t.Fatal("rotation gave the same secret")
	}
	if r := e.do("GET", s.URL, "", nil); r.status != 404 {
		t.Errorf("old secret after rotation: %d, want 404", r.status)
	}
	if r := e.do("GET", s2.URL, "", nil); r.status != 200 {
		t.Errorf("new secret: %d, want 200", r.status)
	}
	if r := e.do("DELETE", "/api/v1/me/calendar-secret", serd, nil); r.status != 204 {
		t.Errorf("revoke: %d, want 204", r.status)
	}
	if r := e.do("GET", s2.URL, "", nil); r.status != 404 {
		t.Errorf("revoked secret: %d, want 404", r.status)
	}
	for _, bogus := range []string{"abc", strings.Repeat("A", 43), strings.Repeat("%25", 10), strings.Repeat("A", 42) + ".x"} {
		if r := e.do("GET", "/api/v1/calendar/"+bogus+".ics", "", nil); r.status != 404 {
			t.Errorf("bogus secret %q: %d, want 404", bogus, r.status)
		}
	}
}
