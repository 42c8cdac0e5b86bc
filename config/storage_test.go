package config

import (
	"strings"
	"testing"
)

func TestValidateStorageBackend(t *testing.T) {
	good := func(c *Config) {
		c.Storage.Backend = StorageS3
		c.Storage.S3 = S3Config{Endpoint: "127.0.0.1:8333", Bucket: "parley-files", AccessKeyID: "id", SecretAccessKey: "secret", PathStyle: true}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // "" valid, else a fragment of the message
	}{
		{"local default", func(*Config) {}, ""},
		{"s3", good, ""},
		{"unknown backend", func(c *Config) { c.Storage.Backend = "nfs" }, `storage.backend: "nfs"`},
		{"no endpoint", func(c *Config) { good(c); c.Storage.S3.Endpoint = "" }, "storage.s3.endpoint: must name"},
		{"scheme", func(c *Config) { good(c); c.Storage.S3.Endpoint = "https://s3.example" }, "without a scheme"},
		{"path", func(c *Config) { good(c); c.Storage.S3.Endpoint = "s3.example/bucket" }, "no path"},
		{"bucket", func(c *Config) { good(c); c.Storage.S3.Bucket = "Parley_Files" }, "storage.s3.bucket"},
		{"no bucket", func(c *Config) { good(c); c.Storage.S3.Bucket = "" }, "storage.s3.bucket"},
		{"prefix", func(c *Config) { good(c); c.Storage.S3.Prefix = "/parley/" }, "storage.s3.prefix"},
		{"no secret", func(c *Config) { good(c); c.Storage.S3.SecretAccessKey = "" }, "PARLEY_STORAGE_S3_SECRET_ACCESS_KEY"},
	} {
		c := Default()
		tc.mutate(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "secret\""):
			t.Errorf("%s: the message shows the secret: %v", tc.name, err)
		}
	}
}
