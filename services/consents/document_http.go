package consents

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"attivi/apperr"
	"attivi/server/httpx"
	"attivi/tenants"
)

// DocumentHandler serves the signed documents of consents:
//
//	PUT /api/v1/consents/:id/document   the signed form (PDF, JPEG, PNG or .p7m) as the raw
//	                                    body, streamed: 201 (200 when it replaces one)
//	GET /api/v1/consents/:id/document   the current document, streamed, with Range
//	GET /api/v1/consents/:id/form.pdf   the ready-to-sign form in Italian
//
// The upload route must be registered with the name server.StreamBody, so
// that the server leaves its body to this handler instead of reading it.
type DocumentHandler struct {
	d *Documents
}

// NewDocumentHandler returns the handlers on d.
func NewDocumentHandler(d *Documents) *DocumentHandler { return &DocumentHandler{d: d} }

// DocumentJSON is a document's metadata in responses.
type DocumentJSON struct {
	ID          string      `json:"id"`
	ConsentID   string      `json:"consent_id"`
	ContentType string      `json:"content_type"`
	InnerType   string      `json:"inner_type,omitempty"`
	Size        int64       `json:"size"`
	SHA256      string      `json:"sha256"`
	UploadedBy  string      `json:"uploaded_by"`
	StoredAt    string      `json:"stored_at"`
	RetainUntil *string     `json:"retain_until"`
	Replaced    bool        `json:"replaced"`
	Signer      *SignerJSON `json:"signer,omitempty"`
}

// SignerJSON is the verified signer of a .p7m.
type SignerJSON struct {
	Subject  string  `json:"subject"`
	Issuer   string  `json:"issuer"`
	Serial   string  `json:"serial"`
	SignedAt *string `json:"signed_at"`
}

func documentJSON(d Document) DocumentJSON {
	out := DocumentJSON{ID: d.ID, ConsentID: d.ConsentID, ContentType: d.ContentType, InnerType: d.InnerType,
		Size: d.Size, SHA256: d.SHA256, UploadedBy: d.UploadedBy, Replaced: d.Replaced}
	if d.StoredAt != nil {
		out.StoredAt = d.StoredAt.UTC().Format(time.RFC3339)
	}
	if d.RetainUntil != nil {
		r := d.RetainUntil.UTC().Format(time.RFC3339)
		out.RetainUntil = &r
	}
	if s := d.Signer; s != nil {
		out.Signer = &SignerJSON{Subject: s.Subject, Issuer: s.Issuer, Serial: s.Serial}
		if s.SignedAt != nil {
			t := s.SignedAt.UTC().Format(time.RFC3339)
			out.Signer.SignedAt = &t
		}
	}
	return out
}

// Upload serves PUT /api/v1/consents/:id/document.
func (h *DocumentHandler) Upload(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	if enc := strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)); enc != "" && !strings.EqualFold(enc, "identity") {
		return apperr.New(apperr.Unsupported, "compressed uploads (Content-Encoding: %s) are not accepted: send the file as it is", enc)
	}
	up := Upload{Size: int64(c.Request().Header.ContentLength())}
	var guard *chunkedEnd
	if stream := c.Context().RequestBodyStream(); stream != nil {
		// The conversation with the client is this request's, and Put
		// returns before the handler does: the stream is not used after.
		up.Body = &progress{r: stream, conn: c.Context().Conn(), read: true}
		if up.Size < 0 {
			guard = &chunkedEnd{r: up.Body, conn: c.Context().Conn()}
			up.Body = guard
		}
	} else {
		// Not streamed (no body, or an app without StreamRequestBody).
		body := c.Body()
		up.Body, up.Size = bytes.NewReader(body), int64(len(body))
	}
	if up.Size < 0 {
		up.Size = -1 // chunked
	}
	// The upload may outlast the request timeout: it has its own, and stops
	// at the first stalled read.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UploadTimeout)
	defer cancel()
	doc, err := h.d.Upload(uctx, a, strings.Clone(c.Params("id")), up)
	if guard != nil && guard.stole {
		c.Context().SetConnectionClose()
	}
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if doc.Replaced {
		status = fiber.StatusOK
	}
	c.Set(fiber.HeaderLocation, "/api/v1/consents/"+doc.ConsentID+"/document")
	c.Set(fiber.HeaderETag, `"`+doc.SHA256+`"`)
	return c.Status(status).JSON(documentJSON(doc))
}

