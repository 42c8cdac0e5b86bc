package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
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

// countCapture installs, before any page script runs, a counter of
// getUserMedia calls (window.__gum, and the constraints in __gumLog).
func countCapture(t *testing.T, ctx context.Context) {
	t.Helper()
	js := `(() => {
		window.__gum = 0; window.__gumLog = [];
		const md = navigator.mediaDevices;
		if (!md) return;
		const orig = md.getUserMedia.bind(md);
		md.getUserMedia = (c) => { window.__gum++; window.__gumLog.push(JSON.stringify(c)); return orig(c); };
	})()`
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		t.Fatal(err)
	}
}

// useLang switches a Parley page to lang with its language button, if it
// is not shown in it already.
func useLang(t *testing.T, ctx context.Context, lang string) {
	t.Helper()
	waitJS(t, ctx, 10*time.Second, "switch to "+lang, `document.documentElement.lang === '`+lang+`' ||
		(document.querySelector('[data-testid="lang-toggle"]').click(), false)`)
}

// joinLayout measures the join page: how tall it is, where "Jetzt
// teilnehmen" is, and whether the camera was asked for.
type joinLayout struct {
	ScrollHeight float64 `json:"scrollHeight"`
	InnerHeight  float64 `json:"innerHeight"`
	ButtonTop    float64 `json:"buttonTop"`
	ButtonBottom float64 `json:"buttonBottom"`
	ScrollY      float64 `json:"scrollY"`
	Gum          float64 `json:"gum"`
	LabelLen     float64 `json:"labelLen"`
	TextShown    bool    `json:"textShown"`
	TextLen      float64 `json:"textLen"`
	Fits         bool    `json:"fits"`
	PreviewLive  bool    `json:"previewLive"`
}

const measureJoin = `(() => {
	const b = document.querySelector('[data-testid="join"]').getBoundingClientRect();
	const text = document.querySelector('[data-testid="consent-text"]');
	const v = document.querySelector('[data-testid="preview-video"]');
	return {
		scrollHeight: document.documentElement.scrollHeight, innerHeight: window.innerHeight,
		buttonTop: b.top, buttonBottom: b.bottom, scrollY: window.scrollY, gum: window.__gum,
		labelLen: document.querySelector('label[for="consent"]').innerText.trim().length,
		textShown: text.checkVisibility(), textLen: text.textContent.length,
		fits: ` + noOverflow + `,
		previewLive: !!v.srcObject && v.srcObject.getVideoTracks().some(t => t.readyState === 'live') && v.videoWidth > 0,
	};
})()`

