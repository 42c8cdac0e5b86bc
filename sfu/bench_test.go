package sfu

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	dto "github.com/prometheus/client_model/go"
)

// sink is a fake subscriber binding: it counts what its writer writes
// and, when record is set, keeps the headers and the last payload.
type sink struct {
	n       atomic.Int64
	target  atomic.Int64  // signal reached when n gets there
	reached chan struct{} // capacity 1
	record  bool
	block   chan struct{} // non-nil: writes wait until it is closed (a choked subscriber)
	entered atomic.Int64  // writes begun
	unblock func()        // closes block (once)

	mu      sync.Mutex
	headers []rtp.Header
	payload []byte
}

func (s *sink) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	s.entered.Add(1)
	if s.block != nil {
		<-s.block
	}
	if s.record {
		s.mu.Lock()
		hc := *h
		hc.Extensions = nil
		s.headers = append(s.headers, hc)
		s.payload = append(s.payload[:0], payload...)
		s.mu.Unlock()
	}
	if n := s.n.Add(1); n == s.target.Load() {
		select {
		case s.reached <- struct{}{}:
		default:
		}
	}
	return len(payload), nil
}

// waitFor blocks until the sink has written n packets.
func (s *sink) waitFor(n int64) {
	s.target.Store(n)
	for s.n.Load() < n {
		<-s.reached
	}
}

func (s *sink) Write(b []byte) (int, error) { s.n.Add(1); return len(b), nil }

func (s *sink) recorded() ([]rtp.Header, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.headers), slices.Clone(s.payload)
}

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

// newBenchTrack builds a VP8 pubTrack with n fake subscribers (SSRC
// 1000+i), each with its own down-track and writer goroutine, without any
// network. The writers stop at the end of the test.
func newBenchTrack(tb testing.TB, n int) (*pubTrack, []*sink) {
	tb.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		tb.Fatal(err)
	}
	s := &SFU{metrics: m, packets: newPacketPool(), cfg: Config{PLIInterval: DefaultPLIInterval}}
	tr := newFakeTrack(s, "video", vp8Codec, webrtc.RTPCodecTypeVideo)
	sinks := make([]*sink, n)
	for i := range sinks {
		sinks[i] = newSink()
		bindFake(tb, tr, startWriter(tb, m), 1000+i, sinks[i])
	}
	if got := len(*tr.downs.Load()); got != n {
		tb.Fatalf("bound = %d, want %d", got, n)
	}
	return tr, sinks
}

// newFakeTrack is a published track without a network. Its publisher is a
// closed Peer, so keyframe requests are recorded in lastPLI but not sent.
func newFakeTrack(s *SFU, id string, codec webrtc.RTPCodecCapability, kind webrtc.RTPCodecType) *pubTrack {
	return &pubTrack{
		owner:    &Peer{sfu: s, closed: true},
		id:       id,
		streamID: "pub~" + id,
		codec:    codec,
		kind:     kind,
	}
}

func newSink() *sink { return &sink{reached: make(chan struct{}, 1)} }

// newBlockedSink is a sink whose writes wait until unblock is called (at
// the latest when the test ends).
func newBlockedSink(tb testing.TB) *sink {
	s := newSink()
	s.block = make(chan struct{})
	var once sync.Once
	s.unblock = func() { once.Do(func() { close(s.block) }) }
	tb.Cleanup(s.unblock) // runs before the writers' cleanups (registered later)
	return s
}

// startWriter starts a subscribe connection's writer until the test ends.
func startWriter(tb testing.TB, m *metrics) *subWriter {
	w := newSubWriter(m)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { w.run(done) })
	tb.Cleanup(func() { close(done); wg.Wait() })
	return w
}

// bindFake adds a subscriber of tr, written by w into s with this SSRC.
func bindFake(tb testing.TB, tr *pubTrack, w *subWriter, ssrc int, s *sink) *downTrack {
	tb.Helper()
	d := newDownTrack(tr, w)
	ctx := &bindCtx{id: fmt.Sprint(ssrc), ssrc: webrtc.SSRC(ssrc), w: s}
	if _, err := d.Bind(ctx); err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkFanout measures the SFU's per-packet forwarding work (parse,
// strip extensions, queue for every subscriber, each subscriber's writer
// goroutine taking it off its queue and writing it, metrics) for N
// subscribers. The writers are fakes, so SRTP and the interceptors are not
// included. Every 64 packets it waits until all writers have written them
// (so nothing is dropped); dropped/op must stay 0. ns/op is wall time, and
// the writers run on other cores meanwhile: cpu-ns/op is the process's CPU
// time per packet (the benchmark's own waiting included).
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
			tr, sinks := newBenchTrack(b, n)
			pool := tr.owner.sfu.packets
			var sent int64
			wait := func() {
				for _, s := range sinks {
					s.waitFor(sent)
				}
			}
			b.SetBytes(int64(len(raw) * n))
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				p := getPacket(pool)
				copy(p.buf[:], raw)
				if err := tr.forwardPacket(p, len(raw)); err != nil {
					b.Fatal(err)
				}
				p.release()
				sent++
				if sent%64 == 0 {
					wait()
				}
			}
			wait()
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
			var dm dto.Metric
			if err := tr.owner.sfu.metrics.dropped.Write(&dm); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(dm.GetCounter().GetValue()/float64(b.N), "dropped/op")
		})
	}
}

// processCPU is the process's CPU time so far (user + system, all
// threads), in nanoseconds: with writer goroutines on other cores, ns/op
// (wall time) understates the work per packet.
func processCPU(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
