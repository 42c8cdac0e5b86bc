// Package appointment books consultations for a time slot and tells the
// customer by e-mail: an invitation with the link and an RFC 5545 entry,
// an update when the slot moves (SEQUENCE raised, same UID), a
// cancellation (METHOD:CANCEL) that also ends the consultation, so the
// link stops working, and a reminder before the start. The link's key
// (the call secret in its fragment) is made in the advisor's browser: the
// server only mails a link the browser hands it (Send, Reschedule), and
// keeps it only inside the sealed outbox rows of the mails that carry it
// (web/E2EE.md says what that means).
package appointment

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
)

// ErrMailOff: e-mail is not configured (mail.enabled is false); the
// advisor sends the invitation from their own mail program.
var ErrMailOff = errors.New("appointment: e-mail is off")

// Config is what the service takes from the configuration.
type Config struct {
	EarlyJoin time.Duration // appointments.early_join
	LateJoin  time.Duration // appointments.late_join
	Reminder  time.Duration // appointments.reminder (0: none)
	Company   string        // sender name and signature (mail.from_name or company.name)
	From      string        // mail.from
	Zone      *time.Location
}

// Service books appointments. Outbox nil: e-mail is off (booking works,
// sending answers ErrMailOff).
type Service struct {
	cfg Config
	rec *records.Store
	out *outbox.Outbox
	now func() time.Time
}

// New returns the service.
func New(cfg Config, rec *records.Store, out *outbox.Outbox) (*Service, error) {
	if rec == nil {
		return nil, errors.New("appointment: records are required")
	}
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	if cfg.Company == "" {
		cfg.Company = "Parley"
	}
	return &Service{cfg: cfg, rec: rec, out: out, now: rec.Now}, nil
}

// MailOn reports whether the server sends e-mail.
func (s *Service) MailOn() bool { return s.out != nil }

// Zone is where times in e-mails (and the advisor's day) are counted.
func (s *Service) Zone() *time.Location { return s.cfg.Zone }

// Request is a booking.
type Request struct {
	Title         string
	StartsAt      time.Time
	EndsAt        time.Time
	CustomerName  string
	CustomerEmail string
	CustomerPhone string
	Lang          string
}

// Book books a consultation for advisor and returns the appointment and
// the consultation's invite token (for the link the browser completes
// with the key). Nothing is mailed yet: Send does that.
func (s *Service) Book(ctx context.Context, advisor int64, r Request) (records.Appointment, string, error) {
	return s.rec.BookAppointment(ctx, records.Booking{
		AdvisorID: advisor, Title: r.Title, StartsAt: r.StartsAt, EndsAt: r.EndsAt,
		OpensAt: r.StartsAt.Add(-s.cfg.EarlyJoin), InviteValidFor: s.cfg.LateJoin,
		CustomerName: r.CustomerName, CustomerEmail: r.CustomerEmail, CustomerPhone: r.CustomerPhone, Lang: r.Lang,
	})
}

// OpensAt is when the appointment's link starts to work.
func (s *Service) OpensAt(a records.Appointment) time.Time { return a.StartsAt.Add(-s.cfg.EarlyJoin) }

// Send mails the invitation with link (the invite link the browser
// completed with the key in its fragment; it must be base+"/j/"+ the
// appointment's invite token) and queues the reminder. Sending again for
// the same version of the appointment queues nothing new.
func (s *Service) Send(ctx context.Context, id, base, link string) (records.Appointment, error) {
	if s.out == nil {
		return records.Appointment{}, ErrMailOff
	}
	a, err := s.rec.AppointmentByID(ctx, id)
	if err != nil {
		return records.Appointment{}, err
	}
	if a.State != records.AppointmentBooked {
		return a, fmt.Errorf("appointment %s: %w", id, records.ErrEnded)
	}
	if err := s.checkLink(ctx, a, base, link); err != nil {
		return a, err
	}
	kind := mail.KindInvite
	if a.Sequence > 0 {
		kind = mail.KindUpdate
	}
	if err := s.queue(ctx, a, kind, link); err != nil {
		return a, err
	}
	return a, s.queueReminder(ctx, a, link)
}

