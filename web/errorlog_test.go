package web

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/parley-video/parley/logscan"
)

func TestErrorLogAnonymizesAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"http: TLS handshake error from 203.0.113.77:50123: EOF":                  "http: TLS handshake error from 203.0.113.0: EOF",
		"http: TLS handshake error from [2001:db8:1:2::3]:443: remote error":      "http: TLS handshake error from 2001:db8:1::: remote error",
		"http2: server: error reading preface from client [::1]:5000: bogus":      "http2: server: error reading preface from client ::: bogus",
		"http: panic serving 198.51.100.23:9: boom":                               "http: panic serving 198.51.100.0: boom",
		"http: Accept error: accept tcp [::]:8080: too many open files; retrying": "http: Accept error: accept tcp ::: too many open files; retrying",
		"mapped [::ffff:192.0.2.10]:80 gone":                                      "mapped 192.0.2.0 gone",
	} {
		if got := anonymizeAddrs(in); got != want {
			t.Errorf("anonymizeAddrs(%q)\n = %q\nwant %q", in, got, want)
		}
	}
	scan := logscan.New()
	ErrorLog(slog.New(slog.NewTextHandler(scan, nil))).Printf("http: TLS handshake error from %s: EOF", "[2001:db8:1:2::3]:443")
	if f := scan.Findings(); len(f) != 0 || !strings.Contains(scan.String(), "level=INFO") {
		t.Fatalf("logged %q, findings %v", scan.String(), f)
	}
}
