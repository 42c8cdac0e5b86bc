package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/clustertest"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/routing"
)

func TestMain(m *testing.M) { os.Exit(clustertest.Main(m)) }

// TestClusterFirstStart: three nodes started together on an empty
// PostgreSQL database make exactly one admin (one node writes the
// password file); a login through the balancer on node-1 is a login on
// node-2 and node-3; the balancer spreads requests over all three, and
// the nodes take the client's address from its X-Forwarded-For.
func TestClusterFirstStart(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Env: []string{"PARLEY_AUTH_LOGIN_ATTEMPTS_PER_MINUTE=2"}})

	password := c.AdminPassword(t) // exactly one node wrote the file
	store, err := records.OpenPostgres(t.Context(), c.Shared.PostgresURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if n, err := store.CountUsers(t.Context()); err != nil || n != 1 {
		t.Fatalf("users after three first starts = %d, %v; want 1", n, err)
	}

	cl := c.Client()
	if r := cl.Login(t, "admin", password, clustertest.OnNode("node-1")); r.Backend != "node-1" {
		t.Fatalf("login answered by %q, not the pinned node-1", r.Backend)
	}
	for _, n := range c.Nodes {
		r := cl.Do(t, http.MethodGet, "/api/v1/me", nil, clustertest.OnNode(n.ID))
		if r.Status != http.StatusOK || r.Backend != n.ID || !strings.Contains(string(r.Body), `"admin"`) {
			t.Fatalf("GET /api/v1/me on %s with node-1's login: %d (from %q) %s", n.ID, r.Status, r.Backend, r.Body)
		}
	}
	// Round robin: six requests, two per node.
	seen := map[string]int{}
	for range 6 {
		seen[cl.Do(t, http.MethodGet, "/api/v1/me", nil).Backend]++
	}
	for _, n := range c.Nodes {
		if seen[n.ID] != 2 {
			t.Fatalf("round robin over 6 requests: %v", seen)
		}
	}

	// The nodes believe the balancer's X-Forwarded-For: failed logins from
	// one client network use up that network's budget, not another's.
	failLogin := func(user, ip string) clustertest.Response {
		return clustertest.NewClient(c.LB.URL()).Do(t, http.MethodPost, "/api/v1/login",
			map[string]string{"username": user, "password": "wrong password"}, clustertest.OnNode("node-1"), clustertest.FromIP(ip))
	}
	for i := range 2 {
		if r := failLogin(fmt.Sprint("nobody", i), "198.51.100.7"); r.Status != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d %s", i, r.Status, r.Body)
		}
	}
	if r := failLogin("nobody2", "198.51.100.8"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("third failed login from 198.51.100.0/24: %d %s; want 429", r.Status, r.Body)
	}
	if r := failLogin("nobody3", "203.0.113.9"); r.Status != http.StatusUnauthorized {
		t.Fatalf("failed login from another network: %d %s; want 401", r.Status, r.Body)
	}

	// A customer joins and opens the call's WebSocket through the
	// balancer's address for node-2 (callclient, as the relay tests will).
	con := cl.NewConsultation(t, "first start")
	if !strings.HasPrefix(con.InviteURL, c.LB.URL()+"/j/") {
		t.Fatalf("invite %s not on the public URL %s", con.InviteURL, c.LB.URL())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h, id, err := callclient.JoinInvite(ctx, c.LB.NodeURL("node-2")+strings.TrimPrefix(con.InviteURL, c.LB.URL()), "Kim")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	served := c.LB.Served("node-2")
	customer, err := callclient.Dial(ctx, h, id, callclient.Options{Name: "customer", Logf: t.Logf})
	if err != nil {
		t.Fatalf("customer's WebSocket through the balancer: %v", err)
	}
	defer customer.Close()
	if customer.State() != callclient.StateWaiting || c.LB.Served("node-2") != served+1 {
		t.Fatalf("customer state %s; node-2 served %d more", customer.State(), c.LB.Served("node-2")-served)
	}
}

