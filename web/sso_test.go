package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/oidctest"
	"github.com/parley-video/parley/records"
)

const ssoClientSecret = "parley-test-client-secret"

// ssoEnv is a Parley server whose staff sign on through a real OpenID
// Connect provider on loopback.
type ssoEnv struct {
	*env
	idp *oidctest.Provider
}

func newSSOEnv(t *testing.T, opts ...envOption) ssoEnv {
	t.Helper()
	idp := oidctest.New(t)
	opts = append([]envOption{func(c *config.Config) {
		c.Auth.OIDC = config.OIDCConfig{
			Enabled: true, Issuer: idp.Issuer, ClientID: "parley", ClientSecret: ssoClientSecret,
			Scopes: []string{"profile", "email"}, RoleClaim: "groups",
			RoleMap:       map[string]string{"parley-advisors": "advisor", "parley-admins": "admin", "parley-backoffice": "backoffice"},
			UsernameClaim: "preferred_username", DisplayNameClaim: "name", CreateAccounts: true,
		}
	}}, opts...)
	e := newEnv(t, opts...)
	idp.AddUser(oidctest.User{Subject: "u-anna", Username: "anna", Password: "anna-secret", Name: "Anna Berg", Groups: []string{"parley-advisors"}})
	idp.AddUser(oidctest.User{Subject: "u-bert", Username: "bert", Password: "bert-secret", Name: "Bert Kurz", Groups: []string{"staff", "parley-advisors", "parley-admins"}})
	idp.AddUser(oidctest.User{Subject: "u-carl", Username: "carl", Password: "carl-secret", Name: "Carl Ohne"})
	idp.Start(t, "parley", ssoClientSecret, e.ts.URL+"/auth/oidc/callback")
	return ssoEnv{env: e, idp: idp}
}

var loginFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signOn runs the whole sign-on as a browser would, following every
// redirect between Parley and the provider, and returns where it ended.
func (s ssoEnv) signOn(c *http.Client, username, password string) *url.URL {
	s.t.Helper()
	follow := &http.Client{Jar: c.Jar, Transport: c.Transport, Timeout: c.Timeout}
	resp, err := follow.Get(s.ts.URL + "/auth/oidc/login?next=" + url.QueryEscape("/app/call/x1"))
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginFormID.FindSubmatch(body)
	if m == nil {
		s.t.Fatalf("no provider login form at %s: %d %s", resp.Request.URL, resp.StatusCode, body)
	}
	if !strings.HasPrefix(resp.Request.URL.String(), s.idp.Issuer) {
		s.t.Fatalf("login form served by %s, not the provider", resp.Request.URL)
	}
	resp, err = follow.PostForm(s.idp.Issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}})
	if err != nil {
		s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Request.URL
}

func (s ssoEnv) me(c *http.Client) map[string]any {
	s.t.Helper()
	r := s.do(c, "GET", "/api/v1/me", nil)
	if r.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /me after the sign-on: %d %s", r.StatusCode, r.body)
	}
	return r.json(s.t)
}

