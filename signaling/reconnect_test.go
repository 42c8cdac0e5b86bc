package signaling

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"

	"github.com/coder/websocket"
)

// Reconnecting (PROTOCOL.md) over real WebSockets, against the memory
// store and a real Redis.

// eachStore runs f once per store kind: memory, and Redis when the test
// Redis is there (redistest.URL skips or fails otherwise).
func eachStore(t *testing.T, f func(t *testing.T, newStore func(t *testing.T) SessionStore)) {
	t.Run("memory", func(t *testing.T) {
		f(t, func(*testing.T) SessionStore { return NewMemoryStore() })
	})
	t.Run("redis", func(t *testing.T) {
		url := redistest.URL(t)
		f(t, func(t *testing.T) SessionStore {
			s, _ := newTestRedisStore(t, url)
			return s
		})
	})
}

// reconnectSetup opens "c1" with advisor 1 connected, on store.
func reconnectSetup(t *testing.T, cfg Config, store SessionStore) (*env, *client, ParticipantID) {
	t.Helper()
	e := newEnvStore(t, cfg, nil, store)
	e.hub.Open(ConsultationInfo{ID: "c1", Title: "Mortgage", Company: "Bank"})
	adv := e.mustDial(t, "c1", staffCookie(1))
	w := adv.waitType(t, TypeWelcome)
	adv.waitRoster(t, map[ParticipantID]State{w.Self.ID: StateJoined})
	return e, adv, w.Self.ID
}

func isState(s State) func(serverMessage) bool {
	return func(m serverMessage) bool { return m.Type == TypeState && m.State == s }
}

// storedSession reads a cookie's session from the hub's store.
func storedSession(t *testing.T, e *env, cookie string) (Session, error) {
	t.Helper()
	return e.hub.store.Get(t.Context(), sessionKey(strings.TrimPrefix(cookie, "parley_session=")))
}

// waitStored waits until the cookie's stored session satisfies ok.
func waitStored(t *testing.T, e *env, cookie, what string, ok func(Session, error) bool) {
	t.Helper()
	eventually(t, "stored session "+what, func() bool { return ok(storedSession(t, e, cookie)) })
}

func TestReconnectJoinedCustomer(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) SessionStore) {
		cfg := testConfig()
		cfg.GracePeriod = 10 * time.Second
		e, adv, advID := reconnectSetup(t, cfg, newStore(t))
		roster := map[ParticipantID]State{advID: StateJoined}
		cu, pid, cookie := admitted(t, e, adv, roster)
		cu.send(t, `{"type":"media","audio":true,"tracks":{"t1":"audio"}}`)
		adv.waitFor(t, "roster with media", func(m serverMessage) bool {
			for _, p := range m.Participants {
				if p.ID == pid && p.Audio {
					return true
				}
			}
			return false
		})

		// The socket drops: others see reconnecting, not left.
		cu.ws.CloseNow()
		roster[pid] = StateReconnecting
		adv.waitRoster(t, roster)
		if s, _ := e.hub.Snapshot("c1"); s.Joined != 1 || s.Reconnecting != 1 {
			t.Fatalf("snapshot %+v", s)
		}
		if v := metric(t, e.reg, "parley_participants", "state", "reconnecting"); v != 1 {
			t.Fatalf("reconnecting gauge %v", v)
		}
		waitStored(t, e, cookie, "reconnecting", func(s Session, err error) bool {
			return err == nil && s.State == string(StateReconnecting) && s.Resume == string(StateJoined)
		})

		// Back within the grace period with the same cookie: same id, name
		// and state, no new admission; in the roster exactly once.
		cu2 := e.mustDial(t, "c1", cookie)
		w := cu2.waitType(t, TypeWelcome)
		if w.Self.ID != pid || w.Self.State != StateJoined || w.Self.Name != customerName || w.Self.Audio || len(w.Self.Tracks) != 0 {
			t.Fatalf("welcome after reconnect: %s", w.raw)
		}
		roster[pid] = StateJoined
		adv.waitRoster(t, roster)
		cu2.waitRoster(t, roster)
		waitStored(t, e, cookie, "joined", func(s Session, err error) bool {
			return err == nil && s.State == string(StateJoined) && s.Resume == "" && s.ParticipantID == pid
		})
		// It can act as a joined participant at once.
		cu2.send(t, `{"type":"media","video":true}`)
		cu2.send(t, `{"type":"ping","id":1}`)
		if m := cu2.waitType(t, TypePong); string(m.Ref) != "1" {
			t.Fatalf("pong %s", m.raw)
		}
		if s, _ := e.hub.Snapshot("c1"); s.Joined != 2 || s.Reconnecting != 0 {
			t.Fatalf("snapshot after return %+v", s)
		}
		// A page reload is a reconnect too (the new socket may come before
		// the old one is noticed as gone).
		cu3 := e.mustDial(t, "c1", cookie)
		if w := cu3.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined {
			t.Fatalf("welcome after reload: %s", w.raw)
		}
		if code := cu2.waitClosed(t); code != StatusReplaced {
			t.Fatalf("old tab closed with %v", code)
		}
		adv.waitRoster(t, roster)
		if strings.Contains(e.logs.String(), customerName) {
			t.Fatal("name logged")
		}
	})
}

