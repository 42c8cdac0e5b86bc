package e2e

import (
	"log/slog"
	"testing"
)

// TestLogScanCatchesPersonalData: the scan every whole-server test runs
// over the server's logs does find a name, chat text or pen data, in the
// process log and in access-log lines alike — so its silence means
// something.
func TestLogScanCatchesPersonalData(t *testing.T) {
	clean := &logScan{own: []string{"127.0.0.1:8080"}}
	slog.New(slog.NewJSONHandler(clean, nil)).Info("parley serving", "http", "127.0.0.1:8080")
	slog.New(slog.NewJSONHandler(clean, nil)).Info("customer added", "consultation", "c_x", "participant", "p_1")
	clean.Write([]byte("access log: {Route:/j/:token Client:127.0.0.0 Browser:Chrome 143}\n"))
	if f := clean.findings(); len(f) != 0 {
		t.Fatalf("clean logs flagged: %v", f)
	}
	for _, leak := range []func(l *logScan){
		func(l *logScan) {
			slog.New(slog.NewJSONHandler(l, nil)).Info("customer added", "name", "Erika Mustermann")
		},
		func(l *logScan) { slog.New(slog.NewTextHandler(l, nil)).Warn("chat", "body", "Guten Tag, Frau Berg") },
		func(l *logScan) { l.Write([]byte(`sign request {"strokes":[[1,2,3]]}` + "\n")) },
		func(l *logScan) {
			slog.New(slog.NewTextHandler(l, nil)).Warn("http: TLS handshake error from 127.0.0.1:50123: EOF")
		},
		func(l *logScan) { slog.New(slog.NewJSONHandler(l, nil)).Info("peer", "addr", "[2001:db8:1:2::3]:443") },
		func(l *logScan) { slog.New(slog.NewJSONHandler(l, nil)).Info("login", "password", advisorPassword) },
	} {
		l := &logScan{}
		leak(l)
		if len(l.findings()) == 0 {
			t.Errorf("a leak went unnoticed: %q", l.buf.String())
		}
	}
}
