package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
)

// Staff single sign-on through the company's OpenID Connect provider
// (SSO.md): the authorization code flow with PKCE and a nonce. The state,
// nonce, PKCE verifier and the page to return to ride in a short-lived
// HttpOnly cookie scoped to /auth/oidc, so any node of a cluster can
// finish a sign-on another began.

const (
	cookieSSO    = "parley_sso"
	ssoPath      = "/auth/oidc"
	ssoCookieAge = 10 * time.Minute
	// ssoRetry is how long a failed discovery is remembered before the
	// provider is asked again.
	ssoRetry = 5 * time.Second
	// ssoTimeout bounds every call to the provider.
	ssoTimeout = 10 * time.Second
)

// The reasons a sign-on ends on /login?sso_error=…; the login page words
// each one.
const (
	ssoDenied      = "denied"      // the role claim admits no role
	ssoNoAccount   = "no_account"  // no account, and none is made just in time
	ssoDisabled    = "disabled"    // an admin disabled the account
	ssoFailed      = "failed"      // the flow broke (state, code, token)
	ssoUnavailable = "unavailable" // the provider could not be reached
	ssoCancelled   = "cancelled"   // the provider reported an error (e.g. the user cancelled)
)

// sso holds the provider, discovered at the first sign-on (a provider that
// is down does not stop Parley from starting).
type sso struct {
	cfg    config.OIDCConfig
	log    *slog.Logger
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	failedAt time.Time
}

func newSSO(cfg config.OIDCConfig, log *slog.Logger) *sso {
	if !cfg.Enabled {
		return nil
	}
	return &sso{cfg: cfg, log: log, client: &http.Client{Timeout: ssoTimeout}}
}

// discover fetches the provider's discovery document once.
func (o *sso) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	if time.Since(o.failedAt) < ssoRetry {
		return nil, errors.New("sso: provider discovery failed moments ago")
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.client), ssoTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		o.failedAt = time.Now()
		return nil, fmt.Errorf("sso: discover %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *sso) oauth(p *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: redirect,
		Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...),
	}
}

// ssoFlight is the sign-on in progress, kept in the parley_sso cookie.
type ssoFlight struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
}

func (s *Server) ssoRoutes(api *gin.RouterGroup, e *gin.Engine) {
	api.GET("/login/methods", s.api(s.handleLoginMethods))
	e.GET(ssoPath+"/login", s.page(s.handleSSOLogin))
	e.GET(ssoPath+"/callback", s.page(s.handleSSOCallback))
}

// handleLoginMethods: GET /api/v1/login/methods, what the login page
// offers.
func (s *Server) handleLoginMethods(c *gin.Context) error {
	res := gin.H{"password": s.cfg.Auth.PasswordLogin, "sso": s.sso != nil}
	if s.sso != nil && s.cfg.Auth.OIDC.ButtonLabel != "" {
		res["ssoLabel"] = s.cfg.Auth.OIDC.ButtonLabel
	}
	c.JSON(http.StatusOK, res)
	return nil
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ssoFail ends a sign-on on the login page with a reason it words.
func (s *Server) ssoFail(c *gin.Context, reason string) {
	http.SetCookie(c.Writer, s.ssoCookie(c.Request, "", -1))
	c.Redirect(http.StatusFound, "/login?sso_error="+reason)
}

func (s *Server) ssoCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieSSO, Value: value, Path: ssoPath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode}
}

// ssoProvider returns the provider and this server's base URL; a nil
// provider means the sign-on was ended on the login page (unreachable).
func (s *Server) ssoProvider(c *gin.Context) (*oidc.Provider, string, error) {
	ctx := c.Request.Context()
	p, err := s.sso.discover(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "sso: provider unreachable", "err", err)
		s.ssoFail(c, ssoUnavailable)
		return nil, "", nil
	}
	base, err := s.baseURL(c.Request)
	return p, base, err
}

// handleSSOLogin: GET /auth/oidc/login?next=…, off to the provider.
func (s *Server) handleSSOLogin(c *gin.Context) error {
	if s.sso == nil {
		return errNoRoute
	}
	p, base, err := s.ssoProvider(c)
	if err != nil || p == nil {
		return err
	}
	f := ssoFlight{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: safeNext(c.Query("next"))}
	raw, _ := json.Marshal(f)
	http.SetCookie(c.Writer, s.ssoCookie(c.Request, base64.RawURLEncoding.EncodeToString(raw), int(ssoCookieAge/time.Second)))
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, s.sso.oauth(p, base+ssoPath+"/callback").AuthCodeURL(f.State,
		oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)))
	return nil
}

