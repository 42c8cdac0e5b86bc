package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/throttle"
)

func TestLoginSuccessSetsCookies(t *testing.T) {
	e := newEnv(t)
	e.user("anna", records.RoleAdvisor)
	c := e.client()
	r := e.do(c, "POST", "/api/v1/login", map[string]string{"username": "Anna", "password": testPassword})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	user := r.json(t)["user"].(map[string]any)
	if user["username"] != "anna" || user["displayName"] != "Anna Muster" || user["role"] != "advisor" || user["available"] != false {
		t.Fatalf("user = %v", user)
	}
	staff, csrf := r.cookie(cookieStaff), r.cookie(cookieCSRF)
	if staff == nil || csrf == nil {
		t.Fatalf("cookies = %v", r.Cookies())
	}
	if !staff.HttpOnly || staff.SameSite != http.SameSiteLaxMode || staff.Path != "/" || staff.Secure {
		t.Errorf("staff cookie = %+v; want HttpOnly, SameSite=Lax, Path=/, not Secure without TLS", staff)
	}
	if csrf.HttpOnly || csrf.SameSite != http.SameSiteLaxMode || csrf.Path != "/" || csrf.Value != csrfFor(staff.Value) {
		t.Errorf("csrf cookie = %+v; want readable by script and bound to the login", csrf)
	}
	me := e.do(c, "GET", "/api/v1/me", nil)
	if me.StatusCode != http.StatusOK || me.json(t)["username"] != "anna" {
		t.Fatalf("me: %d %s", me.StatusCode, me.body)
	}
	av := e.staff(c, "PUT", "/api/v1/me/availability", map[string]bool{"available": true})
	if av.StatusCode != http.StatusOK || av.json(t)["available"] != true {
		t.Fatalf("availability: %d %s", av.StatusCode, av.body)
	}
	uid := int64(me.json(t)["id"].(float64))
	if got, ok := e.fake.available[uid]; !ok || !got {
		t.Fatalf("hub presence = %v; want user %d available", e.fake.available, uid)
	}
	// The records decide even when the hub's store is down.
	e.fake.availErr = signaling.ErrUnavailable
	av = e.staff(c, "PUT", "/api/v1/me/availability", map[string]bool{"available": false})
	if av.StatusCode != http.StatusOK || av.json(t)["available"] != false || e.fake.available[uid] {
		t.Fatalf("availability off with the store down: %d %s %v", av.StatusCode, av.body, e.fake.available)
	}
	if r := e.staff(c, "PUT", "/api/v1/me/availability", map[string]any{}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("availability without field: %d", r.StatusCode)
	}
}

