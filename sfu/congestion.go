package sfu

import (
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Congestion response.
//
// What a subscriber can receive comes from its own browser: Chromium
// estimates the bandwidth of each connection it receives on and reports
// it as REMB (RTCP feedback "goog-remb", which the SFU negotiates for
// video). Forwarded packets carry no transport-wide sequence numbers (the
// SFU drops header extensions) but abs-send-time stamped as they leave
// (abssendtime.go), so the browser runs its receive-side estimator over
// the SFU → subscriber path and sends REMB, and the SFU needs no
// estimator, no pacer and no per-packet bookkeeping of its own.
//
// Each publisher is told, by REMB on its publish connection, a budget for
// all its video: the smallest of its subscribers' budgets, at most
// Config.MaxBitrate, at least minPublishBitrate (plus audioAllowance when
// it sends audio). A subscriber's budget for
// one publisher is its estimate shared equally among the video tracks it
// receives, times the number of them that come from that publisher. The
// publisher's browser caps its encoders at the REMB value (on top of its
// own send-side estimate of its uplink), so in a 1:1 call the advisor's
// encoder follows the customer's downlink.
//
// With two or more subscribers, one whose budget is far below the others'
// (below weakFactor times the median) does not drag the others down: it is
// left out of the minimum and its subscriptions to that publisher's video
// are marked paused (VideoPauser) until it recovers. A paused subscriber
// receives no video, so its estimate cannot recover by itself: after
// pauseRetry (doubling up to maxPauseRetry) it is unpaused on probation
// (probation long, not counted in the minimum nor judged) and judged again
// on fresh estimates.

// VideoPauser is what congestion control needs from a weak subscriber:
// stop sending it video (and resume, starting at a keyframe). The
// subscribing Peer implements it through its writer (downtrack.go); a
// subscription without one (tests) only records the decision.
type VideoPauser interface {
	SetVideoPaused(paused bool)
}

const (
	// ccInterval is how often a publisher's budget is recomputed and sent.
	ccInterval = 500 * time.Millisecond
	// ccStale: an estimate older than this is ignored (a browser keeps
	// sending REMB while it receives video).
	ccStale = 5 * time.Second
	// minPublishBitrate is the least a publisher is asked for (bit/s):
	// below it video is not worth sending; a weaker link is for pausing.
	minPublishBitrate = 100_000
	// weakFactor: a subscriber whose budget is below weakFactor times the
	// median budget of a publisher's subscribers is weak.
	weakFactor = 0.5
	// pauseRetry is the first pause before a weak subscriber gets video
	// again on probation; each failed probation doubles it.
	pauseRetry    = 10 * time.Second
	maxPauseRetry = 80 * time.Second
	probation     = 5 * time.Second
	// audioAllowance is added to a budget sent to a publisher that also
	// sends audio (bit/s): Opus at up to 40 kbit/s with its packet
	// overhead.
	audioAllowance = 64_000
	// dropKick: a REMB this much below the previous one triggers an
	// immediate recomputation at the publishers instead of the next tick.
	dropKick = 0.85
)

// ccState is a peer's congestion state in both roles: the estimate it
// reports as a subscriber, and what was last sent to it as a publisher.
type ccState struct {
	kick chan struct{} // wakes the publisher loop (capacity 1)

	mu       sync.Mutex
	estimate uint64    // bit/s, latest REMB from this peer's browser
	at       time.Time // when it arrived (zero: none yet)
	// pauses is, for this peer as a subscriber, the publishers whose video
	// it gets paused (keyed by publisher peer).
	pauses map[*Peer]*pauseState
	sent   uint64 // latest budget sent to this peer as a publisher
}

type pauseState struct {
	paused    bool
	since     time.Time // when paused
	retry     time.Duration
	probation time.Time // until then not judged (after a retry)
}

func newCCState() *ccState {
	return &ccState{kick: make(chan struct{}, 1), pauses: make(map[*Peer]*pauseState)}
}

// noteREMB records a REMB from this peer's browser (as a subscriber) and
// wakes its publishers at once when the estimate dropped sharply.
func (p *Peer) noteREMB(bitrate float32) {
	if bitrate <= 0 {
		return
	}
	est := uint64(bitrate)
	now := time.Now()
	c := p.cc
	c.mu.Lock()
	prev, fresh := c.estimate, now.Sub(c.at) < ccStale
	c.estimate, c.at = est, now
	c.mu.Unlock()
	if !fresh || float64(est) >= dropKick*float64(prev) {
		return
	}
	p.mu.Lock()
	pubs := make(map[*Peer]struct{}, 2)
	for t := range p.have {
		if t.kind == webrtc.RTPCodecTypeVideo {
			pubs[t.owner] = struct{}{}
		}
	}
	p.mu.Unlock()
	for q := range pubs {
		q.cc.wake()
	}
}

func (c *ccState) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// freshEstimate is the peer's latest estimate, or false when it has none
// younger than ccStale.
func (c *ccState) freshEstimate(now time.Time) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || now.Sub(c.at) >= ccStale {
		return 0, false
	}
	return c.estimate, true
}

// forgetPauses drops this publisher from its subscribers' pause records
// (they would keep a closed peer alive).
func (p *Peer) forgetPauses() {
	r := p.room
	r.mu.Lock()
	peers := make([]*Peer, 0, len(r.peers))
	for _, q := range r.peers {
		peers = append(peers, q)
	}
	r.mu.Unlock()
	for _, q := range peers {
		q.cc.mu.Lock()
		delete(q.cc.pauses, p)
		q.cc.mu.Unlock()
	}
}

// subBudget is one subscriber's budget for one publisher's video.
type subBudget struct {
	sub   *Peer
	bps   uint64
	known bool // false: no fresh estimate (not counted, never weak)
	skip  bool // on probation: not counted, not judged
}

