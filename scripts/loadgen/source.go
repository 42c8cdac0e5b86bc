package main

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Media shapes: what a browser sends in a consultation.
const (
	audioInterval = 20 * time.Millisecond // Opus, 50 packets/s
	audioSize     = 80                    // bytes: 32 kbit/s
	videoFPS      = 30
)

// videoFrame are the packet sizes of one VP8 frame: 6,250 bytes, i.e.
// 1.5 Mbit/s at 30 frames/s in ~1,200-byte packets (180 packets/s).
var videoFrame = []int{1200, 1200, 1200, 1200, 1200, 250}

var sourceIDs atomic.Uint32

// source is one paced stream (audio or video) of generated payloads,
// written through write (a pion track or a plain UDP socket). One
// goroutine sends, so next is only written by it.
type source struct {
	id    uint16
	video bool
	write func([]byte) error
	next  atomic.Uint32 // sequence number of the next packet
	errs  atomic.Int64  // failed writes (their packets count as lost)
}

func newSource(video bool, write func([]byte) error) *source {
	return &source{id: uint16(sourceIDs.Add(1)), video: video, write: write}
}

// sendOne sends the next packet of n bytes.
func (s *source) sendOne(n int, first bool) {
	codec := byte(opusTOC)
	if s.video {
		codec = 0x00
		if first {
			codec = 0x10 // VP8 descriptor: S bit, partition 0
		}
	}
	b := make([]byte, n) // fresh: pion's NACK buffer may keep it
	seq := s.next.Load()
	fillPayload(b, codec, s.id, seq, nowNs())
	if err := s.write(b); err != nil {
		s.errs.Add(1)
	}
	s.next.Store(seq + 1)
}

// run paces the source until done is closed: one audio packet every 20 ms,
// or one video frame (a burst of packets) every 1/30 s. The first send is
// delayed by a random part of the interval, so many sources do not tick
// in lockstep.
func (s *source) run(done <-chan struct{}) {
	interval := audioInterval
	if s.video {
		interval = time.Second / videoFPS
	}
	select {
	case <-done:
		return
	case <-time.After(rand.N(interval)):
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if s.video {
			for i, n := range videoFrame {
				s.sendOne(n, i == 0)
			}
		} else {
			s.sendOne(audioSize, false)
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// startSources runs sources until the returned stop is called; stop waits
// for them and is idempotent.
func startSources(srcs []*source) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range srcs {
		wg.Go(func() { s.run(done) })
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
