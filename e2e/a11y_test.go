package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/records"
)

// axeScript is axe-core's browser bundle from the npm devDependency
// (package.json; scripts/test-deps.sh installs it). It is evaluated in the
// page through the DevTools protocol, never loaded from another host.
var axeScript = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join("..", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		return "", fmt.Errorf("axe-core is not installed (scripts/test-deps.sh runs npm ci): %w", err)
	}
	return string(b), nil
})

// axeTags are the rule sets for WCAG 2.1 level AA.
const axeTags = `['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']`

type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	Summary string   `json:"summary"`
}

func (v axeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s; %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "), v.Summary)
}

// axeRun runs axe-core's WCAG 2.1 A/AA rules over the current page (first
// injecting axe-core when the page lacks it) and returns the violations.
func axeRun(t *testing.T, ctx context.Context) []axeViolation {
	t.Helper()
	src, err := axeScript()
	if err != nil {
		t.Fatal(err)
	}
	has := within(t, ctx, 10*time.Second, "axe present?", chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if !has {
		within(t, ctx, 20*time.Second, "inject axe-core", chromedp.Evaluate[chromedp.Void](src+"\n;undefined"))
	}
	return within(t, ctx, 60*time.Second, "run axe-core", chromedp.Evaluate[[]axeViolation](`axe.run(document, {
		runOnly: {type: 'tag', values: `+axeTags+`},
		resultTypes: ['violations'],
	}).then((r) => r.violations.map((v) => ({
		id: v.id, impact: v.impact || '', help: v.help,
		targets: v.nodes.slice(0, 6).map((n) => n.target.join(' ')),
		summary: ((v.nodes[0] && v.nodes[0].failureSummary || '') + ' in ' + (v.nodes[0] && v.nodes[0].html || '')).replace(/\s+/g, ' ').slice(0, 500),
	})))`, chromedp.EvalAwaitPromise))
}

// checkA11y fails the test for every WCAG 2.1 AA violation axe-core finds
// on the current page and saves a screenshot named after the page.
func checkA11y(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	saveScreenshot(t, ctx, "a11y-"+page)
	vs := axeRun(t, ctx)
	for _, v := range vs {
		t.Errorf("%s: %s", page, v)
	}
	if len(vs) > 0 && os.Getenv("PARLEY_A11Y_DEBUG") != "" {
		for _, v := range vs {
			html := within(t, ctx, 5*time.Second, "outerHTML", chromedp.Evaluate[string](`document.querySelector(`+jsQuote(v.Targets[0])+`)?.outerHTML || ''`))
			t.Logf("%s: %s", v.Targets[0], html)
		}
	}
	if len(vs) == 0 {
		t.Logf("%s: axe-core finds no WCAG 2.1 AA violation", page)
	}
}

// TestBrowserA11yAxe visits every page of the advisor's, the customer's,
// the back office's and the admin's day and runs axe-core's WCAG 2.1 A and
// AA rules on each: zero violations allowed. Pages: login, console (with
// an invite), join, waiting room, call (advisor and customer; chat and
// documents drawers open), document view, signature pad, back office
// list and detail, privacy notice, my-data, admin data requests, error
// pages (unknown and expired link).
func TestBrowserA11yAxe(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	if _, err := srv.Records.CreateUser(ctx, backofficeName, "Berta Backoffice", records.RoleBackoffice, advisorPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Records.CreateUser(ctx, adminName, "Ada Admin", records.RoleAdmin, advisorPassword); err != nil {
		t.Fatal(err)
	}
	signedID, _ := presentContract(t, srv, "Baufinanzierung Mustermann", "Darlehensvertrag", customerName)

	adv := newBrowser(t, "advisor", 1366, 768)
	cust := newBrowser(t, "customer", 390, 844)

	within(t, adv, 20*time.Second, "login page", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
	))
	checkA11y(t, adv, "login")
	within(t, adv, 20*time.Second, "log in", chromedp.Steps(
		chromedp.SendKeys(`#username`, advisorName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
	))
	checkA11y(t, adv, "console")
	englishToo(t, adv, "console")
	invite := createConsultation(t, adv, "Baufinanzierung")
	checkA11y(t, adv, "console-invite")
	within(t, adv, 20*time.Second, "device-link dialog", chromedp.Steps(
		chromedp.Click(`[data-testid^="device-link-send-"]`),
		chromedp.WaitVisible(`[data-testid="device-link-send"]`),
	))
	waitJS(t, adv, 15*time.Second, "device-link code shown", `(document.querySelector('[data-testid="device-link-code"]')?.textContent || '').trim().length > 0`)
	checkA11y(t, adv, "device-link-dialog")
	within(t, adv, 10*time.Second, "close the device-link dialog", chromedp.Steps(
		chromedp.Click(`[data-testid="device-link-close"]`),
	))
	waitJS(t, adv, 10*time.Second, "device-link-send closed", `!document.querySelector('dialog[data-testid="device-link-send"][open]')`)

	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)

	within(t, cust, 30*time.Second, "customer opens the invite", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
	))
	checkA11y(t, cust, "join")
	englishToo(t, cust, "join")
	within(t, cust, 30*time.Second, "customer joins", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	checkA11y(t, cust, "waiting")
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor sees the knock", chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`))
	checkA11y(t, adv, "call-advisor-knock")
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+custID+`"]`))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	checkA11y(t, adv, "call-advisor")
	checkA11y(t, cust, "call-customer")
	within(t, adv, 10*time.Second, "leave confirmation", chromedp.Steps(
		chromedp.Click(`[data-testid="leave"]`),
		chromedp.WaitVisible(`[data-testid="leave-dialog"]`),
	))
	checkA11y(t, adv, "leave-dialog")
	within(t, adv, 10*time.Second, "stay in the call", chromedp.Steps(
		chromedp.Click(`[data-testid="leave-cancel"]`),
	))
	waitJS(t, adv, 10*time.Second, "leave-dialog closed", `!document.querySelector('dialog[data-testid="leave-dialog"][open]')`)

	within(t, adv, 10*time.Second, "advisor opens the chat", chromedp.Steps(
		chromedp.Click(`[data-testid="chat-toggle"]`),
		chromedp.WaitVisible(`[data-testid="chat-panel"]`),
	))
	checkA11y(t, adv, "call-advisor-chat")
	within(t, cust, 10*time.Second, "customer opens the chat", chromedp.Steps(
		chromedp.Click(`[data-testid="chat-toggle"]`),
		chromedp.WaitVisible(`[data-testid="chat-panel"]`),
	))
	checkA11y(t, cust, "call-customer-chat")
	within(t, cust, 15*time.Second, "photo dialog", chromedp.Steps(
		chromedp.Click(`[data-testid="chat-photo"]`),
		chromedp.WaitVisible(`[data-testid="photo-dialog"]`),
		chromedp.WaitEnabled(`[data-testid="photo-shutter"]`),
	))
	checkA11y(t, cust, "photo-dialog-live")
	within(t, cust, 15*time.Second, "photo preview", chromedp.Steps(
		chromedp.Click(`[data-testid="photo-shutter"]`),
		chromedp.WaitVisible(`[data-testid="photo-still"]`),
	))
	checkA11y(t, cust, "photo-dialog-preview")
	within(t, cust, 10*time.Second, "cancel the photo", chromedp.Steps(
		chromedp.Click(`[data-testid="photo-cancel"]`),
	))
	waitJS(t, cust, 10*time.Second, "photo-dialog closed", `!document.querySelector('dialog[data-testid="photo-dialog"][open]')`)
	within(t, cust, 10*time.Second, "customer closes the chat", chromedp.Click(`[data-testid="chat-toggle"]`))

	within(t, adv, 20*time.Second, "advisor opens the documents", chromedp.Steps(
		chromedp.Click(`[data-testid="documents-toggle"]`),
		chromedp.WaitVisible(`[data-testid="document-template"]`),
		chromedp.Click(`[data-testid="document-template"]`),
		chromedp.WaitVisible(`[data-testid="document-title"]`),
	))
	checkA11y(t, adv, "call-advisor-documents")
	within(t, adv, 20*time.Second, "advisor presents", chromedp.Steps(
		chromedp.SetValue(`[data-testid="document-title"]`, "Darlehensvertrag"),
		chromedp.Click(`[data-testid="document-signers-customer"]`),
		chromedp.Click(`[data-testid="document-present"]`),
	))
	docID := within(t, adv, 15*time.Second, "document listed", chromedp.Poll[string](
		`document.querySelector('#call-docs [data-testid^="doc-d_"]')?.dataset.doc || null`))
	view := `[data-testid="doc-view"][data-doc="` + docID + `"]`
	within(t, cust, 15*time.Second, "customer's document view", chromedp.WaitVisible(view))
	waitJS(t, cust, 20*time.Second, "page 1 rendered", `document.querySelector('`+view+`').dataset.rendered === '1'`)
	checkA11y(t, cust, "document-view")
	checkA11y(t, adv, "call-advisor-documents-presented")
	pages := within(t, cust, 10*time.Second, "pages", chromedp.Evaluate[string](`document.querySelector('`+view+`').dataset.pages`))
	for p := 2; fmt.Sprint(p-1) != pages; p++ {
		within(t, cust, 15*time.Second, "next page", chromedp.Click(view+` [data-testid="doc-page-next"]`))
		waitJS(t, cust, 10*time.Second, "page rendered", `document.querySelector('`+view+`').dataset.rendered === '`+fmt.Sprint(p)+`'`)
	}
	within(t, cust, 20*time.Second, "open the pad", chromedp.Steps(
		chromedp.WaitEnabled(view+` [data-testid="doc-sign-start"]`),
		chromedp.Click(view+` [data-testid="doc-sign-start"]`),
		chromedp.WaitVisible(view+` [data-testid="signature-pad"]`),
	))
	checkA11y(t, cust, "signature-pad")
	within(t, cust, 10*time.Second, "sign without drawing", chromedp.Steps(
		chromedp.Click(view+` [data-testid="sign-method-typed"]`),
		chromedp.WaitVisible(view+` [data-testid="typed-name"]`),
		chromedp.SendKeys(view+` [data-testid="typed-name"]`, "Erika Mustermann"),
	))
	checkA11y(t, cust, "signature-typed")
	typedSignatureShots(t, cust, view)

	token := within(t, cust, 5*time.Second, "stored token", chromedp.Evaluate[string](
		`(() => { const k = Object.keys(sessionStorage).find((k) => k.startsWith('parley.myData.')); return k ? sessionStorage.getItem(k) : ''; })()`))
	within(t, cust, 20*time.Second, "privacy notice", chromedp.Steps(
		chromedp.Navigate(srv.base+"/privacy"),
		chromedp.WaitVisible(`h1`),
	))
	checkA11y(t, cust, "privacy")
	within(t, cust, 20*time.Second, "my-data page", chromedp.Steps(
		chromedp.Navigate(srv.base+"/my-data#"+token),
		chromedp.WaitVisible(`[data-testid="my-data-view"]`),
	))
	checkA11y(t, cust, "my-data")

	con, expired, err := srv.Records.CreateConsultation(ctx, 1, "", time.Millisecond)
	_ = con
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	within(t, cust, 20*time.Second, "expired link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/j/"+expired),
		chromedp.WaitVisible(`[data-testid="error-page"] h1`),
	))
	checkA11y(t, cust, "error-expired")
	within(t, cust, 20*time.Second, "expired link, English", chromedp.Steps(
		chromedp.Navigate(srv.base+"/j/"+expired+"?lang=en"),
		chromedp.WaitVisible(`[data-testid="error-page"] h1`),
	))
	waitJS(t, cust, 5*time.Second, "English error page", `document.documentElement.lang === 'en'`)
	checkA11y(t, cust, "error-expired-en")
	within(t, cust, 20*time.Second, "unknown link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/j/nosuchlink"),
		chromedp.WaitVisible(`[data-testid="error-page"] h1`),
	))
	checkA11y(t, cust, "error-unknown")

	bo := newBrowser(t, "backoffice", 1366, 768)
	within(t, bo, 20*time.Second, "back office list", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, backofficeName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="contract-row-`+signedID+`"]`),
	))
	checkA11y(t, bo, "backoffice-list")
	within(t, bo, 10*time.Second, "open the contract", chromedp.Click(`[data-testid="open-`+signedID+`"]`))
	waitJS(t, bo, 15*time.Second, "verdict shown", `!!document.querySelector('#detail-verdict [data-testid="verdict"]')`)
	waitJS(t, bo, 10*time.Second, "audit trail shown", `!!document.querySelector('[data-testid="audit-chain"]')`)
	checkA11y(t, bo, "backoffice-detail")

	admin := newBrowser(t, "admin", 1366, 768)
	within(t, admin, 20*time.Second, "admin data requests", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, adminName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="to-data-requests"]`),
		chromedp.Click(`[data-testid="to-data-requests"]`),
		chromedp.WaitVisible(`[data-testid="subject-search"]`),
	))
	checkA11y(t, admin, "admin-data-requests")
	within(t, admin, 20*time.Second, "admin users", chromedp.Steps(
		chromedp.Navigate(srv.base+"/admin/users"),
		chromedp.WaitVisible(`[data-testid="users-table"] tbody tr`),
	))
	checkA11y(t, admin, "admin-users")
	englishToo(t, admin, "admin-users")
}

