package web

import (
	"context"
	"testing"
	"time"
)

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
