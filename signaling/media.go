package signaling

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/parley-video/parley/sfu"
	"github.com/pion/webrtc/v4"
)

// errNoMedia is returned by media operations of a hub without media plane.
var errNoMedia = errors.New("signaling: no media plane")

// ensurePeer returns the media peer of p's connection c, joining the media
// room when c has none yet (a previous connection's peer is closed first).
// Only a joined participant's current connection gets a peer.
func (r *room) ensurePeer(p *participant, c *conn) (*sfu.Peer, *peerEvents, error) {
	p.mediaMu.Lock()
	defer p.mediaMu.Unlock()
	r.mu.Lock()
	ok := !r.done && p.state == StateJoined && p.conn == c && c != nil
	r.mu.Unlock()
	if !ok {
		if p.peerConn == c {
			r.closePeerMediaLocked(p) // c's peer outlived c's right to it
		}
		return nil, nil, errBadState
	}
	if p.peer != nil && p.peerConn == c {
		return p.peer, p.events, nil
	}
	r.closePeerMediaLocked(p)
	if r.media == nil {
		return nil, nil, errNoMedia
	}
	ev := &peerEvents{c: c, log: r.log.With("participant", p.id)}
	peer, err := r.media.Room(string(r.info.ID)).Join(string(p.id), ev)
	if err != nil {
		return nil, nil, fmt.Errorf("join media room: %w", err)
	}
	p.peer, p.events, p.peerConn = peer, ev, c
	r.log.Debug("media peer joined", "participant", p.id)
	return peer, ev, nil
}

// stopMedia closes p's media peer; with c set only if it belongs to c.
func (r *room) stopMedia(p *participant, c *conn) {
	p.mediaMu.Lock()
	defer p.mediaMu.Unlock()
	if c != nil && p.peerConn != c {
		return
	}
	r.closePeerMediaLocked(p)
}

// closePeerMediaLocked closes p's peer (p.mediaMu held).
func (r *room) closePeerMediaLocked(p *participant) {
	if p.peer == nil {
		return
	}
	if err := p.peer.Close(); err != nil {
		r.log.Debug("close media peer", "participant", p.id, "kind", mediaErrorKind(err))
	}
	p.events.detach()
	p.peer, p.events, p.peerConn = nil, nil, nil
}

// publish hands the client's publish offer to the media plane and sends
// the answer.
func (r *room) publish(p *participant, c *conn, m ClientMessage) error {
	peer, ev, err := r.ensurePeer(p, c)
	if err != nil {
		return err
	}
	ev.holdPublish()
	answer, err := peer.Publish(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP})
	if err != nil {
		ev.releasePublish(nil)
		return fmt.Errorf("publish: %w", err)
	}
	ev.releasePublish(encode(sdpMsg{Type: TypeAnswer, SDP: answer.SDP, Ref: m.ID}))
	return nil
}

func (r *room) subscribeAnswer(p *participant, c *conn, sdp string) error {
	peer, _, err := r.ensurePeer(p, c)
	if err != nil {
		return err
	}
	if err := peer.SubscribeAnswer(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("subscribe answer: %w", err)
	}
	return nil
}

func (r *room) addCandidate(p *participant, c *conn, m ClientMessage) error {
	peer, _, err := r.ensurePeer(p, c)
	if err != nil {
		return err
	}
	if err := peer.AddICECandidate(m.Target, *m.Candidate); err != nil {
		return fmt.Errorf("add %s candidate: %w", m.Target, err)
	}
	return nil
}

// restartICE asks the media plane to re-offer p's subscribe connection
// with an ICE restart (the client restarts its publish connection itself
// with a new offer).
func (r *room) restartICE(p *participant, c *conn) error {
	peer, _, err := r.ensurePeer(p, c)
	if err != nil {
		return err
	}
	if err := peer.RestartSubscribeICE(); err != nil {
		return fmt.Errorf("restart subscribe ICE: %w", err)
	}
	return nil
}

// peerEvents relays a media peer's events to its connection (sfu.Events).
// It never blocks. Server candidates are held back until the client has
// the description they belong to: publish candidates while a publish
// offer is being answered, subscribe candidates until the first subscribe
// offer went out.
type peerEvents struct {
	c   *conn
	log *slog.Logger

	mu         sync.Mutex
	detached   bool
	publishing bool
	offered    bool // a subscribe offer was sent
	heldPub    [][]byte
	heldSub    [][]byte
}

var _ sfu.Events = (*peerEvents)(nil)

func (e *peerEvents) OnSubscribeOffer(offer webrtc.SessionDescription) {
	b := encode(sdpMsg{Type: TypeOffer, SDP: offer.SDP})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.detached {
		return
	}
	e.c.send(b)
	e.offered = true
	e.flushLocked(&e.heldSub)
}

func (e *peerEvents) OnICECandidate(dir sfu.Direction, c webrtc.ICECandidateInit) {
	b := encode(candidateMsg{Type: TypeCandidate, Target: dir, Candidate: c})
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.detached:
	case dir == sfu.Publish && e.publishing:
		e.heldPub = appendHeld(e.heldPub, b)
	case dir == sfu.Subscribe && !e.offered:
		e.heldSub = appendHeld(e.heldSub, b)
	default:
		e.c.send(b)
	}
}

func (e *peerEvents) OnConnectionState(dir sfu.Direction, s webrtc.PeerConnectionState) {
	e.log.Debug("media connection state", "direction", dir, "state", s.String())
}

func appendHeld(held [][]byte, b []byte) [][]byte {
	if len(held) >= maxHeldCandidate {
		return held
	}
	return append(held, b)
}

// holdPublish starts holding publish candidates back (an offer is being
// answered).
func (e *peerEvents) holdPublish() {
	e.mu.Lock()
	e.publishing = true
	e.mu.Unlock()
}

// releasePublish sends answer (if any), then the held publish candidates.
func (e *peerEvents) releasePublish(answer []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publishing = false
	if e.detached {
		return
	}
	if answer != nil {
		e.c.send(answer)
	}
	e.flushLocked(&e.heldPub)
}

func (e *peerEvents) flushLocked(held *[][]byte) {
	for _, b := range *held {
		e.c.send(b)
	}
	*held = nil
}

// detach drops whatever the closed peer still reports.
func (e *peerEvents) detach() {
	e.mu.Lock()
	e.detached = true
	e.heldPub, e.heldSub = nil, nil
	e.mu.Unlock()
}
