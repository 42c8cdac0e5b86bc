package sfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5/packetio"
	"github.com/pion/webrtc/v4"
)

// maxQueuedCandidates bounds the remote candidates kept per connection
// while its remote description is not yet set.
const maxQueuedCandidates = 64

// Peer is one participant's pair of connections.
//
// Goroutines a peer starts (its negotiation loop, one forwarding loop per
// published track, one RTCP reader per subscribed track, the subscribe
// connection's writer) are counted in wg
// and all end before Close returns.
type Peer struct {
	id   string
	room *Room
	sfu  *SFU
	ev   Events
	log  *slog.Logger
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection
	out  *subWriter // writes the subscribe connection's media (downtrack.go)

	pubICE <-chan struct{} // closed once the publish connection's ICE started

	pubOp sync.Mutex // serialises publish negotiation
	subOp sync.Mutex // serialises changes to the subscribe connection

	kick      chan struct{} // wakes the negotiation loop (capacity 1)
	done      chan struct{} // closed by Close
	closeDone chan struct{} // closed when Close has finished
	wg        sync.WaitGroup

	mu           sync.Mutex // leaf lock for the fields below
	closed       bool
	remoteSet    map[Direction]bool
	queued       map[Direction][]webrtc.ICECandidateInit // remote candidates before the remote description
	offerSent    bool                                    // the first subscribe offer went out
	heldLocal    []webrtc.ICECandidateInit               // subscribe candidates gathered before that
	offerPending bool                                    // a subscribe offer awaits its answer
	dirty        bool                                    // subscribe connection changed without an offer yet
	iceRestart   bool                                    // the next subscribe offer restarts ICE
	want         map[*pubTrack]struct{}                  // tracks this peer should receive
	have         map[*pubTrack]*subscription             // tracks on the subscribe connection

	cc *ccState // congestion response (congestion.go)

	// RTCP (rtcp.go)
	rtcpSSRC uint32      // sender SSRC of the SFU's feedback to this peer
	twcc     *twccState  // arrivals on the publish connection
	pubs     []*pubTrack // tracks this peer publishes (under mu)

	bufMu sync.Mutex
	bufs  map[uint32]*directBuffer // RTP buffers of the publish connection, by SSRC
}

// subscription is one forwarded track on a subscriber's connection.
type subscription struct {
	track  *pubTrack
	down   *downTrack // what the subscriber's connection sends
	sender *webrtc.RTPSender
	bound  bool // negotiated (an answer accepted it)
	// pauser stops and resumes this video for congestion control
	// (congestion.go): the subscribing peer, whose writer pauses all its
	// video (a downlink too weak for one publisher is too weak for all).
	pauser VideoPauser
}

func newPeer(r *Room, id string, ev Events) (*Peer, error) {
	s := r.sfu
	p := &Peer{
		id:        id,
		room:      r,
		sfu:       s,
		ev:        ev,
		log:       r.log.With("peer", id),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		closeDone: make(chan struct{}),
		remoteSet: make(map[Direction]bool, 2),
		queued:    make(map[Direction][]webrtc.ICECandidateInit, 2),
		want:      make(map[*pubTrack]struct{}),
		have:      make(map[*pubTrack]*subscription),
		out:       newSubWriter(s.metrics),
		cc:        newCCState(),
		rtcpSSRC:  rand.Uint32(),
	}
	p.twcc = newTWCCState(p.rtcpSSRC)
	var err error
	if p.pub, err = s.apiCfg.build(p.newStreamBuffer).NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("new publish connection: %w", err)
	}
	if p.sub, err = s.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		_ = p.pub.Close()
		return nil, fmt.Errorf("new subscribe connection: %w", err)
	}

	p.pubICE = watchICEStart(p.pub)
	p.pub.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil && !p.isClosed() {
			p.ev.OnICECandidate(Publish, c.ToJSON())
		}
	})
	p.sub.OnICECandidate(p.onSubscribeCandidate)
	p.pub.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "dir", Publish, "state", st.String())
		if !p.isClosed() {
			p.ev.OnConnectionState(Publish, st)
		}
	})
	p.sub.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "dir", Subscribe, "state", st.String())
		if st == webrtc.PeerConnectionStateConnected {
			p.requestKeyframes(nil)
		}
		if !p.isClosed() {
			p.ev.OnConnectionState(Subscribe, st)
		}
	})
	p.pub.OnTrack(p.onTrack)
	// Packets may skip the writer goroutine while the subscriber's path is
	// UDP (subWriter.push); ICE-TCP writes can block.
	p.sub.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		p.out.direct.Store(pair != nil && pair.Local != nil && pair.Local.Protocol == webrtc.ICEProtocolUDP)
	})

	p.wg.Add(3)
	go p.rtcpLoop()
	go p.negotiateLoop()
	go func() {
		defer p.wg.Done()
		p.out.run(p.done)
	}()
	return p, nil
}

