package conferences

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// iCalendar (RFC 5545) output: CRLF line ends, lines folded at 75 octets
// (never inside a UTF-8 sequence), TEXT values escaped, times in UTC.

const (
	prodID     = "-//ATTIVI//Riunioni di rete//IT"
	uidDomain  = "attivi"
	icsUTCForm = "20060102T150405Z"
)

type icsAddress struct {
	Name  string
	Email string
}

type icsAttendee struct {
	icsAddress
	PartStat string // NEEDS-ACTION, ACCEPTED, DECLINED
}

type icsEvent struct {
	UID         string
	Sequence    int
	Stamp       time.Time
	Created     time.Time
	Modified    time.Time
	Start, End  time.Time
	Summary     string
	Location    string
	URL         string
	Description string
	Status      string // CONFIRMED or CANCELLED
	Organizer   icsAddress
	Attendees   []icsAttendee
}

// UID is the stable identifier of a conference in calendars.
func UID(conferenceID string) string { return conferenceID + "@" + uidDomain }

type icsWriter struct{ b bytes.Buffer }

// line writes one content line, folded.
func (w *icsWriter) line(s string) {
	const max = 75
	first := true
	for {
		limit := max
		if !first {
			limit = max - 1 // the leading space counts
		}
		if len(s) <= limit {
			if !first {
				w.b.WriteByte(' ')
			}
			w.b.WriteString(s)
			w.b.WriteString("\r\n")
			return
		}
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if !first {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(s[:cut])
		w.b.WriteString("\r\n")
		s = s[cut:]
		first = false
	}
}

func (w *icsWriter) prop(name, value string) { w.line(name + ":" + value) }

func (w *icsWriter) text(name, value string) {
	if value != "" {
		w.prop(name, escapeText(value))
	}
}

// escapeText escapes a TEXT value (RFC 5545 3.3.11); control characters
// other than newlines are dropped.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "\r\n", "\n") {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// paramValue renders a parameter value: quoted when it holds ':', ';' or
// ','; DQUOTE and control characters, which a parameter cannot hold, are
// dropped.
func paramValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, s)
	if strings.ContainsAny(s, ":;,") {
		return `"` + s + `"`
	}
	return s
}

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func utc(t time.Time) string { return t.UTC().Format(icsUTCForm) }

// calendar renders events under method (REQUEST, CANCEL or PUBLISH).
func calendar(method, name string, events []icsEvent) []byte {
	var w icsWriter
	w.prop("BEGIN", "VCALENDAR")
	w.prop("VERSION", "2.0")
	w.prop("PRODID", prodID)
	w.prop("CALSCALE", "GREGORIAN")
	w.prop("METHOD", method)
	if name != "" {
		w.text("X-WR-CALNAME", name)
	}
	for _, e := range events {
		w.prop("BEGIN", "VEVENT")
		w.prop("UID", clean(e.UID))
		w.prop("DTSTAMP", utc(e.Stamp))
		w.prop("CREATED", utc(e.Created))
		w.prop("LAST-MODIFIED", utc(e.Modified))
		w.prop("SEQUENCE", strconv.Itoa(e.Sequence))
		w.prop("DTSTART", utc(e.Start))
		w.prop("DTEND", utc(e.End))
		w.text("SUMMARY", e.Summary)
		w.text("LOCATION", e.Location)
		if e.URL != "" {
			w.prop("URL", clean(e.URL))
		}
		w.text("DESCRIPTION", e.Description)
		w.prop("STATUS", e.Status)
		w.prop("TRANSP", "OPAQUE")
		if e.Organizer.Email != "" {
			w.line("ORGANIZER;CN=" + paramValue(e.Organizer.Name) + ":mailto:" + clean(e.Organizer.Email))
		}
		for _, a := range e.Attendees {
			w.line("ATTENDEE;CN=" + paramValue(a.Name) + ";CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=" + a.PartStat +
				";RSVP=FALSE:mailto:" + clean(a.Email))
		}
		w.prop("END", "VEVENT")
	}
	w.prop("END", "VCALENDAR")
	return w.b.Bytes()
}
