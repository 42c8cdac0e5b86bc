package throttle

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"
	"github.com/redis/go-redis/v9"
)

// rule is what Memory and Redis both are.
type rule interface {
	Begin(ctx context.Context, key string) (Attempt, error)
	End(ctx context.Context, a Attempt, o Outcome) error
}

var (
	_ rule = (*Memory)(nil)
	_ rule = (*Redis)(nil)
)

// maker builds a rule on the given clock (nil: the implementation's own).
type maker func(t *testing.T, budget int, max time.Duration, now func() time.Time) rule

// eachRule runs f against Memory and against Redis on the test server.
func eachRule(t *testing.T, f func(t *testing.T, mk maker)) {
	t.Run("memory", func(t *testing.T) {
		f(t, func(_ *testing.T, budget int, max time.Duration, now func() time.Time) rule {
			return NewMemory(budget, max, now)
		})
	})
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := redistest.Client(t)
		f(t, func(_ *testing.T, budget int, max time.Duration, now func() time.Time) rule {
			return NewRedis(rdb, prefix, budget, max, now)
		})
	})
}

// attempt begins and, when admitted, ends an attempt with o.
func attempt(t *testing.T, th rule, key string, o Outcome) (bool, time.Duration) {
	t.Helper()
	a, err := th.Begin(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if a.OK {
		if err := th.End(t.Context(), a, o); err != nil {
			t.Fatal(err)
		}
	}
	return a.OK, a.Wait
}

// probe asks whether key would be admitted, without counting an attempt.
func probe(t *testing.T, th rule, key string) (bool, time.Duration) {
	t.Helper()
	return attempt(t, th, key, Aborted)
}

func TestThrottleBackoff(t *testing.T) {
	eachRule(t, func(t *testing.T, mk maker) {
		now := time.Unix(1000, 0)
		th := mk(t, 3, time.Minute, func() time.Time { return now })
		// The budget: three failures pass, the third starts the backoff.
		for i := 0; i < 3; i++ {
			if ok, _ := attempt(t, th, "a", Failed); !ok {
				t.Fatalf("failure %d refused", i)
			}
		}
		// 1 s, 2 s, 4 s … capped at max; refused attempts do not count.
		for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			if ok, wait := attempt(t, th, "a", Failed); ok || wait != want {
				t.Fatalf("attempt in backoff: %v, wait %v; want refused, %v", ok, wait, want)
			}
			if ok, wait := attempt(t, th, "a", Failed); ok || wait != want {
				t.Fatalf("second refused attempt: %v %v (refusals must not lengthen the wait)", ok, wait)
			}
			now = now.Add(want)
			if ok, _ := attempt(t, th, "a", Failed); !ok {
				t.Fatalf("attempt after %v refused", want)
			}
		}
		for i := 0; i < 10; i++ {
			_, wait := probe(t, th, "a")
			if wait > time.Minute {
				t.Fatalf("wait %v beyond the cap", wait)
			}
			now = now.Add(wait)
			attempt(t, th, "a", Failed)
		}
		// Other keys are untouched.
		if ok, _ := attempt(t, th, "b", Failed); !ok {
			t.Fatal("key b refused")
		}
		// A success ends the backoff.
		now = now.Add(time.Minute)
		if ok, _ := attempt(t, th, "a", Succeeded); !ok {
			t.Fatal("attempt after the cap refused")
		}
		if ok, _ := attempt(t, th, "a", Failed); !ok {
			t.Fatal("after a success the budget is back")
		}

		// In flight: with a budget of 3, at most 3 parallel attempts.
		var held []Attempt
		for i := 0; i < 3; i++ {
			a, err := th.Begin(t.Context(), "c")
			if err != nil || !a.OK {
				t.Fatalf("parallel attempt %d refused: %v", i, err)
			}
			held = append(held, a)
		}
		if a, err := th.Begin(t.Context(), "c"); err != nil || a.OK || a.Wait != time.Second {
			t.Fatalf("4th parallel attempt: %+v %v; want refused", a, err)
		}
		for _, a := range held {
			if err := th.End(t.Context(), a, Aborted); err != nil {
				t.Fatal(err)
			}
		}
		// Below the budget failures drain (budget per minute); in backoff
		// only quiet ends it.
		attempt(t, th, "d", Failed)
		attempt(t, th, "d", Failed)
		now = now.Add(40 * time.Second) // drains 2
		for i := 0; i < 2; i++ {
			if ok, _ := attempt(t, th, "d", Failed); !ok {
				t.Fatalf("drained key refused at %d", i)
			}
		}
		if ok, _ := attempt(t, th, "e", Aborted); !ok {
			t.Fatal("aborted attempt refused")
		}
	})
}

