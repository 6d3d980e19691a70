package consents

import (
	"fmt"
	"strings"
	"time"

	"attivi/policies"
	"attivi/tenants"
)

// The ready-to-sign consent form (GET /api/v1/consents/{id}/form.pdf): a PDF
// in Italian that says exactly what the platform enforces for the consent:
// the person, the legal basis, the purpose, every grantee (tenant or kind of
// tenant), every category of data, and the validity, with space for the
// signatures. Nothing in it comes from free text: each line is the Italian
// label of a value of the consent record, so what the person signs is what
// the grants say.

// Italian labels of the values of a consent.
var (
	basisLabels = map[string]string{
		BasisConsent:    "consenso della persona interessata (artt. 6, par. 1, lett. a, e 9, par. 2, lett. a, del Regolamento UE 2016/679)",
		BasisAdesione:   "adesione al programma A.T.T.I.V.I.",
		BasisPublicTask: "esecuzione di un compito di interesse pubblico (art. 6, par. 1, lett. e, del Regolamento UE 2016/679)",
	}
	purposeLabels = map[string]string{
		PurposePresaInCarico:         "presa in carico da parte dei servizi sociali e sanitari",
		PurposeInserimentoLavorativo: "percorso di inserimento lavorativo (orientamento, bilancio delle competenze, tirocini, borsa lavoro)",
		PurposeCaseConference:        "riunioni di rete tra i servizi (équipe, UVM)",
		PurposeMonitoraggio:          "monitoraggio e valutazione del programma",
		PurposeComunicazione:         "comunicazione dei risultati del programma (e-book, video documentario, convegno finale)",
	}
	categoryLabels = map[string]string{
		policies.CatIdentity:   "dati anagrafici (nome e cognome, codice fiscale, data e luogo di nascita, sesso, residenza)",
		policies.CatContact:    "recapiti (telefono, e-mail, indirizzo)",
		policies.CatSocial:     "situazione sociale e familiare",
		policies.CatHealth:     "dati relativi alla salute",
		policies.CatDisability: "disabilità (iscrizione ai sensi della L. 68/1999, percentuale di invalidità)",
		policies.CatEmployment: "percorso lavorativo (bilancio delle competenze, piano d'azione, attività, tirocini, esiti)",
		policies.CatStatus:     "stato nel programma (iscrizione, fase del percorso, inserimento in corso e sue date)",
	}
	kindLabels = map[tenants.Kind]string{
		tenants.KindMunicipality:     "tutti i Comuni della rete",
		tenants.KindHealthService:    "tutti i servizi sanitari della rete",
		tenants.KindEmploymentOffice: "gli uffici del Collocamento Mirato",
		tenants.KindThirdSector:      "tutti gli enti del terzo settore della rete",
		tenants.KindTrainingAgency:   "tutte le agenzie formative della rete",
		tenants.KindCoordinator:      "il coordinamento del programma",
	}
)

func label(m map[string]string, v string) string {
	if l, ok := m[v]; ok {
		return l
	}
	return v
}

// FormPerson is who the form is about.
type FormPerson struct {
	GivenName, FamilyName, FiscalCode, Sex string
	BirthDate                              time.Time
}

// FormData is everything the form says.
type FormData struct {
	Consent      Consent
	Person       FormPerson
	TenantNames  map[string]string // grantee slug -> name
	RecorderName string
}

// Form section titles (the tests read the form back by them).
const (
	FormTitle          = "Modulo di consenso al trattamento dei dati personali"
	FormPersonHeading  = "Persona interessata"
	FormBasisHeading   = "Base giuridica"
	FormPurposeHeading = "Finalità"
	FormTenantsHeading = "Enti che possono ricevere i dati"
	FormCatsHeading    = "Categorie di dati"
	FormValidHeading   = "Validità"
	FormSignHeading    = "Firme"
	formBullet         = "• "
)

// GranteeLabel is the Italian name of a grantee on the form.
func GranteeLabel(g string, names map[string]string) string {
	if k, ok := strings.CutPrefix(g, KindPrefix); ok {
		if l, ok := kindLabels[tenants.Kind(k)]; ok {
			return l
		}
		return g
	}
	if n, ok := names[g]; ok && n != "" {
		return n
	}
	return g
}

// CategoryLabel is the Italian name of a data category on the form.
func CategoryLabel(c string) string { return label(categoryLabels, c) }

// italianDate writes a day as 31/12/2025.
func italianDate(t time.Time) string { return t.Format("02/01/2006") }

// formLayout places text on pages, top to bottom, with a new page when one
// is full.
type formLayout struct {
	pdf *pdfWriter
	y   float64
}

const (
	marginX      = 56.69 // 2 cm
	marginTop    = 56.69
	marginBottom = 56.69
	textWidthMax = pageWidth - 2*marginX
)

