package sfu

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Forwarding is split at each subscriber: the publisher's forwarding loop
// (pubTrack.forward) only parses a packet and puts a reference to it in
// every subscriber's bounded queue; each subscribe connection has its own
// writer goroutine (subWriter) that takes packets off its queue and writes
// them (SRTP, interceptors, socket). A subscriber that cannot keep up
// (congested downlink, ICE-TCP socket not read) blocks only its own
// writer; its queue fills and the forwarding loop drops what does not fit
// instead of waiting.
//
// Video that does not fit is dropped until the next keyframe (a frame
// with a missing packet, and every frame after it until a keyframe, cannot
// be decoded anyway); a keyframe is requested from the publisher once the
// queue has room again. Audio has its own queue, written before any
// video, so a burst of video never delays or starves audio. Dropped
// packets are taken out of the sequence numbers a subscriber sees, so the
// receiver does not NACK them.

// Queue capacities per subscribe connection, in packets. Video: a 1.5
// Mbit/s camera sends about 180 packets/s and a keyframe about 60-100, so
// 256 rides out a keyframe of camera and screen together. Audio: 50
// packets/s per track.
const (
	videoQueueLen = 256
	audioQueueLen = 64
)

// packet is one received RTP packet, shared by every subscriber queue and
// NACK history it is put in and returned to its pool when the last
// reference is released.
type packet struct {
	buf      []byte     // its size class's capacity
	rtp      rtp.Packet // parsed from buf; Payload points into buf
	keyframe bool       // video: the first packet of a keyframe
	refs     atomic.Int32
	pool     *sync.Pool
}

// packetSizes are the buffer sizes packets come in: Opus, a browser's
// video packet (at most about 1,250 bytes with its header extensions),
// anything pion delivers. NACK histories hold video packets for up to
// seconds, so a packet's buffer fits its size rather than the largest.
var packetSizes = [...]int{256, 1280, readBufferSize}

// packetPool is one sync.Pool per size class.
type packetPool [len(packetSizes)]*sync.Pool

func newPacketPool() *packetPool {
	var pp packetPool
	for i, size := range packetSizes {
		p := &sync.Pool{}
		p.New = func() any { return &packet{buf: make([]byte, size), pool: p} }
		pp[i] = p
	}
	return &pp
}

// getPacket takes a packet that holds any packet from pool, with one
// reference (the caller's).
func getPacket(pool *packetPool) *packet { return getPacketFor(pool, readBufferSize) }

// getPacketFor takes a packet with room for n bytes (at most
// readBufferSize) from pool, with one reference.
func getPacketFor(pool *packetPool, n int) *packet {
	i := 0
	for i < len(packetSizes)-1 && packetSizes[i] < n {
		i++
	}
	pkt := pool[i].Get().(*packet)
	pkt.refs.Store(1)
	return pkt
}

func (p *packet) release() {
	if p.refs.Add(-1) == 0 {
		p.pool.Put(p)
	}
}

// downTrack is one published track as one subscriber receives it: the
// webrtc.TrackLocal added to that subscriber's connection. pion binds it
// once the subscriber's answer accepts it.
type downTrack struct {
	track *pubTrack
	out   *subWriter // the subscribe connection's writer

	bound atomic.Pointer[downBinding] // nil while not bound

	// Owned by the publisher's forwarding goroutine.
	resumes   uint32    // out.resumes when last seen
	seqOffset uint16    // packets dropped so far, hidden from the subscriber
	needKey   bool      // video: drop until a keyframe
	lastAsk   time.Time // last keyframe request for needKey

	// Owned by the writer goroutine.
	hdr    rtp.Header // scratch: the header as this subscriber gets it
	absBuf [3]byte    // scratch: the abs-send-time extension

	// What the writer sent, for sender reports (rtcp.go).
	sentPackets atomic.Uint32
	sentOctets  atomic.Uint32 // payload bytes
	lastTS      atomic.Uint32 // RTP timestamp of the latest packet
	lastAt      atomic.Int64  // when it was sent (Unix ns)

	// Recently sent video packets for NACKs (nil for audio): the writer
	// adds, the subscriber's RTCP reader resends. keep is how many of the
	// latest are held (histMin … histLen, from the subscriber's RTT).
	histMu sync.Mutex
	hist   []histEntry
	keep   atomic.Int32
	rtxHdr rtp.Header // scratch of the RTCP reader
	rtxAbs [3]byte

	// Owned by the RTCP reader: sent packets at the last receiver report.
	rrPackets uint32
	rrAt      time.Time
}

