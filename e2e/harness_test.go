// Package e2e runs the whole Parley server in-process and drives it the way
// users do: real HTTP clients, real pion peers and real headless Chromium.
// Every test here runs only inside the loopback-only network namespace that
// scripts/test.sh creates.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/logscan"
	"github.com/parley-video/parley/node"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/testnet"
)

// server is one in-process Parley node.
type server struct {
	*node.Node
	base string       // http://127.0.0.1:port
	stop func() error // stops Run as SIGTERM would (once) and returns its error
	logs *logScan     // everything it logged from info up
}

// startServer runs a node on free loopback ports with a fresh data dir and
// one advisor account (advisorName / advisorPassword).
func startServer(t *testing.T, mutate ...func(*config.Config)) *server {
	t.Helper()
	testnet.RequireLoopbackOnly(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Admin.Addr = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	cfg.Company.Name = "Musterbank AG"
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = -1
	cfg.RTC.ListenIP = "127.0.0.1"
	cfg.RTC.IncludeLoopback = true
	for _, m := range mutate {
		m(&cfg)
	}
	return runNode(t, cfg, true, nil)
}

// runNode runs a node with cfg until the test ends; with users, it
// creates the test's staff accounts first. alsoOwn adds addresses its log
// may name (other nodes of a cluster).
func runNode(t *testing.T, cfg config.Config, users bool, alsoOwn []string) *server {
	t.Helper()
	// Everything the server logs from info up is kept and scanned for
	// the tests' personal data when the test ends; warnings go to t.Log.
	all := &logScan{}
	log := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(&testLog{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}),
		slog.NewJSONHandler(all, &slog.HandlerOptions{Level: slog.LevelInfo}),
	))
	n, err := node.New(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	all.own = append(ownAddresses(n, cfg), alsoOwn...)
	for _, u := range []struct {
		name, display string
		role          records.Role
	}{
		{advisorName, "Anna Berg", records.RoleAdvisor},
		{colleagueName, "Carl Colleague", records.RoleAdvisor},
	} {
		if !users {
			break
		}
		if _, err := n.Records.CreateUser(t.Context(), u.name, u.display, u.role, advisorPassword); err != nil {
			t.Fatalf("create %s: %v", u.name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	var runErr error
	stopped := false
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
			stopped = true
		})
		return runErr
	}
	t.Cleanup(func() {
		// The access log (in the records) is scanned with the rest: it
		// must hold anonymised addresses only. (A node the test stopped
		// has closed its records.)
		if !stopped {
			n.FlushAccessLog()
			if es, err := n.Records.AccessLog(context.Background(), time.Time{}, 100000); err != nil {
				t.Errorf("access log: %v", err)
			} else {
				for _, e := range es {
					line := fmt.Sprintf("access log: %+v\n", e)
					if strings.Contains(line, "127.0.0.1") {
						t.Errorf("access log holds a full address: %s", line)
					}
					all.Write([]byte(line))
				}
			}
		}
		if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("node shutdown: %v", err)
		}
		all.check(t)
	})
	return &server{Node: n, base: "http://" + n.HTTPAddr(), stop: stop, logs: all}
}

const (
	advisorName     = "anna"
	colleagueName   = "carl"
	advisorPassword = "correct horse battery"
)

// personalData is what the end-to-end tests type in as customers, chat
// or sign: none of it may appear in a log line (names, message text, pen
// data, invite tokens are checked by their own tests).
var personalData = []string{
	"Erika", "Mustermann", "PLAINTEXT-MARKER", "Hallo ", "Guten Tag",
	`"strokes"`, "started_at", "tiltX",
}

