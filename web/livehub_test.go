package web

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/signaling/storetest"

	"github.com/coder/websocket"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// Tests of the live state a join creates, against the real hub on both
// session stores: in memory, and a real Redis (PARLEY_TEST_REDIS_URL, set
// by scripts/test.sh; skipped without it, failing under CI=true).

// liveEnv is a web server on the real hub (no media plane) with a short
// grace period.
func liveEnv(t *testing.T, store signaling.SessionStore, grace time.Duration, opts ...envOption) (*env, *signaling.Hub) {
	t.Helper()
	hub := signaling.NewHub(signaling.Config{SessionTTL: time.Hour, GracePeriod: grace, MaxParticipants: 2},
		nil, store, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(hub.Close)
	return newEnvWith(t, hub, false, opts...), hub
}

// joinAs sends a join with consent from client address ip ("" for the
// test client's own).
func (e *env) joinAs(c *http.Client, token, ip, name string) response {
	e.t.Helper()
	body := map[string]any{"name": name, "consent": true, "consentVersion": e.srv.consent.Version, "lang": "de"}
	if ip == "" {
		return e.do(c, "POST", "/api/v1/invites/"+token+"/join", body)
	}
	return e.do(c, "POST", "/api/v1/invites/"+token+"/join", body, "X-Forwarded-For", ip)
}

// dialCustomer opens c's protocol WebSocket and returns the state of its
// welcome.
func (e *env) dialCustomer(c *http.Client, id string) (*websocket.Conn, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := &http.Client{Transport: c.Transport, Jar: c.Jar}
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/"+id,
		&websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"parley.v1"}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	e.t.Cleanup(func() { ws.CloseNow() })
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			e.t.Fatalf("read welcome: %v", err)
		}
		if s := string(b); strings.Contains(s, `"type":"welcome"`) {
			_, rest, _ := strings.Cut(s, `"self":`)
			_, st, _ := strings.Cut(rest, `"state":"`)
			st, _, _ = strings.Cut(st, `"`)
			return ws, st
		}
	}
}

// eventually polls cond every 50 ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func unlimitedJoins(c *config.Config) {
	c.Consultation.JoinsPerMinute, c.Consultation.JoinsPerNetworkPerMinute = 10000, 10000
}

// TestGhostCustomersExpire: customers who join over REST and never open a
// socket fill the room (the 17th gets "full"), then leave after the grace
// period like a dropped connection: out of the room, the store's waiting
// queue and session store. The room takes the real customer again.
func TestGhostCustomersExpire(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, store *storetest.RecordingStore) {
		const grace = 2 * time.Second
		e, hub := liveEnv(t, store, grace, unlimitedJoins)
		adv, _ := e.loggedIn("anna", records.RoleAdvisor)
		id, token := e.createConsultation(adv, "Ghosts")
		cid := signaling.ConsultationID(id)

		var ghosts []string // session cookies
		for i := 0; ; i++ {
			r := e.joinAs(e.client(), token, "", "Ghost "+strconv.Itoa(i))
			if r.StatusCode == http.StatusConflict {
				break
			}
			if r.StatusCode != http.StatusOK || i > 100 {
				t.Fatalf("ghost join %d: %d %s", i, r.StatusCode, r.body)
			}
			ghosts = append(ghosts, r.cookie(cookieSession).Value)
		}
		if len(ghosts) < 2 {
			t.Fatalf("room full after %d joins", len(ghosts))
		}
		if snap, _ := hub.Snapshot(cid); snap.Waiting == 0 {
			t.Fatalf("snapshot %+v; want the ghosts waiting", snap)
		}

		ctx := t.Context()
		gone := eventually(20*grace+5*time.Second, func() bool {
			snap, _ := hub.Snapshot(cid)
			ws, err := hub.Waiting(ctx, cid)
			return snap.Waiting == 0 && snap.Reconnecting == 0 && err == nil && len(ws) == 0
		})
		if !gone {
			snap, _ := hub.Snapshot(cid)
			ws, err := hub.Waiting(ctx, cid)
			t.Fatalf("ghosts still there after the grace period: snapshot %+v, store queue %d (%v)", snap, len(ws), err)
		}
		for _, key := range store.PutKeys() {
			if _, err := store.Get(ctx, key); !errors.Is(err, signaling.ErrNoSession) {
				t.Fatalf("a ghost's session is still in the store: %v", err)
			}
		}
		for _, cookie := range ghosts[:1] {
			if _, err := hub.Customer(ctx, cid, cookie); !errors.Is(err, signaling.ErrNoSession) {
				t.Fatalf("ghost cookie still valid: %v", err)
			}
		}

		// The real customer gets in, connects and stays past the grace period.
		real := e.client()
		if r := e.joinAs(real, token, "", "Real"); r.StatusCode != http.StatusOK {
			t.Fatalf("real customer after the ghosts left: %d %s", r.StatusCode, r.body)
		}
		if _, st := e.dialCustomer(real, id); st != "waiting" {
			t.Fatalf("real customer's welcome state %q", st)
		}
		time.Sleep(2 * grace)
		if snap, _ := hub.Snapshot(cid); snap.Waiting != 1 {
			t.Fatalf("connected customer left with the grace period: %+v", snap)
		}
	})
}

