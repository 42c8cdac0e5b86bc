package turnserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// reservedPeers are ranges the relay never sends to unless allowed
// explicitly, besides what netip classifies as loopback, private,
// link-local, multicast or unspecified: a TURN relay must not become a way
// into the host's or the data centre's internal services.
var reservedPeers = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("255.255.255.255/32"),
}

// peerPolicy decides which peer addresses a client may relay to. In order:
//
//   - an address:port listed in allowed_peer_addrs: allowed;
//   - the server's own addresses (its public and listen addresses and every
//     address of its network interfaces, loopback included): refused, but for
//     the ports the program allows on them (the SFU's media port);
//   - the explicitly allowed ranges (allowed_peers): allowed;
//   - loopback, private, link-local, multicast and reserved ranges: refused;
//   - everything else (public addresses): allowed.
//
// TURN permissions are per IP address (RFC 8656), so the permission check
// (permitsIP) lets an address in when any port of it may be reached; the
// relay sockets then check every datagram's address and port (permitsAddr).
type peerPolicy struct {
	addrs    map[netip.AddrPort]struct{} // allowed_peer_addrs
	addrIPs  map[netip.Addr]struct{}     // their addresses
	own      map[netip.Addr]struct{}     // the server's own addresses
	ownPorts map[uint16]struct{}         // ports allowed on every own address
	allowed  []netip.Prefix              // allowed_peers
}

func newPeerPolicy(allowed, allowedAddrs []string, ownPorts []int, own ...netip.Addr) (*peerPolicy, error) {
	p := &peerPolicy{
		addrs:    make(map[netip.AddrPort]struct{}),
		addrIPs:  make(map[netip.Addr]struct{}),
		own:      make(map[netip.Addr]struct{}),
		ownPorts: make(map[uint16]struct{}),
	}
	for _, s := range allowed {
		pre, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("turn.allowed_peers: %q: %w", s, err)
		}
		p.allowed = append(p.allowed, pre)
	}
	for _, s := range allowedAddrs {
		ap, err := parseAddrPort(s)
		if err != nil {
			return nil, fmt.Errorf("turn.allowed_peer_addrs: %q: %w", s, err)
		}
		p.addrs[ap] = struct{}{}
		p.addrIPs[ap.Addr()] = struct{}{}
	}
	for _, port := range ownPorts {
		if port > 0 && port <= 65535 {
			p.ownPorts[uint16(port)] = struct{}{}
		}
	}
	for _, a := range own {
		if a.IsValid() && !a.IsUnspecified() {
			p.own[a.WithZone("").Unmap()] = struct{}{}
		}
	}
	return p, nil
}

// localAddrs lists the addresses of this host's network interfaces.
func localAddrs() []netip.Addr {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range ifAddrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// permits reports whether the relay may send to some port of ip (the
// TURN permission check).
func (p *peerPolicy) permits(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	if _, ok := p.addrIPs[a]; ok {
		return true
	}
	if _, ok := p.own[a]; ok {
		return len(p.ownPorts) > 0
	}
	return p.permitsRange(a)
}

// permitsAddr reports whether the relay may exchange datagrams with addr.
func (p *peerPolicy) permitsAddr(addr net.Addr) bool {
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	a, ok := netip.AddrFromSlice(u.IP)
	if !ok || u.Port <= 0 || u.Port > 65535 {
		return false
	}
	a = a.Unmap()
	ap := netip.AddrPortFrom(a, uint16(u.Port))
	if _, ok := p.addrs[ap]; ok {
		return true
	}
	if _, ok := p.own[a]; ok {
		_, ok := p.ownPorts[ap.Port()]
		return ok
	}
	return p.permitsRange(a) // a listed special address: only its listed ports

}

func (p *peerPolicy) inAllowedRange(a netip.Addr) bool {
	for _, pre := range p.allowed {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// permitsRange applies allowed_peers and the special ranges.
func (p *peerPolicy) permitsRange(a netip.Addr) bool {
	return p.inAllowedRange(a) || !reserved(a)
}

// reserved reports whether a is loopback, private, link-local, multicast,
// unspecified or in reservedPeers (coturn's recommended denied-peer-ip).
func reserved(a netip.Addr) bool {
	if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return true
	}
	for _, pre := range reservedPeers {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddrPort parses "IPv4:port" or "[IPv6]:port".
func parseAddrPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil {
		return netip.AddrPort{}, err
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, errors.New("port 0")
	}
	return netip.AddrPortFrom(ap.Addr().WithZone("").Unmap(), ap.Port()), nil
}
