// Package objects keeps documents in MinIO (or any S3-compatible store): one
// versioned bucket, object lock where the server supports it, uploads that
// stream with a SHA-256 computed on the way, and errors translated to apperr.
package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"attivi/apperr"
)

const (
	// DefaultPartSize is the multipart part size used when Config.PartSize is
	// zero. It is also the largest object sent in a single PUT, and the one
	// buffer an upload holds in memory.
	DefaultPartSize = 16 << 20

	minPartSize = 5 << 20 // S3's smallest part but the last
	maxPartSize = 5 << 30 // S3's largest part
	maxParts    = 10000   // S3's most parts in one upload

	readyTimeout = 5 * time.Second
)

// Config says where the store is. Endpoint is host:port, without a scheme.
type Config struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool
	// PartSize is the multipart part size in bytes; 0 means DefaultPartSize.
	// An upload buffers one part, and the largest object is 10000 parts.
	PartSize uint64
}

// Store is the document store. It is safe for concurrent use.
type Store struct {
	client     *minio.Client
	core       minio.Core
	bucket     string
	partSize   uint64
	objectLock atomic.Bool
}

// Info describes one version of an object.
type Info struct {
	Key  string
	Size int64
	// SHA256 is the hex SHA-256 of the content as computed by Put while
	// streaming. The store does not keep it: Stat, Get and List leave it empty
	// (the metadata row holds it).
	SHA256       string
	VersionID    string
	ContentType  string
	ETag         string
	LastModified time.Time
	// Retention is the retain-until date of the version, nil when it is not
	// under object lock.
	Retention *time.Time
	// Metadata is the user metadata, keys in lower case.
	Metadata map[string]string
}

// New returns a store for cfg. It does no network I/O: call EnsureBucket at
// start and Ready for health checks.
func New(cfg Config) (*Store, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("objects: the endpoint is required")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, errors.New("objects: the endpoint is host:port, without a scheme (use Secure for https)")
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("objects: bucket name %q is not valid: %w", cfg.Bucket, err)
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < minPartSize || partSize > maxPartSize {
		return nil, fmt.Errorf("objects: part size %d is outside %d..%d", partSize, minPartSize, maxPartSize)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
	})
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	return &Store{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, partSize: partSize}, nil
}

// Bucket returns the name of the bucket the store uses.
func (s *Store) Bucket() string { return s.bucket }

// ObjectLock reports whether the bucket has object lock, as found by the last
// EnsureBucket. Without it PutOptions.RetainUntil is ignored.
func (s *Store) ObjectLock() bool { return s.objectLock.Load() }

// EnsureBucket creates the bucket if it is missing, with object lock when the
// server supports it, makes sure versioning is on and records whether object
// lock is on. It is idempotent and safe when several instances run it at once.
func (s *Store) EnsureBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.fail(ctx, err)
	}
	if !exists {
		if err := s.makeBucket(ctx); err != nil {
			return err
		}
	}
	if err := s.client.EnableVersioning(ctx, s.bucket); err != nil {
		return s.fail(ctx, err)
	}
	lock, _, _, _, err := s.client.GetObjectLockConfig(ctx, s.bucket)
	switch {
	case err == nil:
		s.objectLock.Store(lock == "Enabled")
	case s3Code(err) == "ObjectLockConfigurationNotFoundError":
		s.objectLock.Store(false)
	case isNotSupported(err):
		s.objectLock.Store(false)
	default:
		return s.fail(ctx, err)
	}
	return nil
}

func (s *Store) makeBucket(ctx context.Context) error {
	err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{ObjectLocking: true})
	if err == nil || alreadyExists(err) {
		return nil
	}
	// The server answered but refused object lock: create a plain bucket.
	// Anything else (unreachable, 5xx, denied) must not be taken for "no
	// object lock", or a transient fault would create a bucket without it.
	if !isNotSupported(err) {
		return s.fail(ctx, err)
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
	if err == nil || alreadyExists(err) {
		return nil
	}
	return s.fail(ctx, err)
}

func alreadyExists(err error) bool {
	code := s3Code(err)
	return code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists"
}

// isNotSupported reports whether the server answered that it does not
// implement what was asked: 501, or a 4xx other than 403/404/409.
func isNotSupported(err error) bool {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	switch {
	case resp.StatusCode == http.StatusNotImplemented:
		return true
	case resp.StatusCode == http.StatusForbidden, resp.StatusCode == http.StatusNotFound,
		resp.StatusCode == http.StatusConflict, resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode == http.StatusTooManyRequests:
		return false
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return true
	}
	return resp.Code == "NotImplemented"
}

