package objects

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"

	"attivi/apperr"
)

const msgUnavailable = "the document store is not available"

// fail translates err, first noting when ctx itself was cancelled: minio-go
// retries failed requests until ctx ends and then returns the last failure,
// which would otherwise read as "unreachable".
func (s *Store) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return translate(err)
}

// translate maps an error from minio-go (or the network below it) to an app
// error. It is the one place that knows MinIO's error codes.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return apperr.Wrap(err, apperr.Unavailable, "the request was cancelled")
	}

	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "NoSuchKey", "NoSuchVersion":
			return apperr.Wrap(err, apperr.NotFound, "the document was not found")
		case "NoSuchBucket":
			return apperr.Wrap(err, apperr.NotFound, "the document store bucket does not exist")
		case "ObjectLocked":
			return apperr.Wrap(err, apperr.Forbidden, "the document is under retention and cannot be removed")
		case "InvalidRequest":
			// MinIO's answer to deleting a locked version.
			if strings.Contains(resp.Message, "WORM") {
				return apperr.Wrap(err, apperr.Forbidden, "the document is under retention and cannot be removed")
			}
		case "AccessDenied":
			// S3's answer to deleting a locked version.
			if strings.Contains(strings.ToLower(resp.Message), "object lock") {
				return apperr.Wrap(err, apperr.Forbidden, "the document is under retention and cannot be removed")
			}
			return apperr.Wrap(err, apperr.Internal, "the document store denied access (check the credentials and bucket policy)")
		case "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return apperr.Wrap(err, apperr.Internal, "the document store rejected the credentials")
		case "EntityTooLarge":
			return apperr.Wrap(err, apperr.TooLarge, "the document is too large")
		case "InvalidRange":
			return apperr.Wrap(err, apperr.Invalid, "the requested range is not satisfiable")
		case "SlowDown", "SlowDownRead", "SlowDownWrite", "ServiceUnavailable", "RequestTimeout",
			"XMinioServerNotInitialized", "ServerNotInitialized", "XMinioStorageFull", "InternalError":
			return apperr.Wrap(err, apperr.Unavailable, msgUnavailable)
		}
		switch {
		case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
			resp.StatusCode == http.StatusRequestTimeout:
			return apperr.Wrap(err, apperr.Unavailable, msgUnavailable)
		case resp.StatusCode == http.StatusNotFound:
			return apperr.Wrap(err, apperr.NotFound, "the document was not found")
		}
		return apperr.Wrap(err, apperr.Internal, "the document store rejected the request")
	}

	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalidCert      x509.CertificateInvalidError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalidCert) {
		return apperr.Wrap(err, apperr.Internal, "the document store certificate is not trusted")
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return apperr.Wrap(err, apperr.Unavailable, msgUnavailable)
	}
	return apperr.Wrap(err, apperr.Internal, "the document store failed")
}

// s3Code returns the S3 error code of err, or "".
func s3Code(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}
