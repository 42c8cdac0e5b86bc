package turnserver

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/pion/webrtc/v4"
)

// credentialsOf returns the username and password of ICEServers' answer.
func credentialsOf(t *testing.T, s *Server, participant string) (user, pass string) {
	t.Helper()
	servers := s.ICEServers(Grant{Participant: participant}, time.Now())
	if len(servers) != 1 {
		t.Fatalf("ICEServers = %d servers, want 1", len(servers))
	}
	pass, ok := servers[0].Credential.(string)
	if !ok {
		t.Fatalf("credential is %T, want string", servers[0].Credential)
	}
	return servers[0].Username, pass
}

// TestPionClientRelays allocates a relay with pion's TURN client over UDP,
// TCP and TLS and sends datagrams through it to a UDP echo peer and back.
func TestPionClientRelays(t *testing.T) {
	for _, network := range []string{"udp", "tcp", "tls"} {
		t.Run(network, func(t *testing.T) {
			var tlsConf *tls.Config
			ts := startServer(t, func(c *Config) {
				if network == "tls" {
					cert, key, pool := writeCert(t, t.TempDir())
					c.TLSPort, c.TLSCert, c.TLSKey = 0, cert, key
					tlsConf = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
				}
			})
			addr := map[string]net.Addr{"udp": ts.UDPAddr(), "tcp": ts.TCPAddr(), "tls": ts.TLSAddr()}[network]
			peer := startEcho(t, peerIP)
			user, pass := credentialsOf(t, ts.Server, "participant-"+network)

			client, local, _ := dialPion(t, network, addr.String(), user, pass, tlsConf)
			relay, err := client.Allocate()
			if err != nil {
				t.Fatalf("Allocate over %s: %v", network, err)
			}
			defer relay.Close()
			relayAddr := relay.LocalAddr().(*net.UDPAddr)
			if !relayAddr.IP.Equal(net.IPv4(127, 0, 0, 1)) || relayAddr.Port == 0 {
				t.Fatalf("relay address %v, want 127.0.0.1:PORT", relayAddr)
			}
			for i := range 10 {
				msg := fmt.Appendf(nil, "parley %s datagram %d", network, i)
				if err := roundTrip(relay, peer, msg); err != nil {
					t.Fatalf("datagram %d through the relay: %v", i, err)
				}
			}
			t.Logf("%s: relay %v, 10 datagrams echoed by %v", network, relayAddr, peer)

			if got := ts.metric(t, "parley_turn_allocations_total"); got != 1 {
				t.Errorf("parley_turn_allocations_total = %v, want 1", got)
			}
			if got := ts.metric(t, "parley_turn_allocations"); got != 1 {
				t.Errorf("parley_turn_allocations = %v, want 1", got)
			}
			if got := ts.metric(t, "parley_turn_auth_failures_total"); got != 0 {
				t.Errorf("parley_turn_auth_failures_total = %v, want 0", got)
			}
			assertLogsClean(t, ts, local, user, pass)
		})
	}
}

// assertLogsClean checks that the log holds none of the client's full
// address, the username or the password, but does hold its anonymised form.
func assertLogsClean(t *testing.T, ts *testServer, client net.Addr, secrets ...string) {
	t.Helper()
	logs := ts.logs.String()
	if !strings.Contains(logs, "client=127.0.0.0") {
		t.Errorf("log has no anonymised client address:\n%s", logs)
	}
	_, cport, _ := net.SplitHostPort(client.String())
	for _, bad := range append(secrets, client.String(), ":"+cport+" ", ":"+cport+"\n") {
		if strings.Contains(logs, bad) {
			t.Errorf("log contains %q:\n%s", bad, logs)
		}
	}
}

