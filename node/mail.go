package node

import (
	"log/slog"
	"time"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/webhooks"
)

// newMail builds the outbox (always: its rows wait for a node with the
// handler) with the e-mail handler when mail.enabled, and the appointment
// service.
func newMail(cfg config.Config, rec *records.Store, keys *blobs.KeyRing, log *slog.Logger) (*outbox.Outbox, *appointment.Service, error) {
	ob, err := outbox.New(outbox.Config{
		BackoffBase: cfg.Outbox.BackoffBase, BackoffMax: cfg.Outbox.BackoffMax,
		TTL: cfg.Outbox.TTL, KeepDone: cfg.Outbox.KeepDone,
	}, rec, keys, log.With("component", "outbox"))
	if err != nil {
		return nil, nil, err
	}
	zone, err := time.LoadLocation(cfg.Mail.TimeZone)
	if err != nil {
		return nil, nil, err
	}
	company := cfg.Mail.FromName
	if company == "" {
		company = cfg.Company.Name
	}
	acfg := appointment.Config{
		EarlyJoin: cfg.Appointments.EarlyJoin, LateJoin: cfg.Appointments.LateJoin, Reminder: cfg.Appointments.Reminder,
		Company: company, From: cfg.Mail.From, Zone: zone,
	}
	if !cfg.Mail.Enabled {
		appts, err := appointment.New(acfg, rec, nil)
		return ob, appts, err
	}
	sender, err := mail.NewSender(mail.SMTPConfig{
		Host: cfg.Mail.SMTP.Host, Port: cfg.Mail.SMTP.Port, TLS: cfg.Mail.SMTP.TLS,
		Username: cfg.Mail.SMTP.Username, Password: cfg.Mail.SMTP.Password, Timeout: cfg.Mail.SMTP.Timeout,
	})
	if err != nil {
		return nil, nil, err
	}
	ob.Handle(mail.Kind, sender.OutboxHandler())
	appts, err := appointment.New(acfg, rec, ob)
	return ob, appts, err
}

// newWebhooks sends events to the configured endpoints through the
// outbox; with none configured it sends nothing.
func newWebhooks(cfg config.Config, ob *outbox.Outbox, log *slog.Logger) *webhooks.Hooks {
	eps := make([]webhooks.Endpoint, 0, len(cfg.Webhooks.Endpoints))
	for _, e := range cfg.Webhooks.Endpoints {
		eps = append(eps, webhooks.Endpoint{ID: e.ID, URL: e.URL, Secret: e.WebhookSecret(), Events: e.Events, PersonalData: e.PersonalData})
	}
	return webhooks.New(eps, cfg.Webhooks.Timeout, ob, log.With("component", "webhooks"))
}