// typedSignatureShots saves screenshots of the signature dialog with
// "sign without drawing" chosen: phone (390×844) and desktop (1366×768),
// German and English, into the artifacts directory
// (PARLEY_TEST_ARTIFACTS), to be looked at; it leaves the page as it found
// it (phone, German).
func typedSignatureShots(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	lang := func(l string) {
		within(t, ctx, 5*time.Second, "language "+l, chromedp.Evaluate[bool](
			`(document.documentElement.lang !== '`+l+`' && document.querySelector('[data-lang-toggle]').click(), true)`))
		waitJS(t, ctx, 5*time.Second, "language "+l, `document.documentElement.lang === '`+l+`'`)
	}
	size := func(w, h int64, opts ...chromedp.EmulateViewportOption) {
		within(t, ctx, 10*time.Second, "resize", chromedp.EmulateViewport(w, h, opts...))
		waitJS(t, ctx, 5*time.Second, "resized", fmt.Sprintf(`window.innerWidth === %d`, w))
	}
	saveScreenshot(t, ctx, "typed-sign-phone-de")
	lang("en")
	saveScreenshot(t, ctx, "typed-sign-phone-en")
	size(1366, 768)
	saveScreenshot(t, ctx, "typed-sign-desktop-en")
	lang("de")
	saveScreenshot(t, ctx, "typed-sign-desktop-de")
	size(390, 844, chromedp.EmulateMobile)
	within(t, ctx, 10*time.Second, "typed form still there", chromedp.WaitVisible(view+` [data-testid="typed-name"]`))
}

// englishToo switches the page to English with its language button, runs
// axe-core again (the lang attribute and the translated names) and
// switches back to German.
func englishToo(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	within(t, ctx, 10*time.Second, "switch to English", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, ctx, 5*time.Second, "English", `document.documentElement.lang === 'en'`)
	checkA11y(t, ctx, page+"-en")
	within(t, ctx, 10*time.Second, "back to German", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, ctx, 5*time.Second, "German", `document.documentElement.lang === 'de'`)
}
