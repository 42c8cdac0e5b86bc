package e2e

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/signature/pdftest"
)

// parseBox reads a data-box attribute "x,y,w,h".
func parseBox(t *testing.T, s string) [4]float64 {
	t.Helper()
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		t.Fatalf("box %q", s)
	}
	var b [4]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			t.Fatalf("box %q: %v", s, err)
		}
		b[i] = v
	}
	return b
}

// clickAt clicks the element at fractions fx, fy of its width and height.
func clickAt(t *testing.T, ctx context.Context, selector string, fx, fy float64) {
	t.Helper()
	r := within(t, ctx, 10*time.Second, "position of "+selector, chromedp.Evaluate[[]float64](
		`(() => { const e = document.querySelector(`+strconv.Quote(selector)+`); e.scrollIntoView({block: 'center'});
		const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`))
	if len(r) != 4 || r[2] < 50 || r[3] < 50 {
		t.Fatalf("%s at %v: missing or too small", selector, r)
	}
	within(t, ctx, 10*time.Second, "click "+selector, chromedp.MouseClickXY(r[0]+fx*r[2], r[1]+fy*r[3]))
}

// readToTheEndAndSign pages through a document view to its last page,
// opens the pad and writes a signature (not yet submitted).
func readToTheEndAndSign(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	waitJS(t, ctx, 20*time.Second, "page 1 rendered", `document.querySelector('`+view+`').dataset.rendered === '1'`)
	pages, err := strconv.Atoi(within(t, ctx, 15*time.Second, "page count", chromedp.Evaluate[string](`document.querySelector('`+view+`').dataset.pages`)))
	if err != nil || pages < 1 {
		t.Fatalf("page count %d (%v)", pages, err)
	}
	for p := 2; p <= pages; p++ {
		within(t, ctx, 15*time.Second, "next page", chromedp.Click(view+` [data-testid="doc-page-next"]`))
		waitJS(t, ctx, 10*time.Second, "page rendered", `document.querySelector('`+view+`').dataset.rendered === '`+strconv.Itoa(p)+`'`)
	}
	within(t, ctx, 20*time.Second, "open the pad", chromedp.Steps(
		chromedp.WaitEnabled(view+` [data-testid="doc-sign-start"]`),
		chromedp.Click(view+` [data-testid="doc-sign-start"]`),
		chromedp.WaitVisible(view+` [data-testid="signature-pad"]`),
	))
	left, top, w, h := padRect(t, ctx)
	within(t, ctx, 20*time.Second, "sign by pen", penGesture(signatureStrokes(left, top, w, h)))
}

