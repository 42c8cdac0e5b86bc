// Package relay sends the requests and WebSockets of a consultation that
// reach a node other than its home node on to the home node (cluster mode;
// routing/ROUTING.md, "Relaying"). It is the standard library's reverse
// proxy with three additions: the home node is looked up in the routing
// registry, the relayed request is signed with the cluster secret (so the
// home node trusts the client address and scheme the relaying node
// resolved, and never relays it again), and a home node that cannot be
// reached gives 503 with Retry-After instead of a gateway error page.
package relay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-video/parley/routing"
)

// Header carries the relay signature: "v1 <node> <unix seconds> <mac>".
const Header = "X-Parley-Relay"

// Window is how far a relay signature's time may be from the receiving
// node's clock.
const Window = 60 * time.Second

// ErrUnavailable: the home node could not be found or reached.
var ErrUnavailable = errors.New("relay: home node unavailable")

// Homes is what the relay needs from the routing registry
// (*routing.Registry).
type Homes interface {
	Home(ctx context.Context, consultation string) (routing.Assignment, error)
	Owner(ctx context.Context, consultation string) (routing.NodeID, error)
	Node(ctx context.Context, id routing.NodeID) (routing.Node, error)
	Self() routing.Node
}

// Relay is one node's relay. Safe for concurrent use.
type Relay struct {
	homes Homes
	self  routing.NodeID
	key   []byte
	log   *slog.Logger
	now   func() time.Time
	tr    *http.Transport

	mu      sync.Mutex
	proxies map[string]*httputil.ReverseProxy // by internal URL
}

// New returns the relay of the node homes.Self() names. secret is the
// cluster secret every node shares (cluster.secret).
func New(homes Homes, secret string, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("parley relay v1"))
	return &Relay{
		homes: homes, self: homes.Self().ID, key: mac.Sum(nil), log: log, now: time.Now,
		tr: &http.Transport{
			Proxy:                 nil, // nodes talk directly
			DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute, // after the body is sent: signing a PDF may take a while
			ForceAttemptHTTP2:     false,
		},
		proxies: map[string]*httputil.ReverseProxy{},
	}
}

// Close drops idle connections to other nodes.
func (r *Relay) Close() { r.tr.CloseIdleConnections() }

// Home returns the internal URL of consultation's home node, or "" when
// this node is its home. ErrUnavailable (wrapped) when the registry cannot
// answer or no node is alive.
func (r *Relay) Home(ctx context.Context, consultation string) (string, error) {
	a, err := r.homes.Home(ctx, consultation)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if a.Node.ID == r.self {
		return "", nil
	}
	if a.Node.InternalURL == "" {
		return "", fmt.Errorf("%w: node %s has no internal URL", ErrUnavailable, a.Node.ID)
	}
	return a.Node.InternalURL, nil
}

// Owner returns the internal URL of consultation's home node when it has
// a live one other than this node, without assigning one; "" otherwise.
func (r *Relay) Owner(ctx context.Context, consultation string) (string, error) {
	id, err := r.homes.Owner(ctx, consultation)
	if errors.Is(err, routing.ErrNotAssigned) || err == nil && id == r.self {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	n, err := r.homes.Node(ctx, id)
	if errors.Is(err, routing.ErrNoNode) {
		return "", nil // dead: the call resumes wherever it is joined next
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return n.InternalURL, nil
}

// maxGetBody bounds what Get reads.
const maxGetBody = 1 << 20

// Get asks the node at target for path (GET, as a relayed request of the
// original req: its host, cookies and the client and scheme this node
// resolved) and returns the body of a 200 response.
func (r *Relay) Get(ctx context.Context, target, path string, orig *http.Request, client, scheme string) ([]byte, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: internal URL %q", ErrUnavailable, target)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Scheme+"://"+u.Host+path, nil)
	if err != nil {
		return nil, err
	}
	req.Host = orig.Host
	for _, h := range []string{"Cookie", "Origin", "Accept-Language"} {
		if v := orig.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Forwarded-For", client)
	req.Header.Set("X-Forwarded-Proto", scheme)
	req.Header.Set(Header, r.sign(req, r.now()))
	resp, err := r.tr.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGetBody))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("relay: GET %s on the home node: %s", path, resp.Status)
	}
	return body, nil
}

// Forward relays req to the node at target (an internal URL from Home).
// client and scheme are what this node resolved for the request (the
// client's address and "http"/"https"); they travel as X-Forwarded-For and
// X-Forwarded-Proto, covered by the signature. Hop-by-hop headers are
// dropped, WebSocket upgrades pass. A node that cannot be reached gives 503
// unavailable with Retry-After.
func (r *Relay) Forward(w http.ResponseWriter, req *http.Request, target, client, scheme string) {
	p, err := r.proxy(target)
	if err != nil {
		r.log.Error("relay: bad internal URL", "target", target, "err", err)
		writeUnavailable(w)
		return
	}
	out := req.Clone(req.Context())
	out.Header.Del(Header)
	out.Header.Set("X-Forwarded-For", client)
	out.Header.Set("X-Forwarded-Proto", scheme)
	out.Header.Set(Header, r.sign(out, r.now()))
	p.ServeHTTP(w, out)
}

func (r *Relay) proxy(target string) (*httputil.ReverseProxy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.proxies[target]; p != nil {
		return p, nil
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("relay: internal URL %q", target)
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the home node checks Origin and builds links from the public host
			// Rewrite strips these from Out; the signed values go on.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", Header} {
				if v := pr.In.Header.Get(h); v != "" {
					pr.Out.Header.Set(h, v)
				}
			}
		},
		Transport:     r.tr,
		FlushInterval: -1, // stream downloads as they come
		ErrorLog:      slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			r.log.Warn("relay: home node unreachable", "target", u.Host, "err", err)
			writeUnavailable(w)
		},
	}
	if len(r.proxies) > 256 { // node URLs change with restarts: keep it bounded
		clear(r.proxies)
	}
	r.proxies[target] = p
	return p, nil
}

func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Retry-After", "2")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"the node holding this consultation cannot be reached right now; try again in a moment"}}` + "\n"))
}

// sign returns the signature header value for out at time now.
func (r *Relay) sign(out *http.Request, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return "v1 " + string(r.self) + " " + ts + " " + r.mac(string(r.self), ts, out)
}

func (r *Relay) mac(node, ts string, req *http.Request) string {
	m := hmac.New(sha256.New, r.key)
	for _, s := range []string{node, ts, req.Method, req.Host, req.URL.RequestURI(),
		req.Header.Get("X-Forwarded-For"), req.Header.Get("X-Forwarded-Proto")} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports whether req was relayed by a node of this cluster: a
// relay signature made with the cluster secret over this request, within
// Window of now, from another node. Its X-Forwarded-For and
// X-Forwarded-Proto can then be believed. from names the relaying node.
func (r *Relay) Verify(req *http.Request) (from routing.NodeID, ok bool) {
	v := req.Header.Get(Header)
	if v == "" {
		return "", false
	}
	f := strings.Fields(v)
	if len(f) != 4 || f[0] != "v1" || f[1] == string(r.self) {
		return "", false
	}
	sec, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return "", false
	}
	if d := r.now().Sub(time.Unix(sec, 0)); d > Window || d < -Window {
		return "", false
	}
	if !hmac.Equal([]byte(f[3]), []byte(r.mac(f[1], f[2], req))) {
		return "", false
	}
	return routing.NodeID(f[1]), true
}
