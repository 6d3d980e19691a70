package tenants_test

import (
	"context"
	"testing"
	"time"

	"attivi/storage/postgres/pgtest"
	"attivi/tenants"
)

func allMunicipalities() []tenants.Municipality {
	return append(append([]tenants.Municipality{}, tenants.ZoneMunicipalities...), tenants.FormerMunicipalities...)
}

func TestSeedIsCompleteAndIdempotent(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	store := tenants.NewStore(db)

	first, err := store.Seed(ctx, allMunicipalities(), tenants.Network())
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if first.TenantsInserted != 31 || first.MunicipalitiesInserted != 18 {
		t.Errorf("first seed inserted %d tenants and %d municipalities, want 31 and 18", first.TenantsInserted, first.MunicipalitiesInserted)
	}
	second, err := store.Seed(ctx, allMunicipalities(), tenants.Network())
	if err != nil {
		t.Fatalf("second seed: %v", err)
	}
	if second.Changed() {
		t.Errorf("second seed changed %+v, want nothing", second)
	}

	ts, err := store.List(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 31 {
		t.Fatalf("directory has %d tenants, want 31", len(ts))
	}
	bySlug := map[string]tenants.Tenant{}
	kinds := map[tenants.Kind]int{}
	for _, tn := range ts {
		bySlug[tn.Slug] = tn
		kinds[tn.Kind]++
	}
	wantKinds := map[tenants.Kind]int{
		tenants.KindMunicipality: 14, tenants.KindHealthService: 4, tenants.KindEmploymentOffice: 1,
		tenants.KindCoordinator: 1, tenants.KindThirdSector: 9, tenants.KindTrainingAgency: 2,
	}
	for k, want := range wantKinds {
		if kinds[k] != want {
			t.Errorf("%d tenants of kind %s, want %d", kinds[k], k, want)
		}
	}

	wantISTAT := map[string]string{
		"comune-bagno-a-ripoli": "048001", "comune-barberino-tavarnelle": "048054", "comune-fiesole": "048015",
		"comune-figline-e-incisa-valdarno": "048052", "comune-greve-in-chianti": "048021", "comune-impruneta": "048022",
		"comune-londa": "048025", "comune-pelago": "048032", "comune-pontassieve": "048033", "comune-reggello": "048035",
		"comune-rignano-sull-arno": "048036", "comune-rufina": "048037", "comune-san-casciano-in-val-di-pesa": "048038",
		"comune-san-godenzo": "048039",
	}
	for slug, code := range wantISTAT {
		if got := bySlug[slug].ISTATCode; got != code {
			t.Errorf("%s: ISTAT code %q, want %q", slug, got, code)
		}
	}
	for _, unit := range []string{"serd-sud-est", "ufsma-sud-est", "ufsmia-sud-est"} {
		if got := bySlug[unit].ParentSlug; got != "usl-toscana-centro" {
			t.Errorf("%s: parent %q, want usl-toscana-centro", unit, got)
		}
	}
}

func TestSeedUpdatesChangedValuesOnly(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, allMunicipalities(), tenants.Network()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE tenants SET name = 'vecchio nome' WHERE slug = 'caritas'`); err != nil {
		t.Fatal(err)
	}
	res, err := store.Seed(ctx, allMunicipalities(), tenants.Network())
	if err != nil {
		t.Fatal(err)
	}
	if res.TenantsUpdated != 1 || res.TenantsInserted != 0 || res.MunicipalitiesUpdated != 0 {
		t.Errorf("reseed after a rename = %+v, want exactly one tenant updated", res)
	}
	got, err := store.BySlug(ctx, "caritas")
	if err != nil || got.Name != "Caritas" {
		t.Errorf("caritas after reseed = %q (err %v), want the seed name back", got.Name, err)
	}
}

func TestMunicipalityReferenceResolvesMergers(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	store := tenants.NewStore(db)
	if _, err := store.Seed(ctx, allMunicipalities(), tenants.Network()); err != nil {
		t.Fatal(err)
	}
	ms, err := store.Municipalities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]tenants.Municipality{}
	for _, m := range ms {
		by[m.ISTATCode] = m
	}
	before := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)
	after := time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, old := range []string{"048003", "048045"} {
		m := by[old]
		if m.Successor != "048054" {
			t.Errorf("%s: successor %q, want 048054", old, m.Successor)
		}
		if !m.ValidOn(before) || m.ValidOn(after) {
			t.Errorf("%s: valid on 2018-06-01 = %v and on 2019-06-01 = %v, want true and false", old, m.ValidOn(before), m.ValidOn(after))
		}
	}
	if bt := by["048054"]; bt.ValidOn(before) || !bt.ValidOn(after) || !bt.InZone {
		t.Errorf("048054 Barberino Tavarnelle: valid 2018 %v, 2019 %v, in zone %v; want false, true, true", bt.ValidOn(before), bt.ValidOn(after), bt.InZone)
	}
	inZone := 0
	for _, m := range ms {
		if m.InZone {
			inZone++
		}
	}
	if inZone != 14 {
		t.Errorf("%d municipalities in the zone, want 14", inZone)
	}
}
