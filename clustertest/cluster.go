// Package clustertest runs Parley as a real cluster in tests: N `parley
// serve` processes (the binary built once per test process) on free
// loopback ports, each in cluster mode with its own node id, internal URL
// and data directory, sharing one Redis (a key prefix of the test's own),
// one PostgreSQL schema (records/recordstest), one S3 bucket
// (blobs/s3test), the same non-development seal and escrow keys, storage
// key and TURN secret; in front of them a round-robin load balancer (LB)
// that nodes trust as their proxy. Nodes can be stopped with SIGTERM or
// SIGKILL and restarted; on failure every node's log goes into the test's
// output.
//
// The shared services come from scripts/test.sh (PARLEY_TEST_REDIS_URL,
// PARLEY_TEST_POSTGRES_URL, PARLEY_TEST_S3_*); without them the test is
// skipped. Tests using it should not run in parallel (each starts several
// processes on a 2-core machine).
//
// A cross-node test reads like this:
//
//	func TestMain(m *testing.M) { os.Exit(clustertest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := clustertest.Start(t, clustertest.Options{})      // node-1..node-3, all ready
//		staff := c.Admin(t, clustertest.OnNode("node-1"))      // logged in through the balancer
//		con := staff.NewConsultation(t, "Mortgage")
//		r := c.Client().Join(t, con.Token, clustertest.OnNode("node-2"))
//		call := c.StartCall(t, c.LB.NodeURL("node-1"), c.LB.NodeURL("node-2"))
//		home, _ := c.Registry(t).Owner(t.Context(), call.ID)
//		c.Node(string(home)).Signal(syscall.SIGTERM)          // drain
//		if !call.Flowing(10 * time.Second) { ... }
//		c.Node("node-3").Kill(t)                              // crash
//		c.Node("node-3").Restart(t)
//	}
//
// Requests pick a node by HeaderNode (OnNode) or by the balancer's
// per-node address (LB.NodeURL, for clients that cannot add headers:
// callclient, a browser); plain requests go round robin over the nodes
// whose /readyz answers 200.
package clustertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs/s3test"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records/recordstest"
	"github.com/parley-video/parley/redistest"
)

// Options shape a cluster. The zero value is three nodes on the test
// services.
type Options struct {
	// Nodes is how many nodes (default 3), named node-1, node-2, ...
	Nodes int
	// RedisURL is the shared Redis (default: PARLEY_TEST_REDIS_URL, or
	// skip). Give a Redis of the test's own (StartRedis) to stop it.
	RedisURL string
	// PostgresURL is the shared records database (default: a fresh schema
	// from recordstest.PostgresURL, or skip).
	PostgresURL string
	// Heartbeat is cluster.heartbeat (default 500ms: a dead node leaves
	// the registry after 1.5 s).
	Heartbeat time.Duration
	// TURN turns on each node's embedded TURN server, on ports of its own.
	TURN bool
	// Env is added to every node's environment after the harness's own
	// settings (so it can override them), e.g.
	// "PARLEY_SESSION_GRACE_PERIOD=5s".
	Env []string
	// NoStart configures the cluster and the balancer but starts no node
	// (call StartAll, or each Node's Start).
	NoStart bool
}

// Shared is what every node of the cluster has in common.
type Shared struct {
	RedisURL, KeyPrefix, PostgresURL string
	// S3 is the test bucket.
	S3 s3test.Options
	// KeyDir holds the seal certificate and key, its CA (the trust
	// anchor), and the escrow key pair (contracts.Dev*File names), made by
	// `parley keys` and given to the nodes by path: for cluster mode they
	// are configured keys, not the per-node development ones.
	KeyDir string
	// StorageKey is storage.key ("k1 <base64>"), TURNSecret turn.secret,
	// ClusterSecret cluster.secret.
	StorageKey, TURNSecret, ClusterSecret string
	// Env is the PARLEY_* settings every node shares.
	Env []string
}

// Cluster is a running set of nodes behind a load balancer.
type Cluster struct {
	Nodes  []*Node
	LB     *LB
	Shared Shared
	// Bin is the parley binary the nodes run.
	Bin string

	adminMu sync.Mutex
	adminPW string // the first admin's password once changed (AdminPassword)
}

// Start configures a cluster for t, starts every node at once and waits
// until all are ready and the balancer sees them healthy. Everything is
// stopped when t ends; if t failed, every node's log is written to t's
// output.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	c := New(t, opt)
	if !opt.NoStart {
		c.StartAll(t)
	}
	return c
}