// TestBrowserPlaceFieldsAndAdvisorSignFails: the advisor uploads a
// two-page PDF and places both signature fields on page 2 by clicking on
// the preview in the documents drawer; the customer signs, and the signed
// PDF's widget is exactly where the advisor put it. Then the advisor's own
// signing fails on the server (the stored PDF is damaged): the advisor
// reads it in the pad, the customer gets a message naming the advisor,
// and the advisor withdraws the document, which the customer is told.
func TestBrowserPlaceFieldsAndAdvisorSignFails(t *testing.T) {
	var dataDir string
	srv := startServer(t, func(c *config.Config) { dataDir = c.DataDir })
	adv := newBrowser(t, "advisor", 1280, 900)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Vollmacht")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })

	// The upload: page 2 has text at the top and near the bottom.
	doc := pdftest.TextPDF(pdftest.Body(800, 60), append(pdftest.Body(780, 600), pdftest.Text{X: 56, Y: 90, Size: 11, Text: "Anlage: Vollmacht"}))
	file := filepath.Join(t.TempDir(), "Vollmacht.pdf")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	within(t, adv, 20*time.Second, "advisor picks the PDF", chromedp.Steps(
		chromedp.Click(`[data-testid="documents-toggle"]`),
		chromedp.WaitVisible(`[data-testid="document-choose"]`),
		chromedp.SetUploadFiles(`[data-testid="document-upload"]`, []string{file}),
		chromedp.WaitVisible(`[data-testid="document-placement"]`),
		chromedp.Click(`[data-testid="document-signers-both"]`),
		chromedp.Click(`[data-testid="document-place-manual"]`),
	))
	pageLabel := `document.querySelector('[data-testid="document-place-page"]')?.textContent`
	waitJS(t, adv, 20*time.Second, "preview of page 1", pageLabel+` === 'Seite 1 von 2'`)
	within(t, adv, 10*time.Second, "to page 2", chromedp.Click(`[data-testid="document-place-next"]`))
	waitJS(t, adv, 20*time.Second, "preview of page 2", pageLabel+` === 'Seite 2 von 2'`)

	// The customer's field: a click at 30 % across, 50 % down the page is
	// the box's centre (A4: x 178.5, y 421 points).
	within(t, adv, 10*time.Second, "customer's field chosen", chromedp.Click(`[data-testid="document-place-field-customer"]`))
	clickAt(t, adv, `[data-testid="document-place-canvas"]`, 0.3, 0.5)
	box := `document.querySelector('[data-testid="document-box-customer"]')`
	waitJS(t, adv, 10*time.Second, "customer's box shown", `!!`+box+` && `+box+`.dataset.page === '2'`)
	custBox := parseBox(t, within(t, adv, 5*time.Second, "customer's box", chromedp.Evaluate[string](box+`.dataset.box`)))
	if cx, cy := custBox[0]+custBox[2]/2, custBox[1]+custBox[3]/2; math.Abs(cx-0.3*pdftest.A4W) > 4 || math.Abs(cy-0.5*pdftest.A4H) > 4 {
		t.Fatalf("customer's box %v: centre (%.1f, %.1f), want near the click (%.1f, %.1f)", custBox, cx, cy, 0.3*pdftest.A4W, 0.5*pdftest.A4H)
	}
	// The advisor's field, lower right; the box is kept inside the page.
	within(t, adv, 10*time.Second, "advisor's field chosen", chromedp.Click(`[data-testid="document-place-field-advisor"]`))
	clickAt(t, adv, `[data-testid="document-place-canvas"]`, 0.97, 0.7)
	box = `document.querySelector('[data-testid="document-box-advisor"]')`
	waitJS(t, adv, 10*time.Second, "advisor's box shown", `!!`+box)
	advBox := parseBox(t, within(t, adv, 5*time.Second, "advisor's box", chromedp.Evaluate[string](box+`.dataset.box`)))
	if advBox[0]+advBox[2] > pdftest.A4W+0.01 {
		t.Fatalf("advisor's box %v reaches beyond the page", advBox)
	}
	saveScreenshot(t, adv, "place-fields-advisor")
	within(t, adv, 10*time.Second, "advisor presents", chromedp.Click(`[data-testid="document-present"]`))
	docID := within(t, adv, 15*time.Second, "document listed for the advisor", chromedp.Poll[string](
		`document.querySelector('#call-docs [data-testid^="doc-d_"]')?.dataset.doc || null`))
	docSel := `#call-docs [data-testid="doc-` + docID + `"]`
	view := `[data-testid="doc-view"][data-doc="` + docID + `"]`

	// The customer signs; the widget is where the advisor placed it.
	within(t, cust, 15*time.Second, "customer's document view opens", chromedp.WaitVisible(view))
	readToTheEndAndSign(t, cust, view)
	within(t, cust, 20*time.Second, "customer submits", chromedp.Click(`[data-testid="signature-submit"]`))
	within(t, cust, 30*time.Second, "customer sees it signed", chromedp.WaitVisible(view+` [data-testid="doc-signed"]`))
	saveScreenshot(t, cust, "place-fields-customer-signed")
	d, err := srv.Records.DocumentAnywhere(t.Context(), docID)
	if err != nil {
		t.Fatal(err)
	}
	_, f, _, err := srv.Contracts.Open(t.Context(), d.ConsultationID, docID)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := io.ReadAll(f)
	f.Close()
	if err != nil || !bytes.HasPrefix(signed, doc) {
		t.Fatalf("signed PDF: %v (starts with the upload: %v)", err, bytes.HasPrefix(signed, doc))
	}
	ws, err := pdftest.Widgets(signed)
	if err != nil || len(ws) != 1 {
		t.Fatalf("widgets of the signed PDF: %+v, %v", ws, err)
	}
	want := [4]float64{custBox[0], custBox[1], custBox[0] + custBox[2], custBox[1] + custBox[3]}
	for i := range want {
		if ws[0].Field != "customer" || ws[0].Page != 2 || math.Abs(ws[0].Rect[i]-want[i]) > 0.01 {
			t.Fatalf("customer's widget %+v; placed on page 2 at %v", ws[0], want)
		}
	}
	t.Logf("customer's widget on page %d at %v, as placed", ws[0].Page, ws[0].Rect)

	// The advisor signs; the server fails (the stored PDF is damaged).
	within(t, adv, 20*time.Second, "advisor opens the document", chromedp.Steps(
		chromedp.WaitVisible(docSel+` [data-testid="doc-open-`+docID+`"].btn-primary`),
		chromedp.Click(docSel+` [data-testid="doc-open-`+docID+`"]`),
		chromedp.WaitVisible(view),
	))
	readToTheEndAndSign(t, adv, view)
	damageDocumentBlob(t, srv, dataDir, docID)
	within(t, adv, 20*time.Second, "advisor submits", chromedp.Click(view+` [data-testid="signature-submit"]`))
	waitJS(t, adv, 30*time.Second, "advisor told the signature failed", `(() => { const e = document.querySelector('`+view+` [data-testid="signature-error"]');
		return !!e && !e.hidden && e.textContent.includes('konnte wegen eines Fehlers auf dem Server nicht gespeichert werden'); })()`)
	saveScreenshot(t, adv, "advisor-sign-failed")
	waitJS(t, cust, 15*time.Second, "customer told the advisor's signature failed", `[...document.querySelectorAll('.toast-text')].some((e) =>
		e.textContent === 'Die Unterschrift von Anna Berg unter „Vollmacht.pdf“ ist fehlgeschlagen.')`)
	saveScreenshot(t, cust, "advisor-sign-failed-customer")

	// The advisor closes the view and withdraws the document.
	within(t, adv, 15*time.Second, "advisor closes the view", chromedp.Steps(
		chromedp.Click(view+` .docview-close`),
		chromedp.WaitNotVisible(view),
	))
	withdraw := docSel + ` [data-testid="doc-withdraw-` + docID + `"]`
	within(t, adv, 15*time.Second, "advisor withdraws", chromedp.Steps(
		chromedp.Click(withdraw),
		chromedp.WaitVisible(withdraw+`[data-confirm="1"]`),
		chromedp.Click(withdraw),
	))
	within(t, adv, 15*time.Second, "withdrawn for the advisor", chromedp.WaitVisible(docSel+`[data-state="withdrawn"]`))
	waitJS(t, cust, 10*time.Second, "customer told it was withdrawn", `[...document.querySelectorAll('.toast-text')].some((e) =>
		e.textContent === '„Vollmacht.pdf“ wurde zurückgezogen und kann nicht mehr unterschrieben werden.')`)
	saveScreenshot(t, adv, "advisor-sign-failed-withdrawn")
}
