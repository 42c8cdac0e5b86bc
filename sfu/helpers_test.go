package sfu

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-video/parley/testnet"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	opusCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	vp8Codec  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
)

// testLogger logs warnings and errors to stderr (everything with
// SFU_TEST_DEBUG=1). It never uses t.Log: pion goroutines may log after a
// test has finished.
func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("SFU_TEST_DEBUG") == "1" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newTestSFU starts an SFU on loopback for a test that opens peer
// connections; it skips unless the test runs in the loopback-only
// namespace. The SFU is closed and goroutine leaks are checked at cleanup.
func newTestSFU(t *testing.T, cfg Config) (*SFU, *prometheus.Registry) {
	t.Helper()
	testnet.RequireLoopbackOnly(t)
	checkLeaks(t)
	cfg.ListenIP = "127.0.0.1"
	cfg.IncludeLoopback = true
	reg := prometheus.NewRegistry()
	s, err := New(cfg, testLogger(), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("SFU.Close: %v", err)
		}
	})
	return s, reg
}

// checkLeaks fails the test when, after all later cleanups ran, goroutines
// of pion or of this package are still alive (polling up to 10 s, since
// pion winds some down asynchronously).
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			leaked := leakedGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func leakedGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	stacks := strings.Split(string(buf), "\n\n")
	var leaked []string
	for _, s := range stacks[1:] { // the first one is the caller's
		if strings.Contains(s, "github.com/pion/") || strings.Contains(s, "parley-video/parley/sfu.") {
			leaked = append(leaked, s)
		}
	}
	return leaked
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// payloadFor is the unique payload of packet n of a publisher's track.
func payloadFor(publisher, track string, n int) []byte {
	b := fmt.Appendf(nil, "%s/%s/%d/", publisher, track, n)
	for i := 0; len(b) < 160; i++ {
		b = append(b, byte(n*7+i))
	}
	return b
}

// --- client ---------------------------------------------------------------

type clientOpts struct {
	networks []webrtc.NetworkType // default UDP4
	// manual: subscribe offers go to client.held instead of being answered.
	manual bool
	// onRTP, when set, sees every packet received on the subscribe
	// connection (from the track's reading goroutine).
	onRTP func(streamID string, pkt *rtp.Packet)
	// candidate, when set, rewrites the SFU's subscribe candidates (in
	// offers and trickled) before the client uses them.
	candidate func(string) string
	// acceptReplays turns SRTP replay protection off, so a retransmission
	// of a packet that did arrive reaches the reader too.
	acceptReplays bool
}

// client is a test participant: two pion peer connections wired to an SFU
// Peer as the signaling layer would (Events queued and handled in order by
// one goroutine).
type client struct {
	t    *testing.T
	id   string
	peer *Peer
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection
	// subICE is closed once sub's ICE started (watchICEStart).
	subICE <-chan struct{}

	events  chan func()                    // SFU → client, in order
	held    chan webrtc.SessionDescription // subscribe offers, when manual
	manual  bool
	opts    clientOpts
	stop    chan struct{}
	wg      sync.WaitGroup
	closing atomic.Bool
	once    sync.Once

	mu               sync.Mutex
	pubRemoteSet     bool
	pubQueued        []webrtc.ICECandidateInit
	subQueued        []webrtc.ICECandidateInit // only touched by run
	tracks           map[string]*recvTrack     // by stream id, latest
	errs             []error
	offers           int  // subscribe offers answered
	offerOutstanding bool // an offer arrived and is not answered yet
	gotOffer         bool // the first subscribe offer arrived
}

// sendTrack is one track a client publishes.
type sendTrack struct {
	id     string
	local  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	ssrc   uint32
	plis   atomic.Int64
	remb   atomic.Uint64 // latest REMB the SFU sent for it (bit/s)
	seq    uint16
	ts     uint32

	// RTCP the SFU sent about this track (rtcp_test.go)
	fbMu    sync.Mutex
	nacked  []uint16               // sequence numbers in NACKs
	reports []rtcp.ReceptionReport // receiver report blocks
	twcc    int                    // transport-wide feedback packets (any media SSRC of the connection)
}

// recvTrack is one track a client receives on its subscribe connection.
type recvTrack struct {
	streamID, trackID string
	kind              webrtc.RTPCodecType
	ssrc              uint32
	ended             chan struct{}

	mu       sync.Mutex
	packets  int
	payloads map[string]struct{}
	srs      []rtcp.SenderReport // sender reports the SFU sent for it
}

func (r *recvTrack) has(p []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.payloads[string(p)]
	return ok
}

func (r *recvTrack) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets
}

