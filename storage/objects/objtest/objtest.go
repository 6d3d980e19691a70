// Package objtest gives tests a real MinIO bucket of their own.
//
// The server comes from the environment, as set by `make test`:
// ATTIVI_S3_ENDPOINT (host:port), ATTIVI_S3_ACCESS_KEY, ATTIVI_S3_SECRET_KEY
// and ATTIVI_S3_SECURE. Without ATTIVI_S3_ENDPOINT tests are skipped, except
// in CI (CI set), where they fail.
package objtest

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"attivi/storage/objects"
)

// New returns a store on a new bucket, created with EnsureBucket, that is
// emptied (every version, bypassing governance retention) and removed when the
// test ends.
func New(tb testing.TB) *objects.Store {
	tb.Helper()
	cfg := Config(tb)
	s, err := objects.New(cfg)
	if err != nil {
		tb.Fatalf("objects.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.EnsureBucket(ctx); err != nil {
		tb.Fatalf("EnsureBucket: %v", err)
	}
	return s
}

// Config returns the configuration of the test server with a fresh bucket
// name (attivi-test-<random>). The bucket is not created, but if it exists
// when the test ends it is emptied and removed.
func Config(tb testing.TB) objects.Config {
	tb.Helper()
	cfg := env(tb)
	cfg.Bucket = "attivi-test-" + strings.ToLower(rand.Text())
	tb.Cleanup(func() { removeBucket(tb, cfg.Bucket) })
	return cfg
}

// Client returns a raw minio-go client on the test server, for assertions
// the store does not offer (versions, incomplete uploads, retention).
func Client(tb testing.TB) *minio.Client {
	tb.Helper()
	cfg := env(tb)
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
	})
	if err != nil {
		tb.Fatalf("minio.New: %v", err)
	}
	return c
}

func env(tb testing.TB) objects.Config {
	tb.Helper()
	endpoint := os.Getenv("ATTIVI_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("ATTIVI_S3_ENDPOINT is not set: CI must run the tests against MinIO")
		}
		tb.Skip("ATTIVI_S3_ENDPOINT is not set: run `make test` to test against MinIO")
	}
	secure := false
	if v := os.Getenv("ATTIVI_S3_SECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			tb.Fatalf("ATTIVI_S3_SECURE=%q: %v", v, err)
		}
		secure = b
	}
	return objects.Config{
		Endpoint:  endpoint,
		AccessKey: os.Getenv("ATTIVI_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("ATTIVI_S3_SECRET_KEY"),
		Secure:    secure,
	}
}

// removeBucket deletes every version and delete marker in bucket, bypassing
// governance retention, and then the bucket. A missing bucket is fine.
func removeBucket(tb testing.TB, bucket string) {
	tb.Helper()
	c := Client(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exists, err := c.BucketExists(ctx, bucket)
	if err != nil {
		tb.Errorf("cleanup: bucket %s: %v", bucket, err)
		return
	}
	if !exists {
		return
	}
	for oi := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if oi.Err != nil {
			tb.Errorf("cleanup: list %s: %v", bucket, oi.Err)
			return
		}
		err := c.RemoveObject(ctx, bucket, oi.Key, minio.RemoveObjectOptions{VersionID: oi.VersionID, GovernanceBypass: true})
		if err != nil {
			tb.Errorf("cleanup: remove %s version %s: %v", oi.Key, oi.VersionID, err)
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		tb.Errorf("cleanup: remove bucket %s: %v", bucket, err)
	}
}
