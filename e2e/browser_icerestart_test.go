package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// iceProbe is what the customer's page reports about its peer
// connections during an ICE restart (iceProbeJS).
type iceProbe struct {
	Same          bool    `json:"same"` // the same RTCPeerConnection objects as before
	PubState      string  `json:"pubState"`
	SubState      string  `json:"subState"`
	PubLocalNew   bool    `json:"pubLocalNew"` // new ICE credentials in each description
	PubRemoteNew  bool    `json:"pubRemoteNew"`
	SubLocalNew   bool    `json:"subLocalNew"`
	SubRemoteNew  bool    `json:"subRemoteNew"`
	PubOnNew      bool    `json:"pubOnNew"` // the transport runs on the new credentials
	SubOnNew      bool    `json:"subOnNew"`
	Frames        float64 `json:"frames"` // video frames decoded on the subscribe connection
	Now           float64 `json:"now"`
	ParticipantID string  `json:"participantId"`
	Reconnects    int     `json:"reconnects"`
	IceRestarts   int     `json:"iceRestarts"`
	RestartAt     float64 `json:"restartAt"`
	RestartWhy    string  `json:"restartWhy"`
}

// restarted reports whether both connections finished an ICE restart:
// new credentials on both sides, connected on them.
func (p iceProbe) restarted() bool {
	return p.Same && p.PubState == "connected" && p.SubState == "connected" &&
		p.PubLocalNew && p.PubRemoteNew && p.SubLocalNew && p.SubRemoteNew && p.PubOnNew && p.SubOnNew
}

// iceRememberJS keeps the page's peer connections and their ICE
// credentials in window.__iceBefore.
const iceRememberJS = `(() => {
  const uf = (d) => (/a=ice-ufrag:(\S+)/.exec(d?.sdp ?? '') ?? [])[1] ?? '';
  const pcs = window.parleyDebug.peerConnections();
  if (!pcs.publish || !pcs.subscribe) return false;
  window.__iceBefore = {
    pub: pcs.publish, sub: pcs.subscribe,
    pubLocal: uf(pcs.publish.localDescription), pubRemote: uf(pcs.publish.remoteDescription),
    subLocal: uf(pcs.subscribe.localDescription), subRemote: uf(pcs.subscribe.remoteDescription),
  };
  return true;
})()`

// iceProbeJS compares the page's peer connections with __iceBefore.
const iceProbeJS = `(async () => {
  const uf = (d) => (/a=ice-ufrag:(\S+)/.exec(d?.sdp ?? '') ?? [])[1] ?? '';
  const b = window.__iceBefore;
  const pcs = window.parleyDebug.peerConnections();
  const info = window.parleyDebug.info();
  // The transport's ICE credentials (Chromium reports them in its
  // transport stats; where it does not, the description must do).
  const onNew = async (pc) => {
    const local = uf(pc.localDescription);
    let seen = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'transport' && s.dtlsState === 'connected' && typeof s.iceLocalUsernameFragment === 'string') seen = s.iceLocalUsernameFragment;
    });
    return seen === null ? true : seen === local;
  };
  let frames = 0;
  if (pcs.subscribe) (await pcs.subscribe.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video' && typeof s.framesDecoded === 'number') frames += s.framesDecoded;
  });
  const p = pcs.publish, s = pcs.subscribe;
  return {
    same: p === b.pub && s === b.sub,
    pubState: p?.connectionState ?? 'none', subState: s?.connectionState ?? 'none',
    pubLocalNew: !!p && uf(p.localDescription) !== b.pubLocal, pubRemoteNew: !!p && uf(p.remoteDescription) !== b.pubRemote,
    subLocalNew: !!s && uf(s.localDescription) !== b.subLocal, subRemoteNew: !!s && uf(s.remoteDescription) !== b.subRemote,
    pubOnNew: !!p && await onNew(p), subOnNew: !!s && await onNew(s),
    frames, now: performance.now(),
    participantId: info.participantId ?? '', reconnects: info.reconnects,
    iceRestarts: info.iceRestarts, restartAt: info.lastIceRestartAt ?? 0, restartWhy: info.lastIceRestartWhy ?? '',
  };
})()`

