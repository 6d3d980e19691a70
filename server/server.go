// Package server is the Fiber application: the middleware chain, the error
// handler that maps application errors to HTTP, the routes of the whole API
// (routes.go) and the lifecycle of the listener.
package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/bytebufferpool"

	"attivi/apperr"
	"attivi/services/conferences"
	"attivi/services/consents"
	"attivi/services/employers"
	"attivi/services/notes"
	"attivi/services/pathways"
	"attivi/services/people"
	"attivi/services/referrals"
	"attivi/services/reports"
	"attivi/tenants"
	"attivi/web"
)

// Options are the HTTP limits of the server.
type Options struct {
	BodyLimit       int           // bytes; larger bodies are refused with 413, except on StreamBody routes
	ReadTimeout     time.Duration // whole request, headers and body
	WriteTimeout    time.Duration // whole response
	IdleTimeout     time.Duration // keep-alive connections
	RequestTimeout  time.Duration // deadline of the request context
	ShutdownTimeout time.Duration // how long in-flight requests may take to finish at shutdown
	// TrustedProxies (IPs or CIDRs): requests from them name the client in
	// X-Forwarded-For, which c.IP() then returns (login throttling counts
	// per client address). Empty: the connection's address.
	TrustedProxies []string
}

// DefaultOptions are sensible limits for a JSON API.
var DefaultOptions = Options{
	BodyLimit:       1 << 20,
	ReadTimeout:     30 * time.Second,
	WriteTimeout:    60 * time.Second,
	IdleTimeout:     120 * time.Second,
	RequestTimeout:  30 * time.Second,
	ShutdownTimeout: 30 * time.Second,
}

// Check is one dependency the readiness probe asks.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Deps are what the server needs from the rest of the program.
type Deps struct {
	Logger      *slog.Logger
	Ready       []Check
	Tenants     *tenants.Handler
	Auth        *tenants.AuthHandler
	Policies    PolicyHandler
	Persons     *people.Handler
	Consents    ConsentHandler
	Referrals   *referrals.Handler
	Pathways    *pathways.Handler
	Employers   *employers.Handler
	Notes       *notes.Handler
	Conferences *conferences.Handler
	Documents   *consents.DocumentHandler
	Reports     *reports.Handler
	Web         *web.Handler
	// Idempotency answers repeats of POSTs that carry an Idempotency-Key.
	Idempotency fiber.Handler
	// Metrics are served at /metrics (nil: the requests and runtime only).
	Metrics *Metrics
}

// ConsentHandler is what the consents service serves.
type ConsentHandler interface {
	List(c *fiber.Ctx) error
	Create(c *fiber.Ctx) error
	Get(c *fiber.Ctx) error
	Revoke(c *fiber.Ctx) error
}

// PolicyHandler is what the policies package serves.
type PolicyHandler interface {
	Get(c *fiber.Ctx) error
	Put(c *fiber.Ctx) error
	Versions(c *fiber.Ctx) error
}

// New builds the Fiber application with its middleware and routes. base is
// the parent of every request context (it is not cancelled at shutdown, so
// in-flight requests can finish).
func New(base context.Context, d Deps, o Options) *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "attivi",
		Immutable:             true,
		BodyLimit:             o.BodyLimit,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		IdleTimeout:           o.IdleTimeout,
		ErrorHandler:          ErrorHandler(d.Logger),
		DisableStartupMessage: true,
		ReadBufferSize:        16 << 10,
		// Bodies are not read before the handlers run: LimitBodies reads
		// them (up to BodyLimit) for every route but those named StreamBody,
		// whose handlers stream them.
		StreamRequestBody: true,
		// Only from a listed proxy is X-Forwarded-For believed; its first
		// valid address is the client's.
		EnableTrustedProxyCheck: len(o.TrustedProxies) > 0,
		TrustedProxies:          o.TrustedProxies,
		ProxyHeader:             proxyHeader(o.TrustedProxies),
		EnableIPValidation:      true,
	})
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	app.Use(
		recoverPanics(d.Logger),
		requestID(),
		accessLog(d.Logger, d.Metrics),
		LimitBodies(app, o.BodyLimit),
		requestContext(base, o.RequestTimeout),
	)
	routes(app, d)
	return app
}

func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

// Serve accepts connections on ln until ctx is cancelled, then stops
// accepting and waits up to timeout for in-flight requests to finish.
func Serve(ctx context.Context, app *fiber.App, ln net.Listener, timeout time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", slog.Duration("timeout", timeout))
	if err := app.ShutdownWithTimeout(timeout); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	log.Info("server stopped")
	return nil
}

// StreamBody is the route name that marks a route whose handler reads the
// request body itself, as a stream, and enforces its own size limit (an
// upload): routes.go writes
//
//	authed.Put("/consents/:id/document", d.Documents.Upload).Name(StreamBody)
//
// Only static segments and :params are allowed in such a route's path.
const StreamBody = "attivi.stream-body"

