package consents

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // only to match a signing-certificate (v1) attribute, never for signatures
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"time"

	"attivi/apperr"
)

// A .p7m is a CMS SignedData (RFC 5652) with the signed document inside,
// as CAdES (ETSI EN 319 122) signers in Italy produce it. It is verified
// while it streams to the store: the document's digest is computed as its
// bytes go by, and the small parts that follow it (certificates, signer
// information) are kept and checked at the end. Nothing of the document is
// held in memory.
//
// What is checked: the envelope is well formed (DER or BER, with definite or
// indefinite lengths), it holds the document (not a detached signature), the
// document inside is a PDF, JPEG or PNG, and for every signer: its
// certificate is in the envelope, the content-type and message-digest
// attributes match the document, the signing-certificate(-v2) attribute (when
// present) names that certificate, the signature over the attributes
// verifies with the certificate's key (RSA PKCS#1 v1.5 or PSS, ECDSA,
// Ed25519; SHA-256, SHA-384 or SHA-512: SHA-1 is refused), the certificate
// allows signatures and was valid at the signing time (when the envelope
// says it). What is not: that the certificate chains to a qualified
// certification authority of the EU trusted lists, and its revocation.

var (
	oidData                    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCert         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertV2       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA1                    = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256                  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384                  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512                  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidRSAEncryption           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASSAPSS               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA1WithRSA             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey             = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA256         = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384         = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512         = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519                 = asn1.ObjectIdentifier{1, 3, 101, 112}
	errAborted                 = errors.New("the upload ended")
	maxP7MCertificates   int64 = 1 << 20
	maxP7MSignerInfos    int64 = 256 << 10
	maxP7MCRLs           int64 = 8 << 20
	maxP7MSmall          int64 = 64 << 10
)

// p7mError is a refusal of the envelope: 422 with the reason.
func p7mError(format string, args ...any) error {
	return apperr.New(apperr.Invalid, "the .p7m signature cannot be accepted: %s", fmt.Sprintf(format, args...))
}

func p7mDamaged(format string, args ...any) error {
	return apperr.New(apperr.Invalid, "the .p7m file is damaged: %s", fmt.Sprintf(format, args...))
}

// p7mVerifier verifies an envelope written to it as it streams by. The
// parser runs in its own goroutine, reading what Write hands over through a
// pipe (so Write blocks until the parser has taken the bytes: no buffer).
// When the parser refuses the envelope, Write fails with the reason, which
// ends the upload at once.
type p7mVerifier struct {
	pw   *io.PipeWriter
	done chan p7mResult
}

type p7mResult struct {
	signers []Signer
	inner   string
	err     error
}

func newP7MVerifier() *p7mVerifier {
	pr, pw := io.Pipe()
	v := &p7mVerifier{pw: pw, done: make(chan p7mResult, 1)}
	go func() {
		res := parseP7M(bufio.NewReaderSize(pr, 32<<10))
		if res.err != nil {
			pr.CloseWithError(res.err)
		} else {
			pr.Close()
		}
		v.done <- res
	}()
	return v
}

func (v *p7mVerifier) Write(p []byte) (int, error) { return v.pw.Write(p) }

// finish says the envelope is complete and returns the verification.
func (v *p7mVerifier) finish() ([]Signer, string, error) {
	v.pw.Close()
	res := <-v.done
	return res.signers, res.inner, res.err
}

// abort stops the parser of an upload that failed.
func (v *p7mVerifier) abort() {
	v.pw.CloseWithError(errAborted)
	<-v.done
}

// berReader reads BER headers and contents, counting its position.
type berReader struct {
	r   *bufio.Reader
	off int64
}

type berHeader struct {
	class       int
	constructed bool
	tag         int
	length      int64 // -1: indefinite
	start       int64 // offset of the header
	end         int64 // offset after the content, -1 when indefinite
	raw         []byte
}

