package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

func TestJoinPage(t *testing.T) {
	e := newEnv(t)
	anna, u := e.loggedIn("anna", records.RoleAdvisor)
	_, token := e.createConsultation(anna, "")
	// An expired invite (created directly: the API uses consultation.invite_ttl).
	_, expired, err := e.rec.CreateConsultation(context.Background(), u.ID, "", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	endedID, endedTok := e.createConsultation(anna, "")
	if r := e.staff(anna, "POST", "/api/v1/consultations/"+endedID+"/end", nil); r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	time.Sleep(5 * time.Millisecond)

	tests := []struct {
		name   string
		token  string
		status int
		want   []string // in order: German first
	}{
		{"valid", token, 200, []string{"JOIN-PAGE"}},
		{"unknown", "no-such-token", 404, []string{"Link ungültig", "Dieser Link ist ungültig"}},
		{"expired", expired, 410, []string{"Link abgelaufen", "abgelaufen"}},
		{"ended", endedTok, 410, []string{"Beratung beendet", "Meine Daten"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(e.client(), "GET", "/j/"+tt.token, nil)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d; want %d", r.StatusCode, tt.status)
			}
			if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			body, at := string(r.body), 0
			for _, w := range tt.want {
				i := strings.Index(body[at:], w)
				if i < 0 {
					t.Fatalf("page lacks %q (in order): %s", w, body)
				}
				at += i
			}
			if tt.status != 200 {
				if !strings.Contains(body, `href="/static/css/app.css"`) || !strings.Contains(body, `<html lang="de">`) {
					t.Fatalf("error page not styled or not German: %s", body)
				}
				if strings.Contains(body, tt.token) {
					t.Fatal("error page echoes the token")
				}
			}
		})
	}
	// The API says the same.
	if r := e.do(e.client(), "GET", "/api/v1/invites/"+expired, nil); r.StatusCode != 410 || r.errCode(t) != "expired" {
		t.Fatalf("API, expired: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(e.client(), "GET", "/api/v1/invites/nope", nil); r.StatusCode != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("API, unknown: %d %s", r.StatusCode, r.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.HTTP.PublicURL = "https://video.example.com" })
	host := strings.TrimPrefix(e.ts.URL, "http://")
	wantCSP := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
		"media-src 'self' blob:; connect-src 'self' ws://" + host + " wss://video.example.com; font-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	paths := []struct {
		path  string
		cache string
	}{
		{"/login", "no-store"},
		{"/privacy", "no-store"},
		{"/j/unknown", "no-store"},
		{"/api/v1/me", "no-store"},
		{"/api/v1/invites/unknown", "no-store"},
		{"/healthz", "no-store"},
		{"/nope", "no-store"},
		{"/static/js/app.js", "no-cache"},
	}
	for _, p := range paths {
		r := e.do(e.client(), "GET", p.path, nil)
		h := r.Header
		checks := map[string]string{
			"Content-Security-Policy": wantCSP,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           p.cache,
		}
		for k, want := range checks {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q; want %q", p.path, k, got, want)
			}
		}
		pp := h.Get("Permissions-Policy")
		for _, f := range []string{"camera=(self)", "microphone=(self)", "display-capture=(self)"} {
			if !strings.Contains(pp, f) {
				t.Errorf("%s: Permissions-Policy %q lacks %s", p.path, pp, f)
			}
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS without TLS", p.path)
		}
	}
}

func TestCSPIgnoresHostileHost(t *testing.T) {
	e := newEnv(t)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Host = "evil; script-src *"
	csp := e.srv.contentSecurityPolicy(req)
	if strings.Contains(csp, "evil") || !strings.Contains(csp, "connect-src 'self';") {
		t.Fatalf("CSP %q", csp)
	}
}

