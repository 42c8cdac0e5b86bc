package signaling

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestMemoryStore(t *testing.T) {
	testSessionStore(t, func(t *testing.T) SessionStore { return NewMemoryStore() })
}

// testSessionStore is the contract of every SessionStore; a Redis store
// runs it too. newStore returns an empty store (keys may be namespaced per
// test by the implementation).
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
