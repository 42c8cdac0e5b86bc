package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/records"
)

// TestBrowserBackofficeWithdrawn: a document the advisor withdrew shows
// as "Zurückgezogen" / "Withdrawn" in the back office's contract list,
// and the state filter "withdrawn" finds it and nothing else.
func TestBrowserBackofficeWithdrawn(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	if _, err := srv.Records.CreateUser(ctx, backofficeName, "Berta Backoffice", records.RoleBackoffice, advisorPassword); err != nil {
		t.Fatal(err)
	}
	signedID, _ := presentContract(t, srv, "Baufinanzierung Mustermann", "Darlehensvertrag", customerName)
	openID, _ := presentContract(t, srv, "Kontoeröffnung", "Kontovertrag", "")
	goneID, _ := presentContract(t, srv, "Depot", "Depotvertrag", "")
	d, err := srv.Records.DocumentAnywhere(ctx, goneID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Contracts.Withdraw(ctx, d.ConsultationID, goneID, "staff:1"); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, "backoffice", 1280, 900)
	row := func(id string) string { return `[data-testid="contract-row-` + id + `"]` }
	within(t, b, 20*time.Second, "back-office login", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, backofficeName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(row(signedID)),
		chromedp.WaitVisible(row(openID)),
		chromedp.WaitVisible(row(goneID)),
	))
	text := func(id string) string {
		return within(t, b, 5*time.Second, "row text", chromedp.Evaluate[string](`document.querySelector('`+row(id)+`').innerText`))
	}
	for id, want := range map[string]string{goneID: "Zurückgezogen", openID: "Offen", signedID: "Unterschrieben"} {
		if got := text(id); !strings.Contains(got, want) {
			t.Errorf("row %q lacks %q", got, want)
		}
	}
	if got := text(openID); strings.Contains(got, "Zurückgezogen") {
		t.Errorf("open contract's row %q says withdrawn", got)
	}

	// The filter: only the withdrawn one.
	rows := `[...document.querySelectorAll('[data-testid^="contract-row-"]')].map((r) => r.dataset.testid).join(' ')`
	within(t, b, 10*time.Second, "filter withdrawn", chromedp.Steps(
		chromedp.SetValue(`[data-testid="search-state"]`, "withdrawn"),
		chromedp.Click(`[data-testid="search-submit"]`),
	))
	waitJS(t, b, 10*time.Second, "only the withdrawn contract listed", rows+` === 'contract-row-`+goneID+`'`)
	saveScreenshot(t, b, "backoffice-withdrawn-filter")
	// "Open" no longer lists it.
	within(t, b, 10*time.Second, "filter open", chromedp.Steps(
		chromedp.SetValue(`[data-testid="search-state"]`, "open"),
		chromedp.Click(`[data-testid="search-submit"]`),
	))
	waitJS(t, b, 10*time.Second, "only the open contract listed", rows+` === 'contract-row-`+openID+`'`)

	// English.
	within(t, b, 10*time.Second, "filter withdrawn again", chromedp.Steps(
		chromedp.SetValue(`[data-testid="search-state"]`, "withdrawn"),
		chromedp.Click(`[data-testid="search-submit"]`),
	))
	waitJS(t, b, 10*time.Second, "withdrawn listed", rows+` === 'contract-row-`+goneID+`'`)
	within(t, b, 5*time.Second, "switch to English", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, b, 10*time.Second, "English row and filter", `document.querySelector('`+row(goneID)+`').innerText.includes('Withdrawn') &&
		document.querySelector('[data-testid="search-state"] option[value="withdrawn"]').textContent === 'Withdrawn'`)
	saveScreenshot(t, b, "backoffice-withdrawn-filter-en")
}
