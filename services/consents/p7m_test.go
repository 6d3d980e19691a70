package consents_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"attivi/apperr"
	"attivi/services/consents"
)

// pdfContent is a small document that sniffs as a PDF.
func pdfContent(n int) []byte {
	b := []byte("%PDF-1.4\n% modulo di consenso firmato\n")
	for len(b) < n {
		b = append(b, byte('a'+len(b)%26))
	}
	return b[:n]
}

func TestP7MVerification(t *testing.T) {
	t.Parallel()
	doc := pdfContent(5000)
	signedAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	for _, tc := range []struct {
		name string
		opts consents.P7MOptions
		doc  []byte
		// want: "" (valid), or the code and a part of the message
		code apperr.Code
		msg  string
	}{
		{name: "RSA, DER", opts: consents.P7MOptions{SigningTime: signedAt}},
		{name: "ECDSA", opts: consents.P7MOptions{Key: consents.NewECKey()}},
		{name: "BER, indefinite lengths, chunked content", opts: consents.P7MOptions{Indefinite: true, SigningTime: signedAt}},
		{name: "without signing-certificate-v2", opts: consents.P7MOptions{NoCertV2: true}},
		{name: "signature altered", opts: consents.P7MOptions{TamperSig: true}, code: apperr.Invalid, msg: "does not verify"},
		{name: "certificate attribute names another", opts: consents.P7MOptions{WrongCertV2: true}, code: apperr.Invalid, msg: "another certificate"},
		{name: "SHA-1", opts: consents.P7MOptions{SHA1: true}, code: apperr.Invalid, msg: "SHA-1"},
		{name: "detached", opts: consents.P7MOptions{Detached: true}, code: apperr.Invalid, msg: "detached"},
		{name: "certificate expired when signed", opts: consents.P7MOptions{SigningTime: time.Now().Add(-48 * time.Hour)},
			code: apperr.Invalid, msg: "not valid when the document was signed"},
		{name: "a program inside", doc: append([]byte("MZ\x90\x00"), bytes.Repeat([]byte{0}, 100)...), code: apperr.Unsupported, msg: "not a PDF"},
		{name: "an empty document inside", doc: []byte{}, code: apperr.Invalid, msg: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			content := doc
			if tc.doc != nil {
				content = tc.doc
			}
			p7m, cert, err := consents.BuildP7M(content, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			signers, inner, err := consents.ParseP7MForTest(p7m)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("valid envelope refused: %v", err)
				}
				if len(signers) != 1 || signers[0].Subject != cert.Subject.String() || inner != consents.TypePDF {
					t.Errorf("signers %+v inner %q, want %q and a PDF", signers, inner, cert.Subject.String())
				}
				if !tc.opts.SigningTime.IsZero() && (signers[0].SignedAt == nil || !signers[0].SignedAt.Equal(tc.opts.SigningTime)) {
					t.Errorf("signed at %v, want %v", signers[0].SignedAt, tc.opts.SigningTime)
				}
				return
			}
			if apperr.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %s mentioning %q", err, tc.code, tc.msg)
			}
		})
	}

	t.Run("document changed after signing", func(t *testing.T) {
		t.Parallel()
		p7m, _, err := consents.BuildP7M(doc, consents.P7MOptions{})
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(p7m, doc[100:120])
		p7m[i] ^= 0x20
		if _, _, err := consents.ParseP7MForTest(p7m); apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "changed after it was signed") {
			t.Errorf("got %v, want a refusal saying the document changed", err)
		}
	})
	t.Run("truncated, or with data after it", func(t *testing.T) {
		t.Parallel()
		p7m, _, err := consents.BuildP7M(doc, consents.P7MOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{p7m[:len(p7m)-10], p7m[:200], append(append([]byte{}, p7m...), 0x00)} {
			if _, _, err := consents.ParseP7MForTest(b); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%d bytes: got %v, want invalid", len(b), err)
			}
		}
	})
}

// TestP7MFromOpenSSL checks envelopes made by another implementation:
// OpenSSL's CAdES signer, in DER and in streamed BER.
func TestP7MFromOpenSSL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "doc.pdf"), pdfContent(100_000), 0o600); err != nil {
		t.Fatal(err)
	}
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2",
		"-subj", "/C=IT/O=Prova/CN=Giulia Bianchi/serialNumber=TINIT-BNCGLI85M41D612K")
	for _, variant := range [][]string{{}, {"-stream"}} {
		args := append([]string{"cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "sha256", "-cades",
			"-in", "doc.pdf", "-signer", "cert.pem", "-inkey", "key.pem", "-out", "doc.p7m"}, variant...)
		run(args...)
		p7m, err := os.ReadFile(filepath.Join(dir, "doc.p7m"))
		if err != nil {
			t.Fatal(err)
		}
		if typ, err := consents.SniffForTest(p7m[:32]); err != nil || typ != consents.TypeP7M {
			t.Errorf("openssl %v: sniffed %q, %v", variant, typ, err)
		}
		signers, inner, err := consents.ParseP7MForTest(p7m)
		if err != nil {
			t.Fatalf("openssl %v: %v", variant, err)
		}
		if len(signers) != 1 || !strings.Contains(signers[0].Subject, "CN=Giulia Bianchi") || inner != consents.TypePDF || signers[0].SignedAt == nil {
			t.Errorf("openssl %v: signers %+v inner %q", variant, signers, inner)
		}
		// A changed byte of the document is caught.
		i := bytes.Index(p7m, []byte("modulo di consenso"))
		p7m[i] = 'M'
		if _, _, err := consents.ParseP7MForTest(p7m); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("openssl %v, tampered: %v, want invalid", variant, err)
		}
	}
}

func TestSniff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		head string
		want string
		code apperr.Code
	}{
		{head: "%PDF-1.7\n", want: consents.TypePDF},
		{head: "\xFF\xD8\xFF\xE0\x00\x10JFIF", want: consents.TypeJPEG},
		{head: "\x89PNG\r\n\x1A\n\x00\x00", want: consents.TypePNG},
		{head: "\x30\x80\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02\xA0\x80", want: consents.TypeP7M},
		{head: "\x30\x82\x06\x44\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02", want: consents.TypeP7M},
		{head: "\x30\x82\x06\x44\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x01", code: apperr.Unsupported}, // data, not signed
		{head: "MZ\x90\x00\x03\x00\x00\x00", code: apperr.Unsupported},                                   // a renamed .exe
		{head: "\x7FELF\x02\x01\x01", code: apperr.Unsupported},
		{head: "#!/bin/sh\n", code: apperr.Unsupported},
		{head: "PK\x03\x04\x14\x00", code: apperr.Unsupported}, // an office file
		{head: "MIIGRAYJKoZIhvcNAQcCoIIG", code: apperr.Unsupported},
		{head: "consenso firmato", code: apperr.Unsupported},
		{head: "", code: apperr.Invalid},
	} {
		got, err := consents.SniffForTest([]byte(tc.head))
		if got != tc.want || apperr.CodeOf(err) != tc.code && err != nil || (err == nil) != (tc.code == "") {
			t.Errorf("sniff(%q) = %q, %v; want %q, %s", tc.head, got, err, tc.want, tc.code)
		}
	}
}
