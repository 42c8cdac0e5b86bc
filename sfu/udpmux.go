// This file is a fork of pion/ice's UDPMuxDefault: github.com/pion/ice/v4
// v4.4.8, files udp_mux.go, udp_muxed_conn.go and shared_packet_conn.go,
// with the interface enumeration of net.go and the address helpers of
// addr.go. What changed is listed at udpMux below. pion/ice's licence:
//
//	MIT License
//
//	Copyright (c) 2026 The Pion community <https://pion.ly>
//
//	Permission is hereby granted, free of charge, to any person obtaining a
//	copy of this software and associated documentation files (the
//	"Software"), to deal in the Software without restriction, including
//	without limitation the rights to use, copy, modify, merge, publish,
//	distribute, sublicense, and/or sell copies of the Software, and to permit
//	persons to whom the Software is furnished to do so, subject to the
//	following conditions:
//
//	The above copyright notice and this permission notice shall be included
//	in all copies or substantial portions of the Software.
//
//	THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
//	OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
//	MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
//	NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
//	DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
//	OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
//	USE OR OTHER DEALINGS IN THE SOFTWARE.

package sfu

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v3"
)

// udpMuxQueue is the most packets one ICE connection of the shared UDP
// socket holds for its reader (the ICE agent's candidate goroutine); when
// it is full, the newest packet is dropped and counted (udpMux.Dropped).
//
// The reader only copies each packet on into the agent's own bounded
// buffer, so the queue fills only when that goroutine does not get a CPU,
// i.e. past the node's capacity; then older packets are worth less than a
// bounded memory. 256 packets hold 2.5 s of a 1 Mbit/s publisher (about
// 100 packets a second of 1,200 bytes), 0.5 s at 5 Mbit/s, and two
// keyframes of a 1080p stream (about 125 packets each): a stall shorter
// than that loses nothing. At most 256 × 1,500 bytes (about 380 KiB) are
// held per connection, against the unbounded list of pion's mux.
const udpMuxQueue = 256

const (
	// udpMuxInitialQueue is the ring a connection starts with; it doubles
	// when full, up to the mux's queue length.
	udpMuxInitialQueue = 16
	// udpMuxReadSize is the read buffer of the socket (pion's receiveMTU):
	// a longer datagram is truncated, as with pion.
	udpMuxReadSize = 8192
	// udpMuxBufSize is the size of the pooled buffers queued packets are
	// copied into: an Ethernet MTU. A longer packet gets its own buffer.
	udpMuxBufSize = 1500
)

// errUDPMuxAddress is GetConn's answer for an address the mux does not
// listen on.
var errUDPMuxAddress = errors.New("sfu: udp mux: not a listen address")

// udpMux is Parley's ice.UDPMux: every ICE connection of the node shares
// one UDP socket. Like pion's UDPMuxDefault, one goroutine reads the socket
// and hands each datagram to the connection it belongs to: the one that
// last sent to its source address or, for a STUN message from an unknown
// address, the one whose local ufrag is the first part of its USERNAME
// (IPv4 and IPv6 connections are apart).
//
// Changed from pion's:
//   - each connection's receive queue is a ring of at most udpMuxQueue
//     packets instead of an unbounded list; the newest packet is dropped
//     when it is full (Dropped counts them);
//   - queued packets live in pooled MTU-sized buffers, not 8 KiB ones;
//   - RemoveConnByUfrag closes the connections (their readers get io.EOF;
//     pion's agent closes them right after anyway), and a closed
//     connection leaves the tables at once, without a goroutine each;
//   - GetListenAddresses leaves out loopback addresses unless
//     includeLoopback (pion's agent does that itself, but only for
//     *ice.UDPMuxDefault);
//   - only *net.UDPConn sockets; no context-aware writes with their abort
//     watchdog (a UDP write does not block for long), no unhandled-packet
//     hook, no multi- and universal-mux wrappers: Parley uses none of them.
//
// The connections GetConn hands out implement ReadFromAddrPort and
// WriteToAddrPort (ice.AddrPortReaderWriter), which pion's candidates use
// instead of ReadFrom and WriteTo when present.
type udpMux struct {
	sock            *net.UDPConn
	local           net.Addr
	localStr        string
	unspecified     bool // listening on 0.0.0.0 or [::]
	includeLoopback bool
	log             *slog.Logger
	queueLen        int
	bufs            sync.Pool // of *[]byte, udpMuxBufSize

	mu     sync.RWMutex
	conns4 map[string]*udpMuxConn // by local ufrag
	conns6 map[string]*udpMuxConn
	byAddr map[netip.AddrPort]*udpMuxConn // canonical remote address
	closed bool

	closing   chan struct{} // closed by shutdown
	done      chan struct{} // closed when the read loop has ended
	closeOnce sync.Once
	dropped   atomic.Uint64

	arrivals atomic.Pointer[arrivals] // notes when published streams' packets came (arrival.go)
}