// The NACK history of a subscriber's video track: the packets sent in the
// last four retransmission timeouts (RTT + 4 × jitter, from the
// subscriber's receiver reports on the SFU's sender reports), at least
// histMin and at most histLen packets. histMin is 0.35 s of 1.5 Mbit/s
// video, four timeouts of an 85 ms RTT, plenty on a LAN and until the
// first receiver report; histLen 2.8 s. The packets are shared with the other
// subscribers of the track (a reference each, no copy). Galène sizes its
// packet cache the same way.
const (
	histMin = 64
	histLen = 512
)

type histEntry struct {
	pkt *packet
	seq uint16 // as the subscriber got it
}

// downBinding is what a downTrack writes with, from Bind.
type downBinding struct {
	ssrc  uint32
	pt    uint8
	absID uint8 // abs-send-time extension id, 0 when not negotiated
	w     webrtc.TrackLocalWriter
}

func newDownTrack(t *pubTrack, out *subWriter) *downTrack {
	return &downTrack{track: t, out: out}
}

// ID implements webrtc.TrackLocal.
func (d *downTrack) ID() string { return d.track.id }

// RID implements webrtc.TrackLocal.
func (d *downTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *downTrack) StreamID() string { return d.track.streamID }

// Kind implements webrtc.TrackLocal.
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.track.kind }

// Bind implements webrtc.TrackLocal: the subscriber's connection
// negotiated the track; forwarding to it starts.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(d.track.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b := &downBinding{ssrc: uint32(ctx.SSRC()), pt: uint8(codec.PayloadType), w: ctx.WriteStream()}
	if d.track.kind == webrtc.RTPCodecTypeVideo {
		b.absID = headerExtensionID(ctx.HeaderExtensions(), sdp.ABSSendTimeURI)
		d.histMu.Lock()
		if d.hist == nil {
			d.hist = make([]histEntry, histLen)
			d.keep.Store(histMin)
		}
		d.histMu.Unlock()
	}
	d.bound.Store(b)
	d.track.addDown(d)
	return codec, nil
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.track.removeDown(d)
	d.bound.Store(nil)
	d.histMu.Lock()
	for i := range d.hist {
		if e := &d.hist[i]; e.pkt != nil {
			e.pkt.release()
			*e = histEntry{}
		}
	}
	d.histMu.Unlock()
	return nil
}

// matchCodec finds the negotiated codec for c: same MIME type and, when
// one matches, the same fmtp line.
func matchCodec(c webrtc.RTPCodecCapability, negotiated []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var found webrtc.RTPCodecParameters
	ok := false
	for _, n := range negotiated {
		if !strings.EqualFold(n.MimeType, c.MimeType) {
			continue
		}
		if n.SDPFmtpLine == c.SDPFmtpLine {
			return n, true
		}
		if !ok {
			found, ok = n, true
		}
	}
	return found, ok
}

// push queues pkt for the subscriber or drops it. Called only from the
// publisher's forwarding goroutine.
func (d *downTrack) push(pkt *packet) {
	if d.bound.Load() == nil {
		return
	}
	video := d.track.kind == webrtc.RTPCodecTypeVideo
	if video {
		if d.out.videoPaused.Load() {
			d.seqOffset++
			return
		}
		if r := d.out.resumes.Load(); r != d.resumes {
			d.resumes = r
			d.needKey = true
		}
		if d.needKey {
			if !pkt.keyframe {
				d.seqOffset++
				d.track.owner.sfu.metrics.dropped.Inc()
				d.askKeyframe()
				return
			}
			d.needKey = false
		}
	}
	q := queued{down: d, pkt: pkt, seq: pkt.rtp.SequenceNumber - d.seqOffset}
	switch d.out.push(q, video) {
	case pushDirect:
		d.out.writeDirect(&q)
	case pushFull:
		d.seqOffset++
		d.track.owner.sfu.metrics.dropped.Inc()
		if video {
			d.needKey = true // the rest of this frame and those after it are useless
		}
	case pushClosed:
		d.seqOffset++
	}
}