func TestLoginFailures(t *testing.T) {
	e := newEnv(t)
	e.user("anna", records.RoleAdvisor)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"wrong password", map[string]string{"username": "anna", "password": "wrong password!"}, 401, "unauthorized"},
		{"unknown user", map[string]string{"username": "nobody", "password": testPassword}, 401, "unauthorized"},
		{"malformed JSON", `{"username":`, 400, "bad_request"},
		{"unknown field", map[string]string{"username": "anna", "password": testPassword, "otp": "1"}, 400, "bad_request"},
		{"not an object", `[1,2]`, 400, "bad_request"},
		{"two objects", `{"username":"anna"}{}`, 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(e.client(), "POST", "/api/v1/login", tt.body)
			if r.StatusCode != tt.status || r.errCode(t) != tt.code {
				t.Fatalf("got %d %s; want %d %s", r.StatusCode, r.body, tt.status, tt.code)
			}
			if msg := r.json(t)["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatal("error without message")
			}
			if r.cookie(cookieStaff) != nil {
				t.Fatal("failed login set a cookie")
			}
		})
	}
	r := e.do(e.client(), "POST", "/api/v1/login", "username=anna", "Content-Type", "application/x-www-form-urlencoded")
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(r.body), "application/json") {
		t.Fatalf("form post: %d %s", r.StatusCode, r.body)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Auth.LoginAttemptsPerMinute = 3
		c.HTTP.TrustedProxies = []string{"127.0.0.1", "::1"}
	})
	e.user("anna", records.RoleAdvisor)
	bad := map[string]string{"username": "anna", "password": "wrong password!"}

	// Per user name: three clients from different networks, one name.
	for i, ip := range []string{"198.51.100.1", "203.0.113.1", "192.0.2.1"} {
		if r := e.do(e.client(), "POST", "/api/v1/login", bad, "X-Forwarded-For", ip); r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	r := e.do(e.client(), "POST", "/api/v1/login", map[string]string{"username": "anna", "password": testPassword},
		"X-Forwarded-For", "198.18.0.1")
	if r.StatusCode != http.StatusTooManyRequests || r.errCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th attempt for one name: %d %s; want 429 rate_limited with Retry-After", r.StatusCode, r.body)
	}

	// Per anonymised address: one /24 network, different names.
	for i, name := range []string{"x1", "x2", "x3"} {
		ip := "100.64.7." + string(rune('1'+i))
		r := e.do(e.client(), "POST", "/api/v1/login", map[string]string{"username": name, "password": "whatever12"}, "X-Forwarded-For", ip)
		if r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	r = e.do(e.client(), "POST", "/api/v1/login", map[string]string{"username": "x4", "password": "whatever12"}, "X-Forwarded-For", "100.64.7.200")
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th attempt from one /24: %d; want 429", r.StatusCode)
	}
	if r := e.do(e.client(), "POST", "/api/v1/login", map[string]string{"username": "x5", "password": "whatever12"}, "X-Forwarded-For", "100.64.8.1"); r.StatusCode != 401 {
		t.Fatalf("another network: %d; want 401", r.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	c, _ := e.loggedIn("anna", records.RoleAdvisor)
	if r := e.do(c, "POST", "/api/v1/logout", nil); r.StatusCode != http.StatusForbidden || r.errCode(t) != "csrf" {
		t.Fatalf("logout without CSRF header: %d %s", r.StatusCode, r.body)
	}
	r := e.staff(c, "POST", "/api/v1/logout", nil)
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.StatusCode, r.body)
	}
	if ck := r.cookie(cookieStaff); ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("staff cookie not cleared: %+v", ck)
	}
	if r := e.do(c, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusUnauthorized || r.errCode(t) != "unauthorized" {
		t.Fatalf("me after logout: %d", r.StatusCode)
	}
	if r := e.do(e.client(), "POST", "/api/v1/logout", nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout without login: %d", r.StatusCode)
	}
}

