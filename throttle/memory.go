package throttle

import (
	"context"
	"math"
	"sync"
	"time"
)

// Memory is the rule in this process's memory (one node).
type Memory struct {
	mu      sync.Mutex
	budget  float64
	max     time.Duration
	now     func() time.Time
	entries map[string]*strikes
}

type strikes struct {
	fails    float64   // failures (drained at budget/min until backoff)
	backoff  bool      // the budget is used up
	drained  time.Time // when fails was last drained
	lastFail time.Time
	until    time.Time // no attempt before
	inFlight int
}

// pruneAt is the entry count above which idle entries are dropped.
const pruneAt = 10000

// NewMemory returns the rule for budget failures per minute and a backoff
// of at most max; now is its clock (nil: time.Now).
func NewMemory(budget int, max time.Duration, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{budget: float64(max1(budget)), max: max, now: now, entries: map[string]*strikes{}}
}

// settle applies draining and the quiet reset to e.
func (t *Memory) settle(e *strikes, now time.Time) {
	if e.fails > 0 && now.Sub(e.lastFail) >= Quiet {
		e.fails, e.backoff = 0, false
	}
	if dt := now.Sub(e.drained); dt > 0 && !e.backoff {
		e.fails = max(0, e.fails-dt.Minutes()*t.budget)
	}
	e.drained = now
}

// Begin admits one attempt on key, or says how long to wait. An admitted
// attempt must be ended with End. It never fails.
func (t *Memory) Begin(_ context.Context, key string) (Attempt, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= pruneAt {
			t.prune(now)
		}
		e = &strikes{drained: now}
		t.entries[key] = e
	}
	t.settle(e, now)
	if now.Before(e.until) {
		return Attempt{Key: key, Wait: e.until.Sub(now)}, nil
	}
	// Attempts in flight may all fail: admit only what the budget covers,
	// and one at a time once it is used up.
	if e.inFlight > 0 && e.fails+float64(e.inFlight) >= t.budget {
		return Attempt{Key: key, Wait: time.Second}, nil
	}
	e.inFlight++
	return Attempt{Key: key, OK: true}, nil
}

// End closes an admitted attempt: failed (a wrong password), succeeded
// (reset the key), or aborted (the attempt never reached the password).
// It never fails.
func (t *Memory) End(_ context.Context, a Attempt, outcome Outcome) error {
	if !a.OK {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[a.Key]
	if e == nil {
		return nil
	}
	now := t.now()
	t.settle(e, now)
	e.inFlight = max(0, e.inFlight-1)
	switch outcome {
	case Succeeded:
		e.fails, e.backoff, e.until = 0, false, time.Time{}
	case Failed:
		e.fails++
		e.lastFail = now
		// No failure left in the budget: wait 1 s, then 2 s, 4 s …
		if over := math.Ceil(e.fails - t.budget + 1); over >= 1 {
			e.backoff = true
			d := time.Duration(math.Min(float64(t.max), float64(time.Second)*math.Pow(2, math.Min(over-1, 40))))
			e.until = now.Add(d)
		}
	}
	return nil
}

// prune forgets entries that carry no information any more.
func (t *Memory) prune(now time.Time) {
	for k, e := range t.entries {
		t.settle(e, now)
		if e.inFlight == 0 && e.fails < 1 && !now.Before(e.until) {
			delete(t.entries, k)
		}
	}
}
