package consents

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzP7M feeds damaged envelopes to the verifier: it must refuse them
// with an application error, never panic or hang, and accept nothing that
// is not a verified signature.
func FuzzP7M(f *testing.F) {
	doc := append([]byte("%PDF-1.4\n"), make([]byte, 300)...)
	// ECDSA keys: generating RSA keys in a coverage-instrumented fuzz
	// worker takes minutes.
	for _, o := range []P7MOptions{{Key: NewECKey()}, {Key: NewECKey(), Indefinite: true}} {
		b, _, err := BuildP7M(doc, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The parser itself, without the pipe an upload feeds it through.
		res := parseP7M(bufio.NewReader(bytes.NewReader(b)))
		signers, err := res.signers, res.err
		if err == nil && len(signers) == 0 {
			t.Fatal("an envelope without a verified signer was accepted")
		}
		if err != nil && signers != nil {
			t.Fatal("signers returned with an error")
		}
	})
}

func FuzzSniff(f *testing.F) {
	for _, s := range []string{"%PDF-1.4", "\xFF\xD8\xFF", "\x89PNG\r\n\x1A\n", "\x30\x80\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02", "MZ", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, err := sniff(b)
		if (typ == "") == (err == nil) {
			t.Fatalf("sniff(%q) = %q, %v", b, typ, err)
		}
	})
}
