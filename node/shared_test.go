package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/records/recordstest"
	"github.com/parley-video/parley/redislock"
	"github.com/parley-video/parley/redistest"
	"github.com/parley-video/parley/routing"
	"github.com/parley-video/parley/signature"
)

// sharedTestConfig is a cluster-mode configuration on the test Redis
// under prefix, with the shared keys cluster mode demands (made in keys).
func sharedTestConfig(t *testing.T, url, prefix, keys, storageKey, id string, back backends) config.Config {
	t.Helper()
	cfg := testConfig(t)
	cfg.Records.Driver, cfg.Records.URL = "postgres", back.records
	cfg.Storage.Backend, cfg.Storage.S3 = config.StorageS3, back.s3
	cfg.Cluster.Secret = back.secret
	cfg.Session.Store = "redis"
	cfg.Session.RedisURL = url
	cfg.Session.KeyPrefix = prefix
	cfg.Signature.SealCert = filepath.Join(keys, contracts.DevSealCertFile)
	cfg.Signature.SealKey = filepath.Join(keys, contracts.DevSealKeyFile)
	cfg.Signature.EscrowPublicKey = filepath.Join(keys, contracts.DevEscrowPublicFile)
	cfg.Storage.Key = storageKey
	cfg.Cluster.Enabled = true
	cfg.Cluster.NodeID = id
	cfg.Cluster.InternalURL = "http://127.0.0.1:18080"
	return cfg
}

// backends are the shared records, bucket and cluster secret of one
// test's nodes (cluster mode refuses per-node ones).
type backends struct {
	records, secret string
	s3              config.S3Config
}

func sharedBackends(t *testing.T) backends {
	t.Helper()
	s3cfg, _, _ := s3Config(t)
	return backends{records: recordstest.PostgresURL(t), secret: rand.Text() + rand.Text(), s3: s3cfg.Storage.S3}
}

// TestClusterLoginThrottleShared: two nodes in cluster mode count failed
// logins together in Redis: wrong passwords alternating between them
// reach the backoff after one node's budget, and then both refuse.
func TestClusterLoginThrottleShared(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	keys := t.TempDir()
	if err := contracts.EnsureDevSeal(keys); err != nil {
		t.Fatal(err)
	}
	if err := contracts.EnsureDevEscrow(keys); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	storageKey := "k1 " + base64.StdEncoding.EncodeToString(key)
	const budget = 2
	var nodes []*Node
	back := sharedBackends(t)
	for _, id := range []string{"node-a", "node-b"} {
		cfg := sharedTestConfig(t, url, prefix, keys, storageKey, id, back)
		cfg.Auth.LoginAttemptsPerMinute = budget
		nodes = append(nodes, startNode(t, cfg))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	login := func(n *Node) int {
		t.Helper()
		resp, err := hc.Post("http://"+n.HTTPAddr()+"/api/v1/login", "application/json",
			bytes.NewReader([]byte(`{"username":"nobody","password":"wrong password!"}`)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	failed := 0
	for i := 0; i < 4*budget; i++ {
		code := login(nodes[i%2])
		if code == http.StatusTooManyRequests {
			break
		}
		if code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, code)
		}
		failed++
	}
	if failed != budget {
		t.Fatalf("%d wrong passwords over two nodes before the backoff; want the budget, %d", failed, budget)
	}
	for i, n := range nodes {
		if code := login(n); code != http.StatusTooManyRequests {
			t.Fatalf("node %d after the budget: %d; want 429", i, code)
		}
	}
}

// TestClusterSigningLockShared: in cluster mode a node's work on a
// document waits while another node holds the document's lock in Redis,
// and goes on once it is released.
func TestClusterSigningLockShared(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	keys := t.TempDir()
	if err := contracts.EnsureDevSeal(keys); err != nil {
		t.Fatal(err)
	}
	if err := contracts.EnsureDevEscrow(keys); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	n := startNode(t, sharedTestConfig(t, url, prefix, keys, "k1 "+base64.StdEncoding.EncodeToString(key), "node-a", sharedBackends(t)))
	ctx := t.Context()
	adv, err := n.Records.CreateUser(ctx, "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	con, _, err := n.Records.CreateConsultation(ctx, adv.ID, "Beratung", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Vertrag"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := n.Contracts.Present(ctx, contracts.Presentation{ConsultationID: con.ID, Name: "vertrag.pdf", PDF: pdf,
		Signers: []string{"customer"}, CreatedBy: adv.ID, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}

	// Another node holds the document's lock.
	rdb, err := routing.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	unlock, err := redislock.New(rdb, prefix, 0).Lock(ctx, "document:"+doc.ID)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = n.Contracts.Withdraw(short, con.ID, doc.ID, "staff:1")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, contracts.ErrLockUnavailable) {
		t.Fatalf("withdraw while another node holds the lock: %v; want to wait (the deadline, ErrLockUnavailable)", err)
	}
	unlock()
	if _, at, err := n.Contracts.Withdraw(ctx, con.ID, doc.ID, "staff:1"); err != nil || at.IsZero() {
		t.Fatalf("withdraw after the release: %v %v", at, err)
	}
}