// TestBrowserPhoneJoin: on a 390×844 phone, in German and in English, the
// join page shows name, consent and "Jetzt teilnehmen" on the first
// screen; the consent checkbox has a short label and the full text behind
// a disclosure; camera and microphone are not touched (no getUserMedia)
// before the customer consented and asked for the device check; then the
// preview runs and the customer joins.
func TestBrowserPhoneJoin(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")

	for _, lang := range []string{"de", "en"} {
		cust := newBrowser(t, "customer-"+lang, 390, 844)
		germanPhone(t, cust)
		countCapture(t, cust)
		within(t, cust, 20*time.Second, "open the invite", chromedp.Steps(
			chromedp.Navigate(invite),
			chromedp.WaitVisible(`[data-testid="consent"]`),
		))
		useLang(t, cust, lang)
		time.Sleep(time.Second) // what the page would start by itself, it has started by now
		l := within(t, cust, 10*time.Second, "measure", chromedp.Evaluate[joinLayout](measureJoin))
		t.Logf("%s: page %v px tall on a %v px screen; join button at %v–%v; label %v chars; getUserMedia calls %v",
			lang, l.ScrollHeight, l.InnerHeight, l.ButtonTop, l.ButtonBottom, l.LabelLen, l.Gum)
		saveView(t, cust, "phone-join-"+lang)
		if l.Gum != 0 {
			t.Errorf("%s: getUserMedia called %v times before consent", lang, l.Gum)
		}
		if l.ScrollY != 0 || l.ButtonBottom > l.InnerHeight || l.ButtonTop < 0 {
			t.Errorf("%s: the join button (%v–%v px) is not on the first %v px screen", lang, l.ButtonTop, l.ButtonBottom, l.InnerHeight)
		}
		if l.ScrollHeight > 1.5*l.InnerHeight {
			t.Errorf("%s: the join page is %v px tall, more than 1.5 screens", lang, l.ScrollHeight)
		}
		if l.LabelLen > 160 {
			t.Errorf("%s: the consent checkbox's label is %v characters long, want a short one", lang, l.LabelLen)
		}
		if l.TextShown || l.TextLen < 300 {
			t.Errorf("%s: full consent text shown %v (%v chars), want it (complete) behind a disclosure", lang, l.TextShown, l.TextLen)
		}
		if !l.Fits {
			t.Errorf("%s: the join page is wider than the phone", lang)
		}
		// The full text is one tap away.
		within(t, cust, 10*time.Second, "open the consent text", chromedp.Click(`[data-testid="consent-details"] summary`))
		waitJS(t, cust, 5*time.Second, "consent text shown", `document.querySelector('[data-testid="consent-text"]').checkVisibility()`)
		saveView(t, cust, "phone-join-consent-text-"+lang)
		within(t, cust, 10*time.Second, "close the consent text", chromedp.Click(`[data-testid="consent-details"] summary`))

		// Name and consent: still no camera; the device check is offered.
		within(t, cust, 10*time.Second, "name and consent", chromedp.Steps(
			chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
			chromedp.Click(`[data-testid="consent"]`),
		))
		time.Sleep(500 * time.Millisecond)
		l = within(t, cust, 10*time.Second, "measure", chromedp.Evaluate[joinLayout](measureJoin))
		if l.Gum != 0 {
			t.Errorf("%s: getUserMedia called %v times after consent but before the customer asked for the preview", lang, l.Gum)
		}
		if l.ButtonBottom > l.InnerHeight {
			t.Errorf("%s: after consent the join button (%v–%v px) left the first screen", lang, l.ButtonTop, l.ButtonBottom)
		}
		within(t, cust, 10*time.Second, "start the device check", chromedp.Steps(
			chromedp.WaitEnabled(`[data-testid="preview-start"]`),
			chromedp.Click(`[data-testid="preview-start"]`),
		))
		waitJS(t, cust, 15*time.Second, "preview runs", `(`+measureJoin+`).previewLive`)
		if l = within(t, cust, 10*time.Second, "measure", chromedp.Evaluate[joinLayout](measureJoin)); l.Gum < 1 {
			t.Errorf("%s: the preview runs without getUserMedia?", lang)
		}
		scrollTo(t, cust, `[data-testid="join-preview"]`)
		saveView(t, cust, "phone-join-preview-"+lang)
		scrollTo(t, cust, `[data-testid="join-name"]`)
		within(t, cust, 20*time.Second, "join", chromedp.Click(`[data-testid="join"]`))
		if _, err := chromedp.Run(cust, chromedp.WaitVisible(`[data-testid="waiting-screen"]`)); err != nil {
			saveView(t, cust, "phone-join-failed-"+lang)
			t.Fatalf("%s: no waiting room after joining: %v", lang, err)
		}
		saveView(t, cust, "phone-join-waiting-"+lang)
	}
}

