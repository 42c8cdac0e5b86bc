package sfu

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// TestUpStats: loss, reordering, duplicates and wrap-around in the receiver
// report figures and the NACK log.
func TestUpStats(t *testing.T) {
	vp8 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBNACK}},
	}}
	now := time.Now()
	st := newUpStats(vp8, webrtc.RTPCodecTypeVideo)
	if !st.nack {
		t.Fatal("NACK not enabled for video with nack feedback")
	}
	if st := newUpStats(webrtc.RTPCodecParameters{RTPCodecCapability: opusCodec}, webrtc.RTPCodecTypeAudio); st.nack {
		t.Error("NACK enabled for audio")
	}
	// 65530 … 65535, 0 … 9 across the wrap, without 65533 and 4; 2 twice;
	// 7 before 6.
	seqs := []uint16{65530, 65531, 65532, 65534, 65535, 0, 1, 2, 2, 3, 5, 7, 6, 8, 9}
	for i, s := range seqs {
		st.update(s, uint32(i)*3000, now.Add(time.Duration(i)*33*time.Millisecond))
	}
	got := st.missingSeqs(nil)
	if want := []uint16{65533, 4}; !slices.Equal(got, want) {
		t.Fatalf("missing = %v, want %v", got, want)
	}
	r, ok := st.report(1234, now.Add(time.Second))
	if !ok {
		t.Fatal("no report")
	}
	if r.SSRC != 1234 || r.TotalLost != 2 || r.LastSequenceNumber != 1<<16|9 {
		t.Errorf("report = %+v, want 2 lost, highest 1<<16|9", r)
	}
	if want := uint8(2 * 256 / 16); r.FractionLost != want {
		t.Errorf("fraction lost = %d, want %d (2 of 16)", r.FractionLost, want)
	}
	// A late packet fills the gap; the next report's interval has none lost.
	st.update(4, 0, now)
	st.update(65533, 0, now)
	if got := st.missingSeqs(nil); len(got) != 0 {
		t.Errorf("missing after the late packets = %v", got)
	}
	st.update(10, 16*3000, now.Add(16*33*time.Millisecond))
	r, _ = st.report(1234, now.Add(2*time.Second))
	if r.TotalLost != 0 || r.FractionLost != 0 {
		t.Errorf("after recovery: %d lost, fraction %d", r.TotalLost, r.FractionLost)
	}
	// Each missing packet is asked for at most maxNackTries times.
	st.update(12, 0, now)
	n := 0
	for range maxNackTries + 3 {
		n += len(st.missingSeqs(nil))
	}
	if n != maxNackTries {
		t.Errorf("11 NACKed %d times, want %d", n, maxNackTries)
	}
	// A packet that fell out of the window is no longer asked for.
	st.update(12+nackWindow, 0, now)
	for _, s := range st.missingSeqs(nil) {
		if s == 11 {
			t.Error("11 asked for after leaving the window")
		}
	}
	// A jump ahead starts the log afresh.
	st.update(12+nackWindow+1000, 0, now)
	if got := st.missingSeqs(nil); len(got) != 0 {
		t.Errorf("missing after a jump = %d numbers", len(got))
	}
	// So does a sequence restarted far below, after staleRestart packets.
	for i := range staleRestart + 5 {
		st.update(uint16(20000+i), 0, now)
	}
	last := uint16(20000 + staleRestart + 4)
	st.update(last+2, 0, now)
	if got := st.missingSeqs(nil); !slices.Equal(got, []uint16{last + 1}) {
		t.Errorf("missing after a restart = %v, want [%d]", got, last+1)
	}
}

