package sfu

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// TestBadInput: garbage descriptions and candidates are refused with
// errors (never a panic), and the peer still works afterwards.
func TestBadInput(t *testing.T) {
	s, _ := newTestSFU(t, Config{TCPPort: -1})
	room := s.Room("r")
	a := newClient(t, room, "a")
	p := a.peer

	// A real offer, for truncation and mangling.
	a.addTrack("audio", opusCodec)
	video := a.addTrack("video", vp8Codec)
	good, err := a.pub.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 2048)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	offers := []webrtc.SessionDescription{
		{Type: webrtc.SDPTypeOffer, SDP: ""},
		{Type: webrtc.SDPTypeOffer, SDP: "garbage"},
		{Type: webrtc.SDPTypeOffer, SDP: "v=0\r\n"},
		{Type: webrtc.SDPTypeOffer, SDP: string(random)},
		{Type: webrtc.SDPTypeOffer, SDP: good.SDP[:len(good.SDP)/2]},
		{Type: webrtc.SDPTypeOffer, SDP: strings.ReplaceAll(good.SDP, "a=ice-ufrag", "a=x-ufrag")},
		{Type: webrtc.SDPTypeOffer, SDP: strings.ReplaceAll(good.SDP, "a=fingerprint", "a=x-fingerprint")},
		{Type: webrtc.SDPTypeAnswer, SDP: good.SDP},
		{Type: webrtc.SDPType(42), SDP: good.SDP},
	}
	for i, o := range offers {
		if _, err := p.Publish(o); !errors.Is(err, ErrBadDescription) {
			t.Errorf("offer %d: Publish error %v, want ErrBadDescription", i, err)
		}
	}

	// No subscribe offer is outstanding (nobody publishes yet).
	for i, d := range []webrtc.SessionDescription{
		{Type: webrtc.SDPTypeAnswer, SDP: "garbage"},
		{Type: webrtc.SDPTypeOffer, SDP: good.SDP},
		{},
	} {
		if err := p.SubscribeAnswer(d); !errors.Is(err, ErrBadDescription) {
			t.Errorf("answer %d: SubscribeAnswer error %v, want ErrBadDescription", i, err)
		}
	}

	valid := webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"}
	if err := p.AddICECandidate("sideways", valid); !errors.Is(err, ErrBadCandidate) {
		t.Errorf("unknown direction: %v, want ErrBadCandidate", err)
	}
	if err := p.AddICECandidate("", valid); !errors.Is(err, ErrBadCandidate) {
		t.Errorf("empty direction: %v, want ErrBadCandidate", err)
	}
	for _, bad := range []string{"candidate:garbage", "candidate:1 1 udp x 127.0.0.1 1 typ host", string(random[:100])} {
		if err := p.AddICECandidate(Publish, webrtc.ICECandidateInit{Candidate: bad}); !errors.Is(err, ErrBadCandidate) {
			t.Errorf("candidate %q: %v, want ErrBadCandidate", bad, err)
		}
	}
	// Before the remote description, good candidates are queued (bounded).
	if err := p.AddICECandidate(Subscribe, valid); err != nil {
		t.Errorf("queued candidate: %v", err)
	}
	var overflow error
	for range maxQueuedCandidates + 1 {
		overflow = p.AddICECandidate(Subscribe, valid)
	}
	if !errors.Is(overflow, ErrBadCandidate) {
		t.Errorf("candidate queue overflow: %v, want ErrBadCandidate", overflow)
	}

	if _, err := room.Join("a", a); !errors.Is(err, ErrPeerExists) {
		t.Errorf("duplicate Join: %v, want ErrPeerExists", err)
	}
	if _, err := room.Join("", a); err == nil {
		t.Error("Join with an empty id succeeded")
	}
	if _, err := room.Join("x", nil); err == nil {
		t.Error("Join with nil Events succeeded")
	}

	// The peer still works: publish for real, someone receives it.
	a.negotiate()
	b := newClient(t, room, "b")
	stop := pump(video)
	defer stop()
	waitFor(t, 10*time.Second, "b receiving a~video", func() bool {
		rt := b.track("a~video")
		return rt != nil && rt.count() > 0
	})
	a.verify()
	b.verify()
}

