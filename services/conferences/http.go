package conferences

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/tenants"
)

// Handler serves the conferences API:
//
//	POST /api/v1/conferences                                   organize one: 201
//	GET  /api/v1/conferences                                   those the tenant organizes or is invited to (limit, cursor)
//	GET  /api/v1/conferences/:id                               ETag: version
//	PATCH /api/v1/conferences/:id                              reschedule (If-Match): SEQUENCE + 1
//	POST /api/v1/conferences/:id/invitations/:tenant/answer    {"answer": "accept"|"decline"}
//	PUT  /api/v1/conferences/:id/attendance                    {"tenants": {slug: present|absent}, "users": {id: ...}} (organizer)
//	GET  /api/v1/conferences/:id/minutes                       ETag: minutes version
//	PUT  /api/v1/conferences/:id/minutes                       If-Match required (organizer)
//	POST /api/v1/conferences/:id/minutes/amendments            after close (organizer): 201
//	POST /api/v1/conferences/:id/close                         optional If-Match
//	POST /api/v1/conferences/:id/cancel                        {"reason"}, optional If-Match
//	GET  /api/v1/conferences/:id/ics                           text/calendar
//	GET  /api/v1/action-items?assignee=me|tenant
//	PATCH /api/v1/action-items/:id                             {"status"}, If-Match required
//	POST /api/v1/me/calendar-secret                            201 {"secret", "url"}; replaces the previous one
//	DELETE /api/v1/me/calendar-secret                          204
//	GET  /api/v1/calendar/:secret.ics                          the feed, without login
type Handler struct {
	svc *Service
}

// NewHandler returns the handlers on svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// NewConferenceJSON is the body of POST /api/v1/conferences.
type NewConferenceJSON struct {
	Title          string      `json:"title"`
	StartsAt       string      `json:"starts_at"`
	EndsAt         string      `json:"ends_at"`
	Location       string      `json:"location"`
	VideoURL       string      `json:"video_url"`
	InvitedTenants []string    `json:"invited_tenants"`
	InvitedUsers   []string    `json:"invited_users"`
	PersonIDs      []string    `json:"person_ids"`
	Without        []Exclusion `json:"without"`
}

// ChangeJSON is the body of PATCH /api/v1/conferences/:id.
type ChangeJSON struct {
	Title    *string `json:"title"`
	StartsAt *string `json:"starts_at"`
	EndsAt   *string `json:"ends_at"`
	Location *string `json:"location"`
	VideoURL *string `json:"video_url"`
}

// InvitationJSON is an invited tenant.
type InvitationJSON struct {
	Tenant     string  `json:"tenant"`
	Answer     string  `json:"answer"`
	AnsweredAt *string `json:"answered_at"`
	Attendance string  `json:"attendance"`
}

// UserJSON is a staff member invited by name.
type UserJSON struct {
	UserID     string `json:"user_id"`
	Tenant     string `json:"tenant"`
	Attendance string `json:"attendance"`
}

