package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

func TestConsultationInviteJoinFlow(t *testing.T) {
	e := newEnv(t)
	adv, anna := e.loggedIn("anna", records.RoleAdvisor)

	r := e.staff(adv, "POST", "/api/v1/consultations", map[string]string{"title": "Baufinanzierung"})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	con := r.json(t)
	id := con["id"].(string)
	inviteURL := con["inviteUrl"].(string)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(e.ts.URL) + `/j/[A-Za-z0-9_-]{43}$`).MatchString(inviteURL) {
		t.Fatalf("inviteUrl %q: want %s/j/<token>", inviteURL, e.ts.URL)
	}
	if con["state"] != "open" || con["title"] != "Baufinanzierung" || con["inviteExpiresAt"] == nil || con["createdAt"] == nil {
		t.Fatalf("consultation = %v", con)
	}
	if adv := con["advisor"].(map[string]any); adv["displayName"] != "Anna Muster" || int64(adv["id"].(float64)) != anna.ID {
		t.Fatalf("advisor = %v", adv)
	}
	if _, err := time.Parse(time.RFC3339, con["createdAt"].(string)); err != nil || !strings.HasSuffix(con["createdAt"].(string), "Z") {
		t.Fatalf("createdAt %v is not RFC 3339 UTC", con["createdAt"])
	}
	_, token, _ := strings.Cut(inviteURL, "/j/")

	// The invite, as the customer's page reads it.
	cust := e.client()
	inv := e.do(cust, "GET", "/api/v1/invites/"+token, nil)
	if inv.StatusCode != http.StatusOK {
		t.Fatalf("invite: %d %s", inv.StatusCode, inv.body)
	}
	m := inv.json(t)
	consent := m["consent"].(map[string]any)
	texts := consent["text"].(map[string]any)
	version := consent["version"].(string)
	if m["company"] != "Beispiel Bank AG" || m["advisorName"] != "Anna Muster" || m["title"] != "Baufinanzierung" ||
		m["consultationId"] != id || m["privacyUrl"] != "/privacy" || version == "" ||
		!strings.Contains(texts["de"].(string), "Ende-zu-Ende") || !strings.Contains(texts["en"].(string), "end-to-end") {
		t.Fatalf("invite = %v", m)
	}

	join := func(body any) response { return e.do(cust, "POST", "/api/v1/invites/"+token+"/join", body) }
	bad := []struct {
		name string
		body any
	}{
		{"no consent", map[string]any{"name": "Kim", "consent": false, "consentVersion": version, "lang": "de"}},
		{"consent missing", map[string]any{"name": "Kim", "consentVersion": version, "lang": "de"}},
		{"stale consent version", map[string]any{"consent": true, "consentVersion": "0000", "lang": "de"}},
		{"bad language", map[string]any{"consent": true, "consentVersion": version, "lang": "fr"}},
		{"name too long", map[string]any{"name": strings.Repeat("k", 65), "consent": true, "consentVersion": version, "lang": "de"}},
		{"unknown field", map[string]any{"consent": true, "consentVersion": version, "lang": "de", "ip": "1.2.3.4"}},
	}
	for _, b := range bad {
		if r := join(b.body); r.StatusCode != http.StatusBadRequest || r.errCode(t) != "bad_request" || r.cookie(cookieSession) != nil {
			t.Errorf("join, %s: %d %s", b.name, r.StatusCode, r.body)
		}
	}
	if len(e.fake.customers) != 0 {
		t.Fatalf("hub got customers before a valid consent: %v", e.fake.customers)
	}

	r = join(map[string]any{"name": " Kim Kunde ", "consent": true, "consentVersion": version, "lang": "en"})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("join: %d %s", r.StatusCode, r.body)
	}
	pid, _ := r.json(t)["participantId"].(string)
	if m := r.json(t); m["consultationId"] != id || !strings.HasPrefix(pid, "p_") {
		t.Fatalf("join result = %v", m)
	}
	ck := r.cookie(cookieSession)
	if ck == nil || ck.Value != "session-cookie-value" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Fatalf("session cookie = %+v", ck)
	}
	if want := int(e.cfg.Consultation.MaxDuration.Seconds()); ck.MaxAge > want || ck.MaxAge < want-60 {
		t.Fatalf("session cookie MaxAge = %d; want about %d (remaining lifetime)", ck.MaxAge, want)
	}
	info := e.fake.opened[signaling.ConsultationID(id)]
	if info.Title != "Baufinanzierung" || info.Company != "Beispiel Bank AG" || len(e.fake.customers) != 1 || e.fake.customers[0] != "Kim Kunde" {
		t.Fatalf("hub: opened %+v, customers %v", info, e.fake.customers)
	}
	consents, err := e.rec.Consents(context.Background(), id)
	if err != nil || len(consents) != 1 || consents[0].ParticipantID != pid || consents[0].TextVersion != version || consents[0].Lang != "en" {
		t.Fatalf("consent records = %+v, %v", consents, err)
	}

	// Staff views: live counts come from the hub.
	got := e.do(adv, "GET", "/api/v1/consultations/"+id, nil).json(t)
	if live := got["live"].(map[string]any); live["waiting"] != float64(1) || got["inviteUrl"] != nil {
		t.Fatalf("consultation = %v; want live.waiting 1 and no inviteUrl", got)
	}
	list := e.do(adv, "GET", "/api/v1/consultations", nil).json(t)["consultations"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != id {
		t.Fatalf("list = %v", list)
	}

	// A fresh invite replaces the old link.
	r = e.staff(adv, "POST", "/api/v1/consultations/"+id+"/invite", nil)
	newURL, _ := r.json(t)["inviteUrl"].(string)
	if r.StatusCode != 200 || newURL == "" || newURL == inviteURL {
		t.Fatalf("new invite: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(cust, "GET", "/api/v1/invites/"+token, nil); r.StatusCode != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("old invite: %d %s", r.StatusCode, r.body)
	}
	_, token2, _ := strings.Cut(newURL, "/j/")

	// End: records, hub, and the link says "ended".
	r = e.staff(adv, "POST", "/api/v1/consultations/"+id+"/end", nil)
	if r.StatusCode != 200 || r.json(t)["state"] != "ended" || r.json(t)["endedAt"] == nil {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}
	if len(e.fake.ended) != 1 || e.fake.ended[0] != signaling.ConsultationID(id) {
		t.Fatalf("hub.End calls = %v", e.fake.ended)
	}
	if r := e.do(cust, "GET", "/api/v1/invites/"+token2, nil); r.StatusCode != http.StatusGone || r.errCode(t) != "ended" {
		t.Fatalf("invite of ended consultation: %d %s", r.StatusCode, r.body)
	}
	r = e.do(cust, "POST", "/api/v1/invites/"+token2+"/join", map[string]any{"consent": true, "consentVersion": version, "lang": "de"})
	if r.StatusCode != http.StatusGone {
		t.Fatalf("join ended: %d", r.StatusCode)
	}
	if r := e.staff(adv, "POST", "/api/v1/consultations/"+id+"/invite", nil); r.StatusCode != http.StatusGone || r.errCode(t) != "ended" {
		t.Fatalf("new invite for ended: %d %s", r.StatusCode, r.body)
	}
}

func TestConsultationValidationAndAccess(t *testing.T) {
	e := newEnv(t)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	carl, _ := e.loggedIn("carl", records.RoleAdvisor)
	id, _ := e.createConsultation(anna, "")

	if r := e.staff(anna, "POST", "/api/v1/consultations", map[string]string{"title": strings.Repeat("t", 121)}); r.StatusCode != 400 || !strings.Contains(string(r.body), "title") {
		t.Fatalf("long title: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(anna, "POST", "/api/v1/consultations", nil); r.StatusCode != 201 {
		t.Fatalf("create without body: %d %s", r.StatusCode, r.body)
	}
	// Someone else's consultation does not exist for carl.
	for _, p := range []string{"", "/invite", "/colleague", "/end"} {
		method := "POST"
		if p == "" {
			method = "GET"
		}
		if r := e.staff(carl, method, "/api/v1/consultations/"+id+p, nil); r.StatusCode != 404 {
			t.Errorf("carl %s %s: %d", method, p, r.StatusCode)
		}
	}
	if r := e.do(anna, "GET", "/api/v1/consultations/c_unknown", nil); r.StatusCode != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("unknown: %d", r.StatusCode)
	}
	if r := e.do(carl, "GET", "/api/v1/consultations", nil); r.StatusCode != 200 || string(r.body) != `{"consultations":[]}` {
		t.Fatalf("carl's empty list: %d %s", r.StatusCode, r.body)
	}
}

func TestColleagueLink(t *testing.T) {
	e := newEnv(t)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	e.user("bert", records.RoleAdvisor)
	back, _ := e.loggedIn("berta", records.RoleBackoffice)
	id, _ := e.createConsultation(anna, "Team")

	r := e.staff(anna, "POST", "/api/v1/consultations/"+id+"/colleague", nil)
	m := r.json(t)
	link, _ := m["url"].(string)
	if r.StatusCode != 200 || !strings.HasPrefix(link, e.ts.URL+"/c/") || m["expiresAt"] == nil {
		t.Fatalf("colleague: %d %s", r.StatusCode, r.body)
	}
	path := strings.TrimPrefix(link, e.ts.URL)

	bert := e.client()
	r = e.do(bert, "GET", path, nil)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/login?next=%2Fc%2F"+strings.TrimPrefix(path, "/c/") {
		t.Fatalf("colleague link before login: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := e.do(back, "GET", path, nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("backoffice follows colleague link: %d", r.StatusCode)
	}
	e.login(bert, "bert")
	// Opening the link (also from another site: a cross-site GET, an
	// image, a prefetch) only shows a confirmation.
	r = e.do(bert, "GET", path, nil, "Sec-Fetch-Site", "cross-site")
	if r.StatusCode != http.StatusOK || !strings.Contains(string(r.body), `method="post" action="`+path+`"`) {
		t.Fatalf("colleague link after login: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(bert, "GET", "/api/v1/consultations/"+id, nil); r.StatusCode == 200 {
		t.Fatal("a GET of the colleague link added the consultation")
	}
	m2 := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(r.body)
	if m2 == nil {
		t.Fatalf("no CSRF field in %s", r.body)
	}
	form := "csrf=" + url.QueryEscape(string(m2[1]))
	ct := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name string
		body string
		hdr  []string
	}{
		{"foreign origin", form, []string{"Content-Type", ct, "Origin", "https://evil.example"}},
		{"cross-site without origin", form, []string{"Content-Type", ct, "Sec-Fetch-Site", "cross-site"}},
		{"same-site", form, []string{"Content-Type", ct, "Sec-Fetch-Site", "same-site"}},
		{"opaque origin, cross-site", form, []string{"Content-Type", ct, "Origin", "null", "Sec-Fetch-Site", "cross-site"}},
		{"no CSRF field", "", []string{"Content-Type", ct}},
		{"wrong CSRF field", "csrf=" + url.QueryEscape(csrfFor("another login")), []string{"Content-Type", ct}},
	} {
		if r := e.do(bert, "POST", path, tc.body, tc.hdr...); r.StatusCode != http.StatusForbidden {
			t.Fatalf("POST %s: %d; want 403", tc.name, r.StatusCode)
		}
	}
	if r := e.do(bert, "GET", "/api/v1/consultations/"+id, nil); r.StatusCode == 200 {
		t.Fatal("a refused POST added the consultation")
	}
	if r := e.do(back, "POST", path, "csrf=x", "Content-Type", ct); r.StatusCode != http.StatusForbidden {
		t.Fatalf("backoffice posts colleague link: %d", r.StatusCode)
	}
	// What Chromium sends from our page (no referrer: "Origin: null").
	r = e.do(bert, "POST", path, form, "Content-Type", ct, "Origin", "null", "Sec-Fetch-Site", "same-origin")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/app/call/"+id {
		t.Fatalf("colleague joins: %d %q %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if r := e.do(bert, "GET", "/api/v1/consultations/"+id, nil); r.StatusCode != 200 {
		t.Fatalf("colleague reads consultation: %d", r.StatusCode)
	}
	if list := e.do(bert, "GET", "/api/v1/consultations", nil).json(t)["consultations"].([]any); len(list) != 1 {
		t.Fatalf("colleague's list = %v", list)
	}
	if r := e.do(bert, "GET", "/c/unknown-token", nil); r.StatusCode != 404 || !strings.Contains(string(r.body), "ungültig") {
		t.Fatalf("unknown colleague link: %d", r.StatusCode)
	}
}

// TestConsultationOutlivesMaxDuration: past consultation.max_duration a
// request is refused as ended without ending anything itself; the
// consultation service's expiry ends it in the records and the hub.
func TestConsultationOutlivesMaxDuration(t *testing.T) {
	e := newEnv(t)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, token := e.createConsultation(anna, "")
	e.fake.Open(signaling.ConsultationInfo{ID: signaling.ConsultationID(id)})
	e.rec.SetClock(func() time.Time { return time.Now().Add(e.cfg.Consultation.MaxDuration + time.Minute) })

	if r := e.do(e.client(), "GET", "/api/v1/invites/"+token, nil); r.StatusCode != http.StatusGone || r.errCode(t) != "ended" {
		t.Fatalf("invite after max duration: %d %s", r.StatusCode, r.body)
	}
	if c, err := e.rec.ConsultationByID(t.Context(), id); err != nil || c.State != records.StateOpen || len(e.fake.ended) != 0 {
		t.Fatalf("a GET changed the consultation: %+v, %v, hub.End calls %v", c, err, e.fake.ended)
	}
	if ids, err := e.cons.ExpireDue(t.Context()); err != nil || len(ids) != 1 || string(ids[0]) != id {
		t.Fatalf("ExpireDue = %v, %v", ids, err)
	}
	c, err := e.rec.ConsultationByID(t.Context(), id)
	if err != nil || c.State != records.StateEnded {
		t.Fatalf("records: %+v, %v; want ended", c, err)
	}
	if len(e.fake.ended) != 1 {
		t.Fatalf("hub.End calls = %v", e.fake.ended)
	}
}

func TestJoinHubErrors(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{signaling.ErrFull, 409, "conflict"},
		{signaling.ErrEnded, 410, "ended"},
		{signaling.ErrNoConsultation, 404, "not_found"},
		{errors.New("redis: connection refused to 10.1.2.3"), 500, "internal"},
		{fmt.Errorf("store session: %w: dial tcp 10.1.2.3:6379: connection refused", signaling.ErrUnavailable), 503, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			e := newEnv(t)
			anna, _ := e.loggedIn("anna", records.RoleAdvisor)
			_, token := e.createConsultation(anna, "")
			version := e.consentVersion(token)
			e.fake.addErr = tt.err
			r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", map[string]any{"consent": true, "consentVersion": version, "lang": "de"})
			if r.StatusCode != tt.status || r.errCode(t) != tt.code || strings.Contains(string(r.body), "10.1.2.3") {
				t.Fatalf("got %d %s; want %d %s", r.StatusCode, r.body, tt.status, tt.code)
			}
		})
	}
}