// askKeyframe requests a keyframe for a subscriber that waits for one,
// once its video queue has room again (it caught up), at most once per
// PLI interval (pubTrack.requestKeyframe limits the publisher's PLIs
// across subscribers too).
func (d *downTrack) askKeyframe() {
	if d.out.videoLen() > videoQueueLen/2 {
		return
	}
	now := time.Now()
	if now.Sub(d.lastAsk) < d.track.owner.sfu.cfg.PLIInterval {
		return
	}
	d.lastAsk = now
	d.track.requestKeyframe("subscriber caught up")
}

// write sends one queued packet on the subscriber's connection. Called
// only from the writer goroutine.
func (d *downTrack) write(q *queued) (bytes int, err error) {
	b := d.bound.Load()
	if b == nil {
		return 0, nil
	}
	// A copy in d's own scratch header (not on the stack: it would escape
	// through the interface call, one allocation per packet): the packet is
	// shared, and the abs-send-time extension is this subscriber's.
	now := time.Now()
	h := &d.hdr
	d.header(h, b, q.pkt, q.seq, now, &d.absBuf)
	payload := q.pkt.rtp.Payload
	_, err = b.w.WriteRTP(h, payload)
	if err != nil {
		if errors.Is(err, io.ErrClosedPipe) {
			return 0, nil // the subscriber went away while we wrote
		}
		return 0, err
	}
	d.sentPackets.Add(1)
	d.sentOctets.Add(uint32(len(payload)))
	d.lastTS.Store(h.Timestamp)
	d.lastAt.Store(now.UnixNano())
	if d.hist != nil { // video; set in Bind, before any write
		d.remember(q.pkt, q.seq)
	}
	return h.MarshalSize() + len(payload), nil
}

// header fills h with pkt's header as this subscriber gets it.
func (d *downTrack) header(h *rtp.Header, b *downBinding, pkt *packet, seq uint16, now time.Time, abs *[3]byte) {
	ext := h.Extensions[:0]
	*h = pkt.rtp.Header
	h.SSRC = b.ssrc
	h.PayloadType = b.pt
	h.SequenceNumber = seq
	h.Extensions = ext
	if b.absID != 0 {
		v := absSendTimeValue(now)
		abs[0], abs[1], abs[2] = byte(v>>16), byte(v>>8), byte(v)
		_ = h.SetExtension(b.absID, abs[:]) // cannot fail: a valid id, 3 bytes
	}
}

// remember keeps a reference to a sent video packet for retransmission
// and lets go of the one that falls out of the history.
func (d *downTrack) remember(pkt *packet, seq uint16) {
	pkt.refs.Add(1)
	d.histMu.Lock()
	e := &d.hist[seq%histLen]
	old := e.pkt
	e.pkt, e.seq = pkt, seq
	var gone *packet
	drop := seq - uint16(d.keep.Load())
	if o := &d.hist[drop%histLen]; o.pkt != nil && o.seq == drop {
		gone = o.pkt
		*o = histEntry{}
	}
	d.histMu.Unlock()
	if old != nil {
		old.release()
	}
	if gone != nil {
		gone.release()
	}
}

// noteReport sizes the NACK history from a receiver report of the
// subscriber about this track: four retransmission timeouts' worth of the
// packets sent since the last report.
func (d *downTrack) noteReport(r rtcp.ReceptionReport, now time.Time) {
	if d.keep.Load() == 0 || r.LastSenderReport == 0 {
		return // audio, or no sender report seen yet
	}
	// RTT = now - LSR - DLSR, in 1/65536 s (the middle of NTP time).
	rtt := float64(uint32(ntpTime(now)>>16)-r.LastSenderReport-r.Delay) / 65536
	if rtt < 0 || rtt > 5 {
		rtt = 0.5 // a clock step or garbage: assume a poor link
	}
	sent := d.sentPackets.Load()
	if !d.rrAt.IsZero() {
		if dt := now.Sub(d.rrAt).Seconds(); dt > 0.2 {
			rate := float64(sent-d.rrPackets) / dt
			rto := rtt + 4*float64(r.Jitter)/float64(d.track.codec.ClockRate)
			d.keep.Store(int32(min(max(4*rto*rate, histMin), histLen)))
		}
	}
	d.rrPackets, d.rrAt = sent, now
}

