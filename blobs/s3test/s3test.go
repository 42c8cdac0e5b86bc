// Package s3test gives tests a bucket of their own on the real S3 server
// that scripts/test.sh starts (PARLEY_TEST_S3_*), and reads it raw.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Environment variables set by scripts/test.sh (scripts/test-s3.sh).
const (
	EnvEndpoint  = "PARLEY_TEST_S3_ENDPOINT"
	EnvAccessKey = "PARLEY_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "PARLEY_TEST_S3_SECRET_KEY"
)

// Options reach a test bucket (the fields of blobs.S3Options; this
// package does not import blobs, so blobs' own tests can use it).
type Options struct {
	Endpoint, Bucket, Region, AccessKeyID, SecretAccessKey string
}

// Bucket creates a fresh bucket for t (removed with its objects when t
// ends) and returns what reaches it (path-style, plain HTTP) and a raw
// client. It skips t when no S3 server is configured.
func Bucket(t testing.TB) (Options, *minio.Client) {
	t.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep == "" {
		t.Skip("no S3 server: " + EnvEndpoint + " unset (scripts/test.sh starts one)")
	}
	opt := Options{Endpoint: ep, AccessKeyID: os.Getenv(EnvAccessKey), SecretAccessKey: os.Getenv(EnvSecretKey),
		Region: "us-east-1"}
	c, err := minio.New(ep, &minio.Options{Creds: credentials.NewStaticV4(opt.AccessKeyID, opt.SecretAccessKey, ""),
		Region: opt.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	opt.Bucket = "parley-test-" + hex.EncodeToString(rnd[:])
	ctx := context.Background()
	if err := c.MakeBucket(ctx, opt.Bucket, minio.MakeBucketOptions{Region: opt.Region}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	t.Cleanup(func() {
		for _, k := range Keys(t, c, opt.Bucket, "") {
			c.RemoveObject(ctx, opt.Bucket, k, minio.RemoveObjectOptions{})
		}
		for u := range c.ListIncompleteUploads(ctx, opt.Bucket, "", true) {
			if u.Err == nil {
				c.RemoveIncompleteUpload(ctx, opt.Bucket, u.Key)
			}
		}
		c.RemoveBucket(ctx, opt.Bucket)
	})
	return opt, c
}

// Keys lists every object name in bucket under prefix.
func Keys(t testing.TB, c *minio.Client, bucket, prefix string) []string {
	t.Helper()
	var out []string
	for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s: %v", bucket, o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}