var _ ice.UDPMux = (*udpMux)(nil)

// newUDPMux starts a mux reading sock, which it owns from now on (Close
// closes it). queueLen is the receive queue of each connection, packets
// (udpMuxQueue when 0).
func newUDPMux(sock *net.UDPConn, log *slog.Logger, includeLoopback bool, queueLen int) *udpMux {
	if queueLen <= 0 {
		queueLen = udpMuxQueue
	}
	local := sock.LocalAddr()
	m := &udpMux{
		sock:            sock,
		local:           local,
		localStr:        local.String(),
		includeLoopback: includeLoopback,
		log:             log,
		queueLen:        queueLen,
		conns4:          make(map[string]*udpMuxConn),
		conns6:          make(map[string]*udpMuxConn),
		byAddr:          make(map[netip.AddrPort]*udpMuxConn),
		closing:         make(chan struct{}),
		done:            make(chan struct{}),
	}
	m.bufs.New = func() any { b := make([]byte, udpMuxBufSize); return &b }
	if ua, ok := local.(*net.UDPAddr); ok && ua.IP.IsUnspecified() {
		m.unspecified = true
	}
	go m.readLoop()
	return m
}

// Dropped is the number of packets dropped so far because the
// connection they belonged to had a full receive queue.
func (m *udpMux) Dropped() uint64 { return m.dropped.Load() }

// GetListenAddresses implements ice.UDPMux: the socket's address or, when
// it listens on every address, the addresses of the interfaces that are
// up (IPv4 only for a 0.0.0.0 socket), with its port. Loopback addresses
// are left out unless includeLoopback.
func (m *udpMux) GetListenAddresses() []net.Addr {
	ua, ok := m.local.(*net.UDPAddr)
	if !ok {
		return []net.Addr{m.local}
	}
	if !m.unspecified {
		if ua.IP.IsLoopback() && !m.includeLoopback {
			return nil
		}
		return []net.Addr{m.local}
	}
	v4only := ua.IP.To4() != nil
	ifaces, err := net.Interfaces()
	if err != nil {
		m.log.Warn("sfu: udp mux: list interfaces", "err", err)
		return []net.Addr{m.local}
	}
	var out []net.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || (ifc.Flags&net.FlagLoopback != 0 && !m.includeLoopback) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			var ip net.IP
			switch a := a.(type) {
			case *net.IPNet:
				ip = a.IP
			case *net.IPAddr:
				ip = a.IP
			default:
				continue
			}
			addr, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			addr = addr.Unmap()
			if addr.IsLoopback() && !m.includeLoopback {
				continue
			}
			if addr.Is6() && (v4only || !supportedIPv6(addr)) {
				continue
			}
			zone := ""
			if addr.Is6() && (addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast()) {
				zone = ifc.Name
			}
			out = append(out, &net.UDPAddr{IP: addr.AsSlice(), Port: ua.Port, Zone: zone})
		}
	}
	return out
}

// supportedIPv6 leaves out the IPv6 addresses RFC 8445 section 5.1.1.1
// excludes from candidates: IPv4-compatible (::/96, which includes ::1)
// and site-local (fec0::/10).
func supportedIPv6(a netip.Addr) bool {
	b := a.As16()
	zeros := true
	for _, x := range b[:12] {
		if x != 0 {
			zeros = false
			break
		}
	}
	return !zeros && !(b[0] == 0xfe && b[1]&0xc0 == 0xc0)
}

