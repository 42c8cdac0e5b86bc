package sfu

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestTrimAfterPeak: memory is returned once the participants fell to
// half a peak of at least trimMinPeak, once per fall, not for small calls.
func TestTrimAfterPeak(t *testing.T) {
	var frees atomic.Int32
	tr := &trimmer{free: func() { frees.Add(1) }, delay: 10 * time.Millisecond}
	for range 3 {
		tr.joined()
	}
	for range 3 {
		tr.left()
	}
	time.Sleep(50 * time.Millisecond)
	if n := frees.Load(); n != 0 {
		t.Fatalf("a peak of 3 trimmed %d times", n)
	}
	for range 20 {
		tr.joined()
	}
	for range 9 {
		tr.left()
	}
	time.Sleep(50 * time.Millisecond)
	if n := frees.Load(); n != 0 {
		t.Fatalf("11 of 20 left: trimmed %d times", n)
	}
	for range 6 {
		tr.left() // 5 left of 20
	}
	time.Sleep(50 * time.Millisecond)
	if n := frees.Load(); n != 1 {
		t.Fatalf("5 of 20 left: trimmed %d times, want 1", n)
	}
	// The peak is now 5: falling to 2 is below trimMinPeak.
	for range 3 {
		tr.left()
	}
	time.Sleep(50 * time.Millisecond)
	if n := frees.Load(); n != 1 {
		t.Fatalf("trimmed %d times, want still 1", n)
	}
	tr.close()
	var nilTrimmer *trimmer
	nilTrimmer.joined()
	nilTrimmer.left()
	nilTrimmer.close()
}
