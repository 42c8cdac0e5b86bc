package e2e

// The server-side proof of end-to-end encryption (web/E2EE.md): a Go
// participant sees exactly the RTP the SFU forwards and shows that every
// frame is AES-256-GCM ciphertext under a key derived from the secret S,
// which only the invite link's fragment carries and the server never has.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/config"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"golang.org/x/crypto/hkdf"
)

// The frame format of web/E2EE.md, version 1.
const (
	e2eeSalt       = "parley-e2ee-v1"
	e2eeSecretLen  = 32
	e2eeTagLen     = 16
	e2eeTrailerLen = 13 // keyId (4) ‖ counter (8) ‖ version (1)
	e2eeVersion    = 0x01
	prefixOpus     = 1
	prefixVP8Key   = 10
	prefixVP8Delta = 3
)

var (
	errNotE2EE    = errors.New("trailer does not end in version 0x01")
	errE2EEShort  = errors.New("frame too short for prefix, tag and trailer")
	errE2EEUnauth = errors.New("AES-GCM authentication failed")
)

// e2eeMediaKey is the AES-256 key of one sender's key epoch:
// HKDF-SHA-256(S, "parley-e2ee-v1", "media/<participantId>/<keyIdHex>").
func e2eeMediaKey(s []byte, participant string, keyID uint32) []byte {
	info := fmt.Sprintf("media/%s/%08x", participant, keyID)
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, s, []byte(e2eeSalt), []byte(info)), key); err != nil {
		panic(err) // 32 bytes of HKDF-SHA-256 cannot run out
	}
	return key
}

func e2eeGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block) // 12-byte nonce, 16-byte tag
	if err != nil {
		panic(err)
	}
	return aead
}

// e2eeIV is keyId ‖ counter, big-endian (12 bytes).
func e2eeIV(keyID uint32, counter uint64) []byte {
	iv := binary.BigEndian.AppendUint32(nil, keyID)
	return binary.BigEndian.AppendUint64(iv, counter)
}

// e2eeSeal encrypts a plaintext frame the way a sending browser does; the
// format test uses it to check e2eeOpen.
func e2eeSeal(s []byte, participant string, keyID uint32, counter uint64, frame []byte, prefixLen int) []byte {
	if len(frame) < prefixLen {
		return slices.Clone(frame) // sent as is
	}
	prefix := frame[:prefixLen]
	out := slices.Clone(prefix)
	out = e2eeGCM(e2eeMediaKey(s, participant, keyID)).Seal(out, e2eeIV(keyID, counter), frame[prefixLen:], prefix)
	out = append(out, e2eeIV(keyID, counter)...)
	return append(out, e2eeVersion)
}

// openedFrame is a frame that e2eeOpen decrypted.
type openedFrame struct {
	keyID   uint32
	counter uint64
	body    []byte // ciphertext ‖ tag as forwarded
	plain   []byte // the decrypted frame body (without the clear prefix)
}

// e2eeOpen checks the trailer of a forwarded frame and decrypts it with
// the key of (S, participant, keyId from the trailer), IV from the trailer
// and the clear prefix as additional data.
func e2eeOpen(s []byte, participant string, frame []byte, prefixLen int) (openedFrame, error) {
	if len(frame) == 0 || frame[len(frame)-1] != e2eeVersion {
		return openedFrame{}, errNotE2EE
	}
	if len(frame) < prefixLen+e2eeTagLen+e2eeTrailerLen {
		return openedFrame{}, errE2EEShort
	}
	trailer := frame[len(frame)-e2eeTrailerLen:]
	f := openedFrame{
		keyID:   binary.BigEndian.Uint32(trailer[0:4]),
		counter: binary.BigEndian.Uint64(trailer[4:12]),
		body:    frame[prefixLen : len(frame)-e2eeTrailerLen],
	}
	prefix := frame[:prefixLen]
	plain, err := e2eeGCM(e2eeMediaKey(s, participant, f.keyID)).Open(nil, trailer[:12], f.body, prefix)
	if err != nil {
		return openedFrame{}, errE2EEUnauth
	}
	f.plain = plain
	return f, nil
}

