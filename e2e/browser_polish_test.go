package e2e

import (
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