func (h berHeader) is(class, tag int, constructed bool) bool {
	return h.class == class && h.tag == tag && h.constructed == constructed
}

func (b *berReader) byte() (byte, error) {
	c, err := b.r.ReadByte()
	if err != nil {
		return 0, b.eof(err)
	}
	b.off++
	return c, nil
}

func (b *berReader) eof(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return p7mDamaged("it ends too early")
	}
	return err
}

func (b *berReader) header() (berHeader, error) {
	h := berHeader{start: b.off}
	c, err := b.byte()
	if err != nil {
		return h, err
	}
	raw := []byte{c}
	h.class, h.constructed, h.tag = int(c>>6), c&0x20 != 0, int(c&0x1F)
	if h.tag == 0x1F { // high tag number
		h.tag = 0
		for i := 0; ; i++ {
			if i == 4 {
				return h, p7mDamaged("a tag is too long")
			}
			c, err = b.byte()
			if err != nil {
				return h, err
			}
			raw = append(raw, c)
			h.tag = h.tag<<7 | int(c&0x7F)
			if c&0x80 == 0 {
				break
			}
		}
	}
	c, err = b.byte()
	if err != nil {
		return h, err
	}
	raw = append(raw, c)
	switch {
	case c < 0x80:
		h.length = int64(c)
	case c == 0x80:
		if !h.constructed {
			return h, p7mDamaged("a primitive element has no length")
		}
		h.length = -1
	case c == 0xFF || c&0x7F > 8:
		return h, p7mDamaged("a length is not valid")
	default:
		n := int(c & 0x7F)
		for range n {
			c, err = b.byte()
			if err != nil {
				return h, err
			}
			raw = append(raw, c)
			h.length = h.length<<8 | int64(c)
		}
		if h.length < 0 {
			return h, p7mDamaged("a length is not valid")
		}
	}
	h.raw = raw
	h.end = -1
	if h.length >= 0 {
		h.end = b.off + h.length
	}
	return h, nil
}

// child reads the header of the next element inside parent.
func (b *berReader) child(parent berHeader) (berHeader, error) {
	h, err := b.header()
	if err == nil && parent.end >= 0 && (h.end < 0 || h.end > parent.end) {
		err = p7mDamaged("an element runs past its container")
	}
	return h, err
}

// more reports whether parent has another element.
func (b *berReader) more(parent berHeader) (bool, error) {
	if parent.end >= 0 {
		return b.off < parent.end, nil
	}
	p, err := b.r.Peek(2)
	if err != nil {
		return false, b.eof(err)
	}
	return !(p[0] == 0 && p[1] == 0), nil
}

// close ends parent: its length is consumed, or its end-of-contents read.
func (b *berReader) close(parent berHeader) error {
	if parent.end >= 0 {
		if b.off != parent.end {
			return p7mDamaged("an element has trailing data")
		}
		return nil
	}
	var eoc [2]byte
	if _, err := io.ReadFull(b.r, eoc[:]); err != nil {
		return b.eof(err)
	}
	b.off += 2
	if eoc != [2]byte{} {
		return p7mDamaged("an element is not closed")
	}
	return nil
}

// content reads the content of a definite-length element whole.
func (b *berReader) content(h berHeader, max int64) ([]byte, error) {
	if h.length < 0 {
		return nil, p7mError("the signer information uses indefinite lengths, which are not supported")
	}
	if h.length > max {
		return nil, p7mDamaged("an element is too large (%d bytes)", h.length)
	}
	buf := make([]byte, h.length)
	n, err := io.ReadFull(b.r, buf)
	b.off += int64(n)
	if err != nil {
		return nil, b.eof(err)
	}
	return buf, nil
}

// full reads a whole definite-length element: its header and content.
func (b *berReader) full(h berHeader, max int64) ([]byte, error) {
	c, err := b.content(h, max)
	if err != nil {
		return nil, err
	}
	return append(append([]byte{}, h.raw...), c...), nil
}

