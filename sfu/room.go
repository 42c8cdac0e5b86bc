package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Room is a set of peers whose tracks are forwarded to each other.
//
// Locking: Room.mu may be held while taking a Peer's mu (to update what the
// peer should subscribe to), never the other way round. Neither is held
// while calling pion or Events.
type Room struct {
	id  string
	sfu *SFU
	log *slog.Logger

	mu       sync.Mutex
	peers    map[string]*Peer
	tracks   []*pubTrack // published tracks in order of arrival
	trackSeq uint64      // orders tracks for stable m-line order
	closed   bool
}

func newRoom(s *SFU, id string) *Room {
	return &Room{id: id, sfu: s, log: s.log.With("room", id), peers: make(map[string]*Peer)}
}

// ID is the room's id.
func (r *Room) ID() string { return r.id }

// Join adds a peer. Its subscribe connection immediately gets the room's
// existing tracks (an OnSubscribeOffer follows when there are any).
func (r *Room) Join(peerID string, ev Events) (*Peer, error) {
	if r == nil {
		return nil, fmt.Errorf("join %s: %w", peerID, ErrClosed)
	}
	if peerID == "" {
		return nil, errors.New("sfu: join: empty peer id")
	}
	if ev == nil {
		return nil, fmt.Errorf("join %s: nil Events", peerID)
	}
	r.mu.Lock()
	closed, exists := r.closed, r.peers[peerID] != nil
	r.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("join %s: %w", peerID, ErrClosed)
	}
	if exists {
		return nil, fmt.Errorf("join %s: %w", peerID, ErrPeerExists)
	}

	p, err := newPeer(r, peerID, ev)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", peerID, err)
	}

	r.mu.Lock()
	switch {
	case r.closed:
		err = ErrClosed
	case r.peers[peerID] != nil:
		err = ErrPeerExists
	default:
		r.peers[peerID] = p
		for _, t := range r.tracks {
			p.subscribe(t)
		}
	}
	r.mu.Unlock()
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("join %s: %w", peerID, err)
	}
	r.sfu.metrics.peers.Inc()
	r.sfu.trim.joined()
	p.log.Info("peer joined")
	return p, nil
}

// addTrack makes t available to every other peer. It reports false when the
// publisher is no longer a member (it left while the track arrived) or
// already publishes a track with the same stream id.
func (r *Room) addTrack(t *pubTrack) bool {
	r.mu.Lock()
	if r.closed || r.peers[t.owner.id] != t.owner {
		r.mu.Unlock()
		return false
	}
	for _, x := range r.tracks {
		if x.streamID == t.streamID {
			r.mu.Unlock()
			t.log.Warn("duplicate track id, not forwarded (simulcast is not supported)")
			return false
		}
	}
	r.trackSeq++
	t.seq = r.trackSeq
	r.tracks = append(r.tracks, t)
	for _, p := range r.peers {
		if p != t.owner {
			p.subscribe(t)
		}
	}
	r.mu.Unlock()
	r.sfu.metrics.tracks.Inc()
	return true
}

// removeTrack withdraws t from every subscriber. Idempotent.
func (r *Room) removeTrack(t *pubTrack) {
	r.mu.Lock()
	i := indexOf(r.tracks, t)
	if i < 0 {
		r.mu.Unlock()
		return
	}
	r.tracks = append(r.tracks[:i], r.tracks[i+1:]...)
	for _, p := range r.peers {
		if p != t.owner {
			p.unsubscribe(t)
		}
	}
	r.mu.Unlock()
	r.sfu.metrics.tracks.Dec()
}

// removePeer forgets p and withdraws its tracks from everyone else.
func (r *Room) removePeer(p *Peer) {
	r.mu.Lock()
	if r.peers[p.id] != p {
		r.mu.Unlock()
		return
	}
	delete(r.peers, p.id)
	kept := r.tracks[:0]
	var gone []*pubTrack
	for _, t := range r.tracks {
		if t.owner == p {
			gone = append(gone, t)
		} else {
			kept = append(kept, t)
		}
	}
	clear(r.tracks[len(kept):])
	r.tracks = kept
	for _, other := range r.peers {
		for _, t := range gone {
			other.unsubscribe(t)
		}
	}
	r.mu.Unlock()
	r.sfu.metrics.peers.Dec()
	r.sfu.trim.left()
	r.sfu.metrics.tracks.Sub(float64(len(gone)))
}

// close closes every peer; later Joins fail with ErrClosed.
func (r *Room) close() {
	r.mu.Lock()
	r.closed = true
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() { _ = p.Close() })
	}
	wg.Wait()
}

func indexOf(ts []*pubTrack, t *pubTrack) int {
	for i, x := range ts {
		if x == t {
			return i
		}
	}
	return -1
}
