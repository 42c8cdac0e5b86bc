package sfu

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The SFU's own RTCP, instead of pion's interceptors (api.go).
//
// pion's interceptors wrap every packet in a chain of closures, each with
// its own lock, header parse and bookkeeping, keep a copy of every sent
// video packet per subscriber for NACKs, and run a ticker per stream.
// Profiles of `make bench` (docs/BENCHMARKS.md) had them at a fifth of the
// server's CPU and most of its memory per call. What a forwarding SFU
// needs of them is small, and most of it already happens in its own
// forwarding loop and subscriber writers:
//
//   - towards a publisher (its publish connection): transport-wide
//     congestion control feedback (TWCC, for the browser's send-side
//     bandwidth estimate), receiver reports (loss, jitter, for the
//     browser's loss-based estimate and statistics) and NACKs for video
//     packets that did not arrive. The forwarding loop records each packet
//     (upStats, twccState); the peer's RTCP loop sends the feedback.
//   - towards a subscriber: sender reports (lip sync needs the mapping
//     of RTP to wall-clock time) and retransmissions of video packets it
//     NACKs. The subscriber's writer counts what it sent and keeps
//     references to recently sent video packets (downtrack.go); the
//     packets are the ones every subscriber shares, so the history costs
//     a reference per packet, not a copy.
//
// Everything runs off one ticker per peer (rtcpLoop).

const (
	// rtcpTick is the RTCP loop's period: TWCC feedback and NACKs go out
	// at this rate (as pion's interceptors did), reports every
	// reportEvery ticks.
	rtcpTick    = 100 * time.Millisecond
	reportEvery = 10

	// nackWindow is how far back (in packets) a publisher's missing
	// video packets are asked for; maxNackTries how often each.
	nackWindow   = 256
	maxNackTries = 5
)

// upStats is what the SFU knows about the reception of one published
// stream: the receiver report's figures (RFC 3550 appendix A.3, A.8) and
// the NACK generator's log. The forwarding goroutine updates it per
// packet; the publisher's RTCP loop reads it.
type upStats struct {
	clock uint32 // RTP clock rate
	nack  bool   // ask for missing packets (video)

	mu       sync.Mutex
	started  bool
	base     int64 // first extended sequence number
	max      int64 // highest extended sequence number
	received uint32
	// at the last report
	expectedPrior, receivedPrior uint32
	// jitter in RTP clock units, scaled by 16 (RFC 3550 A.8)
	jitter      uint32
	lastTransit uint32
	t0          time.Time // arrival times count from here
	// the last sender report from the publisher
	lastSR   uint32 // middle 32 bits of its NTP time
	lastSRAt time.Time
	// NACK log: got[i] bit for extended sequence number i mod nackWindow,
	// tries per number; missing counts unset bits within the window.
	got     [nackWindow / 64]uint64
	tries   [nackWindow]uint8
	missing int
	stale   int // packets in a row far behind the highest
}

// staleRestart is how many packets far behind the highest in a row mean
// the publisher restarted its sequence numbers.
const staleRestart = 50

func newUpStats(codec webrtc.RTPCodecParameters, kind webrtc.RTPCodecType) *upStats {
	st := &upStats{clock: codec.ClockRate}
	if kind == webrtc.RTPCodecTypeVideo {
		for _, fb := range codec.RTCPFeedback {
			if fb.Type == webrtc.TypeRTCPFBNACK && fb.Parameter == "" {
				st.nack = true
			}
		}
	}
	return st
}

func (s *upStats) bit(ext int64) (word int, mask uint64) {
	i := int(uint64(ext) % nackWindow)
	return i / 64, 1 << (i % 64)
}

