package sfu

import (
	"fmt"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
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

// nackHistory is how many packets the NACK responder keeps per forwarded
// video stream (pion's default is 1,024): about 2.8 s at 1.5 Mbit/s and
// still 1 s at 5 Mbit/s, far longer than a retransmission is any use for,
// at half the memory per forwarded video track (docs/BENCHMARKS.md).
const nackHistory = 512

// newMediaEngine registers Codecs and the interceptors on a fresh
// MediaEngine and interceptor registry: pion's defaults (NACK generator and
// responder, RTCP reports, simulcast header extensions, TWCC feedback)
// except the stats interceptor, plus abs-send-time on forwarded video. Nothing here reads pion's GetStats, and the
// profile of the forwarding path (docs/BENCHMARKS.md) showed it costing a
// header clone, a clock read and a lock per packet in each direction.
func newMediaEngine(lf *pionLoggerFactory) (*webrtc.MediaEngine, *interceptor.Registry, error) {
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
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureNackWithOptions(me, ir,
		[]nack.GeneratorOption{nack.WithGeneratorLoggerFactory(lf)},
		nack.WithResponderLoggerFactory(lf), nack.ResponderSize(nackHistory)); err != nil {
		return nil, nil, fmt.Errorf("sfu: register NACK interceptors: %w", err)
	}
	if err := webrtc.ConfigureRTCPReportsWithOptions(ir,
		[]report.ReceiverOption{report.WithReceiverLoggerFactory(lf)},
		report.WithSenderLoggerFactory(lf)); err != nil {
		return nil, nil, fmt.Errorf("sfu: register RTCP report interceptors: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, nil, fmt.Errorf("sfu: register simulcast header extensions: %w", err)
	}
	if err := webrtc.ConfigureTWCCSenderWithOptions(me, ir, twcc.WithLoggerFactory(lf)); err != nil {
		return nil, nil, fmt.Errorf("sfu: register TWCC interceptor: %w", err)
	}
	// Subscribers' browsers estimate their downlink from abs-send-time
	// and report it as REMB (congestion.go, abssendtime.go).
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.ABSSendTimeURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, nil, fmt.Errorf("sfu: register abs-send-time: %w", err)
	}
	ir.Add(absSendTimeFactory{})
	return me, ir, nil
}

// newAPI builds the webrtc.API every peer connection of one SFU shares:
// ICE over the shared UDP mux (and TCP mux when enabled), no mDNS, no
// outgoing TCP, pion logging routed into slog.
func newAPI(cfg Config, lf *pionLoggerFactory, udpMux ice.UDPMux, tcpMux ice.TCPMux) (*webrtc.API, error) {
	me, ir, err := newMediaEngine(lf)
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
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se),
	), nil
}