// vp8PrefixLen is the clear prefix of a VP8 frame: 10 bytes for a key
// frame (P bit, bit 0 of the first byte, clear), else 3.
func vp8PrefixLen(frame []byte) int {
	if len(frame) > 0 && frame[0]&1 == 0 {
		return prefixVP8Key
	}
	return prefixVP8Delta
}

// TestE2EEFrameFormat checks the verifier against frames encrypted in Go
// by the rules of web/E2EE.md: layout of prefix, ciphertext and trailer,
// the IV taken from the trailer, the prefix authenticated as AAD, keys
// bound to S, sender and key epoch.
func TestE2EEFrameFormat(t *testing.T) {
	s := bytes.Repeat([]byte{0x5a}, e2eeSecretLen)
	other := slices.Clone(s)
	other[31] ^= 1
	vp8Key := append([]byte{0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, bytes.Repeat([]byte{0x11}, 200)...)
	vp8Delta := append([]byte{0x31, 0x04, 0x00}, bytes.Repeat([]byte{0x22}, 90)...)
	opus := append([]byte{0xfc}, bytes.Repeat([]byte{0x33}, 60)...)
	cases := []struct {
		name    string
		frame   []byte
		prefix  int
		keyID   uint32
		counter uint64
	}{
		{"opus", opus, prefixOpus, 0x0a0b0c0d, 0},
		{"opus TOC only", []byte{0xf8}, prefixOpus, 0xffffffff, 7},
		{"vp8 key frame", vp8Key, vp8PrefixLen(vp8Key), 0x80000001, 1},
		{"vp8 delta frame", vp8Delta, vp8PrefixLen(vp8Delta), 0x00000001, 1<<40 + 5},
	}
	if vp8PrefixLen(vp8Key) != prefixVP8Key || vp8PrefixLen(vp8Delta) != prefixVP8Delta {
		t.Fatal("vp8PrefixLen misreads the P bit")
	}
	const pid = "p_sender"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := e2eeSeal(s, pid, tc.keyID, tc.counter, tc.frame, tc.prefix)
			bodyLen := len(tc.frame) - tc.prefix
			if want := tc.prefix + bodyLen + e2eeTagLen + e2eeTrailerLen; len(enc) != want {
				t.Fatalf("encrypted length %d, want %d", len(enc), want)
			}
			if !bytes.Equal(enc[:tc.prefix], tc.frame[:tc.prefix]) {
				t.Fatal("clear prefix changed")
			}
			tr := enc[len(enc)-e2eeTrailerLen:]
			if binary.BigEndian.Uint32(tr[0:4]) != tc.keyID || binary.BigEndian.Uint64(tr[4:12]) != tc.counter || tr[12] != 0x01 {
				t.Fatalf("trailer %x, want keyId %08x counter %016x version 01", tr, tc.keyID, tc.counter)
			}
			// The IV is exactly keyId ‖ counter: a raw AES-GCM open with it works.
			raw, err := e2eeGCM(e2eeMediaKey(s, pid, tc.keyID)).Open(nil, tr[:12], enc[tc.prefix:len(enc)-e2eeTrailerLen], enc[:tc.prefix])
			if err != nil || !bytes.Equal(raw, tc.frame[tc.prefix:]) {
				t.Fatalf("raw AES-GCM open with IV = trailer[0:12]: %v", err)
			}
			f, err := e2eeOpen(s, pid, enc, tc.prefix)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if !bytes.Equal(f.plain, tc.frame[tc.prefix:]) || f.keyID != tc.keyID || f.counter != tc.counter {
				t.Fatalf("open gave keyId %08x counter %d plain %x", f.keyID, f.counter, f.plain)
			}
			if bodyLen >= 8 && bytes.Equal(f.body[:bodyLen], tc.frame[tc.prefix:]) {
				t.Fatal("ciphertext equals plaintext")
			}

			mutate := func(i int) []byte { b := slices.Clone(enc); b[i] ^= 0x01; return b }
			for _, neg := range []struct {
				what   string
				s      []byte
				pid    string
				frame  []byte
				prefix int
				want   error
			}{
				{"wrong S", other, pid, enc, tc.prefix, errE2EEUnauth},
				{"wrong sender", s, "p_other", enc, tc.prefix, errE2EEUnauth},
				{"prefix (AAD) changed", s, pid, mutate(0), tc.prefix, errE2EEUnauth},
				{"ciphertext changed", s, pid, mutate(tc.prefix), tc.prefix, errE2EEUnauth},
				{"keyId changed", s, pid, mutate(len(enc) - 13), tc.prefix, errE2EEUnauth},
				{"counter changed", s, pid, mutate(len(enc) - 2), tc.prefix, errE2EEUnauth},
				{"version 0x00", s, pid, mutate(len(enc) - 1), tc.prefix, errNotE2EE},
				{"unencrypted frame", s, pid, tc.frame, tc.prefix, errNotE2EE},
				{"truncated", s, pid, enc[len(enc)-e2eeTrailerLen:], tc.prefix + 4, errE2EEShort},
			} {
				if _, err := e2eeOpen(neg.s, neg.pid, neg.frame, neg.prefix); !errors.Is(err, neg.want) {
					t.Errorf("%s: got %v, want %v", neg.what, err, neg.want)
				}
			}
		})
	}
	t.Run("frame shorter than prefix is sent as is", func(t *testing.T) {
		if got := e2eeSeal(s, pid, 1, 0, []byte{0x10, 0x02}, prefixVP8Delta); !bytes.Equal(got, []byte{0x10, 0x02}) {
			t.Fatalf("got %x", got)
		}
	})
	t.Run("VP8 reassembly from RTP", func(t *testing.T) {
		// Two sealed frames packetized as a browser does, sent across a
		// sequence number wrap, with a duplicate, reordering, padding and
		// a third frame missing a packet.
		f1 := e2eeSeal(s, pid, 9, 0, vp8Key, prefixVP8Key)
		f2 := e2eeSeal(s, pid, 9, 1, vp8Delta, prefixVP8Delta)
		f3 := e2eeSeal(s, pid, 9, 2, vp8Delta, prefixVP8Delta)
		var pkts []tapPacket
		seq := uint16(65533)
		for i, f := range [][]byte{f1, f2, f3} {
			parts := (&codecs.VP8Payloader{}).Payload(60, f)
			for j, part := range parts {
				p := &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(3000 * (i + 1)), Marker: j == len(parts)-1}, Payload: part}
				seq++
				if i == 2 && j == 1 {
					continue // lost
				}
				pkts = append(pkts, tapPacket{pkt: p})
			}
		}
		pkts[1], pkts[2] = pkts[2], pkts[1]
		pkts = append(pkts, pkts[3], tapPacket{pkt: &rtp.Packet{Header: rtp.Header{SequenceNumber: seq}}})
		frames, incomplete := vp8Frames(pkts)
		if len(frames) != 2 || incomplete != 1 {
			t.Fatalf("%d frames, %d incomplete; want 2 and 1", len(frames), incomplete)
		}
		for i, want := range [][]byte{vp8Key, vp8Delta} {
			f, err := e2eeOpen(s, pid, frames[i], vp8PrefixLen(frames[i]))
			if err != nil || !bytes.Equal(f.plain, want[vp8PrefixLen(want):]) {
				t.Fatalf("frame %d: %v", i, err)
			}
		}
	})
	t.Run("key derivation", func(t *testing.T) {
		k := e2eeMediaKey(s, pid, 0x0a0b0c0d)
		// The info string is the lowercase 8-digit hex keyId.
		want := make([]byte, 32)
		_, _ = io.ReadFull(hkdf.New(sha256.New, s, []byte("parley-e2ee-v1"), []byte("media/p_sender/0a0b0c0d")), want)
		if !bytes.Equal(k, want) {
			t.Fatal("key info string is not media/<pid>/<8 lowercase hex>")
		}
		if bytes.Equal(k, e2eeMediaKey(s, pid, 0x0a0b0c0e)) || bytes.Equal(k, e2eeMediaKey(other, pid, 0x0a0b0c0d)) {
			t.Fatal("keys of different epochs or secrets coincide")
		}
	})
}