func clientAPI(t *testing.T, o clientOpts) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	for _, c := range Codecs() {
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
	networks := o.networks
	if networks == nil {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	se.SetNetworkTypes(networks)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.DisableSRTPReplayProtection(o.acceptReplays)
	se.LoggerFactory = newPionLoggerFactory(testLogger())
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

func newClient(t *testing.T, room *Room, id string, opts ...clientOpts) *client {
	t.Helper()
	var o clientOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	api := clientAPI(t, o)
	c := &client{
		t: t, id: id,
		events: make(chan func(), 1024),
		held:   make(chan webrtc.SessionDescription, 16),
		manual: o.manual,
		opts:   o,
		stop:   make(chan struct{}),
		tracks: make(map[string]*recvTrack),
	}
	var err error
	if c.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if c.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	c.subICE = watchICEStart(c.sub)
	c.pub.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic != nil {
			c.check(c.peer.AddICECandidate(Publish, ic.ToJSON()))
		}
	})
	c.sub.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic != nil {
			c.check(c.peer.AddICECandidate(Subscribe, ic.ToJSON()))
		}
	})
	c.sub.OnTrack(c.onTrack)
	if c.peer, err = room.Join(id, c); err != nil {
		t.Fatalf("join %s: %v", id, err)
	}
	c.wg.Go(c.run)
	t.Cleanup(c.close)
	return c
}

// Events, as a signaling layer would implement them: queue and return.
func (c *client) OnSubscribeOffer(offer webrtc.SessionDescription) {
	c.mu.Lock()
	if c.offerOutstanding {
		c.errs = append(c.errs, errors.New("a second subscribe offer while one is outstanding"))
	}
	c.offerOutstanding = true
	c.gotOffer = true
	c.mu.Unlock()
	if c.manual {
		c.held <- offer
		return
	}
	c.post(func() { c.answer(offer) })
}

func (c *client) OnICECandidate(dir Direction, ic webrtc.ICECandidateInit) {
	c.mu.Lock()
	if dir == Subscribe && !c.gotOffer {
		c.errs = append(c.errs, errors.New("subscribe candidate before the first subscribe offer"))
	}
	c.mu.Unlock()
	c.post(func() {
		if dir == Subscribe {
			if c.opts.candidate != nil {
				ic.Candidate = c.opts.candidate(ic.Candidate)
			}
			// Held offers (manual mode) are applied late: queue until then.
			if c.sub.RemoteDescription() == nil {
				c.subQueued = append(c.subQueued, ic)
				return
			}
			c.check(c.sub.AddICECandidate(ic))
			return
		}
		c.mu.Lock()
		if !c.pubRemoteSet {
			c.pubQueued = append(c.pubQueued, ic)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.check(c.pub.AddICECandidate(ic))
	})
}

func (c *client) OnConnectionState(Direction, webrtc.PeerConnectionState) {}

func (c *client) post(f func()) {
	select {
	case c.events <- f:
	default:
		c.check(errors.New("event queue full"))
	}
}

func (c *client) run() {
	for {
		select {
		case <-c.stop:
			return
		case f := <-c.events:
			f()
		}
	}
}

// check records unexpected errors (reported by c.verify); errors while the
// client is closing, or after the SFU closed its peer (SFU.Close, an offer
// answered meanwhile), are expected.
func (c *client) check(err error) {
	if err == nil || c.closing.Load() || (errors.Is(err, ErrClosed) && c.peer.isClosed()) {
		return
	}
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

func (c *client) verify() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		c.t.Errorf("client %s: %v", c.id, err)
	}
}

func (c *client) answer(offer webrtc.SessionDescription) {
	if c.sub.CurrentRemoteDescription() != nil {
		// Same pion race the SFU guards against in Publish: a
		// renegotiation offer applied before ICE started is taken for an
		// ICE restart.
		waitICEStarted(c.subICE, time.Second)
	}
	if c.opts.candidate != nil {
		lines := strings.Split(offer.SDP, "\r\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "a=candidate:") {
				lines[i] = "a=" + c.opts.candidate(strings.TrimPrefix(l, "a="))
			}
		}
		offer.SDP = strings.Join(lines, "\r\n")
	}
	if err := c.sub.SetRemoteDescription(offer); err != nil {
		c.check(fmt.Errorf("set subscribe offer: %w", err))
		return
	}
	for _, ic := range c.subQueued {
		c.check(c.sub.AddICECandidate(ic))
	}
	c.subQueued = nil
	answer, err := c.sub.CreateAnswer(nil)
	if err != nil {
		c.check(fmt.Errorf("create subscribe answer: %w", err))
		return
	}
	if err := c.sub.SetLocalDescription(answer); err != nil {
		c.check(fmt.Errorf("set subscribe answer: %w", err))
		return
	}
	c.mu.Lock()
	c.offers++
	c.offerOutstanding = false
	c.mu.Unlock()
	c.check(c.peer.SubscribeAnswer(answer))
}