func TestRecoveryRendersJSON500(t *testing.T) {
	e := newEnv(t)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	_, token := e.createConsultation(anna, "")
	version := e.consentVersion(token)
	e.fake.addPanic = true
	r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", map[string]any{"consent": true, "consentVersion": version, "lang": "de"})
	if r.StatusCode != 500 || r.errCode(t) != "internal" || strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), "goroutine") {
		t.Fatalf("panic: %d %s", r.StatusCode, r.body)
	}
	if !strings.Contains(e.logs.String(), "fake hub exploded") {
		t.Fatal("panic not logged")
	}
	if r := e.do(e.client(), "GET", "/healthz", nil); r.StatusCode != 200 {
		t.Fatal("server dead after panic")
	}
}

func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	big := `{"title":"` + strings.Repeat("x", 70<<10) + `"}`
	if r := e.staff(anna, "POST", "/api/v1/consultations", big); r.StatusCode != http.StatusRequestEntityTooLarge || r.errCode(t) != "bad_request" {
		t.Fatalf("70 KiB body: %d %s", r.StatusCode, r.body)
	}
	r := e.staff(anna, "POST", "/api/v1/consultations", `{"title": 5}`)
	if r.StatusCode != 400 || !strings.Contains(string(r.body), `\"title\"`) {
		t.Fatalf("wrong type: %d %s", r.StatusCode, r.body)
	}
	r = e.staff(anna, "POST", "/api/v1/consultations", `{"title": "x",}`)
	if r.StatusCode != 400 || !strings.Contains(string(r.body), "malformed JSON") {
		t.Fatalf("malformed: %d %s", r.StatusCode, r.body)
	}
	r = e.staff(anna, "POST", "/api/v1/consultations", `{"tilte": "x"}`)
	if r.StatusCode != 400 || !strings.Contains(string(r.body), "unknown field") {
		t.Fatalf("unknown field: %d %s", r.StatusCode, r.body)
	}
}