// handleSSOCallback: GET /auth/oidc/callback, the provider's answer.
func (s *Server) handleSSOCallback(c *gin.Context) error {
	if s.sso == nil {
		return errNoRoute
	}
	ctx := c.Request.Context()
	var f ssoFlight
	raw, err := c.Cookie(cookieSSO)
	if err == nil {
		var b []byte
		if b, err = base64.RawURLEncoding.DecodeString(raw); err == nil {
			err = json.Unmarshal(b, &f)
		}
	}
	if err != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" || c.Query("state") != f.State {
		s.log.InfoContext(ctx, "sso: callback without a matching sign-on")
		s.ssoFail(c, ssoFailed)
		return nil
	}
	if e := c.Query("error"); e != "" {
		s.log.InfoContext(ctx, "sso: the provider refused", "error", truncate(e, 64))
		s.ssoFail(c, ssoCancelled)
		return nil
	}
	p, base, err := s.ssoProvider(c)
	if err != nil || p == nil {
		return err
	}
	pctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, s.sso.client), ssoTimeout)
	defer cancel()
	oc := s.sso.oauth(p, base+ssoPath+"/callback")
	tok, err := oc.Exchange(pctx, c.Query("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.log.WarnContext(ctx, "sso: code exchange failed", "err", err)
		s.ssoFail(c, ssoFailed)
		return nil
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: s.cfg.Auth.OIDC.ClientID}).Verify(pctx, rawID)
	if err != nil || idt.Nonce != f.Nonce {
		s.log.WarnContext(ctx, "sso: id token refused", "err", err, "nonce_ok", err == nil && idt.Nonce == f.Nonce)
		s.ssoFail(c, ssoFailed)
		return nil
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		s.ssoFail(c, ssoFailed)
		return nil
	}
	// Claims the ID token lacks may be in the userinfo (providers differ).
	if p.UserInfoEndpoint() != "" {
		if ui, err := p.UserInfo(pctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			more := map[string]any{}
			if ui.Claims(&more) == nil {
				for k, v := range more {
					if _, ok := claims[k]; !ok {
						claims[k] = v
					}
				}
			}
		} else if err != nil {
			s.log.InfoContext(ctx, "sso: userinfo not read", "err", err)
		}
	}
	u, reason, err := s.ssoAccount(ctx, idt.Issuer+" "+idt.Subject, claims)
	if err != nil {
		return err
	}
	if reason != "" {
		s.ssoFail(c, reason)
		return nil
	}
	if err := s.startLogin(c, u); err != nil {
		return err
	}
	http.SetCookie(c.Writer, s.ssoCookie(c.Request, "", -1))
	s.log.InfoContext(ctx, "sso: signed on", "user", u.ID, "role", u.Role)
	next := "/login?sso=1"
	if f.Next != "" {
		next += "&next=" + url.QueryEscape(f.Next)
	}
	c.Redirect(http.StatusFound, next)
	return nil
}

// ssoAccount finds, binds or creates the account of a provider account
// and gives it the role its claims map to. A non-empty reason refuses the
// sign-on.
func (s *Server) ssoAccount(ctx context.Context, subject string, claims map[string]any) (records.User, string, error) {
	cfg := s.cfg.Auth.OIDC
	role := mapRole(claimStrings(claims, cfg.RoleClaim), cfg.RoleMap)
	if role == "" {
		s.log.InfoContext(ctx, "sso: refused, the role claim admits no role", "claim", cfg.RoleClaim)
		return records.User{}, ssoDenied, nil
	}
	display := claimString(claims, cfg.DisplayNameClaim)
	if clean, err := records.CleanText("display name", display, records.MaxDisplayNameLen); err == nil {
		display = clean
	} else {
		display = ""
	}
	u, err := s.rec.UserByOIDC(ctx, subject)
	if errors.Is(err, records.ErrNotFound) {
		u, err = s.bindOrCreate(ctx, subject, claimString(claims, cfg.UsernameClaim), display, role)
		if errors.Is(err, records.ErrNotFound) {
			return records.User{}, ssoNoAccount, nil
		}
		if errors.Is(err, records.ErrInvalid) || errors.Is(err, records.ErrConflict) {
			s.log.InfoContext(ctx, "sso: refused, no account fits", "err", err)
			return records.User{}, ssoNoAccount, nil
		}
	}
	if err != nil {
		return records.User{}, "", err
	}
	if u.Disabled {
		return records.User{}, ssoDisabled, nil
	}
	if u.Role != role || (display != "" && u.DisplayName != display) {
		if u, err = s.rec.UpdateFromProvider(ctx, u.ID, role, display); err != nil {
			return records.User{}, "", err
		}
	}
	return u, "", nil
}

// bindOrCreate: the first sign-on of a provider account binds the
// account of the same user name, or makes one when create_accounts is on.
func (s *Server) bindOrCreate(ctx context.Context, subject, username string, display string, role records.Role) (records.User, error) {
	existing, err := s.rec.UserByUsername(ctx, username)
	switch {
	case err == nil:
		if existing.SSO {
			// Bound to another provider account: a reused user name is
			// not the same person.
			return records.User{}, fmt.Errorf("sso: user name bound to another provider account: %w", records.ErrConflict)
		}
		return s.rec.BindOIDC(ctx, existing.ID, subject)
	case !errors.Is(err, records.ErrNotFound):
		return records.User{}, err
	case !s.cfg.Auth.OIDC.CreateAccounts:
		return records.User{}, err
	}
	return s.rec.CreateOIDCUser(ctx, username, display, role, subject)
}

// claimStrings reads a claim that is a string or a list of strings; a
// dotted path reaches into objects (realm_access.roles).
func claimStrings(claims map[string]any, path string) []string {
	var v any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func claimString(claims map[string]any, path string) string {
	if v := claimStrings(claims, path); len(v) > 0 {
		return v[0]
	}
	return ""
}

// mapRole gives the most powerful role any value maps to, or "".
func mapRole(values []string, roleMap map[string]string) records.Role {
	rank := map[records.Role]int{records.RoleBackoffice: 1, records.RoleAdvisor: 2, records.RoleAdmin: 3}
	var best records.Role
	for _, v := range values {
		r := records.Role(roleMap[v])
		if rank[r] > rank[best] {
			best = r
		}
	}
	return best
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