// tapPacket is one RTP packet as the SFU forwarded it.
type tapPacket struct {
	at  time.Time
	pkt *rtp.Packet
}

// packetTap keeps every received RTP packet by stream id.
type packetTap struct {
	mu      sync.Mutex
	streams map[string][]tapPacket
}

func (p *packetTap) add(streamID string, pkt *rtp.Packet) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streams[streamID] = append(p.streams[streamID], tapPacket{now, pkt})
}

func (p *packetTap) snapshot(streamID string) []tapPacket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.streams[streamID])
}

// span is the time between the first and last packet with a payload.
func span(pkts []tapPacket) time.Duration {
	var first, last time.Time
	for _, p := range pkts {
		if len(p.pkt.Payload) == 0 {
			continue
		}
		if first.IsZero() {
			first = p.at
		}
		last = p.at
	}
	return last.Sub(first)
}

// vp8Frames reassembles complete VP8 frames from RTP packets: duplicates
// dropped, packets ordered by (unwrapped) sequence number, a frame runs
// from the packet with S=1 and partition 0 to the one with the marker bit,
// all with one timestamp and no gap. It also returns how many frames were
// incomplete.
func vp8Frames(pkts []tapPacket) (frames [][]byte, incomplete int) {
	type seqPkt struct {
		ext uint64
		pkt *rtp.Packet
	}
	var ordered []seqPkt
	seen := map[uint64]bool{}
	var last uint64
	for i, p := range pkts {
		seq := p.pkt.SequenceNumber
		var ext uint64
		if i == 0 {
			ext = 1<<32 + uint64(seq)
		} else {
			d := int16(seq - uint16(last))
			ext = uint64(int64(last) + int64(d))
		}
		if i == 0 || ext > last {
			last = ext
		}
		if seen[ext] || len(p.pkt.Payload) == 0 { // duplicate or padding only
			continue
		}
		seen[ext] = true
		ordered = append(ordered, seqPkt{ext, p.pkt})
	}
	slices.SortFunc(ordered, func(a, b seqPkt) int { return int(int64(a.ext) - int64(b.ext)) })

	var cur []byte
	var curTS uint32
	var prev uint64
	open := false
	for _, sp := range ordered {
		var d codecs.VP8Packet
		body, err := d.Unmarshal(sp.pkt.Payload)
		if err != nil {
			if open {
				incomplete++
			}
			open = false
			continue
		}
		start := d.S == 1 && d.PID == 0
		switch {
		case start:
			if open {
				incomplete++
			}
			cur, curTS, open = slices.Clone(body), sp.pkt.Timestamp, true
		case open && sp.ext == prev+1 && sp.pkt.Timestamp == curTS:
			cur = append(cur, body...)
		default:
			if open {
				incomplete++
			}
			open = false
		}
		prev = sp.ext
		if open && sp.pkt.Marker {
			frames = append(frames, cur)
			open = false
		}
	}
	return frames, incomplete
}