func TestGracePeriodExpires(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) SessionStore) {
		cfg := testConfig()
		cfg.GracePeriod = 300 * time.Millisecond
		e, adv, advID := reconnectSetup(t, cfg, newStore(t))
		roster := map[ParticipantID]State{advID: StateJoined}
		cu, pid, cookie := admitted(t, e, adv, roster)
		_, wcookie := e.addCustomer(t, "c1", "waiter")
		waiter := e.mustDial(t, "c1", wcookie)
		wid := waiter.waitType(t, TypeWelcome).Self.ID
		roster[wid] = StateWaiting
		adv.waitRoster(t, roster)

		start := time.Now()
		cu.ws.CloseNow()
		waiter.ws.CloseNow()
		roster[pid], roster[wid] = StateReconnecting, StateReconnecting
		adv.waitRoster(t, roster)
		// After the grace period both have left, for good.
		delete(roster, pid)
		delete(roster, wid)
		adv.waitRoster(t, roster)
		if d := time.Since(start); d < cfg.GracePeriod {
			t.Fatalf("left after %v, before the grace period", d)
		}
		e.expectHTTPError(t, "c1", cookie, http.StatusUnauthorized, "unauthorized")
		e.expectHTTPError(t, "c1", wcookie, http.StatusUnauthorized, "unauthorized")
		for _, c := range []string{cookie, wcookie} {
			waitStored(t, e, c, "deleted", func(_ Session, err error) bool { return errors.Is(err, ErrNoSession) })
		}
		eventually(t, "empty waiting queue", func() bool {
			ws, err := e.hub.Waiting(t.Context(), "c1")
			return err == nil && len(ws) == 0
		})
		if s, _ := e.hub.Snapshot("c1"); s != (Snapshot{ID: "c1", Joined: 1}) {
			t.Fatalf("snapshot %+v", s)
		}
		if v := metric(t, e.reg, "parley_participants", "state", "reconnecting"); v != 0 {
			t.Fatalf("reconnecting gauge %v", v)
		}
	})
}

func TestReconnectWaitingCustomer(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) SessionStore) {
		cfg := testConfig()
		cfg.GracePeriod = 10 * time.Second
		e, adv, advID := reconnectSetup(t, cfg, newStore(t))
		roster := map[ParticipantID]State{advID: StateJoined}
		other, _, _ := admitted(t, e, adv, roster)

		pid, cookie := e.addCustomer(t, "c1", "waiting one")
		cu := e.mustDial(t, "c1", cookie)
		cu.waitType(t, TypeWelcome)
		roster[pid] = StateWaiting
		adv.waitRoster(t, roster)
		// Store writes are queued (queue.go): the entry follows the roster.
		eventually(t, "the waiting customer in the store's queue", func() bool {
			ws, err := e.hub.Waiting(t.Context(), "c1")
			return err == nil && len(ws) == 1 && ws[0].Participant == pid
		})

		cu.ws.CloseNow()
		roster[pid] = StateReconnecting
		adv.waitRoster(t, roster)
		// The customer in the call never sees a waiting one, reconnecting
		// or not.
		other.send(t, `{"type":"ping","id":"barrier"}`)
		other.waitType(t, TypePong)
		for {
			select {
			case m := <-other.msgs:
				for _, p := range m.Participants {
					if p.ID == pid {
						t.Fatalf("customer sees a waiting customer: %s", m.raw)
					}
				}
				continue
			default:
			}
			break
		}

		// Back: still waiting, still in the queue, with its place.
		cu = e.mustDial(t, "c1", cookie)
		if w := cu.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateWaiting {
			t.Fatalf("welcome after reconnect: %s", w.raw)
		}
		roster[pid] = StateWaiting
		adv.waitRoster(t, roster)
		eventually(t, "the returned customer in the store's queue", func() bool {
			ws, err := e.hub.Waiting(t.Context(), "c1")
			return err == nil && len(ws) == 1 && ws[0].Participant == pid
		})

		// Admitted while reconnecting: joined on return.
		cu.ws.CloseNow()
		roster[pid] = StateReconnecting
		adv.waitRoster(t, roster)
		adv.send(t, map[string]any{"type": "admit", "participant": pid})
		cu = e.mustDial(t, "c1", cookie)
		if w := cu.waitType(t, TypeWelcome); w.Self.State != StateJoined {
			t.Fatalf("welcome after admission while away: %s", w.raw)
		}
		roster[pid] = StateJoined
		adv.waitRoster(t, roster)
		other.waitRoster(t, roster)
		eventually(t, "empty waiting queue", func() bool {
			ws, err := e.hub.Waiting(t.Context(), "c1")
			return err == nil && len(ws) == 0
		})
	})
}

