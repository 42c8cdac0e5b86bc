package sfu

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/packetio"
	"github.com/pion/webrtc/v4"
)

// Payload types and codecs the SFU negotiates. Publishers and subscribers
// share one codec table so forwarded packets keep their meaning.
const (
	ptOpus = 111
	ptVP8  = 96
	ptH264 = 102
)

// videoFeedback is registered with every video codec; nack, nack pli and
// transport-cc are added by the default interceptors.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: webrtc.TypeRTCPFBGoogREMB},
	{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
}

// Codecs returns the codecs the SFU negotiates (Opus, VP8 and H.264
// constrained baseline). Tests and clients built on pion can use it to
// configure a matching MediaEngine.
func Codecs() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
				SDPFmtpLine: "minptime=10;useinbandfec=1",
			},
			PayloadType: ptOpus,
		},
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
				RTCPFeedback: videoFeedback,
			},
			PayloadType: ptVP8,
		},
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
				RTCPFeedback: videoFeedback,
			},
			PayloadType: ptH264,
		},
	}
}

// newMediaEngine registers Codecs and what the SFU's own RTCP handling
// (rtcp.go) negotiates: NACK and PLI for video, transport-wide congestion
// control feedback and its header extension for audio and video
// (publishers' browsers estimate their uplink from the SFU's feedback),
// abs-send-time on video (subscribers' browsers estimate their downlink
// from it, congestion.go), and the mid/rid header extensions pion needs to
// match streams. It returns an empty interceptor registry: the SFU runs
// none of pion's interceptors (rtcp.go says why).
func newMediaEngine() (*webrtc.MediaEngine, *interceptor.Registry, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range Codecs() {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		// Copy the feedback slice: RegisterFeedback appends to it.
		c.RTCPFeedback = append([]webrtc.RTCPFeedback(nil), c.RTCPFeedback...)
		if err := me.RegisterCodec(c, kind); err != nil {
			return nil, nil, fmt.Errorf("sfu: register codec %s: %w", c.MimeType, err)
		}
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBNACK}, webrtc.RTPCodecTypeVideo)
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, nil, fmt.Errorf("sfu: register simulcast header extensions: %w", err)
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return nil, nil, fmt.Errorf("sfu: register transport-cc: %w", err)
		}
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.ABSSendTimeURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, nil, fmt.Errorf("sfu: register abs-send-time: %w", err)
	}
	return me, &interceptor.Registry{}, nil
}

// Limits of pion's receive buffers per stream (SettingEngine.BufferFactory;
// pion's own are 1 MB for RTP and 100 kB for RTCP). A buffer only fills when
// the SFU's reader falls behind, i.e. when the node is past its capacity;
// then packets are dropped at the limit instead of memory growing by
// megabytes per stream. 256 KiB hold about 200 video packets, a second of
// video at 1.5 Mbit/s.
const (
	rtpBufferLimit  = 256 << 10
	rtcpBufferLimit = 32 << 10
)

// streamBuffer is a bounded packetio.Buffer in the form the SRTP
// session's streams use.
type streamBuffer struct{ *packetio.Buffer }

func newStreamBuffer(t packetio.BufferPacketType, _ uint32) io.ReadWriteCloser {
	b := packetio.NewBuffer()
	if t == packetio.RTCPBufferPacket {
		b.SetLimitSize(rtcpBufferLimit)
	} else {
		b.SetLimitSize(rtpBufferLimit)
	}
	return &streamBuffer{b}
}

func (b *streamBuffer) Read(p []byte) (int, error)  { n, _, err := b.Buffer.Read(p, nil); return n, err }
func (b *streamBuffer) Write(p []byte) (int, error) { return b.Buffer.Write(p, nil) }

func (b *streamBuffer) ReadWithAttributes(p []byte, a packetio.Attributes) (int, packetio.Attributes, error) {
	return b.Buffer.Read(p, a)
}

