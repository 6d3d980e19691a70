package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"attivi/server"
)

// TestStatusByFiscalCode: the employment office checks the status of a
// person on its L.68 lists by the fiscal code it already holds, and learns
// nothing else; a tenant that may not see the person, a person outside its
// remit and a code nobody has all get the same 404.
func TestStatusByFiscalCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, server.DefaultOptions)
	f.user(t, "comune-bagno-a-ripoli", "as@bagno.example", "social_worker")
	f.user(t, "collocamento-mirato-firenze", "cm@collocamento.example", "placement_officer")
	f.user(t, "coeso", "op@coeso.example", "job_coach")
	owner, office, coop := f.login(t, "as@bagno.example"), f.login(t, "cm@collocamento.example"), f.login(t, "op@coeso.example")
	register := func(code, family, targetGroup string) string {
		t.Helper()
		status, body := f.call(t, "POST", "/api/v1/persons", owner, "", `{"fiscal_code":"`+code+`","given_name":"Mario","family_name":"`+family+
			`","birth_date":"1985-12-10","sex":"M","residence_istat":"048001","target_group":"`+targetGroup+`"}`)
		if status != 201 {
			t.Fatalf("register %s: %d %v", code, status, body)
		}
		return body["id"].(string)
	}
	l68 := register("RSSMRA85T10A562S", "Rossi", "disabile_l68")
	register("BNCMRA85T10A562Y", "Bianchi", "salute_mentale")

	// The office: the status, and no identity.
	req := "/api/v1/status?fiscal_code="
	status, body := f.call(t, "GET", req+"rssmra85t10a562s", office, "", "")
	if status != 200 || body["person_id"] != l68 || body["enrolled"] == nil {
		t.Fatalf("office checks an L.68 participant: %d %v", status, body)
	}
	raw, _ := json.Marshal(body)
	for _, leak := range []string{"Rossi", "Mario", "RSSMRA", "1985", "048001"} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("the status answer holds %q: %s", leak, raw)
		}
	}
	// Not found, alike: outside its remit, no link, nobody with that code.
	notFound := func(who, token, code string) {
		t.Helper()
		status, body := f.call(t, "GET", req+code, token, "", "")
		if status != 404 || errCode(body) != "not_found" {
			t.Errorf("%s, %s: %d %v, want 404", who, code, status, body)
		}
	}
	notFound("office, a mental-health participant", office, "BNCMRA85T10A562Y")
	notFound("cooperative without a link", coop, "RSSMRA85T10A562S")
	notFound("office, a code nobody has", office, "VRDLGU80A01D612U")
	// Bad requests name the parameter.
	for _, q := range []string{"", "RSSMRA85T10A562Q", "123"} {
		status, body := f.call(t, "GET", req+q, office, "", "")
		fields, _ := body["error"].(map[string]any)["fields"].(map[string]any)
		if status != 400 || fields["fiscal_code"] == nil {
			t.Errorf("fiscal_code=%q: %d %v, want 400 naming fiscal_code", q, status, body)
		}
	}
	// The reads and the refusals are in the access log.
	var allowed, denied int
	if err := f.db.Get(&allowed, `SELECT count(*) FROM access_log a JOIN tenants t ON t.id = a.tenant_id
		WHERE t.slug = 'collocamento-mirato-firenze' AND a.decision = 'allow' AND 'status' = ANY(a.categories)`); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Get(&denied, `SELECT count(*) FROM access_log a JOIN tenants t ON t.id = a.tenant_id
		WHERE t.slug IN ('collocamento-mirato-firenze', 'coeso') AND a.decision = 'deny'`); err != nil {
		t.Fatal(err)
	}
	if allowed != 1 || denied != 2 {
		t.Errorf("access log: %d status reads and %d refusals, want 1 and 2", allowed, denied)
	}
}
