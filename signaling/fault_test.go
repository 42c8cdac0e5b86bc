package signaling

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"
)

// Redis dies during a call and comes back empty: running calls go on, new
// joins and reconnects are refused with ErrUnavailable / 503 meanwhile,
// and afterwards everything works again without restarting the hub.
func TestRedisOutage(t *testing.T) {
	rp := startRedis(t)
	prefix := "parley-fault:"
	store, err := NewRedisStore(t.Context(), rp.url(), prefix, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := testConfig()
	cfg.GracePeriod = 20 * time.Second
	cfg.StoreTimeout = 500 * time.Millisecond
	e, adv, advID := reconnectSetup(t, cfg, store)
	ctx := t.Context()
	if err := e.hub.SetAvailable(ctx, 1, "Advisor 1", true); err != nil {
		t.Fatal(err)
	}
	roster := map[ParticipantID]State{advID: StateJoined}
	cu, pid, cookie := admitted(t, e, adv, roster)
	stayer, sid, _ := admitted(t, e, adv, roster)

	rp.stop()
	if err := store.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ping of a dead redis: %v", err)
	}

	// The call goes on: messages and rosters flow.
	stayer.send(t, `{"type":"media","audio":true,"tracks":{"a":"audio"}}`)
	adv.waitFor(t, "roster with media", func(m serverMessage) bool {
		for _, p := range m.Participants {
			if p.ID == sid && p.Audio {
				return true
			}
		}
		return false
	})
	adv.send(t, `{"type":"ping","id":1}`)
	adv.waitType(t, TypePong)

	// New joins fail fast with ErrUnavailable.
	start := time.Now()
	if _, _, err := e.hub.AddCustomer(ctx, "c1", "late"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("AddCustomer without redis: %v", err)
	}
	if d := time.Since(start); d > 2*cfg.StoreTimeout {
		t.Fatalf("AddCustomer took %v", d)
	}
	if s, _ := e.hub.Snapshot("c1"); s.Waiting != 0 {
		t.Fatalf("a customer who could not be stored is waiting: %+v", s)
	}
	if err := e.hub.SetAvailable(ctx, 2, "Advisor 2", true); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("SetAvailable without redis: %v", err)
	}

	// A dropped customer is reconnecting; its reconnect gets 503 (the
	// client retries) while the others carry on.
	cu.ws.CloseNow()
	roster[pid] = StateReconnecting
	adv.waitRoster(t, roster)
	stayer.waitRoster(t, roster)
	e.expectHTTPError(t, "c1", cookie, http.StatusServiceUnavailable, "unavailable")
	// Advisors do not need the store to connect.
	adv2 := e.mustDial(t, "c1", staffCookie(2))
	roster[adv2.waitType(t, TypeWelcome).Self.ID] = StateJoined
	adv.waitRoster(t, roster)

	// Redis comes back (empty: no persistence).
	rp.start()
	var newPID ParticipantID
	eventually(t, "a new join after redis returned", func() bool {
		id, _, err := e.hub.AddCustomer(ctx, "c1", "later")
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatal(err)
		}
		newPID = id
		return err == nil
	})
	roster[newPID] = StateWaiting
	adv.waitRoster(t, roster)

	// The reconnecting customer gets back in, as joined.
	cu = e.mustDial(t, "c1", cookie)
	if w := cu.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined {
		t.Fatalf("welcome after the outage: %s", w.raw)
	}
	roster[pid] = StateJoined
	adv.waitRoster(t, roster)

	// The hub writes back what Redis lost: presence and the waiting queue.
	eventually(t, "presence written back", func() bool {
		ps, err := e.hub.Presence(ctx)
		return err == nil && len(ps) == 2 // advisor 2's availability was kept locally
	})
	eventually(t, "waiting queue written back", func() bool {
		ws, err := e.hub.Waiting(ctx, "c1")
		return err == nil && len(ws) == 1 && ws[0].Participant == newPID
	})
	// The stayer's session is back too: it can reconnect.
	rdb := rawRedis(t, rp.url())
	defer rdb.Close()
	eventually(t, "sessions written back", func() bool {
		keys, err := rdb.Keys(context.Background(), prefix+"session:*").Result()
		return err == nil && len(keys) == 3
	})
	if err := store.Ping(ctx); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	if strings.Contains(e.logs.String(), customerName) {
		t.Fatal("name logged")
	}
	redistest.DeletePrefix(t, rp.url(), prefix)
}
