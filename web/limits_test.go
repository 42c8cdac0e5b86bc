package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// withHost sends a staff request (cookies and CSRF from c) with a Host
// header of its own.
func (e *env) withHost(c *http.Client, method, path, host string, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerCSRF, e.csrf(c))
	u, _ := url.Parse(e.ts.URL)
	for _, ck := range c.Jar.Cookies(u) { // a jar goes by the Host
		req.AddCookie(ck)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, b}
}

// TestInviteURLNeverFromUntrustedHost: without http.public_url a link
// carries the request's host only if the configuration knows it
// (loopback, http.addr's host, an allowed origin); a forged Host gets 421
// and no consultation, invite or colleague link is made for it.
func TestInviteURLNeverFromUntrustedHost(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.HTTP.Addr = "video.intern.example:8080"
		c.HTTP.AllowedOrigins = []string{"https://beratung.example.com"}
	})
	adv, anna := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "")
	before, err := e.rec.ListConsultations(context.Background(), anna.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"evil.example", "evil.example:8080", "127.0.0.1.evil.example", "[2001:db8::1]:80"} {
		for _, path := range []string{"/api/v1/consultations", "/api/v1/consultations/" + id + "/invite", "/api/v1/consultations/" + id + "/colleague"} {
			r := e.withHost(adv, "POST", path, host, "{}")
			if r.StatusCode != http.StatusMisdirectedRequest || r.errCode(t) != "misdirected" || strings.Contains(string(r.body), "evil") {
				t.Errorf("Host %s, %s: %d %s; want 421 misdirected", host, path, r.StatusCode, r.body)
			}
		}
	}
	if after, _ := e.rec.ListConsultations(context.Background(), anna.ID); len(after) != len(before) {
		t.Errorf("consultations %d → %d: a refused request created one", len(before), len(after))
	}
	for host, want := range map[string]string{
		"localhost:8080":            "http://localhost:8080/j/",
		"127.0.0.1:9999":            "http://127.0.0.1:9999/j/",
		"[::1]:8080":                "http://[::1]:8080/j/",
		"video.intern.example:8080": "http://video.intern.example:8080/j/",
		"beratung.example.com":      "http://beratung.example.com/j/",
	} {
		r := e.withHost(adv, "POST", "/api/v1/consultations", host, "{}")
		if got, _ := r.json(t)["inviteUrl"].(string); r.StatusCode != http.StatusCreated || !strings.HasPrefix(got, want) {
			t.Errorf("Host %s: %d inviteUrl %q; want %s…", host, r.StatusCode, got, want)
		}
	}
}

// TestHSTSBehindTrustedProxy: a request that came over HTTPS through a
// trusted proxy (X-Forwarded-Proto: https from a trusted_proxies address)
// gets Strict-Transport-Security; the same header from anyone else not.
func TestHSTSBehindTrustedProxy(t *testing.T) {
	for _, tt := range []struct {
		name    string
		proxies []string
		proto   string
		want    bool
	}{
		{"trusted proxy, https", []string{"127.0.0.0/8", "::1"}, "https", true},
		{"trusted proxy, http", []string{"127.0.0.0/8", "::1"}, "http", false},
		{"trusted proxy, no header", []string{"127.0.0.0/8", "::1"}, "", false},
		{"untrusted client claims https", []string{"192.0.2.1"}, "https", false},
		{"no proxies configured", nil, "https", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *config.Config) { c.HTTP.TrustedProxies = tt.proxies })
			r := e.do(e.client(), "GET", "/healthz", nil, "X-Forwarded-Proto", tt.proto)
			if got := r.Header.Get("Strict-Transport-Security") != ""; got != tt.want {
				t.Fatalf("HSTS %v (%q); want %v", got, r.Header.Get("Strict-Transport-Security"), tt.want)
			}
		})
	}
}

// withServerTimeouts serves e's handler again from a server with the
// configuration's timeouts, as the node does.
// Not through withContract: it buffers bodies, which the transfer-rate
// tests must see arrive slowly.
func withServerTimeouts(e *env) {
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.Config.ReadHeaderTimeout = e.cfg.HTTP.ReadHeaderTimeout
	ts.Config.ReadTimeout = e.cfg.HTTP.ReadTimeout
	ts.Config.WriteTimeout = e.cfg.HTTP.WriteTimeout
	ts.Config.IdleTimeout = e.cfg.HTTP.IdleTimeout
	ts.Start()
	e.t.Cleanup(ts.Close)
	e.ts = ts
}

func shortTimeouts(c *config.Config) {
	c.HTTP.ReadHeaderTimeout = time.Second
	c.HTTP.ReadTimeout = time.Second
	c.HTTP.WriteTimeout = time.Second
	c.HTTP.IdleTimeout = time.Second
	c.HTTP.MinTransferRate = 64 << 10
}