func TestStaticFiles(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	types := map[string]string{
		"/static/js/app.js":     "text/javascript; charset=utf-8",
		"/static/css/app.css":   "text/css; charset=utf-8",
		"/static/img/logo.svg":  "image/svg+xml",
		"/static/fonts/a.woff2": "font/woff2",
	}
	for p, want := range types {
		r := e.do(c, "GET", p, nil)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != want || r.Header.Get("ETag") == "" {
			t.Errorf("%s: %d %q etag %q; want 200 %q", p, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("ETag"), want)
		}
	}
	r := e.do(c, "GET", "/static/js/app.js", nil)
	if r2 := e.do(c, "GET", "/static/js/app.js", nil, "If-None-Match", r.Header.Get("ETag")); r2.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d; want 304", r2.StatusCode)
	}
	if r := e.do(c, "HEAD", "/static/css/app.css", nil); r.StatusCode != 200 {
		t.Errorf("HEAD: %d", r.StatusCode)
	}
	for _, p := range []string{"/static/", "/static/js", "/static/js/", "/static/.keep", "/static/js/.secret.js",
		"/static/.git/config", "/static/_private/x.html", "/static/../server.go", "/static/js/../../templates/base.html", "/static/missing.js"} {
		if r := e.do(c, "GET", p, nil); r.StatusCode != 404 && r.StatusCode != 301 {
			t.Errorf("%s: %d; want 404", p, r.StatusCode)
		} else if strings.Contains(string(r.body), "secret") {
			t.Errorf("%s served a hidden file", p)
		}
	}
}

func TestEmbeddedClientLoads(t *testing.T) {
	sf, err := newStaticFiles(embeddedStatic())
	if err != nil {
		t.Fatal(err)
	}
	for name := range sf.files {
		if hiddenPath(name) {
			t.Errorf("hidden file %s would be served", name)
		}
		if strings.HasSuffix(name, ".js") && sf.files[name].contentType != "text/javascript; charset=utf-8" {
			t.Errorf("%s: %s", name, sf.files[name].contentType)
		}
	}
	t.Logf("embedded client: %d files", len(sf.files))
}

func TestPagesAndRedirects(t *testing.T) {
	e := newEnv(t)
	anon := e.client()
	staff, _ := e.loggedIn("anna", records.RoleAdvisor)
	tests := []struct {
		name     string
		c        *http.Client
		path     string
		status   int
		location string // for redirects
		body     string // for pages
	}{
		{"root anonymous", anon, "/", 302, "/login", ""},
		{"root staff", staff, "/", 302, "/app", ""},
		{"login page", anon, "/login", 200, "", "LOGIN-PAGE"},
		{"login with local next", anon, "/login?next=/app/call/c_x", 200, "", "LOGIN-PAGE"},
		{"login staff goes on", staff, "/login?next=/app/call/c_x", 302, "/app/call/c_x", ""},
		{"login staff default", staff, "/login", 302, "/app", ""},
		{"app anonymous", anon, "/app", 302, "/login?next=%2Fapp", ""},
		{"call anonymous", anon, "/app/call/c_x", 302, "/login?next=%2Fapp%2Fcall%2Fc_x", ""},
		{"app staff", staff, "/app", 200, "", "APP-PAGE"},
		{"call staff", staff, "/app/call/c_x", 200, "", "APP-PAGE"},
		{"unknown page", anon, "/nope", 404, "", "Seite nicht gefunden"},
	}
	// No open redirect: every non-local next is dropped.
	for _, next := range []string{"https://evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example",
		"javascript:alert(1)", "http:/evil.example", "/%0d%0aLocation:%20x", "evil.example"} {
		tests = append(tests,
			struct {
				name     string
				c        *http.Client
				path     string
				status   int
				location string
				body     string
			}{"next=" + next + " anonymous", anon, "/login?next=" + next, 302, "/login", ""},
			struct {
				name     string
				c        *http.Client
				path     string
				status   int
				location string
				body     string
			}{"next=" + next + " staff", staff, "/login?next=" + next, 302, "/login", ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.c, "GET", tt.path, nil)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d; want %d (Location %q)", r.StatusCode, tt.status, r.Header.Get("Location"))
			}
			if tt.location != "" && r.Header.Get("Location") != tt.location {
				t.Fatalf("Location %q; want %q", r.Header.Get("Location"), tt.location)
			}
			if tt.body != "" && !strings.Contains(string(r.body), tt.body) {
				t.Fatalf("body lacks %q: %s", tt.body, r.body)
			}
		})
	}
	if r := e.do(anon, "GET", "/api/v1/nope", nil); r.StatusCode != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("unknown API route: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(anon, "DELETE", "/api/v1/login", nil); r.StatusCode != 405 {
		t.Fatalf("wrong method: %d %s", r.StatusCode, r.body)
	}
}

