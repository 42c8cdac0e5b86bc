// Package logscan finds personal data in log output, for tests that run a
// server and check its whole log at the end: full IP addresses (an IPv4
// address whose last octet is not 0, an IPv6 address with bits set past
// its /48) and given secrets such as the passwords the test used.
// Anonymised addresses (203.0.113.0, 2001:db8:1::) pass.
package logscan

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
)

// Scanner collects log output (it is an io.Writer) and reports the lines
// that carry personal data.
type Scanner struct {
	mu      sync.Mutex
	buf     strings.Builder
	secrets []string
	own     []string
}

// New returns a scanner that also looks for secrets (passwords, tokens).
func New(secrets ...string) *Scanner { return &Scanner{secrets: secrets} }

// AllowOwn names the server's own addresses ("127.0.0.1:8080"): they may
// appear in log lines (the listen address at start-up), exactly so, with
// their port.
func (s *Scanner) AllowOwn(addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addrs {
		if a != "" {
			s.own = append(s.own, a)
		}
	}
}

func (s *Scanner) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	return len(p), nil
}

// String is everything written so far.
func (s *Scanner) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Findings names each log line that carries a full IP address or a secret.
func (s *Scanner) Findings() []string {
	s.mu.Lock()
	text, secrets, own := s.buf.String(), s.secrets, s.own
	s.mu.Unlock()
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(line, sec) {
				out = append(out, fmt.Sprintf("a secret in a log line: %s", strings.ReplaceAll(line, sec, "<secret>")))
			}
		}
		scrubbed := line
		for _, a := range own {
			scrubbed = strings.ReplaceAll(scrubbed, a, "")
		}
		for _, ip := range FullIPs(scrubbed) {
			out = append(out, fmt.Sprintf("full IP address %s in a log line: %s", ip, line))
		}
	}
	return out
}

// TB is the part of testing.TB that Check uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Check fails t for each finding.
func (s *Scanner) Check(t TB) {
	t.Helper()
	for _, f := range s.Findings() {
		t.Errorf("%s", f)
	}
}

var (
	ipv4Pattern = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	// Candidate IPv6 addresses: hex groups with at least two colons.
	ipv6Pattern = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[0-9A-Za-z]+)?`)
)

// FullIPs returns the IP addresses in line that are not anonymised.
func FullIPs(line string) []string {
	var out []string
	for _, m := range ipv4Pattern.FindAllString(line, -1) {
		a, err := netip.ParseAddr(m)
		if err == nil && a.Is4() && a.As4()[3] != 0 {
			out = append(out, m)
		}
	}
	for _, loc := range ipv6Pattern.FindAllStringIndex(line, -1) {
		if loc[1] < len(line) && line[loc[1]] == '.' {
			continue // ::ffff:192.0.2.10, found above
		}
		m := line[loc[0]:loc[1]]
		a, err := netip.ParseAddr(m)
		if err != nil || !a.Is6() || a.Is4In6() {
			continue // a time (12:30:00), or IPv4 in disguise (found above)
		}
		p, _ := a.WithZone("").Prefix(48)
		if p.Addr() != a.WithZone("") {
			out = append(out, m)
		}
	}
	return out
}