// retransmit resends the packets this subscriber NACKed that are still in
// its history, with the sequence numbers it got them under. Called only
// from the subscriber's RTCP reader for this track.
func (d *downTrack) retransmit(nack *rtcp.TransportLayerNack) (resent int) {
	b := d.bound.Load()
	if b == nil {
		return 0
	}
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			d.histMu.Lock()
			var e histEntry
			if d.hist != nil {
				e = d.hist[seq%histLen]
			}
			if e.pkt == nil || e.seq != seq {
				d.histMu.Unlock()
				continue
			}
			e.pkt.refs.Add(1)
			d.histMu.Unlock()
			h := &d.rtxHdr
			d.header(h, b, e.pkt, seq, time.Now(), &d.rtxAbs)
			_, err := b.w.WriteRTP(h, e.pkt.rtp.Payload)
			e.pkt.release()
			if err != nil {
				return resent
			}
			resent++
		}
	}
	return resent
}

// senderReport is the RTCP sender report for what d sent, as of now.
func (d *downTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	b := d.bound.Load()
	at := d.lastAt.Load()
	if b == nil || at == 0 {
		return nil, false
	}
	// The RTP time now: the latest packet's timestamp advanced by the
	// time since it was sent.
	elapsed := now.UnixNano() - at
	rtpNow := d.lastTS.Load() + uint32(elapsed*int64(d.track.codec.ClockRate)/1e9)
	return &rtcp.SenderReport{
		SSRC:        b.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     rtpNow,
		PacketCount: d.sentPackets.Load(),
		OctetCount:  d.sentOctets.Load(),
	}, true
}

// queued is one packet in a subscriber's queue.
type queued struct {
	down *downTrack
	pkt  *packet
	seq  uint16 // the sequence number the subscriber sees
}

// ring is a fixed-capacity FIFO of queued packets.
type ring struct {
	items []queued
	head  int
	n     int
}

func (r *ring) push(q queued) bool {
	if r.n == len(r.items) {
		return false
	}
	i := r.head + r.n
	if i >= len(r.items) {
		i -= len(r.items)
	}
	r.items[i] = q
	r.n++
	return true
}

func (r *ring) pop() (queued, bool) {
	if r.n == 0 {
		return queued{}, false
	}
	q := r.items[r.head]
	r.items[r.head] = queued{}
	r.head++
	if r.head == len(r.items) {
		r.head = 0
	}
	r.n--
	return q, true
}

type pushResult int

const (
	pushed pushResult = iota
	pushFull
	pushClosed
	pushDirect // write it yourself, now (subWriter.push)
)

// subWriter is a subscribe connection's writer: two bounded queues
// (audio first) and the goroutine that empties them.
type subWriter struct {
	m    *metrics
	wake chan struct{} // capacity 1

	videoPaused atomic.Bool   // no video for this subscriber (SetVideoPaused)
	resumes     atomic.Uint32 // counts resumptions of video
	// direct: the connection's path is UDP, whose writes never wait for
	// the subscriber (the kernel drops what does not fit), so a packet
	// may be written by the publisher's forwarding goroutine when nothing
	// is queued (push).
	direct atomic.Bool
	// Forwarded packets and bytes not yet added to the metrics (flush):
	// counted here, per subscriber, instead of in the node-wide counters
	// that every forwarding goroutine would contend for.
	sentPackets, sentBytes atomic.Int64

	mu     sync.Mutex
	audio  ring
	video  ring
	busy   bool // the writer goroutine is writing a batch
	closed bool
}

func newSubWriter(m *metrics) *subWriter {
	return &subWriter{
		m:     m,
		wake:  make(chan struct{}, 1),
		audio: ring{items: make([]queued, audioQueueLen)},
		video: ring{items: make([]queued, videoQueueLen)},
	}
}

// push adds a reference to q.pkt and queues it, unless the queue is full
// or the writer stopped.
func (w *subWriter) push(q queued, video bool) pushResult {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return pushClosed
	}
	if !w.busy && w.audio.n == 0 && w.video.n == 0 && w.direct.Load() {
		// Nothing of this subscriber waits and its path cannot block: the
		// caller writes the packet itself, saving the hand-off to the
		// writer goroutine (a wake-up per packet, the largest cost of a
		// forwarded packet after the system calls; docs/BENCHMARKS.md).
		// Packets of one track come from one forwarding goroutine, so
		// their order holds; writes of different tracks may run at once.
		w.mu.Unlock()
		return pushDirect
	}
	r := &w.audio
	if video {
		r = &w.video
	}
	q.pkt.refs.Add(1)
	if !r.push(q) {
		w.mu.Unlock()
		q.pkt.refs.Add(-1) // the caller still holds one: never the last
		return pushFull
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // already awake or woken
	}
	return pushed
}

