package turnserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v4"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// maxAllocationsPerUser caps the relay allocations one TURN username (one
// participant's credentials) may hold at a time. A browser needs one per
// peer connection, TURN URL and network interface; the cap keeps a single
// participant from taking the whole relay port range.
const maxAllocationsPerUser = 16

// Server is the embedded TURN server, or (with Config.ExternalURLs) only the
// credential minting for an external one, or (disabled) nothing at all.
// Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	secret  string
	urls    []string // the URLs handed to browsers; nil when disabled

	turn *turn.Server // nil unless embedded
	udp  net.PacketConn
	tcp  *trackingListener
	tls  *trackingListener

	quotaMu sync.Mutex
	perUser map[string]int // open allocations per username

	peers  atomic.Pointer[peerPolicy] // replaced when the interfaces' addresses change
	own    []netip.Addr               // the public and listen addresses
	relays relaySet                   // open relay sockets
	opts   options

	stop      chan struct{} // closed by Close: ends the sweeper
	swept     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Option changes what New builds.
type Option func(*options)

type options struct {
	sessionOpen func(session string) bool
	ownPorts    []int
	sweepEvery  time.Duration
}

// defaultSweepEvery is how often relays of ended sessions and expired
// credentials are looked for.
const defaultSweepEvery = 30 * time.Second

// WithSessionCheck makes the server refuse credentials whose session
// (Grant.Session, an opaque id such as a consultation's) open no longer
// reports as open, and close their relays (CloseEnded, and every sweep
// interval). open is called for every authenticated TURN request; it must
// be cheap and safe for concurrent use.
func WithSessionCheck(open func(session string) bool) Option {
	return func(o *options) { o.sessionOpen = open }
}

// WithOwnPorts allows relaying to these UDP ports on the server's own
// addresses (the SFU's media port, which browsers reach through TURN).
func WithOwnPorts(ports ...int) Option {
	return func(o *options) { o.ownPorts = append(o.ownPorts, ports...) }
}

// WithSweepInterval sets how often relays of ended sessions and expired
// credentials are closed (default 30s).
func WithSweepInterval(d time.Duration) Option {
	return func(o *options) { o.sweepEvery = d }
}

// New starts the TURN server described by cfg: the embedded server on its
// UDP, TCP and (with a certificate) TLS ports, or, with cfg.ExternalURLs,
// only the credential minting. With cfg.Enabled false it returns a Server
// that lists no ICE servers. log receives anonymised events (pion's own
// logs at debug level); reg, if not nil, receives the metrics. Close the
// Server to release its ports.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, perUser: make(map[string]int), stop: make(chan struct{})}
	s.opts.sweepEvery = defaultSweepEvery
	for _, o := range opts {
		o(&s.opts)
	}
	if !cfg.Enabled {
		return s, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("turnserver: invalid configuration: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m

	if cfg.external() {
		s.secret = cfg.Secret
		s.urls = slices.Clone(cfg.ExternalURLs)
		log.Info("turn: using external TURN servers", "urls", s.urls)
		return s, nil
	}

	s.secret = cfg.Secret
	if s.secret == "" {
		b := make([]byte, MinSecretLen)
		if _, err := rand.Read(b); err != nil {
			m.unregister()
			return nil, fmt.Errorf("turnserver: generate secret: %w", err)
		}
		s.secret = hex.EncodeToString(b)
		log.Info("turn: no turn.secret set, generated one for this run")
	}
	if err := s.listen(); err != nil {
		s.closeListeners()
		m.unregister()
		return nil, err
	}
	s.swept.Add(1)
	go s.sweep()
	return s, nil
}

// refreshPeers (re)builds the peer policy with the host's current
// interface addresses.
func (s *Server) refreshPeers() error {
	own := append(slices.Clone(s.own), localAddrs()...)
	peers, err := newPeerPolicy(s.cfg.AllowedPeers, s.cfg.AllowedPeerAddrs, s.opts.ownPorts, own...)
	if err != nil {
		return fmt.Errorf("turnserver: %w", err)
	}
	s.peers.Store(peers)
	return nil
}

// sweep closes relays of ended sessions and expired credentials and picks
// up changed interface addresses, until Close.
func (s *Server) sweep() {
	defer s.swept.Done()
	t := time.NewTicker(s.opts.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.CloseEnded(now)
			_ = s.refreshPeers() // cannot fail: the same configuration parsed at start
		}
	}
}

