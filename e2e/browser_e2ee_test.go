package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/config"
)

// e2eeDebug mirrors parleyDebug.info().e2ee (web/static/js/debug.js).
type e2eeDebug struct {
	Enabled         bool               `json:"enabled"`
	Mode            string             `json:"mode"`
	SafetyCode      string             `json:"safetyCode"`
	DecryptFailures map[string]float64 `json:"decryptFailures"`
	EncryptedFrames float64            `json:"encryptedFrames"`
	DecryptedFrames float64            `json:"decryptedFrames"`
}

func readE2EE(t *testing.T, ctx context.Context, who string) e2eeDebug {
	t.Helper()
	return within(t, ctx, 5*time.Second, who+" e2ee state",
		chromedp.Evaluate[e2eeDebug](`window.parleyDebug.info().e2ee`))
}

// fragmentOf returns the part of a link after '#'.
func fragmentOf(t *testing.T, link string) string {
	t.Helper()
	i := strings.IndexByte(link, '#')
	if i < 0 {
		t.Fatalf("link %q has no fragment (the call key)", link)
	}
	frag := link[i+1:]
	if b, err := base64.RawURLEncoding.DecodeString(frag); err != nil || len(b) != 32 {
		t.Fatalf("fragment %q is not base64url of 32 bytes (err %v)", frag, err)
	}
	return frag
}

// secretWatch records everything a browser sends that could carry the
// secret: request URLs and bodies, WebSocket frames, console output.
type secretWatch struct {
	mu    sync.Mutex
	texts []string
}

func (w *secretWatch) add(s string) {
	w.mu.Lock()
	w.texts = append(w.texts, s)
	w.mu.Unlock()
}

// watchSecret starts recording on ctx (call before navigating; chromedp
// enables the network domain of every tab).
func watchSecret(t *testing.T, ctx context.Context) *secretWatch {
	t.Helper()
	w := &secretWatch{}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			s := ev.Request.URL
			for _, e := range ev.Request.PostDataEntries {
				s += " " + string(e.Bytes)
			}
			for k, v := range ev.Request.Headers {
				s += " " + k + ":" + strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\r", ""))
			}
			w.add(s)
		case *network.EventWebSocketFrameSent:
			w.add(string(ev.Response.PayloadData))
		case *network.EventWebSocketCreated:
			w.add(ev.URL)
		case *runtime.EventConsoleAPICalled:
			for _, a := range ev.Args {
				w.add(string(a.Value) + " " + a.Description)
			}
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return w
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// never fails if any recorded text contains the secret.
func (w *secretWatch) never(t *testing.T, who, secret string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.texts) < 10 {
		t.Fatalf("%s: only %d requests/frames recorded, the check would prove nothing", who, len(w.texts))
	}
	for _, s := range w.texts {
		if strings.Contains(s, secret) {
			t.Errorf("%s sent or logged the call secret: %.200s", who, s)
		}
	}
	t.Logf("%s: the secret is in none of %d requests, WebSocket messages and console lines", who, len(w.texts))
}