// ConferenceJSON is a conference in responses. person_ids are the persons
// discussed with the viewer; lists give only person_count.
type ConferenceJSON struct {
	ID             string           `json:"id"`
	Organizer      string           `json:"organizer"`
	Title          string           `json:"title"`
	StartsAt       string           `json:"starts_at"`
	EndsAt         string           `json:"ends_at"`
	Location       string           `json:"location"`
	VideoURL       string           `json:"video_url"`
	Status         string           `json:"status"`
	Sequence       int              `json:"sequence"`
	Version        int              `json:"version"`
	CreatedAt      string           `json:"created_at"`
	UpdatedAt      string           `json:"updated_at"`
	ClosedAt       *string          `json:"closed_at"`
	CancelledAt    *string          `json:"cancelled_at"`
	CancelReason   string           `json:"cancel_reason,omitempty"`
	InvitedTenants []InvitationJSON `json:"invited_tenants,omitempty"`
	InvitedUsers   []UserJSON       `json:"invited_users,omitempty"`
	PersonIDs      []string         `json:"person_ids,omitempty"`
	Without        []Exclusion      `json:"without,omitempty"`
	PersonCount    int              `json:"person_count"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ts(*t)
	return &s
}

// ToJSON renders a conference.
func ToJSON(c Conference) ConferenceJSON {
	out := ConferenceJSON{ID: c.ID, Organizer: c.Organizer, Title: c.Title, StartsAt: ts(c.StartsAt), EndsAt: ts(c.EndsAt),
		Location: c.Location, VideoURL: c.VideoURL, Status: c.Status, Sequence: c.Sequence, Version: c.Version,
		CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt), ClosedAt: tsp(c.ClosedAt), CancelledAt: tsp(c.CancelledAt),
		CancelReason: c.CancelReason, PersonIDs: c.PersonIDs, Without: c.Without, PersonCount: c.PersonCount}
	for _, i := range c.Invitations {
		out.InvitedTenants = append(out.InvitedTenants, InvitationJSON{Tenant: i.Tenant, Answer: i.Answer, AnsweredAt: tsp(i.AnsweredAt), Attendance: i.Attendance})
	}
	for _, u := range c.Users {
		out.InvitedUsers = append(out.InvitedUsers, UserJSON{UserID: u.UserID, Tenant: u.Tenant, Attendance: u.Attendance})
	}
	if c.PersonIDs != nil {
		out.PersonCount = len(c.PersonIDs)
	}
	return out
}

func actor(c *fiber.Ctx) (tenants.Actor, error) { return tenants.RequireActor(c.UserContext()) }

func (h *Handler) respond(c *fiber.Ctx, conf Conference, status int) error {
	c.Set(fiber.HeaderETag, httpx.ETag(conf.Version))
	return c.Status(status).JSON(ToJSON(conf))
}

// Create answers POST /api/v1/conferences.
func (h *Handler) Create(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var b NewConferenceJSON
	if err := httpx.BindJSON(c, &b); err != nil {
		return err
	}
	conf, err := h.svc.Create(c.UserContext(), a, Draft{Title: b.Title, StartsAt: b.StartsAt, EndsAt: b.EndsAt, Location: b.Location,
		VideoURL: b.VideoURL, InvitedTenants: b.InvitedTenants, InvitedUsers: b.InvitedUsers, PersonIDs: b.PersonIDs, Without: b.Without})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, "/api/v1/conferences/"+conf.ID)
	return h.respond(c, conf, fiber.StatusCreated)
}

// List answers GET /api/v1/conferences.
func (h *Handler) List(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	var after *cursor
	if page.After != "" {
		at, id, ok := strings.Cut(page.After, "|")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || !isUUID(id) {
			return &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: map[string]string{"cursor": "is not a cursor this server gave out"}}
		}
		after = &cursor{At: t, ID: id}
	}
	cs, err := h.svc.List(c.UserContext(), a, after, page.Limit+1)
	if err != nil {
		return err
	}
	items := make([]ConferenceJSON, len(cs))
	keys := map[string]string{}
	for i, conf := range cs {
		items[i] = ToJSON(conf)
		keys[conf.ID] = conf.StartsAt.UTC().Format(time.RFC3339Nano) + "|" + conf.ID
	}
	return c.JSON(httpx.NewList(items, page.Limit, func(j ConferenceJSON) string { return keys[j.ID] }))
}

// Get answers GET /api/v1/conferences/:id.
func (h *Handler) Get(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	conf, err := h.svc.Get(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return err
	}
	return h.respond(c, conf, fiber.StatusOK)
}

// Reschedule answers PATCH /api/v1/conferences/:id.
func (h *Handler) Reschedule(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := httpx.IfMatch(c, true, 1)
	if err != nil {
		return err
	}
	var b ChangeJSON
	if err := httpx.BindJSON(c, &b); err != nil {
		return err
	}
	conf, err := h.svc.Reschedule(c.UserContext(), a, c.Params("id"), *v, Change(b))
	if err != nil {
		return err
	}
	return h.respond(c, conf, fiber.StatusOK)
}

// Answer answers POST /api/v1/conferences/:id/invitations/:tenant/answer.
func (h *Handler) Answer(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var b struct {
		Answer string `json:"answer"`
	}
	if err := httpx.BindJSON(c, &b); err != nil {
		return err
	}
	conf, err := h.svc.Answer(c.UserContext(), a, c.Params("id"), c.Params("tenant"), b.Answer)
	if err != nil {
		return err
	}
	return h.respond(c, conf, fiber.StatusOK)
}

// Attendance answers PUT /api/v1/conferences/:id/attendance.
func (h *Handler) Attendance(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := httpx.IfMatch(c, false, 1)
	if err != nil {
		return err
	}
	var b struct {
		Tenants map[string]string `json:"tenants"`
		Users   map[string]string `json:"users"`
	}
	if err := httpx.BindJSON(c, &b); err != nil {
		return err
	}
	conf, err := h.svc.SetAttendance(c.UserContext(), a, c.Params("id"), v, Attendance(b))
	if err != nil {
		return err
	}
	return h.respond(c, conf, fiber.StatusOK)
}

// Close answers POST /api/v1/conferences/:id/close.
func (h *Handler) Close(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := httpx.IfMatch(c, false, 1)
	if err != nil {
		return err
	}
	conf, err := h.svc.Close(c.UserContext(), a, c.Params("id"), v)
	if err != nil {
		return err
	}
	return h.respond(c, conf, fiber.StatusOK)
}

// Cancel answers POST /api/v1/conferences/:id/cancel.
func (h *Handler) Cancel(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := httpx.IfMatch(c, false, 1)
	if err != nil {
		return err
	}
	var b struct {
		Reason string `json:"reason"`
	}
	if len(c.Body()) > 0 {
		if err := httpx.BindJSON(c, &b); err != nil {
			return err
		}
	}
	conf, err := h.svc.Cancel(c.UserContext(), a, c.Params("id"), v, b.Reason)
	if err != nil {
		return err
	}
	return h.respond(c, conf, fiber.StatusOK)
}

// ICS answers GET /api/v1/conferences/:id/ics.
func (h *Handler) ICS(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	b, err := h.svc.ICS(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return err
	}
	method := "REQUEST"
	if strings.Contains(string(b), "\r\nMETHOD:CANCEL\r\n") {
		method = "CANCEL"
	}
	c.Set(fiber.HeaderContentType, "text/calendar; charset=utf-8; method="+method)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="riunione.ics"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b)
}

// DecisionJSON is a decision in the minutes.
type DecisionJSON struct {
	ID          string  `json:"id,omitempty"`
	PersonID    string  `json:"person_id"`
	Category    string  `json:"category"`
	Decision    string  `json:"decision"`
	AmendmentID *string `json:"amendment_id,omitempty"`
}

// ItemJSON is an action item.
type ItemJSON struct {
	ID              string  `json:"id,omitempty"`
	ConferenceID    string  `json:"conference_id,omitempty"`
	ConferenceTitle string  `json:"conference_title,omitempty"`
	AmendmentID     *string `json:"amendment_id,omitempty"`
	What            string  `json:"what"`
	AssigneeTenant  string  `json:"assignee_tenant"`
	AssigneeUserID  *string `json:"assignee_user_id"`
	DueDate         *string `json:"due_date"`
	Status          string  `json:"status"`
	Version         int     `json:"version,omitempty"`
	Overdue         bool    `json:"overdue"`
}

// AmendmentJSON is an amendment of the minutes.
type AmendmentJSON struct {
	ID        string `json:"id"`
	Text      string `json:"text"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
}

