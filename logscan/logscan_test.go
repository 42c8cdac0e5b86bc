package logscan

import (
	"fmt"
	"log/slog"
	"testing"
)

func TestFullIPs(t *testing.T) {
	for _, c := range []struct {
		line string
		want int
	}{
		{`level=INFO msg="login failed" client=203.0.113.0`, 0},
		{`level=INFO msg="login failed" client=203.0.113.77`, 1},
		{`http: TLS handshake error from 127.0.0.1:53412: EOF`, 1},
		{`http: TLS handshake error from 127.0.0.0: EOF`, 0},
		{`client=2001:db8:1:: at 2026-12-07T15:55:27Z`, 0},
		{`client=2001:db8:1:2::3`, 1},
		{`peer [::1]:8080 gone`, 1},
		{`time=15:55:27.123 took 1.2.3ms version 1.26.8`, 0},
		{`mapped ::ffff:192.0.2.10`, 1},
	} {
		if got := FullIPs(c.line); len(got) != c.want {
			t.Errorf("%q: found %v, want %d", c.line, got, c.want)
		}
	}
}

func TestScannerFindsSecretsAndAddresses(t *testing.T) {
	s := New("correct horse battery")
	s.AllowOwn("127.0.0.1:8080")
	log := slog.New(slog.NewJSONHandler(s, nil))
	log.Info("parley serving", "http", "127.0.0.1:8080")
	log.Info("login", "client", "198.51.100.0")
	if f := s.Findings(); len(f) != 0 {
		t.Fatalf("clean log flagged: %v", f)
	}
	log.Info("bootstrap admin", "password", "correct horse battery")
	log.Warn("http server", "detail", "TLS handshake error from 127.0.0.1:40000: EOF")
	f := s.Findings()
	if len(f) != 2 {
		t.Fatalf("findings %v, want the password and the address", f)
	}
	for _, x := range f {
		if fmt.Sprint(x) == "" {
			t.Fatal("empty finding")
		}
	}
}
