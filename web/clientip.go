package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// AnonymizeIP shortens an IP address so that it no longer identifies a
// device: IPv4 to its /24 network (203.0.113.77 → 203.0.113.0), IPv6 to its
// /48 (2001:db8:1:2::3 → 2001:db8:1::). IPv4-mapped IPv6 addresses count as
// IPv4; zones and ports ("[::1]:80", "10.0.0.1:5000") are dropped. Anything
// else yields "unknown".
func AnonymizeIP(ip string) string {
	ip = strings.TrimSpace(ip)
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		ap, perr := netip.ParseAddrPort(ip)
		if perr != nil {
			return "unknown"
		}
		addr = ap.Addr()
	}
	addr = addr.WithZone("").Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.Addr().String()
}

// proxyTrust knows which peers are reverse proxies whose X-Forwarded-For
// and X-Forwarded-Proto headers are believed.
type proxyTrust struct{ nets []netip.Prefix }

func newProxyTrust(list []string) (proxyTrust, error) {
	var t proxyTrust
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			t.nets = append(t.nets, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return proxyTrust{}, fmt.Errorf("%q is neither an IP address nor a CIDR", s)
		}
		a = a.WithZone("").Unmap()
		t.nets = append(t.nets, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

func (t proxyTrust) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, n := range t.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the address of the TCP peer (invalid if unparsable).
func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.WithZone("").Unmap()
}

// clientIP is the client's address: the peer, or, behind trusted proxies,
// the right-most X-Forwarded-For entry that is not itself a trusted proxy.
func (t proxyTrust) clientIP(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if !t.trusted(peer) && !isRelayed(r) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: stop at the last address we could trust
		}
		client = a.WithZone("").Unmap()
		if !t.trusted(client) {
			break
		}
	}
	return client
}

// anonClient is the anonymised client address of a request, the only form
// in which addresses are logged or used as keys.
func (s *Server) anonClient(r *http.Request) string {
	a := s.trust.clientIP(r)
	if !a.IsValid() {
		return "unknown"
	}
	return AnonymizeIP(a.String())
}
