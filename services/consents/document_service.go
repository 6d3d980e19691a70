package consents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"attivi/apperr"
	"attivi/policies"
	"attivi/server/httpx"
	"attivi/services/people"
	"attivi/storage/objects"
	"attivi/storage/postgres"
	"attivi/tenants"
)

// PersonReader reads a person as the actor may see them, logged: the
// people service. The form names the person.
type PersonReader interface {
	Get(ctx context.Context, a tenants.Actor, requestID, id, purpose string) (people.View, error)
}

// Documents keeps the signed documents of consents in the object store.
type Documents struct {
	svc     *Service
	people  PersonReader
	store   *objects.Store
	cfg     DocumentConfig
	log     *slog.Logger
	janitor *Janitor
	// ensured is set once the bucket is known to exist with versioning and
	// its object-lock setting is known: until then uploads ensure it first,
	// so that no document is ever written without its retention.
	ensured atomic.Bool
}

// NewDocuments returns the documents service.
func NewDocuments(svc *Service, people PersonReader, store *objects.Store, cfg DocumentConfig, log *slog.Logger) (*Documents, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	return &Documents{svc: svc, people: people, store: store, cfg: cfg, log: log,
		janitor: NewJanitor(svc.db, store, cfg.SweepGrace, log)}, nil
}

// Janitor returns the sweeper of the documents' storage.
func (d *Documents) Janitor() *Janitor { return d.janitor }

// Upload is a document as it arrives.
type Upload struct {
	Body io.Reader
	// Size is the declared length, -1 when it is not known (chunked).
	Size int64
}

var errNoDocument = apperr.New(apperr.NotFound, "this consent has no signed document")

// msgStoreDown is what a person is told while the object store is away.
const msgStoreDown = "the document store is not reachable: signed documents cannot be uploaded or downloaded right now " +
	"(everything else works); try again in a few minutes"

// storeErr turns an object store failure that is the store's being away
// (unreachable, not answering, its bucket not there yet) into 503.
func storeErr(err error) error {
	if apperr.Is(err, apperr.Unavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return apperr.Wrap(err, apperr.Unavailable, msgStoreDown)
	}
	return err
}

// readyTimeout bounds the check that the store answers before an upload:
// minio-go retries an unreachable server until its context ends.
const readyTimeout = 2 * time.Second

// ready makes sure the store answers (and, the first time, that the bucket
// is set up) within readyTimeout.
func (d *Documents) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if d.ensured.Load() {
		if err := d.store.Ready(ctx); err != nil {
			return apperr.Wrap(err, apperr.Unavailable, msgStoreDown)
		}
		return nil
	}
	if err := d.store.EnsureBucket(ctx); err != nil {
		return apperr.Wrap(err, apperr.Unavailable, msgStoreDown)
	}
	d.ensured.Store(true)
	return nil
}

// mayUpload returns the consent when the actor's tenant may attach its
// signed form: the owner of the person's record, as for recording and
// revoking. A tenant that sees the consent gets 403, any other 404.
func (d *Documents) mayUpload(ctx context.Context, a tenants.Actor, id string) (Consent, []policies.Entry, error) {
	s := d.svc
	c, err := consentByID(ctx, s.db, id, false)
	if err != nil {
		return Consent{}, nil, err
	}
	denied, err := s.mustOwn(ctx, s.db, a, c.PersonID, c.Purpose, "attach the signed form of")
	if err == nil {
		return c, nil, nil
	}
	if apperr.Is(err, apperr.NotFound) {
		return Consent{}, denied, errNoConsent
	}
	if !apperr.Is(err, apperr.Forbidden) {
		return Consent{}, denied, err
	}
	r, rerr := s.engine.Access(ctx, s.db, a, c.PersonID, policies.ActRead, "")
	if rerr != nil {
		return Consent{}, denied, rerr
	}
	if !viewerOf(a, r).Sees(c) {
		why := fmt.Sprintf("consent %s neither names tenant %s nor was recorded by it", c.ID, a.TenantSlug)
		return Consent{}, []policies.Entry{deny(c.PersonID, policies.LogWrite, c.Purpose, why)}, errNoConsent
	}
	return Consent{}, denied, err
}

