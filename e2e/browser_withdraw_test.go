package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// damageDocumentBlob overwrites the stored file of a document's current
// revision with garbage of the same length, as a damaged disk would: a
// real failure of the signing path, nothing mocked.
// It returns the document's consultation.
func damageDocumentBlob(t *testing.T, srv *server, dataDir, docID string) string {
	t.Helper()
	root := filepath.Join(dataDir, "documents")
	cids, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cids {
		if !c.IsDir() {
			continue
		}
		d, err := srv.Records.DocumentByID(context.Background(), c.Name(), docID)
		if err != nil {
			continue
		}
		f := filepath.Join(root, c.Name(), d.CurrentBlob)
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("document file: %v", err)
		}
		junk := make([]byte, st.Size())
		for i := range junk {
			junk[i] = byte(i * 7)
		}
		if err := os.WriteFile(f, junk, 0o600); err != nil {
			t.Fatal(err)
		}
		return c.Name()
	}
	t.Fatalf("no stored file for document %s", docID)
	return ""
}

// signedPDF is a contract signed by the server's own seal (as a contract
// signed in some other consultation is).
func signedPDF(t *testing.T, srv *server) string {
	t.Helper()
	pdf, err := signature.ContractPDF(signature.ContractTemplate{
		Title: "Alter Vertrag", Date: time.Now(),
		Parties:     []signature.Party{{Role: "Anbieter", Name: "Musterbank AG"}, {Role: "Kunde / Kundin", Name: "siehe Unterschrift"}},
		Clauses:     []signature.Clause{{Heading: "Gegenstand", Text: "Ein früher unterschriebener Vertrag."}},
		Signatories: []string{"Kunde / Kundin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := srv.Keys.Signer.Sign(t.Context(), pdf, signature.SignRequest{
		Field: records.SignerCustomer, SignerName: "Max Probe", Reason: "test", ConsultationID: "c_other",
	})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "Alter-Vertrag-signed.pdf")
	if err := os.WriteFile(f, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestBrowserSignFailsAndWithdraw: the customer signs, but the server
// fails to sign (the stored PDF is damaged): she reads that the signature
// could not be saved, the advisor gets a toast and a progress line that
// says so instead of "unterschreibt …". The advisor withdraws the
// document: the customer's view closes with a message, the document can
// no longer be signed. Then, in another consultation, the advisor uploads
// a PDF that already carries a signature and is refused with a clear
// message.
func TestBrowserSignFailsAndWithdraw(t *testing.T) {
	var dataDir string
	srv := startServer(t, func(c *config.Config) { dataDir = c.DataDir })
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })

	docID := presentTemplate(t, adv, "Darlehensvertrag", "customer")
	docSel := `#call-docs [data-testid="doc-` + docID + `"]`
	progressSel := `[data-testid="doc-progress-` + docID + `"]`
	view := `[data-testid="doc-view"][data-doc="` + docID + `"]`

	// The customer reads to the end and opens the pad.
	within(t, cust, 15*time.Second, "customer's document view opens", chromedp.WaitVisible(view))
	waitJS(t, cust, 20*time.Second, "page 1 rendered", `document.querySelector('`+view+`').dataset.rendered === '1'`)
	pages, err := strconv.Atoi(within(t, cust, 15*time.Second, "page count", chromedp.Evaluate[string](`document.querySelector('`+view+`').dataset.pages`)))
	if err != nil || pages < 1 {
		t.Fatalf("page count %d (%v)", pages, err)
	}
	for p := 2; p <= pages; p++ {
		within(t, cust, 15*time.Second, "next page", chromedp.Click(`[data-testid="doc-page-next"]`))
		waitJS(t, cust, 10*time.Second, "page rendered", `document.querySelector('`+view+`').dataset.rendered === '`+strconv.Itoa(p)+`'`)
	}
	within(t, cust, 20*time.Second, "customer opens the pad", chromedp.Steps(
		chromedp.WaitEnabled(`[data-testid="doc-sign-start"]`),
		chromedp.Click(`[data-testid="doc-sign-start"]`),
		chromedp.WaitVisible(`[data-testid="signature-pad"]`),
	))
	waitJS(t, adv, 10*time.Second, "advisor sees the customer signing",
		`(document.querySelector('`+progressSel+`')?.textContent || '') === 'Erika Mustermann unterschreibt …'`)

	// The stored PDF is damaged before she submits: signing fails on the server.
	left, top, w, h := padRect(t, cust)
	within(t, cust, 20*time.Second, "customer signs by pen", penGesture(signatureStrokes(left, top, w, h)))
	cid := damageDocumentBlob(t, srv, dataDir, docID)
	within(t, cust, 20*time.Second, "customer submits", chromedp.Click(`[data-testid="signature-submit"]`))
	waitJS(t, cust, 30*time.Second, "customer told the signature failed", `(() => { const e = document.querySelector('[data-testid="signature-error"]');
		return !!e && !e.hidden && e.textContent.includes('konnte wegen eines Fehlers auf dem Server nicht gespeichert werden'); })()`)
	saveScreenshot(t, cust, "withdraw-customer-sign-failed")
	waitJS(t, adv, 15*time.Second, "advisor told the signature failed", `[...document.querySelectorAll('.toast-text')].some((e) =>
		e.textContent === 'Die Unterschrift von Erika Mustermann unter „Darlehensvertrag.pdf“ ist fehlgeschlagen.')`)
	waitJS(t, adv, 10*time.Second, "advisor's progress line no longer says signing", `(() => { const e = document.querySelector('`+progressSel+`');
		return !!e && e.dataset.activity === 'failed' && e.textContent.startsWith('Die Unterschrift von Erika Mustermann ist fehlgeschlagen'); })()`)
	scrollTo(t, adv, docSel)
	saveScreenshot(t, adv, "withdraw-advisor-sign-failed")

	// The advisor withdraws it; the customer's view closes with a message.
	withdraw := docSel + ` [data-testid="doc-withdraw-` + docID + `"]`
	within(t, adv, 15*time.Second, "advisor withdraws", chromedp.Steps(
		chromedp.Click(withdraw),
		chromedp.WaitVisible(withdraw+`[data-confirm="1"]`),
		chromedp.Click(withdraw),
	))
	within(t, adv, 15*time.Second, "withdrawn for the advisor", chromedp.WaitVisible(docSel+`[data-state="withdrawn"]`))
	within(t, cust, 15*time.Second, "customer's view closes", chromedp.WaitNotVisible(view))
	waitJS(t, cust, 10*time.Second, "customer told it was withdrawn", `[...document.querySelectorAll('.toast-text')].some((e) =>
		e.textContent === '„Darlehensvertrag.pdf“ wurde zurückgezogen und kann nicht mehr unterschrieben werden.')`)
	saveScreenshot(t, cust, "withdraw-customer-withdrawn")
	if n := within(t, cust, 5*time.Second, "signable documents", chromedp.Evaluate[int](
		`document.querySelectorAll('[data-testid^="doc-open-"].btn-primary').length`)); n != 0 {
		t.Errorf("the customer still has %d document(s) to sign after the withdrawal", n)
	}
	// Nor can it be signed any more: the service refuses, the API says 410.
	_, err = srv.Contracts.Sign(t.Context(), contracts.Signing{ConsultationID: cid, DocumentID: docID, Field: records.SignerCustomer,
		As: records.SignerCustomer, SignerName: "x", SignerRef: "participant:" + custID, Capture: []byte("{}")})
	if !errors.Is(err, contracts.ErrWithdrawn) {
		t.Errorf("signing the withdrawn document: %v, want ErrWithdrawn", err)
	}

	// Another consultation: a PDF already signed elsewhere is refused.
	within(t, adv, 20*time.Second, "advisor back to the overview", chromedp.Steps(
		chromedp.Navigate(srv.base+"/app"),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
	))
	createConsultation(t, adv, "Zweite Beratung")
	within(t, adv, 20*time.Second, "advisor opens the second call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the second call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	within(t, adv, 20*time.Second, "documents panel", chromedp.Steps(
		chromedp.Click(`[data-testid="documents-toggle"]`),
		chromedp.WaitVisible(`[data-testid="document-choose"]`),
	))
	within(t, adv, 10*time.Second, "advisor picks a signed PDF", chromedp.SetUploadFiles(`[data-testid="document-upload"]`, []string{signedPDF(t, srv)}))
	within(t, adv, 10*time.Second, "advisor presents it", chromedp.Click(`[data-testid="document-present"]`))
	waitJS(t, adv, 15*time.Second, "refusal shown to the advisor", `(() => { const e = document.querySelector('[data-testid="document-error"]');
		return !!e && !e.hidden && e.textContent.startsWith('Dieses PDF ist bereits unterschrieben.'); })()`)
	if n := within(t, adv, 5*time.Second, "documents listed", chromedp.Evaluate[int](`document.querySelectorAll('#call-docs [data-testid^="doc-d_"]').length`)); n != 0 {
		t.Errorf("%d documents listed in the second consultation after the refused upload, want 0", n)
	}
	saveScreenshot(t, adv, "withdraw-refused-signed-upload")
}