// New configures a cluster and starts its load balancer, without starting
// any node.
func New(t testing.TB, opt Options) *Cluster {
	t.Helper()
	if opt.Nodes <= 0 {
		opt.Nodes = 3
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 500 * time.Millisecond
	}
	if opt.RedisURL == "" {
		opt.RedisURL = redistest.URL(t)
	}
	if opt.PostgresURL == "" {
		opt.PostgresURL = recordstest.PostgresURL(t)
	}
	sh := Shared{RedisURL: opt.RedisURL, PostgresURL: opt.PostgresURL}
	sh.S3, _ = s3test.Bucket(t)
	sh.KeyPrefix = redistest.Prefix(t, opt.RedisURL)
	bin := Binary(t)
	dir := t.TempDir()
	sh.KeyDir = filepath.Join(dir, "keys")
	if out, err := exec.Command(bin, "keys", "--out", sh.KeyDir).CombinedOutput(); err != nil {
		t.Fatalf("parley keys: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "storage", "genkey", "--id", "k1").Output()
	if err != nil {
		t.Fatalf("parley storage genkey: %v", err)
	}
	sh.StorageKey = strings.TrimSpace(string(out))
	sh.TURNSecret = randomHex(32)
	sh.ClusterSecret = randomHex(32)

	lbLog := &testWriter{t: t}
	lb, err := ListenLB("127.0.0.1:0", slog.New(slog.NewTextHandler(lbLog, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sh.Env = SharedEnv(sh, lb.URL(), opt.Heartbeat)
	c := &Cluster{LB: lb, Shared: sh, Bin: bin}
	var backends []Backend
	for i := range opt.Nodes {
		id := fmt.Sprintf("node-%d", i+1)
		port := FreePort(t)
		n := &Node{
			ID:      id,
			URL:     "http://127.0.0.1:" + strconv.Itoa(port),
			DataDir: filepath.Join(dir, id),
			LogPath: filepath.Join(dir, id+".log"),
			bin:     bin,
		}
		if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		env := NodeEnv(sh, id, port, n.DataDir)
		if opt.TURN {
			env = append(env, "PARLEY_TURN_ENABLED=true", "PARLEY_TURN_LISTEN_IP=127.0.0.1",
				"PARLEY_TURN_UDP_PORT="+strconv.Itoa(FreeUDPPort(t)), "PARLEY_TURN_TCP_PORT="+strconv.Itoa(FreePort(t)))
		}
		n.env = mergeEnv(env, opt.Env)
		u, _ := url.Parse(n.URL)
		backends = append(backends, Backend{Name: id, URL: u})
		c.Nodes = append(c.Nodes, n)
	}
	if err := lb.SetBackends(backends); err != nil {
		t.Fatal(err)
	}
	lb.Serve()
	t.Cleanup(func() {
		c.stopAll()
		lb.Close()
		lbLog.close()
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("==== log of %s ====\n%s", n.ID, n.Log())
			}
		}
	})
	return c
}

// SharedEnv is the environment all nodes of a cluster share: cluster mode,
// Redis, PostgreSQL, S3, keys by path, storage key, TURN secret, the
// balancer as public URL and trusted proxy, loopback media.
func SharedEnv(sh Shared, publicURL string, heartbeat time.Duration) []string {
	env := []string{
		"PARLEY_CLUSTER_ENABLED=true",
		"PARLEY_CLUSTER_HEARTBEAT=" + heartbeat.String(),
		"PARLEY_SESSION_STORE=redis",
		"PARLEY_SESSION_REDIS_URL=" + sh.RedisURL,
		"PARLEY_SESSION_KEY_PREFIX=" + sh.KeyPrefix,
		"PARLEY_RECORDS_DRIVER=postgres",
		"PARLEY_RECORDS_URL=" + sh.PostgresURL,
		"PARLEY_SIGNATURE_SEAL_CERT=" + filepath.Join(sh.KeyDir, contracts.DevSealCertFile),
		"PARLEY_SIGNATURE_SEAL_KEY=" + filepath.Join(sh.KeyDir, contracts.DevSealKeyFile),
		"PARLEY_SIGNATURE_ESCROW_PUBLIC_KEY=" + filepath.Join(sh.KeyDir, contracts.DevEscrowPublicFile),
		"PARLEY_SIGNATURE_TRUST_ANCHORS=" + filepath.Join(sh.KeyDir, contracts.DevCAFile),
		"PARLEY_STORAGE_KEY=" + sh.StorageKey,
		"PARLEY_STORAGE_MIN_FREE_BYTES=0",
		"PARLEY_TURN_SECRET=" + sh.TURNSecret,
		"PARLEY_CLUSTER_SECRET=" + sh.ClusterSecret,
		// A short drain, so that SIGTERM ends a test's node with calls
		// in a few seconds (tests of the drain set their own).
		"PARLEY_CLUSTER_DRAIN_TIMEOUT=3s",
		"PARLEY_HTTP_PUBLIC_URL=" + publicURL,
		"PARLEY_HTTP_TRUSTED_PROXIES=127.0.0.1",
		"PARLEY_ADMIN_ADDR=off",
		"PARLEY_RTC_UDP_PORT=0",
		"PARLEY_RTC_TCP_PORT=0",
		"PARLEY_RTC_INCLUDE_LOOPBACK=true",
		"PARLEY_LOG_LEVEL=debug",
	}
	if sh.S3.Bucket != "" {
		env = append(env,
			"PARLEY_STORAGE_BACKEND=s3",
			"PARLEY_STORAGE_S3_ENDPOINT="+sh.S3.Endpoint,
			"PARLEY_STORAGE_S3_BUCKET="+sh.S3.Bucket,
			"PARLEY_STORAGE_S3_REGION="+sh.S3.Region,
			"PARLEY_STORAGE_S3_ACCESS_KEY_ID="+sh.S3.AccessKeyID,
			"PARLEY_STORAGE_S3_SECRET_ACCESS_KEY="+sh.S3.SecretAccessKey,
			"PARLEY_STORAGE_S3_USE_TLS=false",
			"PARLEY_STORAGE_S3_PATH_STYLE=true",
		)
	}
	return env
}

// NodeEnv is one node's whole environment: the system's variables
// without any PARLEY_ one, the shared settings, and its own id, address,
// internal URL and data directory.
func NodeEnv(sh Shared, id string, port int, dataDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			env = append(env, kv)
		}
	}
	env = append(env, sh.Env...)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return append(env,
		"PARLEY_CLUSTER_NODE_ID="+id,
		"PARLEY_CLUSTER_INTERNAL_URL=http://"+addr,
		"PARLEY_HTTP_ADDR="+addr,
		"PARLEY_DATA_DIR="+dataDir,
	)
}

// StartAll starts every node that is not running, at the same time, and
// waits until each is ready and healthy at the balancer.
func (c *Cluster) StartAll(t testing.TB) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		if n.Running() {
			continue
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { errs[i] = n.waitReady(StartTimeout) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%v\n%s", err, c.Nodes[i].LogTail(60))
		}
	}
	c.WaitHealthy(t)
}

