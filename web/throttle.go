package web

import (
	"math"
	"sync"
	"time"
)

// throttle slows down failed logins per key (an anonymised client network,
// a user name, a device cookie). Below the budget, failures drain at
// budget per minute, so an occasional typo never matters. Once a failure
// uses up the budget, the key is in backoff: each further attempt must
// wait 1 s, 2 s, 4 s … up to max after the previous failure, and the
// backoff ends only after quiet (no failure for throttleQuiet) or a
// successful login on the key. Attempts are checked before any password is
// hashed, so refused attempts cost nothing; attempts in flight count, so a
// burst of parallel requests cannot overshoot the budget.
type throttle struct {
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

// throttleQuiet ends a backoff: a key without failures for this long
// starts over.
const throttleQuiet = 15 * time.Minute

// throttlePruneAt is the entry count above which idle entries are dropped.
const throttlePruneAt = 10000

func newThrottle(budget int, max time.Duration, now func() time.Time) *throttle {
	return &throttle{budget: float64(max1(budget)), max: max, now: now, entries: map[string]*strikes{}}
}

func max1(n int) int { return max(n, 1) }

// settle applies draining and the quiet reset to e.
func (t *throttle) settle(e *strikes, now time.Time) {
	if e.fails > 0 && now.Sub(e.lastFail) >= throttleQuiet {
		e.fails, e.backoff = 0, false
	}
	if dt := now.Sub(e.drained); dt > 0 && !e.backoff {
		e.fails = max(0, e.fails-dt.Minutes()*t.budget)
	}
	e.drained = now
}

// begin admits one attempt on key, or says how long to wait. An admitted
// attempt must be ended with end.
func (t *throttle) begin(key string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= throttlePruneAt {
			t.prune(now)
		}
		e = &strikes{drained: now}
		t.entries[key] = e
	}
	t.settle(e, now)
	if now.Before(e.until) {
		return false, e.until.Sub(now)
	}
	// Attempts in flight may all fail: admit only what the budget covers,
	// and one at a time once it is used up.
	if e.inFlight > 0 && e.fails+float64(e.inFlight) >= t.budget {
		return false, time.Second
	}
	e.inFlight++
	return true, 0
}

// end closes an attempt begun on key: failed (a wrong password), succeeded
// (reset the key), or neither (the attempt never reached the password).
func (t *throttle) end(key string, outcome attemptOutcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil {
		return
	}
	now := t.now()
	t.settle(e, now)
	e.inFlight = max(0, e.inFlight-1)
	switch outcome {
	case attemptSucceeded:
		e.fails, e.backoff, e.until = 0, false, time.Time{}
	case attemptFailed:
		e.fails++
		e.lastFail = now
		// No failure left in the budget: wait 1 s, then 2 s, 4 s …
		if over := math.Ceil(e.fails - t.budget + 1); over >= 1 {
			e.backoff = true
			d := time.Duration(math.Min(float64(t.max), float64(time.Second)*math.Pow(2, math.Min(over-1, 40))))
			e.until = now.Add(d)
		}
	}
}

type attemptOutcome int

const (
	attemptAborted attemptOutcome = iota
	attemptFailed
	attemptSucceeded
)

// prune forgets entries that carry no information any more.
func (t *throttle) prune(now time.Time) {
	for k, e := range t.entries {
		t.settle(e, now)
		if e.inFlight == 0 && e.fails < 1 && !now.Before(e.until) {
			delete(t.entries, k)
		}
	}
}
