package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v3"
)

// These tests use real UDP sockets on loopback only, so they run without
// the test namespace too.

// newTestUDPMux starts a mux on a loopback (or, for "[::]", every) address
// with per-connection queues of queueLen packets (0: udpMuxQueue); the
// mux is closed and goroutine leaks checked at cleanup.
func newTestUDPMux(t *testing.T, ip string, includeLoopback bool, queueLen int) *udpMux {
	t.Helper()
	checkLeaks(t)
	sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	_ = sock.SetReadBuffer(udpSocketBuffer)
	m := newUDPMux(sock, testLogger(), includeLoopback, queueLen)
	t.Cleanup(func() {
		if err := m.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("mux Close: %v", err)
		}
	})
	return m
}

// udpClient is a remote peer's socket on loopback.
func udpClient(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen client %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func getConn(t *testing.T, m *udpMux, ufrag string, addr net.Addr) *udpMuxHandle {
	t.Helper()
	pc, err := m.GetConn(ufrag, addr)
	if err != nil {
		t.Fatalf("GetConn(%s): %v", ufrag, err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc.(*udpMuxHandle)
}

// bindingRequest is a STUN binding request whose USERNAME is
// "<ufrag>:remote", as a remote ICE agent sends to a local ufrag.
func bindingRequest(t *testing.T, ufrag string) []byte {
	t.Helper()
	msg, err := stun.Build(stun.BindingRequest, stun.TransactionID, stun.NewUsername(ufrag+":remote"))
	if err != nil {
		t.Fatalf("build STUN: %v", err)
	}
	return msg.Raw
}

// readWithin reads one packet from h, failing the test after a generous
// timeout.
func readWithin(t *testing.T, h *udpMuxHandle) ([]byte, netip.AddrPort) {
	t.Helper()
	if err := h.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	buf := make([]byte, 1500)
	n, from, err := h.ReadFromAddrPort(buf)
	if err != nil {
		t.Fatalf("read %s: %v", h.c.ufrag, err)
	}
	return buf[:n], from
}

// readClient reads one datagram at client c.
func readClient(t *testing.T, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return buf[:n], from
}

func send(t *testing.T, c *net.UDPConn, p []byte, to net.Addr) {
	t.Helper()
	if _, err := c.WriteTo(p, to); err != nil {
		t.Fatalf("client write: %v", err)
	}
}

// mediaPacket is a 1,200-byte media-like packet (not STUN) carrying n.
func mediaPacket(n int) []byte {
	p := make([]byte, 1200)
	p[0] = 0x80 // RTP version 2: never mistaken for STUN
	binary.BigEndian.PutUint32(p[4:], uint32(n))
	return p
}

// learnClient makes h send to client c, so that the mux routes c's
// datagrams to h, and drains the datagram at c.
func learnClient(t *testing.T, h *udpMuxHandle, c *net.UDPConn) {
	t.Helper()
	if _, err := h.WriteTo([]byte("hello"), c.LocalAddr()); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if p, _ := readClient(t, c); string(p) != "hello" {
		t.Fatalf("client got %q", p)
	}
}

// TestUDPMuxBoundedQueue: a connection whose reader does not read holds
// at most udpMuxQueue packets and the rest are dropped and counted, while
// another connection on the same mux receives every packet (pion's mux
// holds them all: memory grows with the backlog).
func TestUDPMuxBoundedQueue(t *testing.T) {
	m := newTestUDPMux(t, "127.0.0.1", true, 0)
	stalled := getConn(t, m, "stalled", m.local)
	live := getConn(t, m, "live", m.local)
	clientS, clientL := udpClient(t, "127.0.0.1"), udpClient(t, "127.0.0.1")
	learnClient(t, stalled, clientS)
	learnClient(t, live, clientL)

	const extra, every = 100, 8 // one packet to live per 8 to stalled
	total := udpMuxQueue + extra
	received := make(chan int, total)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := live.ReadFromAddrPort(buf)
			if err != nil {
				close(received)
				return
			}
			received <- int(binary.BigEndian.Uint32(buf[4:n]))
		}
	}()
	sentLive := 0
	for i := range total {
		send(t, clientS, mediaPacket(i), m.local)
		if i%every == every-1 {
			send(t, clientL, mediaPacket(sentLive), m.local)
			// Pace on the live connection, so the socket buffer never
			// overflows: everything lost is lost in the mux.
			select {
			case got := <-received:
				if got != sentLive {
					t.Fatalf("live connection got packet %d, want %d", got, sentLive)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("live connection did not receive packet %d", sentLive)
			}
			sentLive++
		}
	}
	waitFor(t, 10*time.Second, "the stalled connection's drops", func() bool { return m.Dropped() >= extra })
	if d := m.Dropped(); d != extra {
		t.Fatalf("dropped %d packets, want %d", d, extra)
	}
	// The stalled connection kept the oldest udpMuxQueue packets, in order.
	for i := range udpMuxQueue {
		p, _ := readWithin(t, stalled)
		if got := int(binary.BigEndian.Uint32(p[4:])); got != i {
			t.Fatalf("stalled connection: packet %d is %d", i, got)
		}
	}
	_ = stalled.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, _, err := stalled.ReadFromAddrPort(make([]byte, 1500)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the queue: %v, want a deadline error", err)
	}
	// The drained queue works again: a new packet arrives.
	send(t, clientS, mediaPacket(total), m.local)
	if p, _ := readWithin(t, stalled); int(binary.BigEndian.Uint32(p[4:])) != total {
		t.Fatal("stalled connection: wrong packet after draining")
	}
	if m.Dropped() != extra {
		t.Fatalf("dropped %d, want %d", m.Dropped(), extra)
	}
}

// TestUDPMuxSTUNAndAddressLearning: a STUN message from an unknown address
// reaches the connection named by its USERNAME's ufrag; other datagrams
// from an unknown address are dropped; once a connection has sent to an
// address, everything from it reaches that connection, until another
// connection sends to it.
func TestUDPMuxSTUNAndAddressLearning(t *testing.T) {
	m := newTestUDPMux(t, "127.0.0.1", true, 0)
	a := getConn(t, m, "fragA", m.local)
	b := getConn(t, m, "fragB", m.local)
	client := udpClient(t, "127.0.0.1")
	clientAddr := client.LocalAddr().(*net.UDPAddr).AddrPort()

	// Media from an unknown address and STUN for an unknown ufrag are
	// dropped; the binding request for fragA arrives at a.
	send(t, client, mediaPacket(1), m.local)
	send(t, client, bindingRequest(t, "nobody"), m.local)
	send(t, client, bindingRequest(t, "fragA"), m.local)
	p, from := readWithin(t, a)
	if !stun.IsMessage(p) || from != clientAddr {
		t.Fatalf("a got %d bytes from %v, want the binding request from %v", len(p), from, clientAddr)
	}
	send(t, client, bindingRequest(t, "fragB"), m.local)
	if p, _ := readWithin(t, b); !stun.IsMessage(p) {
		t.Fatal("b did not get its binding request")
	}

	// a answers: the client's datagrams now reach a, STUN or not.
	if _, err := a.WriteToAddrPort([]byte("answer"), clientAddr); err != nil {
		t.Fatalf("WriteToAddrPort: %v", err)
	}
	if p, from := readClient(t, client); string(p) != "answer" || from.Port() != uint16(m.local.(*net.UDPAddr).Port) {
		t.Fatalf("client got %q from %v", p, from)
	}
	send(t, client, mediaPacket(2), m.local)
	if p, _ := readWithin(t, a); binary.BigEndian.Uint32(p[4:]) != 2 {
		t.Fatal("a did not get the media packet")
	}
	send(t, client, bindingRequest(t, "fragB"), m.local) // the address wins over the ufrag
	if p, _ := readWithin(t, a); !stun.IsMessage(p) {
		t.Fatal("a did not get the STUN message from its address")
	}

	// b sends to the same address: it takes the address over.
	learnClient(t, b, client)
	send(t, client, mediaPacket(3), m.local)
	if p, _ := readWithin(t, b); binary.BigEndian.Uint32(p[4:]) != 3 {
		t.Fatal("b did not get the media packet after taking the address")
	}
	if m.Dropped() != 0 {
		t.Fatalf("dropped %d", m.Dropped())
	}
}

// TestUDPMuxIPv6AndListenAddresses: on a dual-stack socket a ufrag has an
// IPv4 and an IPv6 connection, each reached from its own family; the
// listen addresses are the interfaces' (loopback only when asked for, and
// never ::1, as with pion).
func TestUDPMuxIPv6AndListenAddresses(t *testing.T) {
	probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	_ = probe.Close()
	m := newTestUDPMux(t, "::", true, 0)
	port := m.local.(*net.UDPAddr).Port
	v4Addr := &net.UDPAddr{IP: net.ParseIP("127.0.0.1").To4(), Port: port}
	v6Addr := &net.UDPAddr{IP: net.IPv6loopback, Port: port}

	addrs := m.GetListenAddresses()
	hasV4Loopback := slices.ContainsFunc(addrs, func(a net.Addr) bool { return a.String() == v4Addr.String() })
	hasV6Loopback := slices.ContainsFunc(addrs, func(a net.Addr) bool { return a.String() == v6Addr.String() })
	if !hasV4Loopback || hasV6Loopback {
		t.Fatalf("listen addresses %v: want 127.0.0.1 and not ::1 (port %d)", addrs, port)
	}
	quiet := &udpMux{local: m.local, unspecified: true, log: m.log}
	for _, a := range quiet.GetListenAddresses() {
		if a.(*net.UDPAddr).IP.IsLoopback() {
			t.Fatalf("loopback address %v listed without includeLoopback", a)
		}
	}

	c4 := getConn(t, m, "frag", v4Addr)
	c6 := getConn(t, m, "frag", v6Addr)
	if c4.c == c6.c {
		t.Fatal("IPv4 and IPv6 share a connection")
	}
	client4, client6 := udpClient(t, "127.0.0.1"), udpClient(t, "::1")
	send(t, client6, bindingRequest(t, "frag"), v6Addr)
	if _, from := readWithin(t, c6); !from.Addr().Is6() || from.Addr().Is4In6() {
		t.Fatalf("IPv6 connection got a packet from %v", from)
	}
	send(t, client4, bindingRequest(t, "frag"), v4Addr)
	_, from := readWithin(t, c4)
	if !from.Addr().Unmap().Is4() {
		t.Fatalf("IPv4 connection got a packet from %v", from)
	}
	// Answering the (IPv4-mapped) source address learns it in canonical form.
	if _, err := c4.WriteToAddrPort([]byte("x"), from); err != nil {
		t.Fatalf("write to %v: %v", from, err)
	}
	readClient(t, client4)
	send(t, client4, mediaPacket(7), v4Addr)
	if p, _ := readWithin(t, c4); binary.BigEndian.Uint32(p[4:]) != 7 {
		t.Fatal("IPv4 connection did not get the media packet")
	}
}

// TestUDPMuxSpecificAddress: a mux on one address hands out connections
// for that address only and lists it unless it is loopback and loopback
// is not wanted.
func TestUDPMuxSpecificAddress(t *testing.T) {
	m := newTestUDPMux(t, "127.0.0.1", false, 0)
	if addrs := m.GetListenAddresses(); len(addrs) != 0 {
		t.Fatalf("loopback listed without includeLoopback: %v", addrs)
	}
	other := &net.UDPAddr{IP: net.ParseIP("127.0.0.2"), Port: m.local.(*net.UDPAddr).Port}
	if _, err := m.GetConn("x", other); !errors.Is(err, errUDPMuxAddress) {
		t.Fatalf("GetConn for another address: %v", err)
	}
	m.includeLoopback = true
	if addrs := m.GetListenAddresses(); len(addrs) != 1 || addrs[0].String() != m.local.String() {
		t.Fatalf("listen addresses %v, want %v", addrs, m.local)
	}
}

// blockedRead starts a read on h and returns where its error arrives.
func blockedRead(h *udpMuxHandle) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, _, err := h.ReadFrom(make([]byte, 1500))
		ch <- err
	}()
	return ch
}

