package sfu

import (
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func TestPlanBudget(t *testing.T) {
	k := func(bps uint64) subBudget { return subBudget{bps: bps, known: true} }
	unknown := subBudget{}
	probing := subBudget{bps: 50_000, known: true, skip: true}
	for _, tc := range []struct {
		name   string
		subs   []subBudget
		limit  uint64
		want   uint64
		wantOK bool
		weak   []bool
	}{
		{"nobody, no cap", nil, 0, 0, false, []bool{}},
		{"nobody, cap", nil, 4_000_000, 4_000_000, true, []bool{}},
		{"1:1 follows the receiver", []subBudget{k(450_000)}, 4_000_000, 450_000, true, []bool{false}},
		{"1:1 capped", []subBudget{k(9_000_000)}, 4_000_000, 4_000_000, true, []bool{false}},
		{"1:1 never below the floor", []subBudget{k(20_000)}, 4_000_000, minPublishBitrate, true, []bool{false}},
		{"1:1 alone is never weak, however low", []subBudget{k(120_000)}, 0, 120_000, true, []bool{false}},
		{"unknown estimate does not count", []subBudget{unknown, k(700_000)}, 0, 700_000, true, []bool{false, false}},
		{"two alike: the lower", []subBudget{k(1_000_000), k(800_000)}, 0, 800_000, true, []bool{false, false}},
		{"two, one far below: ignored and weak", []subBudget{k(1_000_000), k(300_000)}, 0, 1_000_000, true, []bool{false, true}},
		{"three, one far below", []subBudget{k(2_000_000), k(150_000), k(1_800_000)}, 0, 1_800_000, true, []bool{false, true, false}},
		{"three spread evenly: the lowest counts", []subBudget{k(1_000_000), k(600_000), k(800_000)}, 0, 600_000, true, []bool{false, false, false}},
		{"two weak of three drag: median is low", []subBudget{k(2_000_000), k(200_000), k(300_000)}, 0, 200_000, true, []bool{false, false, false}},
		{"on probation: neither counted nor judged", []subBudget{k(900_000), probing}, 0, 900_000, true, []bool{false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, weak := planBudget(tc.subs, tc.limit)
			if got != tc.want || ok != tc.wantOK || !slices.Equal(weak, tc.weak) {
				t.Errorf("planBudget = %d, %v, %v; want %d, %v, %v", got, ok, weak, tc.want, tc.wantOK, tc.weak)
			}
		})
	}
}

func TestAbsSendTimeValue(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	a, b := absSendTimeValue(base), absSendTimeValue(base.Add(250*time.Millisecond))
	if d := (b - a) & 0xFFFFFF; d != 1<<16 { // 0.25 s in 6.18 fixed point
		t.Errorf("250 ms apart: difference %d, want %d", d, 1<<16)
	}
	if v := absSendTimeValue(base.Add(64 * time.Second)); v != a {
		t.Errorf("the value wraps every 64 s: got %d, want %d", v, a)
	}
}

// TestREMBToPublisher: subscribers' REMB reaches the publisher as one
// budget. 1:1: the receiver's estimate; three subscribers with one far
// below: the others' minimum, and the weak one's video from that
// publisher is marked paused; all high: the configured cap.
func TestREMBToPublisher(t *testing.T) {
	const limit = 2_500_000
	s, _ := newTestSFU(t, Config{TCPPort: -1, MaxBitrate: limit})
	room := s.Room("r")
	a := newClient(t, room, "a")
	audio, video := a.publish()
	stop := pump(audio, video)
	defer stop()

	// Each subscriber's browser reports its estimate every 200 ms.
	estimates := map[*client]*atomic.Uint64{}
	report := func(c *client, bps uint64) {
		if e := estimates[c]; e != nil {
			e.Store(bps)
			return
		}
		e := &atomic.Uint64{}
		e.Store(bps)
		estimates[c] = e
		waitFor(t, 10*time.Second, c.id+" receiving a~video", func() bool {
			rt := c.track("a~video")
			return rt != nil && rt.count() > 0
		})
		ssrc := c.track("a~video").ssrc
		c.wg.Go(func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				_ = c.sub.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(e.Load()), SSRCs: []uint32{ssrc}}})
				select {
				case <-c.stop:
					return
				case <-tick.C:
				}
			}
		})
	}
	budget := func(what string, want uint64) {
		t.Helper()
		want += audioAllowance // a publishes audio too
		waitFor(t, 10*time.Second, what, func() bool {
			got := float64(video.remb.Load())
			return math.Abs(got-float64(want)) <= 0.01*float64(want)
		})
	}

	b := newClient(t, room, "b")
	report(b, 450_000)
	budget("1:1: the publisher is told the receiver's estimate", 450_000)

	c := newClient(t, room, "c")
	d := newClient(t, room, "d")
	report(b, 1_200_000)
	report(c, 1_000_000)
	report(d, 150_000)
	budget("the weak subscriber is left out of the minimum", 1_000_000)
	waitFor(t, 5*time.Second, "d's video from a paused", func() bool { return d.peer.videoPaused(a.peer) })
	if b.peer.videoPaused(a.peer) || c.peer.videoPaused(a.peer) {
		t.Error("a strong subscriber's video is paused")
	}

	report(b, 9_000_000)
	report(c, 9_000_000)
	budget("capped at the configured maximum", limit)
	a.verify()
	b.verify()
	c.verify()
	d.verify()
}

