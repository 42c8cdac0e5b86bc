package turnserver

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults of the fields DefaultConfig sets.
const (
	DefaultPort          = 3478
	DefaultRealm         = "parley"
	DefaultRelayMinPort  = 49160
	DefaultRelayMaxPort  = 49200
	DefaultCredentialTTL = 12 * time.Hour

	// MinSecretLen is the shortest accepted shared secret, in bytes.
	MinSecretLen = 32
	// maxCredentialTTL bounds CredentialTTL: credentials are minted per
	// join, anything longer only widens the window of a leaked credential.
	maxCredentialTTL = 7 * 24 * time.Hour
)

// Config configures the TURN relay. Start from DefaultConfig: in the zero
// value the UDP and TCP ports are 0 (free ports, for tests).
type Config struct {
	// Enabled turns the relay (or, with ExternalURLs, the credential
	// minting) on. Disabled, New returns a Server that lists no ICE servers.
	Enabled bool `yaml:"enabled"`
	// ListenIP is the IPv4 address the listeners and relay sockets bind to;
	// empty: all addresses.
	ListenIP string `yaml:"listen_ip"`
	// UDPPort is the TURN port over UDP (default 3478; 0: a free port).
	UDPPort int `yaml:"udp_port"`
	// TCPPort is the TURN port over TCP (default 3478; 0: a free port; -1: off).
	TCPPort int `yaml:"tcp_port"`
	// TLSPort is the TURN-over-TLS port ("turns:"; -1: off, the default;
	// 0: a free port when TLSCert and TLSKey are set, else off).
	TLSPort int `yaml:"tls_port"`
	// TLSCert and TLSKey are PEM files; they are re-read when they change.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Realm is the TURN realm (default "parley"); an external coturn must use
	// the same one only if it checks it (coturn: realm=).
	Realm string `yaml:"realm"`
	// PublicIP is the IPv4 address announced for relayed traffic. Required
	// when ListenIP is unspecified and the host sits behind NAT. Default:
	// ListenIP, or the host's first non-loopback IPv4 address (127.0.0.1 if
	// it has none).
	PublicIP string `yaml:"public_ip"`
	// Host is the DNS name or address clients use in the turn: URLs
	// (needed for turns:, whose certificate names it). Default: PublicIP.
	Host string `yaml:"host"`
	// RelayMinPort and RelayMaxPort bound the UDP ports of relayed traffic
	// (default 49160-49200; both 0: any free port).
	RelayMinPort int `yaml:"relay_min_port"`
	RelayMaxPort int `yaml:"relay_max_port"`
	// Secret is the shared HMAC secret (coturn: static-auth-secret), at
	// least 32 bytes. Empty: a random one per start (embedded server only).
	Secret string `yaml:"secret"`
	// CredentialTTL is how long minted credentials stay valid (default 12h).
	CredentialTTL time.Duration `yaml:"credential_ttl"`
	// ExternalURLs, when set, name an external TURN server (coturn with
	// use-auth-secret and the same Secret): nothing listens, ICEServers
	// returns these URLs with fresh credentials.
	ExternalURLs []string `yaml:"external_urls"`
	// AllowedPeers lists IPs or CIDRs the relay may send to although they
	// are loopback, private, link-local or reserved (e.g. a private network
	// the browsers' peers live in). It never opens the server's own
	// addresses (PublicIP, ListenIP, every interface address): those take
	// AllowedPeerAddrs. Public addresses are always allowed.
	AllowedPeers []string `yaml:"allowed_peers"`
	// AllowedPeerAddrs lists "IP:port" peers the relay may send to
	// although the IP is the server's own or in a refused range (e.g. a
	// media server on the same host). Parley's own SFU port is allowed on
	// the server's addresses without being listed.
	AllowedPeerAddrs []string `yaml:"allowed_peer_addrs"`
	// RelayOnly tells browsers to use relayed candidates only
	// (iceTransportPolicy "relay"): for testing TURN, never in production.
	RelayOnly bool `yaml:"relay_only"`
}