func (w *subWriter) videoLen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.video.n
}

// writeBatch is how many packets the writer takes off its queues at once
// (one lock for all of them; the profile of BenchmarkFanout had the
// queue's mutex, shared with the forwarding goroutine, as its largest
// item with one lock per packet).
const writeBatch = 16

// popBatch moves up to len(batch) packets into batch, all waiting audio
// before any video, and returns how many.
func (w *subWriter) popBatch(batch *[writeBatch]queued) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for n < len(batch) {
		q, ok := w.audio.pop()
		if !ok {
			if q, ok = w.video.pop(); !ok {
				break
			}
		}
		batch[n] = q
		n++
	}
	w.busy = n > 0
	return n
}

// flush adds what was forwarded since the last flush to the metrics.
func (w *subWriter) flush() {
	if n := w.sentPackets.Swap(0); n > 0 {
		w.m.packets.Add(float64(n))
	}
	if n := w.sentBytes.Swap(0); n > 0 {
		w.m.bytes.Add(float64(n))
	}
}

// writeDirect writes q in the caller's goroutine (push said pushDirect).
func (w *subWriter) writeDirect(q *queued) {
	size, err := q.down.write(q)
	if err != nil {
		w.m.errors.Inc()
		return
	}
	if size > 0 {
		w.sentPackets.Add(1)
		w.sentBytes.Add(int64(size))
	}
}

// run writes queued packets until done is closed, then drops what is
// left and refuses further packets.
func (w *subWriter) run(done <-chan struct{}) {
	defer w.close()
	var batch [writeBatch]queued
	for {
		select {
		case <-done:
			return
		case <-w.wake:
		}
		var packets, bytes int
		for {
			n := w.popBatch(&batch)
			if n == 0 {
				break
			}
			for i := range batch[:n] {
				q := &batch[i]
				size, err := q.down.write(q)
				q.pkt.release()
				*q = queued{}
				if err != nil {
					w.m.errors.Inc()
					continue
				}
				if size > 0 {
					packets++
					bytes += size
				}
			}
		}
		if packets > 0 {
			w.sentPackets.Add(int64(packets))
			w.sentBytes.Add(int64(bytes))
		}
	}
}

func (w *subWriter) close() {
	w.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for _, r := range []*ring{&w.audio, &w.video} {
		for {
			q, ok := r.pop()
			if !ok {
				break
			}
			q.pkt.release()
		}
	}
}

// isKeyframe reports whether an RTP payload starts a keyframe (VP8: first
// packet of a key frame; H.264: an IDR slice or SPS, alone, aggregated or
// the start of a fragment).
func isKeyframe(mime string, payload []byte) bool {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		return vp8Keyframe(payload)
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		return h264Keyframe(payload)
	}
	return false
}

// vp8Keyframe parses the VP8 payload descriptor (RFC 7741 section 4.2).
func vp8Keyframe(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	start, pid := b[0]&0x10 != 0, b[0]&0x07
	if !start || pid != 0 {
		return false
	}
	i := 1
	if b[0]&0x80 != 0 { // X: extension byte follows
		if len(b) < 2 {
			return false
		}
		x := b[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(b) <= i {
				return false
			}
			if b[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	return len(b) > i && b[i]&0x01 == 0 // P bit clear: key frame
}

func h264Keyframe(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	isKey := func(nal byte) bool { t := nal & 0x1f; return t == 5 || t == 7 }
	switch t := b[0] & 0x1f; t {
	case 24: // STAP-A: 16-bit size, NAL unit, ...
		for i := 1; i+2 < len(b); {
			size := int(b[i])<<8 | int(b[i+1])
			if size == 0 || i+2+size > len(b) {
				return false
			}
			if isKey(b[i+2]) {
				return true
			}
			i += 2 + size
		}
		return false
	case 28: // FU-A: the start fragment
		return b[1]&0x80 != 0 && isKey(b[1])
	default:
		return isKey(b[0])
	}
}
