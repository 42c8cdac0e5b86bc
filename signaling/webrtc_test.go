package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/parley-video/parley/sfu"
	"github.com/parley-video/parley/testnet"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Tests with real peer connections through the real media plane. They run
// only in the loopback-only network namespace (scripts/test.sh).

func stderrLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("SIGNALING_TEST_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func newTestMedia(t *testing.T) *sfu.SFU {
	t.Helper()
	m, err := sfu.New(sfu.Config{
		UDPPort: 0, TCPPort: -1, ListenIP: "127.0.0.1", IncludeLoopback: true,
		PLIInterval: 50 * time.Millisecond,
	}, stderrLogger(), nil)
	if err != nil {
		t.Fatalf("sfu.New: %v", err)
	}
	return m
}

func rtcAPI(t *testing.T) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	for _, c := range sfu.Codecs() {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		c.RTCPFeedback = append([]webrtc.RTCPFeedback(nil), c.RTCPFeedback...)
		if err := me.RegisterCodec(c, kind); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// rtcClient is a participant with a browser's part of the protocol: a
// WebSocket plus publish and subscribe peer connections. One worker
// goroutine handles the server's offer, answer and candidate messages in
// order, as a browser's event loop would.
type rtcClient struct {
	t    *testing.T
	name string
	c    *client
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection

	work     chan serverMessage
	stop     chan struct{}
	wg       sync.WaitGroup
	answered chan struct{} // a publish answer was applied
	closing  atomic.Bool

	mu           sync.Mutex
	pubRemoteSet bool
	pubQueued    []webrtc.ICECandidateInit
	subQueued    []webrtc.ICECandidateInit // only touched by the worker
	tracks       map[string]*recvTrack     // by stream id, latest
	subOffers    int
	errs         []error
}

type recvTrack struct {
	streamID string
	ssrc     webrtc.SSRC
	ended    chan struct{}

	mu       sync.Mutex
	payloads map[string]struct{}
}

func (r *recvTrack) has(p []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.payloads[string(p)]
	return ok
}

type sendTrack struct {
	local *webrtc.TrackLocalStaticRTP
	ssrc  uint32
	plis  atomic.Int64
	seq   uint16
	ts    uint32
}

func (st *sendTrack) write(payload []byte) error {
	st.seq++
	st.ts += 960
	return st.local.WriteRTP(&rtp.Packet{
		Header:  rtp.Header{Version: 2, SequenceNumber: st.seq, Timestamp: st.ts, Marker: true},
		Payload: payload,
	})
}

func newRTCClient(t *testing.T, e *env, api *webrtc.API, name string, id ConsultationID, cookie string) *rtcClient {
	t.Helper()
	rc := &rtcClient{
		t: t, name: name,
		work:     make(chan serverMessage, 1024),
		stop:     make(chan struct{}),
		answered: make(chan struct{}, 16),
		tracks:   make(map[string]*recvTrack),
	}
	var err error
	if rc.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if rc.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	rc.pub.OnICECandidate(func(ic *webrtc.ICECandidate) { rc.sendCandidate(sfu.Publish, ic) })
	rc.sub.OnICECandidate(func(ic *webrtc.ICECandidate) { rc.sendCandidate(sfu.Subscribe, ic) })
	rc.sub.OnTrack(rc.onTrack)
	hook := func(m serverMessage) bool {
		switch m.Type {
		case TypeOffer, TypeAnswer, TypeCandidate:
			select {
			case rc.work <- m:
			default:
				rc.fail(errors.New("worker queue full"))
			}
			return true
		}
		return false
	}
	rc.c, _, err = e.dialHook(t, id, cookie, hook)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	rc.wg.Go(rc.run)
	t.Cleanup(rc.close)
	return rc
}

func (rc *rtcClient) fail(err error) {
	if rc.closing.Load() {
		return
	}
	rc.mu.Lock()
	rc.errs = append(rc.errs, err)
	rc.mu.Unlock()
}

func (rc *rtcClient) verify() {
	rc.t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, err := range rc.errs {
		rc.t.Errorf("%s: %v", rc.name, err)
	}
}

func (rc *rtcClient) write(v any) {
	b, _ := json.Marshal(v)
	if err := rc.c.ws.Write(rc.t.Context(), websocket.MessageText, b); err != nil {
		rc.fail(fmt.Errorf("write: %w", err))
	}
}

func (rc *rtcClient) sendCandidate(dir sfu.Direction, ic *webrtc.ICECandidate) {
	if ic == nil || rc.closing.Load() {
		return
	}
	rc.write(map[string]any{"type": TypeCandidate, "target": dir, "candidate": ic.ToJSON()})
}

func (rc *rtcClient) run() {
	for {
		select {
		case <-rc.stop:
			return
		case m := <-rc.work:
			rc.handle(m)
		}
	}
}

func (rc *rtcClient) handle(m serverMessage) {
	switch m.Type {
	case TypeAnswer:
		if err := rc.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			rc.fail(fmt.Errorf("set publish answer: %w", err))
			return
		}
		rc.mu.Lock()
		rc.pubRemoteSet = true
		queued := rc.pubQueued
		rc.pubQueued = nil
		rc.mu.Unlock()
		for _, ic := range queued {
			if err := rc.pub.AddICECandidate(ic); err != nil {
				rc.fail(err)
			}
		}
		rc.answered <- struct{}{}
	case TypeOffer:
		if err := rc.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			rc.fail(fmt.Errorf("set subscribe offer: %w", err))
			return
		}
		for _, ic := range rc.subQueued {
			if err := rc.sub.AddICECandidate(ic); err != nil {
				rc.fail(err)
			}
		}
		rc.subQueued = nil
		answer, err := rc.sub.CreateAnswer(nil)
		if err == nil {
			err = rc.sub.SetLocalDescription(answer)
		}
		if err != nil {
			rc.fail(fmt.Errorf("subscribe answer: %w", err))
			return
		}
		rc.mu.Lock()
		rc.subOffers++
		rc.mu.Unlock()
		rc.write(map[string]any{"type": TypeAnswer, "sdp": answer.SDP})
	case TypeCandidate:
		var ic webrtc.ICECandidateInit
		if err := json.Unmarshal(m.Candidate, &ic); err != nil {
			rc.fail(err)
			return
		}
		if m.Target == string(sfu.Subscribe) {
			if rc.sub.RemoteDescription() == nil {
				rc.fail(errors.New("subscribe candidate before the subscribe offer"))
				rc.subQueued = append(rc.subQueued, ic)
				return
			}
			if err := rc.sub.AddICECandidate(ic); err != nil {
				rc.fail(err)
			}
			return
		}
		rc.mu.Lock()
		if !rc.pubRemoteSet {
			// The signaling layer promises answer before candidates.
			rc.mu.Unlock()
			rc.fail(errors.New("publish candidate before the publish answer"))
			return
		}
		rc.mu.Unlock()
		if err := rc.pub.AddICECandidate(ic); err != nil {
			rc.fail(err)
		}
	}
}

