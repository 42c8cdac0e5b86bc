package records

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestConsultationCapHoldsUnderConcurrency: concurrent creations never
// exceed the cap; consultations older than openSince do not count.
func TestConsultationCapHoldsUnderConcurrency(t *testing.T) {
	forEachBackend(t, testConsultationCapHoldsUnderConcurrency)
}

func testConsultationCapHoldsUnderConcurrency(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	anna := mustUser(t, s, "anna", RoleAdvisor)
	old, _, err := s.CreateConsultation(ctx, anna.ID, "old", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Hour)
	since := now.Add(-time.Hour) // "old" has outlived its maximum duration
	var mu sync.Mutex
	var ok, tooMany int
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			_, _, err := s.CreateConsultationCapped(ctx, anna.ID, "", time.Hour, 3, since)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrTooMany):
				tooMany++
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 3 || tooMany != 9 {
		t.Fatalf("%d created, %d refused; want 3 and 9", ok, tooMany)
	}
	if _, err := s.EndConsultation(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
}
