package sfu

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

const numbered = 150 // numbered packets each publisher track sends

// TestForwardPayloads: two publishers (audio + video) and a subscriber-only
// peer; every numbered packet reaches every subscriber byte for byte, under
// the stream id "<publisher>~<track>".
func TestForwardPayloads(t *testing.T) {
	s, reg := newTestSFU(t, Config{})
	room := s.Room("r1")
	a := newClient(t, room, "alice")
	b := newClient(t, room, "bob")
	c := newClient(t, room, "carol") // subscribes only

	aAudio, aVideo := a.publish()
	bAudio, bVideo := b.publish()
	stop := pump(aAudio, aVideo, bAudio, bVideo)
	defer stop()
	want := map[*client][]string{
		a: {"bob~audio", "bob~video"},
		b: {"alice~audio", "alice~video"},
		c: {"alice~audio", "alice~video", "bob~audio", "bob~video"},
	}
	for cl, ids := range want {
		waitFor(t, 10*time.Second, cl.id+" receiving "+strings.Join(ids, ","), func() bool {
			for _, id := range ids {
				if rt := cl.track(id); rt == nil || rt.count() == 0 {
					return false
				}
			}
			return true
		})
	}
	stop()

	// Each publisher track sends its numbered packets, concurrently.
	type pubTrackRef struct {
		publisher string
		st        *sendTrack
	}
	sends := []pubTrackRef{{"alice", aAudio}, {"alice", aVideo}, {"bob", bAudio}, {"bob", bVideo}}
	var wg sync.WaitGroup
	for _, ref := range sends {
		wg.Go(func() {
			for n := range numbered {
				if err := ref.st.write(payloadFor(ref.publisher, ref.st.id, n)); err != nil {
					t.Errorf("write %s/%s: %v", ref.publisher, ref.st.id, err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()

	for cl, ids := range want {
		for _, id := range ids {
			rt := cl.track(id)
			publisher, track, _ := strings.Cut(id, "~")
			if rt.streamID != id || rt.trackID != track {
				t.Errorf("%s: stream %q track %q, want %q and %q", cl.id, rt.streamID, rt.trackID, id, track)
			}
			wantKind := webrtc.RTPCodecTypeAudio
			if track == "video" {
				wantKind = webrtc.RTPCodecTypeVideo
			}
			if rt.kind != wantKind {
				t.Errorf("%s: %s has kind %s", cl.id, id, rt.kind)
			}
			missing := func() []int {
				var m []int
				for n := range numbered {
					if !rt.has(payloadFor(publisher, track, n)) {
						m = append(m, n)
					}
				}
				return m
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(missing()) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if m := missing(); len(m) > 0 {
				t.Errorf("%s: %s missing %d of %d packets, e.g. %v", cl.id, id, len(m), numbered, m[:min(len(m), 10)])
			}
		}
	}

	if v := metricValue(t, reg, "parley_sfu_peers"); v != 3 {
		t.Errorf("parley_sfu_peers = %v, want 3", v)
	}
	if v := metricValue(t, reg, "parley_sfu_tracks"); v != 4 {
		t.Errorf("parley_sfu_tracks = %v, want 4", v)
	}
	// 4 tracks × 2 subscribers each × numbered packets, plus the filler
	// (counted per subscriber, added to the metrics every rtcpTick).
	time.Sleep(2 * rtcpTick)
	if v := metricValue(t, reg, "parley_sfu_forwarded_packets_total"); v < 8*numbered {
		t.Errorf("parley_sfu_forwarded_packets_total = %v, want ≥ %d", v, 8*numbered)
	}
	if v := metricValue(t, reg, "parley_sfu_forwarded_bytes_total"); v < 8*numbered*160 {
		t.Errorf("parley_sfu_forwarded_bytes_total = %v, want ≥ %d", v, 8*numbered*160)
	}
	for _, cl := range []*client{a, b, c} {
		cl.verify()
	}
}

// TestPLIForwarding: a new subscriber triggers a PLI to the publisher; a
// subscriber's PLI and FIR reach the publisher as a PLI for its SSRC; a
// burst is rate-limited to one per PLIInterval.
func TestPLIForwarding(t *testing.T) {
	const interval = 400 * time.Millisecond
	s, reg := newTestSFU(t, Config{PLIInterval: interval, TCPPort: -1})
	room := s.Room("r")
	a := newClient(t, room, "a")
	_, video := a.publish()
	stop := pump(video)
	defer stop()
	b := newClient(t, room, "b")
	waitFor(t, 10*time.Second, "b receiving a~video", func() bool {
		rt := b.track("a~video")
		return rt != nil && rt.count() > 0
	})
	// The newcomer's keyframe request.
	waitFor(t, 5*time.Second, "PLI for the new subscriber", func() bool { return video.plis.Load() >= 1 })

	rt := b.track("a~video")
	burst := func(pkt func() rtcp.Packet) {
		for range 10 {
			if err := b.sub.WriteRTCP([]rtcp.Packet{pkt()}); err != nil {
				t.Fatalf("write RTCP: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i, kind := range []string{"pli", "fir"} {
		time.Sleep(interval + 100*time.Millisecond) // out of the previous window
		before := video.plis.Load()
		burst(func() rtcp.Packet {
			if kind == "fir" {
				return &rtcp.FullIntraRequest{MediaSSRC: rt.ssrc, FIR: []rtcp.FIREntry{{SSRC: rt.ssrc, SequenceNumber: uint8(i)}}}
			}
			return &rtcp.PictureLossIndication{MediaSSRC: rt.ssrc}
		})
		waitFor(t, 3*time.Second, "forwarded "+kind, func() bool { return video.plis.Load() > before })
		time.Sleep(interval / 4) // the burst is over; nothing more may come within the window
		if got := video.plis.Load() - before; got != 1 {
			t.Errorf("%s burst of 10: publisher got %d PLIs, want 1", kind, got)
		}
	}
	if v := metricValue(t, reg, "parley_sfu_pli_total"); v < 3 {
		t.Errorf("parley_sfu_pli_total = %v, want ≥ 3", v)
	}
	a.verify()
	b.verify()
}

// TestRenegotiateScreenShare: a publisher adds a screen track later and
// removes it again; subscribers get it and see it go; a second share reuses
// the freed transceivers.
func TestRenegotiateScreenShare(t *testing.T) {
	s, reg := newTestSFU(t, Config{})
	room := s.Room("r")
	a := newClient(t, room, "a")
	audio, video := a.publish()
	stop := pump(audio, video)
	defer stop()
	subs := []*client{newClient(t, room, "b"), newClient(t, room, "c")}
	receiving := func(id string) func() bool {
		return func() bool {
			for _, cl := range subs {
				if rt := cl.track(id); rt == nil || rt.count() == 0 {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 10*time.Second, "camera and microphone", func() bool {
		return receiving("a~audio")() && receiving("a~video")()
	})

	for round, id := range []string{"screen", "screen2"} {
		screen := a.addTrack(id, vp8Codec)
		a.negotiate()
		stopScreen := pump(screen)
		waitFor(t, 10*time.Second, "subscribers receiving a~"+id, receiving("a~"+id))
		if v := metricValue(t, reg, "parley_sfu_tracks"); v != 3 {
			t.Errorf("round %d: parley_sfu_tracks = %v, want 3", round, v)
		}
		stopScreen()

		if err := a.pub.RemoveTrack(screen.sender); err != nil {
			t.Fatal(err)
		}
		a.negotiate()
		for _, cl := range subs {
			select {
			case <-cl.track("a~" + id).ended:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s still receives a~%s", cl.id, id)
			}
		}
		waitFor(t, 5*time.Second, "two tracks left", func() bool {
			return metricValue(t, reg, "parley_sfu_tracks") == 2
		})
		for _, cl := range subs {
			live := cl.liveTracks()
			slices.Sort(live)
			if !slices.Equal(live, []string{"a~audio", "a~video"}) {
				t.Errorf("round %d: %s live tracks %v", round, cl.id, live)
			}
		}
	}
	// Camera and microphone still flow.
	for _, cl := range subs {
		n := cl.track("a~video").count()
		waitFor(t, 5*time.Second, cl.id+" still receiving video", func() bool {
			return cl.track("a~video").count() > n
		})
	}
	a.verify()
	for _, cl := range subs {
		cl.verify()
	}
}

// TestSixPeers: six peers each publish audio and video; each receives the
// other ten tracks.
func TestSixPeers(t *testing.T) {
	s, reg := newTestSFU(t, Config{})
	room := s.Room("big")
	var clients []*client
	var stops []func()
	for i := range 6 {
		cl := newClient(t, room, fmt.Sprintf("p%d", i))
		audio, video := cl.publish()
		stops = append(stops, pump(audio, video))
		clients = append(clients, cl)
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for _, cl := range clients {
		var want []string
		for _, other := range clients {
			if other != cl {
				want = append(want, other.id+"~audio", other.id+"~video")
			}
		}
		slices.Sort(want)
		waitFor(t, 20*time.Second, cl.id+" receiving 10 tracks", func() bool {
			live := cl.liveTracks()
			slices.Sort(live)
			if !slices.Equal(live, want) {
				return false
			}
			for _, id := range live {
				if cl.track(id).count() == 0 {
					return false
				}
			}
			return true
		})
	}
	if v := metricValue(t, reg, "parley_sfu_tracks"); v != 12 {
		t.Errorf("parley_sfu_tracks = %v, want 12", v)
	}
	for _, cl := range clients {
		cl.verify()
	}
}

// TestLeaveAndClose: peers leave one by one (their tracks disappear for
// the others), then the SFU closes; nothing is left running (checked by
// newTestSFU's leak check) and everything refuses further use.
func TestLeaveAndClose(t *testing.T) {
	s, reg := newTestSFU(t, Config{})
	room := s.Room("r")
	var clients []*client
	for _, id := range []string{"a", "b", "c"} {
		cl := newClient(t, room, id)
		audio, video := cl.publish()
		stop := pump(audio, video)
		defer stop()
		clients = append(clients, cl)
	}
	a, b, c := clients[0], clients[1], clients[2]
	waitFor(t, 10*time.Second, "c receiving a and b", func() bool { return len(c.liveTracks()) == 4 })

	a.close()
	waitFor(t, 10*time.Second, "a's tracks gone at b and c", func() bool {
		return len(b.liveTracks()) == 2 && len(c.liveTracks()) == 2
	})
	if v := metricValue(t, reg, "parley_sfu_peers"); v != 2 {
		t.Errorf("parley_sfu_peers = %v, want 2", v)
	}
	if _, err := a.peer.Publish(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: "v=0"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if err := a.peer.Close(); err != nil {
		t.Errorf("second Peer.Close: %v", err)
	}

	// SFU.Close closes the remaining peers.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := room.Join("d", b); !errors.Is(err, ErrClosed) {
		t.Errorf("Join after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Room("other").Join("d", b); !errors.Is(err, ErrClosed) {
		t.Errorf("Join on a new room after Close: %v, want ErrClosed", err)
	}
	for _, cl := range []*client{b, c} {
		select {
		case <-cl.peer.closeDone:
		default:
			t.Errorf("peer %s still open after SFU.Close", cl.id)
		}
	}
	b.close()
	c.close()
	for _, cl := range clients {
		cl.verify()
	}
}

// TestCloseRoom: CloseRoom ends the room's peers; the id can be used again.
func TestCloseRoom(t *testing.T) {
	s, _ := newTestSFU(t, Config{TCPPort: -1})
	room := s.Room("r")
	a := newClient(t, room, "a")
	a.publish()
	s.CloseRoom("r")
	if !a.peer.isClosed() {
		t.Error("peer open after CloseRoom")
	}
	if _, err := room.Join("b", a); !errors.Is(err, ErrClosed) {
		t.Errorf("Join on a closed room: %v, want ErrClosed", err)
	}
	if s.Room("r") == room {
		t.Error("CloseRoom did not forget the room")
	}
	b := newClient(t, s.Room("r"), "a") // same peer id, new room
	b.publish()
	b.verify()
}

// TestICETCP: a client that can only use TCP publishes through the ICE-TCP
// port; a UDP client receives it.
func TestICETCP(t *testing.T) {
	s, _ := newTestSFU(t, Config{})
	if s.TCPAddr() == "" {
		t.Fatal("no TCP address")
	}
	room := s.Room("r")
	a := newClient(t, room, "a", clientOpts{networks: []webrtc.NetworkType{webrtc.NetworkTypeTCP4}})
	_, video := a.publish()
	stop := pump(video)
	defer stop()
	b := newClient(t, room, "b")
	waitFor(t, 15*time.Second, "b receiving a~video via TCP", func() bool {
		rt := b.track("a~video")
		return rt != nil && rt.count() > 0
	})
	a.verify()
	b.verify()
}

// TestCoalescedOffers: while a subscribe offer is unanswered, further track
// changes make no offer; answering it brings one offer with all of them.
func TestCoalescedOffers(t *testing.T) {
	s, _ := newTestSFU(t, Config{TCPPort: -1})
	room := s.Room("r")
	b := newClient(t, room, "b", clientOpts{manual: true})
	a := newClient(t, room, "a")
	aAudio, aVideo := a.publish()
	stopA := pump(aAudio, aVideo)
	defer stopA()

	var first webrtc.SessionDescription
	select {
	case first = <-b.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscribe offer")
	}
	c := newClient(t, room, "c")
	cAudio, cVideo := c.publish()
	stopC := pump(cAudio, cVideo)
	defer stopC()
	waitFor(t, 10*time.Second, "a receiving c", func() bool { return len(a.liveTracks()) == 2 })
	select {
	case o := <-b.held:
		t.Fatalf("second offer while the first is outstanding:\n%s", o.SDP)
	case <-time.After(200 * time.Millisecond):
	}

	b.post(func() { b.answer(first) })
	want := []string{"a~audio", "a~video", "c~audio", "c~video"}
	for {
		var next webrtc.SessionDescription
		select {
		case next = <-b.held:
		case <-time.After(10 * time.Second):
			t.Fatal("no offer after the answer")
		}
		b.post(func() { b.answer(next) })
		complete := true
		for _, id := range want {
			track := id[strings.Index(id, "~")+1:]
			complete = complete && strings.Contains(next.SDP, "a=msid:"+id+" "+track)
		}
		if complete {
			break // normally the very first offer after the answer
		}
	}
	waitFor(t, 10*time.Second, "b receiving all four tracks", func() bool {
		live := b.liveTracks()
		slices.Sort(live)
		return slices.Equal(live, want)
	})
	for _, cl := range []*client{a, b, c} {
		cl.verify()
	}
}
