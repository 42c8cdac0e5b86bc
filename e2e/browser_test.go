package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// debugStats mirrors window.parleyDebug.stats() (web/static/js/debug.js).
type debugStats struct {
	ParticipantID      string             `json:"participantId"`
	Role               string             `json:"role"`
	State              string             `json:"state"`
	AdmittedAt         *float64           `json:"admittedAt"`
	FirstRemoteFrameAt *float64           `json:"firstRemoteFrameAt"`
	AdmitsSent         map[string]float64 `json:"admitsSent"`
	Tracks             []trackStat        `json:"tracks"`
}

type trackStat struct {
	Participant   string  `json:"participant"`
	Source        string  `json:"source"`
	Kind          string  `json:"kind"`
	TrackID       string  `json:"trackId"`
	FramesDecoded float64 `json:"framesDecoded"`
	BytesReceived float64 `json:"bytesReceived"`
	FrameWidth    float64 `json:"frameWidth"`
}

// find returns the first remote track of this participant and source.
func (s debugStats) find(participant, source string) (trackStat, bool) {
	for _, tr := range s.Tracks {
		if tr.Participant == participant && tr.Source == source {
			return tr, true
		}
	}
	return trackStat{}, false
}

func readStats(ctx context.Context) (debugStats, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[debugStats](
		`window.parleyDebug ? window.parleyDebug.stats() : Promise.resolve({state: "no-debug-hook", tracks: []})`,
		chromedp.EvalAwaitPromise))
}

// waitStats polls parleyDebug.stats() until ok accepts it.
func waitStats(t *testing.T, ctx context.Context, d time.Duration, what string, ok func(debugStats) bool) debugStats {
	t.Helper()
	deadline := time.Now().Add(d)
	var last debugStats
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = readStats(ctx)
		if lastErr == nil && ok(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %s; last stats %+v (err %v)", what, d, last, lastErr)
	return last
}

// waitJS polls a JavaScript expression until it is true; evaluation errors
// (e.g. while a page navigates) count as false.
func waitJS(t *testing.T, ctx context.Context, d time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s not true within %s (last error %v)", what, expr, d, err)
}

// flowing reports whether the remote media of participant p keeps arriving:
// video frames decoded and audio bytes received, both growing between two
// readings taken a second apart.
func flowing(t *testing.T, ctx context.Context, who, p string) {
	t.Helper()
	first := waitStats(t, ctx, 20*time.Second, who+" decodes video and receives audio from "+p, func(s debugStats) bool {
		v, okV := s.find(p, "camera")
		a, okA := s.find(p, "audio")
		return okV && okA && v.FramesDecoded > 5 && a.BytesReceived > 0
	})
	time.Sleep(time.Second)
	second, err := readStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := first.find(p, "camera")
	a1, _ := first.find(p, "audio")
	v2, _ := second.find(p, "camera")
	a2, _ := second.find(p, "audio")
	if v2.FramesDecoded <= v1.FramesDecoded || a2.BytesReceived <= a1.BytesReceived {
		t.Fatalf("%s: media from %s stopped: video frames %v→%v, audio bytes %v→%v", who, p,
			v1.FramesDecoded, v2.FramesDecoded, a1.BytesReceived, a2.BytesReceived)
	}
	t.Logf("%s receives %s: video %v frames decoded (%vpx wide), audio %v bytes", who, p, v2.FramesDecoded, v2.FrameWidth, a2.BytesReceived)
}

// loginAndCreate logs the advisor in, creates a consultation and returns
// its invite link; the console stays open.
func loginAndCreate(t *testing.T, ctx context.Context, base, title string) string {
	t.Helper()
	within(t, ctx, 20*time.Second, "login page", chromedp.Steps(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, advisorName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
	))
	return createConsultation(t, ctx, title)
}

func createConsultation(t *testing.T, ctx context.Context, title string) string {
	t.Helper()
	within(t, ctx, 10*time.Second, "type a title", chromedp.Steps(
		chromedp.SetValue(`[data-testid="new-title"]`, title),
		chromedp.Click(`[data-testid="new-consultation"]`),
		chromedp.WaitVisible(`[data-testid="invite-link"]`),
	))
	link := within(t, ctx, 10*time.Second, "read the invite link",
		chromedp.Poll[string](`(document.querySelector('[data-testid="invite-link"]')?.textContent || '').includes('/j/') && document.querySelector('[data-testid="invite-link"]').textContent.trim()`))
	if !strings.Contains(link, "/j/") {
		t.Fatalf("invite link %q has no /j/ path", link)
	}
	return strings.TrimSpace(link)
}

// customerJoins opens the invite link, consents and joins; it returns when
// the customer waits for admission.
func customerJoins(t *testing.T, ctx context.Context, invite string) {
	t.Helper()
	within(t, ctx, 30*time.Second, "customer joins", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
		chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
}

// TestBrowserCall is the customer journey in two real browsers: the advisor
// logs in and creates a consultation, the customer opens the link on a
// phone-sized screen, consents and waits, the advisor admits, both decode
// each other's video and receive audio, the customer shares the screen and
// the advisor decodes it.
func TestBrowserCall(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID

	customerJoins(t, cust, invite)
	saveScreenshot(t, cust, "customer-waiting")
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID

	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })

	flowing(t, cust, "customer", advID)
	flowing(t, adv, "advisor", custID)
	saveScreenshot(t, adv, "advisor-call")

	within(t, cust, 10*time.Second, "customer shares the screen", chromedp.Click(`[data-testid="screen-share"]`))
	s := waitStats(t, adv, 20*time.Second, "advisor decodes the customer's screen", func(s debugStats) bool {
		tr, ok := s.find(custID, "screen")
		return ok && tr.FramesDecoded > 3
	})
	tr, _ := s.find(custID, "screen")
	t.Logf("advisor decodes the customer's screen share: %v frames, %vpx wide", tr.FramesDecoded, tr.FrameWidth)
	within(t, adv, 10*time.Second, "screen shown", chromedp.WaitVisible(`video[data-participant="`+custID+`"][data-source="screen"]`))
	time.Sleep(time.Second) // let a few frames render for the screenshot
	saveScreenshot(t, adv, "advisor-call-screenshare")
	saveScreenshot(t, cust, "customer-call-screenshare")

	// Privacy: every resource both pages loaded came from Parley itself.
	onlyOwnOrigin(t, adv, "advisor", srv.base)
	onlyOwnOrigin(t, cust, "customer", srv.base)

	// The advisor ends the consultation; the customer sees the end screen.
	within(t, adv, 10*time.Second, "advisor ends", chromedp.Steps(
		chromedp.Click(`[data-testid="end"]`),
		chromedp.Click(`[data-testid="end-confirm"]`),
	))
	within(t, cust, 10*time.Second, "customer sees the end", chromedp.WaitVisible(`[data-testid="end-screen"]`))
	saveScreenshot(t, cust, "customer-ended")
}