// TestConfig checks configuration validation; it opens no connections.
func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{UDPPort: -1},
		{UDPPort: 70000},
		{TCPPort: -2},
		{ListenIP: "localhost"},
		{PublicIP: "1.2.3"},
		{PLIInterval: -time.Second},
	} {
		if s, err := New(cfg, nil, nil); err == nil {
			_ = s.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestMetricsRegistration: metrics are registered per SFU and released
// again by Close, so a registry can serve one SFU after another. It binds
// only loopback sockets and opens no peer connection.
func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{ListenIP: "127.0.0.1", TCPPort: -1}
	s, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if s.UDPAddr() == "" || !strings.HasPrefix(s.UDPAddr(), "127.0.0.1:") {
		t.Errorf("UDPAddr = %q", s.UDPAddr())
	}
	if s.TCPAddr() != "" {
		t.Errorf("TCPAddr = %q with ICE-TCP off", s.TCPAddr())
	}
	if _, err := New(cfg, nil, reg); err == nil {
		t.Error("second SFU registered the same metrics twice")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if want := len(s.metrics.collectors()); len(mfs) != want {
		t.Errorf("%d metric families, want %d", len(mfs), want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatalf("New after Close on the same registry: %v", err)
	}
	_ = s2.Close()
}

// TestPionLogger: pion's levels land at the right slog levels, with scope.
func TestPionLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newPionLoggerFactory(log).NewLogger("ice")
	l.Tracef("trace %d", 1)
	l.Debug("debug")
	l.Infof("info %s", "x")
	l.Warn("warn")
	l.Errorf("error %v", errors.New("boom"))
	out := buf.String()
	for _, want := range []string{
		"level=DEBUG msg=\"trace 1\" pion=ice", "level=DEBUG msg=debug",
		"level=DEBUG msg=\"info x\"", "level=DEBUG msg=warn", "level=WARN msg=\"error boom\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	demoted := newPionLoggerFactory(log).demote().NewLogger("pc")
	demoted.Errorf("expected %s", "noise")
	if !strings.Contains(buf.String(), "level=DEBUG msg=\"expected noise\"") {
		t.Errorf("demoted logger: %s", buf.String())
	}
	buf.Reset()
	quiet := newPionLoggerFactory(slog.New(slog.NewTextHandler(&buf, nil))).NewLogger("pc")
	quiet.Debugf("hidden %d", 1)
	quiet.Trace("hidden")
	if buf.Len() != 0 {
		t.Errorf("debug output at info level: %s", buf.String())
	}
}

// TestPionLoggerScrubsIPs: client addresses in pion's messages are
// anonymised before they reach the log.
func TestPionLoggerScrubsIPs(t *testing.T) {
	var buf bytes.Buffer
	l := newPionLoggerFactory(slog.New(slog.NewTextHandler(&buf, nil))).NewLogger("ice")
	l.Errorf("Failed to read from candidate udp4 host 203.0.113.77:49243 (resolved: 203.0.113.77:49243), peer 2001:db8:abcd:12:1:2:3:4 port 5000")
	out := buf.String()
	for _, leak := range []string{"203.0.113.77", "2001:db8:abcd:12:1:2:3:4", ":12:"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q: %s", leak, out)
		}
	}
	for _, want := range []string{"203.0.113.0:49243", "2001:db8:abcd::"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks anonymised %q: %s", want, out)
		}
	}
	if got := scrubIPs("version 1.2.3 at 10:30:00"); got != "version 1.2.3 at 10:30:00" {
		t.Errorf("non-addresses changed: %q", got)
	}
}

// TestForwardPacketPayload: the forwarding step keeps payloads byte for
// byte and drops header extensions (no network).
func TestForwardPacketPayload(t *testing.T) {
	tr, sinks := newBenchTrack(t, 2)
	in := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: 7, Timestamp: 9, SSRC: 1234},
		Payload: []byte("ciphertext\x00\xff stays as it is"),
	}
	if err := in.Header.SetExtension(3, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	raw, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for i := range sinks {
		sinks[i].record = true
	}
	forwardRaw(t, tr, raw)
	for i, s := range sinks {
		waitFor(t, 5*time.Second, "packet written", func() bool { return s.n.Load() == 1 })
		headers, payload := s.recorded()
		if !bytes.Equal(payload, in.Payload) {
			t.Errorf("sink %d payload %q", i, payload)
		}
		h := headers[0]
		if h.Extension || len(h.Extensions) != 0 {
			t.Errorf("sink %d: header extensions forwarded", i)
		}
		if h.SSRC != uint32(1000+i) || h.PayloadType != ptVP8 || h.SequenceNumber != 7 {
			t.Errorf("sink %d header %+v", i, h)
		}
	}
	p := getPacket(tr.owner.sfu.packets)
	defer p.release()
	if err := tr.forwardPacket(p, copy(p.buf[:], []byte{1, 2})); err == nil {
		t.Error("short packet forwarded")
	}
}

// forwardRaw runs one raw packet through tr's forwarding step.
func forwardRaw(t testing.TB, tr *pubTrack, raw []byte) {
	t.Helper()
	p := getPacket(tr.owner.sfu.packets)
	defer p.release()
	if err := tr.forwardPacket(p, copy(p.buf[:], raw)); err != nil {
		t.Fatal(err)
	}
}
