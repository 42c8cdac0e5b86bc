package sfu

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// readBufferSize holds any packet pion delivers (its receive MTU is 1460).
const readBufferSize = 1500

// pubTrack is one published track and its fan-out: every subscriber has
// its own downTrack (downtrack.go), and the forwarding loop hands each
// packet to the bound ones without waiting for any of them.
type pubTrack struct {
	owner    *Peer
	remote   *webrtc.TrackRemote
	id       string
	streamID string // "<publisherPeerID>~<publisherTrackID>"
	codec    webrtc.RTPCodecCapability
	kind     webrtc.RTPCodecType
	ssrc     uint32 // the publisher's SSRC, target of PLIs
	seq      uint64 // arrival order in the room (set by Room.addTrack)
	log      *slog.Logger

	stats  *upStats // reception, for RTCP to the publisher (rtcp.go)
	twccID uint8    // transport-wide-cc extension id, 0 when not negotiated

	downsMu sync.Mutex                   // serialises changes to downs
	downs   atomic.Pointer[[]*downTrack] // bound subscribers, copy on write

	pliMu   sync.Mutex
	lastPLI time.Time
}

func newPubTrack(p *Peer, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) *pubTrack {
	streamID := p.id + "~" + remote.ID()
	return &pubTrack{
		stats:    newUpStats(remote.Codec(), remote.Kind()),
		twccID:   twccExtensionID(receiver),
		owner:    p,
		remote:   remote,
		id:       remote.ID(),
		streamID: streamID,
		codec:    remote.Codec().RTPCodecCapability,
		kind:     remote.Kind(),
		ssrc:     uint32(remote.SSRC()),
		log: p.log.With("track", remote.ID(), "stream", streamID,
			"kind", remote.Kind().String(), "codec", remote.Codec().MimeType),
	}
}

// addDown starts forwarding to d (bound by the subscriber's connection).
func (t *pubTrack) addDown(d *downTrack) {
	t.downsMu.Lock()
	defer t.downsMu.Unlock()
	var cur []*downTrack
	if p := t.downs.Load(); p != nil {
		cur = *p
	}
	if slices.Contains(cur, d) {
		return
	}
	next := append(slices.Clip(cur), d)
	t.downs.Store(&next)
}

// removeDown stops forwarding to d. Idempotent.
func (t *pubTrack) removeDown(d *downTrack) {
	t.downsMu.Lock()
	defer t.downsMu.Unlock()
	p := t.downs.Load()
	if p == nil {
		return
	}
	i := slices.Index(*p, d)
	if i < 0 {
		return
	}
	next := slices.Delete(slices.Clone(*p), i, i+1)
	t.downs.Store(&next)
}

// forward copies RTP from the publisher to all subscribers until the
// remote track ends (publisher left, renegotiated it away, or closed), then
// withdraws the track from the room.
func (t *pubTrack) forward() {
	defer t.owner.room.removeTrack(t)
	t.log.Info("forwarding track")
	for t.readAndForward() {
	}
}

// readAndForward reads one packet from the remote track and forwards it;
// false when the track ended.
func (t *pubTrack) readAndForward() bool {
	s := t.owner.sfu
	pkt := getPacket(s.packets)
	n, _, err := t.remote.Read(pkt.buf)
	if err != nil {
		pkt.release()
		if errors.Is(err, io.ErrShortBuffer) {
			s.metrics.errors.Inc()
			return true
		}
		t.log.Info("track ended", "reason", err)
		return false
	}
	t.forwardAndRelease(pkt, n)
	return true
}

// forwardAndRelease forwards the first n bytes of pkt and drops the
// caller's reference.
func (t *pubTrack) forwardAndRelease(pkt *packet, n int) {
	if err := t.forwardPacket(pkt, n); err != nil {
		t.owner.sfu.metrics.errors.Inc()
		t.log.Debug("forward packet", "err", err)
	}
	pkt.release()
}

// forwardDirect forwards like forward, but from the stream buffer's writer
// (directBuffer): it reads what pion buffered before the track was
// announced, switches the buffer to direct, and waits for the stream to
// end.
func (t *pubTrack) forwardDirect(b *directBuffer) {
	defer t.owner.room.removeTrack(t)
	t.log.Info("forwarding track")
	s := t.owner.sfu
	var ring *arrivalRing
	if s.arrive != nil {
		ring = s.arrive.add(t.ssrc)
		defer s.arrive.remove(t.ssrc, ring)
	}
	sink := func(p []byte) {
		if isStale(ring, p, time.Now().UnixNano()) {
			s.metrics.stale.Inc()
			return
		}
		pkt := getPacketFor(s.packets, len(p))
		if n := copy(pkt.buf, p); n < len(p) {
			s.metrics.errors.Inc() // longer than any packet pion delivers
			pkt.release()
			return
		}
		t.forwardAndRelease(pkt, len(p))
	}
	// The first packet (pion read it to announce the track), then what
	// was buffered meanwhile, then direct.
	for first := true; first || !b.goDirect(sink); first = false {
		if !t.readAndForward() {
			return
		}
	}
	select {
	case <-b.closed:
		t.log.Info("track ended", "reason", "stream closed")
	case <-t.owner.done:
	}
	b.discard() // nothing more once the track is withdrawn
}

// isStale reports whether RTP packet p waited in the node longer than
// staleAfter (arrival.go), as far as ring knows.
func isStale(ring *arrivalRing, p []byte, now int64) bool {
	if ring == nil || len(p) < 4 {
		return false
	}
	waited, ok := ring.waited(uint16(p[2])<<8|uint16(p[3]), now)
	return ok && waited > staleAfter
}

// forwardPacket parses the first n bytes of pkt.buf and queues the packet
// for every bound subscriber. The payload is forwarded untouched; header
// extensions are dropped because their ids were negotiated with the
// publisher and mean nothing to subscribers.
func (t *pubTrack) forwardPacket(pkt *packet, n int) error {
	if err := pkt.rtp.Unmarshal(pkt.buf[:n]); err != nil {
		return err
	}
	if t.stats != nil {
		now := time.Now()
		if t.twccID != 0 {
			if ext := pkt.rtp.Header.GetExtension(t.twccID); len(ext) >= 2 {
				t.owner.twcc.record(t.ssrc, uint16(ext[0])<<8|uint16(ext[1]), now)
			}
		}
		t.stats.update(pkt.rtp.SequenceNumber, pkt.rtp.Timestamp, now)
	}
	pkt.rtp.Header.Extension = false
	pkt.rtp.Header.ExtensionProfile = 0
	pkt.rtp.Header.Extensions = pkt.rtp.Header.Extensions[:0]
	pkt.keyframe = t.kind == webrtc.RTPCodecTypeVideo && isKeyframe(t.codec.MimeType, pkt.rtp.Payload)
	downs := t.downs.Load()
	if downs == nil {
		return nil
	}
	for _, d := range *downs {
		d.push(pkt)
	}
	return nil
}

// requestKeyframe sends a PLI for this (video) track to its publisher,
// at most once per Config.PLIInterval. The PLI is written by a goroutine of
// its own: a publisher whose ICE-TCP path is stalled must not hold up the
// caller (a forwarding loop, a subscriber's RTCP reader, signaling).
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
	t.owner.goroutine(func() {
		err := t.owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: t.ssrc}})
		if err != nil {
			t.log.Debug("send PLI", "reason", reason, "err", err)
			return
		}
		t.owner.sfu.metrics.pli.Inc()
		t.log.Debug("sent PLI", "reason", reason)
	})
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
