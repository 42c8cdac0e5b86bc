package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"

	"github.com/pion/logging"
)

// pionLoggerFactory routes pion's logging into a *slog.Logger. Pion's trace,
// debug, info and warn levels map to slog's debug level (pion warns about
// routine events of every connection: failed pings, closed streams); its
// errors map to slog's warn level. Every record carries the pion scope
// ("ice", "pc", …), and IP addresses in pion's messages are anonymised
// (IPv4 to /24, IPv6 to /48) before anything is logged: they are the
// customers' addresses.
type pionLoggerFactory struct {
	log     *slog.Logger
	demoted bool // log every level at debug (for scratch connections)
}

var _ logging.LoggerFactory = (*pionLoggerFactory)(nil)

func newPionLoggerFactory(log *slog.Logger) *pionLoggerFactory {
	return &pionLoggerFactory{log: log}
}

// NewLogger implements logging.LoggerFactory.
func (f *pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return &pionLogger{log: f.log.With("pion", scope), demoted: f.demoted}
}

// demote returns a factory whose loggers log everything at debug level:
// for connections whose warnings are expected noise.
func (f *pionLoggerFactory) demote() *pionLoggerFactory {
	return &pionLoggerFactory{log: f.log, demoted: true}
}

// pionLogger implements logging.LeveledLogger. Formatting only happens when
// the level is enabled, so pion's chatty trace logging costs little.
type pionLogger struct {
	log     *slog.Logger
	demoted bool
}

func (l *pionLogger) emit(level slog.Level, msg string) {
	if l.demoted {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, scrubIPs(msg))
	}
}

func (l *pionLogger) emitf(level slog.Level, format string, args ...any) {
	if l.demoted {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, scrubIPs(fmt.Sprintf(format, args...)))
	}
}

// ipLike matches candidate IPv4 and IPv6 literals; scrubIPs checks each.
var ipLike = regexp.MustCompile(`[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}`)

// scrubIPs replaces every IP address in s by its anonymised network.
func scrubIPs(s string) string {
	return ipLike.ReplaceAllStringFunc(s, func(m string) string {
		a, err := netip.ParseAddr(m)
		if err != nil {
			return m
		}
		bits := 24
		if a.Is6() && !a.Is4In6() {
			bits = 48
		}
		p, err := a.Prefix(bits)
		if err != nil {
			return m
		}
		return p.Addr().String()
	})
}

func (l *pionLogger) Trace(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l *pionLogger) Tracef(format string, args ...any) { l.emitf(slog.LevelDebug, format, args...) }
func (l *pionLogger) Debug(msg string)                  { l.emit(slog.LevelDebug, msg) }
func (l *pionLogger) Debugf(format string, args ...any) { l.emitf(slog.LevelDebug, format, args...) }
func (l *pionLogger) Info(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l *pionLogger) Infof(format string, args ...any)  { l.emitf(slog.LevelDebug, format, args...) }
func (l *pionLogger) Warn(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l *pionLogger) Warnf(format string, args ...any)  { l.emitf(slog.LevelDebug, format, args...) }
func (l *pionLogger) Error(msg string)                  { l.emit(slog.LevelWarn, msg) }
func (l *pionLogger) Errorf(format string, args ...any) { l.emitf(slog.LevelWarn, format, args...) }