// TestBrowserE2EECall: with the invite link the console shows (its
// fragment is the call key), both sides decrypt and decode each other's
// video and audio and the customer's screen share, both show the same
// safety code, and the secret never leaves either browser.
func TestBrowserE2EECall(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)
	advWatch := watchSecret(t, adv)
	custWatch := watchSecret(t, cust)

	invite := loginAndCreate(t, adv, srv.base, "Verschlüsselt")
	secret := fragmentOf(t, invite)
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	if hash := within(t, adv, 5*time.Second, "call page fragment", chromedp.Evaluate[string](`location.hash`)); hash != "#"+secret {
		t.Errorf("advisor's call page fragment %q, want the invite's key", hash)
	}
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID

	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })

	flowing(t, cust, "customer", advID)
	flowing(t, adv, "advisor", custID)

	within(t, cust, 10*time.Second, "customer shares the screen", chromedp.Click(`[data-testid="screen-share"]`))
	s := waitStats(t, adv, 20*time.Second, "advisor decodes the customer's screen", func(s debugStats) bool {
		tr, ok := s.find(custID, "screen")
		return ok && tr.FramesDecoded > 3
	})
	tr, _ := s.find(custID, "screen")
	t.Logf("advisor decrypts and decodes the customer's screen share: %v frames, %vpx wide", tr.FramesDecoded, tr.FrameWidth)

	// Encryption state on both sides, twice, a second apart.
	a1, c1 := readE2EE(t, adv, "advisor"), readE2EE(t, cust, "customer")
	time.Sleep(time.Second)
	a2, c2 := readE2EE(t, adv, "advisor"), readE2EE(t, cust, "customer")
	for _, x := range []struct {
		who      string
		one, two e2eeDebug
	}{{"advisor", a1, a2}, {"customer", c1, c2}} {
		if !x.two.Enabled || x.two.Mode != "script-transform" {
			t.Errorf("%s: e2ee enabled=%v mode=%q, want enabled with script-transform", x.who, x.two.Enabled, x.two.Mode)
		}
		if x.two.EncryptedFrames <= x.one.EncryptedFrames || x.two.DecryptedFrames <= x.one.DecryptedFrames {
			t.Errorf("%s: frames not growing: encrypted %v→%v, decrypted %v→%v", x.who,
				x.one.EncryptedFrames, x.two.EncryptedFrames, x.one.DecryptedFrames, x.two.DecryptedFrames)
		}
		for p, n := range x.two.DecryptFailures {
			if n != 0 {
				t.Errorf("%s: %v decrypt failures for %s", x.who, n, p)
			}
		}
		t.Logf("%s: mode %s, %v frames encrypted, %v decrypted, failures %v", x.who, x.two.Mode, x.two.EncryptedFrames, x.two.DecryptedFrames, x.two.DecryptFailures)
	}
	if a2.SafetyCode == "" || a2.SafetyCode != c2.SafetyCode {
		t.Errorf("safety codes differ: advisor %q, customer %q", a2.SafetyCode, c2.SafetyCode)
	}

	// The UI: lock badge and the same safety code on both pages.
	shown := func(ctx context.Context, who string) string {
		within(t, ctx, 10*time.Second, who+" sees the lock badge", chromedp.WaitVisible(`[data-testid="e2ee-badge"]`))
		within(t, ctx, 10*time.Second, who+" sees the safety code", chromedp.WaitVisible(`[data-testid="safety-code"]`))
		return within(t, ctx, 5*time.Second, who+" safety code text", chromedp.Evaluate[string](
			`document.querySelector('[data-testid="safety-code"]').textContent + ' | ' + document.querySelector('[data-testid="e2ee-badge"]').textContent`))
	}
	advShown, custShown := shown(adv, "advisor"), shown(cust, "customer")
	if advShown != custShown || !strings.Contains(advShown, a2.SafetyCode) || !strings.Contains(advShown, "Ende-zu-Ende verschlüsselt") {
		t.Errorf("shown: advisor %q, customer %q (code %q)", advShown, custShown, a2.SafetyCode)
	}
	t.Logf("both show: %s", advShown)
	if vis := within(t, cust, 5*time.Second, "no error", chromedp.Evaluate[bool](`!document.querySelector('[data-testid="e2ee-error"]').hidden`)); vis {
		t.Errorf("customer shows the decryption error with the right key")
	}
	saveScreenshot(t, adv, "e2ee-advisor-call")
	saveScreenshot(t, cust, "e2ee-customer-call")

	// The secret went nowhere: not in any loaded resource URL, request,
	// WebSocket message or console line.
	for _, x := range []struct {
		who string
		ctx context.Context
		w   *secretWatch
	}{{"advisor", adv, advWatch}, {"customer", cust, custWatch}} {
		urls := within(t, x.ctx, 5*time.Second, x.who+" resources", chromedp.Evaluate[[]string](
			`performance.getEntriesByType('resource').map(e => e.name)`))
		for _, u := range urls {
			if strings.Contains(u, secret) {
				t.Errorf("%s loaded %s, which carries the secret", x.who, u)
			}
		}
		x.w.never(t, x.who, secret)
	}
	onlyOwnOrigin(t, adv, "advisor", srv.base)
	onlyOwnOrigin(t, cust, "customer", srv.base)

	// A reload keeps the key (it stays in the URL) and starts a new key
	// epoch; both sides decrypt again without a failure.
	within(t, cust, 20*time.Second, "customer reloads", chromedp.Reload())
	waitJS(t, cust, 20*time.Second, "customer back in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	flowing(t, cust, "customer after reload", advID)
	flowing(t, adv, "advisor after the customer's reload", custID)
	a3, c3 := readE2EE(t, adv, "advisor"), readE2EE(t, cust, "customer")
	if c3.SafetyCode != a3.SafetyCode || a3.DecryptFailures[custID] != 0 || c3.DecryptFailures[advID] != 0 {
		t.Errorf("after reload: advisor %+v, customer %+v", a3, c3)
	}
	custWatch.never(t, "customer (after reload)", secret)
}