// Download serves GET (and HEAD) /api/v1/consents/:id/document.
func (h *DocumentHandler) Download(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	doc, err := h.d.Current(ctx, a, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	sum, _ := hex.DecodeString(doc.SHA256)
	b64 := base64.StdEncoding.EncodeToString(sum)
	etag := `"` + doc.SHA256 + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set("Repr-Digest", "sha-256=:"+b64+":") // RFC 9530
	c.Set("Digest", "SHA-256="+b64)           // RFC 3230, for older clients
	c.Set("X-Checksum-SHA256", doc.SHA256)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+doc.FileName()+`"`)
	c.Set(fiber.HeaderContentType, doc.ContentType)

	start, end := int64(0), doc.Size-1
	partial := false
	if rng := c.Get(fiber.HeaderRange); rng != "" && ifRangeHolds(c.Get(fiber.HeaderIfRange), etag) {
		s, e, ok, satisfiable := parseRange(rng, doc.Size)
		if !satisfiable {
			c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes */%d", doc.Size))
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
			c.Response().Header.Del(fiber.HeaderContentDisposition)
			// 416 is HTTP's own answer to a range past the end, which no
			// application error code stands for.
			return c.Status(fiber.StatusRequestedRangeNotSatisfiable).JSON(fiber.Map{"error": fiber.Map{
				"code": apperr.Invalid, "request_id": httpx.RequestID(ctx),
				"message": fmt.Sprintf("the requested range is not satisfiable: the document has %d bytes", doc.Size)}})
		}
		if ok {
			start, end, partial = s, e, true
		}
	}
	if c.Method() == fiber.MethodHead {
		if err := h.d.LogHead(ctx, a, doc); err != nil {
			return err
		}
		c.Response().Header.SetContentLength(int(end - start + 1))
		c.Response().SkipBody = true
		if partial {
			c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, end, doc.Size))
			c.Status(fiber.StatusPartialContent)
		}
		return nil
	}
	body, err := h.d.Open(ctx, a, doc, start, end)
	if err != nil {
		return err
	}
	if partial {
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, end, doc.Size))
		c.Status(fiber.StatusPartialContent)
	}
	// fasthttp reads the body after the handler returns, and closes it.
	c.Response().SetBodyStream(&progress{r: body, rc: body, conn: c.Context().Conn()}, int(end-start+1))
	return nil
}

// Form serves GET /api/v1/consents/:id/form.pdf.
func (h *DocumentHandler) Form(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, err := tenants.RequireActor(ctx)
	if err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	pdf, err := h.d.Form(ctx, a, id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `inline; filename="modulo-consenso-`+id+`.pdf"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(pdf)
}

// parseRange reads a single byte range of a document of size bytes: ok when
// it is one to honour, satisfiable false when it starts past the end. A
// header it does not understand, or with several ranges, is ignored (the
// whole document is sent), as RFC 9110 allows.
func parseRange(h string, size int64) (start, end int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, true
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, true
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, true
		}
		if n == 0 {
			return 0, 0, false, false
		}
		return max(size-n, 0), size - 1, true, true
	}
	s, err := strconv.ParseInt(first, 10, 64)
	if err != nil || s < 0 {
		return 0, 0, false, true
	}
	e := size - 1
	if last != "" {
		if e, err = strconv.ParseInt(last, 10, 64); err != nil || e < s {
			return 0, 0, false, true
		}
	}
	if s >= size {
		return 0, 0, false, false
	}
	return s, min(e, size-1), true, true
}

// ifRangeHolds says whether a Range applies: If-Range absent, or naming the
// current document's entity tag.
func ifRangeHolds(ifRange, etag string) bool {
	ifRange = strings.TrimSpace(ifRange)
	return ifRange == "" || ifRange == etag
}

// chunkedEnd guards the end of a chunked upload. fasthttp (v1.51) reports
// a connection that closes between two chunks as the end of the body, so a
// client cut off half-way would leave a truncated document. At the end of
// the body it looks at the connection: a client that sent the last chunk is
// waiting for the answer (nothing to read), a client that went away has
// closed it. A byte read there (a pipelined request) is lost, so the
// connection is then closed after the answer.
type chunkedEnd struct {
	r     io.Reader
	conn  net.Conn
	ended bool
	err   error
	stole bool
}

var errCutOff = apperr.New(apperr.Malformed, "the upload was cut off before its end: send the document again")

func (g *chunkedEnd) Read(p []byte) (int, error) {
	if g.ended {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if err != io.EOF || g.conn == nil {
		return n, err
	}
	g.ended, g.err = true, io.EOF
	_ = g.conn.SetReadDeadline(time.Now().Add(25 * time.Millisecond))
	var b [1]byte
	m, rerr := g.conn.Read(b[:])
	_ = g.conn.SetReadDeadline(time.Now().Add(UploadStall))
	var ne net.Error
	switch {
	case m > 0:
		g.stole = true
	case errors.As(rerr, &ne) && ne.Timeout():
	case rerr != nil:
		g.err = errCutOff
	}
	return n, g.err
}

// progress moves the connection's deadline forward while bytes flow, so
// that a long upload or download is bounded by stalls (UploadStall), not by
// the server's read and write timeouts, which are sized for JSON.
type progress struct {
	r    io.Reader
	rc   io.Closer
	conn net.Conn
	read bool // an upload: the read deadline; a download: the write deadline
	last time.Time
}

func (p *progress) Read(b []byte) (int, error) {
	if now := time.Now(); p.conn != nil && now.Sub(p.last) > time.Second {
		p.last = now
		if p.read {
			_ = p.conn.SetReadDeadline(now.Add(UploadStall))
		} else {
			_ = p.conn.SetWriteDeadline(now.Add(UploadStall))
		}
	}
	return p.r.Read(b)
}

// WriteTo sends a download in large writes: fasthttp would copy it through
// a 4 KiB buffer.
func (p *progress) WriteTo(w io.Writer) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	var total int64
	for {
		n, err := p.Read(*buf)
		if n > 0 {
			m, werr := w.Write((*buf)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (p *progress) Close() error {
	if p.rc == nil {
		return nil
	}
	return p.rc.Close()
}