func TestSafeNext(t *testing.T) {
	tests := map[string]string{
		"/app":                          "/app",
		"/app/call/c_x?a=b":             "/app/call/c_x?a=b",
		"/c/tok-EN_1":                   "/c/tok-EN_1",
		"":                              "",
		"app":                           "",
		"//evil.example":                "",
		"/\\evil.example":               "",
		"https://evil.example":          "",
		"/a\r\nb":                       "",
		"/a\x00":                        "",
		"/" + strings.Repeat("a", 3000): "",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestPrivacyNoticeFollowsTheConfiguration: the notice is built from the
// running configuration; change a retention period, a contact or a
// question and the page says so.
func TestPrivacyNoticeFollowsTheConfiguration(t *testing.T) {
	page := func(opts ...envOption) string {
		t.Helper()
		e := newEnv(t, opts...)
		var both string // one language per page: German, then English
		for _, path := range []string{"/privacy", "/privacy?lang=en"} {
			r := e.do(e.client(), "GET", path, nil)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", path, r.StatusCode)
			}
			both += string(r.body)
		}
		return both
	}
	def := page()
	for _, want := range []string{"10 Jahre nach der letzten Unterschrift", "10 years after the last signature",
		"30 Tage", "30 days", "bis zum Ende der Beratung (spätestens 8 Stunden)", "until the consultation ends (at most 8 hours)",
		"nie gespeichert oder aufgezeichnet", "never stored or recorded", "anonym", "AES-256-GCM"} {
		if !strings.Contains(def, want) {
			t.Errorf("default notice lacks %q", want)
		}
	}
	changed := page(func(c *config.Config) {
		c.Retention.Contracts = config.Period(6 * config.Year)
		c.Retention.AccessLogs = config.Period(7 * config.Day)
		c.Retention.Files = config.Period(2 * config.Day)
		c.Privacy.DPOContact = "dsb@beispiel.example"
		c.Privacy.AllowAnonymous = false
		c.Questions.After = []config.Question{{ID: "rating", Type: "rating", Label: config.Text{DE: "Wie zufrieden waren Sie?", EN: "How satisfied were you?"}}}
	})
	for _, want := range []string{"6 Jahre nach der letzten Unterschrift", "6 years after the last signature", "7 Tage", "7 days",
		"2 Tage nach dem Ende der Beratung", "2 days after the consultation ends", "dsb@beispiel.example",
		"Wie zufrieden waren Sie?", "How satisfied were you?", "Ihre Antworten nach der Beratung"} {
		if !strings.Contains(changed, want) {
			t.Errorf("changed notice lacks %q", want)
		}
	}
	for _, gone := range []string{"10 Jahre nach der letzten Unterschrift", "10 years after the last signature", "ohne Einwilligung teilnehmen"} {
		if strings.Contains(changed, gone) {
			t.Errorf("changed notice still says %q", gone)
		}
	}
}

// TestPrivacyPage: the notice says what it must, in one language at a
// time: German by default, English by ?lang=en or an English browser,
// each with a switch to the other.
func TestPrivacyPage(t *testing.T) {
	e := newEnv(t)
	get := func(path string, header ...string) string {
		t.Helper()
		r := e.do(e.client(), "GET", path, nil, header...)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s: %d %q", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
		return string(r.body)
	}
	de, en := get("/privacy"), get("/privacy?lang=en")
	for _, c := range []struct {
		lang, body string
		want       []string
		not        string
	}{
		{"de", de, []string{
			`<html lang="de">`, "Beispiel Bank AG", "datenschutz@beispiel.example", "Datenschutzhinweise zur",
			"parley_session", "parley_staff", "parley_csrf", "8 Stunden", "12 Stunden", "1 Tag", "Ende-zu-Ende", "IP",
			"Auskunft", "Berichtigung", "Löschung", "Einschränkung", "Datenübertragbarkeit", "beschweren", "Drittanbietern",
			`href="?lang=en"`, "Termindaten, wenn ein Termin mit Ihnen vereinbart wurde",
		}, "Privacy notice for"},
		{"en", en, []string{
			`<html lang="en">`, "Beispiel Bank AG", "datenschutz@beispiel.example", "Privacy notice for",
			"parley_session", "parley_staff", "parley_csrf", "8 hours", "12 hours", "1 day", "end-to-end", "IP",
			"access", "rectification", "erasure", "restriction", "portability", "complaint", "third parties",
			`href="?lang=de"`, "Appointment data, if an appointment was booked with you",
		}, "Datenschutzhinweise zur"},
	} {
		for _, want := range c.want {
			if !strings.Contains(c.body, want) {
				t.Errorf("%s notice lacks %q", c.lang, want)
			}
		}
		if strings.Contains(c.body, c.not) {
			t.Errorf("%s notice also holds the other language (%q)", c.lang, c.not)
		}
		if strings.Contains(c.body, "<script") || strings.Contains(c.body, "style=") {
			t.Errorf("%s: inline script or style (CSP forbids them)", c.lang)
		}
	}
	if got := get("/privacy", "Accept-Language", "en-US,en;q=0.9,de;q=0.5"); !strings.Contains(got, "Privacy notice for") {
		t.Error("an English browser gets the German notice")
	}
	if got := get("/privacy?lang=de", "Accept-Language", "en-US"); !strings.Contains(got, "Datenschutzhinweise zur") {
		t.Error("?lang=de does not win over the browser's language")
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d      time.Duration
		de, en string
	}{
		{8 * time.Hour, "8 Stunden", "8 hours"},
		{time.Hour, "1 Stunde", "1 hour"},
		{48 * time.Hour, "2 Tage", "2 days"},
		{90 * time.Minute, "90 Minuten", "90 minutes"},
		{30 * time.Second, "30 Sekunden", "30 seconds"},
	}
	for _, tt := range tests {
		if de, en := humanDuration(tt.d, "de"), humanDuration(tt.d, "en"); de != tt.de || en != tt.en {
			t.Errorf("%v: %q, %q; want %q, %q", tt.d, de, en, tt.de, tt.en)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if r := e.do(e.client(), "GET", "/healthz", nil); r.StatusCode != 200 || string(r.body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", r.StatusCode, r.body)
	}
	r := e.do(e.client(), "GET", "/readyz", nil)
	if r.StatusCode != 200 || string(r.body) != `{"checks":{"records":"ok"},"status":"ready"}` {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.body)
	}

	// With a failing dependency.
	rec, _ := records.Open(context.Background(), t.TempDir())
	defer rec.Close()
	srv, err := New(e.cfg, Deps{Records: rec, Hub: newFakeHub(), Consultations: e.cons, Files: e.files, Ready: func(ctx context.Context) map[string]error {
		return map[string]error{"redis": errors.New("dial tcp 10.9.8.7:6379: refused"), "sfu": nil}
	}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 503 || w.Body.String() != `{"checks":{"records":"ok","redis":"failed","sfu":"ok"},"status":"not_ready"}` {
		t.Fatalf("readyz failing: %d %s", w.Code, w.Body)
	}
	rec.Close()
	w = httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"records":"failed"`) {
		t.Fatalf("readyz with closed records: %d %s", w.Code, w.Body)
	}
}

func TestNewNeedsDeps(t *testing.T) {
	if _, err := New(config.Default(), Deps{Hub: newFakeHub()}, nil); err == nil {
		t.Fatal("New without records succeeded")
	}
	rec, _ := records.Open(context.Background(), t.TempDir())
	defer rec.Close()
	if _, err := New(config.Default(), Deps{Records: rec}, nil); err == nil {
		t.Fatal("New without hub succeeded")
	}
	cfg := config.Default()
	cfg.HTTP.TrustedProxies = []string{"not an ip"}
	if _, err := New(cfg, Deps{Records: rec, Hub: newFakeHub()}, nil); err == nil {
		t.Fatal("New with a bad proxy list succeeded")
	}
}

func TestAccessLogHasNoPersonalData(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1", "::1"} })
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	_, token := e.createConsultation(anna, "Geheimprojekt")
	version := e.consentVersion(token)
	e.do(e.client(), "GET", "/j/"+token, nil, "X-Forwarded-For", "198.51.100.77")
	e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join",
		map[string]any{"name": "Kim Kunde", "consent": true, "consentVersion": version, "lang": "de"},
		"X-Forwarded-For", "2001:db8:abcd:12::1")
	e.do(e.client(), "GET", "/j/"+token+"?x=secretquery", nil)

	// The access log (records): anonymised addresses, route patterns,
	// browser families; never tokens, paths, queries or names.
	e.srv.FlushAccessLog()
	entries, err := e.rec.AccessLog(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	clients := map[string]bool{}
	routes := map[string]bool{}
	for _, a := range entries {
		fmt.Fprintf(&b, "%+v\n", a)
		clients[a.Client] = true
		routes[a.Route] = true
	}
	table := b.String()
	if !clients["198.51.100.0"] || !clients["2001:db8:abcd::"] || !routes["/j/:token"] || !routes["/api/v1/invites/:token/join"] {
		t.Errorf("access log lacks anonymised clients or routes:\n%s", table)
	}
	logs := e.logs.String() + table
	for _, never := range []string{token, "198.51.100.77", "2001:db8:abcd:12::1", "127.0.0.1", "Kim Kunde", "anna", "Geheimprojekt",
		"secretquery", testPassword, "session-cookie-value"} {
		if strings.Contains(logs, never) {
			t.Errorf("log contains %q:\n%s", never, logs)
		}
	}
}

func TestUserAgentFamily(t *testing.T) {
	for ua, want := range map[string][2]string{
		"Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.135 Mobile Safari/537.36": {"Chrome 131", "Android"},
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1":         {"Safari 17", "iOS"},
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86":                 {"Edge 131", "Windows"},
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0":                                                               {"Firefox 133", "macOS"},
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/143.0.0.0 Safari/537.36":                                     {"Chrome 143", "Linux"},
		"curl/8.5.0": {"other", "other"},
		"":           {"other", "other"},
	} {
		b, o := userAgentFamily(ua)
		if b != want[0] || o != want[1] {
			t.Errorf("%q: %q %q, want %q %q", ua, b, o, want[0], want[1])
		}
	}
}

func TestWebSocketRoute(t *testing.T) {
	e := newEnv(t)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	carl, _ := e.loggedIn("carl", records.RoleAdvisor)
	dora, _ := e.loggedIn("dora", records.RoleAdmin)
	id, token := e.createConsultation(anna, "WS")
	cust := e.client()
	if r := e.do(cust, "POST", "/api/v1/invites/"+token+"/join", map[string]any{"consent": true, "consentVersion": e.consentVersion(token), "lang": "de"}); r.StatusCode != 200 {
		t.Fatalf("join: %d", r.StatusCode)
	}
	endedID, _ := e.createConsultation(anna, "")
	e.staff(anna, "POST", "/api/v1/consultations/"+endedID+"/end", nil)

	tests := []struct {
		name   string
		c      *http.Client
		id     string
		hdr    []string
		status int
		served string
	}{
		{"advisor", anna, id, nil, 200, "staff " + id + " Anna Muster"},
		{"customer", cust, id, nil, 200, "customer " + id + " session-cookie-value"},
		{"nobody", e.client(), id, nil, 401, ""},
		{"other advisor", carl, id, nil, 404, ""}, // non-members: 404 (API.md)
		{"admin, not a member", dora, id, nil, 404, ""},
		{"unknown consultation", anna, "c_nope", nil, 404, ""},
		{"ended consultation", cust, endedID, nil, 410, ""},
		{"foreign origin", anna, id, []string{"Origin", "https://evil.example"}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.fake.served)
			r := e.do(tt.c, "GET", "/ws/"+tt.id, nil, tt.hdr...)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d %s; want %d", r.StatusCode, r.body, tt.status)
			}
			if tt.served == "" {
				if len(e.fake.served) != before {
					t.Fatalf("hub served %v", e.fake.served[before:])
				}
				if r.errCode(t) == "" {
					t.Fatalf("no JSON error: %s", r.body)
				}
				return
			}
			if len(e.fake.served) != before+1 || e.fake.served[before] != tt.served {
				t.Fatalf("hub served %v; want %q", e.fake.served[before:], tt.served)
			}
		})
	}
	if _, ok := e.fake.opened[signaling.ConsultationID(id)]; !ok {
		t.Fatal("staff connect did not open the consultation in the hub")
	}
}