func TestThrottleQuietEndsBackoff(t *testing.T) {
	eachRule(t, func(t *testing.T, mk maker) {
		now := time.Unix(1000, 0)
		th := mk(t, 2, 5*time.Minute, func() time.Time { return now })
		for i := 0; i < 6; i++ {
			_, wait := probe(t, th, "a")
			now = now.Add(wait)
			attempt(t, th, "a", Failed)
		}
		if ok, _ := probe(t, th, "a"); ok {
			t.Fatal("no backoff after 6 failures")
		}
		now = now.Add(Quiet)
		for i := 0; i < 2; i++ {
			if ok, _ := attempt(t, th, "a", Failed); !ok {
				t.Fatalf("attempt %d after quiet refused", i)
			}
		}
	})
}

// TestThrottleParallelBudget: however many attempts race (goroutines
// standing for nodes), no more than the budget are admitted at once.
func TestThrottleParallelBudget(t *testing.T) {
	eachRule(t, func(t *testing.T, mk maker) {
		th := mk(t, 4, time.Minute, nil)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var admitted []Attempt
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := th.Begin(context.Background(), "p")
				if err != nil {
					t.Error(err)
					return
				}
				if a.OK {
					mu.Lock()
					admitted = append(admitted, a)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(admitted) != 4 {
			t.Fatalf("%d of 20 parallel attempts admitted; want the budget, 4", len(admitted))
		}
		for _, a := range admitted {
			th.End(t.Context(), a, Failed)
		}
		// The budget is used up: the next attempt waits (the real clock:
		// at most the first backoff step).
		ok, wait := probe(t, th, "p")
		if ok || wait <= 0 || wait > time.Second {
			t.Fatalf("after the budget: admitted %v, wait %v; want refused for at most 1s", ok, wait)
		}
	})
}

// TestThrottleMemoryPrunes: the memory rule forgets idle keys.
func TestThrottleMemoryPrunes(t *testing.T) {
	th := NewMemory(3, time.Minute, nil)
	for i := 0; i < pruneAt+10; i++ {
		attempt(t, th, "k"+strconv.Itoa(i), Aborted)
	}
	if len(th.entries) > pruneAt {
		t.Fatalf("%d entries after pruning", len(th.entries))
	}
}

// TestThrottleRedisKeys: every key has a TTL and names no throttle key in
// clear; a dead Redis is an error wrapping ErrUnavailable, never an
// admission.
func TestThrottleRedisKeys(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	th := NewRedis(rdb, prefix, 2, time.Minute, nil)
	for i := 0; i < 3; i++ {
		attempt(t, th, "user:anna", Failed)
	}
	keys, err := rdb.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys written")
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(t.Context(), k).Result()
		if err != nil || ttl <= 0 || ttl > Quiet+AttemptTTL+time.Minute {
			t.Errorf("key %s: ttl %v %v", k, ttl, err)
		}
		if want := prefix + RedisKeyThrottle; len(k) < len(want) || k[:len(want)] != want {
			t.Errorf("key %s outside %s", k, want)
		}
		for _, s := range []string{"anna", "user"} {
			if strings.Contains(k[len(prefix):], s) {
				t.Errorf("key %s names %q", k, s)
			}
		}
	}

	// A Redis nobody answers at: a port that was just free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dead := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer dead.Close()
	down := NewRedis(dead, prefix, 2, time.Minute, nil)
	a, err := down.Begin(t.Context(), "user:anna")
	if !errors.Is(err, ErrUnavailable) || a.OK {
		t.Fatalf("Begin on a dead Redis: %+v, %v; want refused with ErrUnavailable", a, err)
	}
}