func (l *formLayout) need(h float64) {
	if len(l.pdf.pages) == 0 || l.y-h < marginBottom {
		l.pdf.newPage()
		l.y = pageHeight - marginTop
	}
}

func (l *formLayout) para(f pdfFont, size float64, indent float64, s string) {
	lead := size * 1.35
	for _, line := range wrap(f, size, textWidthMax-indent, s) {
		l.need(lead)
		l.y -= lead
		l.pdf.text(f, size, marginX+indent, l.y, line)
	}
}

// bullet writes an item whose continuation lines align after the bullet.
func (l *formLayout) bullet(size float64, s string) {
	lead := size * 1.35
	indent := textWidth(fontRegular, size, formBullet)
	for i, line := range wrap(fontRegular, size, textWidthMax-12-indent, s) {
		l.need(lead)
		l.y -= lead
		if i == 0 {
			l.pdf.text(fontRegular, size, marginX+12, l.y, formBullet+line)
		} else {
			l.pdf.text(fontRegular, size, marginX+12+indent, l.y, line)
		}
	}
}

func (l *formLayout) heading(s string) {
	l.gap(8)
	l.para(fontBold, 11.5, 0, s)
	l.gap(2)
}

func (l *formLayout) gap(h float64) {
	l.need(h)
	l.y -= h
}

// signature writes a label over a line to sign on.
func (l *formLayout) signature(s string) {
	l.need(48)
	l.gap(30)
	l.pdf.line(marginX, l.y, marginX+260, l.y)
	l.y -= 12
	l.pdf.text(fontRegular, 9, marginX, l.y, s)
}

// renderForm writes the form of d as a PDF.
func renderForm(d FormData) []byte {
	c := d.Consent
	l := &formLayout{pdf: &pdfWriter{title: FormTitle}}
	l.para(fontBold, 15, 0, FormTitle)
	l.para(fontRegular, 10, 0, "Programma A.T.T.I.V.I. (Azioni Trasversali Territoriali di Inserimento per la Valorizzazione Individuale), zona socio-sanitaria fiorentina sud-est")
	l.para(fontRegular, 9, 0, "Codice del consenso: "+c.ID)

	l.heading(FormPersonHeading)
	p := d.Person
	l.para(fontRegular, 10.5, 0, "Nome e cognome: "+p.GivenName+" "+p.FamilyName)
	l.para(fontRegular, 10.5, 0, "Codice fiscale: "+p.FiscalCode)
	born := "Nato/a il "
	switch p.Sex {
	case "F":
		born = "Nata il "
	case "M":
		born = "Nato il "
	}
	l.para(fontRegular, 10.5, 0, born+italianDate(p.BirthDate))

	l.heading(FormBasisHeading)
	l.para(fontRegular, 10.5, 0, label(basisLabels, c.Basis))

	l.heading(FormPurposeHeading)
	l.para(fontRegular, 10.5, 0, label(purposeLabels, c.Purpose))

	l.heading(FormTenantsHeading)
	l.para(fontRegular, 9.5, 0, "Solo gli enti qui elencati possono ricevere i dati indicati sotto, per la finalità indicata sopra:")
	for _, g := range c.Grantees {
		l.bullet(10.5, GranteeLabel(g, d.TenantNames))
	}

	l.heading(FormCatsHeading)
	l.para(fontRegular, 9.5, 0, "Possono essere comunicate solo queste categorie di dati:")
	for _, cat := range c.Categories {
		l.bullet(10.5, CategoryLabel(cat))
	}

	l.heading(FormValidHeading)
	valid := "Dal " + italianDate(c.ValidFrom)
	if c.ValidUntil != nil {
		valid += " al " + italianDate(*c.ValidUntil) + " compreso"
	} else {
		valid += ", senza scadenza, fino a revoca"
	}
	l.para(fontRegular, 10.5, 0, valid)

	l.gap(6)
	l.para(fontRegular, 9, 0, fmt.Sprintf("Il consenso è raccolto da %s, che ne conserva l'originale firmato. "+
		"La persona interessata può revocarlo in qualsiasi momento, rivolgendosi allo stesso ente: la revoca vale da subito "+
		"e non pregiudica la liceità del trattamento svolto prima (art. 7, par. 3, del Regolamento UE 2016/679). "+
		"Ha inoltre diritto di accedere ai propri dati, di sapere chi li ha consultati, di chiederne la rettifica "+
		"e di proporre reclamo al Garante per la protezione dei dati personali (artt. 15-22 e 77).", d.RecorderName))

	l.heading(FormSignHeading)
	l.signature("Luogo e data")
	l.signature("Firma della persona interessata (o di chi ne ha la rappresentanza legale)")
	l.signature("Firma dell'operatore o dell'operatrice, per " + d.RecorderName)
	return l.pdf.bytes()
}
