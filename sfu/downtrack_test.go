package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	dto "github.com/prometheus/client_model/go"
)

// rawPacket marshals an RTP packet with this sequence number and payload.
func rawPacket(t testing.TB, seq uint16, marker bool, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: ptVP8, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 42, Marker: marker},
		Payload: payload,
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	vp8Delta = []byte{0x10, 0x01, 0xAA, 0xBB} // S=1, PID=0, P=1: start of an inter frame
	vp8Key   = []byte{0x10, 0x00, 0xAA, 0xBB} // S=1, PID=0, P=0: start of a key frame
)

func counterValue(t testing.TB, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func seqs(headers []rtp.Header) []uint16 {
	s := make([]uint16, len(headers))
	for i, h := range headers {
		s[i] = h.SequenceNumber
	}
	return s
}

// contiguous reports whether s counts up by one from first.
func contiguous(s []uint16, first uint16) bool {
	for i, v := range s {
		if v != first+uint16(i) {
			return false
		}
	}
	return true
}

// TestDownTrackChokedSubscriber (no network): a subscriber whose writes
// block does not hold up another one; its queue stays at capacity (drops,
// does not grow); once it catches up it gets no video until a keyframe,
// one is requested, and the sequence numbers it sees have no gap where
// packets were dropped.
func TestDownTrackChokedSubscriber(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &SFU{metrics: m, packets: newPacketPool(), cfg: Config{PLIInterval: time.Millisecond}}
	tr := newFakeTrack(s, "video", vp8Codec, webrtc.RTPCodecTypeVideo)
	healthy, choked := newSink(), newBlockedSink(t)
	healthy.record, choked.record = true, true
	bindFake(t, tr, startWriter(t, m), 1000, healthy)
	chokedW := startWriter(t, m)
	bindFake(t, tr, chokedW, 2000, choked)

	const sent = 1000
	for i := range sent {
		forwardRaw(t, tr, rawPacket(t, uint16(i+1), i%5 == 4, vp8Delta))
		if i == 0 {
			waitFor(t, 5*time.Second, "the choked writer blocking", func() bool { return choked.entered.Load() == 1 })
		}
		if i%64 == 63 {
			healthy.waitFor(int64(i + 1)) // it keeps up (a burst of 1,000 at once would not fit its queue either)
		}
	}
	healthy.waitFor(sent)
	if h, _ := healthy.recorded(); !contiguous(seqs(h), 1) {
		t.Errorf("healthy subscriber: sequence numbers %v...", seqs(h)[:10])
	}
	if n := chokedW.videoLen(); n != videoQueueLen {
		t.Errorf("choked queue holds %d packets, want its capacity %d", n, videoQueueLen)
	}
	// One packet is in the blocked write, a queue's worth waits, the rest
	// was dropped.
	if got, want := counterValue(t, m.dropped), float64(sent-videoQueueLen-1); got != want {
		t.Errorf("dropped %v, want %v", got, want)
	}

	choked.unblock() // the subscriber reads again
	choked.waitFor(videoQueueLen + 1)
	tr.pliMu.Lock()
	tr.lastPLI = time.Time{}
	tr.pliMu.Unlock()
	time.Sleep(5 * time.Millisecond) // past the PLI interval
	forwardRaw(t, tr, rawPacket(t, sent+1, true, vp8Delta))
	forwardRaw(t, tr, rawPacket(t, sent+2, true, vp8Delta))
	tr.pliMu.Lock()
	asked := !tr.lastPLI.IsZero()
	tr.pliMu.Unlock()
	if !asked {
		t.Error("no keyframe requested for the subscriber that caught up")
	}
	forwardRaw(t, tr, rawPacket(t, sent+3, false, vp8Key))
	forwardRaw(t, tr, rawPacket(t, sent+4, true, vp8Delta))
	choked.waitFor(videoQueueLen + 3)
	healthy.waitFor(sent + 4)
	h, _ := choked.recorded()
	if got := seqs(h); !contiguous(got, 1) {
		t.Errorf("choked subscriber: sequence numbers not contiguous: %v", got[len(got)-5:])
	}
	if last := h[len(h)-2:]; last[0].Timestamp != (sent+3)*3000 || last[1].Timestamp != (sent+4)*3000 {
		t.Errorf("choked subscriber resumed with timestamps %d, %d; want the keyframe's and the next", last[0].Timestamp, last[1].Timestamp)
	}
	if h, _ := healthy.recorded(); !contiguous(seqs(h), 1) || len(h) != sent+4 {
		t.Errorf("healthy subscriber: %d packets, contiguous %v", len(h), contiguous(seqs(h), 1))
	}
}

// TestDownTrackAudioFirst (no network): with the video queue full, a
// subscriber's audio is still queued, and written before the waiting video.
func TestDownTrackAudioFirst(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &SFU{metrics: m, packets: newPacketPool(), cfg: Config{PLIInterval: time.Hour}}
	video := newFakeTrack(s, "video", vp8Codec, webrtc.RTPCodecTypeVideo)
	audio := newFakeTrack(s, "audio", opusCodec, webrtc.RTPCodecTypeAudio)
	out := newBlockedSink(t)
	out.record = true
	w := startWriter(t, m)
	bindFake(t, video, w, 2000, out)
	bindFake(t, audio, w, 1000, out)

	for i := range 2 * videoQueueLen {
		forwardRaw(t, video, rawPacket(t, uint16(i+1), true, vp8Delta))
		if i == 0 {
			waitFor(t, 5*time.Second, "the writer blocking", func() bool { return out.entered.Load() == 1 })
		}
	}
	for i := range 10 {
		forwardRaw(t, audio, rawPacket(t, uint16(i+1), true, []byte{0xfc, 1, 2}))
	}
	out.unblock()
	out.waitFor(videoQueueLen + 1 + 10)
	h, _ := out.recorded()
	// The first write was already under way (video); then all the audio.
	for i, x := range h[1:11] {
		if x.SSRC != 1000 || x.SequenceNumber != uint16(i+1) {
			t.Fatalf("write %d: SSRC %d seq %d, want audio packet %d", i+1, x.SSRC, x.SequenceNumber, i+1)
		}
	}
}

// TestSetVideoPaused (no network): a paused subscriber gets no video
// (nothing counts as dropped while paused); after resuming it gets video again from the
// next keyframe, with no gap in its sequence numbers.
func TestSetVideoPaused(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &SFU{metrics: m, packets: newPacketPool(), cfg: Config{PLIInterval: time.Hour}}
	tr := newFakeTrack(s, "video", vp8Codec, webrtc.RTPCodecTypeVideo)
	out := newSink()
	out.record = true
	w := startWriter(t, m)
	bindFake(t, tr, w, 1000, out)
	p := &Peer{out: w, have: make(map[*pubTrack]*subscription)}

	forwardRaw(t, tr, rawPacket(t, 1, true, vp8Delta))
	out.waitFor(1)
	p.SetVideoPaused(true)
	for i := range 5 {
		forwardRaw(t, tr, rawPacket(t, uint16(2+i), true, vp8Key))
	}
	if v := counterValue(t, m.dropped); v != 0 {
		t.Errorf("dropped %v while paused, want 0", v)
	}
	p.SetVideoPaused(false)
	forwardRaw(t, tr, rawPacket(t, 7, true, vp8Delta)) // not decodable: waits for a keyframe
	forwardRaw(t, tr, rawPacket(t, 8, true, vp8Key))
	out.waitFor(2)
	h, _ := out.recorded()
	if len(h) != 2 || h[1].Timestamp != 8*3000 || h[1].SequenceNumber != 2 {
		t.Errorf("after resume: %d packets, last %+v; want the keyframe (timestamp %d) as sequence number 2", len(h), h[len(h)-1], 8*3000)
	}
}

// TestIsKeyframe: the payload parsers for VP8 and H.264.
func TestIsKeyframe(t *testing.T) {
	for _, c := range []struct {
		name, mime string
		payload    []byte
		want       bool
	}{
		{"vp8 key", webrtc.MimeTypeVP8, vp8Key, true},
		{"vp8 delta", webrtc.MimeTypeVP8, vp8Delta, false},
		{"vp8 key, not the first packet", webrtc.MimeTypeVP8, []byte{0x00, 0x00}, false},
		{"vp8 key with picture id (15 bits)", webrtc.MimeTypeVP8, []byte{0x90, 0x80, 0x81, 0x02, 0x00}, true},
		{"vp8 delta with picture id (7 bits)", webrtc.MimeTypeVP8, []byte{0x90, 0x80, 0x05, 0x01}, false},
		{"vp8 key with all extensions", webrtc.MimeTypeVP8, []byte{0x90, 0xF0, 0x05, 0x01, 0x02, 0x00}, true},
		{"vp8 truncated", webrtc.MimeTypeVP8, []byte{0x90, 0x80}, false},
		{"h264 idr", webrtc.MimeTypeH264, []byte{0x65, 0x88}, true},
		{"h264 sps", webrtc.MimeTypeH264, []byte{0x67, 0x42}, true},
		{"h264 non-idr slice", webrtc.MimeTypeH264, []byte{0x41, 0x9a}, false},
		{"h264 stap-a with sps", webrtc.MimeTypeH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 fu-a start of idr", webrtc.MimeTypeH264, []byte{0x7c, 0x85, 0x88}, true},
		{"h264 fu-a middle of idr", webrtc.MimeTypeH264, []byte{0x7c, 0x05, 0x88}, false},
		{"opus", webrtc.MimeTypeOpus, []byte{0xfc}, false},
	} {
		if got := isKeyframe(c.mime, c.payload); got != c.want {
			t.Errorf("%s: isKeyframe = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestNACKHistorySize: a subscriber's NACK history holds what four
// retransmission timeouts need at the rate it is sent (from its receiver
// reports), between histMin and histLen packets, and lets go of the rest.
func TestNACKHistorySize(t *testing.T) {
	s := &SFU{packets: newPacketPool()}
	tr := newFakeTrack(s, "video", vp8Codec, webrtc.RTPCodecTypeVideo)
	d := newDownTrack(tr, nil)
	d.hist = make([]histEntry, histLen)
	d.keep.Store(histMin)
	held := func() int {
		n := 0
		for _, e := range d.hist {
			if e.pkt != nil {
				n++
			}
		}
		return n
	}
	for i := range 3 * histLen {
		pkt := getPacket(s.packets)
		d.remember(pkt, uint16(i))
		pkt.release()
	}
	if n := held(); n != histMin {
		t.Fatalf("%d packets held, want %d", n, histMin)
	}
	lsr := func(at time.Time) uint32 { return uint32(ntpTime(at) >> 16) }
	t0 := time.Now()
	d.noteReport(rtcp.ReceptionReport{LastSenderReport: lsr(t0)}, t0)
	for _, c := range []struct {
		rtt  time.Duration
		sent uint32 // in the second since the last report
		want int32
	}{
		{300 * time.Millisecond, 200, 240}, // 4 × 0.3 s × 200/s
		{time.Millisecond, 200, histMin},   // a LAN
		{2 * time.Second, 400, histLen},    // a terrible link at a high rate
	} {
		t0 = t0.Add(time.Second)
		d.sentPackets.Add(c.sent)
		d.noteReport(rtcp.ReceptionReport{LastSenderReport: lsr(t0.Add(-c.rtt))}, t0)
		if got := d.keep.Load(); got < c.want-2 || got > c.want+2 {
			t.Errorf("RTT %v, %d packets/s: history of %d, want %d", c.rtt, c.sent, got, c.want)
		}
	}
	d.keep.Store(200)
	for i := range 2 * histLen {
		pkt := getPacket(s.packets)
		d.remember(pkt, uint16(10000+i))
		pkt.release()
	}
	if n := held(); n > 200+histMin { // at most the old ones not yet overwritten
		t.Errorf("%d packets held with a history of 200", n)
	}
	if err := d.Unbind(nil); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Errorf("%d packets held after Unbind", n)
	}
}

// TestDirectWrite: a packet is handed to the caller to write itself only
// while the subscriber's path is UDP, nothing of it is queued and its
// writer is idle; otherwise it is queued, so order and isolation hold.
func TestDirectWrite(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newSubWriter(m)
	s := &SFU{packets: newPacketPool()}
	pkt := getPacket(s.packets)
	defer pkt.release()
	q := queued{pkt: pkt}
	if got := w.push(q, true); got != pushed {
		t.Errorf("TCP path: push = %v, want queued", got)
	}
	w.direct.Store(true)
	if got := w.push(q, true); got != pushed {
		t.Errorf("UDP path with a packet queued: push = %v, want queued", got)
	}
	var batch [writeBatch]queued
	if n := w.popBatch(&batch); n != 2 {
		t.Fatalf("popped %d", n)
	}
	if got := w.push(q, false); got != pushed {
		t.Errorf("UDP path, writer busy: push = %v, want queued", got)
	}
	w.popBatch(&batch)
	if n := w.popBatch(&batch); n != 0 {
		t.Fatalf("popped %d, want 0", n)
	}
	if got := w.push(q, true); got != pushDirect {
		t.Errorf("UDP path, idle: push = %v, want direct", got)
	}
	for _, b := range batch {
		if b.pkt != nil {
			b.pkt.release()
		}
	}
}

// TestPacketSizeClasses: a packet's buffer is the smallest class that
// holds it, so NACK histories do not keep 1,500 bytes per packet.
func TestPacketSizeClasses(t *testing.T) {
	pool := newPacketPool()
	for _, c := range []struct{ n, want int }{{80, 256}, {256, 256}, {1200, 1280}, {1281, readBufferSize}, {readBufferSize, readBufferSize}} {
		p := getPacketFor(pool, c.n)
		if len(p.buf) != c.want {
			t.Errorf("%d bytes: buffer of %d, want %d", c.n, len(p.buf), c.want)
		}
		p.release()
	}
	if p := getPacket(pool); len(p.buf) != readBufferSize {
		t.Errorf("getPacket: buffer of %d", len(p.buf))
	}
}
