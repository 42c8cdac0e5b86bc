package web

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/mailtest"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
)

// TestAppointmentMails books an appointment through the API and follows
// the customer's mailbox in a real SMTP server (Mailpit): the invitation
// with the link the browser composed and a calendar entry (REQUEST,
// SEQUENCE 0), the update after rescheduling (same UID, SEQUENCE 1, the
// new slot), the reminder, and the cancellation (CANCEL, SEQUENCE 2),
// after which the link is dead. The link says "not yet" before its
// window and lets the customer in during it. No address reaches the log.
func TestAppointmentMails(t *testing.T) {
	e := newEnv(t)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e.rec.SetClock(now)
	e.srv.now = now
	srv := mailtest.Start(t, mailtest.Options{})
	sender, err := mail.NewSender(mail.SMTPConfig{Host: srv.Host, Port: srv.SMTPPort, TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := blobs.ParseKeyRing(mustKeyLine(t))
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(outbox.Config{}, e.rec, keys, e.log)
	if err != nil {
		t.Fatal(err)
	}
	ob.Handle(mail.Kind, sender.OutboxHandler())
	berlin, _ := time.LoadLocation("Europe/Berlin")
	e.srv.appts, err = appointment.New(appointment.Config{EarlyJoin: 10 * time.Minute, LateJoin: 30 * time.Minute,
		Reminder: time.Hour, Company: "Beispiel Bank AG", From: "termine@bank.example", Zone: berlin}, e.rec, ob)
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(want int) []mailtest.Summary {
		t.Helper()
		if _, err := ob.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		return srv.WaitFor(t, 20*time.Second, "mail", func(ms []mailtest.Summary) bool { return len(ms) >= want })
	}
	read := func(id string) (mailtest.Parsed, mailtest.Event) {
		t.Helper()
		raw, err := srv.Raw(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		p, err := mailtest.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		var ev mailtest.Event
		if p.Calendar != nil {
			if ev, err = mailtest.ParseCalendar(p.Calendar); err != nil {
				t.Fatalf("%v\n%s", err, p.Calendar)
			}
		}
		return p, ev
	}

	c, _ := e.loggedIn("anna", records.RoleAdvisor)
	start := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	r := e.staff(c, "POST", "/api/v1/appointments", map[string]string{
		"title": "Baufinanzierung", "startsAt": start.Format(time.RFC3339), "endsAt": start.Add(30 * time.Minute).Format(time.RFC3339),
		"customerName": "Erika Kundin", "customerEmail": "erika.kundin@example.com", "customerPhone": "+49 30 123456", "lang": "de",
	})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("book: %d %s", r.StatusCode, r.body)
	}
	a := r.json(t)
	id, inviteURL := a["id"].(string), a["inviteUrl"].(string)
	_, token, _ := strings.Cut(inviteURL, "/j/")
	link := inviteURL + "#S3cr3tKeyFromTheBrowser"

	// Before the window: the invite says when, joining is refused.
	inv := e.do(e.client(), "GET", "/api/v1/invites/"+token, nil).json(t)
	ap, _ := inv["appointment"].(map[string]any)
	if ap == nil || ap["open"] != false || ap["startsAt"] != start.UTC().Format(time.RFC3339) {
		t.Fatalf("invite before the window: %v", inv)
	}
	join := map[string]any{"name": "Erika", "consent": true, "consentVersion": e.consentVersion(token), "lang": "de"}
	if r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", join); r.StatusCode != http.StatusConflict || r.errCode(t) != "not_yet" {
		t.Fatalf("join before the window: %d %s", r.StatusCode, r.body)
	}

	// Only this appointment's own link with a key is mailed.
	for _, bad := range []string{inviteURL, "https://evil.example/j/" + token + "#k", e.ts.URL + "/j/other#k"} {
		if r := e.staff(c, "POST", "/api/v1/appointments/"+id+"/send", map[string]string{"link": bad}); r.StatusCode != http.StatusBadRequest {
			t.Errorf("send %q: %d %s", bad, r.StatusCode, r.body)
		}
	}
	if r := e.staff(c, "POST", "/api/v1/appointments/"+id+"/send", map[string]string{"link": link}); r.StatusCode != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	ms := deliver(1)
	p, ev := read(ms[0].ID)
	if !strings.Contains(p.Text, link) || !strings.Contains(p.Subject, "Beispiel Bank AG") || !strings.Contains(p.Text, "Erika Kundin") {
		t.Errorf("invitation: %q\n%s", p.Subject, p.Text)
	}
	uid := ev.UID
	if ev.Method != "REQUEST" || ev.Sequence != 0 || !ev.Start.Equal(start) || ev.URL != link || uid == "" {
		t.Errorf("invitation event %+v", ev)
	}

	// Rescheduled a day later: an update to the same entry.
	start2 := start.Add(24 * time.Hour)
	r = e.staff(c, "PUT", "/api/v1/appointments/"+id, map[string]string{
		"startsAt": start2.Format(time.RFC3339), "endsAt": start2.Add(45 * time.Minute).Format(time.RFC3339), "link": link})
	if r.StatusCode != http.StatusOK || r.json(t)["sequence"] != float64(1) {
		t.Fatalf("reschedule: %d %s", r.StatusCode, r.body)
	}
	ms = deliver(2)
	p, ev = read(ms[0].ID)
	if ev.Method != "REQUEST" || ev.Sequence != 1 || ev.UID != uid || !ev.Start.Equal(start2) || !ev.End.Equal(start2.Add(45*time.Minute)) {
		t.Errorf("update event %+v", ev)
	}
	if !strings.Contains(p.Subject, "verschoben") {
		t.Errorf("update subject %q", p.Subject)
	}
	if _, _, _, err := e.rec.OutboxState(t.Context(), "appt:"+id+":reminder:0"); err == nil {
		t.Errorf("the first slot's reminder is still queued")
	}

	// The day of the new slot lists it.
	day := start2.In(berlin).Format("2006-01-02")
	list := e.staff(c, "GET", "/api/v1/appointments?day="+day, nil).json(t)
	if as, _ := list["appointments"].([]any); len(as) != 1 || as[0].(map[string]any)["id"] != id {
		t.Errorf("day %s: %v", day, list)
	}

	// Five minutes before the start: the reminder has gone out, the link
	// lets the customer in.
	offset.Store(int64(start2.Add(-5 * time.Minute).Sub(time.Now())))
	ms = deliver(3)
	p, _ = read(ms[0].ID)
	if !strings.HasPrefix(p.Subject, "Erinnerung") || !strings.Contains(p.Text, link) || p.Calendar != nil {
		t.Errorf("reminder: %q\n%s", p.Subject, p.Text)
	}
	if inv := e.do(e.client(), "GET", "/api/v1/invites/"+token, nil).json(t); inv["appointment"].(map[string]any)["open"] != true {
		t.Errorf("invite in the window: %v", inv)
	}
	if r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", join); r.StatusCode != http.StatusOK {
		t.Fatalf("join in the window: %d %s", r.StatusCode, r.body)
	}

	// Cancelled: METHOD:CANCEL, and the link is dead.
	e.login(c, "anna") // a day later
	if r := e.staff(c, "POST", "/api/v1/appointments/"+id+"/cancel", nil); r.StatusCode != http.StatusOK || r.json(t)["state"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.StatusCode, r.body)
	}
	ms = deliver(4)
	p, ev = read(ms[0].ID)
	if ev.Method != "CANCEL" || p.CalMethod != "CANCEL" || ev.Status != "CANCELLED" || ev.Sequence != 2 || ev.UID != uid {
		t.Errorf("cancel event %+v", ev)
	}
	if r := e.do(e.client(), "GET", "/api/v1/invites/"+token, nil); r.StatusCode != http.StatusGone {
		t.Errorf("invite after cancelling: %d %s", r.StatusCode, r.body)
	}
	seen := map[string]int{}
	for _, m := range ms {
		seen[m.MessageID]++
		if len(m.To) != 1 || m.To[0].Address != "erika.kundin@example.com" {
			t.Errorf("recipient %v", m.To)
		}
	}
	if len(seen) != 4 {
		t.Errorf("Message-IDs %v", seen)
	}
	// Another advisor sees nothing of it.
	c2, _ := e.loggedIn("bert", records.RoleAdvisor)
	if r := e.staff(c2, "GET", "/api/v1/appointments/"+id, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("another advisor: %d", r.StatusCode)
	}
	if logs := e.logs.String(); strings.Contains(logs, "erika") || strings.Contains(logs, "S3cr3t") {
		t.Errorf("the log holds personal data or the key:\n%s", logs)
	}
}