func TestCSRFAndOrigin(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.HTTP.PublicURL = "https://video.example.com"
		c.HTTP.AllowedOrigins = []string{"https://www.example.com"}
	})
	c, _ := e.loggedIn("anna", records.RoleAdvisor)
	other, _ := e.loggedIn("bert", records.RoleAdvisor)
	tests := []struct {
		name   string
		hdr    []string
		status int
		code   string
	}{
		{"no CSRF header", []string{headerCSRF, ""}, 403, "csrf"},
		{"wrong CSRF header", []string{headerCSRF, "AAAA"}, 403, "csrf"},
		{"another login's CSRF token", []string{headerCSRF, e.csrf(other)}, 403, "csrf"},
		{"foreign origin", []string{"Origin", "https://evil.example"}, 403, "csrf"},
		{"null origin", []string{"Origin", "null"}, 403, "csrf"},
		{"cross-site fetch without origin", []string{"Sec-Fetch-Site", "cross-site"}, 403, "csrf"},
		{"own host", []string{"Origin", e.ts.URL}, 201, ""},
		{"public URL origin", []string{"Origin", "https://video.example.com"}, 201, ""},
		{"configured origin", []string{"Origin", "https://www.example.com"}, 201, ""},
		{"no origin (non-browser)", nil, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.staff(c, "POST", "/api/v1/consultations", map[string]string{}, tt.hdr...)
			if r.StatusCode != tt.status || (tt.code != "" && r.errCode(t) != tt.code) {
				t.Fatalf("got %d %s; want %d %s", r.StatusCode, r.body, tt.status, tt.code)
			}
		})
	}
	// Reading needs no CSRF header.
	if r := e.do(c, "GET", "/api/v1/consultations", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("GET without CSRF: %d", r.StatusCode)
	}
	// Customers are protected by the Origin check alone.
	_, token := e.createConsultation(c, "x")
	r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join",
		map[string]any{"consent": true, "consentVersion": e.consentVersion(token), "lang": "de"}, "Origin", "https://evil.example")
	if r.StatusCode != http.StatusForbidden || r.errCode(t) != "csrf" {
		t.Fatalf("customer join from foreign origin: %d %s", r.StatusCode, r.body)
	}
	// Login from a foreign origin (login CSRF).
	r = e.do(e.client(), "POST", "/api/v1/login", map[string]string{"username": "anna", "password": testPassword}, "Origin", "https://evil.example")
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("login from foreign origin: %d", r.StatusCode)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	back, _ := e.loggedIn("berta", records.RoleBackoffice)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	admin, _ := e.loggedIn("root", records.RoleAdmin)
	id, token := e.createConsultation(adv, "Kredit")

	if r := e.staff(back, "POST", "/api/v1/consultations", map[string]string{}); r.StatusCode != 403 || r.errCode(t) != "forbidden" {
		t.Fatalf("backoffice creates consultation: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(back, "GET", "/api/v1/consultations", nil); r.StatusCode != 403 {
		t.Fatalf("backoffice lists consultations: %d", r.StatusCode)
	}
	if r := e.do(back, "GET", "/api/v1/me", nil); r.StatusCode != 200 {
		t.Fatalf("backoffice /me: %d", r.StatusCode)
	}
	// An admin is no member of an advisor's consultation: 404 (API.md).
	if r := e.do(admin, "GET", "/api/v1/consultations/"+id, nil); r.StatusCode != 404 {
		t.Fatalf("admin reads another advisor's consultation: %d", r.StatusCode)
	}
	if _, tok := e.createConsultation(admin, "admin's"); tok == "" {
		t.Fatal("admin cannot create")
	}

	// A customer (session cookie only) reaches no staff route.
	cust := e.client()
	r := e.do(cust, "POST", "/api/v1/invites/"+token+"/join", map[string]any{"consent": true, "consentVersion": e.consentVersion(token), "lang": "en"})
	if r.StatusCode != 200 {
		t.Fatalf("join: %d %s", r.StatusCode, r.body)
	}
	for _, p := range []string{"/api/v1/me", "/api/v1/consultations", "/api/v1/consultations/" + id} {
		if r := e.do(cust, "GET", p, nil); r.StatusCode != http.StatusUnauthorized || r.errCode(t) != "unauthorized" {
			t.Errorf("customer GET %s: %d", p, r.StatusCode)
		}
	}
	if r := e.do(cust, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("customer ends consultation: %d", r.StatusCode)
	}
	if r := e.do(cust, "GET", "/app", nil); r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("customer /app: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestSessionMaxAge(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Auth.SessionTTL = time.Hour
		c.Auth.SessionMaxAge = 1500 * time.Millisecond // tests only; config needs ≥ 1m
	})
	c, _ := e.loggedIn("anna", records.RoleAdvisor)
	if r := e.do(c, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("me right after login: %d", r.StatusCode)
	}
	time.Sleep(500 * time.Millisecond)
	if r := e.do(c, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("me while active: %d", r.StatusCode)
	}
	time.Sleep(1500 * time.Millisecond)
	if r := e.do(c, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("me after session_max_age: %d; want 401", r.StatusCode)
	}
}