// MinutesJSON is the minutes in responses.
type MinutesJSON struct {
	ConferenceID string          `json:"conference_id"`
	Status       string          `json:"status"`
	Text         string          `json:"text"`
	Version      int             `json:"version"`
	UpdatedAt    string          `json:"updated_at"`
	Decisions    []DecisionJSON  `json:"decisions"`
	ActionItems  []ItemJSON      `json:"action_items"`
	Amendments   []AmendmentJSON `json:"amendments"`
	Withheld     int             `json:"withheld_decisions"`
}

// MinutesInputJSON is the body of PUT .../minutes and of an amendment.
type MinutesInputJSON struct {
	Text        string         `json:"text"`
	Decisions   []DecisionJSON `json:"decisions"`
	ActionItems []ItemJSON     `json:"action_items"`
}

func (m MinutesInputJSON) draft() MinutesDraft {
	d := MinutesDraft{Text: m.Text}
	for _, x := range m.Decisions {
		d.Decisions = append(d.Decisions, DecisionDraft{PersonID: x.PersonID, Category: x.Category, Decision: x.Decision})
	}
	for _, x := range m.ActionItems {
		it := ItemDraft{ID: x.ID, What: x.What, AssigneeTenant: x.AssigneeTenant, Status: x.Status}
		if x.AssigneeUserID != nil {
			it.AssigneeUser = *x.AssigneeUserID
		}
		if x.DueDate != nil {
			it.DueDate = *x.DueDate
		}
		d.Items = append(d.Items, it)
	}
	return d
}