// TestBrowserE2EEWrongKey: a customer whose link carries a wrong key gets
// the advisor's media (bytes arrive) but cannot decode a frame, and is
// told so; the advisor cannot decode the customer either.
func TestBrowserE2EEWrongKey(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Falscher Schlüssel")
	secret := fragmentOf(t, invite)
	wrong := make([]byte, 32)
	if _, err := rand.Read(wrong); err != nil {
		t.Fatal(err)
	}
	wrongFrag := base64.RawURLEncoding.EncodeToString(wrong)
	if len(wrongFrag) != len(secret) || wrongFrag == secret {
		t.Fatalf("bad wrong key %q", wrongFrag)
	}
	wrongInvite := invite[:strings.IndexByte(invite, '#')+1] + wrongFrag

	// Without any fragment the customer is told the link is incomplete.
	noKey := newBrowser(t, "customer-no-key", 390, 844)
	within(t, noKey, 20*time.Second, "invite without key", chromedp.Steps(
		chromedp.Navigate(invite[:strings.IndexByte(invite, '#')]),
		chromedp.WaitVisible(`[data-testid="error-screen"][data-code="e2ee_missing"]`),
	))
	noKeyText := within(t, noKey, 5*time.Second, "incomplete link text", chromedp.Evaluate[string](`document.querySelector('[data-testid="error-screen"]').innerText`))
	if !strings.Contains(noKeyText, "unvollständig") {
		t.Errorf("invite without key shows %q", noKeyText)
	}
	t.Logf("invite without key: %q", strings.ReplaceAll(noKeyText, "\n", " "))
	chromedp.Cancel(noKey)

	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID

	customerJoins(t, cust, wrongInvite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })

	// Bytes arrive on both sides, frames are never decoded (~3 s).
	undecodable := func(ctx context.Context, who, from string) {
		first := waitStats(t, ctx, 20*time.Second, who+" receives bytes of "+from+"'s video", func(s debugStats) bool {
			v, ok := s.find(from, "camera")
			return ok && v.BytesReceived > 0
		})
		v1, _ := first.find(from, "camera")
		var last trackStat
		for range 6 {
			time.Sleep(500 * time.Millisecond)
			s, err := readStats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			last, _ = s.find(from, "camera")
			if last.FramesDecoded != 0 {
				t.Fatalf("%s decoded %v frames of %s's video with the wrong key", who, last.FramesDecoded, from)
			}
		}
		if last.BytesReceived <= v1.BytesReceived {
			t.Fatalf("%s: bytes of %s's video stopped: %v→%v", who, from, v1.BytesReceived, last.BytesReceived)
		}
		t.Logf("%s: %s's video: %v→%v bytes received, 0 frames decoded", who, from, v1.BytesReceived, last.BytesReceived)
	}
	undecodable(cust, "customer", advID)
	undecodable(adv, "advisor", custID)

	for _, x := range []struct {
		who, from string
		ctx       context.Context
	}{{"customer", advID, cust}, {"advisor", custID, adv}} {
		e := readE2EE(t, x.ctx, x.who)
		if !e.Enabled || e.DecryptFailures[x.from] <= 0 || e.DecryptedFrames != 0 {
			t.Errorf("%s: e2ee %+v, want failures for %s and nothing decrypted", x.who, e, x.from)
		}
		within(t, x.ctx, 10*time.Second, x.who+" sees the decryption error", chromedp.WaitVisible(`[data-testid="e2ee-error"]`))
		msg := within(t, x.ctx, 5*time.Second, x.who+" error text", chromedp.Evaluate[string](`document.querySelector('[data-testid="e2ee-error"]').textContent`))
		if !strings.Contains(msg, "Entschlüsselung fehlgeschlagen") {
			t.Errorf("%s: error text %q", x.who, msg)
		}
		t.Logf("%s: %v decrypt failures for %s; shows %q", x.who, e.DecryptFailures[x.from], x.from, msg)
	}
	a, c := readE2EE(t, adv, "advisor"), readE2EE(t, cust, "customer")
	if a.SafetyCode == c.SafetyCode {
		t.Errorf("different keys, same safety code %q", a.SafetyCode)
	}
	t.Logf("safety codes: advisor %s, customer %s", a.SafetyCode, c.SafetyCode)
	saveScreenshot(t, cust, "e2ee-customer-wrong-key")
	saveScreenshot(t, adv, "e2ee-advisor-wrong-key")
}

