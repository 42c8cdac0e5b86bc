package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// evalString evaluates a JavaScript expression to a string.
func evalString(t *testing.T, ctx context.Context, what, expr string) string {
	t.Helper()
	return within(t, ctx, 5*time.Second, what, chromedp.Evaluate[string](expr))
}

// onTop is a JavaScript expression: is the element sel visible and the
// topmost element at its centre (not covered by a drawer)?
func onTop(sel string) string {
	return `(() => { const el = document.querySelector(` + jsQuote(sel) + `); if (!el || !el.offsetParent) return false;
	  const r = el.getBoundingClientRect(); const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
	  return !!hit && (hit === el || el.contains(hit)); })()`
}

func jsQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// grantNotifications lets the page at origin show desktop notifications
// (what the advisor's "Allow" in the browser's prompt does).
func grantNotifications(t *testing.T, ctx context.Context, origin string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"},
		Setting:    browser.PermissionSettingGranted,
		Origin:     origin,
	}); err != nil {
		t.Fatalf("grant notifications: %v", err)
	}
}

// TestBrowserKnockAdmitFromDrawer (issue 18, item 1): the advisor (desktop,
// 1366×768) has the chat open, then the documents drawer, when customers
// knock. A knock notice with Admit lies on top of the drawer, the toast
// "… wartet im Warteraum" has Admit too, the tab title and the favicon
// count the waiting customers, the sound (turned on) and the desktop
// notification (allowed) fire, and the desktop toolbar's participants
// button brings the waiting room over the drawer, operable by keyboard.
// German, then English.
func TestBrowserKnockAdmitFromDrawer(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1366, 768)
	grantNotifications(t, adv, srv.base)
	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)

	// The desktop toolbar has a participants button.
	waitJS(t, adv, 5*time.Second, "participants button on the desktop toolbar", `(() => { const b = document.querySelector('[data-testid="participants"]'); return !!b && b.offsetParent !== null; })()`)
	// Sound and desktop notification are off until the advisor turns them on.
	if on := within(t, adv, 5*time.Second, "sound off by default", chromedp.Evaluate[bool](`document.querySelector('[data-testid="knock-sound"]').checked`)); on {
		t.Fatal("the knock sound is on before the advisor turned it on")
	}
	within(t, adv, 10*time.Second, "turn sound and notifications on", chromedp.Steps(
		chromedp.Click(`[data-testid="knock-sound"]`),
		chromedp.Click(`[data-testid="knock-notify"]`),
	))
	waitJS(t, adv, 5*time.Second, "notifications allowed", `document.querySelector('[data-testid="knock-notify"]').checked && localStorage.getItem('parley.knockSound') === 'on'`)
	chimesBefore := evalString(t, adv, "chimes", `document.body.dataset.knockChimes || '0'`)

	// Chat open, then a customer knocks.
	within(t, adv, 10*time.Second, "open the chat", chromedp.Click(`[data-testid="chat-toggle"]`))
	waitJS(t, adv, 5*time.Second, "chat drawer open", `(() => { const c = document.querySelector('.chat:not([hidden])'); return !!c && c.offsetParent !== null; })()`)
	cust := newBrowser(t, "customer", 390, 844)
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID

	waitJS(t, adv, 10*time.Second, "knock notice on top of the chat drawer", onTop(`[data-testid="knock-admit"]`))
	text := evalString(t, adv, "knock text", `document.querySelector('[data-testid="knock-text"]').textContent`)
	if !strings.Contains(text, "Erika Mustermann wartet im Warteraum") {
		t.Errorf("knock notice says %q", text)
	}
	waitJS(t, adv, 5*time.Second, "toast with admit", `!!document.querySelector('[data-testid="toast-admit-`+custID+`"]')`)
	waitJS(t, adv, 5*time.Second, "tab title counts the knock", `document.title === '(1) Gespräch – Musterbank AG'`)
	waitJS(t, adv, 5*time.Second, "favicon badge", `document.body.dataset.faviconBadge === '1' && document.querySelector('link[rel="icon"]').href.startsWith('data:image/png')`)
	waitJS(t, adv, 5*time.Second, "knock sound played", `Number(document.body.dataset.knockChimes || '0') > `+chimesBefore)
	waitJS(t, adv, 5*time.Second, "desktop notification shown", `Number(document.body.dataset.knockNotifications || '0') >= 1`)
	if live := evalString(t, adv, "live region", `document.querySelector('[data-testid="toast-admit-`+custID+`"]').closest('[aria-live]')?.getAttribute('aria-live') || ''`); live != "polite" {
		t.Errorf("the knock toast is not in a live region (aria-live %q)", live)
	}
	saveScreenshot(t, adv, "knock-advisor-chat-de")

	// Admit from the notice, by keyboard.
	within(t, adv, 5*time.Second, "focus admit", chromedp.Focus(`[data-testid="knock-admit"]`))
	within(t, adv, 5*time.Second, "press Enter", chromedp.KeyEvent("\r"))
	waitStats(t, cust, 15*time.Second, "customer admitted from the knock notice", func(s debugStats) bool { return s.State == "joined" })
	waitJS(t, adv, 10*time.Second, "notice, toast and count gone", `document.querySelector('[data-testid="knock-bar"]').hidden && !document.querySelector('[data-testid^="toast-admit-"]') && document.title === 'Gespräch – Musterbank AG'`)

	// English; the documents drawer open; a second customer knocks.
	within(t, adv, 5*time.Second, "advisor switches to English", chromedp.Click(`[data-testid="lang-toggle"]`))
	within(t, adv, 10*time.Second, "open the documents", chromedp.Click(`[data-testid="documents-toggle"]`))
	waitJS(t, adv, 5*time.Second, "documents drawer open", `[...document.querySelectorAll('.chat')].some((d) => !d.hidden && d.offsetParent !== null && d.querySelector('[data-testid]'))`)
	cust2 := newBrowser(t, "customer2", 390, 844)
	customerJoins(t, cust2, invite)
	cust2ID := waitStats(t, cust2, 10*time.Second, "second customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	waitJS(t, adv, 10*time.Second, "knock notice on top of the documents drawer", onTop(`[data-testid="knock-admit"]`))
	waitJS(t, adv, 5*time.Second, "English title", `document.title === '(1) Call – Musterbank AG'`)
	text = evalString(t, adv, "knock text", `document.querySelector('[data-testid="knock-text"]').textContent`)
	if !strings.Contains(text, "is in the waiting room") {
		t.Errorf("English knock notice says %q", text)
	}
	saveScreenshot(t, adv, "knock-advisor-documents-en")

	// The participants button brings the waiting room over the drawer and
	// focuses its Admit; Enter admits.
	within(t, adv, 5*time.Second, "participants button", chromedp.Click(`[data-testid="participants"]`))
	waitJS(t, adv, 5*time.Second, "waiting room visible, admit focused", onTop(`[data-testid="admit-`+cust2ID+`"]`)+` && document.activeElement === document.querySelector('[data-testid="admit-`+cust2ID+`"]')`)
	saveScreenshot(t, adv, "knock-advisor-waiting-room-en")
	within(t, adv, 5*time.Second, "press Enter", chromedp.KeyEvent("\r"))
	waitStats(t, cust2, 15*time.Second, "second customer admitted from the waiting room", func(s debugStats) bool { return s.State == "joined" })
	saveScreenshot(t, cust2, "knock-customer-admitted")
}

