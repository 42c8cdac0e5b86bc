// Package storetest runs tests against both session stores: the memory
// store and a real Redis (redistest: PARLEY_TEST_REDIS_URL, set by
// scripts/test.sh; skipped without it, failing under CI=true).
package storetest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"
	"github.com/parley-video/parley/signaling"
)

// RecordingStore is a real session store that remembers the keys of the
// sessions put into it, so a test can ask the store about each later, and
// can be made to fail every Put as an unreachable store does.
type RecordingStore struct {
	signaling.SessionStore
	mu      sync.Mutex
	keys    []string
	failPut bool
}

var _ signaling.SessionStore = (*RecordingStore)(nil)

// Put records key and stores the session, or fails while FailPuts is on.
func (s *RecordingStore) Put(ctx context.Context, key string, se signaling.Session, ttl time.Duration) error {
	s.mu.Lock()
	fail := s.failPut
	if !fail {
		s.keys = append(s.keys, key)
	}
	s.mu.Unlock()
	if fail {
		return errors.New("dial tcp: connection refused")
	}
	return s.SessionStore.Put(ctx, key, se, ttl)
}

// FailPuts makes every later Put fail (true) or work again (false).
func (s *RecordingStore) FailPuts(fail bool) {
	s.mu.Lock()
	s.failPut = fail
	s.mu.Unlock()
}

// PutKeys returns the keys put so far, in order.
func (s *RecordingStore) PutKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.keys)
}

// Memory returns a RecordingStore over a fresh memory store.
func Memory() *RecordingStore {
	return &RecordingStore{SessionStore: signaling.NewMemoryStore()}
}

// EachStore runs f as subtest "memory" on a memory store and as "redis"
// on the test Redis under a fresh key prefix (deleted afterwards).
func EachStore(t *testing.T, f func(t *testing.T, store *RecordingStore)) {
	t.Run("memory", func(t *testing.T) { f(t, Memory()) })
	t.Run("redis", func(t *testing.T) {
		url := redistest.URL(t)
		rs, err := signaling.NewRedisStore(t.Context(), url, redistest.Prefix(t, url), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		f(t, &RecordingStore{SessionStore: rs})
	})
}
