package turnserver

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestAnonymizeIP(t *testing.T) {
	cases := map[string]string{
		"203.0.113.77":        "203.0.113.0",
		"203.0.113.77:5000":   "203.0.113.0",
		"[2001:db8:1:2::3]:9": "2001:db8:1::",
		"2001:db8:1:2::3":     "2001:db8:1::",
		"::ffff:198.51.100.9": "198.51.100.0",
		"fe80::1%eth0":        "fe80::",
		"garbage":             "unknown",
	}
	for in, want := range cases {
		if got := anonymizeIP(in); got != want {
			t.Errorf("anonymizeIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	cases := map[string]string{
		"Received 20 bytes of udp from 203.0.113.77:5000 on 198.51.100.4:3478": "Received 20 bytes of udp from 203.0.113.0 on 198.51.100.0",
		"Relaying message from [2001:db8:1:2::3]:9 to client at 10.1.2.3:7":    "Relaying message from 2001:db8:1:: to client at 10.1.2.0",
		"Adding permission for 2001:db8:1:2::3":                                "Adding permission for 2001:db8:1::",
		"mapped ::ffff:203.0.113.77 seen":                                      "mapped 203.0.113.0 seen",
		"failed: no such user exists 1800000000:p-42":                          "failed: no such user exists [user]",
		"failed: no such user exists alice":                                    "failed: no such user exists [user]",
		"Authentication username=\"1800000000:p-42\" realm=\"parley\"":         "Authentication username=\"[user]\" realm=\"parley\"",
		"at 12:34:56 nothing to hide":                                          "at 12:34:56 nothing to hide",
		"channel 0x4000 lifetime 600":                                          "channel 0x4000 lifetime 600",
	}
	for in, want := range cases {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

func TestPionLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	f := pionLoggers{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l := f.NewLogger("turn")
	l.Errorf("Failed to send to %s", "203.0.113.77:5000")
	l.Infof("plain %d", 1)
	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || strings.Contains(out, "level=ERROR") ||
		!strings.Contains(out, "pion_level=error") || !strings.Contains(out, "pion=turn") {
		t.Errorf("pion errors must be logged at debug with their level as attribute:\n%s", out)
	}
	if strings.Contains(out, "203.0.113.77") || !strings.Contains(out, "203.0.113.0") {
		t.Errorf("address not anonymised:\n%s", out)
	}

	// Above debug, nothing is formatted or written.
	buf.Reset()
	f = pionLoggers{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	f.NewLogger("turn").Errorf("x %s", "y")
	if buf.Len() != 0 {
		t.Errorf("logged at info level: %s", buf.String())
	}
}
