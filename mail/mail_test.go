package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/mailtest"
)

func invite(kind, lang string, seq int) mail.Appointment {
	start := time.Date(2030, 3, 4, 13, 0, 0, 0, time.UTC)
	zone, _ := time.LoadLocation("Europe/Berlin")
	return mail.Appointment{
		Kind: kind, Lang: lang, Company: "Muster Bank AG", FromAddr: "termine@bank.example",
		To: "kunde@example.com", CustomerName: "Erika Müller", AdvisorName: "Anna Advisor",
		Title: "Baufinanzierung", Start: start, End: start.Add(30 * time.Minute), Zone: zone,
		Link: "https://video.bank.example/j/TOKEN#SECRET", UID: "a_x@bank.example", Sequence: seq,
		Stamp: start.Add(-48 * time.Hour), Key: "mail:a_x:" + kind + ":" + lang,
	}
}

// TestSendThroughSMTP sends an invitation through a real SMTP server
// (Mailpit) in each TLS mode, with authentication, and reads it back: the
// German text with the company's name and the local time, the link, and
// a calendar entry a calendar library parses (METHOD, UID, SEQUENCE,
// DTSTART).
func TestSendThroughSMTP(t *testing.T) {
	for _, tc := range []struct{ name, tls string }{
		{"starttls", mail.TLSStartTLS},
		{"implicit tls", mail.TLSImplicit},
		{"plain on loopback", mail.TLSNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mpTLS := tc.tls
			if mpTLS == mail.TLSNone {
				mpTLS = ""
			}
			srv := mailtest.Start(t, mailtest.Options{TLS: mpTLS, Auth: true})
			s, err := mail.NewSender(mail.SMTPConfig{Host: srv.Host, Port: srv.SMTPPort, TLS: tc.tls,
				Username: "parley", Password: "secret", RootCAs: srv.RootCAs})
			if err != nil {
				t.Fatal(err)
			}
			a := invite(mail.KindInvite, "de", 0)
			m, err := a.Message()
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(t.Context(), mail.Envelope{From: a.FromAddr, To: a.To, Data: data}); err != nil {
				t.Fatal(err)
			}
			ms := srv.WaitFor(t, 20*time.Second, "the invitation", func(ms []mailtest.Summary) bool { return len(ms) == 1 })
			raw, err := srv.Raw(t.Context(), ms[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			p, err := mailtest.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if want := "Ihr Videoberatungstermin am 04.03.2030 um 14:00 Uhr – Muster Bank AG"; p.Subject != want {
				t.Errorf("subject %q, want %q", p.Subject, want)
			}
			if from := p.Header.Get("From"); !strings.Contains(from, "Muster Bank AG") || !strings.Contains(from, "termine@bank.example") {
				t.Errorf("From %q", from)
			}
			if ms[0].MessageID != mail.MessageID(a.Key, a.FromAddr) {
				t.Errorf("Message-ID %q, want %q", ms[0].MessageID, mail.MessageID(a.Key, a.FromAddr))
			}
			for _, want := range []string{"Guten Tag Erika Müller", "von 14:00 bis 14:30 Uhr", a.Link} {
				if !strings.Contains(p.Text, want) {
					t.Errorf("text lacks %q:\n%s", want, p.Text)
				}
			}
			if p.CalMethod != "REQUEST" || p.Attachment != "invite.ics" {
				t.Errorf("calendar part method %q, attachment %q", p.CalMethod, p.Attachment)
			}
			ev, err := mailtest.ParseCalendar(p.Calendar)
			if err != nil {
				t.Fatalf("%v\n%s", err, p.Calendar)
			}
			if ev.Method != "REQUEST" || ev.UID != a.UID || ev.Sequence != 0 || !ev.Start.Equal(a.Start) || !ev.End.Equal(a.End) || ev.URL != a.Link {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

// TestLanguagesAndKinds: every kind in both languages renders, the
// cancellation carries METHOD:CANCEL and STATUS:CANCELLED, the reminder
// no calendar entry, the English text English words.
func TestLanguagesAndKinds(t *testing.T) {
	for _, lang := range []string{"de", "en"} {
		for _, kind := range []string{mail.KindInvite, mail.KindUpdate, mail.KindCancel, mail.KindReminder} {
			m, err := invite(kind, lang, 2).Message()
			if err != nil {
				t.Fatalf("%s %s: %v", lang, kind, err)
			}
			raw, err := m.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			p, err := mailtest.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			greeting := map[string]string{"de": "Guten Tag", "en": "Dear"}[lang]
			if !strings.HasPrefix(p.Text, greeting) || !strings.Contains(p.Subject, "Muster Bank AG") {
				t.Errorf("%s %s: subject %q text %q", lang, kind, p.Subject, p.Text)
			}
			if kind == mail.KindReminder {
				if p.Calendar != nil {
					t.Errorf("reminder with a calendar entry")
				}
				continue
			}
			ev, err := mailtest.ParseCalendar(p.Calendar)
			if err != nil {
				t.Fatal(err)
			}
			wantMethod, wantStatus := "REQUEST", "CONFIRMED"
			if kind == mail.KindCancel {
				wantMethod, wantStatus = "CANCEL", "CANCELLED"
			}
			if ev.Method != wantMethod || p.CalMethod != wantMethod || ev.Status != wantStatus || ev.Sequence != 2 {
				t.Errorf("%s %s: event %+v, part method %q", lang, kind, ev, p.CalMethod)
			}
		}
	}
}

// TestRefusedAndUnreachable: a closed port is an error worth retrying,
// without the address in it; STARTTLS required but not offered fails.
func TestRefusedAndUnreachable(t *testing.T) {
	port := mailtest.FreePort(t)
	s, err := mail.NewSender(mail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail.Envelope{From: "a@b.example", To: "secret.person@example.com", Data: []byte("x")})
	if err == nil || errors.Is(err, mail.ErrRejected) || strings.Contains(err.Error(), "secret.person") {
		t.Fatalf("send to a closed port: %v", err)
	}
	srv := mailtest.Start(t, mailtest.Options{})
	s, _ = mail.NewSender(mail.SMTPConfig{Host: srv.Host, Port: srv.SMTPPort, TLS: mail.TLSStartTLS})
	if err := s.Send(t.Context(), mail.Envelope{From: "a@b.example", To: "c@d.example", Data: []byte("x")}); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("STARTTLS not offered: %v", err)
	}
}
