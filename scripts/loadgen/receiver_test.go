package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

func payload(src uint16, seq uint32, n int) []byte {
	b := make([]byte, n)
	fillPayload(b, 0, src, seq, 0)
	return b
}

func TestCheckPayloadCatchesEveryBitFlip(t *testing.T) {
	b := payload(3, 42, 1200)
	src, seq, _, ok := checkPayload(b)
	if !ok || src != 3 || seq != 42 {
		t.Fatalf("checkPayload = %d, %d, %v", src, seq, ok)
	}
	for i := 1; i < len(b); i++ { // byte 0 is the codec byte, not covered by the magic
		for bit := range 8 {
			b[i] ^= 1 << bit
			if _, _, _, ok := checkPayload(b); ok {
				t.Fatalf("flip of byte %d bit %d not detected", i, bit)
			}
			b[i] ^= 1 << bit
		}
	}
	if _, _, _, ok := checkPayload(b[:len(b)-1]); ok {
		t.Fatal("truncated payload not detected")
	}
	if _, _, _, ok := checkPayload(nil); ok {
		t.Fatal("empty payload not detected")
	}
}

// TestReceiverCounts feeds a receiver what a broken forwarder might
// deliver and checks that each fault is counted as what it is.
func TestReceiverCounts(t *testing.T) {
	const src = 7
	rx := newReceiver("rx")
	rx.expectTrack("cam", src)
	s := &source{id: src}
	win := func(a, b uint32) figures {
		return evaluate(window{start: map[*source]uint32{s: a}, end: map[*source]uint32{s: b}}, []want{{rx: rx, src: s}})
	}
	for seq := range uint32(10) {
		rx.recordAt(int64(seq)*1000+2_000_000, "cam", payload(src, seq, 1200), 12) // 2 ms after sending at 0
	}
	f := win(0, 10)
	if f.received != 10 || f.loss != 0 || f.counts != (counts{}) {
		t.Fatalf("clean run: %+v", f)
	}
	if f.p50 < 1.9 || f.p50 > 2.1 {
		t.Fatalf("p50 = %v ms, want ~2", f.p50)
	}
	if f.bytes != 10*1212 {
		t.Fatalf("bytes = %d", f.bytes)
	}

	rx.reset()
	rx.record("cam", payload(src, 5, 1200), 12) // late, from before the reset
	feed := func(track string, b []byte) { rx.record(track, b, 12) }
	for seq := uint32(10); seq < 20; seq++ {
		b := payload(src, seq, 1200)
		switch seq {
		case 12: // dropped
		case 13:
			b[600] ^= 0x40
			feed("cam", b)
		case 14:
			feed("cam", b[:1000])
		case 15:
			feed("cam", b)
			feed("cam", b)
		case 16:
			feed("mic", b) // right packet, wrong track
		case 17:
			// delivered after 18
		case 18:
			feed("cam", b)
			feed("cam", payload(src, 17, 1200))
		default:
			feed("cam", b)
		}
	}
	feed("cam", payload(src+1, 3, 1200)) // a source nobody announced on this track
	got := rx.snapshot()
	want := counts{corrupt: 2, wrong: 2, dup: 1, reorder: 1, stale: 1}
	if got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	f = win(10, 20)
	if f.expected != 10 || f.received != 6 || f.loss < 0.399 || f.loss > 0.401 {
		t.Fatalf("faulty run: expected %d, received %d, loss %v; want 10, 6 (12 dropped, 13 and 14 broken, 16 misrouted), 0.4",
			f.expected, f.received, f.loss)
	}
	if f.counts.bad() == 0 {
		t.Fatal("bad() is 0 for corrupt and misrouted packets")
	}
}

// TestFloorRelay runs the floor through the in-process relay on
// loopback: intact, then as a broken forwarder that corrupts, drops,
// duplicates and reorders. The receivers must see none of it first and
// all of it then.
func TestFloorRelay(t *testing.T) {
	run := func(t *testing.T, mangle func(uint64, []byte) [][]byte) figures {
		r, err := newRelay()
		if err != nil {
			t.Skipf("no loopback UDP: %v", err)
		}
		r.mangle = mangle
		done := make(chan struct{})
		go func() { r.serve(); close(done) }()
		defer func() { r.conn.Close(); <-done }()
		rig, err := newFloorRig(r.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer rig.close()
		cl, err := rig.call("test", 3) // one publisher, two subscribers
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.publish(ctx, cl.members[0]); err != nil {
			t.Fatal(err)
		}
		if err := cl.waitFlowing(ctx); err != nil {
			t.Fatal(err)
		}
		for _, rx := range cl.receivers() {
			rx.reset()
		}
		w := measure(cl.sources(), []int{0}, 50*time.Millisecond, 1, 500*time.Millisecond)
		return evaluate(w[0], cl.wants())
	}
	t.Run("intact", func(t *testing.T) {
		f := run(t, nil)
		if f.received < 100 || f.loss != 0 || f.counts != (counts{}) {
			t.Fatalf("intact relay: received %d, loss %v, %+v", f.received, f.loss, f.counts)
		}
	})
	t.Run("broken", func(t *testing.T) {
		var held []byte
		f := run(t, func(n uint64, b []byte) [][]byte {
			switch {
			case n%10 == 0: // corrupt a payload byte
				c := slices.Clone(b)
				c[len(c)-10] ^= 1
				return [][]byte{c}
			case n%13 == 0: // drop
				return nil
			case n%17 == 0: // duplicate
				return [][]byte{b, b}
			case n%23 == 0: // misroute: another SSRC, i.e. another track
				c := slices.Clone(b)
				c[8] ^= 0xff
				return [][]byte{c}
			case n%19 == 0: // hold back, send after the next one
				held = slices.Clone(b)
				return nil
			case held != nil:
				h := held
				held = nil
				return [][]byte{b, h}
			}
			return [][]byte{b}
		})
		if f.corrupt == 0 || f.wrong == 0 || f.dup == 0 || f.reorder == 0 || f.loss == 0 {
			t.Fatalf("broken relay not caught: loss %v, %+v", f.loss, f.counts)
		}
	})
}
