package consents

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"time"

	"attivi/apperr"
)

// The signed consent document (DESIGN section 7): the form the person
// signed, as a PDF, a JPEG or PNG scan, or a CAdES-signed .p7m envelope.
//
// Rules:
//   - The type is decided by the first bytes of the content, never by a
//     name or header; anything else (a program, an office file, a
//     base64-encoded envelope) is refused with 415. A .p7m must hold a PDF,
//     JPEG or PNG, and its signature must verify (422 otherwise).
//   - Upload, replace and the ready-to-sign form: tenants that see the whole
//     consent, that is its owner (the owner of the person's record, who
//     records consents) for uploads, and the owner or the tenant that
//     recorded it for downloads and the form. The signed form names every
//     grantee, and the consent's rules withhold the other grantees from a
//     tenant the consent merely names (which other services follow the
//     person is not its business), so such a tenant sees the consent but not
//     its document: 404, as for any tenant that may not see the consent.
//   - Every download, and every refusal, is in the access log.
//   - The object key is consents/<consent id>/<document id>: no personal data
//     and nothing the client wrote.
//   - Retention: the object is kept under object lock (GOVERNANCE mode) until
//     RetentionYears after the last day the consent is valid (or after the
//     upload, for a consent with no end): the time during which the network
//     may have to prove that it had the consent (GDPR art. 7.1; ten years is
//     the ordinary limitation period of art. 2946 of the Italian civil code).

// Content types of documents.
const (
	TypePDF  = "application/pdf"
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypeP7M  = "application/pkcs7-mime"
)

// Document states.
const (
	DocPending  = "pending"  // the upload is in progress (or died: the sweeper removes it)
	DocStored   = "stored"   // the consent's current document
	DocReplaced = "replaced" // an earlier document, kept with its object
)

// DocumentConfig are the settings of consent documents.
type DocumentConfig struct {
	// MaxBytes is the largest document accepted (413 beyond).
	MaxBytes int64
	// RetentionYears is how long after the consent's last valid day (or the
	// upload, for a consent with no end) the object stays under retention.
	RetentionYears int
	// SweepGrace is how old a pending upload must be before the sweeper
	// takes it for dead. It must be longer than UploadTimeout.
	SweepGrace time.Duration
}

// Limits of uploads.
const (
	// UploadTimeout bounds one upload, whatever the request timeout.
	UploadTimeout = 30 * time.Minute
	// UploadStall is how long an upload or a download may make no progress.
	UploadStall = time.Minute
	// DefaultMaxBytes is the default of DocumentConfig.MaxBytes.
	DefaultMaxBytes = 50 << 20
	// DefaultRetentionYears is the default of DocumentConfig.RetentionYears.
	DefaultRetentionYears = 10
	// DefaultSweepGrace is the default of DocumentConfig.SweepGrace.
	DefaultSweepGrace = time.Hour
)

// Check validates the configuration.
func (c DocumentConfig) Check() error {
	switch {
	case c.MaxBytes <= 0:
		return fmt.Errorf("documents: the size limit must be positive, not %d", c.MaxBytes)
	case c.RetentionYears < 0 || c.RetentionYears > 100:
		return fmt.Errorf("documents: the retention must be 0 to 100 years, not %d", c.RetentionYears)
	case c.SweepGrace <= UploadTimeout:
		return fmt.Errorf("documents: the sweep grace period (%s) must be longer than an upload may last (%s)", c.SweepGrace, UploadTimeout)
	}
	return nil
}

// Document is the metadata of a consent's document.
type Document struct {
	ID          string
	ConsentID   string
	PersonID    string
	Key         string
	State       string
	ContentType string
	InnerType   string // .p7m: the type of the signed document
	Size        int64
	SHA256      string // hex
	VersionID   string
	RetainUntil *time.Time
	Signer      *Signer // .p7m only
	UploadedBy  string  // tenant slug
	CreatedAt   time.Time
	StoredAt    *time.Time
	Replaced    bool // the upload replaced an earlier document
}

// Signer is the verified signer of a .p7m.
type Signer struct {
	Subject  string
	Issuer   string
	Serial   string     // hex
	SignedAt *time.Time // the signing-time attribute, when present
}

// objectKey is where a document's content lives.
func objectKey(consentID, documentID string) string {
	return "consents/" + consentID + "/" + documentID
}

// FileName is the name a download suggests: nothing personal.
func (d Document) FileName() string {
	ext := map[string]string{TypePDF: ".pdf", TypeJPEG: ".jpg", TypePNG: ".png"}
	if d.ContentType == TypeP7M {
		return "consenso-" + d.ConsentID + ext[d.InnerType] + ".p7m"
	}
	return "consenso-" + d.ConsentID + ext[d.ContentType]
}

