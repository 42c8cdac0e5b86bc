package turnserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// These tests drive the embedded server with coturn's own test clients
// (Debian package coturn: turnutils_stunclient, turnutils_uclient,
// turnutils_peer), and check our credentials against a real coturn
// (turnserver) configured with use-auth-secret. Everything runs on
// 127.0.0.1 with free ports, so it also works in a loopback-only network
// namespace.

// needBinary returns the path of a coturn tool; without it the test is
// skipped, or fails under CI=true.
func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not found: install Debian's coturn package (apt-get install coturn) to run this test", name)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// freePort returns a port that was just free on 127.0.0.1 for network.
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// freeCoturnPort returns a port p such that p and p+1 (coturn's
// alternative port) are free for both UDP and TCP on 127.0.0.1: coturn
// listens on both protocols, and other tests in the same namespace hold
// many TCP ports (a UDP-free port may be a TCP client's ephemeral port).
func freeCoturnPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		p := freePort(t, "udp")
		var held []io.Closer
		ok := true
		for _, port := range []int{p, p + 1} {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			u, err := net.ListenPacket("udp4", addr)
			if err != nil {
				ok = false
				break
			}
			held = append(held, u)
			l, err := net.Listen("tcp4", addr)
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// startProcess starts a long-running tool; it is killed at cleanup, and its
// output is logged if the test fails.
func startProcess(t *testing.T, bin string, args ...string) {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
}

// startCoturnPeer runs turnutils_peer, coturn's UDP echo peer, on
// peerIP and waits until it echoes.
func startCoturnPeer(t *testing.T) int {
	t.Helper()
	bin := needBinary(t, "turnutils_peer")
	p := freePort(t, "udp")
	startProcess(t, bin, "-L", peerIP, "-p", strconv.Itoa(p))
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	to := &net.UDPAddr{IP: net.ParseIP(peerIP), Port: p}
	buf := make([]byte, 64)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		_, _ = probe.WriteTo([]byte("ping"), to)
		_ = probe.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _, err := probe.ReadFrom(buf); err == nil && string(buf[:n]) == "ping" {
			return p
		}
	}
	t.Fatalf("turnutils_peer on %s:%d does not echo", peerIP, p)
	return 0
}

// uclientResult is what turnutils_uclient printed and how it ended.
type uclientResult struct {
	out                string
	err                error
	sent, recv, lost   int
	haveStats, haveErr bool
}

var (
	totMsgsRE = regexp.MustCompile(`tot_send_msgs=(\d+), tot_recv_msgs=(\d+)`)
	lostRE    = regexp.MustCompile(`Total lost packets (\d+)`)
	// errorRE matches STUN error responses ("error 400 ()", "error 401");
	// uclient's TLS probing with old protocol versions also prints OpenSSL
	// "error:" lines, which are not failures of the allocation.
	errorRE = regexp.MustCompile(`\berror \d{3}\b`)
)

// runUclient runs turnutils_uclient against 127.0.0.1 with args and
// parses its final statistics.
func runUclient(t *testing.T, args ...string) uclientResult {
	t.Helper()
	bin := needBinary(t, "turnutils_uclient")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"-L", "127.0.0.1"}, args...)
	full = append(full, "127.0.0.1")
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	r := uclientResult{out: string(out), err: err}
	if m := totMsgsRE.FindAllStringSubmatch(r.out, -1); len(m) > 0 {
		last := m[len(m)-1]
		r.sent, _ = strconv.Atoi(last[1])
		r.recv, _ = strconv.Atoi(last[2])
		r.haveStats = true
	}
	if m := lostRE.FindStringSubmatch(r.out); m != nil {
		r.lost, _ = strconv.Atoi(m[1])
	}
	r.haveErr = errorRE.MatchString(r.out)
	return r
}