// skip discards the content of an element, definite or not.
func (b *berReader) skip(h berHeader, max int64) error {
	if h.length >= 0 {
		if h.length > max {
			return p7mDamaged("an element is too large (%d bytes)", h.length)
		}
		n, err := io.CopyN(io.Discard, b.r, h.length)
		b.off += n
		if err != nil {
			return b.eof(err)
		}
		return nil
	}
	for {
		ok, err := b.more(h)
		if err != nil {
			return err
		}
		if !ok {
			return b.close(h)
		}
		c, err := b.child(h)
		if err != nil {
			return err
		}
		if err := b.skip(c, max); err != nil {
			return err
		}
	}
}

// children reads the elements of a container whole, up to max bytes in all.
func (b *berReader) children(parent berHeader, max int64) ([][]byte, error) {
	var out [][]byte
	total := int64(0)
	for {
		ok, err := b.more(parent)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, b.close(parent)
		}
		h, err := b.child(parent)
		if err != nil {
			return nil, err
		}
		el, err := b.full(h, max-total)
		if err != nil {
			return nil, err
		}
		total += int64(len(el))
		out = append(out, el)
	}
}

// octets streams the content of an OCTET STRING, primitive or constructed
// (chunked), to w.
func (b *berReader) octets(h berHeader, w io.Writer, depth int) error {
	if h.class != asn1.ClassUniversal || h.tag != asn1.TagOctetString || depth > 8 {
		return p7mDamaged("the signed document is not where it should be")
	}
	if !h.constructed {
		n, err := io.CopyN(w, b.r, h.length)
		b.off += n
		if err != nil {
			return b.eof(err)
		}
		return nil
	}
	for {
		ok, err := b.more(h)
		if err != nil {
			return err
		}
		if !ok {
			return b.close(h)
		}
		c, err := b.child(h)
		if err != nil {
			return err
		}
		if err := b.octets(c, w, depth+1); err != nil {
			return err
		}
	}
}

func (b *berReader) expect(parent *berHeader, class, tag int, constructed bool, what string) (berHeader, error) {
	var (
		h   berHeader
		err error
	)
	if parent == nil {
		h, err = b.header()
	} else {
		h, err = b.child(*parent)
	}
	if err != nil {
		return h, err
	}
	if !h.is(class, tag, constructed) {
		return h, p7mDamaged("%s is missing", what)
	}
	return h, nil
}

func (b *berReader) oid(parent berHeader, what string) (asn1.ObjectIdentifier, error) {
	h, err := b.expect(&parent, asn1.ClassUniversal, asn1.TagOID, false, what)
	if err != nil {
		return nil, err
	}
	el, err := b.full(h, 256)
	if err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(el, &oid); err != nil {
		return nil, p7mDamaged("%s is not valid", what)
	}
	return oid, nil
}

// contentDigests hashes the signed document with every algorithm the
// envelope announces, and decides its type from its first bytes.
type contentDigests struct {
	hashes map[string]hash.Hash // by OID string
	head   []byte
	inner  string
	n      int64
}

func (d *contentDigests) Write(p []byte) (int, error) {
	if d.inner == "" && len(d.head) < sniffLen {
		take := min(sniffLen-len(d.head), len(p))
		d.head = append(d.head, p[:take]...)
		if len(d.head) == sniffLen {
			t, err := innerTypeOf(d.head)
			if err != nil {
				return 0, err
			}
			d.inner = t
		}
	}
	for _, h := range d.hashes {
		h.Write(p)
	}
	d.n += int64(len(p))
	return len(p), nil
}

func (d *contentDigests) done() error {
	if d.inner != "" {
		return nil
	}
	t, err := innerTypeOf(d.head)
	d.inner = t
	return err
}