// CloseEnded closes the relay allocations whose credentials are refused
// now: expired, or (WithSessionCheck) their session is over. It returns
// how many it closed. The sweeper calls it periodically; call it when a
// session ends to cut its relays at once.
func (s *Server) CloseEnded(now time.Time) int {
	closed := 0
	for _, c := range s.relays.snapshot() {
		u := c.user()
		if u == "" {
			continue // being allocated
		}
		if err := s.refused(u, now); err != nil {
			if c.Close() == nil {
				closed++
				s.log.Debug("turn: relay closed", "reason", err.Error())
			}
		}
	}
	if closed > 0 {
		s.metrics.revoked.Add(float64(closed))
	}
	return closed
}

// refused says why username's credentials are not accepted now, or nil.
func (s *Server) refused(username string, now time.Time) error {
	if err := checkUsername(username, now); err != nil {
		return err
	}
	if s.opts.sessionOpen != nil {
		if session := sessionOf(username); session == "" || !s.opts.sessionOpen(session) {
			return errSessionOver
		}
	}
	return nil
}

// listen opens the sockets and starts pion's server.
func (s *Server) listen() error {
	cfg := s.cfg
	listenIP := "0.0.0.0"
	var listenAddr netip.Addr
	if cfg.ListenIP != "" {
		listenAddr = netip.MustParseAddr(cfg.ListenIP).Unmap() // Validate parsed it
		listenIP = listenAddr.String()
	}
	public, detected := s.publicIP(listenAddr)
	if detected {
		s.log.Warn("turn: turn.public_ip is not set; announcing this host's address for relayed traffic, "+
			"set turn.public_ip if clients reach this host through NAT", "public_ip", public.String())
	}
	s.own = []netip.Addr{public, listenAddr}
	if err := s.refreshPeers(); err != nil {
		return err
	}
	permit := func(client net.Addr, peer net.IP) bool {
		if s.peers.Load().permits(peer) {
			return true
		}
		s.metrics.peerDenied.Inc()
		s.log.Debug("turn: relaying to this server's own, a loopback, private or reserved address refused "+
			"(see turn.allowed_peer_addrs, turn.allowed_peers)",
			"client", anonAddr(client), "peer", anonymizeIP(peer.String()))
		return false
	}
	relay := func() turn.RelayAddressGenerator {
		if cfg.RelayMinPort == 0 {
			return relayGenerator{s: s, RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IP(public.AsSlice()), Address: listenIP}}
		}
		return relayGenerator{s: s, RelayAddressGenerator: &turn.RelayAddressGeneratorPortRange{
			RelayAddress: net.IP(public.AsSlice()),
			Address:      listenIP,
			MinPort:      uint16(cfg.RelayMinPort), // Validate bounds it to 1024-65535
			MaxPort:      uint16(cfg.RelayMaxPort), // idem
			MaxRetries:   3 * (cfg.RelayMaxPort - cfg.RelayMinPort + 1),
		}}
	}

	sc := turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.authKey,
		QuotaHandler:  s.quota,
		LoggerFactory: pionLoggers{log: s.log},
		EventHandler: turn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onAllocationCreated,
			OnAllocationDeleted: s.onAllocationDeleted,
		},
	}

	addr := func(port int) string { return net.JoinHostPort(listenIP, strconv.Itoa(port)) }
	var err error
	s.udp, err = net.ListenPacket("udp4", addr(cfg.UDPPort))
	if err != nil {
		return fmt.Errorf("turnserver: listen on UDP %s (turn.udp_port, turn.listen_ip): %w", addr(cfg.UDPPort), err)
	}
	sc.PacketConnConfigs = []turn.PacketConnConfig{{PacketConn: s.udp, RelayAddressGenerator: relay(), PermissionHandler: permit}}

	if cfg.TCPPort >= 0 {
		ln, err := net.Listen("tcp4", addr(cfg.TCPPort))
		if err != nil {
			return fmt.Errorf("turnserver: listen on TCP %s (turn.tcp_port, turn.listen_ip): %w", addr(cfg.TCPPort), err)
		}
		s.tcp = newTrackingListener(ln)
		sc.ListenerConfigs = append(sc.ListenerConfigs,
			turn.ListenerConfig{Listener: s.tcp, RelayAddressGenerator: relay(), PermissionHandler: permit})
	}

	if cfg.tlsEnabled() {
		certs, err := newCertReloader(cfg.TLSCert, cfg.TLSKey, s.log)
		if err != nil {
			return fmt.Errorf("turnserver: %w", err)
		}
		ln, err := net.Listen("tcp4", addr(cfg.TLSPort))
		if err != nil {
			return fmt.Errorf("turnserver: listen on TCP %s (turn.tls_port, turn.listen_ip): %w", addr(cfg.TLSPort), err)
		}
		s.tls = newTrackingListener(ln)
		tlsLn := &tlsListener{Listener: s.tls, conf: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: certs.getCertificate,
		}}
		sc.ListenerConfigs = append(sc.ListenerConfigs,
			turn.ListenerConfig{Listener: tlsLn, RelayAddressGenerator: relay(), PermissionHandler: permit})
	}

	s.turn, err = turn.NewServer(sc)
	if err != nil {
		return fmt.Errorf("turnserver: start TURN server: %w", err)
	}

	host := cfg.Host
	if host == "" {
		host = public.String()
	}
	s.urls = buildURLs(host, s.UDPAddr(), s.TCPAddr(), s.TLSAddr())
	relayPorts := "any"
	if cfg.RelayMinPort != 0 {
		relayPorts = fmt.Sprintf("%d-%d", cfg.RelayMinPort, cfg.RelayMaxPort)
	}
	s.log.Info("turn: TURN server listening", "urls", s.urls, "listen_ip", listenIP,
		"relay_ip", public.String(), "relay_ports", relayPorts, "realm", cfg.Realm)
	return nil
}

