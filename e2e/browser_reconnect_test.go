package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

// The reconnect tests: a participant whose page reloads or whose network
// drops comes back into the same call as the same participant, and media
// flows again both ways (signaling/PROTOCOL.md, "Reconnecting"). The
// clocks are the pages' own (window.parleyDebug, web/static/js/debug.js);
// times that span a reload or two pages are made absolute with each page's
// performance.timeOrigin and compared with the test's time.Now().

// rcInfo mirrors the parts of window.parleyDebug.stats() these tests read.
type rcInfo struct {
	ParticipantID              string      `json:"participantId"`
	State                      string      `json:"state"`
	Link                       string      `json:"link"`
	ReconnectAttempt           int         `json:"reconnectAttempt"`
	LastReconnectAttempts      int         `json:"lastReconnectAttempts"`
	Reconnects                 int         `json:"reconnects"`
	ReconnectStartedAt         *float64    `json:"reconnectStartedAt"`
	LastAttemptAt              *float64    `json:"lastAttemptAt"`
	LastReconnectedAt          *float64    `json:"lastReconnectedAt"`
	FirstFrameAfterReconnectAt *float64    `json:"firstFrameAfterReconnectAt"`
	FirstRemoteFrameAt         *float64    `json:"firstRemoteFrameAt"`
	TimeOrigin                 float64     `json:"timeOrigin"`
	RosterLog                  []rosterAt  `json:"rosterLog"`
	Tracks                     []rcTrack   `json:"tracks"`
	Roster                     []rosterRow `json:"roster"`
}

type rosterRow struct {
	ID     string `json:"id"`
	Role   string `json:"role"`
	State  string `json:"state"`
	Audio  bool   `json:"audio"`
	Video  bool   `json:"video"`
	Screen bool   `json:"screen"`
}

// row returns participant p's entry in the latest roster.
func (i rcInfo) row(p string) (rosterRow, bool) {
	for _, r := range i.Roster {
		if r.ID == p {
			return r, true
		}
	}
	return rosterRow{}, false
}

type rosterAt struct {
	At           float64     `json:"at"`
	Participants []rosterRow `json:"participants"`
}

type rcTrack struct {
	Participant   string   `json:"participant"`
	Source        string   `json:"source"`
	TrackID       string   `json:"trackId"`
	FramesDecoded float64  `json:"framesDecoded"`
	BytesReceived float64  `json:"bytesReceived"`
	FirstFrameAt  *float64 `json:"firstFrameAt"`
}

// abs turns a performance.now() value of this page into Unix milliseconds.
func (i rcInfo) abs(t float64) float64 { return i.TimeOrigin + t }

// track returns the remote track of participant p and source.
func (i rcInfo) track(p, source string) (rcTrack, bool) {
	for _, tr := range i.Tracks {
		if tr.Participant == p && tr.Source == source {
			return tr, true
		}
	}
	return rcTrack{}, false
}

// newTrack returns the remote track of participant p and source that was
// received anew (its first frame decoded) after the Unix time after (ms).
// Track ids may stay the same across a reconnect (Chromium keeps a
// MediaStreamTrack's id on a new peer connection) or change (a reload
// opens the camera anew), so a track is told apart by its first frame.
func (i rcInfo) newTrack(p, source string, after float64) (rcTrack, bool) {
	for _, tr := range i.Tracks {
		if tr.Participant == p && tr.Source == source && tr.FirstFrameAt != nil && i.abs(*tr.FirstFrameAt) > after && tr.FramesDecoded > 0 {
			return tr, true
		}
	}
	return rcTrack{}, false
}

func readRC(ctx context.Context) (rcInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[rcInfo](
		`window.parleyDebug ? window.parleyDebug.stats() : Promise.resolve({state: "no-debug-hook", link: "none", tracks: []})`,
		chromedp.EvalAwaitPromise))
}