func wantEnded(t *testing.T, what string, ch <-chan error, want error) {
	t.Helper()
	select {
	case err := <-ch:
		if !errors.Is(err, want) {
			t.Fatalf("%s: read ended with %v, want %v", what, err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: read still blocked", what)
	}
}

func wantBlocked(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s: read ended with %v", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestUDPMuxCloseEndsReaders: closing a handle ends its own reads only;
// the last handle, RemoveConnByUfrag and the mux's Close end the
// connection, whose readers get io.EOF; a closed mux refuses connections
// and its read loop and socket are gone.
func TestUDPMuxCloseEndsReaders(t *testing.T) {
	m := newTestUDPMux(t, "127.0.0.1", true, 0)

	// Two handles of one ufrag (pion asks once per listen address).
	h1 := getConn(t, m, "shared", m.local)
	h2 := getConn(t, m, "shared", m.local)
	if h1.c != h2.c {
		t.Fatal("two connections for one ufrag")
	}
	r1, r2 := blockedRead(h1), blockedRead(h2)
	_ = h1.Close()
	wantEnded(t, "closed handle", r1, net.ErrClosed)
	wantBlocked(t, "other handle", r2)
	if _, err := h1.WriteTo([]byte("x"), m.local); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write on a closed handle: %v", err)
	}
	_ = h2.Close()
	wantEnded(t, "last handle", r2, net.ErrClosed)
	m.mu.RLock()
	_, still := m.conns4["shared"]
	m.mu.RUnlock()
	if still {
		t.Fatal("connection still in the mux after its last handle closed")
	}

	// RemoveConnByUfrag ends the readers; a new GetConn makes a new
	// connection that works.
	removed := getConn(t, m, "removed", m.local)
	kept := getConn(t, m, "kept", m.local)
	client := udpClient(t, "127.0.0.1")
	learnClient(t, removed, client)
	rr, rk := blockedRead(removed), blockedRead(kept)
	m.RemoveConnByUfrag("removed")
	wantEnded(t, "removed connection", rr, io.EOF)
	wantBlocked(t, "kept connection", rk)
	if _, err := removed.WriteTo([]byte("x"), client.LocalAddr()); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write on a removed connection: %v", err)
	}
	again := getConn(t, m, "removed", m.local)
	send(t, client, mediaPacket(1), m.local) // the old address binding went with the old connection
	send(t, client, bindingRequest(t, "removed"), m.local)
	if p, _ := readWithin(t, again); !stun.IsMessage(p) {
		t.Fatal("new connection of a removed ufrag got a non-STUN packet first")
	}

	// Close ends every reader and the read loop, and closes the socket.
	ra := blockedRead(again)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantEnded(t, "kept connection at Close", rk, io.EOF)
	wantEnded(t, "new connection at Close", ra, io.EOF)
	select {
	case <-m.done:
	default:
		t.Fatal("read loop still running after Close")
	}
	if _, err := m.GetConn("late", m.local); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("GetConn after Close: %v", err)
	}
	if _, err := m.sock.WriteTo([]byte("x"), client.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("socket after Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestUDPMuxNoLeaks: a mux with many connections, readers and traffic
// leaves no goroutine behind after Close, and no memory in its tables
// after its connections close.
func TestUDPMuxNoLeaks(t *testing.T) {
	m := newTestUDPMux(t, "127.0.0.1", true, 32) // checkLeaks at cleanup
	client := udpClient(t, "127.0.0.1")
	var handles []*udpMuxHandle
	for i := range 20 {
		h := getConn(t, m, string(rune('a'+i)), m.local)
		handles = append(handles, h)
		send(t, client, bindingRequest(t, h.c.ufrag), m.local)
		readWithin(t, h)
		_, _ = blockedRead(h), blockedRead(h)
	}
	stalled := getConn(t, m, "stalled", m.local) // no reader
	learnClient(t, stalled, client)
	for i := range 100 { // fills its queue past its 32
		send(t, client, mediaPacket(i), m.local)
	}
	waitFor(t, 10*time.Second, "drops", func() bool { return m.Dropped() > 0 })
	for _, h := range handles[10:] {
		_ = h.Close()
	}
	m.mu.RLock()
	n4, addrs := len(m.conns4), len(m.byAddr)
	m.mu.RUnlock()
	if n4 != 11 || addrs != 1 {
		t.Fatalf("after closing half: %d connections, %d addresses; want 11, 1", n4, addrs)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(m.byAddr) != 0 {
		t.Fatalf("%d addresses left after Close", len(m.byAddr))
	}
}

// TestUDPMuxQueueRing: a connection's ring grows from udpMuxInitialQueue
// while its reader lags (also when it has wrapped around), keeps packets
// in order, and refuses the packet past its length.
func TestUDPMuxQueueRing(t *testing.T) {
	m := &udpMux{queueLen: 64}
	m.bufs.New = func() any { b := make([]byte, udpMuxBufSize); return &b }
	c := &udpMuxConn{mux: m, queue: make([]queuedPacket, udpMuxInitialQueue), notify: make(chan struct{}, 1), closedCh: make(chan struct{})}
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	next, want := 0, 0
	pop := func() {
		t.Helper()
		buf := make([]byte, 2000)
		n, _, err := c.read(buf, nil, time.Now().Add(time.Second))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if got := int(binary.BigEndian.Uint32(buf[4:n])); got != want {
			t.Fatalf("read packet %d, want %d", got, want)
		}
		want++
	}
	for range 10 {
		c.push(mediaPacket(next), from)
		next++
	}
	for range 7 {
		pop()
	}
	for c.n < 64 { // wraps around the first ring, then grows twice
		if !c.push(mediaPacket(next), from) {
			t.Fatalf("push refused with %d queued", c.n)
		}
		next++
	}
	if len(c.queue) != 64 {
		t.Fatalf("ring of %d", len(c.queue))
	}
	if c.push(mediaPacket(next), from) {
		t.Fatal("push accepted past the queue length")
	}
	big := make([]byte, 1800) // longer than a pooled buffer
	binary.BigEndian.PutUint32(big[4:], uint32(next+1))
	for c.n > 0 {
		pop()
	}
	if want != next {
		t.Fatalf("read %d packets, pushed %d", want, next)
	}
	want = next + 1
	c.push(big, from)
	pop()
}

// BenchmarkUDPMux compares the process CPU time per received packet
// (getrusage, sender and reader included; cpu-ns/pkt) of pion's
// UDPMuxDefault and Parley's udpMux: a loopback client sends 1,200-byte
// packets to one connection of the mux, whose reader reads them with
// ReadFromAddrPort as pion's candidates do; the sender stays at most 64
// packets ahead, so nothing is lost.
//
//	go test ./sfu/ -run '^$' -bench BenchmarkUDPMux -benchtime 200000x -count 5
func BenchmarkUDPMux(b *testing.B) {
	for _, impl := range []string{"pion", "parley"} {
		b.Run(impl, func(b *testing.B) {
			sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")})
			if err != nil {
				b.Fatal(err)
			}
			_ = sock.SetReadBuffer(udpSocketBuffer)
			var mux ice.UDPMux
			if impl == "pion" {
				mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: sock})
			} else {
				mux = newUDPMux(sock, slog.New(slog.DiscardHandler), true, 0)
			}
			defer mux.Close()
			pc, err := mux.GetConn("bench", sock.LocalAddr())
			if err != nil {
				b.Fatal(err)
			}
			defer pc.Close()
			conn := pc.(ice.AddrPortReaderWriter)
			client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			if _, err := conn.WriteToAddrPort([]byte("hello"), client.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
				b.Fatal(err)
			}
			if _, _, err := client.ReadFrom(make([]byte, 100)); err != nil {
				b.Fatal(err)
			}
			const window, credit = 64, 16
			credits := make(chan struct{}, b.N/credit+1)
			done := make(chan error, 1)
			go func() {
				buf := make([]byte, 1500)
				for i := 1; i <= b.N; i++ {
					if _, _, err := conn.ReadFromAddrPort(buf); err != nil {
						done <- err
						return
					}
					if i%credit == 0 {
						credits <- struct{}{}
					}
				}
				done <- nil
			}()
			p := mediaPacket(0)
			to := sock.LocalAddr()
			cpu0 := processCPU(b)
			b.ResetTimer()
			for i := range b.N {
				if i >= window && (i-window)%credit == 0 {
					<-credits
				}
				if _, err := client.WriteTo(p, to); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/pkt")
		})
	}
}

// BenchmarkUDPMuxStalledReader measures what a connection whose reader
// has stopped holds (heap-B/pkt: heap in use after GC per packet sent to
// it) in pion's UDPMuxDefault and in Parley's udpMux. Packets to a second
// connection, which is read, pace the sender so the socket loses nothing.
//
//	go test ./sfu/ -run '^$' -bench BenchmarkUDPMuxStalledReader -benchtime 20000x
func BenchmarkUDPMuxStalledReader(b *testing.B) {
	for _, impl := range []string{"pion", "parley"} {
		b.Run(impl, func(b *testing.B) {
			sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")})
			if err != nil {
				b.Fatal(err)
			}
			_ = sock.SetReadBuffer(udpSocketBuffer)
			var mux ice.UDPMux
			if impl == "pion" {
				mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: sock})
			} else {
				mux = newUDPMux(sock, slog.New(slog.DiscardHandler), true, 0)
			}
			defer mux.Close()
			conns := make([]net.PacketConn, 2)
			clients := make([]*net.UDPConn, 2)
			for i := range conns {
				if conns[i], err = mux.GetConn(fmt.Sprint("c", i), sock.LocalAddr()); err != nil {
					b.Fatal(err)
				}
				defer conns[i].Close()
				if clients[i], err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}); err != nil {
					b.Fatal(err)
				}
				defer clients[i].Close()
				if _, err := conns[i].WriteTo([]byte("hello"), clients[i].LocalAddr()); err != nil {
					b.Fatal(err)
				}
				if _, _, err := clients[i].ReadFrom(make([]byte, 100)); err != nil {
					b.Fatal(err)
				}
			}
			stalled, live := clients[0], clients[1]
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.HeapInuse
			p, buf, to := mediaPacket(0), make([]byte, 1500), sock.LocalAddr()
			b.ResetTimer()
			for i := range b.N {
				if _, err := stalled.WriteTo(p, to); err != nil {
					b.Fatal(err)
				}
				if i%16 == 15 {
					if _, err := live.WriteTo(p, to); err != nil {
						b.Fatal(err)
					}
					if _, _, err := conns[1].ReadFrom(buf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			time.Sleep(100 * time.Millisecond) // the last few packets
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(int64(ms.HeapInuse)-int64(before))/float64(b.N), "heap-B/pkt")
		})
	}
}