func (b *streamBuffer) WriteWithAttributes(p []byte, a packetio.Attributes) (int, error) {
	return b.Buffer.Write(p, a)
}

// directBuffer is the RTP stream buffer of a published track. Once its
// forwarding loop has read what was buffered (pubTrack.forwardDirect), it
// stops buffering: pion's SRTP session hands each decrypted packet to the
// sink in its own goroutine, which forwards it at once. That saves a
// goroutine hand-off and a copy per received packet (the session's read
// loop otherwise wakes the track's reader for each one).
type directBuffer struct {
	streamBuffer
	mu     sync.Mutex // orders the switch to direct against buffered writes
	sink   atomic.Pointer[func([]byte)]
	closed chan struct{} // closed by Close: the stream ended
	once   sync.Once
	onEnd  func() // called once by Close
}

func newDirectBuffer(onEnd func()) *directBuffer {
	b := packetio.NewBuffer()
	b.SetLimitSize(rtpBufferLimit)
	return &directBuffer{streamBuffer: streamBuffer{b}, closed: make(chan struct{}), onEnd: onEnd}
}

func (b *directBuffer) Write(p []byte) (int, error) { return b.WriteWithAttributes(p, nil) }

func (b *directBuffer) WriteWithAttributes(p []byte, a packetio.Attributes) (int, error) {
	if f := b.sink.Load(); f != nil {
		(*f)(p)
		return len(p), nil
	}
	b.mu.Lock()
	if f := b.sink.Load(); f != nil {
		b.mu.Unlock()
		(*f)(p)
		return len(p), nil
	}
	n, err := b.Buffer.Write(p, a)
	b.mu.Unlock()
	return n, err
}

// goDirect switches to calling sink for every packet, unless packets are
// still buffered (then the caller reads them first and tries again).
func (b *directBuffer) goDirect(sink func([]byte)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Buffer.Size() > 0 {
		return false
	}
	b.sink.Store(&sink)
	return true
}

// discard drops every packet from now on (the track was withdrawn).
func (b *directBuffer) discard() {
	drop := func([]byte) {}
	b.mu.Lock()
	b.sink.Store(&drop)
	b.mu.Unlock()
}

// Close implements io.Closer: pion closes the stream when the track ends.
func (b *directBuffer) Close() error {
	b.once.Do(func() {
		close(b.closed)
		if b.onEnd != nil {
			b.onEnd()
		}
	})
	return b.Buffer.Close()
}

// apiConfig is what every peer connection of one SFU shares. build makes
// a webrtc.API of it; publish connections get one each (Peer), for their
// own stream buffers (directBuffer).
type apiConfig struct {
	me *webrtc.MediaEngine
	ir *interceptor.Registry
	se webrtc.SettingEngine
}

func (c *apiConfig) build(buffers func(packetio.BufferPacketType, uint32) io.ReadWriteCloser) *webrtc.API {
	se := c.se
	se.BufferFactory = buffers
	return webrtc.NewAPI(webrtc.WithMediaEngine(c.me), webrtc.WithInterceptorRegistry(c.ir), webrtc.WithSettingEngine(se))
}

// newAPI configures the webrtc.API of one SFU's peer connections: ICE over
// the shared UDP mux (and TCP mux when enabled), no mDNS, no outgoing TCP,
// pion logging routed into slog.
func newAPI(cfg Config, lf *pionLoggerFactory, udpMux ice.UDPMux, tcpMux ice.TCPMux) (*apiConfig, error) {
	me, ir, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEUDPMux(udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if tcpMux != nil {
		se.SetICETCPMux(tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	se.DisableActiveTCP(true) // a server waits for clients; it never dials
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.PublicIP != "" {
		// The non-deprecated form of SetNAT1To1IPs([PublicIP], host).
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        []string{cfg.PublicIP},
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return nil, fmt.Errorf("sfu: public ip %s: %w", cfg.PublicIP, err)
		}
	}
	return &apiConfig{me: me, ir: ir, se: se}, nil
}
