package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// TestBrowserBackofficeTypedSignature: a contract signed without drawing
// (the accessible alternative) is shown in the back office as what it
// is: valid, "keine, da ohne Zeichnen unterschrieben …" for the biometric
// data and the way of signing named, never "fehlen" or a red mark; the
// page has no axe-core violation.
func TestBrowserBackofficeTypedSignature(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	d, _ := presentedContract(t, srv, "Ohne Zeichnen", records.SignerCustomer)
	if _, err := srv.Contracts.Sign(ctx, contracts.Signing{ConsultationID: d.ConsultationID, DocumentID: d.ID, Field: records.SignerCustomer,
		As: records.SignerCustomer, SignerName: customerName, SignerRef: "participant:p_typed",
		Method: signature.MethodTyped, TypedName: customerName, Confirmed: true}); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, "backoffice", 1366, 768)
	within(t, b, 30*time.Second, "open the contract", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, backofficeName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="open-`+d.ID+`"]`),
		chromedp.Click(`[data-testid="open-`+d.ID+`"]`),
	))
	waitJS(t, b, 20*time.Second, "verdict shown", `!!document.querySelector('#detail-verdict [data-testid="signature-summary"]')`)
	waitJS(t, b, 10*time.Second, "audit trail shown", `!!document.querySelector('[data-testid="audit-chain"]')`)
	got := within(t, b, 5*time.Second, "verdict", chromedp.Evaluate[map[string]any](`(() => ({
		verdict: document.querySelector('#detail-verdict [data-testid="verdict"]').dataset.verdict,
		text: document.querySelector('#detail-verdict').innerText,
		typed: document.querySelectorAll('#detail-verdict [data-state="typed"]').length,
		bad: document.querySelectorAll('#detail-verdict [data-testid="signature-summary"] .bo-bad').length,
	}))()`))
	t.Logf("verdict: %v", got)
	text, _ := got["text"].(string)
	if got["verdict"] != "valid_with_warnings" || got["typed"] != float64(1) || got["bad"] != float64(0) {
		t.Fatalf("typed signature shown as %v: %s", got, text)
	}
	for _, want := range []string{"keine, da ohne Zeichnen unterschrieben", "Art der Unterschrift", "barrierefreie Alternative"} {
		if !strings.Contains(text, want) {
			t.Errorf("the verdict does not say %q: %s", want, text)
		}
	}
	if strings.Contains(text, "fehlen") || strings.Contains(text, "gehören nicht") {
		t.Errorf("a typed signature told as missing or tampered: %s", text)
	}
	checkA11y(t, b, "backoffice-typed")
}