// ID is the peer's id within its room.
func (p *Peer) ID() string { return p.id }

func (p *Peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// goroutine runs f in a goroutine counted in p.wg, unless the peer is
// closed (then it reports false and f does not run).
func (p *Peer) goroutine(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

func (p *Peer) pc(dir Direction) *webrtc.PeerConnection {
	switch dir {
	case Publish:
		return p.pub
	case Subscribe:
		return p.sub
	}
	return nil
}

// Publish takes the client's offer for the publish connection (initial or
// renegotiation, e.g. screen share added) and returns the answer. The
// answer contains the candidates gathered so far; later ones are trickled
// through Events.OnICECandidate.
func (p *Peer) Publish(offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	if offer.Type != webrtc.SDPTypeOffer || strings.TrimSpace(offer.SDP) == "" {
		return webrtc.SessionDescription{}, fmt.Errorf("publish %s: want a non-empty offer, got %q: %w",
			p.id, offer.Type.String(), ErrBadDescription)
	}
	p.pubOp.Lock()
	defer p.pubOp.Unlock()
	if p.isClosed() {
		return webrtc.SessionDescription{}, fmt.Errorf("publish %s: %w", p.id, ErrClosed)
	}
	// pion changes the signaling state before it has checked everything,
	// and cannot roll back: try the offer on a scratch connection first so
	// a bad one cannot wedge the real connection.
	if err := p.sfu.checkOffer(offer); err != nil {
		return webrtc.SessionDescription{}, p.negotiationError("publish", err, true)
	}
	if p.pub.CurrentRemoteDescription() != nil {
		// pion starts ICE asynchronously after the first exchange; a
		// renegotiation offer applied before that is taken for an ICE
		// restart. Give the start a moment (microseconds in practice).
		waitICEStarted(p.pubICE, time.Second)
	}
	if err := p.pub.SetRemoteDescription(offer); err != nil {
		if p.pub.SignalingState() != webrtc.SignalingStateStable {
			p.log.Error("publish connection stuck after a rejected offer", "err", err)
		}
		return webrtc.SessionDescription{}, p.negotiationError("publish", err, true)
	}
	p.remoteDescriptionSet(Publish)
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, p.negotiationError("publish", err, true)
	}
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return webrtc.SessionDescription{}, p.negotiationError("publish", err, false)
	}
	if ld := p.pub.LocalDescription(); ld != nil {
		answer = *ld // with the candidates gathered so far
	}
	return answer, nil
}

// negotiationError wraps a pion error: ErrClosed when the peer is closed,
// ErrBadDescription when bad says the description is to blame.
func (p *Peer) negotiationError(op string, err error, bad bool) error {
	switch {
	case p.isClosed():
		return fmt.Errorf("%s %s: %w: %w", op, p.id, ErrClosed, err)
	case bad:
		p.sfu.metrics.errors.Inc()
		return fmt.Errorf("%s %s: %w: %w", op, p.id, ErrBadDescription, err)
	default:
		p.sfu.metrics.errors.Inc()
		return fmt.Errorf("%s %s: %w", op, p.id, err)
	}
}