func hashOf(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

func newHash(h crypto.Hash) hash.Hash {
	switch h {
	case crypto.SHA384:
		return sha512.New384()
	case crypto.SHA512:
		return sha512.New()
	}
	return sha256.New()
}

// parseP7M reads a whole envelope from r and verifies it.
func parseP7M(r *bufio.Reader) p7mResult {
	b := &berReader{r: r}
	ci, err := b.expect(nil, asn1.ClassUniversal, asn1.TagSequence, true, "the envelope")
	if err != nil {
		return p7mResult{err: err}
	}
	oid, err := b.oid(ci, "the envelope's type")
	if err != nil {
		return p7mResult{err: err}
	}
	if !oid.Equal(oidSignedData) {
		return p7mResult{err: p7mError("the envelope is not signed data")}
	}
	c0, err := b.expect(&ci, asn1.ClassContextSpecific, 0, true, "the signed data")
	if err != nil {
		return p7mResult{err: err}
	}
	sd, err := b.expect(&c0, asn1.ClassUniversal, asn1.TagSequence, true, "the signed data")
	if err != nil {
		return p7mResult{err: err}
	}
	vh, err := b.expect(&sd, asn1.ClassUniversal, asn1.TagInteger, false, "the version")
	if err != nil {
		return p7mResult{err: err}
	}
	if _, err := b.content(vh, 8); err != nil {
		return p7mResult{err: err}
	}
	dh, err := b.expect(&sd, asn1.ClassUniversal, asn1.TagSet, true, "the digest algorithms")
	if err != nil {
		return p7mResult{err: err}
	}
	algs, err := b.children(dh, maxP7MSmall)
	if err != nil {
		return p7mResult{err: err}
	}
	digests := &contentDigests{hashes: map[string]hash.Hash{}}
	for _, el := range algs {
		var ai pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(el, &ai); err != nil {
			return p7mResult{err: p7mDamaged("a digest algorithm is not valid")}
		}
		if h, ok := hashOf(ai.Algorithm); ok {
			digests.hashes[ai.Algorithm.String()] = newHash(h)
		}
	}
	if len(digests.hashes) == 0 {
		return p7mResult{err: p7mError("it uses a digest algorithm that is not accepted (SHA-256, SHA-384 or SHA-512 are; SHA-1 is no longer)")}
	}

	encap, err := b.expect(&sd, asn1.ClassUniversal, asn1.TagSequence, true, "the signed content")
	if err != nil {
		return p7mResult{err: err}
	}
	eType, err := b.oid(encap, "the signed content's type")
	if err != nil {
		return p7mResult{err: err}
	}
	ok, err := b.more(encap)
	if err != nil {
		return p7mResult{err: err}
	}
	if !ok {
		return p7mResult{err: p7mError("it holds no document (a detached signature): send the .p7m with the signed form inside")}
	}
	e0, err := b.expect(&encap, asn1.ClassContextSpecific, 0, true, "the signed document")
	if err != nil {
		return p7mResult{err: err}
	}
	oh, err := b.child(e0)
	if err != nil {
		return p7mResult{err: err}
	}
	if err := b.octets(oh, digests, 0); err != nil {
		return p7mResult{err: err}
	}
	if err := digests.done(); err != nil {
		return p7mResult{err: err}
	}
	if err := b.close(e0); err != nil {
		return p7mResult{err: err}
	}
	if err := b.close(encap); err != nil {
		return p7mResult{err: err}
	}

	var certs, signerInfos [][]byte
	for {
		ok, err := b.more(sd)
		if err != nil {
			return p7mResult{err: err}
		}
		if !ok {
			break
		}
		h, err := b.child(sd)
		if err != nil {
			return p7mResult{err: err}
		}
		switch {
		case h.is(asn1.ClassContextSpecific, 0, true) && certs == nil && signerInfos == nil:
			if certs, err = b.children(h, maxP7MCertificates); err != nil {
				return p7mResult{err: err}
			}
		case h.is(asn1.ClassContextSpecific, 1, true) && signerInfos == nil:
			if err := b.skip(h, maxP7MCRLs); err != nil {
				return p7mResult{err: err}
			}
		case h.is(asn1.ClassUniversal, asn1.TagSet, true) && signerInfos == nil:
			if signerInfos, err = b.children(h, maxP7MSignerInfos); err != nil {
				return p7mResult{err: err}
			}
		default:
			return p7mResult{err: p7mDamaged("the signed data has an unexpected element")}
		}
	}
	for _, h := range []berHeader{sd, c0, ci} {
		if err := b.close(h); err != nil {
			return p7mResult{err: err}
		}
	}
	if _, err := r.ReadByte(); err == nil {
		return p7mResult{err: p7mDamaged("there is data after the envelope")}
	} else if !errors.Is(err, io.EOF) {
		return p7mResult{err: err}
	}
	signers, err := verifySigners(eType, digests, certs, signerInfos)
	return p7mResult{signers: signers, inner: digests.inner, err: err}
}

// splitDER splits concatenated DER elements.
func splitDER(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
	}
	return out, nil
}

