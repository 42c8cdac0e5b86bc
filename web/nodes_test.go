package web

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/redislock"
	"github.com/parley-video/parley/redistest"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
	"github.com/parley-video/parley/throttle"
	"github.com/redis/go-redis/v9"
)

// nodes returns n envs standing for n nodes of one cluster: servers of
// their own (own state, own httptest server) on e's records, hub,
// consultation service and files, built with deps changed by with (given
// the node's index).
func (e *env) nodes(n int, with func(i int, d *Deps)) []*env {
	e.t.Helper()
	out := make([]*env, n)
	for i := range out {
		d := Deps{Records: e.rec, Hub: e.hub, Consultations: e.cons, Files: e.files}
		if with != nil {
			with(i, &d)
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
		p.ts = httptest.NewServer(withContract(e.t, srv.Handler()))
		e.t.Cleanup(p.ts.Close)
		out[i] = &p
	}
	return out
}

// redisThrottles makes the servers' login throttles shared in Redis, on a
// clock that stands still (a login's argon2 hash on a busy machine may
// outlast the first 1 s backoff step; the test is about counting).
func redisThrottles(rdb redis.Scripter, prefix string) func(int, *Deps) {
	frozen := time.Now()
	clock := func() time.Time { return frozen }
	return func(_ int, d *Deps) {
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
	rdb, prefix := redistest.Client(t)
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

// TestSigningLockAcrossNodes: two nodes with signing services of their
// own, sharing records, documents and a Redis lock. The same field signed
// at once through both: exactly one signature, the other request gets the
// answer one node gives (409, "signed already"). Two fields of one
// document signed at once through both: both signatures land, one after
// the other, as on one node.
func TestSigningLockAcrossNodes(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	e := newEnv(t)
	signers := make([]*contracts.Service, 2)
	for i := range signers {
		signers[i], _, _ = newSigningService(t, e, contracts.WithLocker(redislock.New(rdb, prefix, 0)))
	}
	nodes := e.nodes(2, func(i int, d *Deps) { d.Signer = signers[i] })
	a, b := nodes[0], nodes[1]
	adv, _ := a.loggedIn("anna", records.RoleAdvisor)
	id, _ := a.createConsultation(adv, "Kredit")
	cu := a.customer(id, "cookie-joined", "p_cu", signaling.StateJoined)
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/consultations/" + id + "/documents"
	present := func() documentJSON {
		t.Helper()
		r := a.staff(adv, "POST", base, map[string]any{"template": "contract", "signers": []string{"customer", "advisor"}})
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("present: %d %s", r.StatusCode, r.body)
		}
		return docOf(t, r)
	}
	// race sends the requests at once and returns the answers in order.
	race := func(reqs ...func() response) []response {
		out := make([]response, len(reqs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, f := range reqs {
			wg.Go(func() {
				<-start
				out[i] = f()
			})
		}
		close(start)
		wg.Wait()
		return out
	}
	signAs := func(n *env, c *http.Client, staff bool, doc, field string) func() response {
		path := base + "/" + doc + "/sign/" + field
		if staff {
			return func() response { return n.staff(c, "POST", path, string(capture), "Content-Type", "application/json") }
		}
		return func() response { return n.do(c, "POST", path, string(capture), "Origin", n.ts.URL) }
	}

	// Several rounds, so the two requests surely overlap in some.
	for round := 0; round < 3; round++ {
		d := present()
		rs := race(signAs(a, cu, false, d.ID, "customer"), signAs(b, cu, false, d.ID, "customer"))
		won, lost := 0, 0
		for _, r := range rs {
			switch {
			case r.StatusCode == http.StatusOK:
				won++
			case r.StatusCode == http.StatusConflict && r.errCode(t) == "conflict" &&
				r.json(t)["error"].(map[string]any)["message"] == "this field has been signed already":
				lost++
			default:
				t.Fatalf("round %d: %d %s; want 200 or 409 \"this field has been signed already\"", round, r.StatusCode, r.body)
			}
		}
		if won != 1 || lost != 1 {
			t.Fatalf("round %d: %d signed, %d refused; want exactly one each", round, won, lost)
		}
		got, err := e.rec.DocumentByID(t.Context(), id, d.ID)
		if err != nil || got.Revision != 1 {
			t.Fatalf("round %d: revision %d %v; want 1 (one signature)", round, got.Revision, err)
		}

		d = present()
		rs = race(signAs(a, cu, false, d.ID, "customer"), signAs(b, adv, true, d.ID, "advisor"))
		for i, r := range rs {
			if r.StatusCode != http.StatusOK {
				t.Fatalf("round %d: field %d of one document via node %d: %d %s; want both signed", round, i, i, r.StatusCode, r.body)
			}
		}
		if got, err := e.rec.DocumentByID(t.Context(), id, d.ID); err != nil || got.Revision != 2 || got.State != records.DocSigned {
			t.Fatalf("round %d: %+v %v; want signed at revision 2", round, got, err)
		}
	}
}

// TestSigningLockRedisDown: when the shared lock's Redis does not answer,
// signing is refused with 503 unavailable and the document stays as it
// was.
func TestSigningLockRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dead := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	e := newEnv(t)
	signer, _, _ := newSigningService(t, e, contracts.WithLocker(redislock.New(dead, "parley-test:down:", 0)))
	n := e.nodes(1, func(_ int, d *Deps) { d.Signer = signer })[0]
	adv, _ := n.loggedIn("anna", records.RoleAdvisor)
	id, _ := n.createConsultation(adv, "Kredit")
	base := "/api/v1/consultations/" + id + "/documents"
	// Presented before the customer is in (binding a field takes the lock
	// too, and is answered 503 the same way).
	r := n.staff(adv, "POST", base, map[string]any{"template": "contract", "signers": []string{"customer"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("present: %d %s", r.StatusCode, r.body)
	}
	d := docOf(t, r)
	cu := n.customer(id, "cookie-joined", "p_cu", signaling.StateJoined)
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r = n.do(cu, "POST", base+"/"+d.ID+"/sign/customer", string(capture), "Origin", n.ts.URL)
	if r.StatusCode != http.StatusServiceUnavailable || r.errCode(t) != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sign with Redis down: %d %s; want 503 unavailable with Retry-After", r.StatusCode, r.body)
	}
	if got, err := e.rec.DocumentByID(t.Context(), id, d.ID); err != nil || got.Revision != 0 || got.State != records.DocOpen {
		t.Fatalf("document after the refused signing: %+v %v; want unchanged", got, err)
	}
}
