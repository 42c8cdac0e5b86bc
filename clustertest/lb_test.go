package clustertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/parley-video/parley/clustertest"
)

// fakeNode is a backend that answers /readyz as told, echoes WebSocket
// messages on /ws, and reports the request's X-Forwarded-For and Host.
type fakeNode struct {
	name  string
	srv   *httptest.Server
	ready atomic.Bool
}

func newFakeNode(t *testing.T, name string) *fakeNode {
	f := &fakeNode{name: name}
	f.ready.Store(true)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			if !f.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case "/ws":
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, append([]byte(name+":"), msg...))
		default:
			w.Header().Set("X-Seen-XFF", r.Header.Get("X-Forwarded-For"))
			w.Header().Set("X-Seen-Host", r.Host)
			w.Header().Set("X-Seen-Pin", r.Header.Get(clustertest.HeaderNode))
			w.Write([]byte(name))
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func startLB(t *testing.T, nodes ...*fakeNode) *clustertest.LB {
	lb, err := clustertest.ListenLB("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	var bs []clustertest.Backend
	for _, n := range nodes {
		u, _ := url.Parse(n.srv.URL)
		bs = append(bs, clustertest.Backend{Name: n.name, URL: u})
	}
	if err := lb.SetBackends(bs); err != nil {
		t.Fatal(err)
	}
	lb.Serve()
	t.Cleanup(func() { lb.Close() })
	lb.CheckNow(t.Context())
	return lb
}

// The balancer goes round robin over healthy backends, leaves out one
// whose /readyz fails, fails open when none is healthy, pins a request by
// header or by the node's own balancer address, keeps the Host, sets
// X-Forwarded-For (or the test's client address), and passes WebSockets.
func TestLB(t *testing.T) {
	a, b, c := newFakeNode(t, "a"), newFakeNode(t, "b"), newFakeNode(t, "c")
	lb := startLB(t, a, b, c)
	cl := clustertest.NewClient(lb.URL())
	served := func(n int, opts ...clustertest.ReqOption) map[string]int {
		seen := map[string]int{}
		for range n {
			seen[cl.Do(t, http.MethodGet, "/x", nil, opts...).Backend]++
		}
		return seen
	}
	if got := served(6); got["a"] != 2 || got["b"] != 2 || got["c"] != 2 {
		t.Fatalf("round robin: %v", got)
	}
	b.ready.Store(false)
	lb.CheckNow(t.Context())
	if got := served(4); got["a"] != 2 || got["c"] != 2 {
		t.Fatalf("with b not ready: %v", got)
	}
	a.ready.Store(false)
	c.ready.Store(false)
	lb.CheckNow(t.Context())
	if got := served(3); got["a"] != 1 || got["b"] != 1 || got["c"] != 1 {
		t.Fatalf("none ready (fail open): %v", got)
	}
	if got := served(3, clustertest.OnNode("b")); got["b"] != 3 {
		t.Fatalf("pinned by header: %v", got)
	}
	r := clustertest.NewClient(lb.NodeURL("c")).Do(t, http.MethodGet, "/x", nil)
	if r.Backend != "c" || string(r.Body) != "c" {
		t.Fatalf("through c's balancer address: %q %q", r.Backend, r.Body)
	}
	r = cl.Do(t, http.MethodGet, "/x", nil, clustertest.OnNode("a"))
	if r.Header.Get("X-Seen-XFF") != "127.0.0.1" || r.Header.Get("X-Seen-Host") != strings.TrimPrefix(lb.URL(), "http://") ||
		r.Header.Get("X-Seen-Pin") != "" {
		t.Fatalf("forwarded headers: XFF %q, Host %q, pin %q", r.Header.Get("X-Seen-XFF"), r.Header.Get("X-Seen-Host"), r.Header.Get("X-Seen-Pin"))
	}
	r = cl.Do(t, http.MethodGet, "/x", nil, clustertest.FromIP("198.51.100.7"))
	if got := r.Header.Get("X-Seen-XFF"); got != "198.51.100.7" {
		t.Fatalf("X-Forwarded-For with a test client address: %q", got)
	}
	if r := cl.Do(t, http.MethodGet, "/x", nil, clustertest.OnNode("nobody")); r.Status != http.StatusBadGateway {
		t.Fatalf("unknown pinned node: %d", r.Status)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		url  string
		hdr  http.Header
		want string
	}{
		{"ws" + strings.TrimPrefix(lb.URL(), "http") + "/ws", http.Header{clustertest.HeaderNode: {"b"}}, "b:hello"},
		{"ws" + strings.TrimPrefix(lb.NodeURL("c"), "http") + "/ws", nil, "c:hello"},
	} {
		ws, _, err := websocket.Dial(ctx, tc.url, &websocket.DialOptions{HTTPHeader: tc.hdr})
		if err != nil {
			t.Fatalf("WebSocket through the balancer: %v", err)
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		_, msg, err := ws.Read(ctx)
		ws.CloseNow()
		if err != nil || string(msg) != tc.want {
			t.Fatalf("WebSocket echo: %q, %v; want %q", msg, err, tc.want)
		}
	}
}
