package consents_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"attivi/services/consents"
	"attivi/storage/objects/objtest"
)

// pdfText reads back the text a form shows, one string per line, in page
// order: the strings of the Tj operators of its (uncompressed) content
// streams, decoded from WinAnsiEncoding. It also checks the cross-reference
// table, which a PDF reader relies on.
func pdfText(t *testing.T, pdf []byte) []string {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.4\n")) || !bytes.HasSuffix(pdf, []byte("%%EOF\n")) {
		t.Fatal("not a PDF file")
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no startxref")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(pdf[xref:], []byte("xref\n")) {
		t.Fatalf("startxref %d does not point to the xref table", xref)
	}
	for i, off := range regexp.MustCompile(`(\d{10}) 00000 n `).FindAllSubmatch(pdf[xref:], -1) {
		o, _ := strconv.Atoi(string(off[1]))
		if want := fmt.Sprintf("%d 0 obj\n", i+1); !bytes.HasPrefix(pdf[o:], []byte(want)) {
			t.Fatalf("xref entry %d points to %q", i+1, pdf[o:o+10])
		}
	}
	var lines []string
	dec := charmap.Windows1252.NewDecoder()
	for _, s := range regexp.MustCompile(`\(((?:\\.|[^\\)])*)\) Tj`).FindAllSubmatch(pdf, -1) {
		raw := unescapePDF(s[1])
		u, err := dec.Bytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(u))
	}
	return lines
}