// update records a packet with sequence number seq and RTP timestamp ts
// that arrived at now.
func (s *upStats) update(seq uint16, ts uint32, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		s.base, s.max = int64(seq), int64(seq)
		s.received = 1
		s.t0 = now
		s.resetLog()
		s.lastTransit = s.transit(ts, now)
		return
	}
	ext := s.max + int64(int16(seq-uint16(s.max)))
	if ext >= s.max-nackWindow {
		s.stale = 0
	}
	switch d := ext - s.max; {
	case d > nackWindow:
		// A jump: the publisher restarted its sequence (or a very long
		// gap). Start the log afresh; loss statistics count on.
		s.resetLog()
		s.max = ext
	case d > 0:
		for e := s.max + 1; e <= ext; e++ {
			// e takes over the slot of e-nackWindow, which leaves the window.
			w, m := s.bit(e)
			if s.got[w]&m == 0 {
				s.missing--
			}
			if e == ext {
				s.got[w] |= m
				continue
			}
			s.got[w] &^= m // the gap: missing until it comes
			s.tries[uint64(e)%nackWindow] = 0
			s.missing++
		}
		s.missing = max(s.missing, 0)
		s.max = ext
	case d < 0:
		if -d >= nackWindow {
			// Too late to matter, or the publisher restarted its
			// sequence lower: after enough of these, start over there.
			if s.stale++; s.stale > staleRestart {
				s.started, s.stale = false, 0
				s.update(seq, ts, now)
			}
			return
		}
		w, m := s.bit(ext)
		if s.got[w]&m != 0 {
			return // a duplicate (or a retransmission we did not need)
		}
		s.got[w] |= m
		if s.missing > 0 {
			s.missing--
		}
	default:
		return // duplicate of the highest
	}
	s.received++
	t := s.transit(ts, now)
	dt := int32(t - s.lastTransit)
	s.lastTransit = t
	if dt < 0 {
		dt = -dt
	}
	// J += (|D| - J/16) in the scaled form of A.8.
	s.jitter += uint32(dt) - ((s.jitter + 8) >> 4)
}

// resetLog marks the whole window received: nothing before the current
// packet is asked for.
func (s *upStats) resetLog() {
	for i := range s.got {
		s.got[i] = ^uint64(0)
	}
	s.missing = 0
}

// transit is arrival time minus RTP timestamp in RTP clock units, modulo
// 2^32 (only differences matter).
func (s *upStats) transit(ts uint32, now time.Time) uint32 {
	arrival := int64(now.Sub(s.t0)/time.Microsecond) * int64(s.clock) / 1_000_000
	return uint32(arrival) - ts
}

// noteSR records a sender report of the publisher.
func (s *upStats) noteSR(ntp uint64, now time.Time) {
	s.mu.Lock()
	s.lastSR, s.lastSRAt = uint32(ntp>>16), now
	s.mu.Unlock()
}

// missingSeqs appends the sequence numbers to NACK now and counts a try
// for each.
func (s *upStats) missingSeqs(out []uint16) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.nack || s.missing == 0 {
		return out
	}
	for e := s.max - nackWindow + 1; e < s.max; e++ {
		w, m := s.bit(e)
		i := uint64(e) % nackWindow
		if s.got[w]&m != 0 || s.tries[i] >= maxNackTries {
			continue
		}
		s.tries[i]++
		out = append(out, uint16(e))
	}
	return out
}

// report is the reception report for ssrc as of now.
func (s *upStats) report(ssrc uint32, now time.Time) (rtcp.ReceptionReport, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return rtcp.ReceptionReport{}, false
	}
	expected := uint32(s.max - s.base + 1)
	lost := int64(expected) - int64(s.received)
	lost = max(min(lost, 0x7fffff), -0x800000)
	expInt, recvInt := expected-s.expectedPrior, s.received-s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	var fraction uint8
	if expInt > 0 && expInt > recvInt {
		fraction = uint8((expInt - recvInt) << 8 / expInt)
	}
	var dlsr uint32
	if !s.lastSRAt.IsZero() {
		dlsr = uint32(now.Sub(s.lastSRAt).Seconds() * 65536)
	}
	return rtcp.ReceptionReport{
		SSRC:               ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost) & 0xffffff,
		LastSequenceNumber: uint32(s.max),
		Jitter:             s.jitter >> 4,
		LastSenderReport:   s.lastSR,
		Delay:              dlsr,
	}, true
}

// twccState records the arrival of every packet on a publish connection
// that carries a transport-wide sequence number, for the feedback the
// RTCP loop sends.
type twccState struct {
	mu    sync.Mutex
	rec   *twcc.Recorder
	start time.Time // arrival times count from here, as in pion's interceptor
}

func newTWCCState(senderSSRC uint32) *twccState {
	return &twccState{rec: twcc.NewRecorder(senderSSRC), start: time.Now()}
}

func (t *twccState) record(ssrc uint32, seq uint16, now time.Time) {
	t.mu.Lock()
	t.rec.Record(ssrc, seq, now.Sub(t.start).Microseconds())
	t.mu.Unlock()
}

func (t *twccState) feedback() []rtcp.Packet {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rec.PacketsHeld() == 0 {
		return nil
	}
	return t.rec.BuildFeedbackPacket()
}