// DefaultConfig returns the defaults: disabled, UDP and TCP on 3478, TLS
// off, realm "parley", relay ports 49160-49200, credentials valid 12h.
func DefaultConfig() Config {
	return Config{
		UDPPort:       DefaultPort,
		TCPPort:       DefaultPort,
		TLSPort:       -1,
		Realm:         DefaultRealm,
		RelayMinPort:  DefaultRelayMinPort,
		RelayMaxPort:  DefaultRelayMaxPort,
		CredentialTTL: DefaultCredentialTTL,
	}
}

// external reports whether credentials are minted for an external server.
func (c Config) external() bool { return len(c.ExternalURLs) > 0 }

// tlsEnabled reports whether the embedded server listens for TURN over TLS.
func (c Config) tlsEnabled() bool {
	return c.TLSPort >= 0 && (c.TLSCert != "" || c.TLSKey != "")
}

// Validate checks the configuration and names, for every problem, the key
// to change (as it is called under turn: in Parley's YAML). A disabled
// configuration is always valid.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("turn."+format, args...))
	}

	if c.Secret != "" && len(c.Secret) < MinSecretLen {
		bad("secret: %d bytes is too short, use at least %d (e.g. `openssl rand -hex 32`)", len(c.Secret), MinSecretLen)
	}
	if c.CredentialTTL <= 0 {
		bad("credential_ttl: %s must be positive, e.g. 12h", c.CredentialTTL)
	} else if c.CredentialTTL > maxCredentialTTL {
		bad("credential_ttl: %s is longer than the maximum %s", c.CredentialTTL, maxCredentialTTL)
	}
	if c.Realm == "" || strings.ContainsAny(c.Realm, "\" \t\r\n") {
		bad("realm: %q must be a non-empty word without quotes or spaces, e.g. %q", c.Realm, DefaultRealm)
	}
	if c.Host != "" && !validHost(c.Host) {
		bad("host: %q is not a DNS name or IP address (no scheme, no port: e.g. turn.example.com)", c.Host)
	}
	for _, p := range c.AllowedPeers {
		if _, err := parsePrefix(p); err != nil {
			bad("allowed_peers: %q is neither an IP address nor a CIDR", p)
		}
	}
	for _, p := range c.AllowedPeerAddrs {
		if _, err := parseAddrPort(p); err != nil {
			bad("allowed_peer_addrs: %q is not IP:port (e.g. 203.0.113.10:5000 or [2001:db8::1]:5000)", p)
		}
	}

	if c.external() {
		if c.Secret == "" {
			bad("secret: required with external_urls; set it to coturn's static-auth-secret")
		}
		for _, u := range c.ExternalURLs {
			if err := checkURL(u); err != nil {
				bad("external_urls: %v", err)
			}
		}
		return errors.Join(errs...)
	}

	var listen netip.Addr
	if c.ListenIP != "" {
		a, err := netip.ParseAddr(c.ListenIP)
		switch {
		case err != nil:
			bad("listen_ip: %q is not an IP address; leave it empty to listen on all addresses", c.ListenIP)
		case !a.Unmap().Is4():
			bad("listen_ip: %q is IPv6, but the relay supports IPv4 only; use an IPv4 address or leave it empty", c.ListenIP)
		default:
			listen = a.Unmap()
		}
	}
	if c.PublicIP != "" {
		a, err := netip.ParseAddr(c.PublicIP)
		switch {
		case err != nil:
			bad("public_ip: %q is not an IP address (a name belongs in turn.host)", c.PublicIP)
		case !a.Unmap().Is4() || a.IsUnspecified():
			bad("public_ip: %q must be a specific IPv4 address (the relay supports IPv4 only)", c.PublicIP)
		}
	}
	if listen.IsValid() && !listen.IsUnspecified() && c.PublicIP != "" && c.PublicIP != c.ListenIP &&
		listen.IsLoopback() {
		bad("public_ip: %q is announced, but listen_ip %s is loopback: nothing outside this host can reach it", c.PublicIP, listen)
	}

	checkPort := func(key string, p int, allowOff bool) {
		lowest := 0
		if allowOff {
			lowest = -1
		}
		if p < lowest || p > 65535 {
			hint := "0 picks a free port"
			if allowOff {
				hint += ", -1 turns it off"
			}
			bad("%s: %d is not a port (%s)", key, p, hint)
		}
	}
	checkPort("udp_port", c.UDPPort, false)
	checkPort("tcp_port", c.TCPPort, true)
	checkPort("tls_port", c.TLSPort, true)
	if c.TLSPort > 0 && c.TCPPort > 0 && c.TLSPort == c.TCPPort {
		bad("tls_port: %d is also tcp_port; TLS needs its own port (commonly 5349 or 443)", c.TLSPort)
	}
	if (c.TLSPort > 0 || c.tlsEnabled()) && (c.TLSCert == "" || c.TLSKey == "") {
		bad("tls_port: %d needs tls_cert and tls_key (PEM files); set both or set tls_port: -1", c.TLSPort)
	}
	if c.TLSPort < 0 && (c.TLSCert != "" || c.TLSKey != "") {
		bad("tls_cert/tls_key are set but tls_port is -1; set tls_port (e.g. 5349) to serve turns:")
	}

	switch {
	case c.RelayMinPort == 0 && c.RelayMaxPort == 0:
		// any free port
	case c.RelayMinPort < 1024 || c.RelayMaxPort > 65535 || c.RelayMinPort > c.RelayMaxPort:
		bad("relay_min_port/relay_max_port: %d-%d is not a range within 1024-65535 (both 0: any free port)",
			c.RelayMinPort, c.RelayMaxPort)
	case c.UDPPort >= c.RelayMinPort && c.UDPPort <= c.RelayMaxPort:
		bad("udp_port: %d lies inside the relay range %d-%d; move one of them", c.UDPPort, c.RelayMinPort, c.RelayMaxPort)
	}
	return errors.Join(errs...)
}

