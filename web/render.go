package web

import (
	"bytes"
	"embed"
	"html/template"
	"time"
	_ "time/tzdata" // Europe/Rome on machines without the zone database

	"github.com/gofiber/fiber/v2"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/attivi.css
var stylesheet []byte

// pages are the parsed templates, one set per page, each with the layout.
type pages map[string]*template.Template

var pageNames = []string{"login", "tenant", "persons", "person", "referrals", "referral", "status", "register", "consent", "refer", "notes", "conferences", "conference", "accesslog", "error"}

// formField is one text field of a form, with its value and problem.
type formField struct{ Name, Label, Type, Value, Problem string }

var funcs = template.FuncMap{
	"add": func(a, b int) int { return a + b },
	"field": func(name, label, typ string, p registerPage) formField {
		return formField{Name: name, Label: label, Type: typ, Value: p.Values[name], Problem: p.Problems[name]}
	},
	"date": func(t time.Time) string { return t.Format("02/01/2006") },
	"datetime": func(t time.Time) string {
		return t.In(rome).Format("02/01/2006 15:04")
	},
}

// rome is the time zone of the network's offices, for times shown to staff.
var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err) // embedded by time/tzdata
	}
	return l
}()

func mustParsePages() pages {
	ps := pages{}
	for _, name := range pageNames {
		ps[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return ps
}

// layout is what every page gives the layout: its title, the header of a
// logged-in user (nil on the login page), and the page's own data.
type layout struct {
	Title  string
	Header *header
	Data   any
}

type header struct {
	UserName   string
	TenantName string // "" until a tenant is chosen
	CSRF       string
	CanSwitch  bool // the user is a member of several tenants
}

func headerOf(v *visitor) *header {
	if v == nil {
		return nil
	}
	h := &header{UserName: v.session.DisplayName, CSRF: v.csrf, CanSwitch: len(v.session.Memberships) > 1}
	if h.UserName == "" {
		h.UserName = v.session.Email
	}
	if v.acting != nil {
		h.TenantName = v.acting.TenantName
	}
	return h
}

// render writes the page with the status.
func (h *Handler) render(c *fiber.Ctx, status int, name, title string, data any) error {
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout.html", layout{Title: title, Header: headerOf(visitorOf(c)), Data: data}); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// Stylesheet serves the one stylesheet.
func (h *Handler) Stylesheet(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Send(stylesheet)
}

// errorPage is the data of the error page.
type errorPage struct {
	Title     string
	Message   string
	RequestID string // internal errors only
}
