package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// TestBrowserBackofficeWording: a valid contract signed by the customer
// and then the advisor does not alarm the back office: the first
// signature's "covers the whole file" says neutrally that a later,
// allowed signature was added; German texts name the fields in German;
// the development seal is marked as such, not as a trusted issuer.
func TestBrowserBackofficeWording(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	d, actor := presentedContract(t, srv, "Zwei Unterschriften", records.SignerCustomer, records.SignerAdvisor)
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range []contracts.Signing{
		{ConsultationID: d.ConsultationID, DocumentID: d.ID, Field: records.SignerCustomer, As: records.SignerCustomer, SignerName: customerName, SignerRef: "participant:p_wording", Capture: capture},
		{ConsultationID: d.ConsultationID, DocumentID: d.ID, Field: records.SignerAdvisor, As: records.SignerAdvisor, SignerName: "Anna Berg", SignerRef: actor, Capture: capture},
	} {
		if _, err := srv.Contracts.Sign(ctx, sg); err != nil {
			t.Fatalf("sign %s: %v", sg.Field, err)
		}
	}

	b := newBrowser(t, "backoffice", 1280, 900)
	within(t, b, 30*time.Second, "open the contract", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, backofficeName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="open-`+d.ID+`"]`),
		chromedp.Click(`[data-testid="open-`+d.ID+`"]`),
	))
	waitJS(t, b, 20*time.Second, "verdict shown", `document.querySelectorAll('#detail-verdict [data-testid="signature-summary"]').length === 2`)
	got := within(t, b, 5*time.Second, "verdict", chromedp.Evaluate[map[string]any](`(() => ({
		verdict: document.querySelector('#detail-verdict [data-testid="verdict"]').dataset.verdict,
		text: document.querySelector('#detail-verdict').innerText,
		first: document.querySelectorAll('#detail-verdict [data-testid="signature-summary"]')[0].innerText,
		later: document.querySelectorAll('#detail-verdict [data-state="later-signature"]').length,
		dev: document.querySelectorAll('#detail-verdict [data-state="development"]').length,
	}))()`))
	t.Logf("verdict: %v", got)
	text, first := got["text"].(string), got["first"].(string)
	if got["verdict"] == "invalid" {
		t.Fatalf("the two-signature contract is invalid: %s", text)
	}
	if strings.Contains(text, "angehängt") || !strings.Contains(first, "später wurde eine weitere Signatur hinzugefügt (zulässig)") || got["later"] != float64(1) {
		t.Errorf("the first signature is told as %q", first)
	}
	if strings.Contains(text, "(customer)") || strings.Contains(text, "(advisor)") {
		t.Errorf("English field names in the German verdict: %q", text)
	}
	if !strings.Contains(text, "Entwicklungszertifikat – nicht für den Betrieb") || got["dev"] != float64(2) {
		t.Errorf("the development seal is not marked: %q", text)
	}
	saveScreenshot(t, b, "backoffice-two-signatures")
}

// presentedContract makes a back-office user and a consultation of the
// advisor with the contract template presented for signers; it returns
// the document and the advisor's actor id.
func presentedContract(t *testing.T, srv *server, title string, signers ...string) (records.Document, string) {
	t.Helper()
	ctx := context.Background()
	if _, err := srv.Records.CreateUser(ctx, backofficeName, "Berta Backoffice", records.RoleBackoffice, advisorPassword); err != nil {
		t.Fatal(err)
	}
	adv, err := srv.Records.UserByUsername(ctx, advisorName)
	if err != nil {
		t.Fatal(err)
	}
	con, _, err := srv.Records.CreateConsultation(ctx, adv.ID, title, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Kontovertrag", Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	actor := "staff:" + strconv.FormatInt(adv.ID, 10)
	d, err := srv.Contracts.Present(ctx, contracts.Presentation{ConsultationID: con.ID, Name: "Kontovertrag.pdf", PDF: pdf,
		Signers: signers, CreatedBy: adv.ID, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	return d, actor
}
