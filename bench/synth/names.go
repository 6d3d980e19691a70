package synth

// Small embedded lists for realistic-looking synthetic persons. Names are
// plain ASCII so that they need no transliteration for the fiscal code.

var maleNames = []string{
	"Alessandro", "Andrea", "Antonio", "Cristian", "Daniele", "Davide", "Edoardo", "Emanuele", "Enrico", "Fabio",
	"Federico", "Filippo", "Francesco", "Gabriele", "Giacomo", "Gianluca", "Giorgio", "Giovanni", "Giuseppe", "Jacopo",
	"Leonardo", "Lorenzo", "Luca", "Marco", "Mario", "Massimo", "Matteo", "Mattia", "Michele", "Niccolo",
	"Paolo", "Pietro", "Riccardo", "Roberto", "Salvatore", "Simone", "Stefano", "Tommaso", "Valerio", "Vincenzo",
}

var femaleNames = []string{
	"Alessandra", "Alice", "Anna", "Arianna", "Beatrice", "Benedetta", "Camilla", "Caterina", "Chiara", "Claudia",
	"Cristina", "Elena", "Elisa", "Federica", "Francesca", "Gaia", "Giada", "Giorgia", "Giulia", "Ilaria",
	"Irene", "Laura", "Lucia", "Marta", "Martina", "Maria", "Monica", "Noemi", "Paola", "Roberta",
	"Rosa", "Sara", "Serena", "Silvia", "Simona", "Sofia", "Stefania", "Teresa", "Valentina", "Veronica",
}

// familyNames: the commonest Italian surnames first, then Tuscan ones. The
// benchmark searches for "rossi", the first.
var familyNames = []string{
	"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
	"Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
	"Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone",
	"Longo", "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra", "Coppola", "De Santis", "D'Angelo", "Marchetti",
	"Parisi", "Villa", "Conte", "Ferraro", "Ferri", "Fabbri", "Bianco", "Marini", "Grasso", "Valentini",
	"Messina", "Sala", "De Angelis", "Gatti", "Pellegrini", "Palumbo", "Sanna", "Farina", "Rizzi", "Monti",
	"Bartolini", "Innocenti", "Mannelli", "Bandini", "Baldi", "Cappelli", "Cecchi", "Giannini", "Guidi", "Lazzeri",
	"Masini", "Nocentini", "Pieri", "Poggi", "Rosi", "Sarti", "Tognazzi", "Vannini", "Bartoli", "Borghini",
	"Calamai", "Chiti", "Frosini", "Lapini", "Mugnai", "Nardi", "Pratesi", "Salvadori", "Tarchi", "Zanieri",
}

// birthPlaces are Belfiore cadastral codes with weights: mostly Florence
// and the zone, some other Italian cities, some foreign states.
var birthPlaces = []weighted[string]{
	{"D612", 40}, // Firenze
	{"A564", 5},  // Bagno a Ripoli
	{"D575", 4},  // Figline Valdarno
	{"G825", 4},  // Pontassieve
	{"H222", 2},  // Reggello
	{"D583", 2},  // Fiesole
	{"G999", 3},  // Prato
	{"G702", 2},  // Pisa
	{"I726", 2},  // Siena
	{"A390", 2},  // Arezzo
	{"H501", 4},  // Roma
	{"F205", 3},  // Milano
	{"F839", 4},  // Napoli
	{"G273", 3},  // Palermo
	{"A662", 2},  // Bari
	{"Z100", 4},  // Albania
	{"Z129", 4},  // Romania
	{"Z330", 3},  // Marocco
	{"Z210", 1},  // Cina
	{"Z343", 2},  // Senegal
	{"Z138", 1},  // Ucraina
	{"Z611", 1},  // Peru
}

var streets = []string{
	"Via Roma", "Via Garibaldi", "Via Mazzini", "Via Cavour", "Via Dante Alighieri", "Via Matteotti", "Via XX Settembre",
	"Via Aretina", "Via Chiantigiana", "Via Fiorentina", "Via di Rosano", "Via Vittorio Veneto", "Via Leopardi",
	"Via Piave", "Via della Repubblica", "Via Gramsci", "Via Marconi", "Via Petrarca", "Via San Martino",
	"Piazza della Vittoria", "Viale Europa", "Via Montebello", "Via del Poggio", "Via Kennedy", "Via Bruno Buozzi",
}

// zoneWeights are the municipalities of the zone weighted by population
// (thousands of inhabitants, rounded).
var zoneWeights = map[string]int{
	"048001": 25, // Bagno a Ripoli
	"048054": 12, // Barberino Tavarnelle
	"048015": 14, // Fiesole
	"048052": 23, // Figline e Incisa Valdarno
	"048021": 14, // Greve in Chianti
	"048022": 15, // Impruneta
	"048025": 2,  // Londa
	"048032": 8,  // Pelago
	"048033": 20, // Pontassieve
	"048035": 16, // Reggello
	"048036": 9,  // Rignano sull'Arno
	"048037": 7,  // Rufina
	"048038": 17, // San Casciano in Val di Pesa
	"048039": 1,  // San Godenzo
}