// TestRTCPFeedbackToPublisher: a publisher whose video loses a packet on
// the way gets a NACK for it, receiver reports that count it, and
// transport-wide congestion control feedback for the packets that carry
// transport-wide sequence numbers; its subscriber gets sender reports.
func TestRTCPFeedbackToPublisher(t *testing.T) {
	s, reg := newTestSFU(t, Config{TCPPort: -1})
	room := s.Room("r")
	a := newClient(t, room, "a")
	_, video := a.publish()
	b := newClient(t, room, "b")
	twccID := headerExtensionID(video.sender.GetParameters().HeaderExtensions, sdp.TransportCCURI)
	if twccID == 0 {
		t.Fatal("transport-cc not negotiated")
	}
	var tseq uint16
	send := func(skip bool) {
		video.seq++
		video.ts += 1800 // 20 ms at 90 kHz
		tseq++
		if skip {
			return // lost on the way
		}
		pkt := &rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: video.seq, Timestamp: video.ts, Marker: true},
			Payload: bytes.Repeat([]byte{0xCD}, 200),
		}
		if err := pkt.Header.SetExtension(twccID, []byte{byte(tseq >> 8), byte(tseq)}); err != nil {
			t.Fatal(err)
		}
		if err := video.local.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "b receiving a~video", func() bool {
		send(false)
		time.Sleep(20 * time.Millisecond)
		rt := b.track("a~video")
		return rt != nil && rt.count() > 0
	})
	// The track is forwarded from pion's SRTP session goroutine, without a
	// reader of its own (directBuffer).
	if buf := a.peer.directBuffer(video.ssrc); buf == nil || buf.sink.Load() == nil {
		t.Error("the video track is not forwarded directly from its stream buffer")
	}
	send(true)
	lost := video.seq
	for range 60 { // 1.2 s, beyond a report period
		send(false)
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "NACK, receiver report and TWCC feedback", func() bool {
		video.fbMu.Lock()
		defer video.fbMu.Unlock()
		return slices.Contains(video.nacked, lost) && len(video.reports) > 0 && video.twcc > 0
	})
	video.fbMu.Lock()
	var maxLost uint32
	for _, r := range video.reports {
		maxLost = max(maxLost, r.TotalLost)
	}
	video.fbMu.Unlock()
	if maxLost != 1 {
		t.Errorf("receiver reports counted %d lost, want 1", maxLost)
	}
	if v := metricValue(t, reg, "parley_sfu_nacked_packets_total"); v < 1 {
		t.Errorf("parley_sfu_nacked_packets_total = %v", v)
	}
	rt := b.track("a~video")
	waitFor(t, 5*time.Second, "two sender reports to the subscriber", func() bool {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		return len(rt.srs) >= 2
	})
	rt.mu.Lock()
	first, last := rt.srs[0], rt.srs[len(rt.srs)-1]
	rt.mu.Unlock()
	if last.PacketCount <= first.PacketCount || last.OctetCount <= first.OctetCount || last.NTPTime <= first.NTPTime {
		t.Errorf("sender reports do not advance: %+v then %+v", first, last)
	}
	// RTP time advances with the wall clock at 90 kHz (within 20 %).
	dNTP := float64(last.NTPTime-first.NTPTime) / (1 << 32)
	dRTP := float64(last.RTPTime - first.RTPTime)
	if ratio := dRTP / (dNTP * 90000); ratio < 0.8 || ratio > 1.2 {
		t.Errorf("RTP time advanced %v ticks in %.2f s: %.2f of 90 kHz", dRTP, dNTP, ratio)
	}
	a.verify()
	b.verify()
}

// TestNTPTime checks the NTP conversion against a known instant.
func TestNTPTime(t *testing.T) {
	ts := time.Date(2026, 1, 1, 0, 0, 0, 500_000_000, time.UTC)
	got := ntpTime(ts)
	if secs := got >> 32; secs != uint64(ts.Unix())+2_208_988_800 {
		t.Errorf("NTP seconds = %d", secs)
	}
	if frac := got & 0xffffffff; frac != 1<<31 {
		t.Errorf("NTP fraction = %#x, want half a second", frac)
	}
}

// BenchmarkUpStats is the per-packet cost of the receiver statistics.
func BenchmarkUpStats(b *testing.B) {
	st := newUpStats(webrtc.RTPCodecParameters{RTPCodecCapability: vp8Codec}, webrtc.RTPCodecTypeVideo)
	now := time.Now()
	var seq uint16
	b.ReportAllocs()
	for b.Loop() {
		seq++
		st.update(seq, uint32(seq)*3000, now)
	}
	_ = rtcp.ReceptionReport{}
}