// retainUntil is the retention date of a document of c uploaded at now:
// years after the day after the consent's last valid day (or the upload
// day), at midnight UTC. Zero when there is no retention, or it has passed.
func retainUntil(c Consent, now time.Time, years int) time.Time {
	if years == 0 {
		return time.Time{}
	}
	base := now.UTC().Truncate(24 * time.Hour)
	if c.ValidUntil != nil && c.ValidUntil.After(base) {
		base = *c.ValidUntil
	}
	until := base.AddDate(years, 0, 1)
	if !until.After(now) {
		return time.Time{}
	}
	return until
}

// sniffLen is how many first bytes decide a document's type.
const sniffLen = 32

var (
	magicPDF  = []byte("%PDF-")
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}
	// 1.2.840.113549.1.7.2, id-signedData, as a DER OID.
	oidSignedDataDER = []byte{0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02}
)

// sniff decides a document's type from its first bytes (up to sniffLen).
// It refuses what is not a PDF, JPEG, PNG or CAdES/PKCS#7 signed envelope
// with an error a person can act on.
func sniff(head []byte) (string, error) {
	switch {
	case len(head) == 0:
		return "", apperr.New(apperr.Invalid, "the file is empty: send the signed consent form")
	case bytes.HasPrefix(head, magicPDF):
		return TypePDF, nil
	case bytes.HasPrefix(head, magicJPEG):
		return TypeJPEG, nil
	case bytes.HasPrefix(head, magicPNG):
		return TypePNG, nil
	case isSignedData(head):
		return TypeP7M, nil
	case isProgram(head):
		return "", apperr.New(apperr.Unsupported, "this file is a program, not a document: send the signed consent form as PDF, JPEG, PNG or .p7m")
	case isBase64SignedData(head) || bytes.HasPrefix(head, []byte("-----BEGIN")):
		return "", apperr.New(apperr.Unsupported, "this looks like a base64-encoded signed file: send the .p7m in its binary form")
	}
	return "", apperr.New(apperr.Unsupported, "the file is not a PDF, a JPEG or PNG image, or a signed .p7m: send the signed consent form in one of these formats")
}

// innerTypeOf decides the type of the document inside a .p7m.
func innerTypeOf(head []byte) (string, error) {
	t, err := sniff(head)
	if err == nil && t == TypeP7M {
		err = apperr.New(apperr.Unsupported, "the .p7m holds another signed envelope: send the envelope of the signed form itself")
	}
	if apperr.Is(err, apperr.Invalid) {
		return "", apperr.New(apperr.Invalid, "the .p7m holds an empty document")
	}
	if err != nil {
		return "", apperr.New(apperr.Unsupported, "the document inside the .p7m is not a PDF, a JPEG or a PNG image")
	}
	return t, nil
}

// isSignedData reports whether head starts a DER/BER ContentInfo of type
// signedData: SEQUENCE, a length (short, long or indefinite), the OID.
func isSignedData(head []byte) bool {
	if len(head) < 2 || head[0] != 0x30 {
		return false
	}
	i := 2
	switch l := head[1]; {
	case l == 0x80: // indefinite (BER)
	case l > 0x80 && l <= 0x84:
		i += int(l & 0x7F)
	case l < 0x80:
	default:
		return false
	}
	return len(head) >= i+len(oidSignedDataDER) && bytes.Equal(head[i:i+len(oidSignedDataDER)], oidSignedDataDER)
}

// isBase64SignedData reports whether head is the base64 text of a signed
// envelope, as some tools save a .p7m.
func isBase64SignedData(head []byte) bool {
	n := len(head) / 4 * 4
	dec := make([]byte, base64.StdEncoding.DecodedLen(n))
	m, err := base64.StdEncoding.Decode(dec, head[:n])
	return err == nil && isSignedData(dec[:m])
}

func isProgram(head []byte) bool {
	for _, m := range [][]byte{
		[]byte("MZ"),             // Windows (PE)
		{0x7F, 'E', 'L', 'F'},    // Linux
		{0xCF, 0xFA, 0xED, 0xFE}, // macOS, 64-bit
		{0xCE, 0xFA, 0xED, 0xFE}, // macOS, 32-bit
		{0xCA, 0xFE, 0xBA, 0xBE}, // macOS universal, Java class
		[]byte("#!"),             // script
		{0x00, 0x61, 0x73, 0x6D}, // WebAssembly
	} {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}