// headerExtensionID is the id negotiated for uri, 0 when none.
func headerExtensionID(exts []webrtc.RTPHeaderExtensionParameter, uri string) uint8 {
	for _, e := range exts {
		if e.URI == uri && e.ID > 0 && e.ID < 256 {
			return uint8(e.ID)
		}
	}
	return 0
}

// twccExtensionID is the transport-wide-cc extension id of a receiver.
func twccExtensionID(r *webrtc.RTPReceiver) uint8 {
	if r == nil {
		return 0
	}
	return headerExtensionID(r.GetParameters().HeaderExtensions, sdp.TransportCCURI)
}

// readPublisherRTCP reads the RTCP a publisher sends about one track
// until it ends: sender reports go into the track's receiver report
// (last SR, delay since it); the rest needs no answer.
func readPublisherRTCP(r *webrtc.RTPReceiver, st *upStats) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if sr, ok := pkt.(*rtcp.SenderReport); ok {
				st.noteSR(sr.NTPTime, time.Now())
			}
		}
	}
}

// rtcpLoop is a peer's RTCP timer: TWCC feedback and NACKs to the
// publisher every tick, its video budget (congestion.go) every ccInterval
// and at once when kicked, receiver reports to it and sender reports to
// the subscriber every reportEvery ticks.
func (p *Peer) rtcpLoop() {
	defer p.wg.Done()
	tick := time.NewTicker(rtcpTick)
	defer tick.Stop()
	// Stagger peers' reports over the report period.
	n := rand.IntN(reportEvery)
	var seqs []uint16
	var out []rtcp.Packet
	for {
		select {
		case <-p.done:
			p.forgetPauses()
			return
		case <-p.cc.kick:
			p.sendBudget(time.Now())
			continue
		case <-tick.C:
		}
		now := time.Now()
		p.out.flush()
		out = out[:0]
		out = append(out, p.twcc.feedback()...)
		tracks := p.publishedTracks()
		for _, t := range tracks {
			seqs = t.stats.missingSeqs(seqs[:0])
			if len(seqs) > 0 {
				out = append(out, &rtcp.TransportLayerNack{
					SenderSSRC: p.rtcpSSRC, MediaSSRC: t.ssrc,
					Nacks: rtcp.NackPairsFromSequenceNumbers(seqs),
				})
				p.sfu.metrics.nackSent.Add(float64(len(seqs)))
			}
		}
		n++
		if n%int(ccInterval/rtcpTick) == 0 {
			p.sendBudget(now)
		}
		report := n%reportEvery == 0
		if report {
			rr := &rtcp.ReceiverReport{SSRC: p.rtcpSSRC}
			for _, t := range tracks {
				if r, ok := t.stats.report(t.ssrc, now); ok {
					rr.Reports = append(rr.Reports, r)
				}
				if len(rr.Reports) == 31 { // the most one report block count holds
					out = append(out, rr)
					rr = &rtcp.ReceiverReport{SSRC: p.rtcpSSRC}
				}
			}
			if len(rr.Reports) > 0 {
				out = append(out, rr)
			}
		}
		if len(out) > 0 {
			if err := p.pub.WriteRTCP(out); err != nil {
				p.log.Debug("publisher RTCP", "err", err)
			}
		}
		if report {
			p.sendSenderReports(now)
		}
	}
}

// publishedTracks is a snapshot of the tracks p publishes.
func (p *Peer) publishedTracks() []*pubTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*pubTrack(nil), p.pubs...)
}

// sendSenderReports sends a sender report for every track p receives.
func (p *Peer) sendSenderReports(now time.Time) {
	p.mu.Lock()
	downs := make([]*downTrack, 0, len(p.have))
	for _, s := range p.have {
		if s.bound {
			downs = append(downs, s.down)
		}
	}
	p.mu.Unlock()
	var out []rtcp.Packet
	for _, d := range downs {
		if sr, ok := d.senderReport(now); ok {
			out = append(out, sr)
		}
	}
	if len(out) == 0 {
		return
	}
	if err := p.sub.WriteRTCP(out); err != nil {
		p.log.Debug("subscriber RTCP", "err", err)
	}
}

// ntpTime is t in NTP format (RFC 3550 section 4).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2_208_988_800 // 1900 to 1970, in seconds
	ns := uint64(t.UnixNano())
	secs := ns/1e9 + ntpEpochOffset
	frac := (ns % 1e9) << 32 / 1e9
	return secs<<32 | frac
}