// checkURL accepts turn: and turns: URLs as browsers do (RFC 7065):
// turn:HOST[:PORT][?transport=udp|tcp].
func checkURL(raw string) error {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || (scheme != "turn" && scheme != "turns") {
		return fmt.Errorf("%q must start with turn: or turns:", raw)
	}
	hostport, query, _ := strings.Cut(rest, "?")
	if strings.HasPrefix(hostport, "//") {
		return fmt.Errorf("%q: write %s:HOST:PORT, without //", raw, scheme)
	}
	host, _, err := splitHostPortOpt(hostport)
	if err != nil {
		return fmt.Errorf("%q: %v", raw, err)
	}
	if !validHost(host) {
		return fmt.Errorf("%q: %q is not a host name or IP address", raw, host)
	}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return fmt.Errorf("%q: %v", raw, err)
		}
		if t := q.Get("transport"); t != "udp" && t != "tcp" {
			return fmt.Errorf("%q: transport must be udp or tcp", raw)
		}
	}
	return nil
}

// splitHostPortOpt splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPortOpt(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", errors.New("unclosed [")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", "", fmt.Errorf("junk %q after ]", rest)
		}
		return host, rest[1:], checkPortString(rest[1:])
	}
	h, p, found := strings.Cut(s, ":")
	if !found {
		return s, "", nil
	}
	if strings.Contains(p, ":") {
		return "", "", errors.New("IPv6 addresses need brackets: [2001:db8::1]:3478")
	}
	return h, p, checkPortString(p)
}

func checkPortString(p string) error {
	n := 0
	for _, r := range p {
		if r < '0' || r > '9' {
			return fmt.Errorf("port %q is not a number", p)
		}
		n = n*10 + int(r-'0')
		if n > 65535 {
			return fmt.Errorf("port %q is out of range", p)
		}
	}
	if p == "" || n == 0 {
		return fmt.Errorf("port %q is out of range", p)
	}
	return nil
}

// validHost accepts IP addresses and DNS names.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// parsePrefix parses an IP address (as a single-address prefix) or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