func TestTLSCookiesAndHeaders(t *testing.T) {
	e := newEnvWith(t, nil, true, func(c *config.Config) {
		c.HTTP.TLSCert, c.HTTP.TLSKey = "cert.pem", "key.pem" // only cfg.TLS() matters here
	})
	e.user("anna", records.RoleAdvisor)
	c := e.client()
	r := e.do(c, "POST", "/api/v1/login", map[string]string{"username": "anna", "password": testPassword})
	if r.StatusCode != 200 {
		t.Fatalf("login: %d", r.StatusCode)
	}
	if !r.cookie(cookieStaff).Secure || !r.cookie(cookieCSRF).Secure {
		t.Fatalf("cookies not Secure under TLS: %v", r.Cookies())
	}
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS under TLS")
	}
	host := strings.TrimPrefix(e.ts.URL, "https://")
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' wss://"+host+";") {
		t.Fatalf("CSP %q: want connect-src 'self' wss://%s", csp, host)
	}
	_, token := e.createConsultation(c, "")
	r = e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", map[string]any{"consent": true, "consentVersion": e.consentVersion(token), "lang": "de"})
	if ck := r.cookie(cookieSession); ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Fatalf("session cookie under TLS: %+v", ck)
	}
}

func TestInviteURLBase(t *testing.T) {
	tests := []struct {
		name    string
		public  string
		proxies []string
		hdr     []string
		want    string // prefix; "" means the test server's URL
	}{
		{"derived from request", "", nil, nil, ""},
		{"public URL wins", "https://video.example.com/", nil, []string{"X-Forwarded-Proto", "http"}, "https://video.example.com/j/"},
		{"untrusted X-Forwarded-Proto ignored", "", nil, []string{"X-Forwarded-Proto", "https"}, ""},
		{"trusted proxy's X-Forwarded-Proto", "", []string{"127.0.0.0/8", "::1"}, []string{"X-Forwarded-Proto", "https"}, "https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *config.Config) { c.HTTP.PublicURL, c.HTTP.TrustedProxies = tt.public, tt.proxies })
			e.user("anna", records.RoleAdvisor)
			// Cookies by hand: behind a TLS proxy they are Secure, which a
			// jar would not send back over the test's plain HTTP.
			login := e.do(e.client(), "POST", "/api/v1/login", map[string]string{"username": "anna", "password": testPassword}, tt.hdr...)
			staff, csrf := login.cookie(cookieStaff), login.cookie(cookieCSRF)
			if staff == nil || csrf == nil {
				t.Fatalf("login: %d %s", login.StatusCode, login.body)
			}
			if secure := strings.HasPrefix(tt.want, "https://") && tt.public == ""; staff.Secure != secure {
				t.Fatalf("staff cookie Secure = %v; want %v", staff.Secure, secure)
			}
			hdr := append([]string{"Cookie", cookieStaff + "=" + staff.Value + "; " + cookieCSRF + "=" + csrf.Value, headerCSRF, csrf.Value}, tt.hdr...)
			r := e.do(e.client(), "POST", "/api/v1/consultations", map[string]string{}, hdr...)
			want := tt.want
			if want == "" {
				want = e.ts.URL + "/j/"
			} else if want == "https://" {
				want = "https://" + strings.TrimPrefix(e.ts.URL, "http://") + "/j/"
			}
			if got, _ := r.json(t)["inviteUrl"].(string); !strings.HasPrefix(got, want) {
				t.Fatalf("inviteUrl %q; want prefix %q", got, want)
			}
		})
	}
}
