package tenants

import "time"

// The seed data of the network: DESIGN section 4. Slugs are stable
// identifiers that other records and API clients refer to: never rename one.

func day(s string) *time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// ZoneMunicipalities are the 14 municipalities of the zona fiorentina
// sud-est today, with their ISTAT codes.
var ZoneMunicipalities = []Municipality{
	{ISTATCode: "048001", Name: "Bagno a Ripoli", Province: "FI", InZone: true},
	{ISTATCode: "048054", Name: "Barberino Tavarnelle", Province: "FI", InZone: true, ValidFrom: day("2019-01-01")},
	{ISTATCode: "048015", Name: "Fiesole", Province: "FI", InZone: true, ZoneSince: day("2019-01-01")},
	{ISTATCode: "048052", Name: "Figline e Incisa Valdarno", Province: "FI", InZone: true, ValidFrom: day("2014-01-01")},
	{ISTATCode: "048021", Name: "Greve in Chianti", Province: "FI", InZone: true},
	{ISTATCode: "048022", Name: "Impruneta", Province: "FI", InZone: true},
	{ISTATCode: "048025", Name: "Londa", Province: "FI", InZone: true},
	{ISTATCode: "048032", Name: "Pelago", Province: "FI", InZone: true},
	{ISTATCode: "048033", Name: "Pontassieve", Province: "FI", InZone: true},
	{ISTATCode: "048035", Name: "Reggello", Province: "FI", InZone: true},
	{ISTATCode: "048036", Name: "Rignano sull'Arno", Province: "FI", InZone: true},
	{ISTATCode: "048037", Name: "Rufina", Province: "FI", InZone: true},
	{ISTATCode: "048038", Name: "San Casciano in Val di Pesa", Province: "FI", InZone: true},
	{ISTATCode: "048039", Name: "San Godenzo", Province: "FI", InZone: true},
}

// FormerMunicipalities are codes that older records may carry: municipalities
// merged into one of the zone's, valid until the day before the merger.
var FormerMunicipalities = []Municipality{
	{ISTATCode: "048003", Name: "Barberino Val d'Elsa", Province: "FI", ValidUntil: day("2018-12-31"), Successor: "048054"},
	{ISTATCode: "048045", Name: "Tavarnelle Val di Pesa", Province: "FI", ValidUntil: day("2018-12-31"), Successor: "048054"},
	{ISTATCode: "048019", Name: "Figline Valdarno", Province: "FI", ValidUntil: day("2013-12-31"), Successor: "048052"},
	{ISTATCode: "048023", Name: "Incisa in Val d'Arno", Province: "FI", ValidUntil: day("2013-12-31"), Successor: "048052"},
}

// SeedTenant is a tenant of the seed; parents come before their children.
type SeedTenant struct {
	Slug      string
	Name      string
	Kind      Kind
	Parent    string
	ISTATCode string
}

// Network returns the tenants of the network: one per municipality of the
// zone, USL Toscana Centro with its three units, the employment office, the
// coordination, and the third-sector and training organisations.
func Network() []SeedTenant {
	ts := make([]SeedTenant, 0, 31)
	for _, m := range ZoneMunicipalities {
		ts = append(ts, SeedTenant{Slug: "comune-" + slugify(m.Name), Name: "Comune di " + m.Name, Kind: KindMunicipality, ISTATCode: m.ISTATCode})
	}
	ts = append(ts,
		SeedTenant{Slug: "usl-toscana-centro", Name: "Azienda USL Toscana Centro", Kind: KindHealthService},
		SeedTenant{Slug: "serd-sud-est", Name: "SerD zona fiorentina sud-est", Kind: KindHealthService, Parent: "usl-toscana-centro"},
		SeedTenant{Slug: "ufsma-sud-est", Name: "UFSMA zona fiorentina sud-est (DSM)", Kind: KindHealthService, Parent: "usl-toscana-centro"},
		SeedTenant{Slug: "ufsmia-sud-est", Name: "UFSMIA zona fiorentina sud-est", Kind: KindHealthService, Parent: "usl-toscana-centro"},
		SeedTenant{Slug: "collocamento-mirato-firenze", Name: "Collocamento Mirato di Firenze", Kind: KindEmploymentOffice},
		SeedTenant{Slug: "coordinamento-attivi", Name: "Coordinamento del programma A.T.T.I.V.I.", Kind: KindCoordinator},
		SeedTenant{Slug: "caritas", Name: "Caritas", Kind: KindThirdSector},
		SeedTenant{Slug: "rti-athena-cte", Name: "R.T.I. Athena srl / C.T.E", Kind: KindTrainingAgency},
		SeedTenant{Slug: "coeso", Name: "CO&SO", Kind: KindThirdSector},
		SeedTenant{Slug: "formazione-coeso-network", Name: "Formazione CO&SO Network", Kind: KindTrainingAgency},
		SeedTenant{Slug: "arca", Name: "ARCA", Kind: KindThirdSector},
		SeedTenant{Slug: "coop-21", Name: "COOP 21", Kind: KindThirdSector},
		SeedTenant{Slug: "cat", Name: "CAT", Kind: KindThirdSector},
		SeedTenant{Slug: "giocolare", Name: "Giocolare", Kind: KindThirdSector},
		SeedTenant{Slug: "cristoforo", Name: "Cristoforo", Kind: KindThirdSector},
		SeedTenant{Slug: "consorzio-pegaso", Name: "Consorzio Pegaso", Kind: KindThirdSector},
		SeedTenant{Slug: "di-vittorio", Name: "Di Vittorio", Kind: KindThirdSector},
	)
	return ts
}

// slugify turns a municipality name into the lower-case ASCII words of a slug.
func slugify(name string) string {
	out := make([]byte, 0, len(name))
	dash := false
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			out = append(out, byte(r))
			dash = false
		case r >= 'A' && r <= 'Z':
			out = append(out, byte(r-'A'+'a'))
			dash = false
		default:
			if !dash && len(out) > 0 {
				out = append(out, '-')
				dash = true
			}
		}
	}
	if dash {
		out = out[:len(out)-1]
	}
	return string(out)
}
