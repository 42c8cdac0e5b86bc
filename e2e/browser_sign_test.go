package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// penPoint is one sample of a scripted pen gesture: where (CSS px in the
// viewport), how hard, tilted how, and how long after the previous sample.
type penPoint struct {
	x, y, force, tiltX, tiltY float64
	after                     time.Duration
}

// signatureStrokes is a cursive-like signature inside the box (left, top,
// w, h): a looping first name (about 0.9 s), a pause, an "M"-like zigzag,
// a pause, an underline; samples 11-15 ms apart, about 1.8 s in all.
func signatureStrokes(left, top, w, h float64) [][]penPoint {
	base := top + h*0.6
	// 1: loops, a prolate cycloid (loop radius larger than the advance).
	var s1 []penPoint
	const n1 = 72
	for i := 0; i <= n1; i++ {
		u := float64(i) / n1 * 5 * math.Pi
		s1 = append(s1, penPoint{
			x:     left + w*0.08 + w*0.032*u - w*0.05*math.Sin(u),
			y:     base - h*0.16 - h*0.17*math.Cos(u) + h*0.08*float64(i)/n1,
			force: 0.45 + 0.25*math.Sin(u/2), tiltX: 24, tiltY: -8,
			after: time.Duration(11+i%4) * time.Millisecond,
		})
	}
	// 2: a zigzag "M".
	var s2 []penPoint
	corners := [][2]float64{{0.66, 0.7}, {0.7, 0.22}, {0.75, 0.58}, {0.8, 0.22}, {0.85, 0.7}}
	for c := 0; c+1 < len(corners); c++ {
		a, b := corners[c], corners[c+1]
		for j := range 9 {
			f := float64(j) / 9
			s2 = append(s2, penPoint{
				x: left + w*(a[0]+(b[0]-a[0])*f), y: top + h*(a[1]+(b[1]-a[1])*f),
				force: 0.55 + 0.2*math.Sin(f*math.Pi), tiltX: 22, tiltY: -6,
				after: time.Duration(12+j%3) * time.Millisecond,
			})
		}
	}
	s2[0].after = 220 * time.Millisecond
	// 3: an underline.
	var s3 []penPoint
	for j := 0; j <= 22; j++ {
		f := float64(j) / 22
		s3 = append(s3, penPoint{x: left + w*(0.12+0.72*f), y: top + h*(0.82-0.04*f), force: 0.35 + 0.3*f, tiltX: 26, tiltY: -10, after: 13 * time.Millisecond})
	}
	s3[0].after = 180 * time.Millisecond
	return [][]penPoint{s1, s2, s3}
}