func (rc *rtcClient) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	rt := &recvTrack{streamID: remote.StreamID(), ssrc: remote.SSRC(), ended: make(chan struct{}), payloads: map[string]struct{}{}}
	rc.mu.Lock()
	rc.tracks[rt.streamID] = rt
	rc.mu.Unlock()
	rc.wg.Go(func() {
		defer close(rt.ended)
		for {
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			rt.mu.Lock()
			rt.payloads[string(pkt.Payload)] = struct{}{}
			rt.mu.Unlock()
		}
	})
}

func (rc *rtcClient) track(streamID string) *recvTrack {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.tracks[streamID]
}

// publish adds an Opus and a VP8 track, negotiates them and announces them
// with a media message.
func (rc *rtcClient) publish() (audio, video *sendTrack) {
	rc.t.Helper()
	add := func(id string, codec webrtc.RTPCodecCapability) *sendTrack {
		local, err := webrtc.NewTrackLocalStaticRTP(codec, id, "stream-"+rc.name)
		if err != nil {
			rc.t.Fatal(err)
		}
		sender, err := rc.pub.AddTrack(local)
		if err != nil {
			rc.t.Fatal(err)
		}
		st := &sendTrack{local: local, ssrc: uint32(sender.GetParameters().Encodings[0].SSRC)}
		rc.wg.Go(func() {
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if pli, ok := p.(*rtcp.PictureLossIndication); ok && pli.MediaSSRC == st.ssrc {
						st.plis.Add(1)
					}
				}
			}
		})
		return st
	}
	audio = add("mic", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	video = add("cam", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	offer, err := rc.pub.CreateOffer(nil)
	if err != nil {
		rc.t.Fatal(err)
	}
	if err := rc.pub.SetLocalDescription(offer); err != nil {
		rc.t.Fatal(err)
	}
	rc.write(map[string]any{"type": TypeOffer, "sdp": offer.SDP, "id": "pub"})
	select {
	case <-rc.answered:
	case <-time.After(waitTimeout):
		rc.t.Fatalf("%s: no publish answer", rc.name)
	}
	rc.write(map[string]any{"type": TypeMedia, "audio": true, "video": true, "tracks": map[string]string{"mic": "audio", "cam": "camera"}})
	return audio, video
}

// close closes the peer connections and stops the worker. Idempotent.
func (rc *rtcClient) close() {
	if rc.closing.Swap(true) {
		return
	}
	_ = rc.pub.GracefulClose()
	_ = rc.sub.GracefulClose()
	rc.c.ws.CloseNow()
	close(rc.stop)
	rc.wg.Wait()
}

func payload(who, track string, n int) []byte {
	b := fmt.Appendf(nil, "%s/%s/%d/", who, track, n)
	return append(b, bytes.Repeat([]byte{byte(n)}, 120)...)
}

// pumpUnique sends numbered payloads on the tracks every 10 ms until stop.
func pumpUnique(who string, tracks map[string]*sendTrack) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			for name, st := range tracks {
				_ = st.write(payload(who, name, n))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receives waits until rc gets payloads sent after now on streamID.
func (rc *rtcClient) receives(t *testing.T, streamID, who, track string) *recvTrack {
	t.Helper()
	var rt *recvTrack
	eventually(t, rc.name+" receiving "+streamID, func() bool {
		rt = rc.track(streamID)
		if rt == nil {
			return false
		}
		for n := range 2000 {
			if rt.has(payload(who, track, n)) {
				return true
			}
		}
		return false
	})
	return rt
}

func TestCallThroughMediaPlane(t *testing.T) {
	testnet.RequireLoopbackOnly(t)
	before := runtime.NumGoroutine()
	media := newTestMedia(t)
	e := newEnv(t, testConfig(), media)
	api := rtcAPI(t)
	e.hub.Open(ConsultationInfo{ID: "c1"})

	adv := newRTCClient(t, e, api, "advisor", "c1", staffCookie(1))
	advID := adv.c.waitType(t, TypeWelcome).Self.ID
	advAudio, advVideo := adv.publish()
	stopAdv := pumpUnique("advisor", map[string]*sendTrack{"mic": advAudio, "cam": advVideo})
	defer stopAdv()

	pid, cookie := e.addCustomer(t, "c1", "")
	cu := newRTCClient(t, e, api, "customer", "c1", cookie)
	cu.c.waitType(t, TypeWelcome)
	adv.c.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})
	adv.write(map[string]any{"type": TypeAdmit, "participant": pid})
	cu.c.waitFor(t, "admission", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateJoined })

	// The admitted customer receives the advisor's tracks before publishing.
	cu.receives(t, string(advID)+"~mic", "advisor", "mic")
	cu.receives(t, string(advID)+"~cam", "advisor", "cam")

	cuAudio, cuVideo := cu.publish()
	stopCu := pumpUnique("customer", map[string]*sendTrack{"mic": cuAudio, "cam": cuVideo})
	defer stopCu()
	adv.receives(t, string(pid)+"~mic", "customer", "mic")
	video := adv.receives(t, string(pid)+"~cam", "customer", "cam")
	adv.c.waitFor(t, "roster with the customer's tracks", func(m serverMessage) bool {
		for _, p := range m.Participants {
			if p.ID == pid && p.Tracks["cam"] == SourceCamera && p.Tracks["mic"] == SourceAudio {
				return true
			}
		}
		return false
	})

	// A subscriber's PLI reaches the publisher.
	time.Sleep(200 * time.Millisecond) // past PLIs for the new subscriber
	base := cuVideo.plis.Load()
	if err := adv.sub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(video.ssrc)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "PLI at the publisher", func() bool { return cuVideo.plis.Load() > base })

	// The customer reloads the page: a new connection replaces the old one
	// and gets a fresh media peer under the same participant id.
	stopCu()
	cu2 := newRTCClient(t, e, api, "customer2", "c1", cookie)
	if code := cu.c.waitClosed(t); code != StatusReplaced {
		t.Fatalf("old customer connection closed with %v", code)
	}
	cu.close()
	if w := cu2.c.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined {
		t.Fatalf("welcome after reload: %s", w.raw)
	}
	cu2.receives(t, string(advID)+"~cam", "advisor", "cam")
	cu2Audio, cu2Video := cu2.publish()
	stopCu2 := pumpUnique("customer2", map[string]*sendTrack{"mic": cu2Audio, "cam": cu2Video})
	defer stopCu2()
	adv.receives(t, string(pid)+"~cam", "customer2", "cam")
	adv.receives(t, string(pid)+"~mic", "customer2", "mic")

	// The customer leaves: the advisor's subscription to its tracks ends.
	stopCu2()
	old := adv.track(string(pid) + "~cam")
	cu2.write(map[string]any{"type": TypeLeave})
	if code := cu2.c.waitClosed(t); code != websocket.StatusNormalClosure {
		t.Fatalf("customer leave closed with %v", code)
	}
	adv.c.waitRoster(t, map[ParticipantID]State{advID: StateJoined})
	select {
	case <-old.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("customer's track did not end at the advisor")
	}
	stopAdv()
	adv.write(map[string]any{"type": TypeLeave})
	adv.c.waitClosed(t)

	for _, rc := range []*rtcClient{adv, cu, cu2} {
		rc.verify()
		rc.close()
	}
	if s, _ := e.hub.Snapshot("c1"); s.Joined != 0 || s.Waiting != 0 {
		t.Fatalf("snapshot %+v", s)
	}
	e.close()
	if err := media.Close(); err != nil {
		t.Errorf("media close: %v", err)
	}
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left:\n%s", n-before, strings.TrimSpace(string(buf[:runtime.Stack(buf, true)])))
	}
}