// TestClusterRefusesUnsafeConfig: in cluster mode a node refuses to start
// (exits non-zero, naming the setting) with development keys, without a
// shared TURN secret while TURN is on, without a shared storage key, and
// with in-memory sessions.
func TestClusterRefusesUnsafeConfig(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Nodes: 1})
	n := c.Nodes[0]
	base := n.Env()
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"development keys", []string{"PARLEY_SIGNATURE_SEAL_CERT=", "PARLEY_SIGNATURE_SEAL_KEY=", "PARLEY_SIGNATURE_ESCROW_PUBLIC_KEY=",
			"PARLEY_SIGNATURE_TRUST_ANCHORS="}, "signature.seal_cert"},
		{"development escrow key", []string{"PARLEY_SIGNATURE_ESCROW_PUBLIC_KEY="}, "signature.escrow_public_key"},
		{"random TURN secret", []string{"PARLEY_TURN_ENABLED=true", "PARLEY_TURN_SECRET="}, "turn.secret"},
		{"no cluster secret", []string{"PARLEY_CLUSTER_SECRET="}, "cluster.secret"},
		{"records in SQLite", []string{"PARLEY_RECORDS_DRIVER=sqlite", "PARLEY_RECORDS_URL="}, "records.driver"},
		{"files on the local disk", []string{"PARLEY_STORAGE_BACKEND=local"}, "storage.backend"},
		{"per-node storage key", []string{"PARLEY_STORAGE_KEY="}, "storage.key"},
		{"in-memory sessions", []string{"PARLEY_SESSION_STORE=memory"}, "session.store"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n.SetEnv(base...)
			n.SetEnv(tc.env...)
			if err := n.Start(); err != nil {
				t.Fatal(err)
			}
			// It exits, or it serves (then the refusal is missing).
			clustertest.Eventually(t, 30*time.Second, "the node to exit or serve", func() bool {
				select {
				case <-n.Exited():
					return true
				default:
				}
				if r, err := clustertest.NewClient(n.URL).Try(http.MethodGet, "/healthz", nil); err == nil && r.Status == http.StatusOK {
					n.Kill(t)
					t.Fatalf("the node started and serves:\n%s", n.LogTail(20))
				}
				return false
			})
			code := n.ExitCode()
			log := n.LogTail(20)
			if code == 0 || !strings.Contains(log, tc.want) || !strings.Contains(log, "cluster mode") {
				t.Fatalf("exit code %d; want non-zero and a message naming %s in cluster mode:\n%s", code, tc.want, log)
			}
		})
	}
	// The harness's own settings start.
	n.SetEnv(base...)
	n.Restart(t)
}

// TestClusterRedisOutage: with the cluster's Redis gone, the nodes keep
// running, a running call goes on (media both ways), and they keep serving what needs no Redis (staff logins live in
// PostgreSQL); a join, which needs Redis, gets a prompt 503 JSON answer
// with code "unavailable" on every node; /readyz says which check fails.
// When Redis is back, joins work again on every node and every node is
// back in the registry, without a restart.
func TestClusterRedisOutage(t *testing.T) {
	rds := clustertest.StartRedis(t)
	c := clustertest.Start(t, clustertest.Options{RedisURL: rds.URL,
		Env: []string{"PARLEY_CONSULTATION_JOINS_PER_NETWORK_PER_MINUTE=30"}})
	staff := c.Admin(t)
	con := staff.NewConsultation(t, "outage")
	join := func(node string) clustertest.Response {
		return c.Client().Join(t, con.Token, clustertest.OnNode(node))
	}
	if r := join("node-1"); r.Status != http.StatusOK {
		t.Fatalf("join before the outage: %d %s", r.Status, r.Body)
	}
	call := c.StartCall(t, c.LB.NodeURL("node-1"), c.LB.NodeURL("node-1"))

	rds.Stop(t)
	outage := time.Now()
	for _, n := range c.Nodes {
		r := join(n.ID)
		if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("join on %s without Redis: %d %s %s; want 503 JSON, code unavailable", n.ID, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		if r.Took > 15*time.Second {
			t.Fatalf("join on %s without Redis took %s", n.ID, r.Took)
		}
		if r := staff.Do(t, http.MethodGet, "/api/v1/me", nil, clustertest.OnNode(n.ID)); r.Status != http.StatusOK {
			t.Fatalf("GET /api/v1/me on %s without Redis: %d %s", n.ID, r.Status, r.Body)
		}
		r = clustertest.NewClient(n.URL).Do(t, http.MethodGet, "/readyz", nil)
		var ready struct {
			Checks map[string]string `json:"checks"`
		}
		r.JSON(t, &ready)
		if r.Status != http.StatusServiceUnavailable || ready.Checks["sessions"] != "failed" || ready.Checks["records"] != "ok" {
			t.Fatalf("/readyz on %s without Redis: %d %s", n.ID, r.Status, r.Body)
		}
	}
	// Longer than a registry entry lives (3 heartbeats): every node runs on,
	// and so does the call.
	time.Sleep(time.Until(outage.Add(2 * time.Second)))
	for _, n := range c.Nodes {
		if !n.Running() {
			t.Fatalf("%s ended during the Redis outage:\n%s", n.ID, n.LogTail(30))
		}
	}
	if !call.Flowing(5 * time.Second) {
		t.Fatal("the running call stopped during the Redis outage")
	}

	rds.Start(t)
	reg := c.Registry(t)
	for _, n := range c.Nodes {
		clustertest.Eventually(t, 30*time.Second, n.ID+" back in the registry", func() bool {
			_, err := reg.Node(t.Context(), routing.NodeID(n.ID))
			return err == nil
		})
		n.WaitReady(t, 30*time.Second)
		// A pooled connection that died with Redis may fail one request
		// (503, the client retries); then joins work again by themselves.
		clustertest.Eventually(t, 10*time.Second, "a join on "+n.ID+" after Redis came back", func() bool {
			return join(n.ID).Status == http.StatusOK
		})
	}
	staff.NewConsultation(t, "after the outage")
	if !call.Flowing(5 * time.Second) {
		t.Fatal("the running call stopped after Redis came back")
	}
	for _, n := range c.Nodes {
		if code := n.Stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
			t.Fatalf("%s exited %d after SIGTERM:\n%s", n.ID, code, n.LogTail(30))
		}
	}
}

