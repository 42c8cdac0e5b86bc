package web

import (
	"context"
	"log"
	"log/slog"
	"regexp"
	"strings"
)

// ErrorLog is the http.Server.ErrorLog of Parley's servers: net/http's own
// complaints ("TLS handshake error from 203.0.113.77:50123: EOF") go to
// the slog logger with every IP address anonymised like AnonymizeIP.
// Handshake errors are the clients' doing (scanners, old browsers) and
// are logged at info, the rest at warn.
func ErrorLog(l *slog.Logger) *log.Logger {
	return log.New(errorLogWriter{l}, "", 0)
}

type errorLogWriter struct{ log *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := anonymizeAddrs(strings.TrimRight(string(p), "\n"))
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, "http server", "detail", msg)
	return len(p), nil
}

// ipv4InText finds IPv4 addresses (with an optional port) inside text.
var ipv4InText = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d{1,5})?\b`)

// anonymizeAddrs replaces every IP address in s (IPv4 anywhere; IPv6 as
// a word of its own, bare or "[addr]:port") by its anonymised network.
func anonymizeAddrs(s string) string {
	s = ipv4InText.ReplaceAllStringFunc(s, func(m string) string {
		if a := AnonymizeIP(m); a != "unknown" {
			return a
		}
		return m
	})
	words := strings.Fields(s)
	changed := false
	for i, w := range words {
		core := strings.TrimRight(strings.TrimLeft(w, "(\"'<"), ")\"'>,;:.")
		if !strings.Contains(core, ":") {
			continue
		}
		a := AnonymizeIP(core)
		if a == "unknown" {
			a = AnonymizeIP(strings.Trim(core, "[]"))
		}
		if a == "unknown" {
			continue
		}
		words[i] = strings.Replace(w, core, a, 1)
		changed = true
	}
	if !changed {
		return s
	}
	return strings.Join(words, " ")
}
