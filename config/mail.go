package config

import (
	"net/mail"
	"strings"
	"time"
	_ "time/tzdata" // mail.time_zone is checked without the system's zone database
)

// MailConfig is outgoing e-mail (appointment invitations) through an
// SMTP server. Off by default: without it appointments are booked and the
// advisor sends the invitation from their own mail program.
type MailConfig struct {
	// Enabled turns e-mail on; the SMTP server must then be given.
	Enabled bool `yaml:"enabled"`
	// From is the sender address; FromName the name shown (default: the
	// company's name, company.name).
	From     string `yaml:"from"`
	FromName string `yaml:"from_name"`
	// TimeZone shows times in e-mails (IANA name, default Europe/Berlin).
	TimeZone string     `yaml:"time_zone"`
	SMTP     SMTPConfig `yaml:"smtp"`
}

// SMTPConfig is the SMTP server.
type SMTPConfig struct {
	Host string `yaml:"host"`
	// Port: 587 for STARTTLS, 465 for TLS (default 587).
	Port int `yaml:"port"`
	// TLS: "starttls" (default; the server must offer it), "tls"
	// (implicit TLS) or "none" (only for a relay on this machine).
	TLS string `yaml:"tls"`
	// Username and Password authenticate (PLAIN, only over TLS or to
	// loopback); empty username: no authentication. The password best
	// from PARLEY_MAIL_SMTP_PASSWORD.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Timeout bounds one message's delivery (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// OutboxConfig tunes the delivery of queued messages (e-mail now).
type OutboxConfig struct {
	// BackoffBase is the wait after the first failed attempt, doubled per
	// failure up to BackoffMax.
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// TTL gives up a message not delivered by then.
	TTL time.Duration `yaml:"ttl"`
	// KeepDone: delivered and given-up rows (without content) are deleted
	// this long after.
	KeepDone time.Duration `yaml:"keep_done"`
}

// AppointmentsConfig is consultations booked for a slot.
type AppointmentsConfig struct {
	// EarlyJoin: the link opens the call this long before the start
	// (before that it shows when the appointment starts).
	EarlyJoin time.Duration `yaml:"early_join"`
	// LateJoin: the link keeps working this long after the slot's end.
	LateJoin time.Duration `yaml:"late_join"`
	// Reminder: the reminder e-mail goes out this long before the start
	// (0: no reminder).
	Reminder time.Duration `yaml:"reminder"`
}

func defaultMail() (MailConfig, OutboxConfig, AppointmentsConfig) {
	return MailConfig{TimeZone: "Europe/Berlin", SMTP: SMTPConfig{Port: 587, TLS: "starttls", Timeout: 30 * time.Second}},
		OutboxConfig{BackoffBase: 30 * time.Second, BackoffMax: time.Hour, TTL: 72 * time.Hour, KeepDone: 7 * 24 * time.Hour},
		AppointmentsConfig{EarlyJoin: 10 * time.Minute, LateJoin: 30 * time.Minute, Reminder: 24 * time.Hour}
}

// validateMail checks mail, outbox and appointments.
func (c *Config) validateMail(bad func(key, format string, args ...any)) {
	m := c.Mail
	if _, err := time.LoadLocation(m.TimeZone); err != nil || m.TimeZone == "" {
		bad("mail.time_zone", "%q is not an IANA time zone such as Europe/Berlin", m.TimeZone)
	}
	if strings.ContainsAny(m.FromName, "\r\n") {
		bad("mail.from_name", "must be one line")
	}
	if m.Enabled {
		if a, err := mail.ParseAddress(m.From); err != nil || a.Address != m.From {
			bad("mail.from", "give the sender address, e.g. termine@bank.example (the name goes in mail.from_name)")
		}
		if strings.TrimSpace(m.SMTP.Host) == "" {
			bad("mail.smtp.host", "mail.enabled is true, so name the SMTP server")
		}
		if m.SMTP.Port < 1 || m.SMTP.Port > 65535 {
			bad("mail.smtp.port", "%d is outside 1..65535", m.SMTP.Port)
		}
		if m.SMTP.Password != "" && m.SMTP.Username == "" {
			bad("mail.smtp.username", "a password is set without a user name")
		}
	}
	switch m.SMTP.TLS {
	case "starttls", "tls", "none":
	default:
		bad("mail.smtp.tls", "%q is not starttls, tls or none", m.SMTP.TLS)
	}
	if m.SMTP.Timeout < time.Second || m.SMTP.Timeout > 10*time.Minute {
		bad("mail.smtp.timeout", "%v is outside 1s..10m", m.SMTP.Timeout)
	}
	o := c.Outbox
	if o.BackoffBase < 100*time.Millisecond || o.BackoffMax < o.BackoffBase {
		bad("outbox.backoff_base", "give at least 100ms, and outbox.backoff_max at least as much")
	}
	if o.TTL < time.Minute {
		bad("outbox.ttl", "%v is under a minute", o.TTL)
	}
	if o.KeepDone < 0 {
		bad("outbox.keep_done", "must not be negative")
	}
	a := c.Appointments
	if a.EarlyJoin < 0 || a.EarlyJoin > 2*time.Hour {
		bad("appointments.early_join", "%v is outside 0..2h", a.EarlyJoin)
	}
	if a.LateJoin < 0 || a.LateJoin > 12*time.Hour {
		bad("appointments.late_join", "%v is outside 0..12h", a.LateJoin)
	}
	if a.Reminder < 0 || a.Reminder > 14*24*time.Hour {
		bad("appointments.reminder", "%v is outside 0..336h", a.Reminder)
	}
}