// TestClusterPostgresOutage: with the records database gone, the nodes
// keep running and a running call goes on (media both ways); requests that need records (a staff request, a join) get
// a prompt 503 JSON answer with code "unavailable", not a 500; /readyz
// names the records check. When the database is back, the same login and
// joins work again on every node without a restart.
func TestClusterPostgresOutage(t *testing.T) {
	pg := clustertest.StartPostgres(t)
	c := clustertest.Start(t, clustertest.Options{PostgresURL: pg.URL,
		Env: []string{"PARLEY_CONSULTATION_JOINS_PER_NETWORK_PER_MINUTE=30"}})
	staff := c.Admin(t)
	con := staff.NewConsultation(t, "outage")
	join := func(node string) clustertest.Response {
		return c.Client().Join(t, con.Token, clustertest.OnNode(node))
	}

	call := c.StartCall(t, c.LB.NodeURL("node-1"), c.LB.NodeURL("node-1"))

	pg.Stop(t)
	outage := time.Now()
	unavailable := func(what string, r clustertest.Response) {
		t.Helper()
		if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s without PostgreSQL: %d %s %s; want 503 JSON, code unavailable", what, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		t.Logf("%s without PostgreSQL: %d in %s", what, r.Status, r.Took.Round(time.Millisecond))
		if r.Took > 15*time.Second {
			t.Fatalf("%s without PostgreSQL took %s", what, r.Took)
		}
	}
	for _, n := range c.Nodes {
		unavailable("GET /api/v1/me on "+n.ID, staff.Do(t, http.MethodGet, "/api/v1/me", nil, clustertest.OnNode(n.ID)))
		unavailable("join on "+n.ID, join(n.ID))
		r := clustertest.NewClient(n.URL).Do(t, http.MethodGet, "/readyz", nil)
		var ready struct {
			Checks map[string]string `json:"checks"`
		}
		r.JSON(t, &ready)
		if r.Status != http.StatusServiceUnavailable || ready.Checks["records"] != "failed" || ready.Checks["sessions"] != "ok" {
			t.Fatalf("/readyz on %s without PostgreSQL: %d %s", n.ID, r.Status, r.Body)
		}
	}
	time.Sleep(time.Until(outage.Add(2 * time.Second)))
	for _, n := range c.Nodes {
		if !n.Running() {
			t.Fatalf("%s ended during the PostgreSQL outage:\n%s", n.ID, n.LogTail(30))
		}
	}
	if !call.Flowing(5 * time.Second) {
		t.Fatal("the running call stopped during the PostgreSQL outage")
	}

	pg.Start(t)
	for _, n := range c.Nodes {
		n.WaitReady(t, 30*time.Second)
		if r := staff.Do(t, http.MethodGet, "/api/v1/me", nil, clustertest.OnNode(n.ID)); r.Status != http.StatusOK {
			t.Fatalf("GET /api/v1/me on %s after PostgreSQL came back: %d %s", n.ID, r.Status, r.Body)
		}
		if r := join(n.ID); r.Status != http.StatusOK {
			t.Fatalf("join on %s after PostgreSQL came back: %d %s", n.ID, r.Status, r.Body)
		}
	}
	if !call.Flowing(5 * time.Second) {
		t.Fatal("the running call stopped after PostgreSQL came back")
	}
}

