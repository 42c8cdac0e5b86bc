package sfu

import (
	"cmp"
	"slices"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// The subscribe connection is driven by one goroutine per peer
// (negotiateLoop). The room only records which tracks a peer should get
// (want) and wakes the loop; the loop brings the connection in line
// (AddTrack / RemoveTrack) and makes an offer, but only while no offer is
// outstanding. SubscribeAnswer wakes the loop again, so changes made while
// an offer was outstanding are coalesced into the next one.

// subscribe records that p should receive t. Called with the room locked.
func (p *Peer) subscribe(t *pubTrack) {
	p.mu.Lock()
	if !p.closed {
		p.want[t] = struct{}{}
	}
	p.mu.Unlock()
	p.kickNegotiation()
}

// unsubscribe records that p should no longer receive t. Called with the
// room locked.
func (p *Peer) unsubscribe(t *pubTrack) {
	p.mu.Lock()
	delete(p.want, t)
	p.mu.Unlock()
	p.kickNegotiation()
}

func (p *Peer) kickNegotiation() {
	select {
	case p.kick <- struct{}{}:
	default: // already pending
	}
}

func (p *Peer) negotiateLoop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case <-p.kick:
		}
		offer, ok := p.updateSubscriptions()
		if !ok {
			continue
		}
		if p.isClosed() {
			return
		}
		p.ev.OnSubscribeOffer(offer)
		p.releaseHeldCandidates()
	}
}

// updateSubscriptions brings the subscribe connection in line with want
// and returns a new offer when anything changed and no offer is
// outstanding.
func (p *Peer) updateSubscriptions() (webrtc.SessionDescription, bool) {
	p.subOp.Lock()
	defer p.subOp.Unlock()

	p.mu.Lock()
	if p.closed || p.offerPending {
		p.mu.Unlock()
		return webrtc.SessionDescription{}, false
	}
	var add []*pubTrack
	var remove []*subscription
	for t := range p.want {
		if _, ok := p.have[t]; !ok {
			add = append(add, t)
		}
	}
	for t, s := range p.have {
		if _, ok := p.want[t]; !ok {
			remove = append(remove, s)
		}
	}
	dirty := p.dirty
	p.mu.Unlock()
	if len(add) == 0 && len(remove) == 0 && !dirty {
		return webrtc.SessionDescription{}, false
	}
	slices.SortFunc(add, func(a, b *pubTrack) int { return cmp.Compare(a.seq, b.seq) })

	for _, s := range remove {
		if err := p.sub.RemoveTrack(s.sender); err != nil && !p.isClosed() {
			p.sfu.metrics.errors.Inc()
			p.log.Warn("remove track from subscriber", "stream", s.track.streamID, "err", err)
		}
		p.mu.Lock()
		delete(p.have, s.track)
		p.dirty = true
		p.mu.Unlock()
	}
	for _, t := range add {
		down := newDownTrack(t, p.out)
		sender, err := p.sub.AddTrack(down)
		if err != nil {
			if !p.isClosed() {
				p.sfu.metrics.errors.Inc()
				p.log.Warn("add track to subscriber", "stream", t.streamID, "err", err)
			}
			continue
		}
		s := &subscription{track: t, down: down, sender: sender, pauser: p}
		p.mu.Lock()
		p.have[t] = s
		p.dirty = true
		p.mu.Unlock()
		p.goroutine(func() { p.readSubscriberRTCP(s) })
	}

	offer, err := p.sub.CreateOffer(p.takeOfferOptions())
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		if !p.isClosed() {
			p.sfu.metrics.errors.Inc()
			p.log.Error("subscribe offer", "err", err)
		}
		return webrtc.SessionDescription{}, false
	}
	if ld := p.sub.LocalDescription(); ld != nil {
		offer = *ld // with the candidates gathered so far
	}
	p.mu.Lock()
	p.offerPending = true
	p.dirty = false
	p.mu.Unlock()
	p.log.Debug("subscribe offer", "added", len(add), "removed", len(remove))
	return offer, true
}

// releaseHeldCandidates reports the subscribe candidates gathered before
// the first offer went out.
func (p *Peer) releaseHeldCandidates() {
	p.mu.Lock()
	if p.offerSent {
		p.mu.Unlock()
		return
	}
	p.offerSent = true
	held := p.heldLocal
	p.heldLocal = nil
	p.mu.Unlock()
	for _, c := range held {
		if p.isClosed() {
			return
		}
		p.ev.OnICECandidate(Subscribe, c)
	}
}

// readSubscriberRTCP handles a subscriber's feedback for one forwarded
// track: PLI and FIR become a (rate-limited) PLI to the publisher; NACKs
// are answered from the down-track's history of what this subscriber was
// sent, in its sequence numbers (downTrack.retransmit); REMB is the
// subscriber's bandwidth estimate (congestion.go). It returns when the
// sender stops (track removed or connection closed). All RTCP from
// subscribers passes here.
func (p *Peer) readSubscriberRTCP(s *subscription) {
	m := p.sfu.metrics
	for {
		pkts, _, err := s.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication:
				s.track.requestKeyframe("pli")
			case *rtcp.FullIntraRequest:
				s.track.requestKeyframe("fir")
			case *rtcp.TransportLayerNack:
				m.nack.Inc()
				if n := s.down.retransmit(pkt); n > 0 {
					m.rtx.Add(float64(n))
				}
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				p.noteREMB(pkt.Bitrate)
			case *rtcp.ReceiverReport:
				for _, r := range pkt.Reports {
					if b := s.down.bound.Load(); b != nil && r.SSRC == b.ssrc {
						s.down.noteReport(r, time.Now())
					}
				}
			}
		}
	}
}

// requestKeyframes asks the publishers of tracks (all subscribed tracks when
// nil) for a keyframe, e.g. when the subscribe connection just connected.
func (p *Peer) requestKeyframes(tracks []*pubTrack) {
	if tracks == nil {
		p.mu.Lock()
		for t, s := range p.have {
			if s.bound {
				tracks = append(tracks, t)
			}
		}
		p.mu.Unlock()
	}
	for _, t := range tracks {
		t.requestKeyframe("new subscriber")
	}
}

// SetVideoPaused stops (true) or resumes (false) forwarding video to this
// peer, e.g. when its downlink cannot carry it; audio keeps flowing.
// Resuming requests a keyframe from each video track's publisher and
// forwards from that keyframe on.
func (p *Peer) SetVideoPaused(paused bool) {
	if p.out.videoPaused.Swap(paused) == paused || paused {
		return
	}
	p.out.resumes.Add(1)
	p.mu.Lock()
	var tracks []*pubTrack
	for t, s := range p.have {
		if s.bound {
			tracks = append(tracks, t)
		}
	}
	p.mu.Unlock()
	for _, t := range tracks {
		t.requestKeyframe("video resumed")
	}
}