// GetConn implements ice.UDPMux: the connection of local ufrag for the
// address family of addr, created if needed. Each call returns its own
// handle; the connection closes when every handle is closed (or at
// RemoveConnByUfrag or Close).
func (m *udpMux) GetConn(ufrag string, addr net.Addr) (net.PacketConn, error) {
	if !m.unspecified && addr.String() != m.localStr {
		return nil, errUDPMuxAddress
	}
	ipv6 := false
	if ua, ok := addr.(*net.UDPAddr); ok && ua.IP.To4() == nil {
		ipv6 = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, io.ErrClosedPipe
	}
	conns := m.conns4
	if ipv6 {
		conns = m.conns6
	}
	c := conns[ufrag]
	if c == nil || !c.ref() {
		c = &udpMuxConn{
			mux:      m,
			ufrag:    ufrag,
			ipv6:     ipv6,
			queue:    make([]queuedPacket, min(udpMuxInitialQueue, m.queueLen)),
			notify:   make(chan struct{}, 1),
			closedCh: make(chan struct{}),
			refs:     1,
		}
		conns[ufrag] = c
	}
	return &udpMuxHandle{c: c, done: make(chan struct{})}, nil
}

// RemoveConnByUfrag implements ice.UDPMux: it closes the connections of
// ufrag (both address families); their readers get io.EOF.
func (m *udpMux) RemoveConnByUfrag(ufrag string) {
	m.mu.Lock()
	c4, c6 := m.conns4[ufrag], m.conns6[ufrag]
	delete(m.conns4, ufrag)
	delete(m.conns6, ufrag)
	m.mu.Unlock()
	if c4 != nil {
		c4.close()
	}
	if c6 != nil {
		c6.close()
	}
}

// Close implements ice.UDPMux: it closes every connection (their readers
// get io.EOF) and the socket, and waits for the read loop to end.
func (m *udpMux) Close() error {
	err := m.shutdown()
	<-m.done
	return err
}

func (m *udpMux) shutdown() error {
	var err error
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		conns := make([]*udpMuxConn, 0, len(m.conns4)+len(m.conns6))
		for _, c := range m.conns4 {
			conns = append(conns, c)
		}
		for _, c := range m.conns6 {
			conns = append(conns, c)
		}
		clear(m.conns4)
		clear(m.conns6)
		m.mu.Unlock()
		for _, c := range conns {
			c.close()
		}
		close(m.closing)
		err = m.sock.Close()
	})
	return err
}

func (m *udpMux) isClosing() bool {
	select {
	case <-m.closing:
		return true
	default:
		return false
	}
}

// readLoop reads the socket until it is closed and queues each datagram
// on its connection.
func (m *udpMux) readLoop() {
	defer close(m.done)
	defer func() { _ = m.shutdown() }()
	buf := make([]byte, udpMuxReadSize)
	for {
		n, from, err := m.sock.ReadFromUDPAddrPort(buf)
		if m.isClosing() {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("sfu: udp mux: read", "err", err)
			return
		}
		key := canonicalAddrPort(from)
		m.mu.RLock()
		c := m.byAddr[key]
		m.mu.RUnlock()
		if c == nil && stun.IsMessage(buf[:n]) {
			c = m.connForSTUN(buf[:n], key.Addr().Is6())
		}
		if c == nil {
			continue // not for any connection: dropped, as by pion
		}
		if a := m.arrivals.Load(); a != nil {
			a.noteDatagram(buf[:n], time.Now().UnixNano())
		}
		if !c.push(buf[:n], from) {
			m.dropped.Add(1)
		}
	}
}

// connForSTUN is the connection whose local ufrag opens the USERNAME of
// STUN message p, or nil.
func (m *udpMux) connForSTUN(p []byte, ipv6 bool) *udpMuxConn {
	msg := &stun.Message{Raw: slices.Clone(p)}
	if err := msg.Decode(); err != nil {
		m.log.Debug("sfu: udp mux: undecodable STUN message", "err", err)
		return nil
	}
	user, err := msg.Get(stun.AttrUsername)
	if err != nil {
		m.log.Debug("sfu: udp mux: STUN message without USERNAME")
		return nil
	}
	ufrag, _, _ := strings.Cut(string(user), ":")
	m.mu.RLock()
	defer m.mu.RUnlock()
	if ipv6 {
		return m.conns6[ufrag]
	}
	return m.conns4[ufrag]
}

// learn routes datagrams from remote address addr (canonical) to c from
// now on, taking the address from a connection that had it before.
func (m *udpMux) learn(c *udpMuxConn, addr netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || c.isClosed() {
		return
	}
	if old := m.byAddr[addr]; old != nil && old != c {
		old.addrMu.Lock()
		old.addrs = slices.DeleteFunc(old.addrs, func(a netip.AddrPort) bool { return a == addr })
		old.addrMu.Unlock()
	}
	m.byAddr[addr] = c
	c.addrMu.Lock()
	if !slices.Contains(c.addrs, addr) {
		c.addrs = append(c.addrs, addr)
	}
	c.addrMu.Unlock()
}