func TestSSOSignOn(t *testing.T) {
	s := newSSOEnv(t)
	r := s.do(s.client(), "GET", "/api/v1/login/methods", nil)
	if m := r.json(t); m["password"] != true || m["sso"] != true {
		t.Fatalf("login methods = %s", r.body)
	}

	// An advisor by the groups claim, made just in time; the page to
	// return to survives the trip.
	c := s.client()
	end := s.signOn(c, "anna", "anna-secret")
	if end.Path != "/login" || end.Query().Get("sso") != "1" || end.Query().Get("next") != "/app/call/x1" {
		t.Fatalf("sign-on ended at %s", end)
	}
	me := s.me(c)
	if me["username"] != "anna" || me["role"] != "advisor" || me["displayName"] != "Anna Berg" || me["sso"] != true {
		t.Fatalf("me = %v", me)
	}
	if r := s.staff(c, "GET", "/api/v1/consultations", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("the advisor cannot list consultations: %d %s", r.StatusCode, r.body)
	}
	// The flight cookie is gone; a replayed callback does nothing.
	u, _ := url.Parse(s.ts.URL + ssoPath)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == cookieSSO {
			t.Fatal("the sign-on cookie outlived the sign-on")
		}
	}

	// Several groups: the most powerful role.
	c2 := s.client()
	s.signOn(c2, "bert", "bert-secret")
	if me := s.me(c2); me["role"] != "admin" {
		t.Fatalf("bert = %v", me)
	}

	// No role claim: refused, no account, no login.
	c3 := s.client()
	end = s.signOn(c3, "carl", "carl-secret")
	if end.Path != "/login" || end.Query().Get("sso_error") != ssoDenied {
		t.Fatalf("carl's sign-on ended at %s", end)
	}
	if r := s.do(c3, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("carl is logged in: %d", r.StatusCode)
	}
	if _, err := s.rec.UserByUsername(context.Background(), "carl"); err == nil {
		t.Fatal("an account was made for someone the role claim refuses")
	}

	// Logout ends the login.
	if r := s.staff(c, "POST", "/api/v1/logout", nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.StatusCode, r.body)
	}
	if r := s.do(c, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", r.StatusCode)
	}

	// The provider decides the role at every sign-on, and can take it away.
	s.idp.SetGroups("u-anna", "parley-backoffice")
	s.signOn(c, "anna", "anna-secret")
	if me := s.me(c); me["role"] != "backoffice" {
		t.Fatalf("anna after her groups changed = %v", me)
	}
	s.idp.SetGroups("u-anna")
	c4 := s.client()
	if end := s.signOn(c4, "anna", "anna-secret"); end.Query().Get("sso_error") != ssoDenied {
		t.Fatalf("anna without groups ended at %s", end)
	}

	// A disabled account stays out.
	s.idp.SetGroups("u-anna", "parley-advisors")
	anna, _ := s.rec.UserByUsername(context.Background(), "anna")
	if _, err := s.rec.SetDisabled(context.Background(), anna.ID, true); err != nil {
		t.Fatal(err)
	}
	if end := s.signOn(s.client(), "anna", "anna-secret"); end.Query().Get("sso_error") != ssoDisabled {
		t.Fatalf("disabled anna ended at %s", end)
	}

	// A wrong password at the provider never reaches Parley.
	c5 := s.client()
	if end := s.signOn(c5, "bert", "wrong"); strings.HasPrefix(end.String(), s.ts.URL) {
		t.Fatalf("a wrong provider password ended at %s", end)
	}
	if r := s.do(c5, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("logged in with a wrong provider password: %d", r.StatusCode)
	}
}

// Password login turned off: only the provider lets staff in, even with
// the right password; the SSO accounts never had one.
func TestSSOOnlyRefusesPasswords(t *testing.T) {
	s := newSSOEnv(t, func(c *config.Config) { c.Auth.PasswordLogin = false })
	s.user("dora", records.RoleAdvisor)
	c := s.client()
	r := s.do(c, "POST", "/api/v1/login", map[string]string{"username": "dora", "password": testPassword})
	if r.StatusCode != http.StatusForbidden || r.errCode(t) != "password_login_disabled" {
		t.Fatalf("password login when off: %d %s", r.StatusCode, r.body)
	}
	if m := s.do(c, "GET", "/api/v1/login/methods", nil).json(t); m["password"] != false || m["sso"] != true {
		t.Fatalf("login methods = %v", m)
	}
	s.signOn(c, "anna", "anna-secret")
	if me := s.me(c); me["role"] != "advisor" {
		t.Fatalf("me = %v", me)
	}
}

// Without just-in-time accounts the first sign-on binds the account of
// the same user name; later sign-ons go by the provider's subject, so a
// rename at the provider keeps the person, and a new provider account
// with a taken name gets nobody's account.
func TestSSOBindsExistingAccounts(t *testing.T) {
	s := newSSOEnv(t, func(c *config.Config) { c.Auth.OIDC.CreateAccounts = false })
	ctx := context.Background()
	c := s.client()
	if end := s.signOn(c, "anna", "anna-secret"); end.Query().Get("sso_error") != ssoNoAccount {
		t.Fatalf("sign-on without an account ended at %s", end)
	}
	local := s.user("anna", records.RoleBackoffice)
	s.signOn(c, "anna", "anna-secret")
	me := s.me(c)
	if int64(me["id"].(float64)) != local.ID || me["role"] != "advisor" || me["sso"] != true {
		t.Fatalf("me = %v, want the local account %d as advisor", me, local.ID)
	}
	// Renamed at the provider: still Anna's account.
	s.idp.AddUser(oidctest.User{Subject: "u-anna", Username: "anna.berg", Password: "anna-secret", Name: "Anna Berg", Groups: []string{"parley-advisors"}})
	c2 := s.client()
	s.signOn(c2, "anna.berg", "anna-secret")
	if me := s.me(c2); int64(me["id"].(float64)) != local.ID {
		t.Fatalf("renamed anna = %v", me)
	}
	// Another provider account calling itself "anna" is not Anna.
	s.idp.AddUser(oidctest.User{Subject: "u-impostor", Username: "anna", Password: "imp-secret", Name: "Not Anna", Groups: []string{"parley-admins"}})
	c3 := s.client()
	if end := s.signOn(c3, "anna", "imp-secret"); end.Query().Get("sso_error") != ssoNoAccount {
		t.Fatalf("impostor ended at %s", end)
	}
	if u, _ := s.rec.UserByID(ctx, local.ID); u.Role != records.RoleAdvisor || u.DisplayName != "Anna Berg" {
		t.Fatalf("the impostor changed anna: %+v", u)
	}
}