// summary is the lines of uclient's output that prove (or disprove)
// relaying, for the test log.
func (r uclientResult) summary() string {
	var keep []string
	for _, l := range strings.Split(r.out, "\n") {
		if strings.Contains(l, "tot_send_msgs=") && !strings.Contains(l, "msz=") ||
			strings.Contains(l, "Total lost packets") || strings.Contains(l, "Total transmit time") ||
			strings.Contains(l, "tot_send_bytes") && !strings.Contains(l, "msz=") || errorRE.MatchString(l) ||
			strings.Contains(l, "client session connected") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return strings.Join(keep, "\n")
}

func TestCoturnStunClient(t *testing.T) {
	bin := needBinary(t, "turnutils_stunclient")
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-L", "127.0.0.1", "-p", port(t, ts.UDPAddr()), "127.0.0.1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("turnutils_stunclient: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`UDP reflexive addr: 127\.0\.0\.1:\d+`).Match(out) {
		t.Fatalf("turnutils_stunclient printed no reflexive address:\n%s", out)
	}
	t.Logf("turnutils_stunclient: %s", strings.TrimSpace(strings.Split(string(out), "\n")[0]))
}

// TestCoturnUclient relays datagrams with turnutils_uclient over UDP, TCP
// and TLS allocations to turnutils_peer and back, and checks refusals.
func TestCoturnUclient(t *testing.T) {
	needBinary(t, "turnutils_uclient")
	peerPort := startCoturnPeer(t)
	certFile, keyFile, _ := writeCert(t, t.TempDir())
	ts := startServer(t, func(c *Config) { c.TLSPort, c.TLSCert, c.TLSKey = 0, certFile, keyFile })
	peer := []string{"-e", peerIP, "-r", strconv.Itoa(peerPort)}
	const n = 20
	traffic := []string{"-n", strconv.Itoa(n), "-m", "1", "-l", "120", "-c", "-z", "5"}

	relayed := func(t *testing.T, name string, args ...string) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runUclient(t, append(append(args, peer...), traffic...)...)
			t.Logf("turnutils_uclient %s:\n%s", name, r.summary())
			if r.err != nil || !r.haveStats || r.haveErr {
				t.Fatalf("turnutils_uclient failed (%v):\n%s", r.err, r.out)
			}
			if r.sent != n || r.recv == 0 || r.lost >= r.sent {
				t.Fatalf("sent %d, received %d, lost %d: want %d sent and datagrams echoed through the relay\n%s",
					r.sent, r.recv, r.lost, n, r.out)
			}
		})
	}
	refused := func(t *testing.T, name string, args ...string) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runUclient(t, append(append(args, peer...), "-n", "3", "-m", "1", "-c")...)
			t.Logf("turnutils_uclient %s:\n%s", name, r.summary())
			if r.err == nil || !r.haveErr || r.recv > 0 {
				t.Fatalf("want the allocation refused, got exit %v, received %d:\n%s", r.err, r.recv, r.out)
			}
		})
	}

	udpPort, tcpPort, tlsPort := port(t, ts.UDPAddr()), port(t, ts.TCPAddr()), port(t, ts.TLSAddr())
	now := time.Now()
	user, pass := Credentials(testSecret, "p-uclient", time.Hour, now)
	expUser, expPass := Credentials(testSecret, "p-expired", time.Hour, now.Add(-2*time.Hour))

	t.Run("group", func(t *testing.T) {
		relayed(t, "udp", "-p", udpPort, "-u", user, "-w", pass)
		relayed(t, "tcp", "-t", "-p", tcpPort, "-u", user, "-w", pass)
		// -S needs a client key pair; the server does not ask for it.
		relayed(t, "tls", "-t", "-S", "-i", certFile, "-k", keyFile, "-p", tlsPort, "-u", user, "-w", pass)
		// coturn's client mints the TURN REST credentials itself from the
		// shared secret (its use-auth-secret implementation).
		relayed(t, "udp with coturn-minted REST credentials", "-p", udpPort, "-W", testSecret, "-u", "p-coturn")
		refused(t, "wrong password", "-p", udpPort, "-u", user, "-w", "d3JvbmcgcGFzc3dvcmQ=")
		refused(t, "expired username", "-p", udpPort, "-u", expUser, "-w", expPass)
		refused(t, "tcp wrong secret", "-t", "-p", tcpPort, "-W", "not-the-secret-0123456789abcdef-x", "-u", "p-x")
	})
	if t.Failed() {
		return
	}
	if got := ts.metric(t, "parley_turn_allocations_total"); got < 4 {
		t.Errorf("parley_turn_allocations_total = %v, want ≥ 4", got)
	}
	if got := ts.metric(t, "parley_turn_auth_failures_total"); got < 3 {
		t.Errorf("parley_turn_auth_failures_total = %v, want ≥ 3", got)
	}
	logs := ts.logs.String()
	for _, secret := range []string{pass, user, expPass, "p-coturn", testSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("server log contains %q", secret)
		}
	}
}