// What is drained of a body a handler refused, so that the client, still
// sending, reads the answer instead of a reset connection: up to these many
// bytes, within this time. Beyond, the connection is closed.
const (
	jsonDrainBytes   = 8 << 20
	jsonDrainTime    = 2 * time.Second
	streamDrainBytes = 64 << 20
	streamDrainTime  = 10 * time.Second
)

// LimitBodies is the body limit of an app run with StreamRequestBody, where
// fasthttp no longer refuses large bodies itself (it streams them instead)
// and Ctx.Body() would read a streamed body whole, however large.
//
// On every route but the StreamBody ones it reads the body before the
// handler runs, up to limit bytes: a larger one (by Content-Length, or
// counted, when chunked) is refused with 413, and the connection closed once
// a bounded part of the rest is drained. On StreamBody routes it leaves the
// body to the handler and, after it, drains what the handler left unread
// (closing the connection when that is too much), so that no leftover byte
// is ever read as the next request, no later Body() call (the access log's)
// reads a body the handler refused, and a client still sending a refused
// upload reads the answer rather than a reset connection.
func LimitBodies(app *fiber.App, limit int) fiber.Handler {
	var (
		once     sync.Once
		streamed []routePattern
	)
	return func(c *fiber.Ctx) error {
		// The routes are known once the app serves.
		once.Do(func() { streamed = streamedRoutes(app) })
		if c.Context().RequestBodyStream() == nil {
			return c.Next() // no body: neither Content-Length nor chunked
		}
		for _, r := range streamed {
			if r.match(c.Method(), c.Path()) {
				defer finishStream(c)
				return c.Next()
			}
		}
		if err := readBody(c, limit); err != nil {
			return err
		}
		return c.Next()
	}
}

// readBody reads the streamed body into the request, up to limit bytes.
func readBody(c *fiber.Ctx, limit int) error {
	req := c.Request()
	stream := c.Context().RequestBodyStream()
	tooLarge := func() error {
		drain(c, stream, jsonDrainBytes, jsonDrainTime)
		c.Context().SetConnectionClose()
		req.ResetBody()
		return apperr.New(apperr.TooLarge, "the request body is larger than the limit of %d bytes", limit)
	}
	if req.Header.ContentLength() > limit {
		return tooLarge()
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	n, err := io.Copy(buf, io.LimitReader(stream, int64(limit)+1))
	if n > int64(limit) {
		return tooLarge()
	}
	if err != nil {
		c.Context().SetConnectionClose()
		req.ResetBody()
		return apperr.Wrap(err, apperr.Malformed, "the request body could not be read")
	}
	req.SetBody(buf.B) // copies, and releases the stream
	return nil
}

// finishStream drains what the handler of a streamed route left of the
// body, or closes the connection, and drops the stream.
func finishStream(c *fiber.Ctx) {
	stream := c.Context().RequestBodyStream()
	if stream == nil {
		return
	}
	if !drain(c, stream, streamDrainBytes, streamDrainTime) {
		c.Context().SetConnectionClose()
	}
	c.Request().ResetBody()
}

// drain reads and discards the rest of a body, up to max bytes and within
// d, and reports whether it reached its end.
func drain(c *fiber.Ctx, stream io.Reader, max int64, d time.Duration) bool {
	if conn := c.Context().Conn(); conn != nil {
		// A client that stopped sending does not hold the connection.
		_ = conn.SetReadDeadline(time.Now().Add(d))
	}
	n, err := io.CopyN(io.Discard, stream, max+1)
	return err == io.EOF && n <= max
}

// routePattern is the method and path of a StreamBody route, split in
// segments; ":name" matches any one segment. Matching is case-insensitive
// and ignores a trailing slash, like Fiber's default routing, so that no
// request reaches a streamed handler without being known as streamed.
type routePattern struct {
	method   string
	segments []string
}

func streamedRoutes(app *fiber.App) []routePattern {
	var out []routePattern
	for _, r := range app.GetRoutes(true) {
		if r.Name != StreamBody {
			continue
		}
		if strings.ContainsAny(r.Path, "*+?") {
			panic("server: a StreamBody route may only have static segments and :params, not " + r.Path)
		}
		out = append(out, routePattern{method: r.Method, segments: splitPath(r.Path)})
	}
	return out
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

func (r routePattern) match(method, path string) bool {
	if method != r.method {
		return false
	}
	segs := splitPath(path)
	if len(segs) != len(r.segments) {
		return false
	}
	for i, s := range r.segments {
		if strings.HasPrefix(s, ":") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(s, segs[i]) {
			return false
		}
	}
	return true
}
