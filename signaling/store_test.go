package signaling

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryStore(t *testing.T) {
	testSessionStore(t, func(t *testing.T) SessionStore { return NewMemoryStore() })
}

// testSessionStore is the contract of every SessionStore; the Redis store
// runs it too (store_redis_test.go). newStore returns an empty store (keys
// may be namespaced per test by the implementation).
func testSessionStore(t *testing.T, newStore func(t *testing.T) SessionStore) {
	session := func(c ConsultationID, p ParticipantID) Session {
		return Session{
			ConsultationID: c, ParticipantID: p, Role: RoleCustomer,
			Name: "Erika Mustermann", State: string(StateWaiting),
			LastSeen: time.Date(2026, 3, 1, 10, 0, 0, 123_000_000, time.UTC),
		}
	}
	equal := func(t *testing.T, got, want Session) {
		t.Helper()
		if !got.LastSeen.Equal(want.LastSeen) {
			t.Fatalf("LastSeen %v, want %v", got.LastSeen, want.LastSeen)
		}
		got.LastSeen, want.LastSeen = time.Time{}, time.Time{}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}

	t.Run("put get", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		want := session("c1", "p1")
		if err := s.Put(ctx, "k1", want, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, want)
	})
	t.Run("missing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(t.Context(), "nope"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("err %v, want ErrNoSession", err)
		}
	})
	t.Run("overwrite", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if err := s.Put(ctx, "k", session("c1", "p1"), time.Hour); err != nil {
			t.Fatal(err)
		}
		want := session("c1", "p1")
		want.State = string(StateJoined)
		if err := s.Put(ctx, "k", want, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, want)
	})
	t.Run("delete", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if err := s.Put(ctx, "k", session("c1", "p1"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "k"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("after delete: %v", err)
		}
		if err := s.Delete(ctx, "k"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
	})
	t.Run("ttl", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if err := s.Put(ctx, "short", session("c1", "p1"), 150*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "long", session("c1", "p2"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "short"); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			_, err := s.Get(ctx, "short")
			if errors.Is(err, ErrNoSession) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("session did not expire")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := s.Get(ctx, "long"); err != nil {
			t.Fatalf("other session: %v", err)
		}
	})
	t.Run("bad ttl", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(t.Context(), "k", session("c1", "p1"), 0); err == nil {
			t.Fatal("ttl 0 accepted")
		}
	})
	t.Run("delete consultation", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		for i := range 5 {
			c := ConsultationID("c1")
			if i%2 == 1 {
				c = "c2"
			}
			if err := s.Put(ctx, fmt.Sprint("k", i), session(c, ParticipantID(fmt.Sprint("p", i))), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteConsultation(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			_, err := s.Get(ctx, fmt.Sprint("k", i))
			if i%2 == 0 && !errors.Is(err, ErrNoSession) {
				t.Fatalf("k%d of c1 survived: %v", i, err)
			}
			if i%2 == 1 && err != nil {
				t.Fatalf("k%d of c2: %v", i, err)
			}
		}
		if err := s.DeleteConsultation(ctx, "none"); err != nil {
			t.Fatalf("unknown consultation: %v", err)
		}
	})
	testStoreExtensions(t, newStore, session)
	t.Run("canceled context", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Put(ctx, "k", session("c1", "p1"), time.Hour); err == nil {
			t.Fatal("put with canceled context succeeded")
		}
		if _, err := s.Get(ctx, "k"); err == nil || errors.Is(err, ErrNoSession) {
			t.Fatalf("get with canceled context: %v", err)
		}
	})
}

