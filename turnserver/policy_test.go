package turnserver

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitMetric polls a counter until it reaches want (or fails after 10s).
func waitMetric(t *testing.T, ts *testServer, name string, want float64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ts.metric(t, name) >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want ≥ %v", name, ts.metric(t, name), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expectDropped sends msg through the relay to peer and checks that the
// relay dropped it (parley_turn_peer_denied_total grows) and nothing came
// back.
func expectDropped(t *testing.T, ts *testServer, relay net.PacketConn, peer net.Addr, msg string) {
	t.Helper()
	before := ts.metric(t, "parley_turn_peer_denied_total")
	if _, err := relay.WriteTo([]byte(msg), peer); err != nil {
		t.Logf("refused by the server already: %v", err)
		return
	}
	waitMetric(t, ts, "parley_turn_peer_denied_total", before+1)
	_ = relay.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 2048)
	for {
		n, from, err := relay.ReadFrom(buf)
		if err != nil {
			return
		}
		if from.String() == peer.String() {
			t.Fatalf("%q relayed to %v and echoed (%q)", msg, peer, buf[:n])
		}
	}
}

// TestOwnAddressRefused: with loopback peers allowed (127.0.0.0/8, as the
// tests need), a TURN client still cannot reach the server's own address
// 127.0.0.1: neither its TURN port nor another service there, unless that
// address:port is listed in allowed_peer_addrs, which opens that port only.
func TestOwnAddressRefused(t *testing.T) {
	other := startEcho(t, peerIP) // an allowed loopback peer, not this server
	ownService := startEcho(t, "127.0.0.1")
	ownOther := startEcho(t, "127.0.0.1")

	t.Run("refused", func(t *testing.T) {
		ts := startServer(t, nil)
		user, pass := credentialsOf(t, ts.Server, "p-own")
		client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
		relay, err := client.Allocate()
		if err != nil {
			t.Fatalf("Allocate: %v", err)
		}
		defer relay.Close()
		if err := roundTrip(relay, other, []byte("to the allowed peer")); err != nil {
			t.Fatalf("allowed peer %v: %v", other, err)
		}
		for _, target := range []net.Addr{ts.UDPAddr(), ownService} {
			err := roundTrip(relay, target, []byte("to this server"))
			if err == nil {
				t.Fatalf("relayed to the server's own address %v", target)
			}
			t.Logf("%v refused: %v", target, err)
		}
		if got := ts.metric(t, "parley_turn_peer_denied_total"); got < 1 {
			t.Errorf("parley_turn_peer_denied_total = %v, want ≥ 1", got)
		}
	})

	t.Run("listed address:port", func(t *testing.T) {
		ts := startServer(t, func(c *Config) {
			c.AllowedPeerAddrs = []string{ownService.String()}
		})
		user, pass := credentialsOf(t, ts.Server, "p-listed")
		client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
		relay, err := client.Allocate()
		if err != nil {
			t.Fatalf("Allocate: %v", err)
		}
		defer relay.Close()
		if err := roundTrip(relay, ownService, []byte("to the listed port")); err != nil {
			t.Fatalf("listed %v: %v", ownService, err)
		}
		expectDropped(t, ts, relay, ownOther, "to another port of the same address")
		expectDropped(t, ts, relay, ts.UDPAddr(), "to the TURN port")
		if err := roundTrip(relay, other, []byte("to the allowed peer")); err != nil {
			t.Fatalf("allowed peer %v: %v", other, err)
		}
	})

	t.Run("own port of the program", func(t *testing.T) { // the SFU's media port
		_, p, _ := net.SplitHostPort(ownService.String())
		sfuPort, _ := strconv.Atoi(p)
		ts := startServer(t, nil, WithOwnPorts(sfuPort))
		user, pass := credentialsOf(t, ts.Server, "p-sfu")
		client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
		relay, err := client.Allocate()
		if err != nil {
			t.Fatalf("Allocate: %v", err)
		}
		defer relay.Close()
		if err := roundTrip(relay, ownService, []byte("to the SFU port")); err != nil {
			t.Fatalf("own port %v: %v", ownService, err)
		}
		expectDropped(t, ts, relay, ownOther, "to another port of this server")
	})
}

// sessions is a consultation registry for WithSessionCheck.
type sessions struct {
	mu   sync.Mutex
	open map[string]bool
}

func (s *sessions) isOpen(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[id]
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, id)
}

