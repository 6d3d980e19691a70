package conferences

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Folding never splits a UTF-8 sequence and keeps lines within 75 octets.
func TestFoldKeepsRunesWhole(t *testing.T) {
	for _, n := range []int{10, 37, 38, 74, 75, 76, 200} {
		var w icsWriter
		value := strings.Repeat("è", n) + "x€"
		w.text("SUMMARY", value)
		out := w.b.String()
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("n=%d: no CRLF at the end", n)
		}
		var unfolded strings.Builder
		for i, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if len(l) > 75 || !utf8.ValidString(l) {
				t.Errorf("n=%d line %d: %d octets, valid UTF-8 %v", n, i, len(l), utf8.ValidString(l))
			}
			if i > 0 {
				if l[0] != ' ' {
					t.Fatalf("n=%d line %d: continuation without a space", n, i)
				}
				l = l[1:]
			}
			unfolded.WriteString(l)
		}
		if got := unfolded.String(); got != "SUMMARY:"+value {
			t.Errorf("n=%d: unfolded %q", n, got)
		}
	}
	if got := escapeText("a,b;c\\d\r\ne\x01"); got != `a\,b\;c\\d\ne` {
		t.Errorf("escapeText: %q", got)
	}
	if got := paramValue(`Rossi, "Ufficio": A`); got != `"Rossi, Ufficio: A"` {
		t.Errorf("paramValue: %q", got)
	}
}
