package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/mailtest"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/webhooks"
)

// TestMailSurvivesRestart: invitations queued while the SMTP server is
// down, and webhooks queued while their receiver is down, stay queued when
// Parley stops; started again with the servers up, it delivers each
// exactly once (Mailpit counts by Message-ID, the receiver by
// Parley-Webhook-Id: the idempotency keys).
func TestMailSurvivesRestart(t *testing.T) {
	mailtest.Binary(t)
	port := mailtest.FreePort(t) // SMTP down: nothing listens
	cfg := testConfig(t)
	cfg.Mail.Enabled = true
	cfg.Mail.From = "termine@bank.example"
	cfg.Mail.SMTP = config.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: "none", Timeout: 5 * time.Second}
	cfg.Outbox.BackoffBase = 200 * time.Millisecond
	cfg.Outbox.BackoffMax = time.Second
	cfg.Appointments.Reminder = 0
	const hookSecret = "node-test-webhook-secret-0123456789"
	t.Setenv("PARLEY_NODE_TEST_HOOK_SECRET", hookSecret)
	hookAddr := fmt.Sprintf("127.0.0.1:%d", mailtest.FreePort(t)) // receiver down
	cfg.Webhooks.Endpoints = []config.WebhookEndpoint{{ID: "crm", URL: "http://" + hookAddr + "/hooks", SecretEnv: "PARLEY_NODE_TEST_HOOK_SECRET"}}
	const hooks = 2

	run := func() (*Node, func()) {
		n, err := New(t.Context(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("start node: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		return n, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node shutdown: %v", err)
			}
		}
	}
	n, stop := run()
	u, err := n.Records.CreateUser(t.Context(), "anna", "Anna Berg", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + n.HTTPAddr()
	const count = 3
	var keys []string
	for i := range count {
		start := time.Now().Add(time.Duration(i+1) * time.Hour)
		a, token, err := n.Appointments.Book(t.Context(), u.ID, appointment.Request{StartsAt: start, EndsAt: start.Add(time.Hour),
			CustomerName: "Kundin", CustomerEmail: fmt.Sprintf("k%d@example.com", i), Lang: "de"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Appointments.Send(t.Context(), a.ID, base, base+"/j/"+token+"#key"); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, "appt:"+a.ID+":request:0")
	}
	for i := range hooks {
		n.Webhooks.Emit(t.Context(), webhooks.Event{Type: webhooks.ConsultationEnded, Consultation: fmt.Sprintf("c_%d", i), Once: fmt.Sprintf("c_%d", i)})
	}
	// Every mail was tried and failed (the server is down).
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range keys {
		for {
			state, attempts, _, err := n.Records.OutboxState(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			if state == "pending" && attempts >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s after %d attempts", k, state, attempts)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop() // Parley stops with the mails queued

	mp := mailtest.Start(t, mailtest.Options{SMTPPort: port}) // SMTP up
	var hmu sync.Mutex
	got := map[string]int{}
	ln, err := net.Listen("tcp", hookAddr) // the webhook receiver is up
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhooks.Verify(hookSecret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		hmu.Lock()
		got[r.Header.Get("Parley-Webhook-Id")]++
		hmu.Unlock()
	})}
	go hs.Serve(ln)
	defer hs.Close()
	n, stop = run() // Parley starts again
	defer stop()
	mp.WaitFor(t, 60*time.Second, "the queued invitations", func(ms []mailtest.Summary) bool { return len(ms) >= count })
	for {
		c, err := n.Records.OutboxCounts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c.Delivered == count+hooks && c.Pending == 0 {
			break
		}
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatalf("outbox %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // room for a duplicate to arrive
	ms, err := mp.Messages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range ms {
		seen[m.MessageID]++
	}
	for _, k := range keys {
		if id := mail.MessageID(k, cfg.Mail.From); seen[id] != 1 {
			t.Errorf("%s arrived %d times", id, seen[id])
		}
	}
	if len(ms) != count {
		t.Errorf("%d mails, want %d", len(ms), count)
	}
	hmu.Lock()
	defer hmu.Unlock()
	if len(got) != hooks {
		t.Errorf("webhook events received: %v, want %d distinct", got, hooks)
	}
	for id, k := range got {
		if k != 1 {
			t.Errorf("webhook %s arrived %d times", id, k)
		}
	}
}
