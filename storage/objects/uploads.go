package objects

import (
	"context"
	"time"
)

// AbortUploads aborts the incomplete multipart uploads under prefix that
// were initiated before olderThan, and returns how many it aborted. Put
// aborts its own failed uploads; these are what a process killed in the
// middle of a large upload leaves: parts that are no object, that no list
// shows, and that take space until they are aborted.
func (s *Store) AbortUploads(ctx context.Context, prefix string, olderThan time.Time) (int, error) {
	n := 0
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, prefix, true) {
		if u.Err != nil {
			return n, s.fail(ctx, u.Err)
		}
		if !u.Initiated.Before(olderThan) {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil {
			if s3Code(err) == "NoSuchUpload" {
				continue // completed or aborted meanwhile
			}
			return n, s.fail(ctx, err)
		}
		n++
	}
	return n, nil
}