// SubscribeAnswer takes the client's answer to the last subscribe offer.
// A rejected answer normally leaves that offer outstanding, so a corrected
// answer can follow; if pion already applied it, the next change of tracks
// makes a new offer.
func (p *Peer) SubscribeAnswer(answer webrtc.SessionDescription) error {
	if answer.Type != webrtc.SDPTypeAnswer || strings.TrimSpace(answer.SDP) == "" {
		return fmt.Errorf("subscribe answer %s: want a non-empty answer, got %q: %w",
			p.id, answer.Type.String(), ErrBadDescription)
	}
	p.subOp.Lock()
	p.mu.Lock()
	closed, pending := p.closed, p.offerPending
	p.mu.Unlock()
	if closed {
		p.subOp.Unlock()
		return fmt.Errorf("subscribe answer %s: %w", p.id, ErrClosed)
	}
	if !pending {
		p.subOp.Unlock()
		return fmt.Errorf("subscribe answer %s: no offer outstanding: %w", p.id, ErrBadDescription)
	}
	if err := p.sub.SetRemoteDescription(answer); err != nil {
		if p.sub.SignalingState() == webrtc.SignalingStateStable {
			// pion took the answer before rejecting it. The next change
			// makes a fresh offer that brings both sides back in line (not
			// at once: the same answer would likely fail again).
			p.mu.Lock()
			p.offerPending = false
			p.dirty = true
			p.mu.Unlock()
		}
		p.subOp.Unlock()
		return p.negotiationError("subscribe answer", err, true)
	}
	p.mu.Lock()
	p.offerPending = false
	var fresh []*pubTrack
	for t, s := range p.have {
		if !s.bound {
			s.bound = true
			fresh = append(fresh, t)
		}
	}
	p.mu.Unlock()
	p.subOp.Unlock()

	p.remoteDescriptionSet(Subscribe)
	if p.sub.ConnectionState() == webrtc.PeerConnectionStateConnected {
		p.requestKeyframes(fresh) // newcomers want a keyframe soon
	}
	p.kickNegotiation() // changes may have piled up meanwhile
	return nil
}

// RestartSubscribeICE makes the next subscribe offer an ICE restart (new
// ICE credentials, new candidates) on the same connection, and makes that
// offer as soon as no other offer is outstanding. Tracks, transceivers and
// the DTLS association stay. Before the first subscribe offer there is no
// ICE to restart and nothing happens. (The publish connection restarts
// when the client's offer carries new ICE credentials: pion does that in
// SetRemoteDescription.)
func (p *Peer) RestartSubscribeICE() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("restart ICE %s: %w", p.id, ErrClosed)
	}
	if !p.offerSent {
		p.mu.Unlock()
		return nil
	}
	p.iceRestart, p.dirty = true, true
	p.mu.Unlock()
	p.log.Info("subscribe ICE restart requested")
	p.kickNegotiation()
	return nil
}

// takeOfferOptions returns the options of the next subscribe offer and
// clears a requested ICE restart (it goes into this offer).
func (p *Peer) takeOfferOptions() *webrtc.OfferOptions {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.iceRestart {
		return nil
	}
	p.iceRestart = false
	return &webrtc.OfferOptions{ICERestart: true}
}

// AddICECandidate adds a remote candidate to one of the connections.
// Candidates arriving before that connection's remote description are
// queued and applied once it is set.
func (p *Peer) AddICECandidate(dir Direction, c webrtc.ICECandidateInit) error {
	pc := p.pc(dir)
	if pc == nil {
		return fmt.Errorf("add candidate %s: unknown direction %q: %w", p.id, dir, ErrBadCandidate)
	}
	if v := strings.TrimPrefix(c.Candidate, "candidate:"); v != "" {
		if _, err := ice.UnmarshalCandidate(v); err != nil {
			if errors.Is(err, ice.ErrUnknownCandidateTyp) || errors.Is(err, ice.ErrDetermineNetworkType) {
				p.log.Debug("ignoring candidate", "dir", dir, "err", err) // as pion does
				return nil
			}
			return fmt.Errorf("add %s candidate %s: %w: %w", dir, p.id, ErrBadCandidate, err)
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("add %s candidate %s: %w", dir, p.id, ErrClosed)
	}
	if !p.remoteSet[dir] {
		defer p.mu.Unlock()
		if len(p.queued[dir]) >= maxQueuedCandidates {
			return fmt.Errorf("add %s candidate %s: more than %d before the remote description: %w",
				dir, p.id, maxQueuedCandidates, ErrBadCandidate)
		}
		p.queued[dir] = append(p.queued[dir], c)
		return nil
	}
	p.mu.Unlock()
	if err := pc.AddICECandidate(c); err != nil {
		if p.isClosed() {
			return fmt.Errorf("add %s candidate %s: %w: %w", dir, p.id, ErrClosed, err)
		}
		p.sfu.metrics.errors.Inc()
		return fmt.Errorf("add %s candidate %s: %w", dir, p.id, err)
	}
	return nil
}

// remoteDescriptionSet applies the candidates queued for dir; later ones
// go straight to the connection.
func (p *Peer) remoteDescriptionSet(dir Direction) {
	p.mu.Lock()
	if p.remoteSet[dir] {
		p.mu.Unlock()
		return
	}
	p.remoteSet[dir] = true
	queued := p.queued[dir]
	delete(p.queued, dir)
	p.mu.Unlock()
	for _, c := range queued {
		if err := p.pc(dir).AddICECandidate(c); err != nil {
			p.sfu.metrics.errors.Inc()
			p.log.Warn("queued candidate rejected", "dir", dir, "err", err)
		}
	}
}

// onSubscribeCandidate reports a local subscribe candidate, holding it back
// until the first subscribe offer went out (a client cannot use a
// candidate before the description it belongs to).
func (p *Peer) onSubscribeCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		return
	}
	init := c.ToJSON()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if !p.offerSent {
		p.heldLocal = append(p.heldLocal, init)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.ev.OnICECandidate(Subscribe, init)
}

