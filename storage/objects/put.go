package objects

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"attivi/apperr"
)

// PutOptions are the options of Put.
type PutOptions struct {
	// ContentType defaults to application/octet-stream.
	ContentType string
	// RetainUntil puts the version under retention (GOVERNANCE mode) until
	// then, rounded up to the second. Zero means no retention. It is ignored
	// when the bucket has no object lock (see Store.ObjectLock).
	RetainUntil time.Time
	// Metadata is stored as user metadata (x-amz-meta-*); keys are case
	// insensitive and come back in lower case.
	Metadata map[string]string
}

var (
	errShort = errors.New("the stream ended before its declared size")
	errLong  = errors.New("the stream is longer than its declared size")
)

// Put stores r under key as a new version and returns what it wrote, with the
// SHA-256 and size computed here while the bytes went by.
//
// Size is the exact length of r, or -1 when it is not known. Put streams:
// objects up to the part size go in one PUT read straight from r, larger or
// unknown-size ones in parts of Config.PartSize, one part buffered at a time,
// so memory does not depend on the object size.
//
// If r fails, or yields fewer or more bytes than size, or ctx ends, Put
// returns an error and leaves no object and no incomplete multipart upload
// behind (minio-go aborts the upload; a single PUT is cut before its last
// bytes are sent, and a version that got stored anyway is deleted). Put does
// not read r after it returns.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	if size < -1 {
		return Info{}, apperr.New(apperr.Invalid, "the declared size is not valid")
	}
	if limit := int64(s.partSize) * maxParts; size > limit {
		return Info{}, apperr.New(apperr.TooLarge, "the document is too large")
	}
	contentType := opts.ContentType
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	popts := minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    s.partSize,
		// These are the defaults, spelled out because they decide memory:
		// with ConcurrentStreamParts minio-go would buffer NumThreads parts.
		ConcurrentStreamParts: false,
		NumThreads:            1,
	}
	if len(opts.Metadata) > 0 {
		popts.UserMetadata = make(map[string]string, len(opts.Metadata))
		for k, v := range opts.Metadata {
			popts.UserMetadata[strings.ToLower(k)] = v
		}
	}
	var retention *time.Time
	if !opts.RetainUntil.IsZero() && s.ObjectLock() {
		until := opts.RetainUntil.UTC()
		if t := until.Truncate(time.Second); t.Before(until) {
			until = t.Add(time.Second)
		}
		if !until.After(time.Now()) {
			return Info{}, apperr.New(apperr.Invalid, "the retention date must be in the future")
		}
		popts.Mode = minio.Governance
		popts.RetainUntilDate = until
		retention = &until
	}

	uctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hr := &hashingReader{r: r, h: sha256.New(), size: size, onFail: cancel}
	defer hr.close()

	// A zero-length PUT has no body, so minio-go never reads r: check here
	// that it is empty indeed.
	if size == 0 {
		if _, err := hr.Read(make([]byte, 1)); err != io.EOF {
			hr.close()
			return Info{}, hr.failure()
		}
	}

	up, err := s.client.PutObject(uctx, s.bucket, key, hr, size, popts)
	hr.close()
	if rerr := hr.failure(); rerr != nil {
		if err == nil {
			// minio-go stored a version although the stream was wrong: the
			// reader failed after the request was complete. Delete it.
			s.removeFailed(ctx, key, up.VersionID)
		}
		return Info{}, rerr
	}
	if err != nil {
		return Info{}, s.fail(ctx, err)
	}
	if size >= 0 && hr.n != size {
		s.removeFailed(ctx, key, up.VersionID)
		return Info{}, apperr.Wrap(errShort, apperr.Invalid, "the upload does not match its declared size")
	}
	return Info{
		Key:          key,
		Size:         hr.n,
		SHA256:       hex.EncodeToString(hr.h.Sum(nil)),
		VersionID:    up.VersionID,
		ContentType:  contentType,
		ETag:         up.ETag,
		LastModified: up.LastModified,
		Retention:    retention,
		Metadata:     popts.UserMetadata,
	}, nil
}

// removeFailed deletes a version stored by an upload that turned out wrong,
// even when the caller's ctx is gone.
func (s *Store) removeFailed(ctx context.Context, key, versionID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_ = s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{
		VersionID:        versionID,
		GovernanceBypass: true,
	})
}

// hashingReader feeds what minio-go reads through a SHA-256 and counts it.
// With a declared size it never yields more than size bytes, and it fails the
// read that would complete the object when the stream is shorter or longer, so
// that the last bytes of a wrong upload are never sent. On failure it cancels
// the upload's context. After close it no longer touches r.
type hashingReader struct {
	mu     sync.Mutex
	r      io.Reader
	h      hash.Hash
	n      int64
	size   int64 // -1: unknown
	err    error // the first failure, returned by every later Read
	eof    bool  // the declared size was reached and nothing follows
	closed bool
	onFail func(error)
}

var errClosed = errors.New("objects: read after the upload ended")

func (hr *hashingReader) Read(p []byte) (int, error) {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	if hr.err != nil {
		return 0, hr.err
	}
	if hr.closed {
		return 0, errClosed
	}
	if hr.size >= 0 {
		left := hr.size - hr.n
		if left == 0 {
			if !hr.eof {
				if perr := hr.probe(); perr != nil {
					return 0, hr.fail(perr)
				}
				hr.eof = true
			}
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	switch {
	case err != nil && err != io.EOF:
		return 0, hr.fail(err)
	case hr.size < 0:
		return n, err
	case hr.n < hr.size && err == io.EOF:
		return 0, hr.fail(errShort)
	case hr.n == hr.size && err == io.EOF:
		hr.eof = true
	case hr.n == hr.size && err == nil:
		// The declared size is reached: before handing over the last bytes,
		// make sure nothing follows.
		if perr := hr.probe(); perr != nil {
			return 0, hr.fail(perr)
		}
		hr.eof = true
		return n, io.EOF
	}
	return n, err
}

// probe reads one more byte and reports whether the stream really ended.
func (hr *hashingReader) probe() error {
	var b [1]byte
	for range 100 {
		n, err := hr.r.Read(b[:])
		switch {
		case n > 0:
			return errLong
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

func (hr *hashingReader) fail(err error) error {
	hr.err = err
	if hr.onFail != nil {
		hr.onFail(err)
	}
	return err
}

// close waits for a Read in progress (the HTTP transport may still be reading
// the body when PutObject returns) and stops any later one.
func (hr *hashingReader) close() {
	hr.mu.Lock()
	hr.closed = true
	hr.mu.Unlock()
}

// failure returns the app error for the reader's failure, or nil.
func (hr *hashingReader) failure() error {
	hr.mu.Lock()
	err := hr.err
	hr.mu.Unlock()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errShort), errors.Is(err, errLong):
		return apperr.Wrap(err, apperr.Invalid, "the upload does not match its declared size")
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return apperr.Wrap(err, apperr.Unavailable, "the request was cancelled")
	}
	return apperr.Wrap(err, apperr.Invalid, "the upload could not be read")
}
