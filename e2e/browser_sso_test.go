package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/oidctest"
)

// TestBrowserSSO: with password login turned off, an advisor signs in
// through the company's provider (a real OpenID Connect provider on
// loopback, its own login form), gets the role its groups claim maps to,
// and logs out; a colleague without the claim is turned away with a clear
// message; the login page passes axe.
func TestBrowserSSO(t *testing.T) {
	idp := oidctest.New(t)
	srv := startServer(t, func(c *config.Config) {
		c.Auth.PasswordLogin = false
		c.Auth.OIDC = config.OIDCConfig{
			Enabled: true, Issuer: idp.Issuer, ClientID: "parley", ClientSecret: "sso-client-secret",
			Scopes: []string{"profile", "email"}, RoleClaim: "groups",
			RoleMap:       map[string]string{"parley-advisors": "advisor"},
			UsernameClaim: "preferred_username", DisplayNameClaim: "name", CreateAccounts: true,
			ButtonLabel: "Mit Musterbank-Konto anmelden",
		}
	})
	idp.AddUser(oidctest.User{Subject: "u-anna", Username: "anna.berg", Password: "anna-secret", Name: "Anna Berg", Groups: []string{"parley-advisors"}})
	idp.AddUser(oidctest.User{Subject: "u-carl", Username: "carl", Password: "carl-secret", Name: "Carl Ohne"})
	idp.Start(t, "parley", "sso-client-secret", srv.base+"/auth/oidc/callback")

	adv := newBrowser(t, "advisor", 1366, 768)
	within(t, adv, 20*time.Second, "login page offers the company sign-on only", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`[data-testid="sso-button"]`),
		chromedp.WaitNotVisible(`[data-testid="login-form"]`),
	))
	if v := textOf(t, adv, `[data-testid="sso-button"]`); v != "Mit Musterbank-Konto anmelden" {
		t.Errorf("button %q", v)
	}
	checkA11y(t, adv, "login-sso")
	saveScreenshot(t, adv, "sso-login")
	within(t, adv, 30*time.Second, "advisor signs in at the provider", chromedp.Steps(
		chromedp.Click(`[data-testid="sso-button"]`),
		chromedp.WaitVisible(`input[name="password"]`),
		chromedp.SendKeys(`input[name="username"]`, "anna.berg"),
		chromedp.SendKeys(`input[name="password"]`, "anna-secret"),
		chromedp.Submit(`input[name="password"]`),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
	))
	saveScreenshot(t, adv, "sso-console")
	u, err := srv.Records.UserByUsername(t.Context(), "anna.berg")
	if err != nil || !u.SSO || u.Role != "advisor" || u.DisplayName != "Anna Berg" {
		t.Fatalf("anna's account: %+v, %v", u, err)
	}
	within(t, adv, 20*time.Second, "advisor logs out", chromedp.Steps(
		chromedp.Click(`[data-testid="logout"]`),
		chromedp.WaitVisible(`[data-testid="sso-button"]`),
	))

	other := newBrowser(t, "colleague", 1366, 768)
	within(t, other, 30*time.Second, "a colleague without the claim is turned away", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`[data-testid="sso-button"]`),
		chromedp.Click(`[data-testid="sso-button"]`),
		chromedp.WaitVisible(`input[name="password"]`),
		chromedp.SendKeys(`input[name="username"]`, "carl"),
		chromedp.SendKeys(`input[name="password"]`, "carl-secret"),
		chromedp.Submit(`input[name="password"]`),
		chromedp.WaitVisible(`[data-testid="login-error"]`),
	))
	if v := textOf(t, other, `[data-testid="login-error"]`); !strings.Contains(v, "nicht freigeschaltet") {
		t.Errorf("refusal says %q", v)
	}
	saveScreenshot(t, other, "sso-refused")
}