// Two connections with one cookie: the newest owns the participant, the
// older gets an error and 4001; never both.
func TestTwoConnectionsOneCookie(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) SessionStore) {
		cfg := testConfig()
		e, adv, advID := reconnectSetup(t, cfg, newStore(t))
		roster := map[ParticipantID]State{advID: StateJoined}
		cu1, pid, cookie := admitted(t, e, adv, roster)

		cu2 := e.mustDial(t, "c1", cookie)
		if w := cu2.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined {
			t.Fatalf("welcome of the second tab: %s", w.raw)
		}
		if m := cu1.waitType(t, TypeError); m.Code != CodeReplaced || m.Message == "" {
			t.Fatalf("replaced tab got %s", m.raw)
		}
		if code := cu1.waitClosed(t); code != StatusReplaced {
			t.Fatalf("old tab closed with %v, want 4001", code)
		}
		adv.waitRoster(t, roster)
		gen := func() uint64 {
			s, err := storedSession(t, e, cookie)
			if err != nil {
				t.Fatal(err)
			}
			return s.Generation
		}
		before := gen()

		// Two dials at once, several times: exactly one survives each time.
		const rounds = 8
		current := cu2
		for round := range rounds {
			var wg sync.WaitGroup
			var a, b *client
			wg.Go(func() { a = e.mustDial(t, "c1", cookie) })
			wg.Go(func() { b = e.mustDial(t, "c1", cookie) })
			wg.Wait()
			if code := current.waitClosed(t); code != StatusReplaced {
				t.Fatalf("round %d: previous connection closed with %v", round, code)
			}
			// One of a and b is closed with 4001, the other stays.
			var survivor, loser *client
			select {
			case <-a.done:
				survivor, loser = b, a
			case <-b.done:
				survivor, loser = a, b
			case <-time.After(waitTimeout):
				t.Fatalf("round %d: both connections stay open", round)
			}
			if code := loser.waitClosed(t); code != StatusReplaced {
				t.Fatalf("round %d: loser closed with %v", round, code)
			}
			loser.waitError(t, CodeReplaced)
			if w := survivor.waitType(t, TypeWelcome); w.Self.ID != pid {
				t.Fatalf("round %d: survivor welcome %s", round, w.raw)
			}
			survivor.send(t, `{"type":"ping","id":"alive"}`)
			survivor.waitType(t, TypePong)
			select {
			case <-survivor.done:
				t.Fatalf("round %d: survivor closed: %v", round, survivor.closeErr)
			default:
			}
			adv.waitRoster(t, roster)
			current = survivor
		}
		if got := gen(); got != before+2*rounds {
			t.Fatalf("generation %d, want %d", got, before+2*rounds)
		}
		if s, _ := e.hub.Snapshot("c1"); s.Joined != 2 || s.Reconnecting != 0 {
			t.Fatalf("snapshot %+v", s)
		}
	})
}

