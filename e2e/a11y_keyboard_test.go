package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The keyboard tests use nothing but key events (chromedp.KeyEvent, which
// sends real keyDown/keyUp through the DevTools protocol): Tab, Shift-Tab,
// Enter, Space, Escape, and typed characters in text fields. No clicks,
// no focus() from script.

// press sends one key (kb.Tab, kb.Enter, kb.Escape, " ") n times.
func press(t *testing.T, ctx context.Context, key string, n int, mods ...chromedp.Modifier) {
	t.Helper()
	for range n {
		within(t, ctx, 5*time.Second, "press "+fmt.Sprintf("%q", key), chromedp.KeyEvent(key, chromedp.KeyModifiers(mods...)))
	}
}

// typeText types s into the focused field, key by key.
func typeText(t *testing.T, ctx context.Context, s string) {
	t.Helper()
	within(t, ctx, 10*time.Second, "type", chromedp.KeyEvent(s))
}

// focusInfo describes the focused element.
type focusInfo struct {
	Match   bool   `json:"match"`
	Desc    string `json:"desc"`
	Visible bool   `json:"visible"` // a focus indicator is drawn (outline or box-shadow)
}

func focused(t *testing.T, ctx context.Context, selector string) focusInfo {
	t.Helper()
	return within(t, ctx, 5*time.Second, "focused element", chromedp.Evaluate[focusInfo](`(() => {
		const a = document.activeElement;
		if (!a || a === document.body) return {match: false, desc: 'body', visible: false};
		const s = getComputedStyle(a);
		return {
			match: a.matches(`+jsQuote(selector)+`),
			desc: a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + (a.dataset.testid ? '[' + a.dataset.testid + ']' : '') + ' "' + (a.getAttribute('aria-label') || a.textContent || '').trim().slice(0, 40) + '"',
			visible: a.matches(':focus-visible') && ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || (s.boxShadow !== 'none' && s.boxShadow !== '')),
		};
	})()`))
}

// tabTo presses Tab (or Shift-Tab with back) until selector has the
// focus, at most max times; the element must show a visible focus
// indicator. It returns the number of presses.
func tabTo(t *testing.T, ctx context.Context, selector string, max int, back bool) int {
	t.Helper()
	var mods []chromedp.Modifier
	if back {
		mods = []chromedp.Modifier{chromedp.ModifierShift}
	}
	var path []string
	for i := 1; i <= max; i++ {
		press(t, ctx, kb.Tab, 1, mods...)
		f := focused(t, ctx, selector)
		path = append(path, f.Desc)
		if f.Match {
			if !f.Visible {
				t.Errorf("%s has the keyboard focus but no visible focus indicator", f.Desc)
			}
			return i
		}
	}
	t.Fatalf("%s not reached with %d presses of Tab (shift %v); focus went %s", selector, max, back, strings.Join(path, " → "))
	return 0
}

// TestBrowserKeyboardDay is the advisor's day and the customer's join
// with the keyboard alone: the advisor logs in, creates a consultation,
// opens the call, admits the knocking customer, presents a document from
// the documents drawer (Escape closes it and gives the focus back), and
// ends the consultation through its confirmation dialog; the customer
// types her name, ticks the consent with Space and joins with Enter,
// writes in the chat and closes her chat drawer with Escape, then reads
// the contract, signs it without drawing and downloads it
// (keyboardSignTyped). The advisor, drawers closed, hears the chat
// message and the signing in the live regions, her focus untouched.
func TestBrowserKeyboardDay(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1366, 768)
	cust := newBrowser(t, "customer", 390, 844)

	// Login.
	within(t, adv, 20*time.Second, "login page", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
	))
	tabTo(t, adv, `#username`, 10, false)
	typeText(t, adv, advisorName)
	tabTo(t, adv, `#password`, 3, false)
	typeText(t, adv, advisorPassword)
	tabTo(t, adv, `#username`, 3, true) // Shift-Tab goes back
	tabTo(t, adv, `#login-submit`, 5, false)
	press(t, adv, kb.Enter, 1)
	within(t, adv, 20*time.Second, "console", chromedp.WaitVisible(`[data-testid="new-consultation"]`))

	// Create a consultation.
	tabTo(t, adv, `[data-testid="new-title"]`, 30, false)
	typeText(t, adv, "Baufinanzierung")
	tabTo(t, adv, `[data-testid="new-consultation"]`, 5, false)
	press(t, adv, kb.Enter, 1)
	within(t, adv, 10*time.Second, "invite shown", chromedp.WaitVisible(`[data-testid="invite-link"]`))
	invite := strings.TrimSpace(within(t, adv, 10*time.Second, "read the invite link",
		chromedp.Poll[string](`(document.querySelector('[data-testid="invite-link"]')?.textContent || '').includes('/j/') && document.querySelector('[data-testid="invite-link"]').textContent.trim()`)))
	tabTo(t, adv, `[data-testid="open-call"]`, 30, false)
	press(t, adv, kb.Enter, 1)
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)

	// The customer's join.
	within(t, cust, 30*time.Second, "customer opens the invite", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
	))
	tabTo(t, cust, `[data-testid="join-name"]`, 20, false)
	typeText(t, cust, "Erika Mustermann")
	tabTo(t, cust, `[data-testid="consent"]`, 20, false)
	press(t, cust, " ", 1)
	waitJS(t, cust, 5*time.Second, "consent ticked with Space", `document.querySelector('[data-testid="consent"]').checked`)
	tabTo(t, cust, `[data-testid="join"]`, 30, false)
	press(t, cust, kb.Enter, 1)
	within(t, cust, 30*time.Second, "waiting room", chromedp.WaitVisible(`[data-testid="waiting-screen"]`))
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID

	// Admit from the knock.
	within(t, adv, 20*time.Second, "knock shown", chromedp.WaitVisible(`[data-testid="knock-admit"]`))
	tabTo(t, adv, `[data-testid="knock-admit"], [data-testid="admit-`+custID+`"]`, 40, false)
	press(t, adv, kb.Enter, 1)
	waitStats(t, cust, 15*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	saveScreenshot(t, adv, "keyboard-advisor-admitted")

	// The customer opens the chat with Enter and closes it with Escape.
	tabTo(t, cust, `[data-testid="chat-toggle"]`, 40, false)
	press(t, cust, kb.Enter, 1)
	within(t, cust, 10*time.Second, "chat open", chromedp.WaitVisible(`[data-testid="chat-panel"]`))
	if f := focused(t, cust, `[data-testid="chat-input"]`); !f.Match {
		tabTo(t, cust, `[data-testid="chat-input"]`, 10, false)
	}
	typeText(t, cust, "Guten Tag")
	press(t, cust, kb.Enter, 1)
	// The advisor, chat drawer closed, hears it: the live region outside
	// the drawers says who wrote what, and her focus stays where it was.
	advFocus := within(t, adv, 5*time.Second, "advisor's focus", chromedp.Evaluate[string](`document.activeElement?.dataset?.testid || document.activeElement?.id || ''`))
	waitJS(t, adv, 15*time.Second, "chat message announced", announced("Neue Nachricht von Erika Mustermann: Guten Tag"))
	if now := within(t, adv, 5*time.Second, "advisor's focus", chromedp.Evaluate[string](`document.activeElement?.dataset?.testid || document.activeElement?.id || ''`)); now != advFocus {
		t.Errorf("the announcement moved the advisor's focus from %q to %q", advFocus, now)
	}
	press(t, cust, kb.Escape, 1)
	within(t, cust, 10*time.Second, "Escape closes the chat", chromedp.WaitNotVisible(`[data-testid="chat-panel"]`))
	if f := focused(t, cust, `[data-testid="chat-toggle"]`); !f.Match {
		t.Errorf("after Escape the focus is on %s, not back on the chat button", f.Desc)
	}

	// Present the template contract.
	tabTo(t, adv, `[data-testid="documents-toggle"]`, 40, false)
	press(t, adv, kb.Enter, 1)
	within(t, adv, 10*time.Second, "documents drawer", chromedp.WaitVisible(`[data-testid="document-template"]`))
	tabTo(t, adv, `[data-testid="document-template"]`, 20, false)
	press(t, adv, kb.Enter, 1)
	within(t, adv, 10*time.Second, "template form", chromedp.WaitVisible(`[data-testid="document-title"]`))
	if f := focused(t, adv, `[data-testid="document-title"]`); !f.Match { // the template puts the focus on its title
		t.Errorf("after choosing the template the focus is on %s, not on the title", f.Desc)
		tabTo(t, adv, `[data-testid="document-title"]`, 20, false)
	}
	tabTo(t, adv, `[data-testid="document-signers-customer"]`, 20, false)
	press(t, adv, " ", 1)
	tabTo(t, adv, `[data-testid="document-present"]`, 20, false)
	saveScreenshot(t, adv, "keyboard-advisor-present")
	press(t, adv, kb.Enter, 1)
	docID := within(t, adv, 15*time.Second, "document listed", chromedp.Poll[string](
		`document.querySelector('#call-docs [data-testid^="doc-d_"]')?.dataset.doc || null`))
	within(t, cust, 15*time.Second, "the customer's document view opens",
		chromedp.WaitVisible(`[data-testid="doc-view"][data-doc="`+docID+`"]`))
	press(t, adv, kb.Escape, 1)
	within(t, adv, 10*time.Second, "Escape closes the documents drawer", chromedp.WaitNotVisible(`[data-testid="document-template"]`))
	if f := focused(t, adv, `[data-testid="documents-toggle"]`); !f.Match {
		t.Errorf("after Escape the focus is on %s, not back on the documents button", f.Desc)
	}

	keyboardSignTyped(t, adv, cust, "Erika Mustermann")
	if f := focused(t, adv, `[data-testid="documents-toggle"]`); !f.Match {
		t.Errorf("the announcements moved the advisor's focus to %s", f.Desc)
	}

	// End, through the confirmation dialog: it is modal, Tab never
	// reaches the page behind it (only the browser's own controls, which
	// show here as the body).
	tabTo(t, adv, `[data-testid="end"]`, 40, false)
	press(t, adv, kb.Enter, 1)
	within(t, adv, 10*time.Second, "end dialog", chromedp.WaitVisible(`[data-testid="end-confirm"]`))
	saveScreenshot(t, adv, "keyboard-advisor-end-dialog")
	for i := range 6 {
		press(t, adv, kb.Tab, 1)
		if in := within(t, adv, 5*time.Second, "focus in the dialog", chromedp.Evaluate[bool](
			`!document.activeElement || document.activeElement === document.body || !!document.activeElement.closest('dialog[open]')`)); !in {
			t.Fatalf("Tab %d left the open end dialog: focus on %s", i+1, focused(t, adv, "dialog").Desc)
		}
	}
	tabTo(t, adv, `[data-testid="end-confirm"]`, 6, false)
	press(t, adv, kb.Enter, 1)
	within(t, cust, 20*time.Second, "the customer sees the end", chromedp.WaitVisible(`[data-testid="end-screen"]`))
}