// publicIP is the relay address to announce: PublicIP, else a specific
// ListenIP, else the host's first global IPv4 address (detected = true),
// else 127.0.0.1.
func (s *Server) publicIP(listen netip.Addr) (ip netip.Addr, detected bool) {
	if s.cfg.PublicIP != "" {
		return netip.MustParseAddr(s.cfg.PublicIP).Unmap(), false // Validate parsed it
	}
	if listen.IsValid() && !listen.IsUnspecified() {
		return listen, false
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if ok && ip.Unmap().Is4() && ip.IsGlobalUnicast() {
				return ip.Unmap(), true
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
}

// buildURLs lists turn:/turns: URLs for the enabled listeners.
func buildURLs(host string, udp, tcp, tlsAddr net.Addr) []string {
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() && !a.Is4In6() {
		host = "[" + host + "]"
	}
	var urls []string
	add := func(scheme string, a net.Addr, transport string) {
		if a == nil {
			return
		}
		_, port, _ := net.SplitHostPort(a.String())
		urls = append(urls, scheme+":"+host+":"+port+"?transport="+transport)
	}
	add("turn", udp, "udp")
	add("turn", tcp, "tcp")
	add("turns", tlsAddr, "tcp")
	return urls
}

// authKey is the AuthHandler: the TURN REST check of the username's
// expiry, then the long-term key of the expected password. pion compares
// the request's MESSAGE-INTEGRITY with it (a wrong password shows up in
// onAuth).
func (s *Server) authKey(username, _ string, src net.Addr) ([]byte, bool) {
	if err := s.refused(username, time.Now()); err != nil {
		s.metrics.authFailures.Inc()
		s.log.Debug("turn: credentials refused", "client", anonAddr(src), "reason", err.Error())
		return nil, false
	}
	return turn.GenerateAuthKey(username, s.cfg.Realm, restPassword(s.secret, username)), true
}

func (s *Server) onAuth(src, _ net.Addr, _, _, _ string, method string, verdict bool) {
	if verdict {
		return
	}
	s.metrics.authFailures.Inc()
	s.log.Debug("turn: credentials refused", "client", anonAddr(src), "method", method,
		"reason", "wrong password or realm")
}

// quota is the QuotaHandler: at most maxAllocationsPerUser per username.
func (s *Server) quota(username, _ string, src net.Addr) bool {
	s.quotaMu.Lock()
	n := s.perUser[username]
	s.quotaMu.Unlock()
	if n < maxAllocationsPerUser {
		return true
	}
	s.log.Debug("turn: allocation quota reached", "client", anonAddr(src), "allocations", n)
	return false
}

func (s *Server) onAllocationCreated(src, _ net.Addr, _, username, _ string, relay net.Addr, _ int) {
	s.quotaMu.Lock()
	s.perUser[username]++
	s.quotaMu.Unlock()
	if relay != nil {
		s.relays.setUser(relay.String(), username)
	}
	s.metrics.allocations.Inc()
	s.metrics.active.Inc()
	port := ""
	if relay != nil {
		_, port, _ = net.SplitHostPort(relay.String())
	}
	s.log.Debug("turn: allocation created", "client", anonAddr(src), "relay_port", port)
}

func (s *Server) onAllocationDeleted(src, _ net.Addr, _, username, _ string) {
	s.quotaMu.Lock()
	if s.perUser[username] <= 1 {
		delete(s.perUser, username)
	} else {
		s.perUser[username]--
	}
	s.quotaMu.Unlock()
	s.metrics.active.Dec()
	s.log.Debug("turn: allocation deleted", "client", anonAddr(src))
}

// Enabled reports whether ICEServers lists any server.
func (s *Server) Enabled() bool { return len(s.urls) > 0 }

// RelayOnly reports whether browsers should be told to use relayed
// candidates only (RTCConfiguration.iceTransportPolicy "relay").
func (s *Server) RelayOnly() bool { return s.cfg.Enabled && s.cfg.RelayOnly }

// Grant is whom TURN credentials are for, and until when at most.
type Grant struct {
	// Session is an opaque id of what the credentials belong to (a
	// consultation); with WithSessionCheck they work while it is open.
	Session string
	// Participant is an opaque id (TURN servers log usernames).
	Participant string
	// NotAfter ends the credentials' validity earlier than
	// Config.CredentialTTL (the consultation's end); zero: no bound.
	NotAfter time.Time
}

// ICEServers returns the TURN servers for one participant with fresh
// credentials valid for Config.CredentialTTL from now, or until
// g.NotAfter if that is sooner; nil when disabled or g.NotAfter has
// passed.
func (s *Server) ICEServers(g Grant, now time.Time) []webrtc.ICEServer {
	if !s.Enabled() {
		return nil
	}
	expiry := now.Add(s.cfg.CredentialTTL)
	if !g.NotAfter.IsZero() && g.NotAfter.Before(expiry) {
		expiry = g.NotAfter
	}
	if expiry.Unix() <= now.Unix() {
		return nil
	}
	user, pass := sessionCredentials(s.secret, safeParticipant(g.Session), safeParticipant(g.Participant), expiry)
	return []webrtc.ICEServer{{
		URLs:           slices.Clone(s.urls),
		Username:       user,
		Credential:     pass,
		CredentialType: webrtc.ICECredentialTypePassword,
	}}
}

// UDPAddr is the bound UDP address of the embedded server (nil otherwise).
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr is the bound TCP address of the embedded server (nil when off).
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// TLSAddr is the bound TURN-over-TLS address (nil when off).
func (s *Server) TLSAddr() net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr()
}

// Close stops the server: closes its sockets, every TCP/TLS client
// connection and every relay allocation, and unregisters the metrics.
// It is idempotent. pion's goroutines end shortly after it returns.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.swept.Wait()
		var errs []error
		if s.turn != nil {
			// Closes the UDP socket and the listeners; pion's read loops
			// then close their allocations.
			if err := s.turn.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.closeListeners() // and the accepted connections pion keeps reading
		if s.metrics != nil {
			s.metrics.unregister()
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("turnserver: close: %w", err)
		}
	})
	return s.closeErr
}