// End closes the media room with the sockets.
func TestEndClosesMedia(t *testing.T) {
	testnet.RequireLoopbackOnly(t)
	media := newTestMedia(t)
	defer media.Close()
	e := newEnv(t, testConfig(), media)
	api := rtcAPI(t)
	e.hub.Open(ConsultationInfo{ID: "c1"})
	adv := newRTCClient(t, e, api, "advisor", "c1", staffCookie(1))
	advID := adv.c.waitType(t, TypeWelcome).Self.ID
	a, v := adv.publish()
	stop := pumpUnique("advisor", map[string]*sendTrack{"mic": a, "cam": v})
	defer stop()
	adv2 := newRTCClient(t, e, api, "advisor2", "c1", staffCookie(2))
	adv2.c.waitType(t, TypeWelcome)
	rt := adv2.receives(t, string(advID)+"~cam", "advisor", "cam")

	e.hub.End(t.Context(), "c1")
	for _, rc := range []*rtcClient{adv, adv2} {
		if code := rc.c.waitClosed(t); code != StatusEnded {
			t.Fatalf("%s closed with %v", rc.name, code)
		}
	}
	select {
	case <-rt.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("forwarded track still running after End")
	}
	adv.verify()
	adv2.verify()
}

// A customer whose socket drops reconnects within the grace period and
// publishes with new peer connections; the advisor receives the new
// tracks' payloads under the same participant id.
func TestReconnectMedia(t *testing.T) {
	testnet.RequireLoopbackOnly(t)
	media := newTestMedia(t)
	defer media.Close()
	cfg := testConfig()
	cfg.GracePeriod = 20 * time.Second
	e := newEnv(t, cfg, media)
	api := rtcAPI(t)
	e.hub.Open(ConsultationInfo{ID: "c1"})

	adv := newRTCClient(t, e, api, "advisor", "c1", staffCookie(1))
	advID := adv.c.waitType(t, TypeWelcome).Self.ID
	advAudio, advVideo := adv.publish()
	stopAdv := pumpUnique("advisor", map[string]*sendTrack{"mic": advAudio, "cam": advVideo})
	defer stopAdv()

	pid, cookie := e.addCustomer(t, "c1", "")
	cu := newRTCClient(t, e, api, "customer", "c1", cookie)
	cu.c.waitType(t, TypeWelcome)
	adv.write(map[string]any{"type": TypeAdmit, "participant": pid})
	cu.c.waitFor(t, "admission", isState(StateJoined))
	cuAudio, cuVideo := cu.publish()
	stopCu := pumpUnique("customer", map[string]*sendTrack{"mic": cuAudio, "cam": cuVideo})
	defer stopCu()
	old := adv.receives(t, string(pid)+"~cam", "customer", "cam")

	// The socket drops (the old peer connections are gone with the page).
	cu.c.ws.CloseNow()
	adv.c.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateReconnecting})
	stopCu()
	cu.close()

	cu2 := newRTCClient(t, e, api, "customer2", "c1", cookie)
	if w := cu2.c.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined {
		t.Fatalf("welcome after reconnect: %s", w.raw)
	}
	adv.c.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateJoined})
	// The old media peer was closed: its track ends at the advisor.
	select {
	case <-old.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the old peer's track did not end")
	}
	cu2.receives(t, string(advID)+"~cam", "advisor", "cam")
	cu2Audio, cu2Video := cu2.publish()
	stopCu2 := pumpUnique("customer2", map[string]*sendTrack{"mic": cu2Audio, "cam": cu2Video})
	defer stopCu2()
	adv.receives(t, string(pid)+"~cam", "customer2", "cam")
	adv.receives(t, string(pid)+"~mic", "customer2", "mic")
	stopCu2()
	stopAdv()
	for _, rc := range []*rtcClient{adv, cu2} {
		rc.verify()
	}
}

