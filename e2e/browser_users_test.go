package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/records"
)

// TestBrowserStaffAdmin: an admin whose password was set by someone else
// must choose her own at login before the console opens; the console
// links to the back office and the user administration, where she adds an
// advisor (who must change the first password) and disables him. An
// advisor's console links to the back office, not to the administration.
func TestBrowserStaffAdmin(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	if _, err := srv.Records.CreateUser(ctx, adminName, "Ada Admin", records.RoleAdmin, advisorPassword); err != nil {
		t.Fatal(err)
	}
	if err := srv.Records.ResetPassword(ctx, adminName, advisorPassword); err != nil {
		t.Fatal(err)
	}
	admin := newBrowser(t, "admin", 1366, 768)
	within(t, admin, 20*time.Second, "admin logs in", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, adminName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="change-password-form"]`),
	))
	saveScreenshot(t, admin, "users-change-password")
	within(t, admin, 20*time.Second, "admin sets her own password", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="change-new"]`, "adas own password"),
		chromedp.SendKeys(`[data-testid="change-repeat"]`, "adas own password"),
		chromedp.Click(`[data-testid="change-submit"]`),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
		chromedp.WaitVisible(`[data-testid="to-backoffice"]`),
		chromedp.WaitVisible(`[data-testid="to-users"]`),
	))
	saveScreenshot(t, admin, "users-console-links")
	within(t, admin, 20*time.Second, "admin opens the user administration", chromedp.Steps(
		chromedp.Click(`[data-testid="to-users"]`),
		chromedp.WaitVisible(`[data-testid="user-`+advisorName+`"]`),
		chromedp.SendKeys(`[data-testid="user-add-username"]`, "bert"),
		chromedp.SendKeys(`[data-testid="user-add-display"]`, "Bert Berater"),
		chromedp.SendKeys(`[data-testid="user-add-password"]`, "berts first password"),
		chromedp.Click(`[data-testid="user-add-submit"]`),
		chromedp.WaitVisible(`[data-testid="user-bert"]`),
	))
	if v := textOf(t, admin, `[data-testid="user-state-bert"]`); v != "Aktiv – muss Passwort ändern" {
		t.Errorf("new user's state %q", v)
	}
	saveScreenshot(t, admin, "users-added")
	within(t, admin, 20*time.Second, "admin disables Bert", chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="user-toggle-bert"]').scrollIntoView({block: 'center'})`),
		chromedp.Click(`[data-testid="user-toggle-bert"]`),
	))
	waitJS(t, admin, 20*time.Second, "Bert disabled", `document.querySelector('[data-testid="user-bert"]')?.dataset.disabled === 'true' || !document.querySelector('[data-testid="users-error"]').hidden`)
	if v := textOf(t, admin, `[data-testid="users-error"]`); v != "" {
		t.Fatalf("disabling: %q", v)
	}
	saveScreenshot(t, admin, "users-page")
	if u, err := srv.Records.UserByUsername(ctx, "bert"); err != nil || !u.Disabled || !u.MustChangePassword || u.Role != records.RoleAdvisor {
		t.Errorf("bert in the records: %+v %v", u, err)
	}

	adv := newBrowser(t, "advisor", 1366, 768)
	within(t, adv, 20*time.Second, "advisor logs in", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, advisorName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="to-backoffice"]`),
	))
	links := within(t, adv, 5*time.Second, "advisor's links", chromedp.Evaluate[string](
		`[...document.querySelectorAll('.topbar a:not([hidden])')].map((a) => a.getAttribute('href')).join(' ')`))
	if !strings.Contains(links, "/backoffice") || strings.Contains(links, "/admin/users") {
		t.Errorf("advisor's header links: %q", links)
	}
	onlyOwnOrigin(t, admin, "admin", srv.base)
}