// A callback that belongs to no sign-on of this browser, and a provider
// that cannot be reached, end on the login page with a reason.
func TestSSOBrokenFlows(t *testing.T) {
	s := newSSOEnv(t)
	c := s.client()
	r := s.do(c, "GET", "/auth/oidc/callback?code=x&state=y", nil)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/login?sso_error="+ssoFailed {
		t.Fatalf("callback without a sign-on: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// A sign-on begun, then a callback with another state (login CSRF).
	r = s.do(c, "GET", "/auth/oidc/login", nil)
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), s.idp.Issuer) {
		t.Fatalf("login: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	r = s.do(c, "GET", "/auth/oidc/callback?code=x&state=forged", nil)
	if r.Header.Get("Location") != "/login?sso_error="+ssoFailed {
		t.Fatalf("forged state: %s", r.Header.Get("Location"))
	}
	// The right state with a made-up code: the provider refuses it.
	r = s.do(c, "GET", "/auth/oidc/login", nil)
	loc, _ := url.Parse(r.Header.Get("Location"))
	r = s.do(c, "GET", "/auth/oidc/callback?code=made-up&state="+url.QueryEscape(loc.Query().Get("state")), nil)
	if r.Header.Get("Location") != "/login?sso_error="+ssoFailed {
		t.Fatalf("made-up code: %s", r.Header.Get("Location"))
	}
	// An open redirect through next is dropped.
	r = s.do(c, "GET", "/auth/oidc/login?next="+url.QueryEscape("//evil.example/x"), nil)
	if r.StatusCode != http.StatusFound {
		t.Fatalf("login with a foreign next: %d", r.StatusCode)
	}
	if ck := r.cookie(cookieSSO); ck == nil || strings.Contains(ck.Value, "evil") {
		t.Fatalf("sign-on cookie %v", ck)
	}
	if r := s.do(c, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("logged in after broken flows: %d", r.StatusCode)
	}

	// A provider that is down.
	down := oidctest.New(t)
	issuer := down.Issuer
	down.Close()
	e := newEnv(t, func(c *config.Config) {
		c.Auth.OIDC = config.OIDCConfig{Enabled: true, Issuer: issuer, ClientID: "parley", RoleClaim: "groups",
			RoleMap: map[string]string{"a": "advisor"}, UsernameClaim: "preferred_username"}
	})
	r = e.do(e.client(), "GET", "/auth/oidc/login", nil)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/login?sso_error="+ssoUnavailable {
		t.Fatalf("provider down: %d %s", r.StatusCode, r.Header.Get("Location"))
	}

	// Single sign-on off: the routes do not exist.
	off := newEnv(t)
	if r := off.do(off.client(), "GET", "/auth/oidc/login", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("sso routes when off: %d", r.StatusCode)
	}
	if m := off.do(off.client(), "GET", "/api/v1/login/methods", nil).json(t); m["password"] != true || m["sso"] != false {
		t.Fatalf("login methods when off = %v", m)
	}
}

func TestClaimStringsAndRoles(t *testing.T) {
	claims := map[string]any{
		"groups":       []any{"a", 7, "b"},
		"role":         "advisor",
		"realm_access": map[string]any{"roles": []any{"x", "parley-admin"}},
	}
	for path, want := range map[string]string{"groups": "a,b", "role": "advisor", "realm_access.roles": "x,parley-admin", "missing": "", "role.deeper": ""} {
		if got := strings.Join(claimStrings(claims, path), ","); got != want {
			t.Errorf("claimStrings(%s) = %q, want %q", path, got, want)
		}
	}
	m := map[string]string{"a": "backoffice", "b": "advisor", "parley-admin": "admin"}
	if r := mapRole([]string{"a", "b"}, m); r != records.RoleAdvisor {
		t.Errorf("mapRole = %q", r)
	}
	if r := mapRole([]string{"zzz"}, m); r != "" {
		t.Errorf("mapRole(unmapped) = %q", r)
	}
}
