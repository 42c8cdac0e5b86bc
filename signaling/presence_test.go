package signaling

import (
	"context"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"

	"github.com/prometheus/client_golang/prometheus"
)

// presenceNode is one "node": a hub with its own Redis connection pool on
// the shared key prefix.
func presenceNode(t *testing.T, url, prefix string, ttl time.Duration) *Hub {
	t.Helper()
	store, err := NewRedisStore(t.Context(), url, prefix, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.PresenceTTL = ttl
	h := NewHub(cfg, nil, store, discardLogger(), prometheus.NewRegistry())
	t.Cleanup(func() { h.Close(); store.Close() })
	return h
}

func presentIDs(t *testing.T, h *Hub) map[int64]PresenceState {
	t.Helper()
	ps, err := h.Presence(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]PresenceState{}
	for _, p := range ps {
		out[p.UserID] = p.State
	}
	return out
}

// Issue 16, item 2: an advisor set available through node A and away
// through node B stays away, although A still holds the advisor as
// available and refreshes presence every third of the TTL; A's other
// presence writes (a dropped call connection) do not bring it back
// either. A Redis that lost the entry still gets it written back.
func TestPresenceAcrossNodes(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	const ttl = 600 * time.Millisecond // A refreshes every 200 ms
	a := presenceNode(t, url, prefix, ttl)
	b := presenceNode(t, url, prefix, ttl)
	ctx := t.Context()

	if err := a.SetAvailable(ctx, 1, "Advisor 1", true); err != nil {
		t.Fatal(err)
	}
	if err := a.SetAvailable(ctx, 2, "Advisor 2", true); err != nil {
		t.Fatal(err)
	}
	if got := presentIDs(t, b); got[1] != PresenceAvailable || got[2] != PresenceAvailable {
		t.Fatalf("presence seen from B: %v", got)
	}
	if err := b.SetAvailable(ctx, 1, "Advisor 1", false); err != nil {
		t.Fatal(err)
	}
	// Several of A's refresh periods, and more than a TTL.
	time.Sleep(3 * ttl)
	a.staffDropped(1, "c1", true) // A's call connection of advisor 1 drops…
	time.Sleep(ttl / 2)
	a.staffDropped(1, "c1", false) // …and comes back
	time.Sleep(ttl)
	for name, h := range map[string]*Hub{"A": a, "B": b} {
		got := presentIDs(t, h)
		if _, ok := got[1]; ok {
			t.Fatalf("advisor 1 set away via B is %s again (seen from %s)", got[1], name)
		}
		if got[2] != PresenceAvailable {
			t.Fatalf("advisor 2 (not touched) lost its presence (seen from %s): %v", name, got)
		}
	}

	// Available again via A: that explicit change wins over B's "away".
	if err := a.SetAvailable(ctx, 1, "Advisor 1", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * ttl)
	if got := presentIDs(t, b); got[1] != PresenceAvailable {
		t.Fatalf("advisor 1 available again via A, seen from B: %v", got)
	}

	// Redis loses the entries (say, it restarted empty between two
	// calls): A writes its advisors back at its next refresh.
	rdb := rawRedis(t, url)
	defer rdb.Close()
	if err := rdb.Del(context.Background(), prefix+RedisKeyPresence, prefix+RedisKeyPresenceUser+"1", prefix+RedisKeyPresenceUser+"2").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := presentIDs(t, b)
		if got[1] == PresenceAvailable && got[2] == PresenceAvailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence not written back after redis lost it: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
