package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
)

// statusOf is the one table from application error codes to HTTP statuses
// and the code clients see.
var statusOf = map[apperr.Code]struct {
	status int
	wire   apperr.Code
}{
	apperr.Malformed:    {fiber.StatusBadRequest, apperr.Invalid},
	apperr.Invalid:      {fiber.StatusUnprocessableEntity, apperr.Invalid},
	apperr.Unauthorized: {fiber.StatusUnauthorized, apperr.Unauthorized},
	apperr.Forbidden:    {fiber.StatusForbidden, apperr.Forbidden},
	apperr.NotFound:     {fiber.StatusNotFound, apperr.NotFound},
	apperr.Conflict:     {fiber.StatusConflict, apperr.Conflict},
	apperr.TooLarge:     {fiber.StatusRequestEntityTooLarge, apperr.TooLarge},
	apperr.Unsupported:  {fiber.StatusUnsupportedMediaType, apperr.Unsupported},
	apperr.Unavailable:  {fiber.StatusServiceUnavailable, apperr.Unavailable},
	apperr.Throttled:    {fiber.StatusTooManyRequests, apperr.Throttled},
	apperr.Internal:     {fiber.StatusInternalServerError, apperr.Internal},
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Error ErrorJSON `json:"error"`
}

// ErrorJSON is the content of an error response.
type ErrorJSON struct {
	Code      apperr.Code       `json:"code"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// fromFiber turns the errors Fiber and fasthttp raise themselves (no route,
// body too large, timeouts) into application errors.
func fromFiber(c *fiber.Ctx, fe *fiber.Error) *apperr.Error {
	switch fe.Code {
	case fiber.StatusNotFound, fiber.StatusMethodNotAllowed:
		return apperr.New(apperr.NotFound, "there is no route %s %s", c.Method(), c.Path())
	case fiber.StatusRequestEntityTooLarge:
		return apperr.New(apperr.TooLarge, "the request body is larger than the limit of %d bytes", c.App().Config().BodyLimit)
	case fiber.StatusRequestTimeout:
		return apperr.New(apperr.Unavailable, "the request took too long")
	case fiber.StatusUnsupportedMediaType:
		return apperr.New(apperr.Unsupported, "%s", fe.Message)
	case fiber.StatusUnauthorized:
		return apperr.New(apperr.Unauthorized, "%s", fe.Message)
	case fiber.StatusForbidden:
		return apperr.New(apperr.Forbidden, "%s", fe.Message)
	case fiber.StatusServiceUnavailable:
		return apperr.New(apperr.Unavailable, "%s", fe.Message)
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return apperr.New(apperr.Malformed, "%s", fe.Message)
	}
	return apperr.Wrap(fe, apperr.Internal, "internal error")
}

// normalize returns the application error err stands for. Anything that is
// not one (a bug, a driver error nobody translated) is internal.
func normalize(c *fiber.Ctx, err error) *apperr.Error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		if _, ok := statusOf[ae.Code]; ok {
			return ae
		}
		return apperr.Wrap(err, apperr.Internal, "internal error")
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fromFiber(c, fe)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(err, apperr.Unavailable, "the request took too long")
	}
	return apperr.Wrap(err, apperr.Internal, "internal error")
}

// ErrorHandler is Fiber's ErrorHandler: it writes the error body and logs
// internal errors once, in full, with what identifies the request. The
// client never sees the cause of an internal error.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		ae := normalize(c, err)
		s := statusOf[ae.Code]
		rid := requestIDOf(c)
		body := ErrorJSON{Code: s.wire, Message: ae.Message, Fields: ae.Fields, RequestID: rid}
		if ae.Code == apperr.Internal {
			body.Message = "internal error"
			body.Fields = nil
			log.LogAttrs(c.UserContext(), slog.LevelError, "internal error",
				slog.String("request_id", rid),
				slog.String("tenant", localString(c, httpx.LocalTenant)),
				slog.String("method", c.Method()),
				slog.String("path", c.Path()),
				slog.String("error", fmt.Sprint(err)),
			)
		}
		return c.Status(s.status).JSON(ErrorBody{Error: body})
	}
}