// forget removes closed connection c from the tables.
func (m *udpMux) forget(c *udpMuxConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	conns := m.conns4
	if c.ipv6 {
		conns = m.conns6
	}
	if conns[c.ufrag] == c {
		delete(conns, c.ufrag)
	}
	c.addrMu.Lock()
	for _, a := range c.addrs {
		if m.byAddr[a] == c {
			delete(m.byAddr, a)
		}
	}
	c.addrs = nil
	c.addrMu.Unlock()
}

// canonicalAddrPort is the form of a remote address used as a key:
// IPv4-mapped IPv6 unmapped, zone kept only for link-local IPv6 (pion's
// canonicalAddrPort).
func canonicalAddrPort(ap netip.AddrPort) netip.AddrPort {
	a := ap.Addr().Unmap()
	if !(a.Is6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast())) {
		a = a.WithZone("")
	}
	return netip.AddrPortFrom(a, ap.Port())
}

// queuedPacket is a datagram waiting for its connection's reader.
type queuedPacket struct {
	buf  *[]byte // pooled when cap is udpMuxBufSize
	n    int
	from netip.AddrPort
}

// udpMuxConn is the connection of one local ufrag and address family.
type udpMuxConn struct {
	mux   *udpMux
	ufrag string
	ipv6  bool

	mu      sync.Mutex
	queue   []queuedPacket // ring
	head, n int
	waiting int // readers waiting for notify
	refs    int // open handles
	closed  bool

	notify   chan struct{} // a packet was queued while readers waited
	closedCh chan struct{}

	addrMu sync.RWMutex
	addrs  []netip.AddrPort // remote addresses routed here (canonical)
}

// ref counts a new handle; false when c is closed already.
func (c *udpMuxConn) ref() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.refs++
	return true
}

// unref closes c when its last handle goes.
func (c *udpMuxConn) unref() {
	c.mu.Lock()
	c.refs--
	last := c.refs <= 0
	c.mu.Unlock()
	if last {
		c.close()
	}
}

func (c *udpMuxConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// close drops what is queued, ends the readers (io.EOF) and removes c
// from the mux's tables.
func (c *udpMuxConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for c.n > 0 {
		c.mux.putBuf(c.queue[c.head].buf)
		c.queue[c.head] = queuedPacket{}
		c.head = (c.head + 1) % len(c.queue)
		c.n--
	}
	close(c.closedCh)
	c.mu.Unlock()
	c.mux.forget(c)
}

// push queues a copy of p from remote address from; false when the queue
// was full and p was dropped.
func (c *udpMuxConn) push(p []byte, from netip.AddrPort) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return true // not a drop for want of space
	}
	if c.n == len(c.queue) {
		if len(c.queue) >= c.mux.queueLen {
			c.mu.Unlock()
			return false
		}
		c.grow()
	}
	buf := c.mux.getBuf(len(p))
	copy(*buf, p)
	c.queue[(c.head+c.n)%len(c.queue)] = queuedPacket{buf: buf, n: len(p), from: from}
	c.n++
	wake := c.waiting > 0
	c.mu.Unlock()
	if wake {
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
	return true
}

// grow doubles the ring (up to the mux's queueLen), which is full; c.mu
// is held. Rings start small: most connections never hold more than a
// few packets.
func (c *udpMuxConn) grow() {
	q := make([]queuedPacket, min(2*len(c.queue), c.mux.queueLen))
	k := copy(q, c.queue[c.head:])
	copy(q[k:], c.queue[:c.head])
	c.queue, c.head = q, 0
}

// read takes the oldest queued packet into b, waiting for one until c
// closes (io.EOF), done closes (net.ErrClosed) or deadline passes
// (os.ErrDeadlineExceeded; zero: no deadline). A packet longer than b is
// dropped with io.ErrShortBuffer.
func (c *udpMuxConn) read(b []byte, done <-chan struct{}, deadline time.Time) (int, netip.AddrPort, error) {
	var expired <-chan time.Time
	for {
		select {
		case <-done:
			return 0, netip.AddrPort{}, net.ErrClosed
		default:
		}
		c.mu.Lock()
		if c.n > 0 {
			p := c.queue[c.head]
			c.queue[c.head] = queuedPacket{}
			c.head = (c.head + 1) % len(c.queue)
			c.n--
			c.mu.Unlock()
			var err error
			n := 0
			if len(b) < p.n {
				err = io.ErrShortBuffer
			} else {
				n = copy(b, (*p.buf)[:p.n])
			}
			c.mux.putBuf(p.buf)
			return n, p.from, err
		}
		if c.closed {
			c.mu.Unlock()
			return 0, netip.AddrPort{}, io.EOF
		}
		if expired == nil && !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				c.mu.Unlock()
				return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			expired = t.C
		}
		c.waiting++
		c.mu.Unlock()
		var err error
		select {
		case <-c.notify:
		case <-c.closedCh:
		case <-done:
			err = net.ErrClosed
		case <-expired:
			err = os.ErrDeadlineExceeded
		}
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
	}
}

