package turnserver

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	enabled := func(mut func(*Config)) Config {
		c := DefaultConfig()
		c.Enabled = true
		if mut != nil {
			mut(&c)
		}
		return c
	}
	cases := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"zero value (disabled)", Config{}, nil},
		{"disabled ignores junk", Config{Secret: "x", UDPPort: -5}, nil},
		{"defaults", enabled(nil), nil},
		{"loopback, free ports", loopbackConfig(), nil},
		{"public ip and host", enabled(func(c *Config) {
			c.PublicIP, c.Host = "203.0.113.10", "turn.example.com"
		}), nil},
		{"tls", enabled(func(c *Config) { c.TLSPort, c.TLSCert, c.TLSKey = 5349, "c.pem", "k.pem" }), nil},
		{"external", enabled(func(c *Config) {
			c.Secret = testSecret
			c.ExternalURLs = []string{"turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:443?transport=tcp",
				"turn:[2001:db8::1]:3478", "turn:203.0.113.10"}
		}), nil},
		{"short secret", enabled(func(c *Config) { c.Secret = "short" }), []string{"turn.secret", "at least 32", "openssl rand"}},
		{"ttl zero", enabled(func(c *Config) { c.CredentialTTL = 0 }), []string{"turn.credential_ttl", "positive"}},
		{"ttl too long", enabled(func(c *Config) { c.CredentialTTL = 30 * 24 * time.Hour }), []string{"turn.credential_ttl", "maximum"}},
		{"empty realm", enabled(func(c *Config) { c.Realm = "" }), []string{"turn.realm"}},
		{"bad host", enabled(func(c *Config) { c.Host = "turn://x:1" }), []string{"turn.host"}},
		{"listen ip garbage", enabled(func(c *Config) { c.ListenIP = "localhost" }), []string{"turn.listen_ip", "not an IP"}},
		{"listen ip v6", enabled(func(c *Config) { c.ListenIP = "::1" }), []string{"turn.listen_ip", "IPv4 only"}},
		{"public ip name", enabled(func(c *Config) { c.PublicIP = "turn.example.com" }), []string{"turn.public_ip", "turn.host"}},
		{"public ip v6", enabled(func(c *Config) { c.PublicIP = "2001:db8::1" }), []string{"turn.public_ip", "IPv4"}},
		{"public ip with loopback listen", enabled(func(c *Config) { c.ListenIP, c.PublicIP = "127.0.0.1", "203.0.113.1" }),
			[]string{"turn.public_ip", "loopback"}},
		{"udp port", enabled(func(c *Config) { c.UDPPort = -1 }), []string{"turn.udp_port", "0 picks a free port"}},
		{"tcp port", enabled(func(c *Config) { c.TCPPort = 70000 }), []string{"turn.tcp_port", "-1 turns it off"}},
		{"tls without cert", enabled(func(c *Config) { c.TLSPort = 5349 }), []string{"turn.tls_port", "tls_cert and tls_key"}},
		{"tls with cert only", enabled(func(c *Config) { c.TLSPort, c.TLSCert = 0, "c.pem" }), []string{"tls_cert and tls_key"}},
		{"zero value enabled", Config{Enabled: true, Realm: "r", CredentialTTL: time.Hour}, nil},
		{"cert without tls port", enabled(func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" }), []string{"tls_port is -1", "5349"}},
		{"tls on tcp port", enabled(func(c *Config) { c.TLSPort, c.TLSCert, c.TLSKey = 3478, "c", "k" }), []string{"turn.tls_port", "own port"}},
		{"relay range reversed", enabled(func(c *Config) { c.RelayMinPort, c.RelayMaxPort = 50000, 49000 }),
			[]string{"turn.relay_min_port/relay_max_port", "50000-49000"}},
		{"relay range half set", enabled(func(c *Config) { c.RelayMinPort, c.RelayMaxPort = 0, 49000 }), []string{"relay_min_port"}},
		{"relay range privileged", enabled(func(c *Config) { c.RelayMinPort, c.RelayMaxPort = 80, 90 }), []string{"1024-65535"}},
		{"udp port in relay range", enabled(func(c *Config) { c.UDPPort = 49170 }), []string{"turn.udp_port", "inside the relay range"}},
		{"allowed peers", enabled(func(c *Config) { c.AllowedPeers = []string{"10.0.0.0/8", "192.168.1.5", "nope"} }),
			[]string{"turn.allowed_peers", `"nope"`}},
		{"allowed peer addrs", enabled(func(c *Config) {
			c.AllowedPeerAddrs = []string{"127.0.0.1:5000", "[2001:db8::1]:5000", "10.0.0.1", "10.0.0.1:0"}
		}), []string{"turn.allowed_peer_addrs", `"10.0.0.1"`, `"10.0.0.1:0"`}},
		{"external without secret", enabled(func(c *Config) { c.ExternalURLs = []string{"turn:t.example.com"} }),
			[]string{"turn.secret", "static-auth-secret"}},
		{"external bad urls", enabled(func(c *Config) {
			c.Secret = testSecret
			c.ExternalURLs = []string{"stun:t.example.com", "turn://t.example.com:3478", "turn:t.example.com:99999",
				"turn:t.example.com?transport=sctp", "turn:2001:db8::1:3478"}
		}), []string{"must start with turn: or turns:", "without //", "out of range", "transport must be udp or tcp", "brackets"}},
		{"several problems at once", enabled(func(c *Config) { c.Secret, c.UDPPort, c.Realm = "x", -3, "" }),
			[]string{"turn.secret", "turn.udp_port", "turn.realm"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v\nwant it to mention %q", err, w)
				}
			}
		})
	}
}

