package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestStalePackets: the mux notes the arrival of registered streams'
// RTP packets only; a packet is stale once it waited longer than
// staleAfter; unknown arrivals are never stale.
func TestStalePackets(t *testing.T) {
	var a arrivals
	ring := a.add(42)
	raw := func(ssrc uint32, seq uint16, pt uint8) []byte {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, SSRC: ssrc}, Payload: []byte{1}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t0 := time.Now().UnixNano()
	a.noteDatagram(raw(42, 7, ptVP8), t0)
	a.noteDatagram(raw(43, 8, ptVP8), t0) // not registered
	rtcpLike := raw(42, 9, 72)            // PT 200 with the marker bit masked: RTCP
	rtcpLike[1] = 200
	a.noteDatagram(rtcpLike, t0)
	a.noteDatagram([]byte{0x16, 0xfe, 0xfd}, t0) // DTLS

	if isStale(ring, raw(42, 7, ptVP8), t0+int64(staleAfter/2)) {
		t.Error("stale after half of staleAfter")
	}
	if !isStale(ring, raw(42, 7, ptVP8), t0+int64(staleAfter)+1) {
		t.Error("not stale after staleAfter")
	}
	for _, seq := range []uint16{8, 9, 7 + arrivalRingLen} {
		if isStale(ring, raw(42, seq, ptVP8), t0+int64(time.Hour)) {
			t.Errorf("seq %d: stale without a known arrival", seq)
		}
	}
	if isStale(nil, raw(42, 7, ptVP8), t0+int64(time.Hour)) {
		t.Error("stale without a ring")
	}
	// A retransmission arriving later restarts its clock.
	a.noteDatagram(raw(42, 7, ptVP8), t0+int64(time.Second))
	if isStale(ring, raw(42, 7, ptVP8), t0+int64(time.Second)+1) {
		t.Error("a fresh retransmission counted stale")
	}
	a.remove(42, ring)
	a.noteDatagram(raw(42, 10, ptVP8), t0)
	if _, ok := ring.waited(10, t0); ok {
		t.Error("noted after remove")
	}
}

// BenchmarkNoteDatagram is the read loop's per-packet cost of noting
// arrivals.
func BenchmarkNoteDatagram(b *testing.B) {
	var a arrivals
	for i := range 64 {
		a.add(uint32(i))
	}
	p, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: ptVP8, SequenceNumber: 1, SSRC: 7}, Payload: make([]byte, 1200)}).Marshal()
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		a.noteDatagram(p, now)
	}
}
