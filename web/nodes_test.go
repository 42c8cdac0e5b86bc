package web

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/redistest"
	"github.com/parley-video/parley/throttle"
	"github.com/redis/go-redis/v9"
)

// nodes returns n envs standing for n nodes of one cluster: servers of
// their own (own state, own httptest server) on e's records, hub,
// consultation service and files, built with deps changed by with.
func (e *env) nodes(n int, with func(*Deps)) []*env {
	e.t.Helper()
	out := make([]*env, n)
	for i := range out {
		d := Deps{Records: e.rec, Hub: e.hub, Consultations: e.cons, Files: e.files}
		if with != nil {
			with(&d)
		}
		srv, err := New(e.cfg, d, e.log)
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(srv.Close)
		if srv.files, err = newStaticFiles(testClientFiles()); err != nil {
			e.t.Fatal(err)
		}
		p := *e
		p.srv = srv
		p.ts = httptest.NewServer(srv.Handler())
		e.t.Cleanup(p.ts.Close)
		out[i] = &p
	}
	return out
}

// testRedis is a client of the test Redis and a fresh key prefix.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := redistest.URL(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.Protocol = 2
	opt.DisableIdentity = true
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb, redistest.Prefix(t, url)
}

// redisThrottles makes the servers' login throttles shared in Redis, on a
// clock that stands still (a login's argon2 hash on a busy machine may
// outlast the first 1 s backoff step; the test is about counting).
func redisThrottles(rdb redis.Scripter, prefix string) func(*Deps) {
	frozen := time.Now()
	clock := func() time.Time { return frozen }
	return func(d *Deps) {
		d.Throttle = func(budget int, max time.Duration) LoginThrottle {
			return throttle.NewRedis(rdb, prefix, budget, max, clock)
		}
	}
}

// failuresBeforeBackoff sends wrong passwords for name, round robin over
// nodes, each from a new browser on the same network, and returns how
// many were answered 401 before the first 429.
func failuresBeforeBackoff(t *testing.T, nodes []*env, name string, limit int) int {
	t.Helper()
	bad := map[string]string{"username": name, "password": "wrong password!"}
	for i := 0; i < limit; i++ {
		n := nodes[i%len(nodes)]
		switch r := n.do(n.client(), "POST", "/api/v1/login", bad); r.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			return i
		default:
			t.Fatalf("wrong password %d via node %d: %d %s", i, i%len(nodes), r.StatusCode, r.body)
		}
	}
	return limit
}

// TestLoginThrottleAcrossNodes: failed logins spread round robin over
// three nodes sharing Redis reach the backoff after the same budget as on
// one node; every node then refuses the account, and a browser that has
// logged in before still gets in with its device cookie through any node.
func TestLoginThrottleAcrossNodes(t *testing.T) {
	const budget = 3
	budgetOpt := func(c *config.Config) { c.Auth.LoginAttemptsPerMinute = budget }

	// One node (memory, as make run): the budget.
	single := newEnv(t, budgetOpt)
	single.user("anna", records.RoleAdvisor)
	one := failuresBeforeBackoff(t, []*env{single}, "anna", 4*budget)
	if one != budget {
		t.Fatalf("one node: %d failures before the backoff; want %d", one, budget)
	}

	// Three nodes sharing one Redis and one records database.
	rdb, prefix := testRedis(t)
	e := newEnv(t, budgetOpt)
	e.user("anna", records.RoleAdvisor)
	nodes := e.nodes(3, redisThrottles(rdb, prefix))
	a, b, c := nodes[0], nodes[1], nodes[2]
	good := map[string]string{"username": "anna", "password": testPassword}
	browser := a.client()
	r := a.do(browser, "POST", "/api/v1/login", good)
	if r.StatusCode != http.StatusOK || r.cookie(cookieDevice) == nil {
		t.Fatalf("login via node A: %d, device cookie %v", r.StatusCode, r.cookie(cookieDevice))
	}
	if got := failuresBeforeBackoff(t, nodes, "anna", 4*budget); got != one {
		t.Fatalf("three nodes: %d failures before the backoff; want %d as on one node", got, one)
	}
	for i, n := range nodes {
		r := n.do(n.client(), "POST", "/api/v1/login", good)
		if r.StatusCode != http.StatusTooManyRequests || r.errCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("right password in a new browser via node %d: %d %s; want 429 with Retry-After", i, r.StatusCode, r.body)
		}
	}
	// The browser's device cookie (from node A) passes on B and C.
	for _, n := range []*env{b, c} {
		if r := n.do(browser, "POST", "/api/v1/login", good); r.StatusCode != http.StatusOK {
			t.Fatalf("login with the device cookie: %d %s", r.StatusCode, r.body)
		}
	}
}

// TestLoginThrottleRedisDown: when the shared throttle's Redis does not
// answer, a login (even with the right password) is refused with 503
// unavailable, nothing is hashed, and the server goes on serving.
func TestLoginThrottleRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody answers there now
	dead := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	e := newEnv(t)
	e.user("anna", records.RoleAdvisor)
	n := e.nodes(1, redisThrottles(dead, "parley-test:down:"))[0]
	c := n.client()
	for i := 0; i < 3; i++ {
		r := n.do(c, "POST", "/api/v1/login", map[string]string{"username": "anna", "password": testPassword})
		if r.StatusCode != http.StatusServiceUnavailable || r.errCode(t) != "unavailable" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("login with Redis down: %d %s; want 503 unavailable with Retry-After", r.StatusCode, r.body)
		}
		if r.cookie(cookieStaff) != nil {
			t.Fatal("a staff cookie with the throttle down")
		}
	}
	if got := n.srv.hashes.hashes(); got != 0 {
		t.Fatalf("%d passwords hashed with the throttle down; want none", got)
	}
	if r := n.do(c, "GET", "/healthz", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", r.StatusCode)
	}
}
