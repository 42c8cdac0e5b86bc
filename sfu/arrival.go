package sfu

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stale packets past capacity.
//
// A node past its capacity falls behind: received packets wait in the
// queues between the UDP socket and the forwarding code (the UDP mux's,
// pion's ICE, DTLS/SRTP and SRTP stages), and the longer they wait the
// less use they are: a video frame 300 ms late is a freeze either way. So
// the UDP mux notes when it read each packet of a published stream (the
// SSRC and sequence number are in the clear in SRTP), and the forwarding
// code drops a packet that waited longer than staleAfter instead of
// sending it on. Dropping costs next to nothing, so the queues drain, and
// what they hold stays at about staleAfter of traffic: memory and latency
// stay bounded past capacity (the overload phase of `make bench`) while a
// node within its capacity never waits that long.

// staleAfter is how long a received packet may wait inside the node.
const staleAfter = 300 * time.Millisecond

// arrivalRingLen covers more than staleAfter of a stream's packets: 1.1 s
// of 5 Mbit/s video. A packet that waited longer than its stream's ring
// covers is forwarded (its arrival was overwritten).
const arrivalRingLen = 512

// arrivalRing holds the read time of a stream's recent packets, by
// sequence number. The mux's read loop writes, the stream's forwarding
// reads; a slot is valid when seq holds the packet's sequence number + 1.
type arrivalRing struct {
	at  [arrivalRingLen]atomic.Int64 // Unix ns
	seq [arrivalRingLen]atomic.Uint32
}

func (r *arrivalRing) note(seq uint16, now int64) {
	i := seq % arrivalRingLen
	r.seq[i].Store(0)
	r.at[i].Store(now)
	r.seq[i].Store(uint32(seq) + 1)
}

// waited is how long the packet with sequence number seq has been in the
// node, false when its arrival is not known.
func (r *arrivalRing) waited(seq uint16, now int64) (time.Duration, bool) {
	i := seq % arrivalRingLen
	at := r.at[i].Load()
	if r.seq[i].Load() != uint32(seq)+1 {
		return 0, false
	}
	return time.Duration(now - at), true
}

// arrivals is the set of streams whose arrivals are noted, by SSRC: only
// published tracks' (registered when they are forwarded), so a peer
// cannot make it grow by sending made-up SSRCs. The map is replaced, never
// changed, so the read loop looks up without a lock.
type arrivals struct {
	mu    sync.Mutex
	rings atomic.Pointer[map[uint32]*arrivalRing]
}

func (a *arrivals) add(ssrc uint32) *arrivalRing {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := make(map[uint32]*arrivalRing)
	if cur := a.rings.Load(); cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	r := &arrivalRing{}
	next[ssrc] = r // two publishers with one SSRC: the later one is timed
	a.rings.Store(&next)
	return r
}

func (a *arrivals) remove(ssrc uint32, r *arrivalRing) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.rings.Load()
	if cur == nil || (*cur)[ssrc] != r {
		return
	}
	next := make(map[uint32]*arrivalRing, len(*cur))
	for k, v := range *cur {
		if k != ssrc {
			next[k] = v
		}
	}
	a.rings.Store(&next)
}

// noteDatagram notes the arrival of an SRTP packet of a registered
// stream; anything else (STUN, DTLS, RTCP, unknown SSRCs) is ignored.
func (a *arrivals) noteDatagram(p []byte, now int64) {
	if a == nil || len(p) < 12 || p[0]&0xC0 != 0x80 {
		return
	}
	if pt := p[1] & 0x7F; pt >= 64 && pt <= 95 {
		return // RTCP (RFC 5761)
	}
	rings := a.rings.Load()
	if rings == nil || len(*rings) == 0 {
		return
	}
	ssrc := uint32(p[8])<<24 | uint32(p[9])<<16 | uint32(p[10])<<8 | uint32(p[11])
	if r := (*rings)[ssrc]; r != nil {
		r.note(uint16(p[2])<<8|uint16(p[3]), now)
	}
}