// planBudget decides a publisher's budget from its subscribers' budgets:
// the minimum of the counted ones except the weak (below weakFactor times
// their median), clamped to [minPublishBitrate, limit] (limit 0: no cap).
// ok is false when no subscriber's budget is known and there is no cap.
// weak[i] reports subscriber i.
func planBudget(subs []subBudget, limit uint64) (target uint64, ok bool, weak []bool) {
	weak = make([]bool, len(subs))
	var counted []uint64
	for _, s := range subs {
		if s.known && !s.skip {
			counted = append(counted, s.bps)
		}
	}
	var median uint64
	if len(counted) >= 2 {
		slices.Sort(counted)
		median = counted[len(counted)/2]
	}
	lowest := ^uint64(0)
	for i, s := range subs {
		if !s.known || s.skip {
			continue
		}
		if float64(s.bps) < weakFactor*float64(median) {
			weak[i] = true
			continue
		}
		ok = true
		lowest = min(lowest, s.bps)
	}
	switch {
	case !ok && limit == 0:
		return 0, false, weak
	case !ok:
		return limit, true, weak
	case limit > 0:
		lowest = min(lowest, limit)
	}
	return max(lowest, minPublishBitrate), true, weak
}

// sendBudget computes this publisher's video budget from its subscribers,
// marks the weak ones paused and sends the budget as REMB.
func (p *Peer) sendBudget(now time.Time) {
	r := p.room
	r.mu.Lock()
	var ssrcs []uint32
	var mine []*pubTrack
	audio := false
	for _, t := range r.tracks {
		if t.owner == p && t.kind == webrtc.RTPCodecTypeVideo {
			ssrcs = append(ssrcs, t.ssrc)
			mine = append(mine, t)
		}
		audio = audio || (t.owner == p && t.kind == webrtc.RTPCodecTypeAudio)
	}
	peers := make([]*Peer, 0, len(r.peers))
	for _, q := range r.peers {
		if q != p {
			peers = append(peers, q)
		}
	}
	r.mu.Unlock()
	if len(ssrcs) == 0 {
		return
	}

	var subs []subBudget
	for _, q := range peers {
		fromP, total := 0, 0
		q.mu.Lock()
		for t, s := range q.have {
			if t.kind != webrtc.RTPCodecTypeVideo || !s.bound {
				continue
			}
			total++
			if t.owner == p {
				fromP++
			}
		}
		q.mu.Unlock()
		if fromP == 0 {
			continue
		}
		b := subBudget{sub: q}
		if est, ok := q.cc.freshEstimate(now); ok {
			b.bps, b.known = est*uint64(fromP)/uint64(total), true
		}
		q.cc.mu.Lock()
		if ps := q.cc.pauses[p]; ps != nil && !ps.paused && now.Before(ps.probation) {
			b.skip = true
		}
		q.cc.mu.Unlock()
		subs = append(subs, b)
	}

	target, ok, weak := planBudget(subs, p.sfu.cfg.MaxBitrate)
	for i, s := range subs {
		p.setPaused(s.sub, mine, weak[i], s.skip, now)
	}
	if !ok {
		return
	}
	// Receivers estimate video only (browsers leave audio out of their
	// receive-side estimate); the publisher's browser takes REMB for all
	// it sends.
	remb := target
	if audio {
		remb += audioAllowance
	}
	err := p.pub.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{
		Bitrate: float32(remb), SSRCs: ssrcs,
	}})
	if err != nil {
		p.log.Debug("send REMB", "err", err)
		return
	}
	p.cc.mu.Lock()
	prev := p.cc.sent
	p.cc.sent = target
	p.cc.mu.Unlock()
	if prev != target {
		p.log.Debug("publisher budget", "bps", target, "subscribers", len(subs))
	}
}

// setPaused applies the pause decision for subscriber q of publisher p's
// video tracks, with the retry schedule described at the top of this file.
func (p *Peer) setPaused(q *Peer, tracks []*pubTrack, weak, probing bool, now time.Time) {
	c := q.cc
	c.mu.Lock()
	ps := c.pauses[p]
	var change, to bool
	switch {
	case ps == nil && weak:
		c.pauses[p] = &pauseState{paused: true, since: now, retry: pauseRetry}
		change, to = true, true
	case ps == nil || probing:
	case ps.paused && now.Sub(ps.since) >= ps.retry:
		// Probe: video again; while on probation its estimate is not
		// judged, then a fresh one is.
		ps.paused = false
		ps.probation = now.Add(probation)
		change, to = true, false
	case ps.paused:
	case weak: // failed its probation
		ps.paused, ps.since = true, now
		ps.retry = min(2*ps.retry, maxPauseRetry)
		change, to = true, true
	default: // recovered
		delete(c.pauses, p)
	}
	c.mu.Unlock()
	if !change {
		return
	}
	q.log.Info("congestion: video from a publisher", "publisher", p.id, "paused", to)
	q.mu.Lock()
	var pausers []VideoPauser
	for _, t := range tracks {
		if s := q.have[t]; s != nil && s.pauser != nil {
			pausers = append(pausers, s.pauser)
		}
	}
	q.mu.Unlock()
	for _, v := range pausers {
		v.SetVideoPaused(to)
	}
	if !to {
		for _, t := range tracks {
			t.requestKeyframe("video resumed")
		}
	}
}

// videoPaused reports whether congestion control has paused subscriber
// q's video from publisher p (for tests and the down-track wiring).
func (q *Peer) videoPaused(p *Peer) bool {
	q.cc.mu.Lock()
	defer q.cc.mu.Unlock()
	ps := q.cc.pauses[p]
	return ps != nil && ps.paused
}