// WaitHealthy waits until the balancer's health checks agree with which
// nodes are running (up to 10 s).
func (c *Cluster) WaitHealthy(t testing.TB) {
	t.Helper()
	Eventually(t, 10*time.Second, "the balancer to see the running nodes healthy", func() bool {
		c.LB.CheckNow(context.Background())
		for _, n := range c.Nodes {
			if n.Running() != c.LB.Healthy(n.ID) {
				return false
			}
		}
		return true
	})
}

// Node returns the node with that id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// AdminPassword is the first admin's password: the generated one
// (InitialAdminPassword), changed at the first call as a first login
// must, to one the harness remembers.
func (c *Cluster) AdminPassword(t testing.TB) string {
	t.Helper()
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	if c.adminPW != "" {
		return c.adminPW
	}
	initial := c.InitialAdminPassword(t)
	// A generated password must be changed at the first login.
	cl := c.Client()
	if r := cl.Login(t, "admin", initial); r.Status != http.StatusOK {
		t.Fatalf("first admin login: %d %s", r.Status, r.Body)
	}
	next := "changed " + randomHex(12)
	if r := cl.Do(t, http.MethodPut, "/api/v1/me/password", map[string]string{"current": initial, "new": next}); r.Status != http.StatusOK {
		t.Fatalf("change the first admin's password: %d %s", r.Status, r.Body)
	}
	c.adminPW = next
	return next
}

// InitialAdminPassword reads the first admin's generated password from
// the one node that wrote it, and fails t unless exactly one did.
func (c *Cluster) InitialAdminPassword(t testing.TB) string {
	t.Helper()
	var found []string
	var pw string
	for _, n := range c.Nodes {
		b, err := os.ReadFile(filepath.Join(n.DataDir, InitialPasswordFile))
		if err == nil {
			found = append(found, n.ID)
			pw = strings.TrimSpace(string(b))
		}
	}
	if len(found) != 1 {
		t.Fatalf("initial admin password file on %d nodes %v; want exactly one", len(found), found)
	}
	return pw
}

// InitialPasswordFile is where, in its data directory, the node that
// created the first admin put its password (cmd_serve.go).
const InitialPasswordFile = "initial-admin-password"

// stopAll stops every running node: SIGTERM (a drain), a second SIGTERM
// (forces) after 10 s, SIGKILL after 5 s more.
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		wg.Go(func() {
			for _, step := range []struct {
				sig  syscall.Signal
				wait time.Duration
			}{{syscall.SIGTERM, 10 * time.Second}, {syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, time.Minute}} {
				n.Signal(step.sig)
				ctx, cancel := context.WithTimeout(context.Background(), step.wait)
				_, err := n.Wait(ctx)
				cancel()
				if err == nil {
					return
				}
			}
		})
	}
	wg.Wait()
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort is a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Eventually polls cond every 50 ms until it holds, failing t after
// timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testWriter sends the balancer's log lines to t while t runs.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}
