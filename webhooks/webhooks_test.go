package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/webhooks"
)

const secret = "receiver-secret-0123456789-abcdefghij"

// receiver is a CRM's endpoint as its docs would have it built: verify the
// signature and the timestamp window, then process each id once.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	seen   map[string]int // id → deliveries that passed verification
	bodies map[string]webhooks.Body
	raw    []capture
	bad    int // refused: signature or window
	srv    *http.Server
	addr   string
}

type capture struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, addr string) *receiver {
	r := &receiver{t: t, seen: map[string]int{}, bodies: map[string]webhooks.Body{}, addr: addr}
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw = append(r.raw, capture{req.Header.Clone(), body})
	if err := webhooks.Verify(secret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	// Ids are unique per endpoint (two endpoints of one receiver get one
	// event under the same id).
	id := req.URL.Path + " " + req.Header.Get("Parley-Webhook-Id")
	if r.seen[id] > 0 {
		// A replay or a redelivery: acknowledged, not processed again.
		r.seen[id]++
		w.WriteHeader(http.StatusOK)
		return
	}
	var b webhooks.Body
	if err := json.Unmarshal(body, &b); err != nil || b.ID != req.Header.Get("Parley-Webhook-Id") {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.seen[id]++
	r.bodies[id] = b
	w.WriteHeader(http.StatusNoContent)
}

// up starts serving on the receiver's fixed address.
func (r *receiver) up() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
}

func (r *receiver) down() {
	if r.srv != nil {
		r.srv.Close()
		r.srv = nil
	}
}

func (r *receiver) processed() map[string]webhooks.Body {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]webhooks.Body{}
	for k, v := range r.bodies {
		out[k] = v
	}
	return out
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func ring(t *testing.T) *blobs.KeyRing {
	line, err := blobs.GenerateKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := blobs.ParseKeyRing(line)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var fast = outbox.Config{BackoffBase: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond, Poll: 50 * time.Millisecond}

func start(t *testing.T, st *records.Store, keys *blobs.KeyRing, eps []webhooks.Endpoint) (*webhooks.Hooks, *outbox.Outbox) {
	t.Helper()
	ob, err := outbox.New(fast, st, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	return webhooks.New(eps, 2*time.Second, ob, nil), ob
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Events queued while the receiver is down, across a restart of Parley
// and a receiver outage, all arrive once each, signed; a replayed
// delivery is refused outside the window and not processed twice inside
// it; the database holds no event in the clear.
func TestDeliveryAcrossOutageAndRestart(t *testing.T) {
	dir, keys := t.TempDir(), ring(t)
	addr := freeAddr(t)
	rcv := newReceiver(t, addr)
	eps := []webhooks.Endpoint{
		{ID: "crm", URL: "http://" + addr + "/hooks", Secret: secret, PersonalData: false},
		{ID: "crm-personal", URL: "http://" + addr + "/hooks-personal", Secret: secret, PersonalData: true, Events: []string{webhooks.ConsultationBooked}},
	}
	st, err := records.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	h, ob := start(t, st, keys, eps)
	const name = "Erika Mustermann"
	h.Emit(t.Context(), webhooks.Event{Type: webhooks.ConsultationBooked, Consultation: "c_1",
		Data: map[string]any{"appointment": "a_1", "startsAt": "2026-12-08T14:00:00Z"}, Personal: map[string]any{"customerName": name}})
	h.Emit(t.Context(), webhooks.Event{Type: webhooks.ConsultationStarted, Consultation: "c_1", Once: "c_1"})
	h.Emit(t.Context(), webhooks.Event{Type: webhooks.ConsultationStarted, Consultation: "c_1", Once: "c_1"}) // again: one event
	h.Emit(t.Context(), webhooks.Event{Type: webhooks.CustomerAdmitted, Consultation: "c_1", Data: map[string]any{"participant": "p_1"}})
	// Receiver down: attempts fail and are retried later.
	if n, err := ob.RunOnce(t.Context()); err != nil || n != 0 {
		t.Fatalf("with the receiver down: %d delivered, %v", n, err)
	}
	st.Close() // Parley stops with four deliveries queued
	for _, f := range []string{"parley.db", "parley.db-wal"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil && (bytes.Contains(b, []byte(name)) || bytes.Contains(b, []byte("a_1"))) {
			t.Fatalf("%s holds a queued event in the clear", f)
		}
	}

	st, err = records.Open(t.Context(), dir) // Parley starts again
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, ob = start(t, st, keys, eps)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go ob.Run(ctx)
	time.Sleep(time.Second) // the receiver is still down for a while: more failed attempts
	rcv.up()
	defer rcv.down()
	waitFor(t, 30*time.Second, "four events processed", func() bool { return len(rcv.processed()) == 4 })
	time.Sleep(time.Second) // a duplicate would show up now
	got := rcv.processed()
	if len(got) != 4 {
		t.Fatalf("processed %d events, want 4", len(got))
	}
	rcv.mu.Lock()
	for id, n := range rcv.seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if rcv.bad != 0 {
		t.Errorf("%d deliveries failed verification", rcv.bad)
	}
	raws := append([]capture(nil), rcv.raw...)
	rcv.mu.Unlock()
	var personal, plain int
	for _, b := range got {
		if b.Data["customerName"] == name {
			personal++
		} else if _, has := b.Data["customerName"]; has {
			t.Errorf("customer name %v", b.Data["customerName"])
		}
		if b.Type == webhooks.ConsultationBooked && b.Data["customerName"] == nil {
			plain++
		}
	}
	if personal != 1 || plain != 1 {
		t.Errorf("booked events: %d with the name (want 1, the personal endpoint), %d without (want 1)", personal, plain)
	}

	// A replay of a captured delivery: inside the window it is
	// acknowledged but not processed again; with its timestamp moved into
	// the past the signature no longer matches; an old one is refused.
	replay := raws[0]
	post := func(hdr http.Header, body []byte) int {
		req, _ := http.NewRequest("POST", "http://"+addr+"/hooks", bytes.NewReader(body))
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	post(replay.header, replay.body)
	if len(rcv.processed()) != 4 {
		t.Fatal("a replay was processed as a new event")
	}
	forged := replay.header.Clone()
	forged.Set("Parley-Webhook-Timestamp", "1700000000")
	if code := post(forged, replay.body); code != http.StatusUnauthorized {
		t.Fatalf("replay with a changed timestamp: %d", code)
	}
	tampered := bytes.Replace(replay.body, []byte(`"type"`), []byte(`"tipe"`), 1)
	if code := post(replay.header, tampered); code != http.StatusUnauthorized {
		t.Fatalf("changed body: %d", code)
	}
	if err := webhooks.Verify(secret, replay.header, replay.body, time.Now().Add(10*time.Minute), 5*time.Minute); !errors.Is(err, webhooks.ErrStale) {
		t.Fatalf("a delivery replayed ten minutes later: %v", err)
	}
	if err := webhooks.Verify("another-secret-0123456789-abcdefghij", replay.header, replay.body, time.Now(), 5*time.Minute); !errors.Is(err, webhooks.ErrBadSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
}

// A receiver that answers 500 for a minute's worth of attempts, then 200:
// nothing is lost; the delivery log shows the attempts.
func TestReceiverErrorsAreRetried(t *testing.T) {
	dir, keys := t.TempDir(), ring(t)
	var mu sync.Mutex
	fails, got := 3, 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			http.Error(w, "deploying", http.StatusServiceUnavailable)
			return
		}
		got++
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	st, err := records.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, ob := start(t, st, keys, []webhooks.Endpoint{{ID: "crm", URL: "http://" + ln.Addr().String(), Secret: secret, Events: []string{webhooks.ConsultationEnded}}})
	h.Emit(t.Context(), webhooks.Event{Type: webhooks.ConsultationEnded, Consultation: "c_9", Once: "c_9"})
	h.Emit(t.Context(), webhooks.Event{Type: webhooks.CustomerAdmitted, Consultation: "c_9"}) // not subscribed
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go ob.Run(ctx)
	waitFor(t, 30*time.Second, "the event delivered after three 503s", func() bool { mu.Lock(); defer mu.Unlock(); return got == 1 })
	c, err := st.OutboxCounts(t.Context())
	if err != nil || c.Delivered != 1 || c.Pending != 0 {
		t.Fatalf("outbox counts %+v, %v", c, err)
	}
}

func TestSign(t *testing.T) {
	// The documented example (WEBHOOKS.md), so receivers can check their code.
	got := webhooks.Sign("whsec_example", "evt_0123", "1765200000", []byte(`{"id":"evt_0123"}`))
	if got != "v1=b61f64675ee46a228741cc8a46e521e0bf0936ea2e01a27e37ae82d7a07b96c8" {
		t.Fatalf("signature of the documented example: %s", got)
	}
}