func verifySigners(eType asn1.ObjectIdentifier, digests *contentDigests, certDER, signerInfos [][]byte) ([]Signer, error) {
	if len(signerInfos) == 0 {
		return nil, p7mError("it has no signature")
	}
	certs := make([]*x509.Certificate, 0, len(certDER))
	for _, der := range certDER {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue // attribute certificates and the like: not a signer's
		}
		certs = append(certs, c)
	}
	out := make([]Signer, 0, len(signerInfos))
	for i, der := range signerInfos {
		s, err := verifySigner(eType, digests, certs, der)
		var ae *apperr.Error
		if err != nil && len(signerInfos) > 1 && errors.As(err, &ae) {
			return nil, apperr.Wrap(err, ae.Code, "signature %d of %d: %s", i+1, len(signerInfos), ae.Message)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

func verifySigner(eType asn1.ObjectIdentifier, digests *contentDigests, certs []*x509.Certificate, der []byte) (Signer, error) {
	var si asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &si); err != nil || len(rest) > 0 || si.Tag != asn1.TagSequence {
		return Signer{}, p7mDamaged("the signer information is not valid")
	}
	els, err := splitDER(si.Bytes)
	if err != nil || len(els) < 5 {
		return Signer{}, p7mDamaged("the signer information is not valid")
	}
	// version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, [1] unsignedAttrs
	sid := els[1]
	var digestAlg, sigAlg pkix.AlgorithmIdentifier
	if _, err := asn1.Unmarshal(els[2].FullBytes, &digestAlg); err != nil {
		return Signer{}, p7mDamaged("the signer's digest algorithm is not valid")
	}
	i := 3
	var signedAttrs *asn1.RawValue
	if els[i].Class == asn1.ClassContextSpecific && els[i].Tag == 0 {
		signedAttrs = &els[i]
		i++
	}
	if len(els) < i+2 {
		return Signer{}, p7mDamaged("the signer information is not valid")
	}
	if _, err := asn1.Unmarshal(els[i].FullBytes, &sigAlg); err != nil {
		return Signer{}, p7mDamaged("the signature algorithm is not valid")
	}
	var sig []byte
	if _, err := asn1.Unmarshal(els[i+1].FullBytes, &sig); err != nil {
		return Signer{}, p7mDamaged("the signature is not valid")
	}

	cert := findCert(certs, sid)
	if cert == nil {
		return Signer{}, p7mError("the signer's certificate is not in the envelope")
	}
	if digestAlg.Algorithm.Equal(oidSHA1) {
		return Signer{}, p7mError("it was signed with SHA-1, which is no longer accepted for signatures")
	}
	h, ok := hashOf(digestAlg.Algorithm)
	if !ok {
		return Signer{}, p7mError("it uses a digest algorithm that is not accepted (%s)", digestAlg.Algorithm)
	}
	content, ok := digests.hashes[digestAlg.Algorithm.String()]
	if !ok {
		return Signer{}, p7mDamaged("the signer's digest algorithm is not among the envelope's")
	}
	contentDigest := content.Sum(nil)

	s := Signer{Subject: cert.Subject.String(), Issuer: cert.Issuer.String(), Serial: cert.SerialNumber.Text(16)}
	var signed []byte // what the signature covers
	digest := contentDigest
	if signedAttrs != nil {
		signed = append([]byte{}, signedAttrs.FullBytes...)
		signed[0] = 0x31 // [0] IMPLICIT -> SET OF, as signed
		if err := checkAttributes(signedAttrs.Bytes, eType, contentDigest, cert, &s); err != nil {
			return Signer{}, err
		}
		hh := newHash(h)
		hh.Write(signed)
		digest = hh.Sum(nil)
	} else if !eType.Equal(oidData) {
		return Signer{}, p7mDamaged("signed attributes are missing")
	}

	if err := checkSignature(cert, sigAlg, h, digest, signed, sig); err != nil {
		return Signer{}, err
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return Signer{}, p7mError("the signer's certificate may not be used for signatures")
	}
	if s.SignedAt != nil && (s.SignedAt.Before(cert.NotBefore) || s.SignedAt.After(cert.NotAfter)) {
		return Signer{}, p7mError("the signer's certificate was not valid when the document was signed (%s; valid %s to %s)",
			s.SignedAt.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly))
	}
	return s, nil
}