func TestAdvisorReconnect(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) SessionStore) {
		cfg := testConfig()
		cfg.GracePeriod = 400 * time.Millisecond
		e, adv, advID := reconnectSetup(t, cfg, newStore(t))
		ctx := t.Context()
		if err := e.hub.SetAvailable(ctx, 1, "Advisor 1", true); err != nil {
			t.Fatal(err)
		}
		presence := func(want PresenceState) {
			t.Helper()
			eventually(t, "presence "+string(want), func() bool {
				ps, err := e.hub.Presence(ctx)
				return err == nil && len(ps) == 1 && ps[0].UserID == 1 && ps[0].State == want
			})
		}
		presence(PresenceAvailable)
		roster := map[ParticipantID]State{advID: StateJoined}
		cu, _, _ := admitted(t, e, adv, roster)

		adv.ws.CloseNow()
		roster[advID] = StateReconnecting
		cu.waitRoster(t, roster)
		presence(PresenceReconnecting)

		adv = e.mustDial(t, "c1", staffCookie(1))
		if w := adv.waitType(t, TypeWelcome); w.Self.ID != advID || w.Self.State != StateJoined {
			t.Fatalf("advisor welcome after reconnect: %s", w.raw)
		}
		roster[advID] = StateJoined
		cu.waitRoster(t, roster)
		adv.waitRoster(t, roster)
		presence(PresenceAvailable)

		// Past the grace period the advisor has left the call, but is still
		// available; connecting again joins with the same id.
		adv.ws.CloseNow()
		roster[advID] = StateReconnecting
		cu.waitRoster(t, roster)
		delete(roster, advID)
		cu.waitRoster(t, roster)
		presence(PresenceAvailable)
		adv = e.mustDial(t, "c1", staffCookie(1))
		if w := adv.waitType(t, TypeWelcome); w.Self.ID != advID || w.Self.State != StateJoined {
			t.Fatalf("advisor welcome after the grace period: %s", w.raw)
		}

		if err := e.hub.SetAvailable(ctx, 1, "Advisor 1", false); err != nil {
			t.Fatal(err)
		}
		if ps, err := e.hub.Presence(ctx); err != nil || len(ps) != 0 {
			t.Fatalf("presence after unavailable: %+v %v", ps, err)
		}
	})
}

// Presence entries live PresenceTTL and the hub refreshes them.
func TestPresenceRefresh(t *testing.T) {
	cfg := testConfig()
	cfg.PresenceTTL = 300 * time.Millisecond
	e := newEnv(t, cfg, nil)
	if err := e.hub.SetAvailable(t.Context(), 5, "Eve", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * cfg.PresenceTTL)
	ps, err := e.hub.Presence(t.Context())
	if err != nil || len(ps) != 1 || ps[0].Name != "Eve" {
		t.Fatalf("presence not refreshed: %+v %v", ps, err)
	}
}

// A node that restarts finds its customers in the store: they come back
// with their id and state.
func TestRestoreFromStore(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) SessionStore) {
		cfg := testConfig()
		store := newStore(t)
		e1, adv, advID := reconnectSetup(t, cfg, store)
		cu, pid, cookie := admitted(t, e1, adv, map[ParticipantID]State{advID: StateJoined})
		wid, wcookie := e1.addCustomer(t, "c1", "waiter")
		waitStored(t, e1, cookie, "joined", func(s Session, err error) bool { return err == nil && s.State == string(StateJoined) })
		e1.close()
		cu.waitClosed(t)

		e2 := newEnvStore(t, cfg, nil, store)
		e2.hub.Open(ConsultationInfo{ID: "c1"})
		cu = e2.mustDial(t, "c1", cookie)
		if w := cu.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined || w.Self.Name != customerName {
			t.Fatalf("welcome after restart: %s", w.raw)
		}
		w := e2.mustDial(t, "c1", wcookie)
		if m := w.waitType(t, TypeWelcome); m.Self.ID != wid || m.Self.State != StateWaiting {
			t.Fatalf("waiter welcome after restart: %s", m.raw)
		}
		adv = e2.mustDial(t, "c1", staffCookie(1))
		adv.waitType(t, TypeWelcome)
		adv.waitFor(t, "restored roster", func(m serverMessage) bool {
			return m.Type == TypeRoster && len(m.Participants) == 3
		})
	})
}

// A store that lost a session (Redis restarted empty) gets it back from
// the room when the customer reconnects.
func TestSessionWrittenBack(t *testing.T) {
	e, adv, advID := reconnectSetup(t, testConfig(), NewMemoryStore())
	cu, pid, cookie := admitted(t, e, adv, map[ParticipantID]State{advID: StateJoined})
	cu.ws.CloseNow()
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateReconnecting})
	key := sessionKey(strings.TrimPrefix(cookie, "parley_session="))
	eventually(t, "stored reconnecting", func() bool {
		s, err := e.hub.store.Get(t.Context(), key)
		return err == nil && s.State == string(StateReconnecting)
	})
	if err := e.hub.store.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	cu = e.mustDial(t, "c1", cookie)
	if w := cu.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined {
		t.Fatalf("welcome: %s", w.raw)
	}
	if s, err := e.hub.store.Get(t.Context(), key); err != nil || s.ParticipantID != pid {
		t.Fatalf("session not written back: %+v %v", s, err)
	}
	// Leave is still for good.
	cu.send(t, `{"type":"leave"}`)
	cu.waitFor(t, "left", isState(StateLeft))
	if code := cu.waitClosed(t); code != websocket.StatusNormalClosure {
		t.Fatalf("leave closed with %v", code)
	}
	e.expectHTTPError(t, "c1", cookie, http.StatusUnauthorized, "unauthorized")
}