// BenchmarkAbsSendTime is the per-packet, per-subscriber cost of building
// a forwarded video packet's header with abs-send-time.
func BenchmarkAbsSendTime(b *testing.B) {
	d := &downTrack{}
	bind := &downBinding{ssrc: 1, pt: ptVP8, absID: 3}
	pkt := &packet{}
	pkt.rtp.Header = rtp.Header{Version: 2, SequenceNumber: 7}
	var abs [3]byte
	b.ReportAllocs()
	for b.Loop() {
		d.header(&d.hdr, bind, pkt, 7, time.Now(), &abs)
	}
	if got := d.hdr.GetExtension(3); len(got) != 3 {
		b.Fatalf("abs-send-time extension = %x", got)
	}
}

type pauseLog []bool

func (l *pauseLog) SetVideoPaused(paused bool) { *l = append(*l, paused) }

// TestPauseSchedule: a weak subscriber is paused, retried on probation
// after pauseRetry, paused again for twice as long when still weak, and
// forgotten once it holds up after a retry.
func TestPauseSchedule(t *testing.T) {
	newPeer := func(id string) *Peer {
		return &Peer{id: id, cc: newCCState(), log: testLogger(), have: make(map[*pubTrack]*subscription)}
	}
	pub, sub := newPeer("pub"), newPeer("sub")
	// An audio track: requestKeyframe ignores it, so no connection is needed.
	tr := &pubTrack{owner: pub, kind: webrtc.RTPCodecTypeAudio}
	var calls pauseLog
	sub.have[tr] = &subscription{track: tr, bound: true, pauser: &calls}
	t0 := time.Now()
	for _, step := range []struct {
		at            time.Duration
		weak, probing bool
		paused        bool
	}{
		{0, true, false, true},
		{5 * time.Second, true, false, true},
		{pauseRetry, true, false, false}, // retry: on probation
		{pauseRetry + 2*time.Second, false, true, false},
		{pauseRetry + probation + time.Second, true, false, true},    // failed: paused for 2 × pauseRetry
		{pauseRetry + probation + 15*time.Second, true, false, true}, // not yet
		{pauseRetry + probation + time.Second + 2*pauseRetry, true, false, false},
		{pauseRetry + 2*probation + 2*time.Second + 2*pauseRetry, false, false, false}, // held up: forgotten
	} {
		pub.setPaused(sub, []*pubTrack{tr}, step.weak, step.probing, t0.Add(step.at))
		if got := sub.videoPaused(pub); got != step.paused {
			t.Fatalf("at %s: paused %v, want %v", step.at, got, step.paused)
		}
	}
	if want := (pauseLog{true, false, true, false}); !slices.Equal(calls, want) {
		t.Errorf("SetVideoPaused calls %v, want %v", calls, want)
	}
	if len(sub.cc.pauses) != 0 {
		t.Errorf("a recovered subscriber is still recorded: %v", sub.cc.pauses)
	}
}
