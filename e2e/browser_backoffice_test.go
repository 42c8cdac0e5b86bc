package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

const (
	backofficeName = "berta"
	customerName   = "Erika Mustermann"
)

// TestBrowserBackoffice is the back office in a real browser: a contract
// signed beforehand (through the node's contract service, as a call would)
// is found by the customer's name, opened, and shown valid with warnings
// (no time-stamp authority in tests) with its audit trail's chain intact;
// then a copy with one signed byte flipped is uploaded for verification
// and shown invalid with its reason, and a file that is no PDF gets the
// translated "could not be checked".
func TestBrowserBackoffice(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	if _, err := srv.Records.CreateUser(ctx, backofficeName, "Berta Backoffice", records.RoleBackoffice, advisorPassword); err != nil {
		t.Fatal(err)
	}
	signedID, signedPDF := presentContract(t, srv, "Baufinanzierung Mustermann", "Darlehensvertrag", customerName)
	openID, _ := presentContract(t, srv, "Kontoeröffnung", "Kontovertrag", "")

	dir := t.TempDir()
	tampered := filepath.Join(dir, "Darlehensvertrag-zurueck.pdf")
	if err := os.WriteFile(tampered, flipSignedByte(t, signedPDF), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "kaputt.pdf")
	if err := os.WriteFile(junk, []byte("Dies ist keine PDF-Datei.\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, "backoffice", 1280, 900)
	within(t, b, 20*time.Second, "back-office login lands on /backoffice", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, backofficeName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="contracts-search"]`),
		chromedp.WaitVisible(`[data-testid="contract-row-`+signedID+`"]`),
		chromedp.WaitVisible(`[data-testid="contract-row-`+openID+`"]`),
	))
	waitJS(t, b, 5*time.Second, "on /backoffice", `location.pathname === '/backoffice'`)

	// Search by the customer's name: only the signed contract is left.
	within(t, b, 10*time.Second, "search", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="search-q"]`, "mustermann"),
		chromedp.Click(`[data-testid="search-submit"]`),
	))
	waitJS(t, b, 10*time.Second, "search result", `document.querySelectorAll('[data-testid^="contract-row-"]').length === 1 && !!document.querySelector('[data-testid="contract-row-`+signedID+`"]')`)
	row := within(t, b, 5*time.Second, "row text", chromedp.Evaluate[string](`document.querySelector('[data-testid="contract-row-`+signedID+`"]').innerText`))
	for _, want := range []string{"Darlehensvertrag", "Baufinanzierung Mustermann", "Anna Berg", customerName, "Unterschrieben"} {
		if !strings.Contains(row, want) {
			t.Errorf("contract row %q lacks %q", row, want)
		}
	}
	saveScreenshot(t, b, "backoffice-list")

	// Open it: the verdict, the signature in words, the audit trail.
	within(t, b, 10*time.Second, "open the contract", chromedp.Click(`[data-testid="open-`+signedID+`"]`))
	waitJS(t, b, 15*time.Second, "verdict shown", `document.querySelector('#detail-verdict [data-testid="verdict"]')?.dataset.verdict === 'valid_with_warnings'`)
	waitJS(t, b, 10*time.Second, "audit trail shown", `document.querySelector('[data-testid="audit-chain"]')?.dataset.valid === 'true'`)
	detail := within(t, b, 5*time.Second, "detail", chromedp.Evaluate[struct {
		Badge      string   `json:"badge"`
		Reasons    []string `json:"reasons"`
		Signatures []string `json:"signatures"`
		Kinds      []string `json:"kinds"`
		Chain      string   `json:"chain"`
		Download   string   `json:"download"`
	}](`(() => ({
		badge: document.querySelector('#detail-verdict [data-testid="verdict"]').innerText,
		reasons: [...document.querySelectorAll('#detail-verdict [data-testid="reason"]')].map((r) => r.dataset.code + ': ' + r.innerText),
		signatures: [...document.querySelectorAll('#detail-verdict [data-testid="signature-summary"]')].map((s) => s.innerText),
		kinds: [...document.querySelectorAll('[data-testid="audit-row"]')].map((r) => r.dataset.kind),
		chain: document.querySelector('[data-testid="audit-chain"]').innerText,
		download: document.querySelector('[data-testid="download-pdf"]').getAttribute('href'),
	}))()`))
	t.Logf("verdict: %q; reasons %q; audit %v; chain %q", detail.Badge, detail.Reasons, detail.Kinds, detail.Chain)
	if !strings.Contains(detail.Badge, "Gültig mit Hinweisen") {
		t.Errorf("badge %q, want Gültig mit Hinweisen", detail.Badge)
	}
	if len(detail.Reasons) != 1 || !strings.HasPrefix(detail.Reasons[0], "no_timestamp: ") || !strings.Contains(detail.Reasons[0], "Zeitstempel") {
		t.Errorf("reasons %q, want one German no_timestamp warning", detail.Reasons)
	}
	if len(detail.Signatures) != 1 {
		t.Fatalf("%d signature summaries, want 1", len(detail.Signatures))
	}
	for _, want := range []string{customerName, "an dieses Dokument gebunden", "keiner"} {
		if !strings.Contains(detail.Signatures[0], want) {
			t.Errorf("signature summary %q lacks %q", detail.Signatures[0], want)
		}
	}
	if got := strings.Join(detail.Kinds, " "); got != "presented signed verified" {
		t.Errorf("audit rows %q, want presented signed verified", got)
	}
	if detail.Download != "/api/v1/contracts/"+signedID+"/pdf?download=1" {
		t.Errorf("download link %q", detail.Download)
	}
	saveScreenshot(t, b, "backoffice-verdict")
	// The same on a phone (a back-office colleague on the road).
	within(t, b, 5*time.Second, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	saveScreenshot(t, b, "backoffice-verdict-phone")
	within(t, b, 5*time.Second, "desktop size", chromedp.EmulateViewport(1280, 900))

	// English: the badge and the reasons switch with the page.
	within(t, b, 5*time.Second, "switch to English", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, b, 5*time.Second, "English verdict", `document.querySelector('#detail-verdict [data-testid="verdict"]').innerText.includes('Valid with warnings') &&
		document.querySelector('#detail-verdict [data-testid="reason"]').innerText.includes('time-stamp') &&
		document.querySelector('[data-testid="audit-chain"]').innerText.includes('Chain intact')`)
	within(t, b, 5*time.Second, "back to German", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, b, 5*time.Second, "German again", `document.documentElement.lang === 'de'`)

	// Back to the list; a copy with one signed byte flipped is invalid.
	within(t, b, 10*time.Second, "back to the list", chromedp.Steps(
		chromedp.Click(`[data-testid="detail-back"]`),
		chromedp.WaitVisible(`[data-testid="verify-upload"]`),
	))
	within(t, b, 10*time.Second, "upload a non-PDF", chromedp.SetUploadFiles(`[data-testid="verify-upload"]`, []string{junk}))
	waitJS(t, b, 15*time.Second, "unverifiable shown", `(document.querySelector('[data-testid="verify-error"]')?.innerText || '').includes('Die Datei konnte nicht geprüft werden')`)

	within(t, b, 10*time.Second, "upload the tampered copy", chromedp.SetUploadFiles(`[data-testid="verify-upload"]`, []string{tampered}))
	waitJS(t, b, 15*time.Second, "invalid verdict", `document.querySelector('#verify-result [data-testid="verdict"]')?.dataset.verdict === 'invalid'`)
	reasons := within(t, b, 5*time.Second, "invalid reasons", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#verify-result [data-testid="reason"]')].map((r) => r.dataset.code + ': ' + r.innerText)`))
	t.Logf("tampered copy: %q", reasons)
	broken := false
	for _, r := range reasons {
		if strings.HasPrefix(r, "signature_broken: ") && strings.Contains(r, "verändert") {
			broken = true
		}
	}
	if !broken {
		t.Errorf("no German signature_broken reason among %q", reasons)
	}
	saveScreenshot(t, b, "backoffice-invalid")

	onlyOwnOrigin(t, b, "backoffice", srv.base)
}

// presentContract presents the template contract titled title in a new
// consultation of the advisor; with a signer name the customer signs it
// (the example pen capture). It returns the document id and its PDF now.
func presentContract(t *testing.T, srv *server, consultation, title, signer string) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	adv, err := srv.Records.UserByUsername(ctx, advisorName)
	if err != nil {
		t.Fatal(err)
	}
	con, _, err := srv.Records.CreateConsultation(ctx, adv.ID, consultation, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: title, Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	actor := "staff:" + strconv.FormatInt(adv.ID, 10)
	d, err := srv.Contracts.Present(ctx, contracts.Presentation{ConsultationID: con.ID, Name: title + ".pdf", PDF: pdf,
		Signers: []string{records.SignerCustomer}, CreatedBy: adv.ID, Actor: actor})
	if err != nil {
		t.Fatalf("present %s: %v", title, err)
	}
	if signer == "" {
		return d.ID, pdf
	}
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Contracts.Sign(ctx, contracts.Signing{ConsultationID: con.ID, DocumentID: d.ID, Field: records.SignerCustomer,
		As: records.SignerCustomer, SignerName: signer, SignerRef: "participant:p_e2e", Capture: capture}); err != nil {
		t.Fatalf("sign %s: %v", title, err)
	}
	_, rc, _, err := srv.Contracts.Open(ctx, con.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	signed, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return d.ID, signed
}

// flipSignedByte returns a copy of a signed PDF with one byte of its page
// text changed ("Seite" → "seite"), inside the first signed byte range.
func flipSignedByte(t *testing.T, pdf []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("signed PDF has no /ByteRange")
	}
	end, _ := strconv.Atoi(string(m[2]))
	i := bytes.Index(pdf[:end], []byte("(Seite 1 von"))
	if i < 0 {
		t.Fatal("no page footer text inside the signed range")
	}
	out := bytes.Clone(pdf)
	out[i+1] ^= 0x20
	return out
}