// write sends b to remote address to, which is routed to c from now on.
func (c *udpMuxConn) write(b []byte, to netip.AddrPort) (int, error) {
	if !to.IsValid() {
		return 0, errUDPMuxAddress
	}
	select {
	case <-c.closedCh: // lock-free, unlike c.mu: this is on every write
		return 0, io.ErrClosedPipe
	default:
	}
	key := canonicalAddrPort(to)
	c.addrMu.RLock()
	known := slices.Contains(c.addrs, key)
	c.addrMu.RUnlock()
	if !known {
		c.mux.learn(c, key)
	}
	return c.mux.sock.WriteToUDPAddrPort(b, to)
}

func (m *udpMux) getBuf(n int) *[]byte {
	if n > udpMuxBufSize {
		b := make([]byte, n)
		return &b
	}
	b := m.bufs.Get().(*[]byte)
	return b
}

func (m *udpMux) putBuf(b *[]byte) {
	if b != nil && cap(*b) == udpMuxBufSize {
		*b = (*b)[:udpMuxBufSize]
		m.bufs.Put(b)
	}
}

// udpMuxHandle is what GetConn returns: a net.PacketConn on a shared
// udpMuxConn (pion's sharedPacketConn; pion's agent may ask for the same
// ufrag once per listen address). Closing it ends its own reads
// (net.ErrClosed) and releases its reference.
type udpMuxHandle struct {
	c            *udpMuxConn
	done         chan struct{}
	once         sync.Once
	readDeadline atomic.Int64 // UnixNano, 0: none
}

var (
	_ net.PacketConn           = (*udpMuxHandle)(nil)
	_ ice.AddrPortReaderWriter = (*udpMuxHandle)(nil)
)

func (h *udpMuxHandle) deadline() time.Time {
	if d := h.readDeadline.Load(); d != 0 {
		return time.Unix(0, d)
	}
	return time.Time{}
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (h *udpMuxHandle) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return h.c.read(b, h.done, h.deadline())
}

// ReadFrom implements net.PacketConn.
func (h *udpMuxHandle) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := h.c.read(b, h.done, h.deadline())
	if !from.IsValid() {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), err
}

// WriteToAddrPort implements ice.AddrPortReaderWriter.
func (h *udpMuxHandle) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if h.isClosed() {
		return 0, io.ErrClosedPipe
	}
	return h.c.write(b, to)
}

// WriteTo implements net.PacketConn; to must be a *net.UDPAddr.
func (h *udpMuxHandle) WriteTo(b []byte, to net.Addr) (int, error) {
	if h.isClosed() {
		return 0, io.ErrClosedPipe
	}
	ua, ok := to.(*net.UDPAddr)
	if !ok {
		return 0, errUDPMuxAddress
	}
	return h.c.write(b, ua.AddrPort())
}

// LocalAddr implements net.PacketConn: the socket's address.
func (h *udpMuxHandle) LocalAddr() net.Addr { return h.c.mux.local }

// SetDeadline implements net.PacketConn (read deadline only, as pion's).
func (h *udpMuxHandle) SetDeadline(t time.Time) error { return h.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn. It applies to reads that
// start after it (as pion's); Close ends reads in progress.
func (h *udpMuxHandle) SetReadDeadline(t time.Time) error {
	if h.isClosed() {
		return io.ErrClosedPipe
	}
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	h.readDeadline.Store(ns)
	return nil
}

// SetWriteDeadline implements net.PacketConn; UDP writes are not delayed
// by the peer, so it does nothing (as pion's).
func (h *udpMuxHandle) SetWriteDeadline(time.Time) error { return nil }

func (h *udpMuxHandle) isClosed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// Close implements net.PacketConn.
func (h *udpMuxHandle) Close() error {
	h.once.Do(func() {
		close(h.done)
		h.c.unref()
	})
	return nil
}
