package web

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/parley-video/parley/config"
)

// errMisdirected answers a request for a link through a host the
// configuration does not know, when http.public_url is unset.
var errMisdirected = &apiError{http.StatusMisdirectedRequest, "misdirected",
	"this host is not configured for links: set http.public_url"}

// linkHosts are the hosts a link may carry when http.public_url is unset:
// loopback (localhost, 127.0.0.0/8, ::1), the host of http.addr, and the
// hosts of http.allowed_origins. The Host header alone is never believed.
type linkHosts struct{ names map[string]bool }

func newLinkHosts(cfg config.HTTPConfig) linkHosts {
	h := linkHosts{names: map[string]bool{}}
	if host, _, err := net.SplitHostPort(cfg.Addr); err == nil && host != "" {
		if a, err := netip.ParseAddr(host); err != nil || !a.IsUnspecified() {
			h.names[strings.ToLower(host)] = true
		}
	}
	for _, o := range cfg.AllowedOrigins {
		if u, err := url.Parse(o); err == nil && u.Hostname() != "" {
			h.names[strings.ToLower(u.Hostname())] = true
		}
	}
	return h
}

// allows reports whether a Host header value may go into a link.
func (h linkHosts) allows(hostport string) bool {
	if !safeHost(hostport) {
		return false
	}
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		return true
	}
	return h.names[host]
}
