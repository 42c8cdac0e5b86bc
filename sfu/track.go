package sfu

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// readBufferSize holds any packet pion delivers (its receive MTU is 1460).
const readBufferSize = 1500

// pubTrack is one published track and its fan-out: a single local track
// that is added to every subscriber's connection. pion's
// TrackLocalStaticRTP writes each packet to all its bindings, so the
// forwarding loop holds no lock of ours and allocates nothing per packet.
type pubTrack struct {
	owner  *Peer
	remote *webrtc.TrackRemote
	local  *localTrack
	kind   webrtc.RTPCodecType
	ssrc   uint32 // the publisher's SSRC, target of PLIs
	seq    uint64 // arrival order in the room (set by Room.addTrack)
	log    *slog.Logger

	pliMu   sync.Mutex
	lastPLI time.Time
}

func newPubTrack(p *Peer, remote *webrtc.TrackRemote) (*pubTrack, error) {
	streamID := p.id + "~" + remote.ID()
	static, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, remote.ID(), streamID)
	if err != nil {
		return nil, err
	}
	return &pubTrack{
		owner:  p,
		remote: remote,
		local:  &localTrack{TrackLocalStaticRTP: static},
		kind:   remote.Kind(),
		ssrc:   uint32(remote.SSRC()),
		log: p.log.With("track", remote.ID(), "stream", streamID,
			"kind", remote.Kind().String(), "codec", remote.Codec().MimeType),
	}, nil
}

// forward copies RTP from the publisher to all subscribers until the
// remote track ends (publisher left, renegotiated it away, or closed), then
// withdraws the track from the room.
func (t *pubTrack) forward() {
	defer t.owner.room.removeTrack(t)
	t.log.Info("forwarding track")
	m := t.owner.sfu.metrics
	buf := make([]byte, readBufferSize)
	var pkt rtp.Packet
	for {
		n, _, err := t.remote.Read(buf)
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				m.errors.Inc()
				continue
			}
			t.log.Info("track ended", "reason", err)
			return
		}
		if err := t.forwardPacket(buf[:n], &pkt); err != nil {
			m.errors.Inc()
			t.log.Debug("forward packet", "err", err)
		}
	}
}

// forwardPacket writes one received RTP packet to every bound subscriber.
// pkt is scratch space reused between calls. The payload is forwarded
// untouched; header extensions are dropped because their ids were
// negotiated with the publisher and mean nothing to subscribers.
func (t *pubTrack) forwardPacket(b []byte, pkt *rtp.Packet) error {
	if err := pkt.Unmarshal(b); err != nil {
		return err
	}
	pkt.Header.Extension = false
	pkt.Header.ExtensionProfile = 0
	pkt.Header.Extensions = pkt.Header.Extensions[:0]
	subs := t.local.bound.Load()
	err := t.local.WriteRTP(pkt)
	if err != nil && errors.Is(err, io.ErrClosedPipe) {
		err = nil // a subscriber went away while we wrote
	}
	if subs > 0 {
		m := t.owner.sfu.metrics
		m.packets.Add(float64(subs))
		m.bytes.Add(float64(subs) * float64(pkt.MarshalSize()))
	}
	return err
}

// requestKeyframe sends a PLI for this (video) track to its publisher,
// at most once per Config.PLIInterval.
func (t *pubTrack) requestKeyframe(reason string) {
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	now := time.Now()
	t.pliMu.Lock()
	if !t.lastPLI.IsZero() && now.Sub(t.lastPLI) < t.owner.sfu.cfg.PLIInterval {
		t.pliMu.Unlock()
		return
	}
	t.lastPLI = now
	t.pliMu.Unlock()
	err := t.owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: t.ssrc}})
	if err != nil {
		t.log.Debug("send PLI", "reason", reason, "err", err)
		return
	}
	t.owner.sfu.metrics.pli.Inc()
	t.log.Debug("sent PLI", "reason", reason)
}

// localTrack is the fan-out track: a TrackLocalStaticRTP that also counts
// its bindings (subscribers whose connection negotiated it), for metrics.
type localTrack struct {
	*webrtc.TrackLocalStaticRTP
	bound atomic.Int64
}

// Bind implements webrtc.TrackLocal.
func (l *localTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	c, err := l.TrackLocalStaticRTP.Bind(ctx)
	if err == nil {
		l.bound.Add(1)
	}
	return c, err
}

// Unbind implements webrtc.TrackLocal.
func (l *localTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	err := l.TrackLocalStaticRTP.Unbind(ctx)
	if err == nil {
		l.bound.Add(-1)
	}
	return err
}

// drain reads and discards a remote track until it ends.
func drain(remote *webrtc.TrackRemote) {
	buf := make([]byte, readBufferSize)
	for {
		if _, _, err := remote.Read(buf); err != nil && !errors.Is(err, io.ErrShortBuffer) {
			return
		}
	}
}
