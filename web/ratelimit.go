package web

import (
	"math"
	"sync"
	"time"
)

// limiter is an in-memory token bucket per key (e.g. an anonymised client
// address or a user name): n attempts per period, refilled continuously.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// limiterPruneAt is the bucket count above which full buckets are dropped.
const limiterPruneAt = 10000

func newLimiter(n int, period time.Duration, now func() time.Time) *limiter {
	return &limiter{
		burst:   float64(n),
		perSec:  float64(n) / period.Seconds(),
		now:     now,
		buckets: map[string]*bucket{},
	}
}

// allow takes one token from every key's bucket if each has one; otherwise
// it takes none and says how long until the emptiest bucket has a token.
func (l *limiter) allow(keys ...string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > limiterPruneAt {
		l.prune(now)
	}
	var wait time.Duration
	bs := make([]*bucket, len(keys))
	for i, k := range keys {
		b := l.buckets[k]
		if b == nil {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[k] = b
		}
		l.refill(b, now)
		if b.tokens < 1 {
			secs := (1 - b.tokens) / l.perSec
			wait = max(wait, time.Duration(math.Ceil(secs))*time.Second)
		}
		bs[i] = b
	}
	if wait > 0 {
		return false, wait
	}
	for _, b := range bs {
		b.tokens--
	}
	return true, 0
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.perSec)
	}
	b.last = now
}

// prune forgets buckets that are full again: they carry no information.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
