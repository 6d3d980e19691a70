// Package server is the Fiber application: the middleware chain, the error
// handler that maps application errors to HTTP, the routes of the whole API
// (routes.go) and the lifecycle of the listener.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/services/people"
	"attivi/tenants"
)

// Options are the HTTP limits of the server.
type Options struct {
	BodyLimit       int           // bytes; larger bodies are refused with 413
	ReadTimeout     time.Duration // whole request, headers and body
	WriteTimeout    time.Duration // whole response
	IdleTimeout     time.Duration // keep-alive connections
	RequestTimeout  time.Duration // deadline of the request context
	ShutdownTimeout time.Duration // how long in-flight requests may take to finish at shutdown
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
	Logger   *slog.Logger
	Ready    []Check
	Tenants  *tenants.Handler
	Auth     *tenants.AuthHandler
	Policies PolicyHandler
	Persons  *people.Handler
	Consents ConsentHandler
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
		ErrorHandler:          errorHandler(d.Logger),
		DisableStartupMessage: true,
		ReadBufferSize:        16 << 10,
	})
	app.Use(
		recoverPanics(d.Logger),
		requestID(),
		accessLog(d.Logger),
		requestContext(base, o.RequestTimeout),
	)
	routes(app, d)
	return app
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