// TestClusterFailover: the home node of a running call dies (SIGKILL):
// within the reconnect grace period both participants are back in the
// same call, under the same ids, on another node, media flowing.
func TestClusterFailover(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	call := c.StartCall(t, c.LB.URL(), c.LB.URL())
	reg := c.Registry(t)
	owner, err := reg.Owner(t.Context(), call.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.Node(string(owner)).Kill(t)
	took, err := call.Resume(t.Context(), 60*time.Second) // session.grace_period
	if err != nil {
		t.Fatalf("the call does not resume after its home node died: %v", err)
	}
	now, err := reg.Owner(t.Context(), call.ID)
	if err != nil || now == owner {
		t.Fatalf("home after the crash: %s (%v), was %s", now, err, owner)
	}
	if !call.Flowing(5 * time.Second) {
		t.Fatal("no media after the failover")
	}
	t.Logf("MEASURE failover: call back %v after SIGKILL of its home node (heartbeat %v)", took.Round(10*time.Millisecond), 500*time.Millisecond)
}

// TestClusterRollingRestart: the three nodes are restarted one by one
// (SIGTERM, drain, start) while new calls keep starting through the load
// balancer: no join fails, and the call running from the start resumes
// each time its home node goes.
func TestClusterRollingRestart(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	long := c.StartCall(t, c.LB.URL(), c.LB.URL())
	staff := c.Admin(t)

	ctx, cancel := context.WithCancel(t.Context())
	var started, failed atomic.Int64
	var firstErr atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		fail := func(format string, args ...any) {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, fmt.Sprintf(format, args...))
		}
		for ctx.Err() == nil {
			started.Add(1)
			r, err := staff.Try(http.MethodPost, "/api/v1/consultations", map[string]string{"title": "rolling"})
			if err != nil || r.Status != http.StatusCreated {
				fail("create: %v %d %s (node %s)", err, r.Status, r.Body, r.Backend)
				continue
			}
			var con clustertest.Consultation
			if err := json.Unmarshal(r.Body, &con); err != nil {
				fail("create: %v", err)
				continue
			}
			_, token, _ := strings.Cut(con.InviteURL, "/j/")
			r, err = c.Client().Try(http.MethodPost, "/api/v1/invites/"+token+"/join", map[string]any{"consent": false, "lang": "en"})
			if err != nil || r.Status != http.StatusOK {
				fail("join: %v %d %s (node %s)", err, r.Status, r.Body, r.Backend)
				continue
			}
			if r, err := staff.Try(http.MethodPost, "/api/v1/consultations/"+con.ID+"/end", nil); err != nil || r.Status != http.StatusOK {
				fail("end: %v %d %s (node %s)", err, r.Status, r.Body, r.Backend)
			}
		}
	}()

	reg := c.Registry(t)
	moves := 0
	for _, n := range c.Nodes {
		if code := n.Stop(t, syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Fatalf("%s exited %d after SIGTERM:\n%s", n.ID, code, n.LogTail(30))
		}
		// A socket that went through the stopped node closes as it exits;
		// the client may notice a moment later.
		if long.Closed() || !long.Flowing(3*time.Second) {
			moves++
			took, err := long.Resume(t.Context(), 30*time.Second)
			if err != nil {
				t.Fatalf("the running call is lost when %s restarts: %v", n.ID, err)
			}
			t.Logf("the running call moved off %s in %v", n.ID, took.Round(10*time.Millisecond))
		}
		n.Restart(t)
		clustertest.Eventually(t, 10*time.Second, n.ID+" back in the registry", func() bool {
			_, err := reg.Node(t.Context(), routing.NodeID(n.ID))
			return err == nil
		})
	}
	cancel()
	<-done
	if !long.Flowing(5 * time.Second) {
		t.Fatal("the running call has no media after the rolling restart")
	}
	if moves == 0 {
		t.Fatal("the running call never had to move (its home node was never restarted?)")
	}
	t.Logf("%d calls started during the rolling restart, %d failed", started.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d of %d calls failed during the rolling restart; first: %v", failed.Load(), started.Load(), firstErr.Load())
	}
	if started.Load() < 10 {
		t.Fatalf("only %d calls started during the rolling restart", started.Load())
	}
}