// withoutTransforms makes a browser look like one without
// RTCRtpScriptTransform (and, if both, without createEncodedStreams too)
// on every page it opens from now on.
func withoutTransforms(t *testing.T, ctx context.Context, both bool) {
	t.Helper()
	js := `delete window.RTCRtpScriptTransform;`
	if both {
		js += `delete RTCRtpSender.prototype.createEncodedStreams; delete RTCRtpReceiver.prototype.createEncodedStreams;`
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		t.Fatalf("remove the transform APIs: %v", err)
	}
}

// TestBrowserE2EEEncodedStreams: a customer browser without
// RTCRtpScriptTransform encrypts and decrypts through createEncodedStreams
// and talks to an advisor that uses RTCRtpScriptTransform.
func TestBrowserE2EEEncodedStreams(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)
	withoutTransforms(t, cust, false)

	invite := loginAndCreate(t, adv, srv.base, "Fallback")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+custID+`"]`))
	flowing(t, cust, "customer", advID)
	flowing(t, adv, "advisor", custID)
	a, c := readE2EE(t, adv, "advisor"), readE2EE(t, cust, "customer")
	if c.Mode != "encoded-streams" || a.Mode != "script-transform" || !a.Enabled || !c.Enabled {
		t.Fatalf("modes: advisor %+v, customer %+v", a, c)
	}
	if c.DecryptedFrames == 0 || c.EncryptedFrames == 0 || c.DecryptFailures[advID] != 0 || a.DecryptFailures[custID] != 0 {
		t.Errorf("customer %+v, advisor %+v", c, a)
	}
	t.Logf("customer (encoded streams): %v encrypted, %v decrypted; advisor (script transform): %v encrypted, %v decrypted",
		c.EncryptedFrames, c.DecryptedFrames, a.EncryptedFrames, a.DecryptedFrames)
}

// TestBrowserE2EEUnsupported: a browser that can do neither transform gets
// a clear screen when the server requires E2EE; when the server allows
// unencrypted participants it joins without E2EE and both sides are told.
func TestBrowserE2EEUnsupported(t *testing.T) {
	t.Run("required", func(t *testing.T) {
		srv := startServer(t)
		adv := newBrowser(t, "advisor", 1280, 800)
		cust := newBrowser(t, "customer", 390, 844)
		withoutTransforms(t, cust, true)
		invite := loginAndCreate(t, adv, srv.base, "Alter Browser")
		within(t, cust, 30*time.Second, "customer tries to join", chromedp.Steps(
			chromedp.Navigate(invite),
			chromedp.WaitVisible(`[data-testid="consent"]`),
			chromedp.Click(`[data-testid="consent"]`),
			chromedp.Click(`[data-testid="join"]`),
			chromedp.WaitVisible(`[data-testid="end-screen"]`),
		))
		text := within(t, cust, 5*time.Second, "end screen text", chromedp.Evaluate[string](
			`document.querySelector('#screen-end').dataset.reason + ' | ' + document.querySelector('#screen-end').innerText`))
		if !strings.HasPrefix(text, "e2ee_unsupported |") || !strings.Contains(text, "Chrome") {
			t.Errorf("end screen: %q", text)
		}
		t.Logf("customer sees: %q", strings.ReplaceAll(text, "\n", " "))
		saveScreenshot(t, cust, "e2ee-customer-unsupported")
	})
	t.Run("optional", func(t *testing.T) {
		srv := startServer(t, func(c *config.Config) { c.E2EE.AllowUnencrypted = true })
		adv := newBrowser(t, "advisor", 1280, 800)
		cust := newBrowser(t, "customer", 390, 844)
		withoutTransforms(t, cust, true)
		invite := loginAndCreate(t, adv, srv.base, "Ohne E2EE")
		within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
		waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
		advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
		customerJoins(t, cust, invite)
		custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
		within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+custID+`"]`))
		flowing(t, cust, "customer", advID)
		flowing(t, adv, "advisor", custID)
		for _, x := range []struct {
			who string
			ctx context.Context
		}{{"advisor", adv}, {"customer", cust}} {
			within(t, x.ctx, 10*time.Second, x.who+" sees the warning", chromedp.WaitVisible(`[data-testid="e2ee-warning"]`))
			e := readE2EE(t, x.ctx, x.who)
			if e.Enabled {
				t.Errorf("%s: e2ee %+v, want not enabled", x.who, e)
			}
			t.Logf("%s: mode %s, enabled %v; warning shown", x.who, e.Mode, e.Enabled)
		}
		saveScreenshot(t, adv, "e2ee-advisor-unencrypted-warning")
	})
}