// onTrack starts forwarding a track the publisher sends.
func (p *Peer) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	t := newPubTrack(p, remote, receiver)
	if !p.room.addTrack(t) {
		// The peer left meanwhile, or sends a second track under the same
		// id (e.g. simulcast layers): drain it, forward nothing.
		p.goroutine(func() { drain(remote) })
		return
	}
	p.mu.Lock()
	p.pubs = append(p.pubs, t)
	p.mu.Unlock()
	buf := p.directBuffer(uint32(remote.SSRC()))
	if !p.goroutine(func() {
		defer p.forgetPublished(t)
		if buf != nil {
			t.forwardDirect(buf)
		} else {
			t.forward()
		}
	}) {
		p.forgetPublished(t)
		p.room.removeTrack(t)
		return
	}
	p.goroutine(func() { readPublisherRTCP(receiver, t.stats) })
}

// newStreamBuffer is the publish connection's BufferFactory: RTP streams
// get a directBuffer, found again by SSRC when their track arrives.
func (p *Peer) newStreamBuffer(t packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if t != packetio.RTPBufferPacket {
		return newStreamBuffer(t, ssrc)
	}
	var b *directBuffer
	b = newDirectBuffer(func() { // the stream ended: forget it
		p.bufMu.Lock()
		if p.bufs[ssrc] == b {
			delete(p.bufs, ssrc)
		}
		p.bufMu.Unlock()
	})
	p.bufMu.Lock()
	if p.bufs == nil {
		p.bufs = make(map[uint32]*directBuffer)
	}
	p.bufs[ssrc] = b
	p.bufMu.Unlock()
	return b
}

func (p *Peer) directBuffer(ssrc uint32) *directBuffer {
	p.bufMu.Lock()
	defer p.bufMu.Unlock()
	return p.bufs[ssrc]
}

// forgetPublished drops t from the tracks p publishes.
func (p *Peer) forgetPublished(t *pubTrack) {
	p.mu.Lock()
	p.pubs = slices.DeleteFunc(p.pubs, func(x *pubTrack) bool { return x == t })
	p.mu.Unlock()
}

// Close closes both connections, removes the peer's tracks from every
// subscriber and stops all its goroutines. Idempotent; a second call waits
// for the first to finish. It must not be called from inside an Events
// method.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.closeDone
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	defer close(p.closeDone)

	p.room.removePeer(p)
	err := errors.Join(p.pub.GracefulClose(), p.sub.GracefulClose())
	p.wg.Wait()
	p.log.Info("peer left")
	if err != nil {
		return fmt.Errorf("close %s: %w", p.id, err)
	}
	return nil
}

// checkOffer tries a client offer on a scratch connection (same settings,
// never gathers or connects) and reports whether pion accepts it and can
// answer it.
func (s *SFU) checkOffer(offer webrtc.SessionDescription) error {
	pc, err := s.scratch.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("scratch connection: %w", err)
	}
	defer func() { _ = pc.GracefulClose() }()
	if err := pc.SetRemoteDescription(offer); err != nil {
		return err
	}
	_, err = pc.CreateAnswer(nil)
	return err
}

// watchICEStart returns a channel that is closed once pc's ICE transport
// has left the "new" state, i.e. pion's asynchronous start after the first
// offer/answer exchange has run. It sets pc's ICE connection state
// handler.
func watchICEStart(pc *webrtc.PeerConnection) <-chan struct{} {
	started := make(chan struct{})
	var once sync.Once
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		if st != webrtc.ICEConnectionStateNew {
			once.Do(func() { close(started) })
		}
	})
	return started
}

// waitICEStarted waits until started (from watchICEStart) is closed, at
// most timeout.
func waitICEStarted(started <-chan struct{}, timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-started:
	case <-t.C:
	}
}