// ItemToJSON renders an action item.
func ItemToJSON(i ActionItem) ItemJSON {
	out := ItemJSON{ID: i.ID, ConferenceID: i.ConferenceID, ConferenceTitle: i.ConferenceTitle, AmendmentID: i.AmendmentID, What: i.What,
		AssigneeTenant: i.AssigneeTenant, AssigneeUserID: i.AssigneeUserID, Status: i.Status, Version: i.Version, Overdue: i.Overdue}
	if i.DueDate != nil {
		d := i.DueDate.Format(time.DateOnly)
		out.DueDate = &d
	}
	return out
}

func minutesJSON(m Minutes) MinutesJSON {
	out := MinutesJSON{ConferenceID: m.ConferenceID, Status: m.Status, Text: m.Text, Version: m.Version, UpdatedAt: ts(m.UpdatedAt),
		Decisions: []DecisionJSON{}, ActionItems: []ItemJSON{}, Amendments: []AmendmentJSON{}, Withheld: m.Withheld}
	for _, d := range m.Decisions {
		out.Decisions = append(out.Decisions, DecisionJSON{ID: d.ID, PersonID: d.PersonID, Category: d.Category, Decision: d.Decision, AmendmentID: d.AmendmentID})
	}
	for _, i := range m.Items {
		out.ActionItems = append(out.ActionItems, ItemToJSON(i))
	}
	for _, a := range m.Amendments {
		out.Amendments = append(out.Amendments, AmendmentJSON{ID: a.ID, Text: a.Text, CreatedBy: a.CreatedBy, CreatedAt: ts(a.CreatedAt)})
	}
	return out
}

// Minutes answers GET /api/v1/conferences/:id/minutes.
func (h *Handler) Minutes(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	m, err := h.svc.Minutes(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(m.Version))
	return c.JSON(minutesJSON(m))
}

// PutMinutes answers PUT /api/v1/conferences/:id/minutes.
func (h *Handler) PutMinutes(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := httpx.IfMatch(c, true, 1)
	if err != nil {
		return err
	}
	var b MinutesInputJSON
	if err := httpx.BindJSON(c, &b); err != nil {
		return err
	}
	m, err := h.svc.PutMinutes(c.UserContext(), a, c.Params("id"), *v, b.draft())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(m.Version))
	return c.JSON(minutesJSON(m))
}

// AmendMinutes answers POST /api/v1/conferences/:id/minutes/amendments.
func (h *Handler) AmendMinutes(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var b MinutesInputJSON
	if err := httpx.BindJSON(c, &b); err != nil {
		return err
	}
	m, err := h.svc.AmendMinutes(c.UserContext(), a, c.Params("id"), b.draft())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(minutesJSON(m))
}

// ActionItems answers GET /api/v1/action-items?assignee=me|tenant.
func (h *Handler) ActionItems(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	items, err := h.svc.ActionItems(c.UserContext(), a, c.Query("assignee"))
	if err != nil {
		return err
	}
	out := make([]ItemJSON, len(items))
	for i, it := range items {
		out[i] = ItemToJSON(it)
	}
	return c.JSON(fiber.Map{"items": out})
}

// UpdateItem answers PATCH /api/v1/action-items/:id.
func (h *Handler) UpdateItem(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := httpx.IfMatch(c, true, 1)
	if err != nil {
		return err
	}
	var b struct {
		Status string `json:"status"`
	}
	if err := httpx.BindJSON(c, &b); err != nil {
		return err
	}
	it, err := h.svc.UpdateItem(c.UserContext(), a, c.Params("id"), *v, b.Status)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, httpx.ETag(it.Version))
	return c.JSON(ItemToJSON(it))
}

// NewCalendarSecret answers POST /api/v1/me/calendar-secret.
func (h *Handler) NewCalendarSecret(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	secret, err := h.svc.NewCalendarSecret(c.UserContext(), a)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"secret": secret, "url": "/api/v1/calendar/" + secret + ".ics"})
}

// RevokeCalendarSecret answers DELETE /api/v1/me/calendar-secret.
func (h *Handler) RevokeCalendarSecret(c *fiber.Ctx) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	if err := h.svc.RevokeCalendarSecret(c.UserContext(), a); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Feed answers GET /api/v1/calendar/:secret.ics, without authentication.
func (h *Handler) Feed(c *fiber.Ctx) error {
	b, err := h.svc.Feed(c.UserContext(), c.Params("secret"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/calendar; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set("Referrer-Policy", "no-referrer")
	return c.Send(b)
}
