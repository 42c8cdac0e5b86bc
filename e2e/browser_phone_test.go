package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
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

// pinch spreads two fingers on the screen from gap0 to gap1 px apart
// around (x, y): real touch events through the DevTools protocol.
func pinch(x, y, gap0, gap1 float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		id1, id2 := 1.0, 2.0
		points := func(gap float64) []*input.TouchPoint {
			return []*input.TouchPoint{{X: x - gap/2, Y: y, ID: &id1}, {X: x + gap/2, Y: y, ID: &id2}}
		}
		send := func(typ input.DispatchTouchEventType, pts []*input.TouchPoint) error {
			_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ, TouchPoints: pts})
			return err
		}
		if err := send(input.DispatchTouchEventTypeTouchStart, points(gap0)); err != nil {
			return err
		}
		for i := 1; i <= 10; i++ {
			time.Sleep(16 * time.Millisecond)
			if err := send(input.DispatchTouchEventTypeTouchMove, points(gap0+(gap1-gap0)*float64(i)/10)); err != nil {
				return err
			}
		}
		return send(input.DispatchTouchEventTypeTouchEnd, []*input.TouchPoint{})
	})
}

// docLayout measures the customer's document view.
type docLayout struct {
	CanvasWidth float64 `json:"canvasWidth"`
	Scale       float64 `json:"scale"`
	BodyScrollW float64 `json:"bodyScrollW"`
	BodyClientW float64 `json:"bodyClientW"`
	Fits        bool    `json:"fits"`
	Pip         struct {
		Visible   bool    `json:"visible"`
		OnTop     bool    `json:"onTop"`
		Width     float64 `json:"width"`
		InScreen  bool    `json:"inScreen"`
		Frames    float64 `json:"frames"`
		VideoW    float64 `json:"videoW"`
		Partcpant string  `json:"participant"`
	} `json:"pip"`
}

const measureDoc = `(() => {
	const v = document.querySelector('[data-testid="doc-view"]');
	const c = v.querySelector('.docview-canvas').getBoundingClientRect();
	const body = v.querySelector('.docview-body');
	const pip = document.querySelector('[data-testid="doc-pip"]');
	const pv = pip && pip.querySelector('video');
	const r = pip ? pip.getBoundingClientRect() : {left: 0, top: 0, width: 0, height: 0, right: 0, bottom: 0};
	const hit = pip && pip.checkVisibility() ? document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) : null;
	return {
		canvasWidth: c.width, scale: Number(v.dataset.scale || 0),
		bodyScrollW: body.scrollWidth, bodyClientW: body.clientWidth, fits: ` + noOverflow + `,
		pip: {
			visible: !!pip && pip.checkVisibility() && r.width > 0,
			onTop: !!hit && pip.contains(hit), width: r.width,
			inScreen: r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight,
			frames: pv && pv.getVideoPlaybackQuality ? pv.getVideoPlaybackQuality().totalVideoFrames : 0,
			videoW: pv ? pv.videoWidth : 0, participant: pip ? (pip.dataset.participant || '') : '',
		},
	};
})()`

// A4's width in PDF points, and the contract template's body text size.
const (
	a4Points     = 595.28
	bodyTextSize = 10.5
)