// colleagueLogin opens link in a fresh browser as the colleague: the
// server sends it to the login page first, then into the call.
func colleagueLogin(t *testing.T, ctx context.Context, link string) {
	t.Helper()
	within(t, ctx, 20*time.Second, "colleague logs in", chromedp.Steps(
		chromedp.Navigate(link),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, colleagueName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		// The link's confirmation page: joining is a POST.
		chromedp.WaitVisible(`form[data-colleague] button`),
		chromedp.Click(`form[data-colleague] button`),
	))
}

// TestBrowserE2EEColleague: the colleague link carries the call key in its
// fragment, through the login, into the colleague's call; a colleague link
// without it gives a clear "the call key is missing" page.
func TestBrowserE2EEColleague(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	invite := loginAndCreate(t, adv, srv.base, "Mit Kollegin")
	secret := fragmentOf(t, invite)
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 10*time.Second, "colleague link", chromedp.Steps(
		chromedp.Click(`[data-testid="invite-colleague"]`),
		chromedp.WaitVisible(`[data-testid="colleague-link"]`),
	))
	link := strings.TrimSpace(within(t, adv, 5*time.Second, "read the colleague link",
		chromedp.Evaluate[string](`document.querySelector('[data-testid="colleague-link"]').textContent`)))
	if got := fragmentOf(t, link); got != secret || !strings.Contains(link, "/c/") {
		t.Fatalf("colleague link %q: want /c/…#<the invite's key>", link)
	}

	// Without the fragment: a clear message, no call.
	lost := newBrowser(t, "colleague-no-key", 1280, 800)
	colleagueLogin(t, lost, link[:strings.IndexByte(link, '#')])
	within(t, lost, 20*time.Second, "missing key page", chromedp.WaitVisible(`[data-testid="e2ee-missing-key"]`))
	msg := within(t, lost, 5*time.Second, "missing key text", chromedp.Evaluate[string](`document.querySelector('[data-testid="e2ee-missing-key"]').innerText`))
	if !strings.Contains(msg, "Kollegen-Link") {
		t.Errorf("missing key page says %q", msg)
	}
	t.Logf("colleague without the key sees: %q", strings.ReplaceAll(msg, "\n", " "))
	saveScreenshot(t, lost, "e2ee-colleague-missing-key")
	chromedp.Cancel(lost)

	// With it: through the login into the encrypted call.
	col := newBrowser(t, "colleague", 1280, 800)
	colleagueLogin(t, col, link)
	waitJS(t, col, 30*time.Second, "colleague in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	flowing(t, col, "colleague", advID)
	a, c := readE2EE(t, adv, "advisor"), readE2EE(t, col, "colleague")
	if !c.Enabled || c.SafetyCode != a.SafetyCode || c.DecryptFailures[advID] != 0 {
		t.Errorf("colleague %+v, advisor %+v", c, a)
	}
	t.Logf("colleague decrypts the advisor (safety code %s on both)", c.SafetyCode)
}
