package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
)

// recoverPanics turns a panic below it into an internal error, logged with
// its stack. It is the first middleware, so nothing can escape it.
func recoverPanics(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.LogAttrs(context.Background(), slog.LevelError, "panic",
					slog.String("request_id", requestIDOf(c)),
					slog.String("method", c.Method()),
					slog.String("path", c.Path()),
					slog.String("panic", fmt.Sprint(r)),
					slog.String("stack", string(debug.Stack())),
				)
				err = apperr.New(apperr.Internal, "panic: %v", r)
			}
		}()
		return c.Next()
	}
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID accepts the caller's X-Request-ID when it is a plain token, or
// makes one, and echoes it on the response.
func requestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Get(fiber.HeaderXRequestID)
		if !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		c.Locals(httpx.LocalRequestID, id)
		c.Set(fiber.HeaderXRequestID, id)
		return c.Next()
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestIDOf(c *fiber.Ctx) string {
	if id := localString(c, httpx.LocalRequestID); id != "" {
		return id
	}
	// Errors raised before the middleware ran (a body over the limit is
	// refused while the request is read) still get an id.
	id := newRequestID()
	c.Locals(httpx.LocalRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	return id
}

func localString(c *fiber.Ctx, key string) string {
	s, _ := c.Locals(key).(string)
	return s
}

// accessLog writes one line per request, and counts it in the metrics. Errors returned below it are
// answered here (through the app's error handler) so the line has the final
// status; a panic is logged as a 500 and passed on to recoverPanics. The
// query string is left out: a search (?q=) may hold a person's name.
func accessLog(log *slog.Logger, m *Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		status := 0
		defer func() {
			if r := recover(); r != nil {
				status = fiber.StatusInternalServerError
				logAccess(log, c, start, status)
				m.observe(c, status, time.Since(start))
				panic(r)
			}
			logAccess(log, c, start, status)
			m.observe(c, status, time.Since(start))
		}()
		err := c.Next()
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status = c.Response().StatusCode()
		return nil
	}
}

func logAccess(log *slog.Logger, c *fiber.Ctx, start time.Time, status int) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	log.LogAttrs(context.Background(), level, "request",
		slog.String("request_id", localString(c, httpx.LocalRequestID)),
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.Int("bytes_in", max(c.Request().Header.ContentLength(), 0)),
		slog.Int("bytes_out", bytesOut(c)),
		slog.String("tenant", localString(c, httpx.LocalTenant)),
		slog.String("user_id", localString(c, httpx.LocalUserID)),
	)
}

// requestContext gives the request a context.Context with a deadline and the
// request id; handlers and everything below them use c.UserContext().
func requestContext(base context.Context, timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(base, timeout)
		defer cancel()
		ctx = httpx.WithRequestID(ctx, localString(c, httpx.LocalRequestID))
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// bytesOut is the size of the response. A streamed one (a download) is not
// read to be measured: Body() would read it into memory whole.
func bytesOut(c *fiber.Ctx) int {
	if c.Response().IsBodyStream() {
		return max(c.Response().Header.ContentLength(), 0)
	}
	return len(c.Response().Body())
}
