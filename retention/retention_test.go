package retention_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/records/recordstest"
	"github.com/parley-video/parley/retention"
)

// overlap is an Expirer shared by the sweepers of several nodes: it ends
// due consultations through its node's records and notes how many sweeps
// were inside it at once. The pause widens the window in which an
// unguarded second sweep would run alongside.
type overlap struct {
	rec      *records.Store
	inside   *atomic.Int32
	maxIn    *atomic.Int32
	maxAge   time.Duration
	pauseFor time.Duration
}

func (o overlap) ExpireDue(ctx context.Context) ([]consultation.ID, error) {
	n := o.inside.Add(1)
	defer o.inside.Add(-1)
	for {
		m := o.maxIn.Load()
		if n <= m || o.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(o.pauseFor)
	ids, err := o.rec.ExpireConsultations(ctx, o.maxAge)
	out := make([]consultation.ID, len(ids))
	for i, id := range ids {
		out[i] = consultation.ID(id)
	}
	return out, err
}

// TestSweepersOfTwoNodesTakeTurns: two nodes' sweepers on one PostgreSQL
// schema, sweeping side by side many times, never sweep at the same time
// (the one that finds the other sweeping skips), and retention_runs counts
// each expired consultation once.
func TestSweepersOfTwoNodesTakeTurns(t *testing.T) {
	url := recordstest.PostgresURL(t)
	ctx := t.Context()
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := func() time.Time { return now }
	var stores [2]*records.Store
	for i := range stores {
		s, err := records.OpenPostgres(ctx, url, 4)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		s.SetClock(clock)
		stores[i] = s
	}

	u, err := stores[0].CreateUser(ctx, "anna", "Anna Berg", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	const expired = 12
	for range expired {
		if _, _, err := stores[0].CreateConsultation(ctx, u.ID, "Mortgage", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(3 * time.Hour) // all past the maximum duration of 2h
	for _, s := range stores {
		s.SetClock(func() time.Time { return now })
	}

	var inside, maxIn atomic.Int32
	var sweepers [2]*retention.Sweeper
	for i, s := range stores {
		sweepers[i] = &retention.Sweeper{
			Records: s,
			Config:  config.RetentionConfig{}, // everything due at once
			Consultations: overlap{rec: s, inside: &inside, maxIn: &maxIn,
				maxAge: 2 * time.Hour, pauseFor: 20 * time.Millisecond},
		}
	}
	const rounds = 25
	for r := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, sw := range sweepers {
			wg.Go(func() {
				<-start
				if _, err := sw.Sweep(ctx); err != nil {
					t.Errorf("round %d: %v", r, err)
				}
			})
		}
		close(start)
		wg.Wait()
		now = now.Add(time.Second) // each round's runs at a time of their own
	}

	if m := maxIn.Load(); m != 1 {
		t.Errorf("%d sweeps ran at the same time, want 1", m)
	}
	skipped := sweepers[0].Skipped() + sweepers[1].Skipped()
	if skipped == 0 {
		t.Errorf("no sweep was skipped in %d rounds of two: the sweeps never met", rounds)
	}
	runs, err := stores[1].RetentionRuns(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int{}
	perAt := map[time.Time]map[string]int{}
	for _, r := range runs {
		total[r.Category] += r.Deleted
		if perAt[r.At] == nil {
			perAt[r.At] = map[string]int{}
		}
		perAt[r.At][r.Category]++
	}
	for at, cats := range perAt {
		for cat, n := range cats {
			if n > 1 {
				t.Errorf("%s: %d runs recorded %s at once", at, n, cat)
			}
		}
	}
	for _, cat := range []string{retention.CatConsultationsEnded, retention.CatConsultations} {
		if total[cat] != expired {
			t.Errorf("retention_runs count %d %s, want %d (each once)", total[cat], cat, expired)
		}
	}
	t.Logf("%d sweeps skipped of %d", skipped, 2*rounds)
}

// TestSweepOnSQLiteRuns: with the records in SQLite (one node) a sweep is
// never skipped.
func TestSweepOnSQLiteRuns(t *testing.T) {
	s, err := records.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sw := &retention.Sweeper{Records: s}
	for range 3 {
		if _, err := sw.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := sw.Skipped(); n != 0 {
		t.Errorf("Skipped() = %d on SQLite, want 0", n)
	}
}