// iceUfrag is the ICE username fragment of a description.
func iceUfrag(d *webrtc.SessionDescription) string {
	if d == nil {
		return ""
	}
	for line := range strings.SplitSeq(d.SDP, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// TestICERestartThroughMediaPlane: a joined customer restarts ICE on both
// of its connections (PROTOCOL.md, "ICE restart"): an offer with new ICE
// credentials on the publish connection, and restart_ice for the
// subscribe connection, which the server answers with an offer carrying
// new credentials. The same peer connections (and the same media peer on
// the server: no roster change, no new subscribe tracks) carry media both
// ways afterwards.
func TestICERestartThroughMediaPlane(t *testing.T) {
	testnet.RequireLoopbackOnly(t)
	media := newTestMedia(t)
	e := newEnv(t, testConfig(), media)
	api := rtcAPI(t)
	e.hub.Open(ConsultationInfo{ID: "c1"})

	adv := newRTCClient(t, e, api, "advisor", "c1", staffCookie(1))
	advID := adv.c.waitType(t, TypeWelcome).Self.ID
	advAudio, advVideo := adv.publish()
	stopAdv := pumpUnique("advisor", map[string]*sendTrack{"mic": advAudio, "cam": advVideo})
	defer stopAdv()
	pid, cookie := e.addCustomer(t, "c1", "")
	cu := newRTCClient(t, e, api, "customer", "c1", cookie)
	cu.c.waitType(t, TypeWelcome)
	adv.c.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})
	adv.write(map[string]any{"type": TypeAdmit, "participant": pid})
	cu.c.waitFor(t, "admission", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateJoined })
	cu.receives(t, string(advID)+"~cam", "advisor", "cam")
	cuAudio, cuVideo := cu.publish()
	stopCu := pumpUnique("customer", map[string]*sendTrack{"mic": cuAudio, "cam": cuVideo})
	adv.receives(t, string(pid)+"~cam", "customer", "cam")

	pub, sub := cu.pub, cu.sub
	pubRemote, subRemote := iceUfrag(pub.RemoteDescription()), iceUfrag(sub.RemoteDescription())
	cu.mu.Lock()
	offers := cu.subOffers
	cu.mu.Unlock()

	// Subscribe connection: the server re-offers with new credentials.
	cu.write(map[string]any{"type": TypeRestartICE, "id": "r1"})
	eventually(t, "a subscribe offer restarting ICE", func() bool {
		cu.mu.Lock()
		n := cu.subOffers
		cu.mu.Unlock()
		return n > offers && iceUfrag(sub.RemoteDescription()) != subRemote
	})
	// Publish connection: the client's offer with new credentials.
	offer, err := pub.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	cu.write(map[string]any{"type": TypeOffer, "sdp": offer.SDP, "id": "pub2"})
	select {
	case <-cu.answered:
	case <-time.After(waitTimeout):
		t.Fatal("no answer to the ICE restart offer")
	}
	if got := iceUfrag(pub.RemoteDescription()); got == pubRemote || got == "" {
		t.Fatalf("publish answer's ufrag %q, before %q: the server did not restart ICE", got, pubRemote)
	}
	if cu.pub != pub || cu.sub != sub {
		t.Fatal("peer connections replaced")
	}

	// Media both ways on the restarted connections: payloads sent from now
	// on (a new label) arrive.
	stopCu()
	stopCu2 := pumpUnique("customer-after", map[string]*sendTrack{"mic": cuAudio, "cam": cuVideo})
	defer stopCu2()
	stopAdv()
	stopAdv2 := pumpUnique("advisor-after", map[string]*sendTrack{"mic": advAudio, "cam": advVideo})
	defer stopAdv2()
	adv.receives(t, string(pid)+"~cam", "customer-after", "cam")
	adv.receives(t, string(pid)+"~mic", "customer-after", "mic")
	cu.receives(t, string(advID)+"~cam", "advisor-after", "cam")
	cu.receives(t, string(advID)+"~mic", "advisor-after", "mic")
	eventually(t, "both connections connected", func() bool {
		return pub.ConnectionState() == webrtc.PeerConnectionStateConnected && sub.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	for _, m := range drainMsgs(cu.c) {
		if m.Type == TypeError {
			t.Errorf("customer got an error: %s", m.raw)
		}
	}
	cu.verify()
	adv.verify()
}

// drainMsgs returns the messages c has received and not yet read.
func drainMsgs(c *client) []serverMessage {
	var out []serverMessage
	for {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		default:
			return out
		}
	}
}