// onlyOwnOrigin fails unless the page and every resource it loaded (scripts,
// styles, images, fonts, fetches) came from base: no third-party host.
func onlyOwnOrigin(t *testing.T, ctx context.Context, who, base string) {
	t.Helper()
	urls := within(t, ctx, 5*time.Second, who+" resource list", chromedp.Evaluate[[]string](
		`[location.href, ...performance.getEntriesByType('resource').map(e => e.name)]`))
	if len(urls) < 5 {
		t.Fatalf("%s: only %d URLs seen, the check would prove nothing: %v", who, len(urls), urls)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, base+"/") {
			t.Errorf("%s loaded %s, which is not from %s", who, u, base)
		}
	}
	t.Logf("%s: all %d loaded URLs are from %s", who, len(urls), base)
}

// TestBrowserAdmissionLatency measures, five times, the time from the
// customer's admission to the first decoded remote video frame in the
// customer's browser (both times taken by the page's own clock), and logs
// the median that README.md states.
func TestBrowserAdmissionLatency(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	invite := loginAndCreate(t, adv, srv.base, "Messung")
	var samples []float64
	for round := range 5 {
		if round > 0 {
			within(t, adv, 20*time.Second, "back to the console", chromedp.Steps(
				chromedp.Navigate(srv.base+"/app"),
				chromedp.WaitVisible(`[data-testid="new-consultation"]`),
			))
			invite = createConsultation(t, adv, fmt.Sprintf("Messung %d", round+1))
		}
		within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
		waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
		cust := newBrowser(t, fmt.Sprintf("customer%d", round+1), 390, 844)
		customerJoins(t, cust, invite)
		custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
		within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+custID+`"]`))
		s := waitStats(t, cust, 20*time.Second, "first decoded remote frame", func(s debugStats) bool {
			return s.AdmittedAt != nil && s.FirstRemoteFrameAt != nil
		})
		ms := *s.FirstRemoteFrameAt - *s.AdmittedAt
		samples = append(samples, ms)
		t.Logf("round %d: admission → first decoded remote frame %.0f ms", round+1, ms)
		chromedp.Cancel(cust)
	}
	slices.Sort(samples)
	t.Logf("MEDIAN admission → first decoded remote frame: %.0f ms (samples %v)", samples[len(samples)/2], samples)
}
