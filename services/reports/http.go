package reports

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/services/pathways"
	"attivi/tenants"
)

// Handler serves the reports API.
type Handler struct {
	svc *Service
}

// NewHandler returns the HTTP handlers of reports.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Indicators answers GET /api/v1/reports/indicators?from=&to=&format=json|csv|xlsx.
// csv and xlsx are downloads (an export: the roles must allow it).
func (h *Handler) Indicators(c *fiber.Ctx) error {
	a, err := tenants.RequireActor(c.UserContext())
	if err != nil {
		return err
	}
	format := c.Query("format", "json")
	if format != "json" && format != "csv" && format != "xlsx" {
		return &apperr.Error{Code: apperr.Malformed, Message: "the report format is not known",
			Fields: map[string]string{"format": "must be json, csv or xlsx"}}
	}
	from, to, err := h.svc.Period(c.Query("from"), c.Query("to"))
	if err != nil {
		return err
	}
	ind, err := h.svc.Indicators(c.UserContext(), a, from, to, format != "json")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	name := fmt.Sprintf("indicatori-attivi-%s-%s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	var buf bytes.Buffer
	switch format {
	case "csv":
		if err := writeCSV(&buf, ind); err != nil {
			return fmt.Errorf("write the indicators as CSV: %w", err)
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	case "xlsx":
		if err := WriteXLSX(&buf, workbook(ind)); err != nil {
			return fmt.Errorf("write the indicators as a workbook: %w", err)
		}
		c.Set(fiber.HeaderContentType, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.xlsx"`)
	default:
		return c.JSON(ind)
	}
	return c.Send(buf.Bytes())
}

// writeCSV writes the indicators in long form, one figure per row, so that
// the three tables share one header: indicator, the row's dimensions, the
// measure and its value (hours with two decimals, money in euro cents).
func writeCSV(buf *bytes.Buffer, ind Indicators) error {
	w := csv.NewWriter(buf)
	period := []string{ind.From.Format(time.DateOnly), ind.To.Format(time.DateOnly)}
	rows := [][]string{{"from", "to", "indicator", "kind", "group", "measure", "value"}}
	add := func(indicator, kind, group, measure, value string) {
		rows = append(rows, append(append([]string{}, period...), indicator, kind, group, measure, value))
	}
	itoa := func(n int) string { return strconv.Itoa(n) }
	for _, r := range ind.Hours {
		add("hours_by_activity", r.Kind, "", "hours", r.Hours.String())
		add("hours_by_activity", r.Kind, "", "activities", itoa(r.Activities))
		add("hours_by_activity", r.Kind, "", "participants", itoa(r.Participants))
		add("hours_by_activity", r.Kind, "", "tenants", itoa(r.Tenants))
	}
	for _, r := range ind.Placements {
		add("placements_by_kind", r.Kind, r.TargetGroup, "placements", itoa(r.Placements))
		add("placements_by_kind", r.Kind, r.TargetGroup, "participants", itoa(r.Participants))
		add("placements_by_kind", r.Kind, r.TargetGroup, "open", itoa(r.Open))
		add("placements_by_kind", r.Kind, r.TargetGroup, "ended", itoa(r.Ended))
		add("placements_by_kind", r.Kind, r.TargetGroup, "extended", itoa(r.Extended))
		add("placements_by_kind", r.Kind, r.TargetGroup, "attended_hours", r.AttendedHours.String())
		add("placements_by_kind", r.Kind, r.TargetGroup, "allowance_cents", strconv.FormatInt(r.AllowanceCents, 10))
	}
	for _, r := range ind.Outcomes {
		add("outcomes", r.Kind, r.Status, "participants", itoa(r.Participants))
		add("outcomes", r.Kind, r.Status, "self_employed", itoa(r.SelfEmployed))
		add("outcomes", r.Kind, r.Status, "qualification_gained", itoa(r.QualificationGained))
		add("outcomes", r.Kind, r.Status, "improved_situation", itoa(r.ImprovedSituation))
	}
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return w.Error()
}

// Italian labels of the workbook, which people read.
var (
	targetGroupLabel = map[string]string{pathways.TargetL68: "Disabili (L. 68/1999)", pathways.TargetMentalHealth: "Salute mentale"}
	outcomeKindLabel = map[string]string{"at_exit": "All'uscita", "six_months": "A sei mesi"}
	statusLabel      = map[string]string{"employed": "Occupato/a", "in_training": "In formazione", "job_seeking": "In cerca di lavoro", "inactive": "Inattivo/a"}
)

func label(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

// workbook lays the indicators out in four sheets: the period, and one
// table each. Hours are decimal numbers, allowances euros.
func workbook(ind Indicators) []Sheet {
	hours := func(h pathways.Hours) Cell { return Num(float64(h) / 60) }
	info := Sheet{Name: "Periodo", Rows: [][]Cell{
		header("Indicatori del programma A.T.T.I.V.I.", ""),
		{Text("Dal"), Text(ind.From.Format("02/01/2006"))},
		{Text("Al"), Text(ind.To.Format("02/01/2006"))},
		{Text("Generato il (UTC)"), Text(ind.GeneratedAt.Format("02/01/2006 15:04"))},
		{Text("Dati aggregati sull'intera rete: nessun partecipante è identificabile per nome."), Text("")},
	}}
	act := Sheet{Name: "Ore per attività", Rows: [][]Cell{header("Attività", "Ore", "Interventi", "Partecipanti", "Enti")}}
	for _, r := range ind.Hours {
		act.Rows = append(act.Rows, []Cell{Text(r.Kind), hours(r.Hours), Int(int64(r.Activities)), Int(int64(r.Participants)), Int(int64(r.Tenants))})
	}
	pl := Sheet{Name: "Inserimenti per tipo", Rows: [][]Cell{header("Tipo di inserimento", "Destinatari", "Inserimenti", "Partecipanti",
		"In corso", "Conclusi", "Prorogati", "Ore di presenza", "Borse lavoro (EUR)")}}
	for _, r := range ind.Placements {
		pl.Rows = append(pl.Rows, []Cell{Text(r.Kind), Text(label(targetGroupLabel, r.TargetGroup)), Int(int64(r.Placements)),
			Int(int64(r.Participants)), Int(int64(r.Open)), Int(int64(r.Ended)), Int(int64(r.Extended)), hours(r.AttendedHours),
			Num(float64(r.AllowanceCents) / 100)})
	}
	out := Sheet{Name: "Esiti", Rows: [][]Cell{header("Rilevazione", "Condizione", "Partecipanti", "Lavoratori autonomi",
		"Qualifica ottenuta", "Situazione migliorata")}}
	for _, r := range ind.Outcomes {
		out.Rows = append(out.Rows, []Cell{Text(label(outcomeKindLabel, r.Kind)), Text(label(statusLabel, r.Status)), Int(int64(r.Participants)),
			Int(int64(r.SelfEmployed)), Int(int64(r.QualificationGained)), Int(int64(r.ImprovedSituation))})
	}
	return []Sheet{info, act, pl, out}
}
