package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Headers the load balancer understands (tests only; it strips them before
// the request reaches a node).
const (
	// HeaderNode sends the request to the backend of that name (a node
	// id), healthy or not, instead of the next one in the rotation. An
	// unknown name is answered 502.
	HeaderNode = "X-Parley-Test-Node"
	// HeaderClientIP makes the balancer report this address as the
	// client's in X-Forwarded-For (simulates clients on other networks).
	HeaderClientIP = "X-Parley-Test-Client-IP"
	// HeaderBackend, on every response, names the backend that answered.
	HeaderBackend = "X-Parley-Test-Backend"
)

// Backend is one node behind the load balancer.
type Backend struct {
	Name string   // the node id
	URL  *url.URL // its HTTP address, e.g. http://127.0.0.1:41234
}

// LB is a round-robin HTTP load balancer in front of the nodes, built on
// httputil.ReverseProxy (which passes WebSocket upgrades). Like a real one
// it health-checks every backend's /readyz and leaves out those that do
// not answer 200 (a stopped or draining node), failing open (all
// backends in turn) when none does; it sets X-Forwarded-For,
// X-Forwarded-Host and X-Forwarded-Proto, and keeps the client's Host
// header. HeaderNode, or the backend's own address on the balancer
// (NodeURL), pins a request to one backend.
type LB struct {
	url   string
	ln    net.Listener
	srv   *http.Server
	proxy *httputil.ReverseProxy
	log   *slog.Logger
	hc    *http.Client // health checks

	mu       sync.Mutex
	backends []*lbBackend
	next     int

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type lbBackend struct {
	Backend
	healthy atomic.Bool
	served  atomic.Int64
	// pinned serves the balancer's per-node address: every request to it
	// goes to this backend (see NodeURL).
	pinned    *http.Server
	pinnedURL string
}

type lbKey struct{}

// HealthInterval is how often the balancer asks each backend's /readyz.
const HealthInterval = 200 * time.Millisecond

// ListenLB opens the balancer's listener on addr (e.g. 127.0.0.1:0) so its
// URL is known before the nodes start (they need it as http.public_url).
// It serves once Serve is called. log may be nil.
func ListenLB(addr string, log *slog.Logger) (*LB, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("load balancer listen %s: %w", addr, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lb := &LB{url: "http://" + ln.Addr().String(), ln: ln, log: log, hc: &http.Client{Timeout: time.Second},
		stop: make(chan struct{}), done: make(chan struct{})}
	lb.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			b := r.In.Context().Value(lbKey{}).(*lbBackend)
			r.SetURL(b.URL)
			r.Out.Host = r.In.Host // the public host, as a real balancer keeps it
			r.SetXForwarded()
			if ip := r.In.Header.Get(HeaderClientIP); ip != "" {
				r.Out.Header.Set("X-Forwarded-For", ip)
			}
			r.Out.Header.Del(HeaderNode)
			r.Out.Header.Del(HeaderClientIP)
		},
		FlushInterval: -1, // stream (long polls, downloads) without buffering
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b := r.Context().Value(lbKey{}).(*lbBackend)
			lb.log.Warn("load balancer: backend failed", "backend", b.Name, "err", err)
			w.Header().Set(HeaderBackend, b.Name)
			http.Error(w, "load balancer: backend "+b.Name+" failed", http.StatusBadGateway)
		},
		ModifyResponse: func(resp *http.Response) error {
			b := resp.Request.Context().Value(lbKey{}).(*lbBackend)
			resp.Header.Set(HeaderBackend, b.Name)
			return nil
		},
	}
	lb.srv = &http.Server{Handler: http.HandlerFunc(lb.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	return lb, nil
}

// URL is the balancer's address, e.g. http://127.0.0.1:40123.
func (lb *LB) URL() string { return lb.url }

// SetBackends replaces the rotation. A new backend counts as down until
// its first successful health check. Each backend also gets an address of
// its own on the balancer (NodeURL), on the balancer's host.
func (lb *LB) SetBackends(bs []Backend) error {
	host, _, err := net.SplitHostPort(lb.ln.Addr().String())
	if err != nil {
		return err
	}
	var next []*lbBackend
	for _, b := range bs {
		nb := &lbBackend{Backend: b}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			closeBackends(next)
			return fmt.Errorf("load balancer: address for %s: %w", b.Name, err)
		}
		nb.pinnedURL = "http://" + ln.Addr().String()
		nb.pinned = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			lb.forward(w, r, nb)
		})}
		go nb.pinned.Serve(ln)
		next = append(next, nb)
	}
	lb.mu.Lock()
	old := lb.backends
	lb.backends = next
	lb.mu.Unlock()
	closeBackends(old)
	return nil
}