func findCert(certs []*x509.Certificate, sid asn1.RawValue) *x509.Certificate {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerial
		if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil || ias.Serial == nil {
			return nil
		}
		for _, c := range certs {
			if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
				return c
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c
			}
		}
	}
	return nil
}

// checkAttributes checks the signed attributes against the document and the
// certificate, and records the signing time.
func checkAttributes(attrs []byte, eType asn1.ObjectIdentifier, contentDigest []byte, cert *x509.Certificate, s *Signer) error {
	els, err := splitDER(attrs)
	if err != nil {
		return p7mDamaged("the signed attributes are not valid")
	}
	seen := map[string]bool{}
	var gotType, gotDigest bool
	for _, el := range els {
		var a attribute
		if _, err := asn1.Unmarshal(el.FullBytes, &a); err != nil {
			return p7mDamaged("a signed attribute is not valid")
		}
		key := a.Type.String()
		if seen[key] {
			return p7mDamaged("a signed attribute appears twice")
		}
		seen[key] = true
		vals, err := splitDER(a.Values.Bytes)
		if err != nil || len(vals) == 0 {
			return p7mDamaged("a signed attribute has no value")
		}
		v := vals[0].FullBytes
		switch {
		case a.Type.Equal(oidAttrContentType):
			var t asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(v, &t); err != nil || len(vals) != 1 || !t.Equal(eType) {
				return p7mError("the signed content type does not match the content")
			}
			gotType = true
		case a.Type.Equal(oidAttrMessageDigest):
			var d []byte
			if _, err := asn1.Unmarshal(v, &d); err != nil || len(vals) != 1 {
				return p7mDamaged("the message digest is not valid")
			}
			if !bytes.Equal(d, contentDigest) {
				return p7mError("the document does not match its signature: it was changed after it was signed")
			}
			gotDigest = true
		case a.Type.Equal(oidAttrSigningTime):
			var t time.Time
			if _, err := asn1.Unmarshal(v, &t); err != nil {
				return p7mDamaged("the signing time is not valid")
			}
			s.SignedAt = &t
		case a.Type.Equal(oidAttrSigningCertV2), a.Type.Equal(oidAttrSigningCert):
			if err := checkSigningCert(v, a.Type.Equal(oidAttrSigningCertV2), cert); err != nil {
				return err
			}
		}
	}
	if !gotType || !gotDigest {
		return p7mDamaged("the content-type or message-digest attribute is missing")
	}
	return nil
}