// TestCredentialsEndWithConsultation: credentials name their consultation;
// once it has ended they are refused and the relays they hold are closed,
// while another consultation's relay goes on.
func TestCredentialsEndWithConsultation(t *testing.T) {
	reg := &sessions{open: map[string]bool{"c_one": true, "c_two": true}}
	ts := startServer(t, nil, WithSessionCheck(reg.isOpen), WithSweepInterval(time.Hour))
	peer := startEcho(t, peerIP)
	now := time.Now()

	creds := func(consultation string) (string, string) {
		t.Helper()
		s := ts.ICEServers(Grant{Session: consultation, Participant: "p_1", NotAfter: now.Add(time.Hour)}, now)
		if len(s) != 1 {
			t.Fatalf("ICEServers = %v", s)
		}
		if !strings.Contains(s[0].Username, ":"+consultation+":") {
			t.Fatalf("username %q does not carry the consultation", s[0].Username)
		}
		return s[0].Username, s[0].Credential.(string)
	}
	allocate := func(user, pass string) (net.PacketConn, error) {
		t.Helper()
		client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), user, pass, nil)
		return client.Allocate()
	}

	oneUser, onePass := creds("c_one")
	twoUser, twoPass := creds("c_two")
	oneRelay, err := allocate(oneUser, onePass)
	if err != nil {
		t.Fatalf("Allocate for an open consultation: %v", err)
	}
	defer oneRelay.Close()
	twoRelay, err := allocate(twoUser, twoPass)
	if err != nil {
		t.Fatal(err)
	}
	defer twoRelay.Close()
	for _, r := range []net.PacketConn{oneRelay, twoRelay} {
		if err := roundTrip(r, peer, []byte("in the call")); err != nil {
			t.Fatal(err)
		}
	}

	reg.end("c_one")
	if n := ts.CloseEnded(time.Now()); n != 1 {
		t.Errorf("CloseEnded closed %d relays, want 1", n)
	}
	if err := roundTrip(oneRelay, peer, []byte("after the end")); err == nil {
		t.Error("relay of the ended consultation still relays")
	}
	if r, err := allocate(oneUser, onePass); err == nil {
		r.Close()
		t.Error("credentials of the ended consultation still allocate")
	} else {
		t.Logf("refused after the end: %v", err)
	}
	if err := roundTrip(twoRelay, peer, []byte("other call goes on")); err != nil {
		t.Errorf("relay of the open consultation: %v", err)
	}
	if got := ts.metric(t, "parley_turn_relays_revoked_total"); got != 1 {
		t.Errorf("parley_turn_relays_revoked_total = %v, want 1", got)
	}

	// Credentials without a consultation are refused under the check.
	plainUser, plainPass := credentialsOf(t, ts.Server, "p_plain")
	if r, err := allocate(plainUser, plainPass); err == nil {
		r.Close()
		t.Error("credentials without a consultation allocate under the session check")
	}
}

// TestSweeperClosesEndedRelays: without anyone calling CloseEnded, the
// sweeper closes the relay of an ended consultation.
func TestSweeperClosesEndedRelays(t *testing.T) {
	reg := &sessions{open: map[string]bool{"c_one": true}}
	ts := startServer(t, nil, WithSessionCheck(reg.isOpen), WithSweepInterval(20*time.Millisecond))
	now := time.Now()
	s := ts.ICEServers(Grant{Session: "c_one", Participant: "p_1"}, now)
	client, _, _ := dialPion(t, "udp", ts.UDPAddr().String(), s[0].Username, s[0].Credential.(string), nil)
	relay, err := client.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	reg.end("c_one")
	waitMetric(t, ts, "parley_turn_relays_revoked_total", 1)
	// pion deletes the allocation when its read loop sees the socket closed.
	for deadline := time.Now().Add(10 * time.Second); ts.metric(t, "parley_turn_allocations") != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("parley_turn_allocations = %v after the sweep, want 0", ts.metric(t, "parley_turn_allocations"))
		}
	}
}

// TestCredentialLifetimeBoundByConsultation: credentials never outlive the
// consultation's end; none are issued after it.
func TestCredentialLifetimeBoundByConsultation(t *testing.T) {
	ts := startServer(t, nil)
	now := time.Unix(1_900_000_000, 0)
	end := now.Add(25 * time.Minute)
	s := ts.ICEServers(Grant{Session: "c_x", Participant: "p", NotAfter: end}, now)
	if len(s) != 1 {
		t.Fatalf("ICEServers = %v", s)
	}
	expiry, _, _ := strings.Cut(s[0].Username, ":")
	if want := strconv.FormatInt(end.Unix(), 10); expiry != want {
		t.Errorf("expiry %s, want the consultation's end %s (not now + %s)", expiry, want, DefaultCredentialTTL)
	}
	if s := ts.ICEServers(Grant{Session: "c_x", Participant: "p", NotAfter: now.Add(-time.Second)}, now); s != nil {
		t.Errorf("ICEServers after the consultation's end = %v, want none", s)
	}
	if err := checkUsername(s[0].Username, end.Add(time.Second)); !errors.Is(err, errUsernameExpired) {
		t.Errorf("credentials after the consultation's end: %v, want expired", err)
	}
}
