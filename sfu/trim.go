package sfu

import (
	"runtime/debug"
	"sync"
	"time"
)

// Returning memory after a peak of calls.
//
// Calls leave their connections' buffers, packets and goroutine stacks
// behind as free memory of the Go heap. The runtime hands free memory back
// to the operating system slowly, and an idle node runs no garbage
// collection for minutes, so a node that carried a peak kept the peak's
// RSS long after it ended (the overload phase of `make bench`,
// docs/BENCHMARKS.md). When the participants have fallen to half their
// peak or less, trimmer returns what is free a few seconds later (a
// collection and a scavenge: a few milliseconds of CPU per hundred MiB),
// at most once per trimDelay.

const (
	// trimMinPeak: smaller peaks are not worth a collection.
	trimMinPeak = 8
	// trimDelay lets the leaving participants' connections close first.
	trimDelay = 5 * time.Second
)

type trimmer struct {
	free  func() // debug.FreeOSMemory; tests count calls
	delay time.Duration

	mu      sync.Mutex
	peers   int
	peak    int
	pending *time.Timer
	closed  bool
	trims   int
}

func newTrimmer() *trimmer { return &trimmer{free: debug.FreeOSMemory, delay: trimDelay} }

func (t *trimmer) joined() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.peers++
	t.peak = max(t.peak, t.peers)
	t.mu.Unlock()
}

func (t *trimmer) left() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.peers--
	if t.closed || t.pending != nil || t.peak < trimMinPeak || t.peers > t.peak/2 {
		return
	}
	t.pending = time.AfterFunc(t.delay, t.trim)
}

func (t *trimmer) trim() {
	t.free()
	t.mu.Lock()
	t.peak = t.peers
	t.pending = nil
	t.trims++
	t.mu.Unlock()
}

func (t *trimmer) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.pending != nil {
		t.pending.Stop()
		t.pending = nil
	}
}
