package relay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/routing"
)

// homes answers Home with a fixed node (the registry's own tests cover
// the assignment; here only the relay's part is tested).
type homes struct {
	self, home routing.Node
}

func (h homes) Home(context.Context, string) (routing.Assignment, error) {
	return routing.Assignment{Node: h.home}, nil
}
func (h homes) Self() routing.Node { return h.self }
func (h homes) Owner(context.Context, string) (routing.NodeID, error) {
	return h.home.ID, nil
}
func (h homes) Node(context.Context, routing.NodeID) (routing.Node, error) { return h.home, nil }

const secret = "0123456789abcdef0123456789abcdef"

// A relayed request arrives signed; the receiving node believes its
// client address only when the signature holds: same secret, not its own
// node id, fresh, and over this method, host, path, client and scheme.
func TestSignature(t *testing.T) {
	var got *http.Request
	var verified bool
	var from routing.NodeID
	b := New(homes{self: routing.Node{ID: "b"}}, secret, nil)
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		from, verified = b.Verify(r)
		io.WriteString(w, "home")
	}))
	defer home.Close()
	a := New(homes{self: routing.Node{ID: "a"}, home: routing.Node{ID: "b", InternalURL: home.URL}}, secret, nil)
	target, err := a.Home(t.Context(), "c_1")
	if err != nil || target != home.URL {
		t.Fatalf("home: %q %v", target, err)
	}
	in := httptest.NewRequest(http.MethodGet, "http://video.example/api/v1/consultations/c_1?x=1", nil)
	in.Header.Set("X-Forwarded-For", "203.0.113.9") // what the client claims: replaced
	in.Header.Set(Header, "v1 z 1 forged")
	rec := httptest.NewRecorder()
	a.Forward(rec, in, target, "198.51.100.7", "https")
	if rec.Code != http.StatusOK || rec.Body.String() != "home" {
		t.Fatalf("forward: %d %s", rec.Code, rec.Body)
	}
	if !verified || from != "a" {
		t.Fatalf("the home node does not accept a relayed request: %v %q", verified, from)
	}
	if got.Host != "video.example" || got.Header.Get("X-Forwarded-For") != "198.51.100.7" || got.Header.Get("X-Forwarded-Proto") != "https" {
		t.Fatalf("relayed: host %q, xff %q, proto %q", got.Host, got.Header.Get("X-Forwarded-For"), got.Header.Get("X-Forwarded-Proto"))
	}

	check := func(name string, r *http.Request, v *Relay) {
		t.Helper()
		if _, ok := v.Verify(r); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	signed := func() *http.Request {
		r := got.Clone(t.Context())
		return r
	}
	r := signed()
	r.Header.Set("X-Forwarded-For", "192.0.2.1")
	check("changed client", r, b)
	r = signed()
	r.Header.Set("X-Forwarded-Proto", "http")
	check("changed scheme", r, b)
	r = signed()
	r.URL.Path = "/api/v1/consultations/c_2"
	check("changed path", r, b)
	r = signed()
	r.Method = http.MethodDelete
	check("changed method", r, b)
	r = signed()
	r.Host = "evil.example"
	check("changed host", r, b)
	check("another secret", signed(), New(homes{self: routing.Node{ID: "b"}}, strings.Repeat("x", 32), nil))
	check("to the signing node itself", signed(), a)
	late := New(homes{self: routing.Node{ID: "b"}}, secret, nil)
	late.now = func() time.Time { return time.Now().Add(2 * Window) }
	check("stale", signed(), late)
	r = signed()
	r.Header.Del(Header)
	check("unsigned", r, b)
}

// A home node that cannot be reached gives 503 with Retry-After and a
// JSON error, not a gateway error page.
func TestUnreachableHome(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	a := New(homes{self: routing.Node{ID: "a"}}, secret, nil)
	rec := httptest.NewRecorder()
	a.Forward(rec, httptest.NewRequest(http.MethodGet, "http://video.example/ws/c_1", nil), url, "198.51.100.7", "https")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Fatalf("unreachable home: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}