// announced is a JS condition: the page's screen-reader announcer
// (ui.announce) or one of its toasts (a live region too) says text.
func announced(text string) string {
	return `[document.getElementById('sr-announcer'), document.getElementById('toasts')].some((el) => (el?.textContent || '').includes(` + jsQuote(text) + `))`
}

// keyboardSignTyped: the customer, keys only, reads the open document to
// its end, starts signing, chooses "sign without drawing" with the arrow
// keys, types her name, is told (and taken to) the missing confirmation,
// ticks it with Space, signs with Enter and downloads the signed PDF with
// Enter. The advisor (documents drawer closed) hears "… unterschreibt"
// and "… unterschrieben" from the live regions.
func keyboardSignTyped(t *testing.T, adv, cust context.Context, name string) {
	t.Helper()
	pages := within(t, cust, 10*time.Second, "pages", chromedp.Poll[int](`+(document.querySelector('[data-testid="doc-view"]')?.dataset.pages || 0) || null`))
	if pages > 1 {
		tabTo(t, cust, `[data-testid="doc-page-next"]`, 30, false)
		press(t, cust, kb.Enter, pages-1)
	}
	waitJS(t, cust, 15*time.Second, "sign button enabled", `!document.querySelector('[data-testid="doc-sign-start"]').disabled`)
	tabTo(t, cust, `[data-testid="doc-sign-start"]`, 30, false)
	press(t, cust, kb.Enter, 1)
	within(t, cust, 10*time.Second, "sign pane", chromedp.WaitVisible(`[data-testid="sign-method-typed"]`))
	if f := focused(t, cust, `[data-testid="sign-method-draw"]`); !f.Match {
		t.Fatalf("entering the signature the focus is on %s, not on the choice of how to sign", f.Desc)
	}
	waitJS(t, adv, 15*time.Second, "signing announced to the advisor", announced(name+" unterschreibt"))
	press(t, cust, kb.ArrowDown, 1)
	within(t, cust, 10*time.Second, "typed signature form", chromedp.WaitVisible(`[data-testid="typed-name"]`))
	waitJS(t, cust, 5*time.Second, "pad hidden", `document.querySelector('[data-testid="signature-pad"]').getClientRects().length === 0`)
	tabTo(t, cust, `[data-testid="typed-name"]`, 5, false)
	typeText(t, cust, name)
	tabTo(t, cust, `[data-testid="signature-submit"]`, 10, false)
	press(t, cust, kb.Enter, 1)
	within(t, cust, 10*time.Second, "missing confirmation said", chromedp.WaitVisible(`[data-testid="signature-error"]`))
	if f := focused(t, cust, `[data-testid="typed-confirm"]`); !f.Match {
		t.Errorf("after the missing confirmation the focus is on %s, not on the checkbox", f.Desc)
	}
	press(t, cust, " ", 1)
	waitJS(t, cust, 5*time.Second, "confirmed with Space", `document.querySelector('[data-testid="typed-confirm"]').checked`)
	tabTo(t, cust, `[data-testid="signature-submit"]`, 10, false)
	press(t, cust, kb.Enter, 1)
	within(t, cust, 30*time.Second, "signed", chromedp.WaitVisible(`[data-testid="doc-signed"]`))
	waitJS(t, adv, 15*time.Second, "signed announced to the advisor", announced("unterschrieben"))
	tabTo(t, cust, `[data-testid^="doc-download-"]`, 30, false)
	file, b := downloadBy(t, cust, "customer", func() { press(t, cust, kb.Enter, 1) })
	checkSignedPDF(t, "customer", b)
	if !strings.HasSuffix(file, ".pdf") || !bytes.Contains(b, []byte("("+name+") Tj")) || !bytes.Contains(b, []byte("/Helvetica-Oblique")) {
		t.Errorf("downloaded %q: the typed name is not in the signature's appearance", file)
	}
}