// TestAppointmentWithoutMail: with e-mail off, booking works and sending
// answers mail_disabled (the advisor sends from their own mail program).
func TestAppointmentWithoutMail(t *testing.T) {
	e := newEnv(t)
	var err error
	if e.srv.appts, err = appointment.New(appointment.Config{}, e.rec, nil); err != nil {
		t.Fatal(err)
	}
	c, _ := e.loggedIn("anna", records.RoleAdvisor)
	start := time.Now().Add(time.Hour)
	r := e.staff(c, "POST", "/api/v1/appointments", map[string]string{"startsAt": start.Format(time.RFC3339),
		"endsAt": start.Add(time.Hour).Format(time.RFC3339), "customerName": "E", "customerEmail": "e@example.com"})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("book: %d %s", r.StatusCode, r.body)
	}
	a := r.json(t)
	r = e.staff(c, "POST", "/api/v1/appointments/"+a["id"].(string)+"/send", map[string]string{"link": a["inviteUrl"].(string) + "#k"})
	if r.StatusCode != http.StatusConflict || r.errCode(t) != "mail_disabled" {
		t.Fatalf("send with mail off: %d %s", r.StatusCode, r.body)
	}
	for _, bad := range []map[string]string{
		{"startsAt": start.Format(time.RFC3339), "endsAt": start.Add(-time.Minute).Format(time.RFC3339), "customerName": "E", "customerEmail": "e@example.com"},
		{"startsAt": start.Format(time.RFC3339), "endsAt": start.Add(time.Hour).Format(time.RFC3339), "customerName": "E", "customerEmail": "not an address"},
		{"startsAt": start.Format(time.RFC3339), "endsAt": start.Add(time.Hour).Format(time.RFC3339), "customerEmail": "e@example.com"},
		{"startsAt": "tomorrow", "endsAt": start.Add(time.Hour).Format(time.RFC3339), "customerName": "E", "customerEmail": "e@example.com"},
	} {
		if r := e.staff(c, "POST", "/api/v1/appointments", bad); r.StatusCode != http.StatusBadRequest {
			t.Errorf("book %v: %d %s", bad, r.StatusCode, r.body)
		}
	}
}

func mustKeyLine(t *testing.T) string {
	t.Helper()
	line, err := blobs.GenerateKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	return line
}
