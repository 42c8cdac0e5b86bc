package turnserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"

	"github.com/pion/logging"
)

// anonymizeIP shortens an address so it no longer identifies a device:
// IPv4 to its /24 (203.0.113.77 → 203.0.113.0), IPv6 to its /48; ports and
// zones are dropped. Anything unparsable yields "unknown". (Same rule as
// the web package's access log.)
func anonymizeIP(s string) string {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return "unknown"
		}
		a = ap.Addr()
	}
	a = a.WithZone("").Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.Addr().String()
}

// anonAddr is anonymizeIP for a net.Addr (nil: "unknown").
func anonAddr(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	return anonymizeIP(a.String())
}

var (
	// bracketRE matches bracketed IPv6 addresses with an optional port.
	bracketRE = regexp.MustCompile(`\[[0-9A-Fa-f:.%]+\](?::\d{1,5})?`)
	// ipv6RE matches runs that may be IPv6 addresses (two or more colons);
	// each match is checked with netip before it is replaced.
	ipv6RE = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[0-9A-Za-z]+)?(?:\.\d{1,3}){0,3}`)
	// ipv4RE matches dotted quads with an optional port.
	ipv4RE = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b`)
	// restUserRE matches TURN REST usernames: a unix time, the separator
	// and the participant, up to the next space, quote or bracket.
	restUserRE = regexp.MustCompile(`\b\d{9,}:[^\s"'\]]+`)
	// noUserRE matches pion's refusal of an unknown username, whatever its
	// form ("no such user exists alice").
	noUserRE = regexp.MustCompile(`(no such user exists) .*`)
)

// scrub removes what must never reach a log line from pion's messages:
// TURN REST usernames become "[user]", IP addresses are anonymised and
// their ports dropped (so "from 203.0.113.77:5000" reads "from 203.0.113.0").
func scrub(msg string) string {
	msg = noUserRE.ReplaceAllString(msg, "$1 [user]")
	msg = restUserRE.ReplaceAllString(msg, "[user]")
	msg = bracketRE.ReplaceAllStringFunc(msg, func(m string) string {
		if a := anonymizeIP(m); a != "unknown" {
			return a
		}
		return m
	})
	msg = ipv6RE.ReplaceAllStringFunc(msg, func(m string) string {
		a, err := netip.ParseAddr(m)
		if err != nil || !a.Is6() {
			return m
		}
		return anonymizeIP(m)
	})
	return ipv4RE.ReplaceAllStringFunc(msg, func(m string) string {
		if a := anonymizeIP(m); a != "unknown" {
			return a
		}
		return m
	})
}

// pionLoggers routes pion's leveled logging into slog at debug level
// (pion's own level is kept as the attribute "pion_level"), scrubbed.
type pionLoggers struct{ log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f pionLoggers) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) emit(level, msg string) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.log.Debug(scrub(strings.TrimSpace(msg)), "pion_level", level)
}

func (l pionLogger) Trace(msg string)                  { l.emit("trace", msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.emitf("trace", format, args...) }
func (l pionLogger) Debug(msg string)                  { l.emit("debug", msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.emitf("debug", format, args...) }
func (l pionLogger) Info(msg string)                   { l.emit("info", msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.emitf("info", format, args...) }
func (l pionLogger) Warn(msg string)                   { l.emit("warn", msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.emitf("warn", format, args...) }
func (l pionLogger) Error(msg string)                  { l.emit("error", msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.emitf("error", format, args...) }

func (l pionLogger) emitf(level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return // skip formatting: pion logs every packet at debug
	}
	l.emit(level, fmt.Sprintf(format, args...))
}