// TestBrowserPhoneDocument: the customer reads and signs a contract on a
// 390×844 phone. The page opens readable (body text ≥ 12 px high, the
// page wider than the screen and panning inside the view, never the whole
// page), zooms with buttons and by pinching, and the advisor's camera
// stays visible in a corner while reading and signing; a tap on it shows
// the call, a pill brings the document back. German and English.
func TestBrowserPhoneDocument(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)
	germanPhone(t, cust)
	if _, err := chromedp.Call(cust, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
		t.Fatal(err)
	}

	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	flowing(t, cust, "customer", advID)
	within(t, adv, 20*time.Second, "advisor presents the template", chromedp.Steps(
		chromedp.Click(`[data-testid="documents-toggle"]`),
		chromedp.WaitVisible(`[data-testid="document-template"]`),
		chromedp.Click(`[data-testid="document-template"]`),
		chromedp.WaitVisible(`[data-testid="document-title"]`),
		chromedp.SetValue(`[data-testid="document-title"]`, "Darlehensvertrag"),
		chromedp.Click(`[data-testid="document-signers-customer"]`),
		chromedp.Click(`[data-testid="document-present"]`),
	))
	view := `[data-testid="doc-view"]`
	within(t, cust, 15*time.Second, "customer's document view opens", chromedp.WaitVisible(view))
	waitJS(t, cust, 20*time.Second, "page 1 rendered", `document.querySelector('`+view+`').dataset.rendered === '1'`)
	time.Sleep(500 * time.Millisecond)

	measure := func(what string) docLayout {
		t.Helper()
		return within(t, cust, 10*time.Second, what, chromedp.Evaluate[docLayout](measureDoc))
	}
	checkPip := func(what string, l docLayout) {
		t.Helper()
		p := l.Pip
		if !p.Visible || !p.OnTop || !p.InScreen || p.Width < 64 || p.VideoW <= 0 || p.Partcpant != advID {
			t.Errorf("%s: the advisor's video is not visible in a corner: %+v (advisor %s)", what, p, advID)
		}
	}
	l := measure("measure the document")
	textPx := l.CanvasWidth / a4Points * bodyTextSize
	t.Logf("opened: page %.0f px wide (scale %.2f), body text %.1f px high; view pans %v of %v px; pip %+v", l.CanvasWidth, l.Scale, textPx, l.BodyScrollW, l.BodyClientW, l.Pip)
	saveView(t, cust, "phone-doc-de")
	if textPx < 12 {
		t.Errorf("body text is %.1f px high on the phone, want at least 12 (readable)", textPx)
	}
	if !l.Fits {
		t.Errorf("the page is wider than the phone: the document must pan inside its view")
	}
	if l.BodyScrollW <= l.BodyClientW {
		t.Errorf("the zoomed page (%v px) does not pan inside the view (%v px)", l.BodyScrollW, l.BodyClientW)
	}
	waitJS(t, cust, 10*time.Second, "advisor's camera in the corner", `(`+measureDoc+`).pip.frames > 2`)
	l = measure("picture-in-picture")
	checkPip("reading", l)
	// Let the video play on: frames keep coming.
	time.Sleep(time.Second)
	if l2 := measure("frames"); l2.Pip.Frames <= l.Pip.Frames {
		t.Errorf("the picture-in-picture video stopped: %v → %v frames", l.Pip.Frames, l2.Pip.Frames)
	}

	// Zoom buttons (once the "new document" toast over the header is gone).
	waitJS(t, cust, 15*time.Second, "toast gone", `!document.querySelector('#toasts') || document.querySelector('#toasts').childElementCount === 0`)
	zoomTo := func(what, sel string) docLayout {
		t.Helper()
		before := measure(what).Scale
		within(t, cust, 10*time.Second, what, chromedp.Click(sel))
		waitJS(t, cust, 10*time.Second, what+" rendered", `Number(document.querySelector('`+view+`').dataset.scale) !== `+strconv.FormatFloat(before, 'f', 3, 64))
		return measure(what)
	}
	base := l.CanvasWidth
	in := zoomTo("zoom in", `[data-testid="doc-zoom-in"]`)
	if r := in.CanvasWidth / base; r < 1.2 {
		t.Errorf("zoom in: page %v → %v px (×%.2f)", base, in.CanvasWidth, r)
	}
	zoomTo("zoom out", `[data-testid="doc-zoom-out"]`)
	out := zoomTo("zoom out again", `[data-testid="doc-zoom-out"]`)
	if out.CanvasWidth >= base {
		t.Errorf("zoom out: page %v → %v px", base, out.CanvasWidth)
	}
	saveView(t, cust, "phone-doc-zoomed-out-de")
	reset := zoomTo("default size", `[data-testid="doc-zoom-reset"]`)
	if reset.CanvasWidth != base {
		t.Errorf("default size: %v px, want %v again", reset.CanvasWidth, base)
	}

	// Pinch: two fingers spread from 80 to 200 px.
	within(t, cust, 10*time.Second, "pinch", pinch(195, 420, 80, 200))
	waitJS(t, cust, 10*time.Second, "pinched page rendered", `document.querySelector('`+view+`').dataset.zoom !== 'auto' &&
		!document.querySelector('`+view+` .docview-canvas').style.transform`)
	pinched := measure("pinched")
	t.Logf("pinch: page %v → %v px", base, pinched.CanvasWidth)
	if r := pinched.CanvasWidth / base; r < 1.8 {
		t.Errorf("pinch ×2.5: page %v → %v px (×%.2f)", base, pinched.CanvasWidth, r)
	}
	if !pinched.Fits {
		t.Errorf("after the pinch the whole page zoomed, not the document")
	}
	saveView(t, cust, "phone-doc-pinched-de")
	zoomTo("default size", `[data-testid="doc-zoom-reset"]`)

	// A tap on the video shows the call; the pill brings the document back.
	within(t, cust, 10*time.Second, "tap the video", chromedp.Click(`[data-testid="doc-pip"]`))
	waitJS(t, cust, 10*time.Second, "the call's advisor video visible", `(() => {
		const v = document.querySelector('video[data-participant="`+advID+`"][data-source="camera"]');
		if (!v || !document.querySelector('[data-testid="doc-restore"]').checkVisibility()) return false;
		const r = v.getBoundingClientRect(), hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return r.width > 200 && !!hit && v.closest('figure').contains(hit); })()`)
	saveView(t, cust, "phone-doc-minimized-de")
	within(t, cust, 10*time.Second, "back to the document", chromedp.Click(`[data-testid="doc-restore"]`))
	waitJS(t, cust, 10*time.Second, "document again", `document.querySelector('`+view+` .docview-sheet').checkVisibility()`)

	// Signing: the video stays.
	pages, _ := strconv.Atoi(within(t, cust, 5*time.Second, "pages", chromedp.Evaluate[string](`document.querySelector('`+view+`').dataset.pages`)))
	for p := 2; p <= pages; p++ {
		within(t, cust, 15*time.Second, "next page", chromedp.Click(`[data-testid="doc-page-next"]`))
		waitJS(t, cust, 10*time.Second, "page rendered", `document.querySelector('`+view+`').dataset.rendered === '`+strconv.Itoa(p)+`'`)
	}
	within(t, cust, 20*time.Second, "customer opens the pad", chromedp.Steps(
		chromedp.WaitEnabled(`[data-testid="doc-sign-start"]`),
		chromedp.Click(`[data-testid="doc-sign-start"]`),
		chromedp.WaitVisible(`[data-testid="signature-pad"]`),
	))
	time.Sleep(300 * time.Millisecond)
	checkPip("signing", measure("signing"))
	saveView(t, cust, "phone-doc-sign-de")
	within(t, cust, 10*time.Second, "back to reading", chromedp.Click(`.docview-actions-sign .btn-ghost`))

	// English.
	useLang(t, cust, "en")
	waitJS(t, cust, 10*time.Second, "English labels", `document.querySelector('[data-testid="doc-zoom-in"]').getAttribute('aria-label') === 'Zoom in'`)
	checkPip("English", measure("English"))
	saveView(t, cust, "phone-doc-en")
}