// testStoreExtensions is the rest of the SessionStore contract: Claim,
// Update, presence and waiting queues.
func testStoreExtensions(t *testing.T, newStore func(t *testing.T) SessionStore, session func(ConsultationID, ParticipantID) Session) {
	t.Run("claim", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if _, _, err := s.Claim(ctx, "k", "c_a"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("claim missing: %v", err)
		}
		want := session("c1", "p1")
		if err := s.Put(ctx, "k", want, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, prev, err := s.Claim(ctx, "k", "c_a")
		if err != nil || prev != "" || got.Owner != "c_a" || got.Generation != 1 || got.ParticipantID != "p1" || got.Name != want.Name {
			t.Fatalf("first claim: %+v %q %v", got, prev, err)
		}
		got, prev, err = s.Claim(ctx, "k", "c_b")
		if err != nil || prev != "c_a" || got.Owner != "c_b" || got.Generation != 2 {
			t.Fatalf("second claim: %+v %q %v", got, prev, err)
		}
		if g, err := s.Get(ctx, "k"); err != nil || g.Owner != "c_b" || g.Generation != 2 || !g.LastSeen.Equal(want.LastSeen) {
			t.Fatalf("get after claims: %+v %v", g, err)
		}
	})
	t.Run("claim concurrently", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		if err := s.Put(ctx, "k", session("c1", "p1"), time.Hour); err != nil {
			t.Fatal(err)
		}
		const n = 32
		type result struct {
			conn, prev string
			gen        uint64
		}
		results := make(chan result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				conn := fmt.Sprintf("c_%02d", i)
				got, prev, err := s.Claim(ctx, "k", conn)
				if err != nil {
					t.Error(err)
					return
				}
				results <- result{conn, prev, got.Generation}
			})
		}
		wg.Wait()
		close(results)
		// The claims form one chain: generations 1..n, each seeing the one
		// before it as previous owner; the last one owns the session.
		byGen := map[uint64]result{}
		for r := range results {
			if _, dup := byGen[r.gen]; dup {
				t.Fatalf("generation %d twice", r.gen)
			}
			byGen[r.gen] = r
		}
		if len(byGen) != n {
			t.Fatalf("%d claims succeeded", len(byGen))
		}
		for g := uint64(1); g <= n; g++ {
			r, ok := byGen[g]
			if !ok {
				t.Fatalf("no claim with generation %d", g)
			}
			if want := byGen[g-1].conn; r.prev != want {
				t.Fatalf("claim %d saw previous owner %q, want %q", g, r.prev, want)
			}
		}
		final, err := s.Get(ctx, "k")
		if err != nil || final.Owner != byGen[n].conn || final.Generation != n {
			t.Fatalf("final owner %+v %v, want %s", final, err, byGen[n].conn)
		}
	})
	t.Run("update", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		seen := time.Date(2026, 3, 1, 11, 0, 0, 5_000_000, time.UTC)
		if err := s.Update(ctx, "k", SessionUpdate{State: "joined", LastSeen: seen}); !errors.Is(err, ErrNoSession) {
			t.Fatalf("update missing: %v", err)
		}
		if _, err := s.Get(ctx, "k"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("update created a session: %v", err)
		}
		if err := s.Put(ctx, "k", session("c1", "p1"), 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Claim(ctx, "k", "c_a"); err != nil {
			t.Fatal(err)
		}
		u := SessionUpdate{State: string(StateReconnecting), Resume: string(StateJoined), LastSeen: seen}
		if err := s.Update(ctx, "k", u); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "k")
		if err != nil || got.State != u.State || got.Resume != u.Resume || !got.LastSeen.Equal(seen) ||
			got.Owner != "c_a" || got.Generation != 1 || got.Name != "Erika Mustermann" {
			t.Fatalf("after update: %+v %v", got, err)
		}
		// The TTL is kept.
		waitGone(t, func() error { _, err := s.Get(ctx, "k"); return err })
	})
	t.Run("presence", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		since := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		if ps, err := s.ListPresence(ctx); err != nil || len(ps) != 0 {
			t.Fatalf("empty presence: %v %v", ps, err)
		}
		for _, p := range []Presence{
			{UserID: 7, Name: "Anna Berg", State: PresenceAvailable, Since: since},
			{UserID: 3, Name: "Ben", State: PresenceAvailable, Since: since},
		} {
			if err := s.SetPresence(ctx, p, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		// Refresh with a new state and a short TTL.
		if err := s.SetPresence(ctx, Presence{UserID: 7, Name: "Anna Berg", State: PresenceReconnecting, Since: since}, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		ps, err := s.ListPresence(ctx)
		if err != nil || len(ps) != 2 || ps[0].UserID != 3 || ps[1].UserID != 7 || ps[1].State != PresenceReconnecting ||
			ps[1].Name != "Anna Berg" || !ps[1].Since.Equal(since) {
			t.Fatalf("presence: %+v %v", ps, err)
		}
		waitGone(t, func() error {
			ps, err := s.ListPresence(ctx)
			if err != nil {
				return err
			}
			if len(ps) == 1 && ps[0].UserID == 3 {
				return ErrNoSession
			}
			return nil
		})
		if err := s.ClearPresence(ctx, 3, "v-away", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.ClearPresence(ctx, 99, "v-away", time.Hour); err != nil {
			t.Fatalf("clear missing: %v", err)
		}
		if ps, err := s.ListPresence(ctx); err != nil || len(ps) != 0 {
			t.Fatalf("after clear: %+v %v", ps, err)
		}
		if err := s.SetPresence(ctx, Presence{UserID: 1}, 0); err == nil {
			t.Fatal("presence ttl 0 accepted")
		}
		if err := s.ClearPresence(ctx, 1, "v", 0); err == nil {
			t.Fatal("clear presence ttl 0 accepted")
		}
		if _, err := s.RefreshPresence(ctx, Presence{UserID: 1}, 0); err == nil {
			t.Fatal("refresh presence ttl 0 accepted")
		}
	})
	t.Run("presence versions", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		since := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		p1 := Presence{UserID: 5, Name: "Anna", State: PresenceAvailable, Since: since, Version: "v1"}
		refresh := func(p Presence, want PresenceRefresh) {
			t.Helper()
			if got, err := s.RefreshPresence(ctx, p, time.Hour); err != nil || got != want {
				t.Fatalf("RefreshPresence(%+v) = %v, %v; want %v", p, got, err, want)
			}
		}
		list := func() []Presence {
			t.Helper()
			ps, err := s.ListPresence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return ps
		}
		// Nothing stored: written back.
		refresh(p1, PresenceRestored)
		if ps := list(); len(ps) != 1 || ps[0].Version != "v1" || ps[0].State != PresenceAvailable {
			t.Fatalf("restored: %+v", ps)
		}
		// Its own version: refreshed, state updated.
		p1.State = PresenceReconnecting
		refresh(p1, PresenceRefreshed)
		if ps := list(); len(ps) != 1 || ps[0].State != PresenceReconnecting {
			t.Fatalf("refreshed: %+v", ps)
		}
		// "Away" (another node): a refresh of v1 writes nothing.
		if err := s.ClearPresence(ctx, 5, "v2", time.Hour); err != nil {
			t.Fatal(err)
		}
		refresh(p1, PresenceSuperseded)
		if ps := list(); len(ps) != 0 {
			t.Fatalf("away advisor listed after a stale refresh: %+v", ps)
		}
		// Available again (v3): v1 is still superseded, v3 refreshes.
		p3 := Presence{UserID: 5, Name: "Anna", State: PresenceAvailable, Since: since, Version: "v3"}
		if err := s.SetPresence(ctx, p3, time.Hour); err != nil {
			t.Fatal(err)
		}
		refresh(p1, PresenceSuperseded)
		refresh(p3, PresenceRefreshed)
		if ps := list(); len(ps) != 1 || ps[0].Version != "v3" || ps[0].State != PresenceAvailable {
			t.Fatalf("after v3: %+v", ps)
		}
		// The "away" marker expires with its ttl.
		if err := s.ClearPresence(ctx, 5, "v4", 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitGone(t, func() error {
			r, err := s.RefreshPresence(ctx, p3, time.Hour)
			if err == nil && r == PresenceRestored {
				return ErrNoSession
			}
			return err
		})
	})
	t.Run("waiting", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		add := func(c ConsultationID, p ParticipantID, since time.Time, ttl time.Duration) {
			t.Helper()
			if err := s.AddWaiting(ctx, c, Waiter{Participant: p, Since: since}, ttl); err != nil {
				t.Fatal(err)
			}
		}
		add("c1", "p2", t0.Add(2*time.Second), time.Hour)
		add("c1", "p1", t0.Add(time.Second), time.Hour)
		add("c2", "p9", t0, time.Hour)
		add("c1", "p2", t0.Add(time.Hour), time.Hour) // keeps its place
		ws, err := s.ListWaiting(ctx, "c1")
		if err != nil || len(ws) != 2 || ws[0].Participant != "p1" || ws[1].Participant != "p2" ||
			!ws[0].Since.Equal(t0.Add(time.Second)) || !ws[1].Since.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("waiting: %+v %v", ws, err)
		}
		if err := s.RemoveWaiting(ctx, "c1", "p1"); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveWaiting(ctx, "c1", "nobody"); err != nil {
			t.Fatalf("remove missing: %v", err)
		}
		if ws, err := s.ListWaiting(ctx, "c1"); err != nil || len(ws) != 1 || ws[0].Participant != "p2" {
			t.Fatalf("after remove: %+v %v", ws, err)
		}
		// DeleteConsultation takes the queue too.
		if err := s.DeleteConsultation(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		if ws, err := s.ListWaiting(ctx, "c1"); err != nil || len(ws) != 0 {
			t.Fatalf("after delete consultation: %+v %v", ws, err)
		}
		if ws, err := s.ListWaiting(ctx, "c2"); err != nil || len(ws) != 1 {
			t.Fatalf("other consultation: %+v %v", ws, err)
		}
		// A queue expires.
		add("c3", "p1", t0, 300*time.Millisecond)
		waitGone(t, func() error {
			ws, err := s.ListWaiting(ctx, "c3")
			if err == nil && len(ws) == 0 {
				return ErrNoSession
			}
			return err
		})
		if err := s.AddWaiting(ctx, "c1", Waiter{Participant: "p"}, 0); err == nil {
			t.Fatal("waiting ttl 0 accepted")
		}
	})
	t.Run("ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// waitGone polls get until it reports ErrNoSession (something expired).
func waitGone(t *testing.T, get func() error) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := get()
		if errors.Is(err, ErrNoSession) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSessionKeyAndCookie(t *testing.T) {
	c1, k1 := newCookie()
	c2, k2 := newCookie()
	if c1 == c2 || k1 == k2 {
		t.Fatal("cookies repeat")
	}
	if len(c1) != 43 { // 32 bytes, base64url without padding
		t.Fatalf("cookie length %d", len(c1))
	}
	if k1 != sessionKey(c1) || len(k1) != 64 {
		t.Fatalf("key %q", k1)
	}
}