// mayRead returns the consent when the actor's tenant may read its signed
// document or form: it sees the whole consent (the owner of the person's
// record, or the tenant that recorded it). Anything else is a 404, with the
// denial to log.
func (d *Documents) mayRead(ctx context.Context, a tenants.Actor, id, action string, notFound error) (Consent, []policies.Entry, error) {
	s := d.svc
	c, err := consentByID(ctx, s.db, id, false)
	if err != nil {
		return Consent{}, nil, err
	}
	r, err := s.engine.Access(ctx, s.db, a, c.PersonID, policies.ActRead, "")
	if err != nil {
		return Consent{}, nil, err
	}
	if !r.Visible() {
		return Consent{}, []policies.Entry{deny(c.PersonID, action, c.Purpose, hiddenReason(r))}, errNoConsent
	}
	v := viewerOf(a, r)
	if !v.Sees(c) {
		why := fmt.Sprintf("consent %s neither names tenant %s nor was recorded by it", c.ID, a.TenantSlug)
		return Consent{}, []policies.Entry{deny(c.PersonID, action, c.Purpose, why)}, errNoConsent
	}
	if !v.Owner && c.RecordedByTenantID != a.TenantID {
		why := fmt.Sprintf("the signed form of consent %s names every grantee, which the consent's rules withhold from tenant %s (neither the owner nor the recorder)", c.ID, a.TenantSlug)
		return Consent{}, []policies.Entry{deny(c.PersonID, action, c.Purpose, why)}, notFound
	}
	return c, nil, nil
}

// Upload stores the signed form of a consent, replacing the current one
// (which stays in the store). The content streams to the store through a
// size limit, a SHA-256 and, for a .p7m, the signature check; the metadata
// row is pending while it does and becomes the consent's document in one
// transaction once the object is complete.
func (d *Documents) Upload(ctx context.Context, a tenants.Actor, consentID string, up Upload) (Document, error) {
	if !postgres.IsUUID(consentID) {
		return Document{}, errNoConsent
	}
	c, denied, err := d.mayUpload(ctx, a, consentID)
	if err != nil {
		return Document{}, d.svc.logThen(ctx, a, err, denied...)
	}
	switch {
	case up.Size > d.cfg.MaxBytes:
		return Document{}, d.tooLarge()
	case up.Size == 0:
		return Document{}, apperr.New(apperr.Invalid, "the file is empty: send the signed consent form")
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(up.Body, head)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		head = head[:n]
	case err != nil:
		return Document{}, apperr.Wrap(err, apperr.Malformed, "the upload could not be read")
	}
	contentType, err := sniff(head)
	if err != nil {
		return Document{}, err
	}
	if err := d.ready(ctx); err != nil {
		return Document{}, err
	}

	now := d.svc.now()
	var retain time.Time
	if d.store.ObjectLock() {
		retain = retainUntil(c, now, d.cfg.RetentionYears)
	}
	doc := Document{ID: uuid.NewString(), ConsentID: c.ID, PersonID: c.PersonID, State: DocPending,
		ContentType: contentType, UploadedBy: a.TenantSlug}
	doc.Key = objectKey(c.ID, doc.ID)
	if !retain.IsZero() {
		doc.RetainUntil = &retain
	}
	if err := insertPendingDocument(ctx, d.svc.db, doc, a); err != nil {
		return Document{}, err
	}

	body := io.MultiReader(bytes.NewReader(head), up.Body)
	body = &limitReader{r: body, max: d.cfg.MaxBytes, tooLarge: d.tooLarge}
	var verifier *p7mVerifier
	if contentType == TypeP7M {
		verifier = newP7MVerifier()
		body = io.TeeReader(body, verifier)
	}
	info, err := d.store.Put(ctx, doc.Key, body, up.Size, objects.PutOptions{
		ContentType: contentType,
		RetainUntil: retain,
		// What the object is, without personal data: for whoever looks at
		// the bucket, and for the sweeper.
		Metadata: map[string]string{"attivi-consent": c.ID, "attivi-document": doc.ID},
	})
	if err != nil {
		if verifier != nil {
			verifier.abort()
		}
		d.discard(ctx, doc, "")
		if apperr.Is(err, apperr.NotFound) { // the bucket went away
			err = apperr.Wrap(err, apperr.Unavailable, msgStoreDown)
		}
		return Document{}, storeErr(err)
	}
	if verifier != nil {
		signers, inner, verr := verifier.finish()
		if verr != nil {
			d.discard(ctx, doc, info.VersionID)
			return Document{}, verr
		}
		doc.InnerType = inner
		s := signers[0]
		doc.Signer = &s
	}
	doc.Size, doc.SHA256, doc.VersionID = info.Size, info.SHA256, info.VersionID

	replaced, err := d.commit(ctx, doc)
	if err != nil {
		d.discard(ctx, doc, info.VersionID)
		return Document{}, err
	}
	doc.State, doc.Replaced = DocStored, replaced
	stored := d.svc.now()
	doc.StoredAt, doc.CreatedAt = &stored, now
	why := fmt.Sprintf("signed form of consent %s uploaded (document %s, %s, %d bytes)", c.ID, doc.ID, doc.ContentType, doc.Size)
	if err := d.svc.log(ctx, a, allow(c.PersonID, policies.LogWrite, c.Purpose, why)); err != nil {
		d.log.Error("a stored consent document could not be logged", slog.String("document", doc.ID), slog.String("error", err.Error()))
	}
	return doc, nil
}