// penGesture writes strokes with a pen through the DevTools protocol: real
// input events, which Chromium turns into pointer events with pointerType
// "pen", pressure (force) and tilt, keeping to each sample's delay.
func penGesture(strokes [][]penPoint) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		send := func(typ input.DispatchMouseEventType, p penPoint, buttons int64) error {
			_, err := cdp.Call(ctx, t, input.DispatchMouseEvent, input.DispatchMouseEventParams{
				Type: typ, X: p.x, Y: p.y, Button: input.MouseButtonLeft, Buttons: buttons, ClickCount: 1,
				Force: p.force, TiltX: p.tiltX, TiltY: p.tiltY, PointerType: input.DispatchMouseEventPointerTypePen,
			})
			return err
		}
		next := time.Now()
		wait := func(d time.Duration) {
			next = next.Add(d)
			time.Sleep(time.Until(next))
		}
		for _, s := range strokes {
			for i, p := range s {
				wait(p.after)
				var err error
				if i == 0 { // hover to the start, then pen down
					if err = send(input.DispatchMouseEventTypeMouseMoved, penPoint{x: p.x, y: p.y}, 0); err == nil {
						err = send(input.DispatchMouseEventTypeMousePressed, p, 1)
					}
				} else {
					err = send(input.DispatchMouseEventTypeMouseMoved, p, 1)
				}
				if err != nil {
					return err
				}
			}
			up := s[len(s)-1]
			up.force = 0
			wait(12 * time.Millisecond)
			if err := send(input.DispatchMouseEventTypeMouseReleased, up, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

// padRect is the signature pad's box in viewport CSS px.
func padRect(t *testing.T, ctx context.Context) (left, top, w, h float64) {
	t.Helper()
	r := within(t, ctx, 15*time.Second, "pad position", chromedp.Evaluate[[]float64](
		`(() => { const r = document.querySelector('[data-testid="signature-pad"]').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`))
	if len(r) != 4 || r[2] < 100 || r[3] < 80 {
		t.Fatalf("signature pad box %v: missing or too small", r)
	}
	return r[0], r[1], r[2], r[3]
}

// scrollTo scrolls an element to the top of its scrolling box (for a
// screenshot that shows it).
func scrollTo(t *testing.T, ctx context.Context, selector string) {
	t.Helper()
	within(t, ctx, 15*time.Second, "scroll to "+selector, chromedp.Evaluate[bool](
		`(document.querySelector(`+strconv.Quote(selector)+`)?.scrollIntoView({block: 'start'}), true)`))
}

// downloadByClick clicks a download button and returns the file the
// browser saved (a real download: Browser.setDownloadBehavior into a temp
// dir, completion from Browser.downloadProgress) and its suggested name.
func downloadByClick(t *testing.T, ctx context.Context, who, selector string) (string, []byte) {
	t.Helper()
	return downloadBy(t, ctx, who, func() {
		within(t, ctx, 20*time.Second, who+" clicks download", chromedp.Steps(
			chromedp.WaitVisible(selector),
			chromedp.Click(selector),
		))
	})
}

// downloadBy is downloadByClick with the download started by trigger
// (a click, or keys).
func downloadBy(t *testing.T, ctx context.Context, who string, trigger func()) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	on := true
	if _, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on,
	}); err != nil {
		t.Fatalf("%s: allow downloads: %v", who, err)
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	names := map[string]string{}
	done := make(chan string, 4)
	if err := chromedp.Listen(lctx, func(ev any) {
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			mu.Lock()
			names[ev.GUID] = ev.SuggestedFilename
			mu.Unlock()
		case *browser.EventDownloadProgress:
			if ev.State == browser.DownloadProgressStateCompleted || ev.State == browser.DownloadProgressStateCanceled {
				select {
				case done <- ev.GUID + "|" + string(ev.State):
				default:
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	trigger()
	select {
	case r := <-done:
		guid, state, _ := strings.Cut(r, "|")
		if state != string(browser.DownloadProgressStateCompleted) {
			t.Fatalf("%s: download %s", who, state)
		}
		b, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			t.Fatalf("%s: downloaded file: %v", who, err)
		}
		mu.Lock()
		defer mu.Unlock()
		return names[guid], b
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: download did not complete within 20 s", who)
	}
	return "", nil
}

// checkSignedPDF fails unless b is a PDF whose signature pdfsig accepts
// (the trust in the development certificate is the signature tests'
// business), and returns pdfsig's report.
func checkSignedPDF(t *testing.T, who string, b []byte) string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("%s: downloaded %d bytes that are not a PDF: %q", who, len(b), b[:min(len(b), 16)])
	}
	f := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdfsig", f).CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("Signature is Valid")) {
		t.Fatalf("%s: pdfsig: %v\n%s", who, err, out)
	}
	if !bytes.Contains(out, []byte("Signature is Valid")) {
		t.Fatalf("%s: pdfsig does not find a valid signature:\n%s", who, out)
	}
	return string(out)
}

