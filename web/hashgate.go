package web

import (
	"context"
	"errors"
	"sync"
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
	free       int
	maxWaiting int
	lanes      [2][]chan struct{} // 0: device-cookie logins, 1: the rest
}

func newHashGate(slots, maxWaiting int) *hashGate {
	return &hashGate{free: max(1, slots), maxWaiting: maxWaiting}
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
	g.mu.Unlock()
	// The slot was handed over just as ctx ended: pass it on.
	g.release()
	return errHashBusy
}

// release frees a slot, handing it straight to the first waiter.
func (g *hashGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for lane := range g.lanes {
		if len(g.lanes[lane]) > 0 {
			ch := g.lanes[lane][0]
			g.lanes[lane] = g.lanes[lane][1:]
			close(ch)
			return
		}
	}
	g.free++
}

// waiting returns the number of queued logins (tests).
func (g *hashGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.lanes[0]) + len(g.lanes[1])
}