// hasKeyFrame reports whether a complete VP8 key frame is among pkts.
func hasKeyFrame(pkts []tapPacket) bool {
	frames, _ := vp8Frames(pkts)
	for _, f := range frames {
		if vp8PrefixLen(f) == prefixVP8Key {
			return true
		}
	}
	return false
}

// streamResult is what one forwarded track showed.
type streamResult struct {
	stream, sender, kind string
	units                int // audio packets or complete video frames
	trailer              int // ending in 0x01
	opened               int // decrypted with S
	keyFrames            int // VP8 key frames decrypted
	incomplete           int // VP8 frames with missing packets
	wrongS               int // decrypted with a wrong S (must be 0)
	wrongSender          int // decrypted with another sender's key (must be 0)
	plainEqual           int // "ciphertext" equal to the plaintext (must be 0)
	badKeyFrame          int // key frames without the 9d 01 2a start code
	nonceReuse           int // same IV, different ciphertext (must be 0)
	firstErr             error
	epochs               map[uint32]bool
}

func (r streamResult) String() string {
	unit := "audio packets"
	if r.kind == "video" {
		unit = "video frames"
	}
	return fmt.Sprintf("%s (%s): %d/%d %s decrypted with S (%d with trailer version 0x01, %d key frames, %d incomplete frames skipped, key epochs %d); wrong S opened %d, other sender's key opened %d",
		r.stream, r.kind, r.opened, r.units, unit, r.trailer, r.keyFrames, r.incomplete, len(r.epochs), r.wrongS, r.wrongSender)
}