// TestLoginDeviceCookie: other people's wrong passwords put an account into
// backoff (429, no hashing) for browsers without a device cookie; a browser
// that logged in before passes with its device cookie, held only by its
// own budget.
func TestLoginDeviceCookie(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Auth.LoginAttemptsPerMinute = 3
		c.HTTP.TrustedProxies = []string{"127.0.0.1", "::1"}
	})
	e.user("anna", records.RoleAdvisor)
	e.user("bert", records.RoleAdvisor)
	// The throttles' clock stands still: on a busy machine a single login
	// (argon2) can outlast the first 1 s backoff step this test relies on.
	frozen := time.Now()
	clock := func() time.Time { return frozen }
	e.srv.netThrottle = throttle.NewMemory(3, e.cfg.Auth.LoginBackoffMax, clock)
	e.srv.userThrottle = throttle.NewMemory(3, e.cfg.Auth.AccountBackoffMax, clock)
	e.srv.devThrottle = throttle.NewMemory(3, e.cfg.Auth.LoginBackoffMax, clock)
	good := map[string]string{"username": "anna", "password": testPassword}
	bad := map[string]string{"username": "anna", "password": "wrong password!"}
	annaNet := "X-Forwarded-For"

	browser := e.client()
	r := e.do(browser, "POST", "/api/v1/login", good, annaNet, "203.0.113.5")
	dev := r.cookie(cookieDevice)
	if r.StatusCode != 200 || dev == nil || !dev.HttpOnly || dev.SameSite != http.SameSiteStrictMode || dev.Path != "/api/v1/login" || dev.MaxAge < 80*24*3600 {
		t.Fatalf("login: %d, device cookie %+v", r.StatusCode, dev)
	}
	// Bert's browser has a device cookie of his own.
	bertBrowser := e.client()
	if r := e.do(bertBrowser, "POST", "/api/v1/login", map[string]string{"username": "bert", "password": testPassword}); r.StatusCode != 200 {
		t.Fatalf("bert: %d", r.StatusCode)
	}

	// Three networks, three wrong passwords: Anna's name is in backoff.
	for i, ip := range []string{"198.51.100.1", "192.0.2.1", "100.64.0.1"} {
		if r := e.do(e.client(), "POST", "/api/v1/login", bad, "X-Forwarded-For", ip); r.StatusCode != 401 {
			t.Fatalf("attack %d: %d", i, r.StatusCode)
		}
	}
	hashed := e.srv.hashes.hashes()
	if r := e.do(e.client(), "POST", "/api/v1/login", good, annaNet, "203.0.113.5"); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("Anna in a new browser: %d; want 429 with Retry-After", r.StatusCode)
	}
	// A device cookie of another user counts as none.
	bertDev := e.do(bertBrowser, "POST", "/api/v1/login", map[string]string{"username": "bert", "password": testPassword}).cookie(cookieDevice)
	if r := e.do(e.client(), "POST", "/api/v1/login", good, annaNet, "203.0.113.5", "Cookie", cookieDevice+"="+bertDev.Value); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("Anna with Bert's device cookie: %d; want 429", r.StatusCode)
	}
	// A forged one too.
	last := "A"
	if strings.HasSuffix(dev.Value, "A") {
		last = "B"
	}
	forged := dev.Value[:len(dev.Value)-1] + last
	if r := e.do(e.client(), "POST", "/api/v1/login", good, annaNet, "203.0.113.5", "Cookie", cookieDevice+"="+forged); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("Anna with a forged device cookie: %d; want 429", r.StatusCode)
	}
	if got := e.srv.hashes.hashes(); got != hashed+1 { // Bert's login
		t.Fatalf("%d password hashes for refused attempts; want none", got-hashed-1)
	}
	// Her own browser: in.
	if r := e.do(browser, "POST", "/api/v1/login", good, annaNet, "203.0.113.5"); r.StatusCode != 200 {
		t.Fatalf("Anna with her device cookie: %d; want 200", r.StatusCode)
	}
	// The device's own budget: three wrong passwords, then backoff there
	// too (someone at her unlocked computer guessing).
	for i := 0; i < 3; i++ {
		if r := e.do(browser, "POST", "/api/v1/login", bad, annaNet, "203.0.113.5"); r.StatusCode != 401 {
			t.Fatalf("wrong password %d with the device cookie: %d", i, r.StatusCode)
		}
	}
	if r := e.do(browser, "POST", "/api/v1/login", good, annaNet, "203.0.113.5"); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("device after 3 failures: %d; want 429", r.StatusCode)
	}
}
