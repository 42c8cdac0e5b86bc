package web

import (
	"context"
	"testing"
	"time"
)

func TestThrottleBackoff(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(3, time.Minute, func() time.Time { return now })
	attempt := func(key string, o attemptOutcome) (bool, time.Duration) {
		ok, wait := th.begin(key)
		if ok {
			th.end(key, o)
		}
		return ok, wait
	}
	// The budget: three failures pass, the third starts the backoff.
	for i := 0; i < 3; i++ {
		if ok, _ := attempt("a", attemptFailed); !ok {
			t.Fatalf("failure %d refused", i)
		}
	}
	// 1 s, 2 s, 4 s … capped at max; refused attempts do not count.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if ok, wait := attempt("a", attemptFailed); ok || wait != want {
			t.Fatalf("attempt in backoff: %v, wait %v; want refused, %v", ok, wait, want)
		}
		if ok, wait := attempt("a", attemptFailed); ok || wait != want {
			t.Fatalf("second refused attempt: %v %v (refusals must not lengthen the wait)", ok, wait)
		}
		now = now.Add(want)
		if ok, _ := attempt("a", attemptFailed); !ok {
			t.Fatalf("attempt after %v refused", want)
		}
	}
	for i := 0; i < 10; i++ {
		_, wait := probe(th, "a")
		if wait > time.Minute {
			t.Fatalf("wait %v beyond the cap", wait)
		}
		now = now.Add(wait)
		attempt("a", attemptFailed)
	}
	// Other keys are untouched.
	if ok, _ := attempt("b", attemptFailed); !ok {
		t.Fatal("key b refused")
	}
	// A success ends the backoff.
	now = now.Add(time.Minute)
	if ok, _ := attempt("a", attemptSucceeded); !ok {
		t.Fatal("attempt after the cap refused")
	}
	if ok, _ := attempt("a", attemptFailed); !ok {
		t.Fatal("after a success the budget is back")
	}

	// In flight: with a budget of 3, at most 3 parallel attempts.
	for i := 0; i < 3; i++ {
		if ok, _ := th.begin("c"); !ok {
			t.Fatalf("parallel attempt %d refused", i)
		}
	}
	if ok, wait := th.begin("c"); ok || wait != time.Second {
		t.Fatalf("4th parallel attempt: %v %v; want refused", ok, wait)
	}
	for i := 0; i < 3; i++ {
		th.end("c", attemptAborted)
	}
	// Below the budget failures drain (budget per minute); in backoff only
	// quiet ends it.
	attempt("d", attemptFailed)
	attempt("d", attemptFailed)
	now = now.Add(40 * time.Second) // drains 2
	for i := 0; i < 2; i++ {
		if ok, _ := attempt("d", attemptFailed); !ok {
			t.Fatalf("drained key refused at %d", i)
		}
	}
	now = now.Add(throttleQuiet - time.Second)
	attempt("a", attemptFailed) // still counts; fine either way
	if ok, _ := attempt("e", attemptAborted); !ok {
		t.Fatal("aborted attempt refused")
	}
	// Pruning keeps the map bounded.
	for i := 0; i < throttlePruneAt+10; i++ {
		attempt("k"+string(rune(i)), attemptAborted)
	}
	if len(th.entries) > throttlePruneAt {
		t.Fatalf("%d entries after pruning", len(th.entries))
	}
}

func TestThrottleQuietEndsBackoff(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(2, 5*time.Minute, func() time.Time { return now })
	for i := 0; i < 6; i++ {
		_, wait := probe(th, "a")
		now = now.Add(wait)
		if ok, _ := th.begin("a"); ok {
			th.end("a", attemptFailed)
		}
	}
	if ok, _ := probe(th, "a"); ok {
		t.Fatal("no backoff after 6 failures")
	}
	now = now.Add(throttleQuiet)
	for i := 0; i < 2; i++ {
		ok, _ := th.begin("a")
		if !ok {
			t.Fatalf("attempt %d after quiet refused", i)
		}
		th.end("a", attemptFailed)
	}
}

func TestHashGatePriority(t *testing.T) {
	g := newHashGate(1, 3)
	ctx := t.Context()
	if err := g.acquire(ctx, false); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	start := func(name string, prio bool) {
		go func() {
			if err := g.acquire(ctx, prio); err == nil {
				order <- name
				g.release()
			}
		}()
	}
	waitFor := func(n int) {
		for g.waiting() < n {
			time.Sleep(time.Millisecond)
		}
	}
	start("normal1", false)
	waitFor(1)
	start("normal2", false)
	waitFor(2)
	start("device", true)
	waitFor(3)
	// The queue is full: more are refused at once.
	if err := g.acquire(ctx, true); err != errHashBusy {
		t.Fatalf("acquire on a full queue: %v", err)
	}
	// A deadline ends the wait.
	g.maxWaiting = 4
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := g.acquire(short, false); err != errHashBusy {
		t.Fatalf("acquire past its deadline: %v", err)
	}
	g.release()
	for _, want := range []string{"device", "normal1", "normal2"} {
		if got := <-order; got != want {
			t.Fatalf("slot went to %s; want %s", got, want)
		}
	}
	if g.free != 1 || g.waiting() != 0 {
		t.Fatalf("free %d, waiting %d after all released", g.free, g.waiting())
	}
}

// probe asks whether key would be admitted, without an attempt.
func probe(th *throttle, key string) (bool, time.Duration) {
	ok, wait := th.begin(key)
	if ok {
		th.end(key, attemptAborted)
	}
	return ok, wait
}