// TestBrowserPhonePhoto: on her phone the customer taps "Foto aufnehmen":
// a preview opens with the live camera; she switches to the rear camera
// (getUserMedia with facingMode "environment"), captures, and sees the
// still with "Neu aufnehmen" and "Senden" while nothing has been sent or
// stored; she retakes, sends, and the advisor shows the photo; closing
// turns the camera back to the front. In English, "Cancel" sends nothing.
func TestBrowserPhonePhoto(t *testing.T) {
	c := startChatCall(t, "Ausweis", func(invite string) string { return invite })
	filesDir := filepath.Join(c.dataDir, "files")
	// Count getUserMedia from now on (the page calls it through the object).
	within(t, c.cust, 5*time.Second, "count getUserMedia", chromedp.Evaluate[bool](`(() => {
		window.__gum = 0; window.__gumLog = [];
		const md = navigator.mediaDevices, orig = md.getUserMedia.bind(md);
		md.getUserMedia = (c) => { window.__gum++; window.__gumLog.push(JSON.stringify(c)); return orig(c); };
		return true; })()`))
	photos := func(ctx context.Context) int {
		return within(t, ctx, 5*time.Second, "photo messages", chromedp.Evaluate[int](
			`document.querySelectorAll('[data-testid="chat-message"][data-kind="photo"]').length`))
	}
	dialog := `[data-testid="photo-dialog"]`

	within(t, c.cust, 10*time.Second, "open the photo preview", chromedp.Click(`[data-testid="chat-photo"]`))
	waitJS(t, c.cust, 20*time.Second, "live camera in the preview", `(() => { const d = document.querySelector('`+dialog+`');
		const v = document.querySelector('[data-testid="photo-live"]');
		return d.open && d.dataset.mode === 'live' && v.videoWidth > 0 && v.checkVisibility(); })()`)
	saveView(t, c.cust, "phone-photo-live-de")

	within(t, c.cust, 10*time.Second, "rear camera", chromedp.Click(`[data-testid="photo-switch"]`))
	waitJS(t, c.cust, 10*time.Second, "asked for the rear camera", `window.__gumLog.some(c => c.includes('"facingMode":{"ideal":"environment"}'))`)
	waitJS(t, c.cust, 10*time.Second, "live again", `!document.querySelector('[data-testid="photo-shutter"]').disabled &&
		document.querySelector('[data-testid="photo-live"]').videoWidth > 0`)
	if label := within(t, c.cust, 5*time.Second, "switch label", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="photo-switch"]').innerText.trim()`)); label != "Frontkamera" {
		t.Errorf("after switching, the camera button says %q, want Frontkamera", label)
	}

	within(t, c.cust, 10*time.Second, "capture", chromedp.Click(`[data-testid="photo-shutter"]`))
	waitJS(t, c.cust, 10*time.Second, "the still with retake and send", `(() => { const d = document.querySelector('`+dialog+`');
		const i = document.querySelector('[data-testid="photo-still"]');
		return d.dataset.mode === 'review' && i.checkVisibility() && i.complete && i.naturalWidth > 0 &&
			document.querySelector('[data-testid="photo-retake"]').checkVisibility() &&
			document.querySelector('[data-testid="photo-send"]').checkVisibility(); })()`)
	saveView(t, c.cust, "phone-photo-review-de")
	// Nothing has left the browser.
	time.Sleep(1500 * time.Millisecond)
	if n, m := photos(c.adv), photos(c.cust); n != 0 || m != 0 {
		t.Fatalf("before Senden: %d photo messages at the advisor, %d at the customer", n, m)
	}
	if n := len(blobsOf(storedFiles(t, filesDir))); n != 0 {
		t.Fatalf("before Senden: %d files stored on the server", n)
	}

	within(t, c.cust, 10*time.Second, "retake", chromedp.Click(`[data-testid="photo-retake"]`))
	waitJS(t, c.cust, 10*time.Second, "live after retake", `document.querySelector('`+dialog+`').dataset.mode === 'live' &&
		!document.querySelector('[data-testid="photo-still"]').checkVisibility()`)
	within(t, c.cust, 20*time.Second, "capture and send", chromedp.Steps(
		chromedp.WaitEnabled(`[data-testid="photo-shutter"]`),
		chromedp.Click(`[data-testid="photo-shutter"]`),
		chromedp.WaitVisible(`[data-testid="photo-send"]`),
		chromedp.Click(`[data-testid="photo-send"]`),
	))
	waitJS(t, c.cust, 10*time.Second, "preview closed", `!document.querySelector('`+dialog+`').open`)
	within(t, c.adv, 20*time.Second, "advisor shows the photo", chromedp.Poll[bool](
		`[...document.querySelectorAll('[data-testid="chat-message"][data-kind="photo"]')].some(e => { const i = e.querySelector('img'); return i && i.complete && i.naturalWidth > 0; })`))
	if n := photos(c.adv); n != 1 {
		t.Errorf("advisor has %d photo messages, want 1", n)
	}
	waitJS(t, c.cust, 10*time.Second, "front camera again", `JSON.parse(window.__gumLog[window.__gumLog.length - 1]).video.facingMode.ideal === 'user'`)
	saveView(t, c.cust, "phone-photo-sent-de")

	// English; "Cancel" sends nothing.
	useLang(t, c.cust, "en")
	within(t, c.cust, 10*time.Second, "open the preview again", chromedp.Click(`[data-testid="chat-photo"]`))
	waitJS(t, c.cust, 10*time.Second, "live", `document.querySelector('[data-testid="photo-live"]').videoWidth > 0 &&
		!document.querySelector('[data-testid="photo-shutter"]').disabled`)
	saveView(t, c.cust, "phone-photo-live-en")
	within(t, c.cust, 10*time.Second, "capture", chromedp.Click(`[data-testid="photo-shutter"]`))
	waitJS(t, c.cust, 10*time.Second, "review", `document.querySelector('`+dialog+`').dataset.mode === 'review' &&
		document.querySelector('[data-testid="photo-send"]').innerText.trim() === 'Send'`)
	saveView(t, c.cust, "phone-photo-review-en")
	within(t, c.cust, 10*time.Second, "cancel", chromedp.Click(`[data-testid="photo-cancel"]`))
	waitJS(t, c.cust, 10*time.Second, "preview closed", `!document.querySelector('`+dialog+`').open`)
	time.Sleep(time.Second)
	if n := photos(c.adv); n != 1 {
		t.Errorf("after Cancel the advisor has %d photo messages, want still 1", n)
	}
}
