package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ctlState reads the mic and camera buttons of the page's own toolbar:
// "class|aria-pressed" each.
const ctlState = `['toggle-mic', 'toggle-camera'].map((id) => { const b = document.querySelector('[data-testid="' + id + '"]');
  return b ? b.className + '|' + b.getAttribute('aria-pressed') : 'none'; }).join(' ')`

// mutedBadges counts what the advisor's page shows as "muted" or "camera
// off" for participant p (tile badges and participant-list icons).
func mutedBadges(p string) string {
	return `document.querySelectorAll('[data-participant="` + p + `"] .badge-muted').length`
}

// TestBrowserReconnectNotMuted (issue 18, item 15): while the customer's
// connection is being restored, neither the customer's own microphone and
// camera buttons nor the advisor's view of the customer turn "muted" red:
// nobody muted anything.
func TestBrowserReconnectNotMuted(t *testing.T) {
	c := startCall(t, "Wiederverbinden")
	before := evalString(t, c.cust, "controls", ctlState)
	if strings.Contains(before, "is-off") {
		t.Fatalf("controls muted before the outage: %s", before)
	}
	waitJS(t, c.adv, 10*time.Second, "no muted badge for the customer", mutedBadges(c.custID)+` === 0`)
	// The advisor's page notes every muted badge the customer ever gets.
	within(t, c.adv, 5*time.Second, "watch the badges", chromedp.Evaluate[bool](`(() => {
	  window.mutedSeen = 0;
	  new MutationObserver(() => { if (`+mutedBadges(c.custID)+` > 0) window.mutedSeen++; }).observe(document.body, {subtree: true, childList: true, attributes: true});
	  return true; })()`))
	if ok := within(t, c.cust, 5*time.Second, "drop the connection", chromedp.Evaluate[bool](`window.parleyDebug.simulateNetworkLoss(6000)`)); !ok {
		t.Fatal("simulateNetworkLoss: no call on the page")
	}
	waitRC(t, c.cust, 10*time.Second, "customer reconnecting", func(i rcInfo) bool { return i.Link == "reconnecting" })
	waitJS(t, c.adv, 10*time.Second, "advisor sees the customer reconnecting", `!!document.querySelector('[data-participant="`+c.custID+`"][data-state="reconnecting"]')`)
	// Sampled through the outage and the way back.
	deadline := time.Now().Add(12 * time.Second)
	samples := 0
	for time.Now().Before(deadline) {
		cs := evalString(t, c.cust, "controls", ctlState)
		if strings.Contains(cs, "is-off") || strings.Contains(cs, "|false") {
			saveScreenshot(t, c.cust, "reconnect-customer-muted")
			t.Fatalf("while reconnecting the customer's controls read %q (muted)", cs)
		}
		if n := evalString(t, c.adv, "badges", `String(`+mutedBadges(c.custID)+`)`); n != "0" {
			saveScreenshot(t, c.adv, "reconnect-advisor-muted")
			t.Fatalf("while the customer reconnects the advisor shows %s muted badges for them", n)
		}
		if samples == 3 {
			saveScreenshot(t, c.cust, "reconnect-customer")
			saveScreenshot(t, c.adv, "reconnect-advisor")
		}
		samples++
		if i, err := readRC(c.cust); err == nil && i.Link == "connected" && i.FirstFrameAfterReconnectAt != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d samples through the outage", samples)
	waitRC(t, c.cust, 20*time.Second, "customer back", func(i rcInfo) bool { return i.Link == "connected" })
	time.Sleep(2 * time.Second)
	if n := evalString(t, c.adv, "muted seen", `String(window.mutedSeen)`); n != "0" {
		t.Errorf("the advisor's page showed the reconnecting customer as muted (%s times)", n)
	}

	// A reload is a reconnect too: the controls must not flash "muted"
	// while the camera and microphone start again.
	within(t, c.cust, 20*time.Second, "customer reloads", chromedp.Reload())
	reloaded := time.Now()
	seen := map[string]bool{}
	for time.Since(reloaded) < 8*time.Second {
		cs, err := chromedp.Run(c.cust, chromedp.Evaluate[string](ctlState))
		if err == nil && cs != "none none" {
			seen[cs] = true
		}
		time.Sleep(30 * time.Millisecond)
	}
	for cs := range seen {
		if strings.Contains(cs, "is-off") || strings.Contains(cs, "|false") {
			t.Errorf("after the reload the customer's controls read %q (muted)", cs)
		}
	}
	t.Logf("controls seen after the reload: %v", seen)
	if n := evalString(t, c.adv, "muted seen", `String(window.mutedSeen)`); n != "0" {
		t.Errorf("the advisor's page showed the reloading customer as muted (%s times)", n)
	}
}

// titleIs checks (not fatally) that the tab title becomes want.
func titleIs(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	var got string
	for range 25 {
		if got = evalString(t, ctx, "title", `document.title`); got == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("tab title %q, want %q", got, want)
}

// TestBrowserCustomerPolish (issue 18, item 15): tab titles name the
// company (cfg.Company.Name), not "Parley"; "Meine Daten" shows the consent
// in words and a date, not the text's checksum; an anonymous customer who
// leaves from the waiting room is not asked to rate a consultation that
// never took place. German and English, customer on a phone.
func TestBrowserCustomerPolish(t *testing.T) {
	srv := startServer(t, privacyQuestions)
	adv := newBrowser(t, "advisor", 1366, 768)
	within(t, adv, 20*time.Second, "login page", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
	))
	if title := evalString(t, adv, "title", `document.title`); title != "Anmeldung – Musterbank AG" {
		t.Errorf("login tab title %q", title)
	}
	invite := loginAndCreate(t, adv, srv.base, "Depot")
	titleIs(t, adv, "Beratungen – Musterbank AG")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	titleIs(t, adv, "Gespräch – Musterbank AG")

	// A customer with consent: the consent in "Meine Daten".
	cust := newBrowser(t, "customer", 390, 844)
	within(t, cust, 30*time.Second, "customer joins", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
		chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.WaitEnabled(`[data-testid="question-email"]`),
		chromedp.SendKeys(`[data-testid="question-email"]`, "erika@example.org"),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	if title := evalString(t, cust, "title", `document.title`); title != "Videoberatung – Musterbank AG" {
		t.Errorf("join tab title %q", title)
	}
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+custID+`"]`))
	waitStats(t, cust, 15*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	within(t, cust, 10*time.Second, "open my data", chromedp.Click(`[data-testid="my-data-toggle"]`))
	waitJS(t, cust, 10*time.Second, "consent listed", `(document.querySelector('[data-testid="my-data-consents"]')?.innerText || '').includes('Einwilligung zur Videoberatung auf Deutsch')`)
	hash := regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	consent := textOf(t, cust, `[data-testid="my-data-consents"]`)
	if hash.MatchString(consent) || !regexp.MustCompile(`gültigen Fassung`).MatchString(consent) {
		t.Errorf("consent shown as %q", consent)
	}
	within(t, cust, 5*time.Second, "scroll to the consent", chromedp.ScrollIntoView(`[data-testid="my-data-consents"]`))
	saveScreenshot(t, cust, "polish-consent-de")
	within(t, cust, 5*time.Second, "English", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, cust, 5*time.Second, "consent in English", `(document.querySelector('[data-testid="my-data-consents"]')?.innerText || '').includes('Consent to the video consultation in German')`)
	if c := textOf(t, cust, `[data-testid="my-data-consents"]`); hash.MatchString(c) {
		t.Errorf("consent shown as %q", c)
	}
	if title := evalString(t, cust, "title", `document.title`); title != "Video consultation – Musterbank AG" {
		t.Errorf("English join tab title %q", title)
	}
	saveScreenshot(t, cust, "polish-consent-en")

	// An anonymous customer leaves from the waiting room: no rating.
	for _, lang := range []string{"de", "en"} {
		anon := newBrowser(t, "anonymous-"+lang, 390, 844)
		within(t, anon, 30*time.Second, "anonymous customer joins", chromedp.Navigate(invite))
		if lang == "en" {
			within(t, anon, 10*time.Second, "English", chromedp.Steps(chromedp.WaitVisible(`[data-testid="lang-toggle"]`), chromedp.Click(`[data-testid="lang-toggle"]`)))
		}
		within(t, anon, 30*time.Second, "anonymous customer waits", chromedp.Steps(
			chromedp.WaitVisible(`[data-testid="join-anonymous"]`),
			chromedp.Click(`[data-testid="join-anonymous"]`),
			chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
		))
		within(t, anon, 10*time.Second, "leave the waiting room", chromedp.Steps(
			chromedp.Click(`[data-testid="waiting-leave"]`),
			chromedp.WaitVisible(`[data-testid="end-screen"]`),
		))
		time.Sleep(3 * time.Second) // the questions would have loaded by now
		if asked := within(t, anon, 5*time.Second, "feedback form", chromedp.Evaluate[bool](`!!document.querySelector('[data-testid="end-extra"] [data-testid="feedback-form"]')`)); asked {
			t.Errorf("%s: the anonymous customer who left the waiting room is asked to rate the consultation", lang)
		}
		saveScreenshot(t, anon, "polish-anonymous-left-"+lang)
	}
}