func (d *Documents) tooLarge() error {
	return apperr.New(apperr.TooLarge, "the document is larger than the limit of %d bytes (%d MB)", d.cfg.MaxBytes, d.cfg.MaxBytes>>20)
}

// commit makes the pending row the consent's document, and the current one
// (if any) a replaced one, in one transaction.
func (d *Documents) commit(ctx context.Context, doc Document) (replaced bool, err error) {
	err = postgres.InTx(ctx, d.svc.db, func(tx *sqlx.Tx) error {
		// The consent's lock orders concurrent uploads of one consent.
		if _, err := consentByID(ctx, tx, doc.ConsentID, true); err != nil {
			return err
		}
		var err error
		if replaced, err = replaceCurrentDocument(ctx, tx, doc.ConsentID); err != nil {
			return err
		}
		return storeDocument(ctx, tx, doc)
	})
	return replaced, err
}

// discard removes what a failed upload left: its object version (if one
// was stored), then its pending row. What cannot be removed now (the store
// or the database being away) stays for the sweeper, whose pending row
// points to it.
func (d *Documents) discard(ctx context.Context, doc Document, versionID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if versionID != "" {
		if err := d.store.RemoveVersion(ctx, doc.Key, versionID, true); err != nil && !apperr.Is(err, apperr.NotFound) {
			d.log.Warn("a failed upload's object stays for the sweeper", slog.String("document", doc.ID), slog.String("error", err.Error()))
			return
		}
	}
	if err := deletePendingDocument(ctx, d.svc.db, doc.ID); err != nil {
		d.log.Warn("a failed upload's row stays for the sweeper", slog.String("document", doc.ID), slog.String("error", err.Error()))
	}
}

// limitReader fails with tooLarge once more than max bytes went through:
// the limit holds for chunked bodies and Content-Length that lies.
type limitReader struct {
	r        io.Reader
	n, max   int64
	tooLarge func() error
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return 0, l.tooLarge()
	}
	return n, err
}

// Current returns the consent's current document, if the actor may read it.
// Denials are logged; a read is logged by Open.
func (d *Documents) Current(ctx context.Context, a tenants.Actor, consentID string) (Document, error) {
	if !postgres.IsUUID(consentID) {
		return Document{}, errNoConsent
	}
	c, denied, err := d.mayRead(ctx, a, consentID, policies.LogDownload, errNoDocument)
	if err != nil {
		return Document{}, d.svc.logThen(ctx, a, err, denied...)
	}
	doc, err := currentDocument(ctx, d.svc.db, c.ID)
	if err != nil {
		return Document{}, err
	}
	doc.PersonID = c.PersonID
	return doc, nil
}

// openTimeout bounds how long the store may take to start answering a
// download: minio-go retries an unreachable store for several seconds.
const openTimeout = 3 * time.Second