func closeBackends(bs []*lbBackend) {
	for _, b := range bs {
		b.pinned.Close()
	}
}

// NodeURL is the balancer's address for one backend: requests to it go
// through the balancer (X-Forwarded-For and all) to that backend only,
// healthy or not. Any client can use it (a browser, callclient), and
// since cookies do not tell ports apart, a login made through URL is sent
// there too. Empty for an unknown name.
func (lb *LB) NodeURL(name string) string {
	if b := lb.find(name); b != nil {
		return b.pinnedURL
	}
	return ""
}

// Serve serves requests and health-checks the backends until Close.
func (lb *LB) Serve() {
	go lb.healthLoop()
	go func() {
		if err := lb.srv.Serve(lb.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lb.log.Error("load balancer stopped", "err", err)
		}
	}()
}

// Close stops the balancer; proxied WebSockets are cut.
func (lb *LB) Close() error {
	var err error
	lb.once.Do(func() {
		close(lb.stop)
		err = lb.srv.Close()
		<-lb.done
		lb.mu.Lock()
		closeBackends(lb.backends)
		lb.mu.Unlock()
	})
	return err
}

// Healthy reports whether the backend of that name passed its last health
// check.
func (lb *LB) Healthy(name string) bool {
	b := lb.find(name)
	return b != nil && b.healthy.Load()
}

// Served is how many requests the backend of that name was sent.
func (lb *LB) Served(name string) int64 {
	if b := lb.find(name); b != nil {
		return b.served.Load()
	}
	return 0
}

// CheckNow runs one round of health checks at once (tests call it after
// starting or stopping a node instead of waiting for the next round).
func (lb *LB) CheckNow(ctx context.Context) { lb.checkAll(ctx) }

func (lb *LB) find(name string) *lbBackend {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, b := range lb.backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// pick returns the pinned backend, or the next healthy one in the rotation.
func (lb *LB) pick(r *http.Request) (*lbBackend, error) {
	if name := r.Header.Get(HeaderNode); name != "" {
		if b := lb.find(name); b != nil {
			return b, nil
		}
		return nil, fmt.Errorf("no backend %q", name)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if len(lb.backends) == 0 {
		return nil, errors.New("no backend")
	}
	for i := range lb.backends {
		b := lb.backends[(lb.next+i)%len(lb.backends)]
		if b.healthy.Load() {
			lb.next = (lb.next + i + 1) % len(lb.backends)
			return b, nil
		}
	}
	// Fail open, as cloud balancers do when every target is unhealthy
	// (e.g. all nodes' /readyz fail while Redis is away): the nodes then
	// answer for themselves.
	b := lb.backends[lb.next%len(lb.backends)]
	lb.next = (lb.next + 1) % len(lb.backends)
	return b, nil
}

func (lb *LB) serveHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := lb.pick(r)
	if err != nil {
		http.Error(w, "load balancer: "+err.Error(), http.StatusBadGateway)
		return
	}
	lb.forward(w, r, b)
}

func (lb *LB) forward(w http.ResponseWriter, r *http.Request, b *lbBackend) {
	b.served.Add(1)
	lb.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), lbKey{}, b)))
}

func (lb *LB) healthLoop() {
	defer close(lb.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-lb.stop; cancel() }()
	t := time.NewTicker(HealthInterval)
	defer t.Stop()
	for {
		lb.checkAll(ctx)
		select {
		case <-lb.stop:
			return
		case <-t.C:
		}
	}
}

func (lb *LB) checkAll(ctx context.Context) {
	lb.mu.Lock()
	bs := append([]*lbBackend(nil), lb.backends...)
	lb.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(func() {
			ok := checkReady(ctx, lb.hc, b.URL.String())
			if was := b.healthy.Swap(ok); was != ok {
				lb.log.Info("load balancer: backend health changed", "backend", b.Name, "healthy", ok)
			}
		})
	}
	wg.Wait()
}

// checkReady reports whether base/readyz answers 200.
func checkReady(ctx context.Context, hc *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
