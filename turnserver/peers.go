package turnserver

import (
	"net"
	"net/netip"
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

// peerPolicy decides which peer addresses a client may relay to: public
// addresses, the server's own announced and bound addresses, and the
// explicitly allowed ranges.
type peerPolicy struct {
	allowed []netip.Prefix
}

func newPeerPolicy(allowed []string, own ...netip.Addr) (peerPolicy, error) {
	var p peerPolicy
	for _, s := range allowed {
		pre, err := parsePrefix(s)
		if err != nil {
			return peerPolicy{}, err
		}
		p.allowed = append(p.allowed, pre)
	}
	for _, a := range own {
		if a.IsValid() && !a.IsUnspecified() {
			a = a.Unmap()
			p.allowed = append(p.allowed, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return p, nil
}

// permits reports whether the relay may send to ip.
func (p peerPolicy) permits(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, pre := range p.allowed {
		if pre.Contains(a) {
			return true
		}
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, pre := range reservedPeers {
		if pre.Contains(a) {
			return false
		}
	}
	return true
}
