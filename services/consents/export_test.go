package consents

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" //nolint:gosec // to build a SHA-1 signature that must be refused
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync"
	"time"
)

// What the external tests (package consents_test) use from inside.

// ParseP7MForTest verifies a whole envelope, as an upload does.
func ParseP7MForTest(b []byte) (signers []Signer, inner string, err error) {
	v := newP7MVerifier()
	if _, err := v.Write(b); err != nil {
		v.abort()
		return nil, "", err
	}
	return v.finish()
}

// SniffForTest is sniff.
func SniffForTest(head []byte) (string, error) { return sniff(head) }

// P7MOptions say how BuildP7M signs.
type P7MOptions struct {
	Key         crypto.Signer // RSA or ECDSA; a new RSA key when nil
	Subject     pkix.Name
	NotBefore   time.Time // certificate validity; now - 1h .. now + 24h when zero
	NotAfter    time.Time
	SigningTime time.Time // zero: none
	SHA1        bool      // digest with SHA-1 (refused)
	Detached    bool      // leave the content out
	NoCertV2    bool      // leave the signing-certificate-v2 attribute out
	WrongCertV2 bool      // name another certificate in it
	TamperSig   bool      // flip a bit of the signature
	Indefinite  bool      // BER: indefinite lengths and a chunked content
}

// One RSA key for every envelope of a test run: generating one takes long.
var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaErr  error
)

// BuildP7M makes a CAdES-BES SignedData of content with a self-signed
// certificate: the envelope Italian signing tools produce, built here with
// encoding/asn1 and the standard crypto packages only.
func BuildP7M(content []byte, o P7MOptions) ([]byte, *x509.Certificate, error) {
	key := o.Key
	if key == nil {
		rsaOnce.Do(func() { rsaKey, rsaErr = rsa.GenerateKey(rand.Reader, 2048) })
		if rsaErr != nil {
			return nil, nil, rsaErr
		}
		key = rsaKey
	}
	if o.Subject.CommonName == "" {
		o.Subject = pkix.Name{CommonName: "Mario Rossi", SerialNumber: "TINIT-RSSMRA80A01D612X", Country: []string{"IT"}}
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: o.Subject, Issuer: o.Subject,
		NotBefore: o.NotBefore, NotAfter: o.NotAfter, KeyUsage: x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}

	digestOID, h := oidSHA256, crypto.SHA256
	if o.SHA1 {
		digestOID, h = oidSHA1, crypto.SHA1
	}
	hh := h.New()
	hh.Write(content)
	contentDigest := hh.Sum(nil)
	algID := seq(mustMarshal(digestOID), []byte{0x05, 0x00})

	attrs := [][]byte{
		seq(mustMarshal(oidAttrContentType), set(mustMarshal(oidData))),
		seq(mustMarshal(oidAttrMessageDigest), set(mustMarshal(contentDigest))),
	}
	if !o.SigningTime.IsZero() {
		attrs = append(attrs, seq(mustMarshal(oidAttrSigningTime), set(mustMarshal(o.SigningTime.UTC()))))
	}
	if !o.NoCertV2 {
		sum := sha256.Sum256(cert.Raw)
		if o.WrongCertV2 {
			sum = sha256.Sum256([]byte("another certificate"))
		}
		attrs = append(attrs, seq(mustMarshal(oidAttrSigningCertV2), set(seq(seq(seq(mustMarshal(sum[:])))))))
	}
	signedAttrs := set(attrs...) // as signed: SET OF
	ah := h.New()
	ah.Write(signedAttrs)
	var sig []byte
	var sigAlg []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, ah.Sum(nil))
		sigAlg = seq(mustMarshal(oidRSAEncryption), []byte{0x05, 0x00})
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, ah.Sum(nil))
		sigAlg = seq(mustMarshal(oidECDSAWithSHA256))
	}
	if err != nil {
		return nil, nil, err
	}
	if o.TamperSig {
		sig[len(sig)/2] ^= 0x01
	}
	implicitAttrs := append([]byte{}, signedAttrs...)
	implicitAttrs[0] = 0xA0
	signerInfo := seq(mustMarshal(1), seq(cert.RawIssuer, mustMarshal(cert.SerialNumber)), algID, implicitAttrs, sigAlg, mustMarshal(sig))

	if o.Indefinite {
		// ContentInfo, SignedData and the content with indefinite lengths,
		// the content as a constructed OCTET STRING of 1000-byte chunks.
		var chunks []byte
		for rest := content; len(rest) > 0; {
			n := min(1000, len(rest))
			chunks = append(chunks, tlv(0x04, rest[:n])...)
			rest = rest[n:]
		}
		encap := indef(0x30, mustMarshal(oidData), indef(0xA0, indef(0x24, chunks)))
		sd := indef(0x30, mustMarshal(1), set(algID), encap, indef(0xA0, cert.Raw), indef(0x31, signerInfo))
		return indef(0x30, mustMarshal(oidSignedData), indef(0xA0, sd)), cert, nil
	}
	encap := seq(mustMarshal(oidData))
	if !o.Detached {
		encap = seq(mustMarshal(oidData), tlv(0xA0, mustMarshal(content)))
	}
	sd := seq(mustMarshal(1), set(algID), encap, tlv(0xA0, cert.Raw), set(signerInfo))
	return seq(mustMarshal(oidSignedData), tlv(0xA0, sd)), cert, nil
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func tlv(tag byte, parts ...[]byte) []byte {
	var content []byte
	for _, p := range parts {
		content = append(content, p...)
	}
	n := len(content)
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, content...)
}

func seq(parts ...[]byte) []byte { return tlv(0x30, parts...) }
func set(parts ...[]byte) []byte { return tlv(0x31, parts...) }

func indef(tag byte, parts ...[]byte) []byte {
	out := []byte{tag, 0x80}
	for _, p := range parts {
		out = append(out, p...)
	}
	return append(out, 0x00, 0x00)
}

// NewECKey is an ECDSA P-256 key for BuildP7M.
func NewECKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}