func unescapePDF(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		i++
		if b[i] >= '0' && b[i] <= '7' && i+2 < len(b) {
			n, _ := strconv.ParseUint(string(b[i:i+3]), 8, 8)
			out = append(out, byte(n))
			i += 2
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// section returns the items listed under heading: bullet lines, with their
// continuation lines joined.
func section(lines []string, heading string, headings []string) []string {
	start := slices.Index(lines, heading)
	if start < 0 {
		return nil
	}
	var items []string
	for _, l := range lines[start+1:] {
		if slices.Contains(headings, l) {
			break
		}
		if item, ok := strings.CutPrefix(l, "• "); ok {
			items = append(items, item)
		} else if len(items) > 0 {
			items[len(items)-1] += " " + l
		}
	}
	return items
}

var formHeadings = []string{consents.FormPersonHeading, consents.FormBasisHeading, consents.FormPurposeHeading,
	consents.FormTenantsHeading, consents.FormCatsHeading, consents.FormValidHeading, consents.FormSignHeading}

func TestConsentForm(t *testing.T) {
	t.Parallel()
	d := newDocEnv(t, objtest.New(t))
	ctx := context.Background()
	var p string
	// A name with Italian accents, and letters WinAnsiEncoding lacks.
	err := d.db.GetContext(ctx, &p, `
INSERT INTO persons (fiscal_code, given_name, family_name, birth_date, sex, residence_istat, target_group, registered_by)
VALUES ('MZZNCC85M12D612X', 'Niccolò', 'Mazzà Ștefănescu', '1985-08-12', 'M', '048001', 'salute_mentale', $1) RETURNING id`,
		d.actors[owner].TenantID)
	if err != nil {
		t.Fatal(err)
	}
	d.link(p, owner, "owner")
	d.link(p, careTeam, "care_team")
	c := d.record(p, owner, body([]string{careTeam, "serd-sud-est", "kind:employment_office"}, []string{"social", "health", "employment"},
		set("purpose", "inserimento_lavorativo"), set("valid_from", "2026-03-01"), set("valid_until", "2027-02-28")))

	r := d.send("GET", "/api/v1/consents/"+c.ID+"/form.pdf", owner, nil, 0)
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("form: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	lines := pdfText(t, r.body)
	for _, want := range []string{
		consents.FormTitle,
		"Codice del consenso: " + c.ID,
		"Nome e cognome: Niccolò Mazzà Stefanescu",
		"Codice fiscale: MZZNCC85M12D612X",
		"Nato il 12/08/1985",
		"Dal 01/03/2026 al 28/02/2027 compreso",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("the form lacks the line %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	text := strings.Join(lines, " ")
	if !strings.Contains(text, "percorso di inserimento lavorativo (orientamento, bilancio delle competenze, tirocini, borsa lavoro)") {
		t.Errorf("the form does not name the purpose:\n%s", text)
	}
	if !strings.Contains(text, "consenso della persona interessata") {
		t.Errorf("the form does not name the legal basis:\n%s", text)
	}
	// Exactly the consent's grantees and categories: nothing more, nothing less.
	if got, want := section(lines, consents.FormTenantsHeading, formHeadings),
		[]string{"CO&SO", "SerD zona fiorentina sud-est", "gli uffici del Collocamento Mirato"}; !slices.Equal(got, want) {
		t.Errorf("tenants on the form %q, want %q", got, want)
	}
	if got, want := section(lines, consents.FormCatsHeading, formHeadings), []string{
		"situazione sociale e familiare",
		"dati relativi alla salute",
		"percorso lavorativo (bilancio delle competenze, piano d'azione, attività, tirocini, esiti)",
	}; !slices.Equal(got, want) {
		t.Errorf("categories on the form %q, want %q", got, want)
	}
	for _, h := range formHeadings {
		if !slices.Contains(lines, h) {
			t.Errorf("the form lacks the section %q", h)
		}
	}
	if !strings.Contains(text, "Firma della persona interessata") || !strings.Contains(text, "Comune di Bagno a Ripoli") {
		t.Errorf("the form lacks the signatures or the recorder:\n%s", text)
	}

	// A real PDF reader decodes the same text, accents included.
	if _, err := exec.LookPath("pdftotext"); err == nil {
		dir := t.TempDir()
		f := filepath.Join(dir, "form.pdf")
		if err := os.WriteFile(f, r.body, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("pdftotext", "-enc", "UTF-8", f, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext: %v %s", err, out)
		}
		for _, want := range []string{"Niccolò Mazzà Stefanescu", "SerD zona fiorentina sud-est", "dati relativi alla salute", "Finalità"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("pdftotext does not find %q in:\n%s", want, out)
			}
		}
	} else {
		t.Log("pdftotext is not installed: the form is checked by this test's own reader only")
	}

	// Reading the form reads the person's identity: both are logged.
	var reads int
	for _, l := range d.logOf(p, owner) {
		if l.Action == "read" && l.Decision == "allow" && (strings.Contains(l.Reason, "form of consent") || strings.Contains(l.Categories, "identity")) {
			reads++
		}
	}
	if reads < 2 {
		t.Errorf("the form's reads are not in the access log: %+v", d.logOf(p, owner))
	}

	t.Run("many grantees run over pages", func(t *testing.T) {
		var slugs []string
		if err := d.db.SelectContext(ctx, &slugs, `SELECT slug FROM tenants ORDER BY slug`); err != nil {
			t.Fatal(err)
		}
		cats := []string{"identity", "contact", "social", "health", "disability", "employment", "status"}
		c := d.record(p, owner, body(slugs, cats, set("purpose", "monitoraggio")))
		r := d.send("GET", "/api/v1/consents/"+c.ID+"/form.pdf", owner, nil, 0)
		if r.status != 200 {
			t.Fatalf("form: %d %s", r.status, r.body)
		}
		if pages := bytes.Count(r.body, []byte("/Type /Page ")); pages < 2 {
			t.Errorf("%d page(s) for %d grantees", pages, len(slugs))
		}
		lines := pdfText(t, r.body)
		names, err := tenantNames(d, slugs)
		if err != nil {
			t.Fatal(err)
		}
		if got := section(lines, consents.FormTenantsHeading, formHeadings); !slices.Equal(got, names) {
			t.Errorf("tenants on the form:\n%q\nwant\n%q", got, names)
		}
		if got := section(lines, consents.FormCatsHeading, formHeadings); len(got) != len(cats) {
			t.Errorf("categories on the form: %q", got)
		}
		if !slices.Contains(lines, "Dal "+time.Now().UTC().AddDate(0, 0, -10).Format("02/01/2006")+", senza scadenza, fino a revoca") {
			t.Errorf("validity without an end:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("who may have it", func(t *testing.T) {
		for as, want := range map[string]int{careTeam: 404, stranger: 404, owner2: 404, owner: 200} {
			if r := d.send("GET", "/api/v1/consents/"+c.ID+"/form.pdf", as, nil, 0); r.status != want {
				t.Errorf("form as %s: %d, want %d", as, r.status, want)
			}
		}
		if r := d.send("GET", "/api/v1/consents/00000000-0000-0000-0000-000000000000/form.pdf", owner, nil, 0); r.status != 404 {
			t.Errorf("form of no consent: %d, want 404", r.status)
		}
		d.do("POST", "/api/v1/consents/"+c.ID+"/revoke", owner, map[string]string{"reason": "revocato dalla persona"})
		if r := d.send("GET", "/api/v1/consents/"+c.ID+"/form.pdf", owner, nil, 0); r.status != 409 {
			t.Errorf("form of a revoked consent: %d, want 409", r.status)
		}
	})
}

// tenantNames are the names of the tenants, in the order of slugs.
func tenantNames(d *docEnv, slugs []string) ([]string, error) {
	out := make([]string, len(slugs))
	for i, s := range slugs {
		if err := d.db.GetContext(context.Background(), &out[i], `SELECT name FROM tenants WHERE slug = $1`, s); err != nil {
			return nil, err
		}
	}
	return out, nil
}