// waitRC polls the page's debug hook every 50 ms until ok accepts it.
func waitRC(t *testing.T, ctx context.Context, d time.Duration, what string, ok func(rcInfo) bool) rcInfo {
	t.Helper()
	deadline := time.Now().Add(d)
	var last rcInfo
	var err error
	for time.Now().Before(deadline) {
		if last, err = readRC(ctx); err == nil && ok(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	last.RosterLog = nil // too long for the message
	t.Fatalf("%s: not reached within %s; last %+v (err %v)", what, d, last, err)
	return last
}

// unixMs is t in Unix milliseconds, like performance.timeOrigin + now().
func unixMs(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }

// inCall is an advisor and a customer in a call, media flowing both ways.
type inCall struct {
	srv              *server
	adv, cust        context.Context
	advID, custID    string
	invite           string
	custJoinedRoster int // advisor's rosterLog length when the customer was in the call
}

func startCall(t *testing.T, title string) *inCall {
	t.Helper()
	c := &inCall{srv: startServer(t)}
	c.adv = newBrowser(t, "advisor", 1280, 800)
	c.cust = newBrowser(t, "customer", 390, 844)
	c.invite = loginAndCreate(t, c.adv, c.srv.base, title)
	within(t, c.adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, c.adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	c.advID = waitStats(t, c.adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	customerJoins(t, c.cust, c.invite)
	c.custID = waitStats(t, c.cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, c.adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+c.custID+`"]`))
	waitStats(t, c.cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	a := waitRC(t, c.adv, 20*time.Second, "advisor decodes the customer", func(i rcInfo) bool {
		tr, ok := i.track(c.custID, "camera")
		return ok && tr.FramesDecoded > 0
	})
	c.custJoinedRoster = len(a.RosterLog)
	waitRC(t, c.cust, 20*time.Second, "customer decodes the advisor", func(i rcInfo) bool {
		tr, ok := i.track(c.advID, "camera")
		return ok && tr.FramesDecoded > 0
	})
	return c
}

// decodesAgain waits until who decodes a camera track of participant p
// received anew after the Unix time after (ms), and returns the page's
// info then.
func decodesAgain(t *testing.T, ctx context.Context, d time.Duration, who, p string, after float64) (rcInfo, rcTrack) {
	t.Helper()
	i := waitRC(t, ctx, d, who+" decodes "+p+"'s camera anew", func(i rcInfo) bool {
		_, ok := i.newTrack(p, "camera", after)
		return ok
	})
	tr, _ := i.newTrack(p, "camera", after)
	return i, tr
}

// sameParticipantThroughout checks the advisor's rosters since the
// customer was in the call: the customer is listed exactly once each time,
// never as left or waiting, and no second customer shows up. It reports
// whether the customer passed through "reconnecting".
func sameParticipantThroughout(t *testing.T, adv rcInfo, from int, custID string) (sawReconnecting bool) {
	t.Helper()
	if from > len(adv.RosterLog) {
		from = len(adv.RosterLog)
	}
	for _, r := range adv.RosterLog[from:] {
		n := 0
		for _, p := range r.Participants {
			if p.Role != "customer" {
				continue
			}
			if p.ID != custID {
				t.Errorf("advisor's roster at %.0f ms lists another customer %s (%s) besides %s", r.At, p.ID, p.State, custID)
				continue
			}
			n++
			switch p.State {
			case "joined":
			case "reconnecting":
				sawReconnecting = true
			default:
				t.Errorf("advisor's roster at %.0f ms lists the customer as %q", r.At, p.State)
			}
		}
		if n != 1 {
			t.Errorf("advisor's roster at %.0f ms lists the customer %d times: %+v", r.At, n, r.Participants)
		}
	}
	return sawReconnecting
}

// setOffline cuts (or restores) a browser's network through the DevTools
// protocol: a global Network.emulateNetworkConditionsByRule rule, offline,
// with 100 % packet loss for p2p. In Chromium 156 (checked in this
// namespace) that blocks the page's HTTP requests, new WebSockets and the
// frames of an open WebSocket, silently: the socket is not closed, and the
// browser's network stack still answers the server's pings, so the server
// does not notice. WebRTC is not affected (frames keep being decoded), and
// navigator.onLine is false in a loopback-only namespace anyway, so there
// is no offline event either: the client has to notice on its own.
func setOffline(t *testing.T, ctx context.Context, offline bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rules := []*network.Conditions{}
	if offline {
		rules = append(rules, &network.Conditions{Offline: true, PacketLoss: 100, DownloadThroughput: -1, UploadThroughput: -1})
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules}); err != nil {
		t.Fatalf("Network.emulateNetworkConditionsByRule(offline=%v): %v", offline, err)
	}
}

// TestBrowserReloadReconnect: the customer reloads the page during the
// call and is back in it as the same participant without entering
// anything; both sides decode each other's video again.
func TestBrowserReloadReconnect(t *testing.T) {
	c := startCall(t, "Reload")

	reloadAt := time.Now()
	within(t, c.cust, 20*time.Second, "customer reloads", chromedp.Reload())
	cu := waitRC(t, c.cust, 20*time.Second, "customer back in the call", func(i rcInfo) bool {
		return i.ParticipantID != "" && i.State == "joined" && i.FirstRemoteFrameAt != nil
	})
	if cu.ParticipantID != c.custID {
		t.Fatalf("after the reload the customer is participant %s, before %s", cu.ParticipantID, c.custID)
	}
	landing := within(t, c.cust, 5*time.Second, "landing hidden", chromedp.Evaluate[bool](
		`document.getElementById('screen-landing').hidden && !document.getElementById('screen-call').hidden`))
	if !landing {
		t.Fatalf("after the reload the customer does not see the call (landing shown or call hidden)")
	}
	custMs := cu.abs(*cu.FirstRemoteFrameAt) - unixMs(reloadAt)

	adv, tr := decodesAgain(t, c.adv, 20*time.Second, "advisor", c.custID, unixMs(reloadAt))
	advMs := adv.abs(*tr.FirstFrameAt) - unixMs(reloadAt)
	sameParticipantThroughout(t, adv, c.custJoinedRoster, c.custID)
	t.Logf("reload → first decoded frame: advisor decodes the customer after %.0f ms, customer decodes the advisor after %.0f ms", advMs, custMs)

	flowing(t, c.adv, "advisor", c.custID)
	flowing(t, c.cust, "customer", c.advID)
}

// TestBrowserNetworkCutReconnect cuts the customer's network twice during
// a call and restores it:
//
//  1. through the DevTools protocol (setOffline): the signaling socket goes
//     silent without closing, and the client has to find out by itself
//     (its ping goes unanswered) and retry until the network is back;
//  2. through the page's test hook parleyDebug.simulateNetworkLoss, which
//     closes the socket and the peer connections the way a dead network
//     would end them, so that the server sees the loss: the advisor must
//     show the customer as reconnecting meanwhile.
//
// Each time the customer comes back as the same participant, and video
// is decoded again on both sides.
func TestBrowserNetworkCutReconnect(t *testing.T) {
	c := startCall(t, "Netzwerk")

	// 1. A silent cut.
	setOffline(t, c.cust, true)
	cutAt := time.Now()
	lost := waitRC(t, c.cust, 20*time.Second, "customer notices the silent cut", func(i rcInfo) bool { return i.Link == "reconnecting" })
	noticed := lost.abs(*lost.ReconnectStartedAt) - unixMs(cutAt)
	waitRC(t, c.cust, 10*time.Second, "customer retries", func(i rcInfo) bool { return i.ReconnectAttempt >= 3 })
	saveScreenshot(t, c.cust, "customer-reconnecting")
	banner := within(t, c.cust, 5*time.Second, "banner text", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="reconnect-banner"]:not([hidden])')?.textContent || ''`))
	// At least the third attempt (a busy machine may be at the next one by
	// the time the banner is read).
	attempt := 0
	if m := regexp.MustCompile(`Versuch (\d+)`).FindStringSubmatch(banner); m != nil {
		attempt, _ = strconv.Atoi(m[1])
	}
	if !strings.Contains(banner, "Verbindung unterbrochen") || attempt < 3 {
		t.Errorf("customer's banner says %q", banner)
	}
	setOffline(t, c.cust, false)
	restoredAt := time.Now()
	cu := waitRC(t, c.cust, 20*time.Second, "customer reconnected after the silent cut", func(i rcInfo) bool {
		return i.Link == "connected" && i.Reconnects >= 1 && i.FirstFrameAfterReconnectAt != nil
	})
	if cu.ParticipantID != c.custID || cu.State != "joined" {
		t.Fatalf("after the cut the customer is %s (%s), before %s (joined)", cu.ParticipantID, cu.State, c.custID)
	}
	adv, tr := decodesAgain(t, c.adv, 20*time.Second, "advisor", c.custID, unixMs(restoredAt))
	t.Logf("silent cut for %s, noticed after %.0f ms; customer: restored → first decoded frame %.0f ms (last attempt → frame %.0f ms); advisor: restored → first decoded frame of the customer %.0f ms",
		restoredAt.Sub(cutAt).Round(time.Millisecond), noticed,
		cu.abs(*cu.FirstFrameAfterReconnectAt)-unixMs(restoredAt),
		*cu.FirstFrameAfterReconnectAt-*cu.LastAttemptAt,
		adv.abs(*tr.FirstFrameAt)-unixMs(restoredAt))
	flowing(t, c.adv, "advisor", c.custID)
	flowing(t, c.cust, "customer", c.advID)

	// 2. A cut the server sees.
	const outage = 3 * time.Second
	if ok := within(t, c.cust, 5*time.Second, "cut the network", chromedp.Evaluate[bool](
		fmt.Sprintf(`window.parleyDebug.simulateNetworkLoss(%d)`, outage.Milliseconds()))); !ok {
		t.Fatal("simulateNetworkLoss: no call on the page")
	}
	cutAt = time.Now()
	waitJS(t, c.adv, 10*time.Second, "advisor shows the customer reconnecting",
		`!!document.querySelector('#participant-list li[data-participant="`+c.custID+`"][data-state="reconnecting"] [data-testid="badge-reconnecting"]')`)
	saveScreenshot(t, c.adv, "advisor-customer-reconnecting")
	cu = waitRC(t, c.cust, 30*time.Second, "customer reconnected after the outage", func(i rcInfo) bool {
		return i.Link == "connected" && i.Reconnects >= 2 && i.FirstFrameAfterReconnectAt != nil
	})
	if cu.ParticipantID != c.custID || cu.State != "joined" {
		t.Fatalf("after the outage the customer is %s (%s), before %s (joined)", cu.ParticipantID, cu.State, c.custID)
	}
	adv, tr = decodesAgain(t, c.adv, 20*time.Second, "advisor", c.custID, cu.abs(*cu.ReconnectStartedAt))
	if !sameParticipantThroughout(t, adv, c.custJoinedRoster, c.custID) {
		t.Errorf("the advisor's rosters never listed the customer as reconnecting")
	}
	t.Logf("outage of %s: customer: lost → first decoded frame %.0f ms (last attempt → frame %.0f ms, %d attempts); advisor: lost → first decoded frame of the customer %.0f ms",
		outage, *cu.FirstFrameAfterReconnectAt-*cu.ReconnectStartedAt, *cu.FirstFrameAfterReconnectAt-*cu.LastAttemptAt,
		cu.LastReconnectAttempts, adv.abs(*tr.FirstFrameAt)-cu.abs(*cu.ReconnectStartedAt))
	_ = cutAt
	flowing(t, c.adv, "advisor", c.custID)
	flowing(t, c.cust, "customer", c.advID)
}

// TestBrowserReconnectLatency drops the customer's connection five times
// (the page's simulateNetworkLoss hook with no outage: the socket and the
// peer connections close without leave and the client reconnects at once,
// with its first backoff) and logs the median time from the reconnect's
// start to the first decoded remote video frame, on the customer's side
// and for the customer's video at the advisor. A last drop checks that
// what the customer sends survives a reconnect: the microphone stays off
// and the screen share goes on, on the new peer connections.
func TestBrowserReconnectLatency(t *testing.T) {
	c := startCall(t, "Messung")
	var custSamples, advSamples []float64
	for round := range 5 {
		before := waitRC(t, c.cust, 5*time.Second, "customer info", func(rcInfo) bool { return true })
		if ok := within(t, c.cust, 5*time.Second, "drop the connection", chromedp.Evaluate[bool](`window.parleyDebug.simulateNetworkLoss(0)`)); !ok {
			t.Fatal("simulateNetworkLoss: no call on the page")
		}
		cu := waitRC(t, c.cust, 20*time.Second, "customer reconnected and decodes", func(i rcInfo) bool {
			return i.Reconnects > before.Reconnects && i.Link == "connected" && i.FirstFrameAfterReconnectAt != nil
		})
		if cu.ParticipantID != c.custID || cu.State != "joined" {
			t.Fatalf("round %d: the customer came back as %s (%s), before %s (joined)", round+1, cu.ParticipantID, cu.State, c.custID)
		}
		adv, tr := decodesAgain(t, c.adv, 20*time.Second, "advisor", c.custID, cu.abs(*cu.ReconnectStartedAt))
		custMs := *cu.FirstFrameAfterReconnectAt - *cu.ReconnectStartedAt
		advMs := adv.abs(*tr.FirstFrameAt) - cu.abs(*cu.ReconnectStartedAt)
		custSamples = append(custSamples, custMs)
		advSamples = append(advSamples, advMs)
		t.Logf("round %d: reconnect → first decoded frame: customer %.0f ms (attempt → frame %.0f ms), advisor decodes the customer %.0f ms",
			round+1, custMs, *cu.FirstFrameAfterReconnectAt-*cu.LastAttemptAt, advMs)
	}
	slices.Sort(custSamples)
	slices.Sort(advSamples)
	t.Logf("MEDIAN reconnect → first decoded frame: %.0f ms (customer side, samples %v)", custSamples[len(custSamples)/2], rounded(custSamples))
	t.Logf("MEDIAN reconnect → first decoded frame of the reconnected customer at the advisor: %.0f ms (samples %v)", advSamples[len(advSamples)/2], rounded(advSamples))

	// Microphone off and a screen share survive a reconnect.
	within(t, c.cust, 10*time.Second, "customer mutes and shares the screen", chromedp.Steps(
		chromedp.Click(`[data-testid="toggle-mic"]`),
		chromedp.Click(`[data-testid="screen-share"]`),
	))
	before := waitRC(t, c.adv, 20*time.Second, "advisor decodes the customer's screen, microphone off", func(i rcInfo) bool {
		r, _ := i.row(c.custID)
		tr, ok := i.track(c.custID, "screen")
		return ok && tr.FramesDecoded > 0 && !r.Audio && r.Screen
	})
	_ = before
	dropAt := time.Now()
	within(t, c.cust, 5*time.Second, "drop the connection", chromedp.Evaluate[bool](`window.parleyDebug.simulateNetworkLoss(0)`))
	waitRC(t, c.adv, 20*time.Second, "advisor decodes the customer's screen anew, microphone still off", func(i rcInfo) bool {
		r, _ := i.row(c.custID)
		_, ok := i.newTrack(c.custID, "screen", unixMs(dropAt))
		_, okCam := i.newTrack(c.custID, "camera", unixMs(dropAt))
		return ok && okCam && r.State == "joined" && !r.Audio && r.Video && r.Screen
	})
	flowing(t, c.cust, "customer", c.advID)
}

func rounded(xs []float64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.0f", x)
	}
	return out
}

// TestBrowserReplacedTakeBack: the customer's session is opened a second
// time (here by a plain WebSocket with the customer's cookie, as a second
// window would); the page says "opened in another window", does not
// reconnect on its own, and takes the call back when asked, as the same
// participant.
func TestBrowserReplacedTakeBack(t *testing.T) {
	c := startCall(t, "Zweites Fenster")
	cookies, err := chromedp.Call(c.cust, network.GetCookies, network.GetCookiesParams{URLs: []string{c.srv.base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	session := ""
	for _, ck := range cookies.Cookies {
		if ck.Name == "parley_session" {
			session = ck.Value
		}
	}
	if session == "" {
		t.Fatal("the customer's browser has no parley_session cookie")
	}
	cid := within(t, c.adv, 5*time.Second, "consultation id", chromedp.Evaluate[string](`decodeURIComponent(location.pathname.split('/').pop())`))

	// The second window.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.srv.base, "http")+"/ws/"+cid, &websocket.DialOptions{
		Subprotocols: []string{"parley.v1"},
		HTTPHeader:   http.Header{"Cookie": {"parley_session=" + session}, "Origin": {c.srv.base}},
	})
	if err != nil {
		t.Fatalf("second connection: %v", err)
	}
	defer ws.CloseNow()
	var welcome struct {
		Type string `json:"type"`
		Self struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"self"`
	}
	_, data, err := ws.Read(ctx)
	if err != nil || json.Unmarshal(data, &welcome) != nil || welcome.Type != "welcome" {
		t.Fatalf("second connection: first message %s (%v)", data, err)
	}
	if welcome.Self.ID != c.custID || welcome.Self.State != "joined" {
		t.Errorf("second connection is %s (%s), want the customer %s (joined)", welcome.Self.ID, welcome.Self.State, c.custID)
	}
	closed := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				closed <- websocket.CloseStatus(err)
				return
			}
		}
	}()

	within(t, c.cust, 10*time.Second, "the page says it was replaced", chromedp.WaitVisible(`[data-testid="take-back"]`))
	time.Sleep(2 * time.Second) // long enough for a (wrong) automatic reconnect
	cu := waitRC(t, c.cust, 5*time.Second, "customer page", func(rcInfo) bool { return true })
	if cu.Link != "failed" || cu.Reconnects != 0 {
		t.Errorf("after 4001 the page's link is %q with %d reconnects; want failed, no reconnect", cu.Link, cu.Reconnects)
	}
	select {
	case code := <-closed:
		t.Fatalf("the second connection was closed (%d) although the first page did not take the call back", code)
	default:
	}
	saveScreenshot(t, c.cust, "customer-replaced")

	takeBackAt := time.Now()
	within(t, c.cust, 10*time.Second, "take the call back", chromedp.Click(`[data-testid="take-back"]`))
	cu = waitRC(t, c.cust, 20*time.Second, "customer back in the call", func(i rcInfo) bool {
		return i.State == "joined" && i.FirstRemoteFrameAt != nil
	})
	if cu.ParticipantID != c.custID {
		t.Fatalf("after taking the call back the customer is %s, before %s", cu.ParticipantID, c.custID)
	}
	select {
	case code := <-closed:
		if code != 4001 {
			t.Errorf("the second connection was closed with %d, want 4001", code)
		}
	case <-time.After(10 * time.Second):
		t.Error("the second connection was not closed when the page took the call back")
	}
	adv, _ := decodesAgain(t, c.adv, 20*time.Second, "advisor", c.custID, unixMs(takeBackAt))
	sameParticipantThroughout(t, adv, c.custJoinedRoster, c.custID)
	flowing(t, c.cust, "customer", c.advID)
}