// TestPionClientRejected checks that wrong, expired and malformed
// credentials get no allocation.
func TestPionClientRejected(t *testing.T) {
	ts := startServer(t, nil)
	now := time.Now()
	expiredUser, expiredPass := Credentials(testSecret, "p-expired", time.Hour, now.Add(-2*time.Hour))
	otherUser, otherPass := Credentials("another-secret-0123456789abcdef-xyz", "p-other", time.Hour, now)
	goodUser, _ := Credentials(testSecret, "p-wrong", time.Hour, now)
	cases := []struct{ name, user, pass string }{
		{"wrong password", goodUser, "d3JvbmcgcGFzc3dvcmQ="},
		{"expired username, correct HMAC", expiredUser, expiredPass},
		{"other secret", otherUser, otherPass},
		{"no expiry", "alice", restPassword(testSecret, "alice")},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, _, closeClient := dialPion(t, "udp", ts.UDPAddr().String(), tc.user, tc.pass, nil)
			defer closeClient()
			relay, err := client.Allocate()
			if err == nil {
				relay.Close()
				t.Fatal("Allocate succeeded, want refusal")
			}
			t.Logf("refused as expected: %v", err)
			if got := ts.metric(t, "parley_turn_auth_failures_total"); got < float64(i+1) {
				t.Errorf("parley_turn_auth_failures_total = %v, want ≥ %d", got, i+1)
			}
		})
	}
	if got := ts.metric(t, "parley_turn_allocations_total"); got != 0 {
		t.Errorf("parley_turn_allocations_total = %v, want 0", got)
	}
	logs := ts.logs.String()
	for _, tc := range cases {
		if strings.Contains(logs, tc.pass) || strings.Contains(logs, tc.user) {
			t.Errorf("log contains credentials of %q:\n%s", tc.name, logs)
		}
	}
}

// TestPeerPolicy checks that the relay refuses loopback peers unless they
// are allowed (its own address: TestOwnAddressRefused).
func TestPeerPolicy(t *testing.T) {
	peer := startEcho(t, "127.0.0.2")
	for _, allowed := range []bool{false, true} {
		t.Run(fmt.Sprintf("allowed=%v", allowed), func(t *testing.T) {
			ts := startServer(t, func(c *Config) {
				c.AllowedPeers = nil
				if allowed {
					c.AllowedPeers = []string{"127.0.0.2/32"}
				}
			})
			user, pass := credentialsOf(t, ts.Server, "p-peer")
			client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
			relay, err := client.Allocate()
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			defer relay.Close()
			err = roundTrip(relay, peer, []byte("to 127.0.0.2"))
			if allowed && err != nil {
				t.Fatalf("allowed peer: %v", err)
			}
			if !allowed {
				if err == nil {
					t.Fatal("datagram relayed to 127.0.0.2, want the permission refused")
				}
				if got := ts.metric(t, "parley_turn_peer_denied_total"); got < 1 {
					t.Errorf("parley_turn_peer_denied_total = %v, want ≥ 1", got)
				}
				t.Logf("refused as expected: %v", err)
			}
		})
	}
}

// TestRelayPortRange checks that relay sockets come from the range.
func TestRelayPortRange(t *testing.T) {
	const lo, hi = 42170, 42179
	ts := startServer(t, func(c *Config) { c.RelayMinPort, c.RelayMaxPort = lo, hi })
	peer := startEcho(t, peerIP)
	user, pass := credentialsOf(t, ts.Server, "p-range")
	for i := range 3 {
		client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
		relay, err := client.Allocate()
		if err != nil {
			t.Fatalf("Allocate %d: %v", i, err)
		}
		defer relay.Close()
		p := relay.LocalAddr().(*net.UDPAddr).Port
		if p < lo || p > hi {
			t.Errorf("relay port %d outside %d-%d", p, lo, hi)
		}
		if err := roundTrip(relay, peer, []byte("range")); err != nil {
			t.Fatalf("relay %d: %v", i, err)
		}
	}
}

