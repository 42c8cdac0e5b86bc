package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-video/parley/records/recordstest"
	"github.com/parley-video/parley/redistest"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/routing"
	"github.com/parley-video/parley/signaling"
)

// In cluster mode a node registers in the registry with its media
// address and live load, keeps its entry alive past the TTL, and removes
// it when it shuts down.
func TestClusterNodeRegisters(t *testing.T) {
	url := redistest.URL(t)
	keys := t.TempDir()
	if err := contracts.EnsureDevSeal(keys); err != nil {
		t.Fatal(err)
	}
	if err := contracts.EnsureDevEscrow(keys); err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := s3Config(t)
	cfg.Records.Driver, cfg.Records.URL = "postgres", recordstest.PostgresURL(t)
	cfg.Session.Store = "redis"
	cfg.Session.RedisURL = url
	cfg.Session.KeyPrefix = "parley-node-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() { redistest.DeletePrefix(t, url, cfg.Session.KeyPrefix) })
	cfg.Signature.SealCert = filepath.Join(keys, contracts.DevSealCertFile)
	cfg.Signature.SealKey = filepath.Join(keys, contracts.DevSealKeyFile)
	cfg.Signature.EscrowPublicKey = filepath.Join(keys, contracts.DevEscrowPublicFile)
	key := make([]byte, 32)
	rand.Read(key)
	cfg.Storage.Key = "k1 " + base64.StdEncoding.EncodeToString(key)
	cfg.Cluster.Enabled = true
	cfg.Cluster.Secret = rand.Text() + rand.Text()
	cfg.Cluster.NodeID = "node-1"
	cfg.Cluster.InternalURL = "http://127.0.0.1:18080"
	cfg.Cluster.Heartbeat = 100 * time.Millisecond
	cfg.Cluster.DrainTimeout = 0 // this test is about the registry; e2e/TestClusterDrain drains

	n, err := New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node shutdown: %v", err)
			}
		}
	}
	t.Cleanup(stop)

	rdb, err := routing.Dial(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	view := routing.New(rdb, routing.Config{Prefix: cfg.Session.KeyPrefix}, routing.Node{ID: "observer"}, nil, nil)
	entry := func() (routing.Node, error) { return view.Node(t.Context(), "node-1") }
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	eventually("the node's registry entry", func() bool { _, err := entry(); return err == nil })
	got, _ := entry()
	if got.InternalURL != cfg.Cluster.InternalURL || got.MediaAddr != n.Media.UDPAddr() || got.State != routing.StateServing ||
		got.Version == "" || got.Started.IsZero() {
		t.Fatalf("entry %+v (media %s)", got, n.Media.UDPAddr())
	}
	// The load is the hub's, updated by the heartbeat.
	n.Hub.Open(signaling.ConsultationInfo{ID: "c_cluster"})
	if _, _, err := n.Hub.AddCustomer(t.Context(), "c_cluster", ""); err != nil {
		t.Fatal(err)
	}
	eventually("the load in the entry", func() bool {
		e, err := entry()
		return err == nil && e.Consultations == 1 && e.Participants == 1
	})
	// Alive well past its TTL (3 heartbeats).
	time.Sleep(time.Second)
	if _, err := entry(); err != nil {
		t.Fatalf("entry expired although the node runs: %v", err)
	}
	// Shutdown removes it at once.
	stop()
	if _, err := entry(); err == nil {
		t.Fatal("entry still there after shutdown")
	}
}

// A single node (cluster off) writes nothing to the registry, even with
// sessions in Redis.
func TestSingleNodeNoRegistry(t *testing.T) {
	url := redistest.URL(t)
	cfg, _, _ := s3Config(t)
	cfg.Records.Driver, cfg.Records.URL = "postgres", recordstest.PostgresURL(t)
	cfg.Session.Store = "redis"
	cfg.Session.RedisURL = url
	cfg.Session.KeyPrefix = "parley-node-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() { redistest.DeletePrefix(t, url, cfg.Session.KeyPrefix) })
	n := startNode(t, cfg)
	if n.Registry() != nil {
		t.Fatal("single node has a registry")
	}
	rdb, err := routing.Dial(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	time.Sleep(300 * time.Millisecond)
	keys, err := rdb.Keys(t.Context(), cfg.Session.KeyPrefix+"node*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("registry keys of a single node: %v %v", keys, err)
	}
}
