package callclient

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// LocalTrack is a published synthetic track. Its payloads are whatever the
// caller writes; the RTP header is filled in (sequence number, timestamp,
// marker; pion sets payload type and SSRC).
type LocalTrack struct {
	// ID is the track id ("mic" or "cam"); subscribers see the stream id
	// "<publisher>~<ID>".
	ID string
	// Source is the track's source in the media message: audio or camera.
	Source string
	// SSRC is the SSRC the track is sent with.
	SSRC uint32

	owner  ID
	track  *webrtc.TrackLocalStaticRTP
	tsStep uint32

	mu   sync.Mutex
	seq  uint16
	ts   uint32
	sent int64

	plis atomic.Int64
	firs atomic.Int64
}

// addLocalTrack adds a sendonly track to the publish connection and starts
// reading its RTCP (which also feeds pion's NACK responder).
func (c *Client) addLocalTrack(id, source string, codec webrtc.RTPCodecCapability, tsStep uint32) (*LocalTrack, error) {
	local, err := webrtc.NewTrackLocalStaticRTP(codec, id, "parley-"+string(c.self))
	if err != nil {
		return nil, fmt.Errorf("track %s: %w", id, err)
	}
	tr, err := c.pub.AddTransceiverFromTrack(local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("add track %s: %w", id, err)
	}
	sender := tr.Sender()
	params := sender.GetParameters()
	if len(params.Encodings) == 0 {
		return nil, fmt.Errorf("track %s: sender without encodings", id)
	}
	t := &LocalTrack{ID: id, Source: source, SSRC: uint32(params.Encodings[0].SSRC), owner: c.self, track: local, tsStep: tsStep}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.local = append(c.local, t)
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.PictureLossIndication:
					if p.MediaSSRC == t.SSRC {
						t.plis.Add(1)
					}
				case *rtcp.FullIntraRequest:
					if p.MediaSSRC == t.SSRC {
						t.firs.Add(1)
					}
				}
			}
		}
	}()
	return t, nil
}

// WritePayload sends one RTP packet with this payload. Packets written
// before the publish connection is up are dropped (as pion does).
func (t *LocalTrack) WritePayload(payload []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	t.ts += t.tsStep
	err := t.track.WriteRTP(&rtp.Packet{
		Header:  rtp.Header{Version: 2, SequenceNumber: t.seq, Timestamp: t.ts, Marker: true},
		Payload: payload,
	})
	if err != nil {
		return fmt.Errorf("callclient: write RTP on %s: %w", t.ID, err)
	}
	t.sent++
	return nil
}

// WriteNumbered sends NumberedPayload(publisher, t.ID, n).
func (t *LocalTrack) WriteNumbered(n int) error {
	return t.WritePayload(NumberedPayload(t.owner, t.ID, n))
}

// Sent is the number of packets written.
func (t *LocalTrack) Sent() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent
}

// PLIs is the number of picture loss indications for this track's SSRC
// that reached the publisher.
func (t *LocalTrack) PLIs() int64 { return t.plis.Load() }

// FIRs is the number of full intra requests for this track's SSRC.
func (t *LocalTrack) FIRs() int64 { return t.firs.Load() }

// numberedPad makes numbered payloads about as big as small audio frames.
const numberedPad = 100

// NumberedPayload is the unique payload number n of a publisher's track:
// "<publisher>/<trackID>/<n>/" and padding.
func NumberedPayload(publisher ID, trackID string, n int) []byte {
	b := fmt.Appendf(nil, "%s/%s/%d/", publisher, trackID, n)
	return append(b, bytes.Repeat([]byte{byte(n)}, numberedPad)...)
}

// SendNumbered writes numbered payloads first … first+count-1 on every
// track, one round every interval.
func SendNumbered(ctx context.Context, tracks []*LocalTrack, first, count int, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := first; n < first+count; n++ {
		for _, t := range tracks {
			if err := t.WriteNumbered(n); err != nil {
				return err
			}
		}
		if n == first+count-1 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("callclient: send numbered packets: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// StartPump writes filler packets ("pump/<publisher>/<track>/<i>", never
// equal to a numbered payload) on every track every interval until stop is
// called, e.g. to bring tracks up at the subscribers before numbered
// packets are counted. stop waits for the pump to end; it is idempotent.
func StartPump(tracks []*LocalTrack, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			for _, t := range tracks {
				_ = t.WritePayload(fmt.Appendf(nil, "pump/%s/%s/%d", t.owner, t.ID, i))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// RemoteTrack is a track received on the subscribe connection.
type RemoteTrack struct {
	StreamID    string // "<participantId>~<trackId>"
	Participant ID     // the publisher
	TrackID     string
	Kind        string // audio or video
	Codec       string // MIME type
	SSRC        uint32 // as received from the SFU

	ended   chan struct{}
	discard bool

	mu       sync.Mutex
	packets  int64
	bytes    int64
	payloads map[string]struct{}
}

func (r *RemoteTrack) record(payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets++
	r.bytes += int64(len(payload))
	if !r.discard {
		r.payloads[string(payload)] = struct{}{}
	}
}

// Ended is closed when the track stops (removed, or connection closed).
func (r *RemoteTrack) Ended() <-chan struct{} { return r.ended }

// Packets is the number of RTP packets received (duplicates included).
func (r *RemoteTrack) Packets() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets
}

// Bytes is the number of payload bytes received.
func (r *RemoteTrack) Bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// Unique is the number of distinct payloads received (0 with
// Options.DiscardPayloads).
func (r *RemoteTrack) Unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.payloads)
}

// Has reports whether this payload arrived (always false with
// Options.DiscardPayloads).
func (r *RemoteTrack) Has(payload []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.payloads[string(payload)]
	return ok
}

// Missing lists the numbers in first … first+count-1 whose numbered
// payload (from this track's publisher) has not arrived.
func (r *RemoteTrack) Missing(first, count int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for n := first; n < first+count; n++ {
		if _, ok := r.payloads[string(NumberedPayload(r.Participant, r.TrackID, n))]; !ok {
			out = append(out, n)
		}
	}
	return out
}