// Ready makes one cheap round trip to the store (does the bucket exist?)
// bounded by ctx, or by readyTimeout when ctx has no deadline (minio-go
// retries a failed request with backoff until its context ends). It keeps no
// state: it fails while the store is unreachable and succeeds again as soon
// as it is back.
func (s *Store) Ready(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.fail(ctx, err)
	}
	if !exists {
		return apperr.New(apperr.Unavailable, "the document store bucket does not exist")
	}
	return nil
}

// Stat returns the current version's information, apperr.NotFound when the
// key does not exist or its current version is a delete marker.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) {
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.fail(ctx, err)
	}
	return toInfo(oi), nil
}

// Get opens the current version of key. The object is looked up before any
// body is returned, so a missing key is apperr.NotFound and nothing else; the
// reader then streams the content and must be closed.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	body, oi, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, s.fail(ctx, err)
	}
	return &reader{rc: body}, toInfo(oi), nil
}

// GetRange opens bytes start..end (inclusive) of the current version of key;
// end < 0 means to the end of the object. Info.Size is the size of the whole
// object, the reader yields only the range. A range that starts at or beyond
// the end of the object is apperr.Invalid.
func (s *Store) GetRange(ctx context.Context, key string, start, end int64) (io.ReadCloser, Info, error) {
	if start < 0 || (end >= 0 && end < start) {
		return nil, Info{}, apperr.New(apperr.Invalid, "the requested range is not valid")
	}
	var opts minio.GetObjectOptions
	if end < 0 {
		// SetRange(0, 0) would mean bytes=0-0; bytes=0- is the whole object.
		opts.Set("Range", "bytes="+strconv.FormatInt(start, 10)+"-")
	} else if err := opts.SetRange(start, end); err != nil {
		return nil, Info{}, apperr.Wrap(err, apperr.Invalid, "the requested range is not valid")
	}
	body, oi, h, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, Info{}, s.fail(ctx, err)
	}
	info := toInfo(oi)
	if total, ok := totalFromContentRange(h.Get("Content-Range")); ok {
		info.Size = total
	}
	return &reader{rc: body}, info, nil
}

// totalFromContentRange reads the complete length from "bytes 0-9/1234".
func totalFromContentRange(v string) (int64, bool) {
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[i+1:], 10, 64)
	return n, err == nil
}

// reader translates the errors of an object body.
type reader struct{ rc io.ReadCloser }

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = translate(err)
	}
	return n, err
}

func (r *reader) Close() error { return r.rc.Close() }

// Remove removes the current version of key. The bucket is versioned, so this
// writes a delete marker and the content stays as a previous version (which
// also works under retention). Removing a missing key is not an error.
func (s *Store) Remove(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// RemoveVersion deletes one version of key for good. A version under
// retention is refused with apperr.Forbidden unless bypassGovernance is set
// (and the credentials may bypass GOVERNANCE mode).
func (s *Store) RemoveVersion(ctx context.Context, key, versionID string, bypassGovernance bool) error {
	if versionID == "" {
		return apperr.New(apperr.Internal, "a version id is required to remove a version")
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{
		VersionID:        versionID,
		GovernanceBypass: bypassGovernance,
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// List walks the current objects whose key starts with prefix, in key order
// (delete markers and previous versions are not listed). It stops at the
// first error, which it yields with a zero Info.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if oi.Err != nil {
				yield(Info{}, s.fail(ctx, oi.Err))
				return
			}
			if !yield(toInfo(oi), nil) {
				return
			}
		}
	}
}

func toInfo(oi minio.ObjectInfo) Info {
	info := Info{
		Key:          oi.Key,
		Size:         oi.Size,
		VersionID:    oi.VersionID,
		ContentType:  oi.ContentType,
		ETag:         oi.ETag,
		LastModified: oi.LastModified,
	}
	if v := oi.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			info.Retention = &t
		}
	}
	if len(oi.UserMetadata) > 0 {
		info.Metadata = make(map[string]string, len(oi.UserMetadata))
		for k, v := range oi.UserMetadata {
			info.Metadata[strings.ToLower(k)] = v
		}
	}
	return info
}
