package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserSignProgressLine (issue 18, item 12): a contract for the
// customer and the advisor. The advisor's reading-progress line never
// shows her own reading (as "Gast"), and once the customer has signed it
// says so instead of "liest Seite n von n"; the customer, who may download
// the half-signed PDF, is told it is not yet signed by everyone. Advisor
// on a desktop, customer on a phone, German and English.
func TestBrowserSignProgressLine(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1366, 768)
	cust := newBrowser(t, "customer", 390, 844)
	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+custID+`"]`))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })

	docID := presentTemplate(t, adv, "Darlehensvertrag", "both")
	docSel := `#call-docs [data-testid="doc-` + docID + `"]`
	progress := `(document.querySelector('[data-testid="doc-progress-` + docID + `"]')?.textContent || '')`

	// The advisor reads the contract herself: not a "Gast" in her line.
	advView := `[data-testid="doc-view"][data-doc="` + docID + `"]`
	within(t, adv, 20*time.Second, "advisor opens the document", chromedp.Steps(
		chromedp.Click(docSel+` [data-testid="doc-open-`+docID+`"]`),
		chromedp.WaitVisible(advView),
	))
	waitJS(t, adv, 20*time.Second, "advisor's view rendered", `!!document.querySelector('`+advView+`').dataset.rendered`)
	time.Sleep(2 * time.Second) // her report has come back from the server by now
	within(t, adv, 20*time.Second, "advisor closes the view", chromedp.Steps(
		chromedp.Click(advView+` .docview-close`),
		chromedp.WaitNotVisible(advView),
	))
	time.Sleep(time.Second)
	if line := evalString(t, adv, "progress", progress); strings.Contains(line, "Gast") || strings.Contains(line, "Beratung") {
		t.Errorf("the advisor's own reading shows in her progress line: %q", line)
	}

	// The customer reads and signs.
	view := `[data-testid="doc-view"][data-doc="` + docID + `"]`
	within(t, cust, 15*time.Second, "customer's view opens", chromedp.WaitVisible(view))
	waitJS(t, cust, 20*time.Second, "page 1 rendered", `document.querySelector('`+view+`').dataset.rendered === '1'`)
	pages, _ := strconv.Atoi(evalString(t, cust, "pages", `document.querySelector('`+view+`').dataset.pages`))
	for p := 2; p <= pages; p++ {
		within(t, cust, 15*time.Second, "next page", chromedp.Click(`[data-testid="doc-page-next"]`))
		waitJS(t, cust, 10*time.Second, "page rendered", `document.querySelector('`+view+`').dataset.rendered === '`+strconv.Itoa(p)+`'`)
	}
	waitJS(t, adv, 10*time.Second, "advisor sees the customer read", progress+`.startsWith('Erika Mustermann liest Seite')`)
	within(t, cust, 20*time.Second, "customer opens the pad", chromedp.Steps(
		chromedp.WaitEnabled(`[data-testid="doc-sign-start"]`),
		chromedp.Click(`[data-testid="doc-sign-start"]`),
		chromedp.WaitVisible(`[data-testid="signature-pad"]`),
	))
	left, top, w, h := padRect(t, cust)
	within(t, cust, 20*time.Second, "customer signs by pen", penGesture(signatureStrokes(left, top, w, h)))
	within(t, cust, 20*time.Second, "customer submits", chromedp.Click(`[data-testid="signature-submit"]`))
	within(t, cust, 30*time.Second, "customer sees her signature", chromedp.WaitVisible(`[data-testid="doc-signed"]`))

	// The advisor's line: signed, not "liest Seite n von n".
	waitJS(t, adv, 15*time.Second, "advisor sees the customer's field signed", `!!document.querySelector('`+docSel+` [data-field="customer"]') && document.querySelector('`+docSel+` [data-field="customer"]').textContent.includes('✓')`)
	time.Sleep(2 * time.Second) // the customer's last report has arrived
	if line := evalString(t, adv, "progress", progress); line != "Erika Mustermann hat unterschrieben" {
		t.Errorf("after signing the advisor's line says %q", line)
	}
	scrollTo(t, adv, docSel)
	saveScreenshot(t, adv, "progress-advisor-de")

	// The customer's download of the half-signed PDF says so.
	dl := view + ` [data-testid="doc-download-` + docID + `"]`
	waitJS(t, cust, 15*time.Second, "download offered", `!!document.querySelector('`+dl+`')`)
	if label := evalString(t, cust, "label", `document.querySelector('`+dl+`').textContent + ' | ' + document.querySelector('`+dl+`').getAttribute('aria-label')`); !strings.Contains(label, "noch nicht von allen unterschrieben") {
		t.Errorf("the half-signed PDF's download reads %q", label)
	}
	within(t, cust, 10*time.Second, "customer downloads", chromedp.Evaluate[bool](`(document.querySelector('`+dl+`').addEventListener('click', (e) => e.preventDefault(), {once: true}), document.querySelector('`+dl+`').click(), true)`))
	waitJS(t, cust, 5*time.Second, "customer told", `[...document.querySelectorAll('.toast-text')].some((e) => e.textContent.includes('noch nicht von allen unterschrieben'))`)
	saveScreenshot(t, cust, "progress-customer-partial-de")

	// The document view covers the page's header on a phone: the language
	// switch is pressed through the DOM.
	within(t, cust, 5*time.Second, "customer English", chromedp.Evaluate[bool](`(document.querySelector('[data-testid="lang-toggle"]').click(), true)`))
	waitJS(t, cust, 5*time.Second, "English label", `document.querySelector('`+dl+`')?.textContent.includes('not yet signed by everyone')`)
	saveScreenshot(t, cust, "progress-customer-partial-en")
	within(t, adv, 5*time.Second, "advisor English", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, adv, 5*time.Second, "English line", progress+` === 'Erika Mustermann has signed'`)
	saveScreenshot(t, adv, "progress-advisor-en")
}