// overrideNetworkState sets what the page sees of the network
// (navigator.onLine, navigator.connection): Chromium fires the page's
// offline and online events and, coming back, a connection change (to
// wifi), as for a real network change.
func overrideNetworkState(t *testing.T, ctx context.Context, offline bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p := network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1, ConnectionType: network.ConnectionTypeWifi}
	if offline {
		p.ConnectionType = network.ConnectionTypeNone
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, p); err != nil {
		t.Fatalf("Network.overrideNetworkState(offline=%v): %v", offline, err)
	}
}

func readIceProbe(ctx context.Context) (iceProbe, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[iceProbe](iceProbeJS, chromedp.EvalAwaitPromise))
}

func waitIceProbe(t *testing.T, ctx context.Context, d time.Duration, what string, ok func(iceProbe) bool) iceProbe {
	t.Helper()
	deadline := time.Now().Add(d)
	var last iceProbe
	var err error
	for time.Now().Before(deadline) {
		if last, err = readIceProbe(ctx); err == nil && ok(last) {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %s; last %+v (err %v)", what, d, last, err)
	return last
}

// TestBrowserICERestart: the customer's browser goes offline for half a
// second and comes back on another network type (DevTools network
// emulation: Chromium fires the page's own offline, online and
// connection change events, and holds its WebSocket meanwhile; the UDP
// media path itself is not cut, see signaling/PROTOCOL.md, "ICE
// restart"). The client restarts ICE on the same two peer connections:
// new ICE credentials on both sides of both, connected on them, the same
// participant, no WebSocket reconnect, the advisor never sees the customer
// reconnecting, and video frames are decoded again on the new
// credentials. It logs the time from the network's return to the first
// frame decoded after both connections run on the new credentials, for
// three restarts in a row. (In the loopback-only namespace Chromium fires
// the connection change events, not online/offline: the client restarts
// on either, once per burst.)
func TestBrowserICERestart(t *testing.T) {
	c := startCall(t, "ICE-Neustart")
	var toNew, toFrame []float64
	for n := 1; n <= 3; n++ {
		if ok := within(t, c.cust, 5*time.Second, "remember the peer connections", chromedp.Evaluate[bool](iceRememberJS)); !ok {
			t.Fatal("the customer's page has no peer connections")
		}
		before := waitIceProbe(t, c.cust, 5*time.Second, "probe before", func(iceProbe) bool { return true })
		if before.restarted() {
			t.Fatalf("before network change %d: %+v", n, before)
		}

		setOffline(t, c.cust, true)
		overrideNetworkState(t, c.cust, true)
		time.Sleep(500 * time.Millisecond)
		setOffline(t, c.cust, false)
		overrideNetworkState(t, c.cust, false)
		backAt := within(t, c.cust, 5*time.Second, "page clock", chromedp.Evaluate[float64](`performance.now()`))

		done := waitIceProbe(t, c.cust, 20*time.Second, "ICE restarted on the same connections", func(p iceProbe) bool {
			return p.IceRestarts > before.IceRestarts && p.restarted()
		})
		again := waitIceProbe(t, c.cust, 10*time.Second, "video decoded after the restart", func(p iceProbe) bool {
			return p.Frames > done.Frames
		})
		if again.ParticipantID != c.custID || again.Reconnects != 0 || !again.Same {
			t.Fatalf("after ICE restart %d: participant %s (before %s), %d WebSocket reconnects, same peer connections %v",
				n, again.ParticipantID, c.custID, again.Reconnects, again.Same)
		}
		if again.RestartWhy != "network change" {
			t.Errorf("restart reason %q, want network change", again.RestartWhy)
		}
		toNew = append(toNew, done.Now-backAt)
		toFrame = append(toFrame, again.Now-backAt)
		flowing(t, c.cust, "customer", c.advID)
	}
	flowing(t, c.cust, "customer", c.advID)
	flowing(t, c.adv, "advisor", c.custID)
	adv := waitRC(t, c.adv, 5*time.Second, "advisor's roster", func(rcInfo) bool { return true })
	if sameParticipantThroughout(t, adv, c.custJoinedRoster, c.custID) {
		t.Errorf("the advisor saw the customer reconnecting during an ICE restart")
	}
	t.Logf("ICE restart (network change), 3 times: network back → both connections on new credentials %.0f ms; → a video frame decoded after that (seen by a probe every ~20 ms) %.0f ms",
		toNew, toFrame)
}
