package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/mailtest"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/records/recordstest"
)

func keyRing(t *testing.T) *blobs.KeyRing {
	t.Helper()
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

func openStore(t *testing.T, dir string) *records.Store {
	t.Helper()
	st, err := records.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRestartDeliversEachOnce: mails queued while the SMTP server is down
// stay queued across a restart (the store closed and opened again, a new
// outbox) and are delivered once the server is up: each exactly once by
// its Message-ID (the idempotency key), as Mailpit sees it. Their content
// is sealed in the database file.
func TestRestartDeliversEachOnce(t *testing.T) {
	dir, ring := t.TempDir(), keyRing(t)
	port := mailtest.FreePort(t) // nothing listens yet: SMTP is down
	sender, err := mail.NewSender(mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := outbox.Config{BackoffBase: 200 * time.Millisecond, BackoffMax: time.Second, Poll: 50 * time.Millisecond}
	const n = 5
	const secret = "SECRET-IN-THE-FRAGMENT"
	keys := make([]string, n)

	st := openStore(t, dir)
	ob, err := outbox.New(cfg, st, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob.Handle(mail.Kind, sender.OutboxHandler())
	for i := range n {
		keys[i] = fmt.Sprintf("mail:test:%d", i)
		m := mail.Message{FromName: "Bank", FromAddr: "termine@bank.example", To: fmt.Sprintf("c%d@example.com", i),
			Subject: "Termin", Text: "https://x.example/j/t#" + secret, MessageID: mail.MessageID(keys[i], "termine@bank.example"), Date: time.Now()}
		data, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := mail.Payload(mail.Envelope{From: m.FromAddr, To: m.To, Data: data})
		if _, err := ob.Enqueue(t.Context(), outbox.Item{Kind: mail.Kind, Key: keys[i], Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	// Queuing the same key again adds nothing.
	if added, err := ob.Enqueue(t.Context(), outbox.Item{Kind: mail.Kind, Key: keys[0], Payload: []byte("{}")}); err != nil || added {
		t.Fatalf("second enqueue of a key: added %v, %v", added, err)
	}
	if got, err := ob.RunOnce(t.Context()); err != nil || got != 0 {
		t.Fatalf("with SMTP down: delivered %d, %v", got, err)
	}
	for _, k := range keys {
		state, attempts, lastErr, err := st.OutboxState(t.Context(), k)
		if err != nil || state != "pending" || attempts != 1 || lastErr == "" {
			t.Fatalf("%s after a failed attempt: %s, %d attempts, %q, %v", k, state, attempts, lastErr, err)
		}
	}
	if err := st.Close(); err != nil { // Parley stops
		t.Fatal(err)
	}
	for _, name := range []string{"parley.db", "parley.db-wal"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && bytes.Contains(b, []byte(secret)) {
			t.Fatalf("%s holds the queued mail in the clear", name)
		}
	}

	srv := mailtest.Start(t, mailtest.Options{SMTPPort: port}) // SMTP is up
	st = openStore(t, dir)                                     // Parley starts again
	defer st.Close()
	ob, err = outbox.New(cfg, st, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob.Handle(mail.Kind, sender.OutboxHandler())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- ob.Run(ctx) }()
	srv.WaitFor(t, 30*time.Second, "all queued mails", func(ms []mailtest.Summary) bool { return len(ms) >= n })
	// Give a duplicate time to show up before counting.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := st.OutboxCounts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c.Delivered == n && c.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ob.Kick()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	ms, err := srv.Messages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range ms {
		seen[m.MessageID]++
	}
	for _, k := range keys {
		if id := mail.MessageID(k, "termine@bank.example"); seen[id] != 1 {
			t.Errorf("Message-ID %s arrived %d times", id, seen[id])
		}
	}
	if len(ms) != n {
		t.Errorf("%d messages arrived, want %d", len(ms), n)
	}
}

// TestPermanentExpiredAndBackoff: a permanent failure gives a message up
// at once, an expired one is given up unsent, a handler error retries
// later; the backoff doubles up to its cap.
func TestPermanentExpiredAndBackoff(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ob, err := outbox.New(outbox.Config{BackoffBase: time.Minute, BackoffMax: 10 * time.Minute}, st, keyRing(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	ob.Handle("test", func(ctx context.Context, m outbox.Message) error {
		calls[m.Key]++
		switch string(m.Payload) {
		case "permanent":
			return fmt.Errorf("%w: no", outbox.ErrPermanent)
		case "flaky":
			return errors.New("try later")
		}
		return nil
	})
	ctx := t.Context()
	for _, it := range []outbox.Item{
		{Kind: "test", Key: "ok", Payload: []byte("fine")},
		{Kind: "test", Key: "perm", Payload: []byte("permanent")},
		{Kind: "test", Key: "flaky", Payload: []byte("flaky")},
		{Kind: "test", Key: "late", Payload: []byte("fine"), NotBefore: time.Now().Add(time.Hour)},
		{Kind: "test", Key: "expired", Payload: []byte("fine"), Expires: time.Now().Add(-time.Second)},
	} {
		if _, err := ob.Enqueue(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := ob.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("delivered %d, %v", n, err)
	}
	if _, err := ob.RunOnce(ctx); err != nil { // the flaky one is not due yet
		t.Fatal(err)
	}
	want := map[string]string{"ok": "delivered", "perm": "failed", "flaky": "pending", "late": "pending", "expired": "failed"}
	for k, w := range want {
		state, _, _, err := st.OutboxState(ctx, k)
		if err != nil || state != w {
			t.Errorf("%s: %s, %v; want %s", k, state, err, w)
		}
	}
	if calls["flaky"] != 1 || calls["late"] != 0 || calls["expired"] != 0 {
		t.Errorf("handler calls %v", calls)
	}
	if ok, err := ob.Cancel(ctx, "late"); err != nil || !ok {
		t.Errorf("cancel a queued message: %v %v", ok, err)
	}
	for a, lo := range map[int]time.Duration{1: 48 * time.Second, 2: 96 * time.Second, 3: 192 * time.Second, 10: 8 * time.Minute} {
		if d := ob.Backoff(a); d < lo || d > 10*time.Minute {
			t.Errorf("backoff after attempt %d: %v", a, d)
		}
	}
}

// TestClaimsAreExclusive: many workers on two connection pools (two
// nodes) claim from one outbox at once; every row is claimed once. On
// PostgreSQL (FOR UPDATE SKIP LOCKED) and SQLite.
func TestClaimsAreExclusive(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var a, b *records.Store
			var err error
			if db == "postgres" {
				url := recordstest.PostgresURL(t)
				if a, err = records.OpenPostgres(t.Context(), url, 4); err == nil {
					b, err = records.OpenPostgres(t.Context(), url, 4)
				}
			} else {
				dir := t.TempDir()
				if a, err = records.Open(t.Context(), dir); err == nil {
					b, err = records.Open(t.Context(), dir)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			defer b.Close()
			const rows = 200
			for i := range rows {
				if _, err := a.EnqueueOutbox(t.Context(), "test", fmt.Sprint("k", i), []byte("x"), time.Now(), time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			claimed := map[int64]int{}
			var wg sync.WaitGroup
			for w := range 8 {
				st := a
				if w%2 == 1 {
					st = b
				}
				wg.Go(func() {
					for {
						es, err := st.ClaimOutbox(t.Context(), 7, time.Hour)
						if err != nil {
							if db == "sqlite" { // busy: try again
								time.Sleep(time.Millisecond)
								continue
							}
							t.Error(err)
							return
						}
						if len(es) == 0 {
							return
						}
						mu.Lock()
						for _, e := range es {
							claimed[e.ID]++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(claimed) != rows {
				t.Errorf("%d rows claimed, want %d", len(claimed), rows)
			}
			for id, n := range claimed {
				if n != 1 {
					t.Errorf("row %d claimed %d times", id, n)
				}
			}
		})
	}
}