// closeListeners closes what listen opened (also after a failed start,
// before pion owned any of it).
func (s *Server) closeListeners() {
	if s.udp != nil {
		_ = s.udp.Close() // already closed by pion after a start
	}
	for _, l := range []*trackingListener{s.tcp, s.tls} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// trackingListener remembers the connections it accepted, so Close can end
// them: pion's server closes its listeners but not the TCP connections it
// is serving, whose goroutines would otherwise outlive the Server.
type trackingListener struct {
	net.Listener

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func newTrackingListener(ln net.Listener) *trackingListener {
	return &trackingListener{Listener: ln, conns: make(map[*trackedConn]struct{})}
}

// Accept implements net.Listener.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// Close closes the listener and every connection it accepted; idempotent.
func (l *trackingListener) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// tlsHandshakeTimeout bounds the TLS handshake of a TURN-over-TLS client.
const tlsHandshakeTimeout = 10 * time.Second

// tlsListener is tls.NewListener with a bounded handshake: a client that
// connects and never finishes it is dropped instead of holding a goroutine.
type tlsListener struct {
	net.Listener
	conf *tls.Config
}

// Accept implements net.Listener; the handshake runs on the first Read.
func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: tls.Server(c, l.conf)}, nil
}

type handshakeConn struct {
	*tls.Conn
	once sync.Once
	err  error
}

// Read implements net.Conn, completing the handshake first.
func (c *handshakeConn) Read(b []byte) (int, error) {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		defer cancel()
		c.err = c.HandshakeContext(ctx)
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(b)
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

// Close implements net.Conn and forgets the connection.
func (c *trackedConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}