// TestBrowserKnockToastAdmit: the toast of a knock carries its own Admit.
func TestBrowserKnockToastAdmit(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1366, 768)
	invite := loginAndCreate(t, adv, srv.base, "Kredit")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	cust := newBrowser(t, "customer", 390, 844)
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 10*time.Second, "admit from the toast", chromedp.Click(`[data-testid="toast-admit-`+custID+`"]`))
	waitStats(t, cust, 15*time.Second, "customer admitted from the toast", func(s debugStats) bool { return s.State == "joined" })
}

// TestBrowserConsoleKnockAndAway (issue 18, item 2): the console shows a
// knock within a few seconds as a notice with "open the call", counted in
// the tab title; the customer waiting while the advisor is "Abwesend" is
// told so, told again when the advisor is back, and (in English) when she
// is away again.
func TestBrowserConsoleKnockAndAway(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1366, 768)
	invite := loginAndCreate(t, adv, srv.base, "Altersvorsorge")
	if on := evalString(t, adv, "availability", `document.querySelector('[data-testid="availability"]').getAttribute('aria-checked')`); on != "false" {
		t.Fatalf("a new advisor is available (%s); the test expects away", on)
	}
	cust := newBrowser(t, "customer", 390, 844)
	customerJoins(t, cust, invite)

	// The customer hears that the advisor is away.
	waitJS(t, cust, 10*time.Second, "customer told the advisor is away", `document.querySelector('[data-testid="waiting-text"]').dataset.away === 'true'`)
	text := evalString(t, cust, "waiting text", `document.querySelector('[data-testid="waiting-text"]').textContent`)
	if !strings.Contains(text, "Anna Berg ist gerade abwesend") {
		t.Errorf("waiting customer reads %q", text)
	}
	saveScreenshot(t, cust, "away-customer-de")

	// The console shows the knock promptly (3 s poll), in the tab title too.
	waitJS(t, adv, 8*time.Second, "console knock notice", `!!document.querySelector('[data-testid="console-knocks"] .console-knock a[data-testid^="knock-open-"]')`)
	waitJS(t, adv, 5*time.Second, "console tab title", `document.title === '(1) Beratungen – Musterbank AG'`)
	knock := evalString(t, adv, "knock text", `document.querySelector('[data-testid="console-knocks"]').textContent`)
	if !strings.Contains(knock, "Jemand wartet in „Altersvorsorge“") {
		t.Errorf("console knock says %q", knock)
	}
	saveScreenshot(t, adv, "knock-console-de")

	// Back: the customer is told.
	within(t, adv, 5*time.Second, "advisor available", chromedp.Click(`[data-testid="availability"]`))
	waitJS(t, cust, 10*time.Second, "customer told the advisor is back", `document.querySelector('[data-testid="waiting-text"]').dataset.away === 'false'`)
	text = evalString(t, cust, "waiting text", `document.querySelector('[data-testid="waiting-text"]').textContent`)
	if !strings.Contains(text, "Anna Berg ist wieder da") {
		t.Errorf("waiting customer reads %q after the advisor is back", text)
	}
	saveScreenshot(t, cust, "back-customer-de")

	// English; away again.
	within(t, cust, 5*time.Second, "customer switches to English", chromedp.Click(`[data-testid="lang-toggle"]`))
	within(t, adv, 5*time.Second, "advisor switches to English", chromedp.Click(`[data-testid="lang-toggle"]`))
	within(t, adv, 5*time.Second, "advisor away", chromedp.Click(`[data-testid="availability"]`))
	waitJS(t, cust, 10*time.Second, "customer told the advisor is away again", `document.querySelector('[data-testid="waiting-text"]').dataset.away === 'true'`)
	text = evalString(t, cust, "waiting text", `document.querySelector('[data-testid="waiting-text"]').textContent`)
	if !strings.Contains(text, "Anna Berg is away at the moment") {
		t.Errorf("waiting customer reads %q (English)", text)
	}
	saveScreenshot(t, cust, "away-customer-en")
	waitJS(t, adv, 5*time.Second, "English console title", `document.title === '(1) Consultations – Musterbank AG'`)
	saveScreenshot(t, adv, "knock-console-en")

	// The advisor opens the call from the notice: in the call she counts as
	// present whatever the switch says.
	within(t, adv, 10*time.Second, "open the call from the knock", chromedp.Click(`[data-testid^="knock-open-"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	waitJS(t, cust, 10*time.Second, "advisor in the call is not away", `document.querySelector('[data-testid="waiting-text"]').dataset.away === 'false'`)
}