func TestPeerPolicyPermits(t *testing.T) {
	p, err := newPeerPolicy([]string{"10.20.0.0/16"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"203.0.113.5":      true, // public (documentation range, but not reserved for relaying)
		"8.8.8.8":          true,
		"2a00:1450::1":     true,
		"10.20.3.4":        true, // allowed explicitly
		"10.21.3.4":        false,
		"127.0.0.1":        false,
		"::1":              false,
		"169.254.169.254":  false, // cloud metadata
		"192.168.1.1":      false,
		"172.16.0.1":       false,
		"100.64.0.1":       false,
		"0.0.0.0":          false,
		"224.0.0.1":        false,
		"255.255.255.255":  false,
		"fd00::1":          false,
		"fe80::1":          false,
		"::ffff:127.0.0.1": false,
	}
	for ip, want := range cases {
		if got := p.permits(netIP(t, ip)); got != want {
			t.Errorf("permits(%s) = %v, want %v", ip, got, want)
		}
	}
}

func netIP(t *testing.T, s string) net.IP {
	t.Helper()
	ip := net.ParseIP(s)
	if ip == nil {
		t.Fatalf("bad IP %q", s)
	}
	return ip
}

func TestPeerPolicyOwnAddresses(t *testing.T) {
	own := []netip.Addr{netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.168.1.5")}
	p, err := newPeerPolicy([]string{"127.0.0.0/8"}, []string{"203.0.113.10:5000", "10.1.1.1:7000"}, []int{50000}, own...)
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]bool{
		"203.0.113.10:5000":       true,  // listed
		"203.0.113.10:50000":      true,  // the program's own port (SFU)
		"203.0.113.10:22":         false, // another port of the public address
		"203.0.113.10:3478":       false,
		"127.0.0.1:6379":          false, // own, although 127.0.0.0/8 is allowed
		"127.0.0.1:50000":         true,
		"127.0.0.2:6379":          true, // allowed range, not an own address
		"192.168.1.5:80":          false,
		"10.1.1.1:7000":           true, // listed private peer
		"10.1.1.1:22":             false,
		"8.8.8.8:53":              true,
		"[::ffff:127.0.0.1]:6379": false,
	}
	for s, want := range addrs {
		ap := netip.MustParseAddrPort(s)
		if got := p.permitsAddr(net.UDPAddrFromAddrPort(ap)); got != want {
			t.Errorf("permitsAddr(%s) = %v, want %v", s, got, want)
		}
	}
	ips := map[string]bool{"203.0.113.10": true, "10.1.1.1": true, "10.1.1.2": false, "127.0.0.3": true, "8.8.8.8": true}
	for s, want := range ips {
		if got := p.permits(netIP(t, s)); got != want {
			t.Errorf("permits(%s) = %v, want %v", s, got, want)
		}
	}
	noPorts, err := newPeerPolicy([]string{"127.0.0.0/8"}, nil, nil, own...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"203.0.113.10", "127.0.0.1", "192.168.1.5"} {
		if noPorts.permits(netIP(t, s)) {
			t.Errorf("permits(%s) without any allowed port of it", s)
		}
	}
}
