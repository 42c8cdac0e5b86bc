package node

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/mailtest"
	"github.com/parley-video/parley/records"
)

// TestMailSurvivesRestart: invitations queued while the SMTP server is
// down stay queued when Parley stops; started again with the server up,
// it delivers each exactly once (Mailpit counts by Message-ID, the
// idempotency key).
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
	n, stop = run()                                           // Parley starts again
	defer stop()
	mp.WaitFor(t, 60*time.Second, "the queued invitations", func(ms []mailtest.Summary) bool { return len(ms) >= count })
	for {
		c, err := n.Records.OutboxCounts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c.Delivered == count && c.Pending == 0 {
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
}
