package callclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// opusCodec and vp8Codec are the codecs the client negotiates, as browsers
// offer them (PROTOCOL.md does not fix payload types; pion maps them).
// Functions, not variables: pion appends to the feedback slice.
func opusCodec() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1",
	}
}

func vp8Codec() webrtc.RTPCodecCapability {
	return webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBGoogREMB}, {Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"}},
	}
}

// newAPI builds a pion API for loopback use: Opus and VP8, the default
// interceptors (NACK, RTCP reports, TWCC), UDP4 with loopback candidates,
// no mDNS.
func newAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	audio := webrtc.RTPCodecParameters{RTPCodecCapability: opusCodec(), PayloadType: 111}
	video := webrtc.RTPCodecParameters{RTPCodecCapability: vp8Codec(), PayloadType: 96}
	if err := me.RegisterCodec(audio, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register Opus: %w", err)
	}
	if err := me.RegisterCodec(video, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register VP8: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// setupMedia creates the publish and subscribe peer connections.
func (c *Client) setupMedia() error {
	api, err := newAPI()
	if err != nil {
		return err
	}
	if c.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return fmt.Errorf("publish connection: %w", err)
	}
	if c.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		_ = c.pub.Close()
		return fmt.Errorf("subscribe connection: %w", err)
	}
	c.pub.OnICECandidate(func(ic *webrtc.ICECandidate) { c.localCandidate(targetPublish, ic) })
	c.sub.OnICECandidate(func(ic *webrtc.ICECandidate) { c.localCandidate(targetSubscribe, ic) })
	c.pub.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { c.logf("publish connection %s", s) })
	c.sub.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { c.logf("subscribe connection %s", s) })
	c.sub.OnTrack(c.onTrack)
	return nil
}

// localCandidate trickles a local candidate, holding it back until the
// description it belongs to was sent.
func (c *Client) localCandidate(target string, ic *webrtc.ICECandidate) {
	if ic == nil {
		return
	}
	init := ic.ToJSON()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if !c.trickle[target] {
		c.held[target] = append(c.held[target], init)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.sendCandidate(target, init)
}

func (c *Client) sendCandidate(target string, init webrtc.ICECandidateInit) {
	if err := c.send(c.ctx, clientMessage{Type: "candidate", Target: target, Candidate: init}); err != nil {
		c.fail(fmt.Errorf("%s candidate: %w", target, err))
	}
}

// startTrickle sends the candidates held for target and lets later ones
// through directly.
func (c *Client) startTrickle(target string) {
	c.mu.Lock()
	c.trickle[target] = true
	held := c.held[target]
	c.held[target] = nil
	c.mu.Unlock()
	for _, init := range held {
		c.sendCandidate(target, init)
	}
}

// worker applies the server's offers, answers and candidates in order.
func (c *Client) worker() {
	defer c.wg.Done()
	var pubQueued, subQueued []webrtc.ICECandidateInit
	for {
		var m serverMessage
		select {
		case <-c.ctx.Done():
			return
		case m = <-c.work:
		}
		switch m.Type {
		case "answer":
			err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
			if err != nil {
				err = fmt.Errorf("apply publish answer: %w", err)
			} else {
				for _, ic := range pubQueued {
					c.addCandidate(c.pub, targetPublish, ic)
				}
				pubQueued = nil
			}
			if !c.reply(m.Ref, err) {
				c.fail(fmt.Errorf("publish answer with unknown ref %s (err %v)", m.Ref, err))
			}
		case "offer":
			c.answerOffer(m.SDP, subQueued)
			subQueued = nil
		case "candidate":
			var ic webrtc.ICECandidateInit
			if err := json.Unmarshal(m.Candidate, &ic); err != nil {
				c.fail(fmt.Errorf("server candidate: %w", err))
				continue
			}
			switch m.Target {
			case targetPublish:
				if c.pub.RemoteDescription() == nil {
					// PROTOCOL.md: the answer comes before its candidates.
					c.fail(errors.New("publish candidate before the publish answer"))
					pubQueued = append(pubQueued, ic)
					continue
				}
				c.addCandidate(c.pub, targetPublish, ic)
			case targetSubscribe:
				if c.sub.RemoteDescription() == nil {
					// PROTOCOL.md: subscribe candidates follow the first offer.
					c.fail(errors.New("subscribe candidate before the first subscribe offer"))
					subQueued = append(subQueued, ic)
					continue
				}
				c.addCandidate(c.sub, targetSubscribe, ic)
			default:
				c.fail(fmt.Errorf("candidate with unknown target %q", m.Target))
			}
		}
	}
}

func (c *Client) addCandidate(pc *webrtc.PeerConnection, target string, ic webrtc.ICECandidateInit) {
	if err := pc.AddICECandidate(ic); err != nil {
		c.fail(fmt.Errorf("add server %s candidate %q: %w", target, ic.Candidate, err))
	}
}

// answerOffer answers a subscribe offer.
func (c *Client) answerOffer(sdp string, queued []webrtc.ICECandidateInit) {
	if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		c.fail(fmt.Errorf("apply subscribe offer: %w", err))
		return
	}
	for _, ic := range queued {
		c.addCandidate(c.sub, targetSubscribe, ic)
	}
	answer, err := c.sub.CreateAnswer(nil)
	if err == nil {
		err = c.sub.SetLocalDescription(answer)
	}
	if err != nil {
		c.fail(fmt.Errorf("subscribe answer: %w", err))
		return
	}
	if err := c.send(c.ctx, clientMessage{Type: "answer", SDP: answer.SDP}); err != nil {
		c.fail(fmt.Errorf("subscribe answer: %w", err))
		return
	}
	c.startTrickle(targetSubscribe)
}

