package sfu

import (
	"fmt"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sink is a fake subscriber binding: it records what the fan-out writes.
type sink struct {
	n       int
	header  rtp.Header
	payload []byte
}

func (s *sink) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	s.n++
	s.header = *h
	s.payload = append(s.payload[:0], payload...)
	return len(payload), nil
}

func (s *sink) Write(b []byte) (int, error) { s.n++; return len(b), nil }

// bindCtx is a fake webrtc.TrackLocalContext for one subscriber.
type bindCtx struct {
	id   string
	ssrc webrtc.SSRC
	w    *sink
}

func (c *bindCtx) CodecParameters() []webrtc.RTPCodecParameters { return Codecs() }
func (c *bindCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return nil
}
func (c *bindCtx) SSRC() webrtc.SSRC                       { return c.ssrc }
func (c *bindCtx) SSRCRetransmission() webrtc.SSRC         { return 0 }
func (c *bindCtx) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }
func (c *bindCtx) WriteStream() webrtc.TrackLocalWriter    { return c.w }
func (c *bindCtx) ID() string                              { return c.id }
func (c *bindCtx) RTCPReader() interceptor.RTCPReader      { return nil }

// newBenchTrack builds a VP8 pubTrack whose fan-out track is bound to n
// fake subscribers (SSRC 1000+i), without any network.
func newBenchTrack(tb testing.TB, n int) (*pubTrack, []*sink) {
	tb.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		tb.Fatal(err)
	}
	static, err := webrtc.NewTrackLocalStaticRTP(vp8Codec, "video", "pub~video")
	if err != nil {
		tb.Fatal(err)
	}
	tr := &pubTrack{
		owner: &Peer{sfu: &SFU{metrics: m}},
		local: &localTrack{TrackLocalStaticRTP: static},
		kind:  webrtc.RTPCodecTypeVideo,
	}
	sinks := make([]*sink, n)
	for i := range sinks {
		sinks[i] = &sink{}
		ctx := &bindCtx{id: fmt.Sprint(i), ssrc: webrtc.SSRC(1000 + i), w: sinks[i]}
		if _, err := tr.local.Bind(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	if got := tr.local.bound.Load(); got != int64(n) {
		tb.Fatalf("bound = %d, want %d", got, n)
	}
	return tr, sinks
}

// BenchmarkFanout measures the SFU's per-packet forwarding work (parse,
// strip extensions, write to every subscriber binding, metrics) for N
// subscribers. The writers are fakes, so SRTP and the interceptors are not
// included.
func BenchmarkFanout(b *testing.B) {
	pkt := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: ptVP8, SequenceNumber: 1, Timestamp: 1, SSRC: 42},
		Payload: make([]byte, 1100),
	}
	if err := pkt.Header.SetExtension(1, []byte{1, 2, 3}); err != nil {
		b.Fatal(err)
	}
	raw, err := pkt.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 5, 10, 50} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			tr, _ := newBenchTrack(b, n)
			var scratch rtp.Packet
			b.SetBytes(int64(len(raw) * n))
			b.ReportAllocs()
			for b.Loop() {
				if err := tr.forwardPacket(raw, &scratch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
