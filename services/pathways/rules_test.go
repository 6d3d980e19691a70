package pathways_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"attivi/services/pathways"
)

func date(tb testing.TB, s string) time.Time {
	tb.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// A year of a borsa lavoro at 5.00 EUR an hour, capped at 400 EUR a month,
// and other rates: the allowance is min(cap, hours x rate), rounded to the
// cent half up, in integer cents.
func TestAllowanceByMonth(t *testing.T) {
	for _, tc := range []struct {
		month   string
		hours   string
		rate    int64
		cap     int64
		want    int64
		comment string
	}{
		{"2025-01", "0", 500, 40000, 0, "no attendance"},
		{"2025-02", "40", 500, 40000, 20000, "half the cap"},
		{"2025-03", "62.5", 500, 40000, 31250, "half hours"},
		{"2025-04", "79.75", 500, 40000, 39875, "a quarter hour short of the cap"},
		{"2025-05", "80", 500, 40000, 40000, "exactly the cap"},
		{"2025-06", "80.25", 500, 40000, 40000, "just over: capped"},
		{"2025-07", "120", 500, 40000, 40000, "far over: capped"},
		{"2025-08", "0.05", 550, 40000, 28, "3 minutes at 5.50 EUR: 27.5 cents rounds up"},
		{"2025-09", "0.1", 333, 40000, 33, "6 minutes at 3.33 EUR: 33.3 cents rounds down"},
		{"2025-10", "86.6", 462, 40000, 40000, "odd rate over the cap"},
		{"2025-11", "50.5", 462, 40000, 23331, "50.5 h x 4.62 EUR = 233.31 EUR"},
		{"2025-12", "100", 500, 0, 0, "no allowance (cap 0)"},
	} {
		minutes, err := pathways.ParseHours(tc.hours)
		if err != nil {
			t.Fatalf("%s: hours %q: %v", tc.month, tc.hours, err)
		}
		if got := pathways.Allowance(minutes, tc.rate, tc.cap); got != tc.want {
			t.Errorf("%s (%s): %s h at %d cents/h, cap %d: allowance %d cents, want %d", tc.month, tc.comment, tc.hours, tc.rate, tc.cap, got, tc.want)
		}
	}
}

func TestParseHours(t *testing.T) {
	for _, tc := range []struct {
		in      string
		minutes int
		ok      bool
	}{
		{"0", 0, true}, {"1", 60, true}, {"1.5", 90, true}, {"0.25", 15, true}, {"2.75", 165, true}, {"0.1", 6, true},
		{"0.05", 3, true}, {"7.50", 450, true}, {"480", 480 * 60, true},
		{"0.01", 0, false}, {"1.33", 0, false}, {"1.", 0, false}, {".5", 0, false}, {"-1", 0, false}, {"1e2", 0, false},
		{"1.234", 0, false}, {"", 0, false}, {"abc", 0, false}, {"1,5", 0, false},
	} {
		got, err := pathways.ParseHours(tc.in)
		if (err == nil) != tc.ok || got != tc.minutes {
			t.Errorf("ParseHours(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.minutes, tc.ok)
		}
	}
	for _, tc := range []struct {
		minutes int
		want    string
	}{{0, "0"}, {90, "1.5"}, {15, "0.25"}, {7, "0.12"}, {600, "10"}, {61, "1.02"}} {
		b, _ := json.Marshal(pathways.Hours(tc.minutes))
		if string(b) != tc.want {
			t.Errorf("Hours(%d) = %s, want %s", tc.minutes, b, tc.want)
		}
	}
}

// The length cap table and its arithmetic.
func TestLengthCaps(t *testing.T) {
	for _, tc := range []struct {
		kind, target string
		months       int
	}{
		{"tirocinio", "disabile_l68", 24},
		{"tirocinio", "salute_mentale", 12},
		{"percorso_in_azienda", "disabile_l68", 24},
		{"percorso_in_azienda", "salute_mentale", 12},
		{"inserimento_borsa_lavoro", "disabile_l68", 24},
		{"inserimento_borsa_lavoro", "salute_mentale", 24},
		{"formazione_esterna", "disabile_l68", 0},
		{"assunzione", "salute_mentale", 0},
		{"laboratorio_preformazione", "disabile_l68", 0},
	} {
		c, ok := pathways.MaxLength(tc.kind, tc.target)
		if got := c.Months; got != tc.months || ok != (tc.months > 0) {
			t.Errorf("MaxLength(%s, %s) = %d months (%v), want %d", tc.kind, tc.target, got, ok, tc.months)
		}
		if ok && c.Source == "" {
			t.Errorf("MaxLength(%s, %s) names no source", tc.kind, tc.target)
		}
	}
	for _, tc := range []struct {
		start  string
		months int
		want   string
	}{
		{"2025-01-15", 24, "2027-01-14"},
		{"2025-03-01", 12, "2026-02-28"},
		{"2024-03-01", 12, "2025-02-28"},
		{"2025-01-31", 1, "2025-02-27"}, // no 31 February: the term ends on the 28th
		{"2023-08-31", 6, "2024-02-28"}, // 2024 is a leap year: the term is the 29th
		{"2025-12-10", 6, "2026-06-09"},
	} {
		if got := pathways.LatestEnd(date(t, tc.start), tc.months).Format(time.DateOnly); got != tc.want {
			t.Errorf("LatestEnd(%s, %d) = %s, want %s", tc.start, tc.months, got, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	sc := func(vals ...int) map[string]pathways.Score {
		out := map[string]pathways.Score{}
		for i, a := range pathways.Areas {
			out[a] = pathways.Score{Score: vals[i]}
		}
		return out
	}
	c := pathways.Compare(pathways.Assessment{Scores: sc(3, 3, 2, 2, 2, 1, 3)}, pathways.Assessment{Scores: sc(2, 3, 3, 1, 2, 2, 3)})
	if !slices.Equal(c.Improved, []string{"functioning", "work_skills", "context_facilitators"}) ||
		!slices.Equal(c.Worsened, []string{"relational"}) ||
		!slices.Equal(c.Unchanged, []string{"autonomy", "motivation", "context_barriers"}) {
		t.Errorf("Compare: improved %v worsened %v unchanged %v", c.Improved, c.Worsened, c.Unchanged)
	}
	if a := c.Areas[5]; a.Area != "context_facilitators" || a.Change != 1 || a.Trend != "improved" {
		t.Errorf("facilitators (higher is better): %+v", a)
	}
}