// Publish adds a synthetic Opus track ("mic") and VP8 track ("cam") to the
// publish connection, negotiates it (offer → answer), announces the tracks
// with a media message and waits until the roster lists them. The client
// must be joined; if the server refuses the offer (e.g. bad_state while
// waiting), Publish may be called again later. Write packets with the
// returned tracks.
func (c *Client) Publish(ctx context.Context) (audio, video *LocalTrack, err error) {
	c.pubOp.Lock()
	defer c.pubOp.Unlock()
	if audio, video, err = c.publishTracks(); err != nil {
		return nil, nil, fmt.Errorf("callclient %s: publish: %w", c.name, err)
	}
	offer, err := c.publishOffer()
	if err != nil {
		return nil, nil, fmt.Errorf("callclient %s: publish offer: %w", c.name, err)
	}
	// The worker applies the answer and replies to the call. Local
	// candidates are held until then, so an offer the server refuses
	// leaves no candidates behind at the server.
	if err := c.call(ctx, clientMessage{Type: "offer", SDP: offer}, nil); err != nil {
		return nil, nil, fmt.Errorf("callclient %s: publish: %w", c.name, err)
	}
	c.startTrickle(targetPublish)
	tracks := map[string]string{audio.ID: audio.Source, video.ID: video.Source}
	yes := true
	media := clientMessage{Type: "media", Audio: &yes, Video: &yes, Tracks: tracks}
	err = c.call(ctx, media, func() bool {
		for _, p := range c.roster {
			if p.ID == c.self {
				return p.Tracks[audio.ID] == audio.Source && p.Tracks[video.ID] == video.Source
			}
		}
		return false
	})
	if err != nil {
		return nil, nil, fmt.Errorf("callclient %s: media: %w", c.name, err)
	}
	return audio, video, nil
}

// publishOffer creates the publish offer, or returns the pending one of an
// earlier Publish that the server refused (pion cannot roll back a local
// offer without its SDP; sending it again is what a browser would do).
func (c *Client) publishOffer() (string, error) {
	if c.pub.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		if pending := c.pub.PendingLocalDescription(); pending != nil {
			return pending.SDP, nil
		}
	}
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		return "", err
	}
	return offer.SDP, nil
}