// TestAllocationQuota checks the per-username allocation cap.
func TestAllocationQuota(t *testing.T) {
	ts := startServer(t, nil)
	user, pass := credentialsOf(t, ts.Server, "p-greedy")
	for i := range maxAllocationsPerUser + 1 {
		client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
		relay, err := client.Allocate()
		if i < maxAllocationsPerUser {
			if err != nil {
				t.Fatalf("Allocate %d: %v", i, err)
			}
			defer relay.Close()
			continue
		}
		if err == nil {
			relay.Close()
			t.Fatalf("allocation %d granted, want quota reached", i+1)
		}
		if !strings.Contains(err.Error(), "486") {
			t.Errorf("error %v, want 486 Allocation Quota Reached", err)
		}
	}
	// Another participant is not affected.
	user2, pass2 := credentialsOf(t, ts.Server, "p-modest")
	client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user2, pass2, nil)
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("Allocate for another participant: %v", err)
	}
	relay.Close()
}

func TestICEServers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	t.Run("embedded", func(t *testing.T) {
		cert, key, _ := writeCert(t, t.TempDir())
		ts := startServer(t, func(c *Config) {
			c.TLSPort, c.TLSCert, c.TLSKey = 0, cert, key
			c.Host = "turn.example.com"
			c.CredentialTTL = 2 * time.Hour
			c.RelayOnly = true
		})
		got := ts.ICEServers(Grant{Participant: "p-42"}, now)
		if len(got) != 1 {
			t.Fatalf("got %d servers", len(got))
		}
		want := []string{
			"turn:turn.example.com:" + port(t, ts.UDPAddr()) + "?transport=udp",
			"turn:turn.example.com:" + port(t, ts.TCPAddr()) + "?transport=tcp",
			"turns:turn.example.com:" + port(t, ts.TLSAddr()) + "?transport=tcp",
		}
		if strings.Join(got[0].URLs, " ") != strings.Join(want, " ") {
			t.Errorf("URLs = %q, want %q", got[0].URLs, want)
		}
		wantUser := strconv.FormatInt(now.Add(2*time.Hour).Unix(), 10) + ":p-42"
		if got[0].Username != wantUser {
			t.Errorf("Username = %q, want %q", got[0].Username, wantUser)
		}
		if got[0].Credential != restPassword(testSecret, wantUser) {
			t.Errorf("Credential = %v, want HMAC of the username", got[0].Credential)
		}
		if got[0].CredentialType != webrtc.ICECredentialTypePassword {
			t.Errorf("CredentialType = %v", got[0].CredentialType)
		}
		if !ts.RelayOnly() || !ts.Enabled() {
			t.Errorf("RelayOnly() = %v, Enabled() = %v, want true, true", ts.RelayOnly(), ts.Enabled())
		}
		// Each call mints its own credentials; the URL slice is a copy.
		got[0].URLs[0] = "changed"
		if again := ts.ICEServers(Grant{Participant: "p-43"}, now); again[0].URLs[0] == "changed" || again[0].Username == wantUser {
			t.Errorf("ICEServers shares state between calls: %+v", again)
		}
	})
	t.Run("defaults to the listen address, tcp off", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.TCPPort = -1 })
		got := ts.ICEServers(Grant{Participant: "p"}, now)[0].URLs
		want := "turn:127.0.0.1:" + port(t, ts.UDPAddr()) + "?transport=udp"
		if len(got) != 1 || got[0] != want || ts.TCPAddr() != nil || ts.TLSAddr() != nil {
			t.Errorf("URLs = %q, want [%q]", got, want)
		}
		if ts.RelayOnly() {
			t.Error("RelayOnly() = true")
		}
	})
	t.Run("external", func(t *testing.T) {
		urls := []string{"turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:443?transport=tcp"}
		ts := startServer(t, func(c *Config) { c.ExternalURLs = urls })
		if ts.UDPAddr() != nil || ts.TCPAddr() != nil {
			t.Errorf("external mode listens: udp %v, tcp %v", ts.UDPAddr(), ts.TCPAddr())
		}
		got := ts.ICEServers(Grant{Participant: "p-1"}, now)
		wantUser, wantPass := Credentials(testSecret, "p-1", DefaultCredentialTTL, now)
		if len(got) != 1 || strings.Join(got[0].URLs, " ") != strings.Join(urls, " ") ||
			got[0].Username != wantUser || got[0].Credential != wantPass {
			t.Errorf("ICEServers = %+v, want %q with %s/%s", got, urls, wantUser, wantPass)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		s, err := New(Config{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.ICEServers(Grant{Participant: "p"}, now); got != nil || s.Enabled() || s.RelayOnly() || s.UDPAddr() != nil {
			t.Errorf("disabled server lists %+v", got)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	t.Run("participant is sanitised", func(t *testing.T) {
		ts := startServer(t, nil)
		got := ts.ICEServers(Grant{Participant: "a\nb" + strings.Repeat("x", 300)}, now)[0].Username
		if strings.ContainsAny(got, "\n") || len(got) > 11+128+1 {
			t.Errorf("Username = %q", got)
		}
	})
}

func TestNewErrors(t *testing.T) {
	cfg := loopbackConfig()
	cfg.Secret = "short"
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "turn.secret") {
		t.Errorf("short secret: err = %v", err)
	}

	// A port in use is reported with the key to change.
	busy, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg = loopbackConfig()
	cfg.UDPPort = busy.LocalAddr().(*net.UDPAddr).Port
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "turn.udp_port") {
		t.Errorf("busy port: err = %v", err)
	}

	cfg = loopbackConfig()
	cfg.TLSPort, cfg.TLSCert, cfg.TLSKey = 0, "/nonexistent/cert.pem", "/nonexistent/key.pem"
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "turn.tls_cert") {
		t.Errorf("missing certificate: err = %v", err)
	}

	// Two servers on one registry: the second fails cleanly, and after the
	// first is closed the metrics can be registered again.
	ts := startServer(t, nil)
	if _, err := New(loopbackConfig(), nil, ts.reg); err == nil {
		t.Error("second server on the same registry: no error")
	}
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := New(loopbackConfig(), nil, ts.reg)
	if err != nil {
		t.Fatalf("after Close, New on the same registry: %v", err)
	}
	_ = s.Close()
}

// TestCloseLeavesNoGoroutines closes a server that still has a UDP
// allocation and an open TCP connection, and waits for every goroutine to
// end.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	peer := startEcho(t, peerIP)
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	ts := startServer(t, nil)
	user, pass := credentialsOf(t, ts.Server, "p-close")

	// A TCP client with an allocation, its connection left open.
	tcpClient, _, closeTCP := dialPion(t, "tcp", ts.TCPAddr().String(), user, pass, nil)
	tcpRelay, err := tcpClient.Allocate()
	if err != nil {
		t.Fatalf("TCP Allocate: %v", err)
	}
	if err := roundTrip(tcpRelay, peer, []byte("tcp before close")); err != nil {
		t.Fatal(err)
	}
	// A UDP client with an allocation.
	udpClient, _, closeUDP := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
	udpRelay, err := udpClient.Allocate()
	if err != nil {
		t.Fatalf("UDP Allocate: %v", err)
	}
	if err := roundTrip(udpRelay, peer, []byte("udp before close")); err != nil {
		t.Fatal(err)
	}
	// A raw TCP connection that only did a STUN binding and stays open.
	raw, err := net.Dial("tcp4", ts.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	bind := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := raw.Write(bind.Raw); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	header := make([]byte, 20)
	if _, err := io.ReadFull(raw, header); err != nil {
		t.Fatalf("binding response over raw TCP: %v", err)
	}
	if _, err := io.ReadFull(raw, make([]byte, int(header[2])<<8|int(header[3]))); err != nil {
		t.Fatalf("binding response body over raw TCP: %v", err)
	}

	if err := ts.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ts.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The clients' own goroutines end with them.
	_ = tcpRelay.Close()
	_ = udpRelay.Close()
	closeTCP()
	closeUDP()
	// The raw TCP connection is still open on our side: the server must
	// have closed its end.
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.Read(make([]byte, 512)); err == nil {
		t.Error("server kept the raw TCP connection open after Close")
	}
	waitGoroutines(t, before, 5*time.Second)
	if _, err := net.Dial("tcp4", ts.cfg.ListenIP+":"+port(t, ts.TCPAddr())); err == nil {
		t.Error("TCP port still accepts connections after Close")
	}
}
