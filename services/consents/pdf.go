package consents

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

// A small PDF writer for text forms: A4 pages, the standard Helvetica fonts
// in WinAnsiEncoding (so Italian accents need no embedded font), text and
// lines. Content streams are left uncompressed: the form is a few KB, and
// its text can be read back as it was written (the tests do).

const (
	pageWidth  = 595.28 // A4, in points
	pageHeight = 841.89
)

type pdfFont int

const (
	fontRegular pdfFont = iota // /F1 Helvetica
	fontBold                   // /F2 Helvetica-Bold
)

type pdfWriter struct {
	pages []*bytes.Buffer
	title string
}

func (w *pdfWriter) newPage() *bytes.Buffer {
	p := &bytes.Buffer{}
	w.pages = append(w.pages, p)
	return p
}

func (w *pdfWriter) page() *bytes.Buffer {
	if len(w.pages) == 0 {
		return w.newPage()
	}
	return w.pages[len(w.pages)-1]
}

// text writes s (UTF-8) at x, y (points from the bottom left).
func (w *pdfWriter) text(f pdfFont, size, x, y float64, s string) {
	fmt.Fprintf(w.page(), "BT /F%d %.1f Tf %.2f %.2f Td %s Tj ET\n", int(f)+1, size, x, y, pdfString(winAnsi(s)))
}

// line draws a thin line from x1, y1 to x2, y2.
func (w *pdfWriter) line(x1, y1, x2, y2 float64) {
	fmt.Fprintf(w.page(), "0.5 w %.2f %.2f m %.2f %.2f l S\n", x1, y1, x2, y2)
}

// bytes renders the document.
func (w *pdfWriter) bytes() []byte {
	if len(w.pages) == 0 {
		w.newPage()
	}
	var out bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	out.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	// 1 catalog, 2 pages, 3 and 4 fonts, 5 info, then a page and its
	// content for each page.
	kids := make([]string, len(w.pages))
	for i := range w.pages {
		kids[i] = fmt.Sprintf("%d 0 R", 6+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(w.pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	obj(fmt.Sprintf("<< /Title %s /Producer (attivi) >>", pdfTextString(w.title)))
	for i, p := range w.pages {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>",
			pageWidth, pageHeight, 7+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", p.Len(), p.Bytes()))
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return out.Bytes()
}

// pdfString is a literal string of WinAnsi bytes: parentheses and
// backslashes escaped, bytes outside printable ASCII in octal.
func pdfString(b []byte) string {
	var s strings.Builder
	s.WriteByte('(')
	for _, c := range b {
		switch {
		case c == '(' || c == ')' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c < 0x20 || c > 0x7E:
			fmt.Fprintf(&s, "\\%03o", c)
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte(')')
	return s.String()
}

// pdfTextString is a text string for the document information: UTF-16BE
// with a byte order mark, in hex.
func pdfTextString(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

// winAnsiHigh maps the characters of WinAnsiEncoding (Windows-1252) in
// 0x80..0x9F; 0xA0..0xFF are Latin-1, as in Unicode.
var winAnsiHigh = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88, '‰': 0x89,
	'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95,
	'–': 0x96, '—': 0x97, '˜': 0x98, '™': 0x99, 'š': 0x9A, '›': 0x9B, 'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F,
}

// winAnsiByte encodes one character, if WinAnsiEncoding has it.
func winAnsiByte(r rune) (byte, bool) {
	switch {
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xFF:
		return byte(r), true
	}
	b, ok := winAnsiHigh[r]
	return b, ok
}

// winAnsi encodes s for the standard fonts. A character WinAnsiEncoding
// lacks is written without its accents when that helps (ș -> s, ł -> l: names
// from all over Europe), and as '?' otherwise.
func winAnsi(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r == '\t' || r == '\n' {
			r = ' '
		}
		if b, ok := winAnsiByte(r); ok {
			out = append(out, b)
			continue
		}
		out = append(out, fallback(r))
	}
	return out
}

var specialFallbacks = map[rune]byte{'ł': 'l', 'Ł': 'L', 'đ': 'd', 'Đ': 'D', 'ı': 'i', 'ø': 'o'}

func fallback(r rune) byte {
	if b, ok := specialFallbacks[r]; ok {
		return b
	}
	for _, d := range norm.NFD.String(string(r)) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		if b, ok := winAnsiByte(d); ok {
			return b
		}
		break
	}
	return '?'
}

// Character widths of the standard fonts (Adobe's AFM files), in thousandths
// of the font size, for ASCII 0x20..0x7E; accented letters take their base
// letter's width.
var helveticaWidths = [95]int{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
}

var helveticaBoldWidths = [95]int{
	278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
	975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
	333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
	611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
}

// textWidth is the width of s in points.
func textWidth(f pdfFont, size float64, s string) float64 {
	table := &helveticaWidths
	if f == fontBold {
		table = &helveticaBoldWidths
	}
	total := 0
	for _, c := range winAnsi(s) {
		switch {
		case c >= 0x20 && c <= 0x7E:
			total += table[c-0x20]
		case c == 0xEC || c == 0xED || c == 0xEE || c == 0xEF: // ì í î ï
			total += 278
		case c >= 0xC0:
			base := fallback(rune(c))
			if base >= 0x20 && base <= 0x7E {
				total += table[base-0x20]
			} else {
				total += 611
			}
		case c == 0x95: // bullet
			total += 350
		case c == 0x97 || c == 0x85 || c == 0x89: // em dash, ellipsis, per mille
			total += 1000
		default:
			total += 556
		}
	}
	return float64(total) * size / 1000
}

// wrap splits s into lines no wider than width.
func wrap(f pdfFont, size, width float64, s string) []string {
	words := strings.Fields(s)
	var lines []string
	cur := ""
	for _, w := range words {
		next := w
		if cur != "" {
			next = cur + " " + w
		}
		if cur != "" && textWidth(f, size, next) > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		cur = next
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}
