package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// noOverflow is true when the page is no wider than the phone's 390 px
// screen: nothing to pan sideways (a retention table or a document page
// scrolls inside its own box, if at all). On a phone the layout viewport
// (innerWidth) grows with a too wide page, so both are compared with 390.
const noOverflow = `(document.documentElement.scrollWidth <= 390 && window.innerWidth <= 390)`

// germanPhone makes the browser ask for German, as a German phone does
// (headless Chromium itself asks for en-US).
func germanPhone(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserPhonePrivacy: on a 390 px phone the privacy notice fits the
// screen (the retention table reflows, nothing pans sideways), shows one
// language at a time (German by default), and its switch shows the other.
func TestBrowserPhonePrivacy(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t, "customer", 390, 844)
	germanPhone(t, b)
	within(t, b, 20*time.Second, "open the notice", chromedp.Steps(
		chromedp.Navigate(srv.base+"/privacy"),
		chromedp.WaitVisible(`h1`),
	))
	check := func(lang, h1, other string) {
		t.Helper()
		got := within(t, b, 10*time.Second, "measure the notice", chromedp.Evaluate[map[string]any](`({
			lang: document.documentElement.lang,
			h1: [...document.querySelectorAll('h1')].map(e => e.textContent.trim()),
			articles: [...document.querySelectorAll('article')].filter(a => a.offsetParent !== null).map(a => a.lang),
			scrollWidth: document.documentElement.scrollWidth,
			innerWidth: window.innerWidth,
			fits: `+noOverflow+`,
			table: (() => { const t = document.querySelector('table.retention'); if (!t) return null; const r = t.getBoundingClientRect(); return {left: r.left, right: r.right}; })(),
			text: document.body.innerText,
		})`))
		t.Logf("%s: h1 %v, articles %v, scrollWidth %v of %v, table %v", lang, got["h1"], got["articles"], got["scrollWidth"], got["innerWidth"], got["table"])
		if got["lang"] != lang {
			t.Errorf("html lang %v, want %s", got["lang"], lang)
		}
		if h, _ := got["h1"].([]any); len(h) != 1 || h[0] != h1 {
			t.Errorf("headings %v, want only %q", got["h1"], h1)
		}
		if a, _ := got["articles"].([]any); len(a) != 1 || a[0] != lang {
			t.Errorf("articles shown %v, want only %s", got["articles"], lang)
		}
		if got["fits"] != true {
			t.Errorf("%s: the page is %v px wide on a %v px screen", lang, got["scrollWidth"], got["innerWidth"])
		}
		if tb, ok := got["table"].(map[string]any); !ok || tb["left"].(float64) < 0 || tb["right"].(float64) > 390 {
			t.Errorf("%s: retention table at %v, not within the screen", lang, got["table"])
		}
		if text, _ := got["text"].(string); text == "" || strings.Contains(text, other) {
			t.Errorf("%s: the page also shows %q", lang, other)
		}
	}
	check("de", "Datenschutzhinweise zur Videoberatung", "Privacy notice for the video consultation")
	saveScreenshot(t, b, "phone-privacy-de")
	saveView(t, b, "phone-privacy-de-top")
	scrollTo(t, b, `table.retention`)
	saveView(t, b, "phone-privacy-de-table")
	within(t, b, 20*time.Second, "switch to English", chromedp.Steps(
		chromedp.Click(`[data-testid="lang-switch"]`),
		chromedp.WaitVisible(`article[lang="en"]`),
	))
	check("en", "Privacy notice for the video consultation", "Datenschutzhinweise zur Videoberatung")
	saveScreenshot(t, b, "phone-privacy-en")
	saveView(t, b, "phone-privacy-en-top")
	scrollTo(t, b, `table.retention`)
	saveView(t, b, "phone-privacy-en-table")
	within(t, b, 20*time.Second, "back to German", chromedp.Steps(
		chromedp.Click(`[data-testid="lang-switch"]`),
		chromedp.WaitVisible(`article[lang="de"]`),
	))
}

// saveView saves what the phone's screen shows now (not the whole page):
// the screenshots to look at for "is it readable, is the button there".
func saveView(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
