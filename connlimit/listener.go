// Package connlimit bounds the connections a server holds open: in total
// (below the process's file-descriptor limit) and per client network
// (IPv4 /24, IPv6 /48), counted by the TCP peer address, since this is
// below HTTP and no header can be believed yet.
//
// A connection over its network's cap is closed at once. Over the total
// cap, a small reserve of connections is still accepted, marked busy, and
// answered 503 "server busy" with Retry-After by Handler; beyond the
// reserve they are closed at once too. Modelled on
// golang.org/x/net/netutil.LimitListener, which blocks Accept instead
// (leaving clients hanging in the kernel's backlog).
package connlimit

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config sets the caps.
type Config struct {
	// Max is the number of connections served at once (> 0).
	Max int
	// PerNetwork caps the connections of one client network; 0: no cap.
	PerNetwork int
	// Reserve is how many connections beyond Max are accepted only to be
	// told "server busy"; 0: Max/16, at least 1.
	Reserve int
	// Exempt networks (trusted reverse proxies) are not capped per network.
	Exempt []netip.Prefix
	// BusyTimeout bounds the life of a busy connection; 0: 5 s.
	BusyTimeout time.Duration
	// RetryAfter is the Retry-After of the busy answer; 0: 5 s.
	RetryAfter time.Duration
}

// Listener wraps a net.Listener with the caps of Config.
type Listener struct {
	net.Listener
	cfg Config

	mu     sync.Mutex
	open   int // served connections
	busy   int // connections accepted to be told "busy"
	perNet map[netip.Prefix]int

	openGauge prometheus.GaugeFunc
	refused   *prometheus.CounterVec
	counts    [3]atomic.Int64 // refusals by reason, in reasons' order
}

// Refusal reasons, the label of parley_http_connections_refused_total.
const (
	ReasonNetwork = "network" // the client's network is at its cap
	ReasonBusy    = "busy"    // the server is full: answered 503
	ReasonFull    = "full"    // the server and its reserve are full: closed
)

var reasons = [...]string{ReasonNetwork, ReasonBusy, ReasonFull}

// New wraps inner. reg may be nil.
func New(inner net.Listener, cfg Config, reg prometheus.Registerer) (*Listener, error) {
	if cfg.Max <= 0 {
		return nil, fmt.Errorf("connlimit: Max must be positive, is %d", cfg.Max)
	}
	if cfg.Reserve <= 0 {
		cfg.Reserve = max(cfg.Max/16, 1)
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 5 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	l := &Listener{Listener: inner, cfg: cfg, perNet: map[netip.Prefix]int{}}
	l.openGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_http_connections_open",
		Help: "Open connections of the public HTTP server (WebSockets included).",
	}, func() float64 { return float64(l.Open()) })
	l.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_http_connections_refused_total",
		Help: "Connections refused: network (the client's /24 or /48 at its cap), busy (answered 503), full (closed).",
	}, []string{"reason"})
	for _, r := range reasons {
		l.refused.WithLabelValues(r)
	}
	if reg != nil {
		if err := reg.Register(l.openGauge); err != nil {
			return nil, fmt.Errorf("connlimit: register metrics: %w", err)
		}
		if err := reg.Register(l.refused); err != nil {
			return nil, fmt.Errorf("connlimit: register metrics: %w", err)
		}
	}
	return l, nil
}

// Open is the number of connections being served (busy ones not counted).
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused is how many connections were refused for reason so far.
func (l *Listener) Refused(reason string) int {
	for i, r := range reasons {
		if r == reason {
			return int(l.counts[i].Load())
		}
	}
	return 0
}

func (l *Listener) refuse(i int) {
	l.counts[i].Add(1)
	l.refused.WithLabelValues(reasons[i]).Inc()
}

// Network is the client network an address counts against: its /24
// (IPv4, IPv4-mapped included) or /48 (IPv6).
func Network(a netip.Addr) netip.Prefix {
	a = a.WithZone("").Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// Accept returns the next connection within the caps; connections over
// them are closed (or marked busy) here and never returned as errors.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		peer := peerOf(c)
		network := Network(peer)
		exempt := !peer.IsValid() || l.exempt(peer)
		l.mu.Lock()
		switch {
		case !exempt && l.cfg.PerNetwork > 0 && l.perNet[network] >= l.cfg.PerNetwork:
			l.mu.Unlock()
			l.refuse(0)
			_ = c.Close()
			continue
		case l.open >= l.cfg.Max && l.busy >= l.cfg.Reserve:
			l.mu.Unlock()
			l.refuse(2)
			_ = c.Close()
			continue
		case l.open >= l.cfg.Max:
			l.busy++
			l.mu.Unlock()
			l.refuse(1)
			_ = c.SetDeadline(time.Now().Add(l.cfg.BusyTimeout))
			return &conn{Conn: c, l: l, busy: true}, nil
		}
		l.open++
		if !exempt {
			l.perNet[network]++
		}
		l.mu.Unlock()
		return &conn{Conn: c, l: l, network: network, counted: !exempt}, nil
	}
}

func (l *Listener) exempt(a netip.Addr) bool {
	for _, p := range l.cfg.Exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.busy {
		l.busy--
		return
	}
	l.open--
	if c.counted {
		if l.perNet[c.network]--; l.perNet[c.network] <= 0 {
			delete(l.perNet, c.network)
		}
	}
}

func peerOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().WithZone("").Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().WithZone("").Unmap()
}

// conn gives its slot back when closed (once).
type conn struct {
	net.Conn
	l       *Listener
	network netip.Prefix
	counted bool // counts against its network
	busy    bool
	once    sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

type busyKey struct{}

// ConnContext is http.Server.ConnContext: it marks the requests of a busy
// connection for Handler.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*conn); ok && lc.busy {
		return context.WithValue(ctx, busyKey{}, true)
	}
	return ctx
}

// Handler answers the requests of busy connections with 503 "server busy"
// and Retry-After (and closes the connection); it passes the others on.
func (l *Listener) Handler(next http.Handler) http.Handler {
	retry := strconv.Itoa(max(int(l.cfg.RetryAfter/time.Second), 1))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if busy, _ := r.Context().Value(busyKey{}).(bool); !busy {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Retry-After", retry)
		h.Set("Connection", "close")
		h.Set("Cache-Control", "no-store")
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("The server is busy. Please try again in a few seconds.\n"))
			return
		}
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"code":"busy","message":"server busy, try again later"}}` + "\n"))
	})
}

// MaxFor is the default cap of connections for a process that may have
// fileLimit descriptors open: three quarters of it, so that the reserve,
// the records, the media sockets and the log files keep the rest.
// 0 (unknown): 4096.
func MaxFor(fileLimit uint64) int {
	if fileLimit == 0 {
		return 4096
	}
	return int(min(fileLimit/4*3, 1<<24))
}

// ParsePrefixes reads IP addresses and CIDRs (http.trusted_proxies).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", s)
		}
		a = a.WithZone("").Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
