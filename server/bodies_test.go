package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server"
)

// bodiesApp is a Fiber app with streamed bodies and LimitBodies, a JSON
// route and a streamed one, on a real listener: what bodies do to the
// connection (keep-alive, leftovers, resets) only shows on one.
func bodiesApp(t *testing.T, limit int) string {
	t.Helper()
	app := fiber.New(fiber.Config{StreamRequestBody: true, BodyLimit: limit, DisableStartupMessage: true,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			var ae *apperr.Error
			if errors.As(err, &ae) && ae.Code == apperr.TooLarge {
				return c.Status(413).SendString(ae.Message)
			}
			return c.Status(500).SendString(err.Error())
		}})
	app.Use(server.LimitBodies(app, limit))
	app.Post("/json", func(c *fiber.Ctx) error { return c.SendString(fmt.Sprintf("json %d", len(c.Body()))) })
	// Reads n bytes (?read=n, all when absent) of the body and answers.
	app.Put("/Upload/:id", func(c *fiber.Ctx) error {
		n := int64(c.QueryInt("read", -1))
		r := c.Context().RequestBodyStream()
		if n >= 0 {
			r = io.LimitReader(r, n)
		}
		got, err := io.Copy(io.Discard, r)
		if err != nil {
			return err
		}
		return c.SendString(fmt.Sprintf("streamed %d", got))
	}).Name(server.StreamBody)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return ln.Addr().String()
}

// exchange sends raw requests on one connection and reads the answers.
type exchange struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *exchange {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &exchange{t: t, conn: c, r: bufio.NewReader(c)}
}

func (e *exchange) send(head string, body []byte) (*http.Response, string) {
	e.t.Helper()
	go func() { // the body may be refused before it is all sent
		_, _ = io.WriteString(e.conn, head)
		_, _ = e.conn.Write(body)
	}()
	resp, err := http.ReadResponse(e.r, nil)
	if err != nil {
		e.t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestLimitBodies(t *testing.T) {
	t.Parallel()
	const limit = 1024
	addr := bodiesApp(t, limit)

	t.Run("JSON bodies: the limit, keep-alive within it", func(t *testing.T) {
		e := dial(t, addr)
		resp, body := e.send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n", make([]byte, 1024))
		if resp.StatusCode != 200 || body != "json 1024" {
			t.Fatalf("a body of the limit: %d %s", resp.StatusCode, body)
		}
		chunked := "5\r\nhello\r\n0\r\n\r\n"
		resp, body = e.send("POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", []byte(chunked))
		if resp.StatusCode != 200 || body != "json 5" {
			t.Fatalf("chunked, on the same connection: %d %s", resp.StatusCode, body)
		}
		resp, body = e.send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n", make([]byte, 5000000))
		if resp.StatusCode != 413 || !strings.Contains(body, "1024") || !resp.Close {
			t.Errorf("5 MB by Content-Length: %d %q close=%v, want 413 naming the limit, and the connection closed", resp.StatusCode, body, resp.Close)
		}
	})
	t.Run("JSON bodies: chunked over the limit", func(t *testing.T) {
		e := dial(t, addr)
		var b strings.Builder
		for range 10 {
			fmt.Fprintf(&b, "200\r\n%s\r\n", strings.Repeat("x", 0x200))
		}
		b.WriteString("0\r\n\r\n")
		resp, _ := e.send("POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", []byte(b.String()))
		if resp.StatusCode != 413 {
			t.Errorf("5 KB chunked: %d, want 413", resp.StatusCode)
		}
	})
	t.Run("streamed route: no limit, and the same connection serves on", func(t *testing.T) {
		e := dial(t, addr)
		resp, body := e.send("PUT /upload/7/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n", make([]byte, 3000000))
		if resp.StatusCode != 200 || body != "streamed 3000000" {
			t.Fatalf("3 MB streamed: %d %s", resp.StatusCode, body)
		}
		// A handler that stops reading early: the rest is drained, not read
		// as the next request, and the client gets the answer.
		resp, body = e.send("PUT /upload/7?read=10 HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", make([]byte, 2000000))
		if resp.StatusCode != 200 || body != "streamed 10" || resp.Close {
			t.Fatalf("refused after 10 bytes: %d %s close=%v", resp.StatusCode, body, resp.Close)
		}
		resp, body = e.send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n", []byte("{}"))
		if resp.StatusCode != 200 || body != "json 2" {
			t.Errorf("the next request on the connection: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("a body that hides a request is never read as one", func(t *testing.T) {
		e := dial(t, addr)
		hidden := "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
		resp, _ := e.send(fmt.Sprintf("PUT /upload/1?read=0 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(hidden)), []byte(hidden))
		if resp.StatusCode != 200 {
			t.Fatalf("upload: %d", resp.StatusCode)
		}
		_ = e.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if resp, err := http.ReadResponse(e.r, nil); err == nil {
			t.Errorf("the body was served as a request: %d", resp.StatusCode)
		}
	})
}