// presentTemplate: the advisor, in the call, presents the contract
// template under title for signers ("customer" or "both") and waits until
// it is listed; it returns the document id.
func presentTemplate(t *testing.T, adv context.Context, title, signers string) string {
	t.Helper()
	within(t, adv, 20*time.Second, "advisor presents the template", chromedp.Steps(
		chromedp.Click(`[data-testid="documents-toggle"]`),
		chromedp.WaitVisible(`[data-testid="document-template"]`),
		chromedp.Click(`[data-testid="document-template"]`),
		chromedp.WaitVisible(`[data-testid="document-title"]`),
		chromedp.SetValue(`[data-testid="document-title"]`, title),
		chromedp.Click(`[data-testid="document-signers-`+signers+`"]`),
		chromedp.Click(`[data-testid="document-present"]`),
	))
	return within(t, adv, 15*time.Second, "document listed for the advisor", chromedp.Poll[string](
		`document.querySelector('#call-docs [data-testid^="doc-d_"]')?.dataset.doc || null`))
}

// TestBrowserSign: the advisor presents the contract template in the call
// (signer: the customer); on her phone the customer's document view opens
// by itself, she pages through (the advisor sees "liest Seite n von n"),
// opens the pad ("unterschreibt …"), a mere tap is refused with a
// translated reason, then she signs by a scripted pen gesture (pointer
// events with pressure, tilt and timing); both see the document signed and
// both download the signed PDF through the UI, which pdfsig accepts.
func TestBrowserSign(t *testing.T) {
	began := time.Now()
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	inCall := time.Now()

	// The advisor presents the contract template; the customer signs.
	docID := presentTemplate(t, adv, "Darlehensvertrag", "customer")
	docSel := `#call-docs [data-testid="doc-` + docID + `"]`
	progressSel := `[data-testid="doc-progress-` + docID + `"]`
	t.Logf("advisor presented %s", docID)

	// The customer's document view opens by itself and renders page 1.
	view := `[data-testid="doc-view"][data-doc="` + docID + `"]`
	within(t, cust, 15*time.Second, "customer's document view opens", chromedp.WaitVisible(view))
	waitJS(t, cust, 20*time.Second, "page 1 rendered", `document.querySelector('`+view+`').dataset.rendered === '1'`)
	pages, err := strconv.Atoi(within(t, cust, 15*time.Second, "page count", chromedp.Evaluate[string](`document.querySelector('`+view+`').dataset.pages`)))
	if err != nil || pages < 1 {
		t.Fatalf("page count %d (%v)", pages, err)
	}
	name := within(t, cust, 15*time.Second, "document title", chromedp.Evaluate[string](`document.querySelector('`+view+` .docview-title').textContent`))
	if name != "Darlehensvertrag.pdf" {
		t.Errorf("document view shows %q, want Darlehensvertrag.pdf", name)
	}
	saveScreenshot(t, cust, "sign-customer-document")
	if pages > 1 {
		if disabled := within(t, cust, 15*time.Second, "sign button", chromedp.Evaluate[bool](
			`document.querySelector('[data-testid="doc-sign-start"]').disabled`)); !disabled {
			t.Errorf("Unterschreiben is enabled before the last page was shown")
		}
	}
	for p := 2; p <= pages; p++ {
		within(t, cust, 15*time.Second, "next page", chromedp.Click(`[data-testid="doc-page-next"]`))
		waitJS(t, cust, 10*time.Second, "page rendered", `document.querySelector('`+view+`').dataset.rendered === '`+strconv.Itoa(p)+`'`)
	}
	label := within(t, cust, 15*time.Second, "page label", chromedp.Evaluate[string](`document.querySelector('[data-testid="doc-page-label"]').textContent`))
	if want := "Seite " + strconv.Itoa(pages) + " von " + strconv.Itoa(pages); label != want {
		t.Errorf("page label %q, want %q", label, want)
	}
	reading := "Erika Mustermann liest Seite " + strconv.Itoa(pages) + " von " + strconv.Itoa(pages)
	waitJS(t, adv, 10*time.Second, "advisor sees the reading progress",
		`(document.querySelector('`+progressSel+`')?.textContent || '') === `+strconv.Quote(reading))
	t.Logf("advisor sees %q", reading)

	// The pad; the advisor sees "unterschreibt …".
	within(t, cust, 20*time.Second, "customer opens the pad", chromedp.Steps(
		chromedp.WaitEnabled(`[data-testid="doc-sign-start"]`),
		chromedp.Click(`[data-testid="doc-sign-start"]`),
		chromedp.WaitVisible(`[data-testid="signature-pad"]`),
	))
	waitJS(t, adv, 10*time.Second, "advisor sees the customer signing",
		`(document.querySelector('`+progressSel+`')?.textContent || '') === 'Erika Mustermann unterschreibt …'`)
	scrollTo(t, adv, docSel)
	saveScreenshot(t, adv, "sign-advisor-progress")

	// A tap is no signature: a translated reason, and the pad stays for a retry.
	left, top, w, h := padRect(t, cust)
	within(t, cust, 15*time.Second, "customer taps", penGesture([][]penPoint{{{x: left + w*0.5, y: top + h*0.5, force: 0.5, after: time.Millisecond}}}))
	within(t, cust, 20*time.Second, "customer submits the tap", chromedp.Steps(
		chromedp.Click(`[data-testid="signature-submit"]`),
		chromedp.WaitVisible(`[data-testid="signature-error"]`),
	))
	msg := within(t, cust, 15*time.Second, "error text", chromedp.Evaluate[string](`document.querySelector('[data-testid="signature-error"]').textContent`))
	if !strings.Contains(msg, "Bitte unterschreiben Sie") || strings.Contains(msg, "_") {
		t.Errorf("implausible capture shows %q, want a translated request to sign again", msg)
	}
	t.Logf("a tap is refused: %q", msg)
	saveScreenshot(t, cust, "sign-customer-refused")

	// The real signature, by pen.
	left, top, w, h = padRect(t, cust)
	strokes := signatureStrokes(left, top, w, h)
	gestureStart := time.Now()
	within(t, cust, 20*time.Second, "customer signs by pen", penGesture(strokes))
	gesture := time.Since(gestureStart)
	if hidden := within(t, cust, 15*time.Second, "error gone", chromedp.Evaluate[bool](
		`document.querySelector('[data-testid="signature-error"]').hidden`)); !hidden {
		t.Errorf("the refusal is still shown after writing again")
	}
	saveScreenshot(t, cust, "sign-customer-pad")
	submitted := time.Now()
	within(t, cust, 20*time.Second, "customer submits", chromedp.Click(`[data-testid="signature-submit"]`))
	within(t, cust, 30*time.Second, "customer sees it signed", chromedp.WaitVisible(`[data-testid="doc-signed"]`))
	signing := time.Since(submitted)
	waitJS(t, cust, 20*time.Second, "signed revision rendered",
		`document.querySelector('`+view+`').dataset.renderedState === 'signed' && document.querySelector('`+view+`').dataset.rendered === '`+strconv.Itoa(pages)+`'`)
	saveScreenshot(t, cust, "sign-customer-signed")

	within(t, adv, 15*time.Second, "advisor sees it signed", chromedp.WaitVisible(docSel+`[data-state="signed"]`))
	signer := within(t, adv, 15*time.Second, "signer shown", chromedp.Evaluate[string](
		`document.querySelector('`+docSel+` [data-field="customer"]').textContent`))
	if !strings.Contains(signer, "Erika Mustermann") || !strings.Contains(signer, "✓") {
		t.Errorf("advisor's field entry %q does not name the signer", signer)
	}
	scrollTo(t, adv, docSel)
	saveScreenshot(t, adv, "sign-advisor-signed")
	// The advisor's view of the signed contract shows the signature.
	advView := `[data-testid="doc-view"][data-doc="` + docID + `"]`
	within(t, adv, 20*time.Second, "advisor opens the signed document", chromedp.Steps(
		chromedp.Click(docSel+` [data-testid="doc-open-`+docID+`"]`),
		chromedp.WaitVisible(advView),
	))
	waitJS(t, adv, 20*time.Second, "advisor's view rendered",
		`document.querySelector('`+advView+`').dataset.renderedState === 'signed' && !!document.querySelector('`+advView+`').dataset.rendered`)
	saveScreenshot(t, adv, "sign-advisor-view")
	within(t, adv, 20*time.Second, "advisor closes the view", chromedp.Steps(
		chromedp.Click(advView+` .docview-close`),
		chromedp.WaitNotVisible(advView),
	))

	// Both download the signed PDF through their download buttons.
	custName, custPDF := downloadByClick(t, cust, "customer", view+` [data-testid="doc-download-`+docID+`"]`)
	advName, advPDF := downloadByClick(t, adv, "advisor", docSel+` [data-testid="doc-download-`+docID+`"]`)
	if sha256.Sum256(custPDF) != sha256.Sum256(advPDF) {
		t.Errorf("customer and advisor downloaded different files (%d and %d bytes)", len(custPDF), len(advPDF))
	}
	for _, n := range []string{custName, advName} {
		if n != "Darlehensvertrag-signed.pdf" {
			t.Errorf("download named %q, want Darlehensvertrag-signed.pdf", n)
		}
	}
	report := checkSignedPDF(t, "customer", custPDF)
	checkSignedPDF(t, "advisor", advPDF)
	if err := os.WriteFile(filepath.Join(artifactDir(t), "sign-downloaded.pdf"), custPDF, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("both downloaded %s (%d bytes); pdfsig:\n%s", custName, len(custPDF), strings.TrimSpace(report))

	// The signed contract can't be presented again (here or in another
	// consultation): the advisor is told why, nothing is presented.
	waitJS(t, adv, 5*time.Second, "documents panel opened", `(() => { const c = document.querySelector('[data-testid="document-choose"]');
		if (!c || c.offsetParent === null) document.querySelector('[data-testid="documents-toggle"]')?.click(); return true; })()`)
	waitJS(t, adv, 10*time.Second, "documents panel visible", `document.querySelector('[data-testid="document-choose"]')?.offsetParent != null`)
	again := filepath.Join(t.TempDir(), "Darlehensvertrag-signed.pdf") // an absolute path for the browser
	if err := os.WriteFile(again, custPDF, 0o644); err != nil {
		t.Fatal(err)
	}
	within(t, adv, 10*time.Second, "advisor picks the signed PDF", chromedp.SetUploadFiles(`[data-testid="document-upload"]`, []string{again}))
	within(t, adv, 10*time.Second, "advisor presents it", chromedp.Click(`[data-testid="document-present"]`))
	waitJS(t, adv, 15*time.Second, "refusal shown to the advisor", `(() => { const e = document.querySelector('[data-testid="document-error"]');
		return !!e && !e.hidden && /bereits unterschrieben|already signed/.test(e.textContent); })()`)
	if n := within(t, adv, 5*time.Second, "documents listed", chromedp.Evaluate[int](`document.querySelectorAll('#call-docs [data-testid^="doc-d_"]').length`)); n != 1 {
		t.Errorf("%d documents listed after the refused upload, want 1", n)
	}
	saveScreenshot(t, adv, "sign-refused-signed-upload")

	onlyOwnOrigin(t, adv, "advisor", srv.base)
	onlyOwnOrigin(t, cust, "customer", srv.base)
	t.Logf("TIMING: into the call %s, present → both downloaded %s (pen gesture %s, sign request %s), total %s",
		inCall.Sub(began).Round(time.Millisecond), time.Since(inCall).Round(time.Millisecond),
		gesture.Round(time.Millisecond), signing.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}
