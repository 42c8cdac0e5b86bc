package web

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"time"
)

// errHashBusy: no password-hashing slot became free in time.
var errHashBusy = errors.New("web: password hashing is saturated")

// hashGate bounds how many password hashes (argon2id, 64 MiB each) run at
// once, so a login flood costs a fixed amount of memory and CPU. Waiters
// queue in two lanes: logins that present a valid device cookie for their
// user go first, so a known device gets the next free slot however long
// the ordinary queue is.
type hashGate struct {
	mu         sync.Mutex
	slots      int
	free       int
	maxWaiting int
	lanes      [2][]chan struct{} // 0: device-cookie logins, 1: the rest
	granted    int64              // slots handed out so far
}

func newHashGate(slots, maxWaiting int) *hashGate {
	return &hashGate{slots: max(1, slots), free: max(1, slots), maxWaiting: maxWaiting}
}

// acquire waits for a slot until ctx ends (errHashBusy, also when the
// queue is full). A nil error must be paired with release.
func (g *hashGate) acquire(ctx context.Context, priority bool) error {
	lane := 1
	if priority {
		lane = 0
	}
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.granted++
		g.mu.Unlock()
		return nil
	}
	if len(g.lanes[0])+len(g.lanes[1]) >= g.maxWaiting {
		g.mu.Unlock()
		return errHashBusy
	}
	ch := make(chan struct{})
	g.lanes[lane] = append(g.lanes[lane], ch)
	g.mu.Unlock()

	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	for i, w := range g.lanes[lane] {
		if w == ch {
			g.lanes[lane] = append(g.lanes[lane][:i], g.lanes[lane][i+1:]...)
			g.mu.Unlock()
			return errHashBusy
		}
	}
	g.granted-- // the slot was handed over just as ctx ended: pass it on
	g.mu.Unlock()
	g.release()
	return errHashBusy
}

// release frees a slot, handing it straight to the first waiter. It
// reports whether no hash runs any more.
func (g *hashGate) release() (idle bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for lane := range g.lanes {
		if len(g.lanes[lane]) > 0 {
			ch := g.lanes[lane][0]
			g.lanes[lane] = g.lanes[lane][1:]
			g.granted++
			close(ch)
			return false
		}
	}
	g.free++
	return g.free == g.slots
}

// memoryReturn hands the hashes' memory back to the operating system when
// hashing goes idle, at most once per memoryReturnEvery (later calls within
// that time schedule one trailing return): a burst of logins otherwise
// leaves the process holding slots × 64 MiB of garbage until the next
// periodic collection, about two minutes later.
type memoryReturn struct {
	mu      sync.Mutex
	last    time.Time
	pending *time.Timer
	closed  bool
}

const memoryReturnEvery = time.Second

func (m *memoryReturn) maybe(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.pending != nil {
		return
	}
	wait := memoryReturnEvery - now.Sub(m.last)
	if wait <= 0 {
		m.last = now
		debug.FreeOSMemory()
		return
	}
	m.pending = time.AfterFunc(wait, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.pending = nil
		if !m.closed {
			m.last = time.Now()
			debug.FreeOSMemory()
		}
	})
}

// close stops a scheduled return.
func (m *memoryReturn) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.pending != nil {
		m.pending.Stop()
		m.pending = nil
	}
}

// waiting returns the number of queued logins (tests).
func (g *hashGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.lanes[0]) + len(g.lanes[1])
}

// hashes returns how many slots were handed out so far (tests).
func (g *hashGate) hashes() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.granted
}