// ivSeen detects a repeated IV under a sender's key with different
// ciphertext (shared across the sender's tracks, as the counter is).
type ivSeen map[string]map[string][]byte // sender → IV → ciphertext

func (m ivSeen) reused(sender string, f openedFrame) bool {
	if m[sender] == nil {
		m[sender] = map[string][]byte{}
	}
	iv := string(e2eeIV(f.keyID, f.counter))
	if old, ok := m[sender][iv]; ok {
		return !bytes.Equal(old, f.body)
	}
	m[sender][iv] = f.body
	return false
}

// checkUnit tries one forwarded audio packet or video frame.
func (r *streamResult) checkUnit(s, wrong []byte, otherSender string, ivs ivSeen, frame []byte, prefixLen int) {
	r.units++
	if len(frame) > 0 && frame[len(frame)-1] == e2eeVersion {
		r.trailer++
	}
	if wrong != nil {
		if _, err := e2eeOpen(wrong, r.sender, frame, prefixLen); err == nil {
			r.wrongS++
		}
	}
	if s != nil && otherSender != "" {
		if _, err := e2eeOpen(s, otherSender, frame, prefixLen); err == nil {
			r.wrongSender++
		}
	}
	if s == nil {
		return
	}
	f, err := e2eeOpen(s, r.sender, frame, prefixLen)
	if err != nil {
		if r.firstErr == nil {
			r.firstErr = fmt.Errorf("%w (frame of %d bytes, last bytes %x)", err, len(frame), frame[max(0, len(frame)-e2eeTrailerLen):])
		}
		return
	}
	r.opened++
	r.epochs[f.keyID] = true
	if len(f.plain) >= 4 && bytes.Equal(f.plain, f.body[:len(f.plain)]) {
		r.plainEqual++
	}
	if ivs.reused(r.sender, f) {
		r.nonceReuse++
	}
	if r.kind == "video" && prefixLen == prefixVP8Key {
		r.keyFrames++
		if !bytes.Equal(frame[3:6], []byte{0x9d, 0x01, 0x2a}) {
			r.badKeyFrame++
		}
	}
}