func (c *client) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	rt := &recvTrack{
		streamID: remote.StreamID(), trackID: remote.ID(), kind: remote.Kind(),
		ssrc: uint32(remote.SSRC()), ended: make(chan struct{}),
		payloads: make(map[string]struct{}),
	}
	c.mu.Lock()
	c.tracks[rt.streamID] = rt
	c.mu.Unlock()
	c.wg.Go(func() {
		for {
			pkts, _, err := receiver.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == rt.ssrc {
					rt.mu.Lock()
					rt.srs = append(rt.srs, *sr)
					rt.mu.Unlock()
				}
			}
		}
	})
	c.wg.Go(func() {
		defer close(rt.ended)
		for {
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			if c.opts.onRTP != nil {
				c.opts.onRTP(rt.streamID, pkt)
			}
			rt.mu.Lock()
			rt.packets++
			rt.payloads[string(pkt.Payload)] = struct{}{}
			rt.mu.Unlock()
		}
	})
}

// track returns the latest received track with this stream id, or nil.
func (c *client) track(streamID string) *recvTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracks[streamID]
}

// liveTracks lists the stream ids of received tracks that have not ended.
func (c *client) liveTracks() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id, rt := range c.tracks {
		select {
		case <-rt.ended:
		default:
			ids = append(ids, id)
		}
	}
	return ids
}

// addTrack adds a track to the publish connection (negotiate separately).
func (c *client) addTrack(id string, codec webrtc.RTPCodecCapability) *sendTrack {
	c.t.Helper()
	local, err := webrtc.NewTrackLocalStaticRTP(codec, id, "client-"+c.id)
	if err != nil {
		c.t.Fatal(err)
	}
	sender, err := c.pub.AddTrack(local)
	if err != nil {
		c.t.Fatal(err)
	}
	st := &sendTrack{id: id, local: local, sender: sender,
		ssrc: uint32(sender.GetParameters().Encodings[0].SSRC)}
	c.wg.Go(func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if pli, ok := p.(*rtcp.PictureLossIndication); ok && pli.MediaSSRC == st.ssrc {
					st.plis.Add(1)
				}
				if remb, ok := p.(*rtcp.ReceiverEstimatedMaximumBitrate); ok && slices.Contains(remb.SSRCs, st.ssrc) {
					st.remb.Store(uint64(remb.Bitrate))
				}
				st.fbMu.Lock()
				switch p := p.(type) {
				case *rtcp.TransportLayerNack:
					if p.MediaSSRC == st.ssrc {
						for _, pair := range p.Nacks {
							st.nacked = append(st.nacked, pair.PacketList()...)
						}
					}
				case *rtcp.ReceiverReport:
					for _, r := range p.Reports {
						if r.SSRC == st.ssrc {
							st.reports = append(st.reports, r)
						}
					}
				case *rtcp.TransportLayerCC:
					st.twcc++
				}
				st.fbMu.Unlock()
			}
		}
	})
	return st
}

// negotiate runs one publish offer/answer round with the SFU.
func (c *client) negotiate() {
	c.t.Helper()
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	answer, err := c.peer.Publish(offer)
	if err != nil {
		c.t.Fatalf("publish %s: %v", c.id, err)
	}
	if err := c.pub.SetRemoteDescription(answer); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.pubRemoteSet = true
	queued := c.pubQueued
	c.pubQueued = nil
	c.mu.Unlock()
	for _, ic := range queued {
		c.check(c.pub.AddICECandidate(ic))
	}
}

// publish adds audio and video tracks and negotiates them.
func (c *client) publish() (audio, video *sendTrack) {
	c.t.Helper()
	audio = c.addTrack("audio", opusCodec)
	video = c.addTrack("video", vp8Codec)
	c.negotiate()
	return audio, video
}

// write sends one RTP packet on st (one goroutine per track at a time).
func (st *sendTrack) write(payload []byte) error {
	st.seq++
	st.ts += 960
	return st.local.WriteRTP(&rtp.Packet{
		Header:  rtp.Header{Version: 2, SequenceNumber: st.seq, Timestamp: st.ts, Marker: true},
		Payload: payload,
	})
}

// pump sends filler packets on tracks every 20 ms until the returned stop
// function is called (which waits for the pump to end).
func pump(tracks ...*sendTrack) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, st := range tracks {
				_ = st.write(bytes.Repeat([]byte{0xAB}, 100))
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

// close leaves the room and closes the client's connections. Idempotent.
func (c *client) close() {
	c.once.Do(func() {
		c.closing.Store(true)
		if err := c.peer.Close(); err != nil {
			c.t.Errorf("peer %s close: %v", c.id, err)
		}
		_ = c.pub.GracefulClose()
		_ = c.sub.GracefulClose()
		close(c.stop)
		c.wg.Wait()
	})
}
