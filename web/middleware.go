package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// routeOf is the matched route pattern (e.g. /j/:token), never the raw path:
// raw paths carry invite tokens.
func routeOf(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return "(unmatched)"
}

// recovery turns a panic into a JSON 500 without any detail for the
// client; the panic value is logged.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v) // the server's way to abort a response; not ours to catch
		}
		s.fail(c, fmt.Errorf("panic: %v", v))
	}()
	c.Next()
}

// safeHost reports whether a Host header value is safe to echo into a CSP:
// letters, digits and . - : [ ] only.
func safeHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']'
		if !ok {
			return false
		}
	}
	return true
}

// contentSecurityPolicy allows nothing but this origin, plus WebSockets to
// this host (and to the public URL's host).
func (s *Server) contentSecurityPolicy(r *http.Request) string {
	connect := []string{"'self'"}
	ws := func(scheme, host string) {
		if !safeHost(host) {
			return
		}
		o := "ws://" + host
		if scheme == "https" {
			o = "wss://" + host
		}
		for _, have := range connect {
			if have == o {
				return
			}
		}
		connect = append(connect, o)
	}
	ws(s.scheme(r), r.Host)
	if s.origins.public != nil {
		ws(s.origins.public.Scheme, s.origins.public.Host)
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
		"media-src 'self' blob:; connect-src " + strings.Join(connect, " ") + "; font-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// securityHeaders sets the headers of API.md on every response, and
// Cache-Control: no-store unless a handler overrides it (static files).
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", s.contentSecurityPolicy(c.Request))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// HTTPS here, or at a trusted proxy in front (X-Forwarded-Proto from
	// a trusted_proxies address; anyone else's header is ignored).
	if s.cfg.TLS() || s.scheme(c.Request) == "https" {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.Set("Cache-Control", "no-store")
	c.Next()
}

// limitBody caps request bodies at 64 KiB.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	}
	c.Next()
}

// originPolicy decides which Origin headers are acceptable: the request's
// own host, the public URL's origin and the configured extra origins.
type originPolicy struct {
	public  *url.URL        // nil without http.public_url
	allowed map[string]bool // normalised scheme://host[:port]
}

func newOriginPolicy(publicURL string, extra []string) (originPolicy, error) {
	p := originPolicy{allowed: map[string]bool{}}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return originPolicy{}, fmt.Errorf("http.public_url %q is not an absolute http(s) URL", publicURL)
		}
		p.public = u
		p.allowed[normOrigin(u)] = true
	}
	for _, o := range extra {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return originPolicy{}, fmt.Errorf("http.allowed_origins: %q is not an origin", o)
		}
		p.allowed[normOrigin(u)] = true
	}
	return p, nil
}

func normOrigin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// allows reports whether origin (an Origin header value) may act on r.
func (p originPolicy) allows(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" {
		return false // includes "null"
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return p.allowed[normOrigin(u)]
}

// checkOrigin rejects state-changing requests (and WebSocket handshakes)
// from foreign origins with 403 csrf. Without an Origin header, a browser's
// Sec-Fetch-Site still gives cross-site requests away.
func (s *Server) checkOrigin(c *gin.Context) {
	r := c.Request
	stateChanging := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
	if !stateChanging && !strings.HasPrefix(c.FullPath(), "/ws/") {
		c.Next()
		return
	}
	if err := s.crossSite(r); err != nil {
		s.fail(c, err)
		return
	}
	c.Next()
}

// crossSite refuses a request from a foreign origin (Origin header) or,
// without one, that the browser marks cross-site.
func (s *Server) crossSite(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.origins.allows(r, origin) {
			return errCSRF("request from a foreign origin")
		}
	} else if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errCSRF("cross-site request")
	}
	return nil
}
