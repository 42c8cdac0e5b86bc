package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clusterConfig is a cluster node's configuration that validates: shared
// keys from files, a fixed TURN secret, sessions in Redis.
func clusterConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("pem"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := Default()
	c.Cluster.Enabled = true
	c.Cluster.InternalURL = "http://10.0.0.5:8080"
	c.Session.Store = "redis"
	c.Session.RedisURL = "redis://127.0.0.1:6379/0"
	c.Signature.SealCert = file("seal.pem")
	c.Signature.SealKey = file("seal.key")
	c.Signature.EscrowPublicKey = file("escrow.pub")
	c.Storage.KeyFile = file("storage.keys")
	c.TURN.Enabled = true
	c.TURN.Secret = strings.Repeat("s", 32)
	c.Cluster.Secret = strings.Repeat("c", 32)
	c.Records.Driver, c.Records.URL = "postgres", "postgres://parley@10.0.0.6:5432/parley"
	c.Storage.Backend = StorageS3
	c.Storage.S3 = S3Config{Endpoint: "s3.example.com", Bucket: "parley", AccessKeyID: "id", SecretAccessKey: "secret", UseTLS: true}
	return c
}

// Cluster mode refuses, one by one, everything that would be made per node
// or per start, and says what to set; a single node (cluster off) accepts
// the same settings as before.
func TestClusterRefusals(t *testing.T) {
	good := clusterConfig(t)
	if err := good.Validate(); err != nil {
		t.Fatalf("a complete cluster configuration is refused: %v", err)
	}
	env := clusterConfig(t)
	env.Storage.KeyFile, env.Storage.Key = "", "k1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if err := env.Validate(); err != nil {
		t.Fatalf("a storage key from the environment is refused: %v", err)
	}
	noTURN := clusterConfig(t)
	noTURN.TURN.Enabled, noTURN.TURN.Secret = false, ""
	if err := noTURN.Validate(); err != nil {
		t.Fatalf("cluster without TURN is refused: %v", err)
	}

	for _, tc := range []struct {
		name   string
		change func(*Config)
		key    string // the key the message names
		advice string // part of what it tells the operator to set
	}{
		{"development seal", func(c *Config) { c.Signature.SealCert, c.Signature.SealKey = "", "" },
			"signature.seal_cert/signature.seal_key", "same production certificate"},
		{"development escrow key", func(c *Config) { c.Signature.EscrowPublicKey = "" },
			"signature.escrow_public_key", "escrow holder's public key"},
		{"random TURN secret", func(c *Config) { c.TURN.Secret = "" },
			"turn.secret", "PARLEY_TURN_SECRET"},
		{"memory session store", func(c *Config) { c.Session.Store, c.Session.RedisURL = "memory", "" },
			"session.store", "set session.store to redis"},
		{"per-node storage key", func(c *Config) { c.Storage.KeyFile, c.Storage.Key = "", "" },
			"storage.key/storage.key_file", "PARLEY_STORAGE_KEY"},
		{"records in SQLite", func(c *Config) { c.Records.Driver, c.Records.URL = "sqlite", "" },
			"records.driver", "postgres"},
		{"files on the local disk", func(c *Config) { c.Storage.Backend = StorageLocal },
			"storage.backend", "set storage.backend to s3"},
		{"no cluster secret", func(c *Config) { c.Cluster.Secret = "" },
			"cluster.secret", "PARLEY_CLUSTER_SECRET"},
		{"short cluster secret", func(c *Config) { c.Cluster.Secret = "short" },
			"cluster.secret", "at least 32 characters"},
		{"no internal URL", func(c *Config) { c.Cluster.InternalURL = "" },
			"cluster.internal_url", "http://10.0.0.5:8080"},
		{"internal URL with a path", func(c *Config) { c.Cluster.InternalURL = "http://10.0.0.5:8080/parley" },
			"cluster.internal_url", "no path"},
		{"bad node id", func(c *Config) { c.Cluster.NodeID = "node 1/evil" },
			"cluster.node_id", "letters, digits"},
		{"heartbeat too fast", func(c *Config) { c.Cluster.Heartbeat = 0 },
			"cluster.heartbeat", "100ms..1m"},
		{"negative drain timeout", func(c *Config) { c.Cluster.DrainTimeout = -1 },
			"cluster.drain_timeout", "0s..24h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clusterConfig(t)
			tc.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key+":") || !strings.Contains(msg, tc.advice) {
				t.Fatalf("message does not name %s or say %q:\n%s", tc.key, tc.advice, msg)
			}
			if n := strings.Count(msg, "\n") + 1; n != 1 {
				t.Fatalf("%d problems reported, want 1:\n%s", n, msg)
			}
			// The same settings on a single node are fine (except the
			// cluster section's own checks).
			if strings.HasPrefix(tc.key, "cluster.") && tc.key != "cluster.internal_url" {
				return
			}
			c.Cluster.Enabled = false
			if err := c.Validate(); err != nil {
				t.Fatalf("single node refuses it too: %v", err)
			}
		})
	}
}

// All of the single-node defaults are refused at once in cluster mode,
// each with its own line.
func TestClusterRefusesDefaults(t *testing.T) {
	c := Default()
	c.Cluster.Enabled = true
	c.TURN.Enabled = true
	err := c.Validate()
	if err == nil {
		t.Fatal("cluster mode with single-node defaults accepted")
	}
	for _, key := range []string{"cluster.internal_url:", "session.store:", "signature.seal_cert/signature.seal_key:",
		"signature.escrow_public_key:", "storage.key/storage.key_file:", "turn.secret:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no refusal for %s in:\n%v", key, err)
		}
	}
}

// The cluster example parses strictly and turns cluster mode on; the only
// problems Validate finds are the example's key files, which do not exist
// here.
func TestClusterExampleFile(t *testing.T) {
	c := Default()
	if err := LoadFile(&c, filepath.Join("..", "configs", "cluster.example.yaml")); err != nil {
		t.Fatal(err)
	}
	if !c.Cluster.Enabled || c.Session.Store != "redis" || c.Cluster.InternalURL == "" ||
		c.Records.Driver != "postgres" || c.Storage.Backend != StorageS3 {
		t.Fatalf("cluster example: %+v %+v", c.Cluster, c.Session)
	}
	c.Storage.Key = "k1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // from the environment in the example
	c.TURN.Secret = strings.Repeat("s", 32)
	c.Cluster.Secret = strings.Repeat("c", 32)               // from the environment in the example
	c.Records.URL = "postgres://parley@10.0.0.6:5432/parley" // from the environment in the example
	c.Storage.S3.SecretAccessKey = "secret"                  // from the environment in the example
	err := c.Validate()
	if err == nil {
		return
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if !strings.Contains(line, "cannot read") {
			t.Errorf("cluster example: %s", line)
		}
	}
}

func TestDefaultNodeID(t *testing.T) {
	a, b := DefaultNodeID(), DefaultNodeID()
	if a == b || !nodeIDPattern.MatchString(a) || !nodeIDPattern.MatchString(b) {
		t.Fatalf("DefaultNodeID: %q, %q", a, b)
	}
}