// TestE2EEServerSeesCiphertextOnly runs a real two-browser call and taps
// it with a Go participant (a colleague advisor) that receives exactly
// what the SFU forwards. Every audio packet and every complete video frame
// must decrypt under the key derived from S, the secret in the invite
// link's fragment; a wrong S and another sender's key must decrypt none;
// the browsers must still decode each other's media; and S must appear
// nowhere in the server's data directory.
func TestE2EEServerSeesCiphertextOnly(t *testing.T) {
	var dataDir string
	srv := startServer(t, func(c *config.Config) { dataDir = c.DataDir })
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	// 1. A real call between two browsers.
	invite := loginAndCreate(t, adv, srv.base, "Vertraulich")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	callPath := within(t, adv, 5*time.Second, "call page path", chromedp.Evaluate[string](`location.pathname`))
	escaped, ok := strings.CutPrefix(callPath, "/app/call/")
	consultationID, err := url.PathUnescape(escaped)
	if !ok || err != nil || consultationID == "" {
		t.Fatalf("advisor's call page is %q, want /app/call/<id> (%v)", callPath, err)
	}

	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })

	// S from the invite link's fragment, as the customer's browser got it.
	var secret []byte
	var secretProblem string
	if u, err := url.Parse(invite); err != nil {
		secretProblem = fmt.Sprintf("invite link %q does not parse: %v", invite, err)
	} else if u.Fragment == "" {
		secretProblem = fmt.Sprintf("the invite link %q carries no #<b64u S> fragment", invite)
	} else if b, err := base64.RawURLEncoding.DecodeString(u.Fragment); err != nil || len(b) != e2eeSecretLen {
		secretProblem = fmt.Sprintf("the invite link's fragment %q is not 32 bytes in unpadded base64url (%d bytes, %v)", u.Fragment, len(b), err)
	} else {
		secret = b
	}

	// 2. The tap: the colleague advisor joins through callclient and
	// records every RTP packet the SFU forwards to it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	owner, err := callclient.Staff(ctx, srv.base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	link, err := owner.ColleagueLink(ctx, consultationID)
	if err != nil {
		t.Fatal(err)
	}
	col, err := callclient.Staff(ctx, srv.base, colleagueName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	if got, err := col.AcceptColleague(ctx, link); err != nil || got != consultationID {
		t.Fatalf("colleague link leads to %q (%v), want %s", got, err, consultationID)
	}
	tap := &packetTap{streams: map[string][]tapPacket{}}
	opts := clientOpts(t, "tap")
	opts.DiscardPayloads = true
	opts.OnPacket = tap.add
	tc, err := callclient.Dial(ctx, col, consultationID, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { // leave like a participant, so the SFU stops offering to the tap
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer lcancel()
		if err := tc.Leave(lctx); err != nil {
			t.Logf("tap leaves: %v", err)
		}
	}()
	if err := tc.WaitState(ctx, callclient.StateJoined); err != nil {
		t.Fatal(err)
	}
	// The browsers' audio and camera tracks, from the roster.
	type want struct{ stream, sender, kind string }
	var wants []want
	err = tc.WaitRoster(ctx, func(ps []callclient.Participant) bool {
		wants = nil
		for _, p := range ps {
			if string(p.ID) != advID && string(p.ID) != custID {
				continue
			}
			for tid, src := range p.Tracks {
				switch src {
				case "audio":
					wants = append(wants, want{string(p.ID) + "~" + tid, string(p.ID), "audio"})
				case "camera":
					wants = append(wants, want{string(p.ID) + "~" + tid, string(p.ID), "video"})
				}
			}
		}
		return len(wants) == 4
	})
	if err != nil {
		t.Fatalf("roster with audio and camera of both browsers: %v (roster %+v)", err, tc.Roster())
	}
	slices.SortFunc(wants, func(a, b want) int { return strings.Compare(a.stream, b.stream) })
	err = tc.WaitTracks(ctx, func(m map[string]*callclient.RemoteTrack) bool {
		for _, w := range wants {
			if m[w.stream] == nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("tap receives %v: %v", wants, err)
	}
	// Record for at least the window, and until every video stream brought
	// a key frame (asked for by PLI, repeated beyond the SFU's rate limit).
	const window = 3 * time.Second
	start := time.Now()
	for {
		missing := 0
		for _, w := range wants {
			if w.kind == "video" && !hasKeyFrame(tap.snapshot(w.stream)) {
				missing++
				if err := tc.SendPLI(w.stream); err != nil {
					t.Fatal(err)
				}
			}
		}
		if el := time.Since(start); el >= window && (missing == 0 || el > 15*time.Second) {
			break
		}
		time.Sleep(600 * time.Millisecond)
	}
	t.Logf("tap recorded for %s", time.Since(start).Round(time.Millisecond))
	if err := tc.Err(); err != nil {
		t.Errorf("tap client: %v", err)
	}

	// 3. The proofs.
	wrong := bytes.Repeat([]byte{0xa5}, e2eeSecretLen) // negative control
	if secret != nil {
		wrong = slices.Clone(secret)
		wrong[0] ^= 0x80
	}
	ivs := ivSeen{}
	var results []streamResult
	var audioOpened, videoOpened, keyFrames int
	for _, w := range wants {
		pkts := tap.snapshot(w.stream)
		if sp := span(pkts); sp < 2*time.Second {
			t.Errorf("%s: only %s of packets recorded, want ≥ 2s", w.stream, sp)
		}
		other := advID
		if w.sender == advID {
			other = custID
		}
		r := streamResult{stream: w.stream, sender: w.sender, kind: w.kind, epochs: map[uint32]bool{}}
		if w.kind == "audio" {
			for _, p := range pkts {
				if len(p.pkt.Payload) == 0 {
					continue
				}
				r.checkUnit(secret, wrong, other, ivs, p.pkt.Payload, prefixOpus) // one Opus frame per packet
			}
			audioOpened += r.opened
		} else {
			frames, incomplete := vp8Frames(pkts)
			r.incomplete = incomplete
			for i, f := range frames {
				if os.Getenv("PARLEY_E2E_DEBUG") == "1" && (i < 3 || f[0]&1 == 0) {
					t.Logf("DEBUG %s frame %d: %d bytes, starts %x", w.stream, i, len(f), f[:min(len(f), 12)])
				}
				r.checkUnit(secret, wrong, other, ivs, f, vp8PrefixLen(f))
			}
			videoOpened += r.opened
			keyFrames += r.keyFrames
		}
		t.Logf("tap %s", r)
		results = append(results, r)
	}

	notE2EE := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("media is not end-to-end encrypted: "+format, args...)
	}
	if secret == nil {
		trailers := 0
		for _, r := range results {
			trailers += r.trailer
		}
		notE2EE("%s; %d of the forwarded frames end in 0x01 (but no S to check them)", secretProblem, trailers)
	}
	for _, r := range results {
		switch {
		case r.kind == "audio" && r.units < 50:
			t.Errorf("%s: only %d audio packets, too few to prove anything", r.stream, r.units)
		case r.kind == "video" && r.units < 10:
			t.Errorf("%s: only %d complete video frames, too few to prove anything", r.stream, r.units)
		}
		if r.opened == 0 {
			notE2EE("%s: none of %d forwarded %s units decrypts with the key from the invite link's S (%d end in 0x01); first failure: %v",
				r.stream, r.units, r.kind, r.trailer, r.firstErr)
		}
		if r.kind == "audio" && r.opened*100 < r.units*95 {
			notE2EE("%s: only %d of %d audio packets decrypt (want ≥ 95%%); first failure: %v", r.stream, r.opened, r.units, r.firstErr)
		}
		if r.kind == "video" && r.opened != r.units {
			notE2EE("%s: %d of %d complete video frames do not decrypt; first failure: %v", r.stream, r.units-r.opened, r.units, r.firstErr)
		}
		if r.kind == "video" && r.keyFrames == 0 {
			t.Errorf("%s: no key frame within 15s despite repeated PLIs", r.stream)
		}
		if r.badKeyFrame > 0 {
			t.Errorf("%s: %d decrypted key frames lack the VP8 start code 9d 01 2a at bytes 3..5", r.stream, r.badKeyFrame)
		}
		if r.plainEqual > 0 {
			t.Errorf("%s: %d forwarded frame bodies equal their plaintext", r.stream, r.plainEqual)
		}
		if r.wrongS > 0 || r.wrongSender > 0 {
			t.Errorf("%s: negative control failed: %d units decrypt with a wrong S, %d with the other sender's key", r.stream, r.wrongS, r.wrongSender)
		}
		if r.nonceReuse > 0 {
			t.Errorf("%s: %d frames reuse an IV of their sender with different ciphertext", r.stream, r.nonceReuse)
		}
	}
	t.Logf("PROOF: the SFU forwarded only ciphertext: %d audio packets and %d video frames (%d key frames) decrypted with S from the invite link; wrong S and other sender's keys decrypted none",
		audioOpened, videoOpened, keyFrames)

	// The browsers, which hold S, decode and play that same media (checked
	// after the proof, so a browser-side playback problem does not hide
	// what the tap saw).
	flowing(t, cust, "customer", advID)
	flowing(t, adv, "advisor", custID)

	// 4. S never reached the server: not in the colleague link it made,
	// nowhere in its data directory (database, WAL, files).
	b64 := base64.RawURLEncoding.EncodeToString(secret)
	if strings.Contains(link, b64) {
		t.Errorf("the server's colleague link %q contains S", link)
	}
	if dataDir == "" {
		t.Log("data directory unknown; skipping the search for S in it")
		return
	}
	needles := map[string][]byte{
		"S (b64u)":        []byte(b64),
		"S (raw)":         secret,
		"S (std base64)":  []byte(base64.StdEncoding.EncodeToString(secret)),
		"S (hex)":         []byte(hex.EncodeToString(secret)),
		"S (b64u prefix)": []byte(b64[:20]),
	}
	files := 0
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s found in the server's data file %s", what, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("search the data directory: %v", err)
	}
	if files == 0 {
		t.Fatalf("no files in the data directory %s: the search would prove nothing", dataDir)
	}
	t.Logf("S appears in none of the %d files of the server's data directory", files)
}