// publishTracks adds the two local tracks, or returns those of an earlier
// Publish that the server refused (pubOp held).
func (c *Client) publishTracks() (audio, video *LocalTrack, err error) {
	c.mu.Lock()
	local := slices.Clone(c.local)
	c.mu.Unlock()
	if len(local) == 2 {
		if c.pub.RemoteDescription() != nil {
			return nil, nil, errors.New("already published")
		}
		return local[0], local[1], nil
	}
	if len(local) != 0 {
		return nil, nil, errors.New("an earlier publish failed half-way")
	}
	if audio, err = c.addLocalTrack("mic", "audio", opusCodec(), 960); err != nil {
		return nil, nil, err
	}
	if video, err = c.addLocalTrack("cam", "camera", vp8Codec(), 3000); err != nil {
		return nil, nil, err
	}
	return audio, video, nil
}

// onTrack starts receiving a track of the subscribe connection.
func (c *Client) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	streamID := remote.StreamID()
	pid, trackID, _ := strings.Cut(streamID, "~")
	rt := &RemoteTrack{
		StreamID: streamID, Participant: ID(pid), TrackID: trackID,
		Kind: remote.Kind().String(), Codec: remote.Codec().MimeType, SSRC: uint32(remote.SSRC()),
		ended:   make(chan struct{}),
		discard: c.opts.DiscardPayloads,
	}
	if !rt.discard {
		rt.payloads = make(map[string]struct{})
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.tracks[streamID] = rt
	c.wg.Add(1)
	c.notifyLocked()
	c.mu.Unlock()
	c.logf("track %s (%s, ssrc %d)", streamID, rt.Codec, rt.SSRC)
	defer c.wg.Done()
	defer close(rt.ended)
	for {
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			c.logf("track %s ended: %v", streamID, err)
			return
		}
		rt.record(pkt.Payload)
		if c.opts.OnPacket != nil {
			c.opts.OnPacket(streamID, pkt)
		}
	}
}

// Track is the latest received track with this stream id
// ("<participantId>~<trackId>"), nil if none arrived yet. A track is
// reported once its first packet arrived.
func (c *Client) Track(streamID string) *RemoteTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracks[streamID]
}

// Tracks are the latest received tracks, by stream id.
func (c *Client) Tracks() map[string]*RemoteTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*RemoteTrack, len(c.tracks))
	for k, v := range c.tracks {
		out[k] = v
	}
	return out
}

// WaitTrack waits until a track with this stream id arrives.
func (c *Client) WaitTrack(ctx context.Context, streamID string) (*RemoteTrack, error) {
	if err := c.wait(ctx, func() bool { return c.tracks[streamID] != nil }); err != nil {
		return nil, fmt.Errorf("callclient %s: wait for track %s: %w", c.name, streamID, err)
	}
	return c.Track(streamID), nil
}

// SendPLI sends a picture loss indication for a received track on the
// subscribe connection (the SFU forwards it, rate-limited, to the
// publisher).
func (c *Client) SendPLI(streamID string) error {
	rt := c.Track(streamID)
	if rt == nil {
		return fmt.Errorf("callclient %s: PLI: no track %s", c.name, streamID)
	}
	if err := c.sub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: rt.SSRC}}); err != nil {
		return fmt.Errorf("callclient %s: PLI for %s: %w", c.name, streamID, err)
	}
	return nil
}

// LocalTracks are the tracks Publish added.
func (c *Client) LocalTracks() []*LocalTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*LocalTrack(nil), c.local...)
}

// WaitTracks waits until cond holds for the received tracks (by stream
// id). cond is checked on every change and every 10 ms, since packet
// counts change without notice.
func (c *Client) WaitTracks(ctx context.Context, cond func(map[string]*RemoteTrack) bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if cond(c.Tracks()) {
			return nil
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-c.readDone:
			if cond(c.Tracks()) {
				return nil
			}
			return fmt.Errorf("callclient %s: wait for tracks: %w", c.name, ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("callclient %s: wait for tracks: %w", c.name, ctx.Err())
		}
	}
}