// TestExternalCoturn runs a real coturn with use-auth-secret and the same
// secret, and relays through it with credentials minted in external mode:
// proof that Credentials is coturn's scheme.
func TestExternalCoturn(t *testing.T) {
	bin := needBinary(t, "turnserver")
	dir := t.TempDir()
	turnPort := freeCoturnPort(t)
	relayLo := 45000 + turnPort%1000*10 // a 10-port range unlikely to collide
	startProcess(t, bin, "-n",
		"--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
		"--listening-port", strconv.Itoa(turnPort),
		"--min-port", strconv.Itoa(relayLo), "--max-port", strconv.Itoa(relayLo+9),
		"--use-auth-secret", "--static-auth-secret", testSecret, "--realm", DefaultRealm,
		"--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli",
		"--db", filepath.Join(dir, "turndb"), "--pidfile", filepath.Join(dir, "turnserver.pid"),
		"--log-file", "stdout", "--simple-log")
	turnAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(turnPort))
	waitSTUN(t, turnAddr)

	urls := []string{"turn:127.0.0.1:" + strconv.Itoa(turnPort) + "?transport=udp"}
	ts := startServer(t, func(c *Config) { c.ExternalURLs = urls })
	if ts.UDPAddr() != nil {
		t.Fatal("external mode must not listen")
	}
	servers := ts.ICEServers(Grant{Participant: "p-external"}, time.Now())
	if len(servers) != 1 || servers[0].URLs[0] != urls[0] {
		t.Fatalf("ICEServers = %+v", servers)
	}
	peer := startEcho(t, "127.0.0.1")
	client, _, _ := dialPion(t, "udp", turnAddr, servers[0].Username, servers[0].Credential.(string), nil)
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("coturn refused Parley's credentials: %v", err)
	}
	defer relay.Close()
	for i := range 5 {
		if err := roundTrip(relay, peer, fmt.Appendf(nil, "via coturn %d", i)); err != nil {
			t.Fatalf("datagram %d through coturn: %v", i, err)
		}
	}
	t.Logf("coturn accepted %s and relayed 5 datagrams via %v", servers[0].Username, relay.LocalAddr())

	expUser, expPass := Credentials(testSecret, "p-expired", time.Hour, time.Now().Add(-2*time.Hour))
	expClient, _, _ := dialPion(t, "udp", turnAddr, expUser, expPass, nil)
	if r, err := expClient.Allocate(); err == nil {
		r.Close()
		t.Fatal("coturn accepted expired credentials")
	} else {
		t.Logf("coturn refused expired credentials: %v", err)
	}
}

// waitSTUN waits until a STUN binding request to addr is answered.
func waitSTUN(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		_, _ = conn.WriteTo(req.Raw, to)
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, _, err := conn.ReadFrom(buf); err == nil && stun.IsMessage(buf[:n]) {
			return
		} else if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Fatalf("no STUN answer from %s", addr)
}