// TestBrowserReducedMotion: with prefers-reduced-motion: reduce, the
// waiting room's pulsing dots and the buttons' transitions stop (they run
// without it: the control that the check sees a difference).
func TestBrowserReducedMotion(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1366, 768)
	cust := newBrowser(t, "customer", 390, 844)
	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	customerJoins(t, cust, invite)
	const motion = `(() => {
		const dot = getComputedStyle(document.querySelector('.pulse span'));
		const btn = getComputedStyle(document.querySelector('[data-testid="waiting-leave"]'));
		return {anim: dot.animationDuration + ' x ' + dot.animationIterationCount, trans: btn.transitionDuration};
	})()`
	type motionStyle struct {
		Anim  string `json:"anim"`
		Trans string `json:"trans"`
	}
	full := within(t, cust, 5*time.Second, "motion", chromedp.Evaluate[motionStyle](motion))
	if full.Anim != "1.2s x infinite" {
		t.Fatalf("without a preference the dots pulse as %q, want 1.2s x infinite", full.Anim)
	}
	if _, err := chromedp.Call(cust, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}); err != nil {
		t.Fatalf("emulate prefers-reduced-motion: %v", err)
	}
	reduced := within(t, cust, 5*time.Second, "motion", chromedp.Evaluate[motionStyle](motion))
	t.Logf("motion: full %+v, reduced %+v", full, reduced)
	if reduced.Anim != "1e-05s x 1" || strings.Trim(strings.ReplaceAll(reduced.Trans, "1e-05s", ""), ", ") != "" {
		t.Errorf("with prefers-reduced-motion: reduce the page still moves: %+v", reduced)
	}
}