// checkSigningCert checks that the signing-certificate attribute (ESS, RFC
// 2634 and 5035) names the certificate that verifies the signature.
func checkSigningCert(v []byte, v2 bool, cert *x509.Certificate) error {
	bad := p7mDamaged("the signing-certificate attribute is not valid")
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(v, &outer); err != nil {
		return bad
	}
	parts, err := splitDER(outer.Bytes)
	if err != nil || len(parts) == 0 {
		return bad
	}
	ids, err := splitDER(parts[0].Bytes)
	if err != nil || len(ids) == 0 {
		return bad
	}
	id, err := splitDER(ids[0].Bytes)
	if err != nil || len(id) == 0 {
		return bad
	}
	var sum []byte
	switch {
	case !v2:
		s := sha1.Sum(cert.Raw) //nolint:gosec // identifies the certificate, as the attribute defines
		sum = s[:]
	case id[0].Tag == asn1.TagSequence && id[0].Class == asn1.ClassUniversal:
		var ai pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(id[0].FullBytes, &ai); err != nil {
			return bad
		}
		h, ok := hashOf(ai.Algorithm)
		if !ok {
			return p7mError("the signing-certificate attribute uses an unknown digest")
		}
		hh := newHash(h)
		hh.Write(cert.Raw)
		sum = hh.Sum(nil)
		id = id[1:]
	default:
		s := sha256.Sum256(cert.Raw)
		sum = s[:]
	}
	var certHash []byte
	if len(id) == 0 {
		return bad
	}
	if _, err := asn1.Unmarshal(id[0].FullBytes, &certHash); err != nil {
		return bad
	}
	if !bytes.Equal(certHash, sum) {
		return p7mError("the signing-certificate attribute names another certificate than the signer's")
	}
	return nil
}

func checkSignature(cert *x509.Certificate, sigAlg pkix.AlgorithmIdentifier, h crypto.Hash, digest, signed, sig []byte) error {
	invalid := p7mError("the signature does not verify with the signer's certificate: the document or the signature was altered")
	a := sigAlg.Algorithm
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case a.Equal(oidRSASSAPSS):
			salt, err := pssSaltLength(sigAlg.Parameters)
			if err != nil {
				return err
			}
			if rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: salt, Hash: h}) != nil {
				return invalid
			}
			return nil
		case a.Equal(oidSHA1WithRSA):
			return p7mError("it was signed with SHA-1, which is no longer accepted for signatures")
		case a.Equal(oidRSAEncryption), a.Equal(oidSHA256WithRSA), a.Equal(oidSHA384WithRSA), a.Equal(oidSHA512WithRSA):
			if rsa.VerifyPKCS1v15(pub, h, digest, sig) != nil {
				return invalid
			}
			return nil
		}
	case *ecdsa.PublicKey:
		if a.Equal(oidECPublicKey) || a.Equal(oidECDSAWithSHA256) || a.Equal(oidECDSAWithSHA384) || a.Equal(oidECDSAWithSHA512) {
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				return invalid
			}
			return nil
		}
	case ed25519.PublicKey:
		if a.Equal(oidEd25519) {
			if signed == nil || !ed25519.Verify(pub, signed, sig) {
				return invalid
			}
			return nil
		}
	}
	return p7mError("its signature algorithm (%s) is not supported", a)
}

// pssSaltLength reads the salt length of RSASSA-PSS parameters (RFC 4055):
// SEQUENCE { [0] hash, [1] mask generation, [2] saltLength DEFAULT 20, ... }.
func pssSaltLength(params asn1.RawValue) (int, error) {
	els, err := splitDER(params.Bytes)
	if err != nil {
		return 0, p7mDamaged("the RSA-PSS parameters are not valid")
	}
	for _, el := range els {
		if el.Class == asn1.ClassContextSpecific && el.Tag == 2 {
			var n int
			if _, err := asn1.Unmarshal(el.Bytes, &n); err != nil || n < 0 {
				return 0, p7mDamaged("the RSA-PSS salt length is not valid")
			}
			return n, nil
		}
	}
	return 20, nil
}