// Reschedule moves the appointment to a new slot (the link stays) and,
// with e-mail on, mails the update (with link when the browser gives it,
// else pointing to the invitation's) and moves the reminder.
func (s *Service) Reschedule(ctx context.Context, id string, start, end time.Time, base, link string) (records.Appointment, error) {
	old, err := s.rec.AppointmentByID(ctx, id)
	if err != nil {
		return records.Appointment{}, err
	}
	if link != "" {
		if err := s.checkLink(ctx, old, base, link); err != nil {
			return old, err
		}
	}
	a, err := s.rec.RescheduleAppointment(ctx, id, start, end, start.Add(-s.cfg.EarlyJoin), s.cfg.LateJoin)
	if err != nil {
		return a, err
	}
	if s.out == nil {
		return a, nil
	}
	if _, err := s.out.Cancel(ctx, reminderKey(old)); err != nil {
		return a, err
	}
	if err := s.queue(ctx, a, mail.KindUpdate, link); err != nil {
		return a, err
	}
	return a, s.queueReminder(ctx, a, link)
}

// Cancel cancels the appointment: its consultation ends (the link stops
// working) and, with e-mail on, the customer gets METHOD:CANCEL and no
// reminder.
func (s *Service) Cancel(ctx context.Context, id string) (records.Appointment, error) {
	a, changed, err := s.rec.CancelAppointment(ctx, id)
	if err != nil || !changed || s.out == nil {
		return a, err
	}
	if _, err := s.out.Cancel(ctx, fmt.Sprintf("appt:%s:reminder:%d", a.ID, a.Sequence-1)); err != nil {
		return a, err
	}
	return a, s.queue(ctx, a, mail.KindCancel, "")
}

// Day lists advisor's appointments that start on the calendar day of day
// in day's time zone.
func (s *Service) Day(ctx context.Context, advisor int64, day time.Time) ([]records.Appointment, error) {
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, day.Location())
	return s.rec.AppointmentsBetween(ctx, advisor, from, from.AddDate(0, 0, 1))
}

// checkLink accepts only the appointment's own invite link on this
// server with a key in its fragment, so the server cannot be made to
// mail anything else in the company's name.
func (s *Service) checkLink(ctx context.Context, a records.Appointment, base, link string) error {
	bad := &records.ValidationError{Field: "link", Reason: "must be this appointment's invite link with the key in its fragment"}
	u, err := url.Parse(link)
	if err != nil || u.Fragment == "" || len(link) > 2048 || strings.ContainsAny(link, " \r\n") {
		return bad
	}
	token, ok := strings.CutPrefix(link, base+"/j/")
	if !ok {
		return bad
	}
	token, _, _ = strings.Cut(token, "#")
	c, err := s.rec.ConsultationByInvite(ctx, token)
	if err != nil && !errors.Is(err, records.ErrExpired) || c.ID != a.ConsultationID {
		return bad
	}
	return nil
}

func reminderKey(a records.Appointment) string {
	return fmt.Sprintf("appt:%s:reminder:%d", a.ID, a.Sequence)
}

// queue writes and queues one mail of the appointment's current version.
func (s *Service) queue(ctx context.Context, a records.Appointment, kind, link string) error {
	part := kind
	if kind == mail.KindInvite || kind == mail.KindUpdate {
		part = "request"
	}
	key := fmt.Sprintf("appt:%s:%s:%d", a.ID, part, a.Sequence)
	return s.enqueue(ctx, a, kind, link, key, s.now(), time.Time{})
}

func (s *Service) queueReminder(ctx context.Context, a records.Appointment, link string) error {
	at := a.StartsAt.Add(-s.cfg.Reminder)
	if s.cfg.Reminder <= 0 || !at.After(s.now()) {
		return nil // no reminder, or the start is nearer than the reminder's lead
	}
	return s.enqueue(ctx, a, mail.KindReminder, link, reminderKey(a), at, a.StartsAt)
}

func (s *Service) enqueue(ctx context.Context, a records.Appointment, kind, link, key string, at, expires time.Time) error {
	domain := "parley.invalid"
	if i := strings.LastIndexByte(s.cfg.From, '@'); i >= 0 {
		domain = s.cfg.From[i+1:]
	}
	m, err := mail.Appointment{
		Kind: kind, Lang: a.Lang, Company: s.cfg.Company, FromAddr: s.cfg.From, To: a.CustomerEmail,
		CustomerName: a.CustomerName, AdvisorName: a.AdvisorName, Title: a.Title,
		Start: a.StartsAt, End: a.EndsAt, Zone: s.cfg.Zone, Link: link,
		UID: a.ID + "@" + domain, Sequence: a.Sequence, Stamp: at, Key: key,
	}.Message()
	if err != nil {
		return err
	}
	data, err := m.Bytes()
	if err != nil {
		return err
	}
	payload, err := mail.Payload(mail.Envelope{From: s.cfg.From, To: a.CustomerEmail, Data: data})
	if err != nil {
		return err
	}
	_, err = s.out.Enqueue(ctx, outbox.Item{Kind: mail.Kind, Key: key, Payload: payload, NotBefore: at, Expires: expires})
	return err
}