// TestBrowserZoom200: at 200 % zoom a 1366×768 screen is 683×384 CSS
// pixels. Login, join and the call (advisor and customer) fit its width
// (no sideways scrolling) and every call control is on screen.
func TestBrowserZoom200(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1366, 768)
	cust := newBrowser(t, "customer", 1366, 768)
	zoom := chromedp.EmulateViewport(683, 384)
	within(t, adv, 5*time.Second, "zoom", zoom)
	within(t, cust, 5*time.Second, "zoom", zoom)
	const fits = `document.documentElement.scrollWidth <= innerWidth && document.body.scrollWidth <= innerWidth`
	// Every visible control inside the viewport's width, none cut off.
	const controlsOnScreen = `[...document.querySelectorAll('.controls button')].filter((b) => b.offsetParent !== null)
		.every((b) => { const r = b.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight; })`

	within(t, adv, 20*time.Second, "login page", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
	))
	waitJS(t, adv, 5*time.Second, "login fits at 200 %", fits)
	saveScreenshot(t, adv, "zoom200-login")
	within(t, adv, 20*time.Second, "log in", chromedp.Steps(
		chromedp.SendKeys(`#username`, advisorName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
	))
	invite := createConsultation(t, adv, "Baufinanzierung")
	waitJS(t, adv, 5*time.Second, "console fits at 200 %", fits)
	saveScreenshot(t, adv, "zoom200-console")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)

	within(t, cust, 30*time.Second, "join page", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
	))
	waitJS(t, cust, 5*time.Second, "join fits at 200 %", fits)
	saveScreenshot(t, cust, "zoom200-join")
	within(t, cust, 30*time.Second, "customer joins", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" })
	within(t, adv, 20*time.Second, "knock shown", chromedp.WaitVisible(`[data-testid="knock-admit"]`))
	saveScreenshot(t, adv, "zoom200-call-advisor-knock")
	// Nothing (a toast, the controls) covers the knock's admit button.
	waitJS(t, adv, 5*time.Second, "admit button uncovered at 200 %", `(() => {
		const b = document.querySelector('[data-testid="knock-admit"]'); const r = b.getBoundingClientRect();
		return r.right <= innerWidth && r.bottom <= innerHeight && b.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); })()`)
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="knock-admit"]`))
	waitStats(t, cust, 15*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	for _, b := range []struct {
		who string
		ctx context.Context
	}{{"advisor", adv}, {"customer", cust}} {
		waitJS(t, b.ctx, 5*time.Second, b.who+"'s call fits at 200 %", fits)
		waitJS(t, b.ctx, 5*time.Second, b.who+"'s call controls all on screen at 200 %", controlsOnScreen)
		saveScreenshot(t, b.ctx, "zoom200-call-"+b.who)
	}
	within(t, adv, 10*time.Second, "advisor opens the chat", chromedp.Steps(
		chromedp.Click(`[data-testid="chat-toggle"]`),
		chromedp.WaitVisible(`[data-testid="chat-input"]`),
	))
	waitJS(t, adv, 5*time.Second, "call with chat fits at 200 %", fits+` && (() => { const r = document.querySelector('[data-testid="chat-input"]').getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth; })()`)
	saveScreenshot(t, adv, "zoom200-call-advisor-chat")
}