// TestJoinFloodThrottled: joins through one invite are limited per client
// network and in total (429 with Retry-After); a real customer from
// another network still gets in, and after Retry-After also when the
// flood came from many networks.
func TestJoinFloodThrottled(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, store *storetest.RecordingStore) {
		e, hub := liveEnv(t, store, time.Minute, func(c *config.Config) {
			c.HTTP.TrustedProxies = []string{"127.0.0.1/32", "::1/128"}
			c.Consultation.JoinsPerMinute, c.Consultation.JoinsPerNetworkPerMinute = 10, 3
		})
		adv, _ := e.loggedIn("anna", records.RoleAdvisor)
		id, token := e.createConsultation(adv, "Flood")
		cid := signaling.ConsultationID(id)

		status := map[int]int{}
		start := time.Now()
		for i := range 40 {
			r := e.joinAs(e.client(), token, "198.51.100."+strconv.Itoa(i+1), "Flood")
			status[r.StatusCode]++
			if r.StatusCode == http.StatusTooManyRequests {
				if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
					t.Fatalf("429 with Retry-After %q", r.Header.Get("Retry-After"))
				}
				if r.errCode(t) != "rate_limited" {
					t.Fatalf("429 code %q", r.errCode(t))
				}
			}
		}
		// 3 at once, one more per 20 s the flood took (a slow machine).
		refilled := int(time.Since(start) / (20 * time.Second))
		if n := status[http.StatusOK]; n < 3 || n > 3+refilled || status[http.StatusTooManyRequests] != 40-n {
			t.Fatalf("flood from one network: %v; want 3 × 200, the rest 429", status)
		}
		ok := 1 + status[http.StatusOK] // and the real customer's, below
		if r := e.joinAs(e.client(), token, "203.0.113.9", "Real"); r.StatusCode != http.StatusOK {
			t.Fatalf("real customer from another network: %d %s", r.StatusCode, r.body)
		}

		// A flood from many networks uses up the invite's budget (10 a
		// minute); the next customer waits Retry-After and gets in.
		for n := 1; ok < 10; n++ {
			if r := e.joinAs(e.client(), token, "192.0."+strconv.Itoa(n)+".7", "Flood"); r.StatusCode == http.StatusOK {
				ok++
			}
			if n > 50 {
				t.Fatal("the invite's budget never ran out")
			}
		}
		real := e.client()
		r := e.joinAs(real, token, "2001:db8:77::1", "Real")
		if r.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("join after the invite's budget is used: %d %s", r.StatusCode, r.body)
		}
		wait, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		if wait < 1 || wait > 10 {
			t.Fatalf("Retry-After %d", wait)
		}
		time.Sleep(time.Duration(wait)*time.Second + 200*time.Millisecond)
		if r := e.joinAs(real, token, "2001:db8:77::1", "Real"); r.StatusCode != http.StatusOK {
			t.Fatalf("real customer after Retry-After: %d %s", r.StatusCode, r.body)
		}
		if _, st := e.dialCustomer(real, id); st != "waiting" {
			t.Fatalf("real customer's welcome state %q", st)
		}
		if snap, _ := hub.Snapshot(cid); snap.Waiting != ok+1 {
			t.Fatalf("snapshot %+v; want %d waiting", snap, ok+1)
		}
	})
}

// TestFailedJoinLeavesNothing: when a write of the join fails (here the
// records database refuses the customer row, as a full disk would), the
// join answers 500 and nothing stays behind: no waiting customer in room
// or store, no session was ever stored (the join is recorded before it
// goes live), no consent record. The next join works.
func TestFailedJoinLeavesNothing(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, store *storetest.RecordingStore) {
		e, hub := liveEnv(t, store, time.Minute)
		adv, _ := e.loggedIn("anna", records.RoleAdvisor)
		id, token := e.createConsultation(adv, "Disk full")
		cid := signaling.ConsultationID(id)

		db, err := sql.Open("sqlite", filepath.Join(e.cfg.DataDir, "parley.db")+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ctx := t.Context()
		if _, err := db.ExecContext(ctx, `CREATE TRIGGER test_full_disk BEFORE INSERT ON customers
			BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
			t.Fatal(err)
		}
		r := e.joinAs(e.client(), token, "", "Kim")
		if r.StatusCode != http.StatusInternalServerError || r.cookie(cookieSession) != nil {
			t.Fatalf("join with a failing write: %d %s", r.StatusCode, r.body)
		}
		if snap, _ := hub.Snapshot(cid); snap.Waiting != 0 || snap.Reconnecting != 0 || snap.Joined != 0 {
			t.Fatalf("room after a failed join: %+v", snap)
		}
		if ws, err := hub.Waiting(ctx, cid); err != nil || len(ws) != 0 {
			t.Fatalf("store's waiting queue after a failed join: %v, %v", ws, err)
		}
		if keys := store.PutKeys(); len(keys) != 0 {
			t.Fatalf("%d sessions put for a join whose records failed; want 0", len(keys))
		}
		for _, table := range []string{"consents", "customers", "answers"} {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE consultation_id = ?", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("%d rows in %s after a failed join", n, table)
			}
		}

		if _, err := db.ExecContext(ctx, "DROP TRIGGER test_full_disk"); err != nil {
			t.Fatal(err)
		}
		if r := e.joinAs(e.client(), token, "", "Kim"); r.StatusCode != http.StatusOK {
			t.Fatalf("join after the disk has room again: %d %s", r.StatusCode, r.body)
		}
		if snap, _ := hub.Snapshot(cid); snap.Waiting != 1 {
			t.Fatalf("room after a good join: %+v", snap)
		}
	})
}