// Open opens bytes start..end (inclusive) of a document that Current
// returned, after logging the download. The reader must be closed; it is
// not bound to ctx's deadline (the body streams after the handler
// returns) but to UploadTimeout.
func (d *Documents) Open(ctx context.Context, a tenants.Actor, doc Document, start, end int64) (io.ReadCloser, error) {
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UploadTimeout)
	watchdog := time.AfterFunc(openTimeout, cancel)
	var (
		body io.ReadCloser
		info objects.Info
		err  error
	)
	if start == 0 && end == doc.Size-1 {
		body, info, err = d.store.Get(octx, doc.Key)
	} else {
		body, info, err = d.store.GetRange(octx, doc.Key, start, end)
	}
	if !watchdog.Stop() && err == nil {
		err = context.Canceled // the watchdog fired as the answer came
		body.Close()
	}
	if err != nil {
		cancel()
		if apperr.Is(err, apperr.NotFound) {
			// The bucket is not there, or the object went missing: which
			// one, the store's readiness tells.
			if rerr := d.ready(ctx); rerr != nil {
				return nil, rerr
			}
			d.log.Error("a stored consent document is missing from the store", slog.String("document", doc.ID), slog.String("key", doc.Key))
			return nil, apperr.Wrap(err, apperr.Internal, "the document is missing from the store")
		}
		return nil, storeErr(err)
	}
	if info.VersionID != doc.VersionID || info.Size != doc.Size {
		body.Close()
		cancel()
		d.log.Error("a stored consent document does not match its record", slog.String("document", doc.ID),
			slog.String("version", info.VersionID), slog.String("want_version", doc.VersionID),
			slog.Int64("size", info.Size), slog.Int64("want_size", doc.Size))
		return nil, apperr.New(apperr.Internal, "the stored document does not match its record")
	}
	what := fmt.Sprintf("signed form of consent %s (document %s)", doc.ConsentID, doc.ID)
	if start != 0 || end != doc.Size-1 {
		what += fmt.Sprintf(", bytes %d-%d", start, end)
	}
	if err := d.svc.log(ctx, a, allow(doc.PersonID, policies.LogDownload, "", what)); err != nil {
		body.Close()
		cancel()
		return nil, err
	}
	return &cancelCloser{ReadCloser: body, cancel: cancel}, nil
}

// LogHead logs a HEAD of a document: its metadata (type, size, checksum)
// was read, not its content.
func (d *Documents) LogHead(ctx context.Context, a tenants.Actor, doc Document) error {
	return d.svc.log(ctx, a, allow(doc.PersonID, policies.LogRead, "",
		fmt.Sprintf("metadata of the signed form of consent %s (document %s)", doc.ConsentID, doc.ID)))
}

type cancelCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelCloser) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Form returns the ready-to-sign form of a consent as a PDF.
func (d *Documents) Form(ctx context.Context, a tenants.Actor, consentID string) ([]byte, error) {
	if !postgres.IsUUID(consentID) {
		return nil, errNoConsent
	}
	c, denied, err := d.mayRead(ctx, a, consentID, policies.LogRead, errNoForm)
	if err != nil {
		return nil, d.svc.logThen(ctx, a, err, denied...)
	}
	if c.RevokedAt != nil {
		return nil, apperr.New(apperr.Conflict, "the consent was revoked on %s: there is nothing left to sign", c.RevokedAt.UTC().Format(time.DateOnly))
	}
	v, err := d.people.Get(ctx, a, httpx.RequestID(ctx), c.PersonID, "")
	if err != nil {
		return nil, err
	}
	if !v.Has(policies.CatIdentity) {
		return nil, apperr.New(apperr.Forbidden, "the form names the person, and tenant %s may not read their identity", a.TenantSlug)
	}
	names, err := tenantNames(ctx, d.svc.db, append(c.Grantees, c.RecordedBy))
	if err != nil {
		return nil, err
	}
	p := v.Person
	pdf := renderForm(FormData{Consent: c,
		Person:      FormPerson{GivenName: p.GivenName, FamilyName: p.FamilyName, FiscalCode: p.FiscalCode, Sex: p.Sex, BirthDate: p.BirthDate},
		TenantNames: names, RecorderName: names[c.RecordedBy]})
	if err := d.svc.log(ctx, a, allow(c.PersonID, policies.LogRead, c.Purpose, "ready-to-sign form of consent "+c.ID)); err != nil {
		return nil, err
	}
	return pdf, nil
}

var errNoForm = apperr.New(apperr.NotFound, "there is no form of this consent for your tenant: only the owner of the record and the tenant that recorded the consent see it whole")