// slowBody yields size bytes in chunks with a pause after each.
type slowBody struct {
	left, chunk int
	pause       time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.pause)
	n := min(len(p), b.chunk, b.left)
	clear(p[:n])
	b.left -= n
	return n, nil
}

// TestTransfersOutliveServerTimeouts: with read and write timeouts of one
// second, a file upload and a download that take several seconds at a
// legitimate rate go through; an upload slower than
// http.min_transfer_rate is cut.
func TestTransfersOutliveServerTimeouts(t *testing.T) {
	e := newEnv(t, shortTimeouts)
	// Log in before the timeouts apply: on a busy machine a password hash
	// alone can outlast a 1 s write timeout (cookies ignore the port).
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "")
	withServerTimeouts(e)
	base := e.ts.URL + "/api/v1/consultations/" + id + "/files/"
	put := func(fid string, body io.Reader, size int64) (int, error) {
		req, _ := http.NewRequest("PUT", base+fid, body)
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(headerCSRF, e.csrf(adv))
		resp, err := adv.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	// 1 MiB in about 3 s (~340 KiB/s, above the minimum of 64 KiB/s).
	start := time.Now()
	status, err := put(fid1, &slowBody{left: 1 << 20, chunk: 32 << 10, pause: 90 * time.Millisecond}, 1<<20)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("upload at a legitimate rate over %v: %d, %v", time.Since(start), status, err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("the upload took %v: not longer than the read timeout, proves nothing", took)
	}

	// 256 KiB at 2 KiB every 100 ms (20 KiB/s): cut.
	status, err = put(fid2, &slowBody{left: 256 << 10, chunk: 2 << 10, pause: 100 * time.Millisecond}, 256<<10)
	if err == nil && status == http.StatusCreated {
		t.Fatal("an upload below the minimum rate was accepted")
	}

	// Download 16 MiB through a small receive window at about 4 MiB/s.
	big := make([]byte, 16<<20)
	_, _ = rand.Read(big)
	const fid3 = "00000000000000000000000000000003"
	if status, err := put(fid3, bytes.NewReader(big), int64(len(big))); err != nil || status != http.StatusCreated {
		t.Fatalf("upload 16 MiB: %d, %v", status, err)
	}
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		})
	}}
	slow := &http.Client{Jar: adv.Jar, Transport: &http.Transport{DialContext: dialer.DialContext}}
	start = time.Now()
	resp, err := slow.Get(base + fid3)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got int64
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		got += int64(n)
		if err != nil {
			break
		}
		time.Sleep(15 * time.Millisecond) // ≤ 64 KiB per 15 ms: about 4 MiB/s
	}
	took := time.Since(start)
	if got != int64(len(big)) {
		t.Fatalf("download cut after %d of %d bytes (%v)", got, len(big), took)
	}
	if took < 2*time.Second {
		t.Fatalf("the download took %v: not longer than the write timeout, proves nothing", took)
	}
	t.Logf("16 MiB downloaded in %v with a write timeout of 1 s", took)
}

// TestWebSocketOutlivesServerTimeouts: a signaling WebSocket stays open
// and answers long after the server's read, write and idle timeouts.
func TestWebSocketOutlivesServerTimeouts(t *testing.T) {
	hub := signaling.NewHub(signaling.Config{SessionTTL: time.Hour, PingInterval: 500 * time.Millisecond, PongTimeout: 5 * time.Second},
		nil, nil, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(hub.Close)
	e := newEnvWith(t, hub, false, shortTimeouts)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor) // before the timeouts, as above
	id, _ := e.createConsultation(adv, "")
	withServerTimeouts(e)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/"+id,
		&websocket.DialOptions{HTTPClient: &http.Client{Jar: adv.Jar}, Subprotocols: []string{"parley.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	go func() { // keep reading: pongs and the server's messages
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()
	time.Sleep(3500 * time.Millisecond) // past every server timeout (1 s)
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if err := ws.Ping(pctx); err != nil {
		t.Fatalf("the WebSocket died with the server's timeouts: %v", err)
	}
}

// TestTransferRoutesExist: every route given longer deadlines is a route
// (a renamed route would silently fall back to the server's timeouts).
func TestTransferRoutesExist(t *testing.T) {
	e := newEnv(t)
	have := map[string]bool{}
	for _, r := range e.srv.engine.Routes() {
		have[r.Method+" "+r.Path] = true
	}
	for route := range transferRoutes {
		if !have[route] {
			t.Errorf("transferRoutes names %q, which is no route", route)
		}
	}
}
