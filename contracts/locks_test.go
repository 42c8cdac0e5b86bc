package contracts

import (
	"strconv"
	"sync"
	"testing"
)

// TestDocLocksSerialiseAndForget: one document's lock is exclusive, and
// no entry outlives its last holder or waiter.
func TestDocLocksSerialiseAndForget(t *testing.T) {
	var ls docLocks
	var wg sync.WaitGroup
	counters := make([]int, 4)
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				doc := (g + i) % len(counters)
				unlock := ls.local("d_" + strconv.Itoa(doc))
				counters[doc]++ // a data race without mutual exclusion (go test -race)
				unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counters {
		total += n
	}
	if total != 16*500 {
		t.Fatalf("counted %d; want %d", total, 16*500)
	}
	if n := ls.len(); n != 0 {
		t.Fatalf("%d lock entries after every holder left; want 0", n)
	}
	for i := range 1000 {
		ls.local("unknown-" + strconv.Itoa(i))()
	}
	if n := ls.len(); n != 0 {
		t.Fatalf("%d lock entries after 1000 lock/unlock of distinct ids; want 0", n)
	}
}
