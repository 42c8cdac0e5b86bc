package connlimit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// serve runs an HTTP server on l until the test ends.
func serve(t *testing.T, l *Listener) {
	t.Helper()
	srv := &http.Server{
		Handler: l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		})),
		ConnContext:       ConnContext,
		ReadHeaderTimeout: time.Minute,
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func listen(t *testing.T, cfg Config) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(inner, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l)
	return l
}

// dialFrom opens a TCP connection from a loopback source address.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends one request on c and returns the status line ("" if the
// server closed the connection instead of answering).
func get(t *testing.T, c net.Conn) (status string, header http.Header) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "", nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset") {
			return "", nil
		}
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp.Status, resp.Header
}

// waitOpen waits until l counts want connections (Accept runs
// asynchronously to the client's dial).
func waitOpen(t *testing.T, l *Listener, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.Open() != want {
		if time.Now().After(deadline) {
			t.Fatalf("open connections %d, want %d", l.Open(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPerNetworkCap(t *testing.T) {
	l := listen(t, Config{Max: 100, PerNetwork: 3})
	addr := l.Addr().String()
	var held []net.Conn
	for i := range 3 { // 127.0.7.0/24: three hosts, at the cap
		held = append(held, dialFrom(t, fmt.Sprintf("127.0.7.%d", i+1), addr))
	}
	waitOpen(t, l, 3)
	// A fourth from the same /24 is closed without an answer.
	if status, _ := get(t, dialFrom(t, "127.0.7.9", addr)); status != "" {
		t.Fatalf("fourth connection from one network answered %q", status)
	}
	if n := l.Refused(ReasonNetwork); n != 1 {
		t.Fatalf("refused for the network: %d, want 1", n)
	}
	// Another network is served.
	if status, _ := get(t, dialFrom(t, "127.0.8.1", addr)); status != "200 OK" {
		t.Fatalf("other network: %q", status)
	}
	// Closing one gives its network a slot back.
	held[0].Close()
	waitOpen(t, l, 3) // 127.0.7.x: 2, 127.0.8.1: 1 (keep-alive)
	if status, _ := get(t, dialFrom(t, "127.0.7.10", addr)); status != "200 OK" {
		t.Fatalf("after a close, the network is not served again: %q", status)
	}
}

func TestGlobalCapAnswersBusyThenCloses(t *testing.T) {
	l := listen(t, Config{Max: 4, Reserve: 2, PerNetwork: 100, RetryAfter: 7 * time.Second})
	addr := l.Addr().String()
	for i := range 4 {
		dialFrom(t, fmt.Sprintf("127.0.9.%d", i+1), addr)
	}
	waitOpen(t, l, 4)
	// Two more (the reserve) hear 503 with Retry-After; keep them open.
	busy := []net.Conn{dialFrom(t, "127.0.10.1", addr), dialFrom(t, "127.0.10.2", addr)}
	for _, c := range busy {
		status, h := get(t, c)
		if status != "503 Service Unavailable" || h.Get("Retry-After") != "7" {
			t.Fatalf("over the cap: %q, Retry-After %q", status, h.Get("Retry-After"))
		}
	}
	if n := l.Refused(ReasonBusy); n != 2 {
		t.Fatalf("busy answers %d, want 2", n)
	}
}

func TestGlobalCapBeyondReserveCloses(t *testing.T) {
	l := listen(t, Config{Max: 2, Reserve: 1, BusyTimeout: time.Minute})
	addr := l.Addr().String()
	dialFrom(t, "127.0.11.1", addr)
	dialFrom(t, "127.0.11.2", addr)
	waitOpen(t, l, 2)
	dialFrom(t, "127.0.11.3", addr) // takes the reserve, sends nothing
	deadline := time.Now().Add(10 * time.Second)
	for l.Refused(ReasonBusy) != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if status, _ := get(t, dialFrom(t, "127.0.11.4", addr)); status != "" {
		t.Fatalf("beyond the reserve: answered %q, want closed", status)
	}
	if n := l.Refused(ReasonFull); n != 1 {
		t.Fatalf("closed when full: %d, want 1", n)
	}
}

func TestTrustedProxyIsNotCappedPerNetwork(t *testing.T) {
	proxy := netip.MustParsePrefix("127.0.12.1/32")
	l := listen(t, Config{Max: 100, PerNetwork: 1, Exempt: []netip.Prefix{proxy}})
	addr := l.Addr().String()
	for range 5 {
		dialFrom(t, "127.0.12.1", addr)
	}
	waitOpen(t, l, 5)
	if n := l.Refused(ReasonNetwork); n != 0 {
		t.Fatalf("the trusted proxy was refused %d times", n)
	}
}

func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":          "203.0.113.0/24",
		"::ffff:203.0.113.77":   "203.0.113.0/24",
		"2001:db8:1:2::3":       "2001:db8:1::/48",
		"2001:db8:1:ffff::ffff": "2001:db8:1::/48",
	} {
		if got := Network(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("Network(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestMaxForStaysBelowTheFileLimit(t *testing.T) {
	for _, lim := range []uint64{256, 1024, 20000, 1 << 20} {
		m := MaxFor(lim)
		reserve := max(m/16, 1)
		if m <= 0 || uint64(m+reserve) >= lim {
			t.Errorf("MaxFor(%d) = %d (+%d reserve): not below the limit", lim, m, reserve)
		}
	}
}
