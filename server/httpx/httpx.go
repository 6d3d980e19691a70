// Package httpx holds the small HTTP helpers shared by the handlers of every
// capability: JSON binding with clear errors, list pagination, and the values
// the middleware puts in the request context. It imports Fiber but no
// service, so services' http.go files can use it without a cycle.
package httpx

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
)

type ctxKey int

const requestIDKey ctxKey = iota

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// BindJSON decodes the request body into v. It refuses a body that is not
// JSON, has unknown fields, has trailing data, or gives a field the wrong
// type, with an invalid error that names the field.
func BindJSON(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(c.Get(fiber.HeaderContentType), ";", 2)[0]))
	if ct != "" && ct != fiber.MIMEApplicationJSON && !strings.HasSuffix(ct, "+json") {
		return apperr.New(apperr.Malformed, "the request body must be JSON (Content-Type: application/json), not %s", ct)
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.Malformed, "the request body is empty: a JSON object is expected")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Malformed, "the request body has data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apperr.New(apperr.Malformed, "the request body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apperr.New(apperr.Malformed, "the request body must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return &apperr.Error{Code: apperr.Malformed, Message: "some fields are not valid",
			Fields: map[string]string{field: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Malformed, "the request body is not valid JSON (it ends too early)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apperr.Error{Code: apperr.Malformed, Message: "some fields are not valid",
			Fields: map[string]string{name: "is not a known field"}}
	}
	return apperr.Wrap(err, apperr.Malformed, "the request body could not be read as JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "a list"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return "of another type"
}

// Page is the pagination of a list request: at most Limit items after the
// position the cursor encodes.
type Page struct {
	Limit int
	After string
}

// Pagination limits.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// ParsePage reads `limit` and `cursor` from the query string.
func ParsePage(c *fiber.Ctx) (Page, error) {
	p := Page{Limit: DefaultLimit}
	fields := apperr.Fields{}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			fields.Add("limit", "must be a whole number from 1 to %d", MaxLimit)
		} else {
			p.Limit = n
		}
	}
	if s := c.Query("cursor"); s != "" {
		after, err := DecodeCursor(s)
		if err != nil {
			fields.Add("cursor", "is not a cursor this server gave out")
		}
		p.After = after
	}
	if len(fields) > 0 {
		return p, &apperr.Error{Code: apperr.Malformed, Message: "the list parameters are not valid", Fields: fields}
	}
	return p, nil
}

// EncodeCursor makes an opaque cursor of a position key.
func EncodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// DecodeCursor reverses EncodeCursor.
func DecodeCursor(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}

// List is the shape of every list response.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// NewList builds a list response from up to limit+1 fetched items: the extra
// one only says that there is a next page, whose cursor is key(last item).
func NewList[T any](items []T, limit int, key func(T) string) List[T] {
	l := List[T]{Items: items}
	if len(items) > limit {
		l.Items = items[:limit]
		l.NextCursor = EncodeCursor(key(l.Items[limit-1]))
	}
	if l.Items == nil {
		l.Items = []T{}
	}
	return l
}

// Keys of the values the middleware keeps in fiber.Ctx locals for the access
// log (the request context carries the same values for everything else).
const (
	LocalRequestID = "attivi.request_id"
	LocalTenant    = "attivi.tenant"
	LocalUserID    = "attivi.user_id"
)

// ETag is the entity tag of a record at version v.
func ETag(v int) string { return `"` + strconv.Itoa(v) + `"` }

// IfMatch reads the version a change was based on from If-Match: 3, "3" or
// W/"3", as ETag writes it. An absent header (or *) is nil, or, when
// required, an error naming the header; a version below min is malformed.
func IfMatch(c *fiber.Ctx, required bool, min int) (*int, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		if required {
			return nil, &apperr.Error{Code: apperr.Malformed, Message: "send the version you are changing in the If-Match header",
				Fields: map[string]string{"If-Match": "is required"}}
		}
		return nil, nil
	}
	v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(h, "W/"), `"`))
	if err != nil || v < min {
		return nil, &apperr.Error{Code: apperr.Malformed, Message: "the If-Match header is not a version",
			Fields: map[string]string{"If-Match": "must be the version you saw, as the ETag gives it, such as \"2\""}}
	}
	return &v, nil
}

// RequireIfMatch is IfMatch for changes that must say which version they
// change.
func RequireIfMatch(c *fiber.Ctx, min int) (int, error) {
	v, err := IfMatch(c, true, min)
	if err != nil {
		return 0, err
	}
	return *v, nil
}