// ownAddresses are the node's own listen addresses, which its log may
// name; any other full IP address in a log line is a finding. (Clients
// here come from 127.0.0.1 too: a line naming a client's address with its
// port is still found. With TURN on, its bare listen and relay IPs are the
// node's own.)
func ownAddresses(n *node.Node, cfg config.Config) []string {
	own := []string{n.HTTPAddr(), n.AdminAddr(), n.Media.UDPAddr()}
	for _, a := range []net.Addr{n.TURN.UDPAddr(), n.TURN.TCPAddr(), n.TURN.TLSAddr()} {
		if a != nil {
			own = append(own, a.String())
		}
	}
	if cfg.TURN.Enabled {
		for _, ip := range []string{cfg.TURN.ListenIP, cfg.TURN.PublicIP} {
			if ip != "" {
				own = append(own, `"`+ip+`"`)
			}
		}
	}
	return own
}

// logScan keeps all log output of a server to scan it at the end.
type logScan struct {
	mu  sync.Mutex
	buf strings.Builder
	own []string // the node's own addresses (ownAddresses)
}

func (l *logScan) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	return len(p), nil
}

// check fails the test when a log line carries personal data.
func (l *logScan) check(t *testing.T) {
	t.Helper()
	for _, f := range l.findings() {
		t.Error(f)
	}
}

// findings names each log line that carries personal data.
func (l *logScan) findings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		for _, p := range personalData {
			if strings.Contains(line, p) {
				out = append(out, fmt.Sprintf("personal data %q in a log line: %s", p, line))
			}
		}
		if strings.Contains(line, advisorPassword) {
			out = append(out, "a password in a log line: "+strings.ReplaceAll(line, advisorPassword, "<password>"))
		}
		scrubbed := line
		for _, a := range l.own {
			scrubbed = strings.ReplaceAll(scrubbed, a, "")
		}
		for _, ip := range logscan.FullIPs(scrubbed) {
			out = append(out, fmt.Sprintf("full IP address %s in a log line: %s", ip, line))
		}
	}
	return out
}

// testLog forwards log output to t.Log while the test runs.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// chromiumPath is Debian's Chromium; tests never download a browser.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a separate headless Chromium (its own profile: its own
// cookies) with fake camera, microphone and screen. Console output and page
// errors go to the test log, prefixed with name. extra options go last
// (e.g. an ExecPath that starts Chromium in another network namespace).
func newBrowser(t *testing.T, name string, width, height int, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is not installed at %s (make test installs it): %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("auto-select-desktop-capture-source", "Entire screen"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// A German browser, as most customers' (the pages follow the
		// browser's language on a first visit; browser_lang_test.go
		// emulates others).
		chromedp.Flag("lang", "de-DE"),
		chromedp.Flag("accept-lang", "de-DE,de"),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var mu sync.Mutex
	alive := true
	var pageErrors []string // uncaught exceptions and unhandled rejections
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if alive {
			t.Logf("["+name+"] "+format, args...)
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(logf))
	if err := chromedp.Do(ctx); err != nil {
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	if width < 600 { // a phone: headless windows can't be that narrow
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateMobile)); err != nil {
			cancelAlloc()
			t.Fatalf("emulate a phone: %v", err)
		}
	}
	_ = chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			line := strings.Join(parts, " ")
			logf("console.%s: %s", ev.Type, line)
			if strings.Contains(line, "unhandled rejection") {
				mu.Lock()
				pageErrors = append(pageErrors, line)
				mu.Unlock()
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := d.Text
			if d.Exception != nil {
				desc += " " + d.Exception.Description
			}
			logf("page error: %s (%s:%d)", desc, d.URL, d.LineNumber)
			mu.Lock()
			pageErrors = append(pageErrors, desc)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		mu.Lock()
		alive = false
		for _, e := range pageErrors {
			t.Errorf("[%s] uncaught error in the page: %s", name, e)
		}
		mu.Unlock()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// artifactDir is where tests leave screenshots for people to look at.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PARLEY_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 = PNG
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// within runs a chromedp action with its own timeout and a readable error.
func within[T any](t *testing.T, ctx context.Context, d time.Duration, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

var _ = io.Discard
var _ = fmt.Sprint
