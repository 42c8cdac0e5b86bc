package turnserver

import (
	"net"
	"sync"

	"github.com/pion/turn/v4"
)

// relayGenerator wraps pion's relay address generator: every relay socket
// it hands out checks each datagram's peer address and port against the
// peer policy, and is registered so that Server can close the relays of
// credentials that are no longer valid.
type relayGenerator struct {
	turn.RelayAddressGenerator
	s *Server
}

// AllocatePacketConn implements turn.RelayAddressGenerator.
func (g relayGenerator) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGenerator.AllocatePacketConn(network, requestedPort)
	if err != nil {
		return nil, nil, err
	}
	rc := &relayConn{PacketConn: conn, s: g.s, key: addr.String()}
	g.s.relays.add(rc)
	return rc, addr, nil
}

// relayConn is one allocation's relay socket, filtered by the peer policy.
type relayConn struct {
	net.PacketConn
	s    *Server
	key  string // the relayed address, as pion reports it
	once sync.Once

	mu       sync.Mutex
	username string // set when pion reports the allocation
}

// WriteTo drops datagrams to peers the policy refuses (pion grants
// permissions per IP; the port is checked here).
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.s.peers.Load().permitsAddr(addr) {
		c.s.metrics.peerDenied.Inc()
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// ReadFrom drops datagrams from peers the policy refuses.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.s.peers.Load().permitsAddr(addr) {
			return n, addr, err
		}
		c.s.metrics.peerDenied.Inc()
	}
}

// Close closes the socket (pion then deletes the allocation) and forgets it.
func (c *relayConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.s.relays.remove(c)
		err = c.PacketConn.Close()
	})
	return err
}

func (c *relayConn) user() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.username
}

// relaySet is the open relay sockets by relayed address.
type relaySet struct {
	mu    sync.Mutex
	conns map[string]*relayConn
}

func (r *relaySet) add(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = make(map[string]*relayConn)
	}
	r.conns[c.key] = c
}

func (r *relaySet) remove(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns[c.key] == c {
		delete(r.conns, c.key)
	}
}

// setUser records whose allocation the relay at key serves.
func (r *relaySet) setUser(key, username string) {
	r.mu.Lock()
	c := r.conns[key]
	r.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.username = username
		c.mu.Unlock()
	}
}

// snapshot lists the open relays.
func (r *relaySet) snapshot() []*relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*relayConn, 0, len(r.conns))
	for _, c := range r.conns {
		out = append(out, c)
	}
	return out
}
