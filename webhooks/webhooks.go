// Package webhooks tells other systems (a CRM) what happened around a
// consultation: each event is an HTTPS POST with a JSON body, signed with
// HMAC-SHA256 over id, timestamp and body, delivered at least once through
// the persisted outbox (retried with backoff, across restarts and
// receiver outages). WEBHOOKS.md documents the events and how a receiver
// verifies them.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
)

// Kind is the outbox kind of webhook deliveries.
const Kind = "webhook"

// The event types (WEBHOOKS.md).
const (
	ConsultationBooked   = "consultation.booked"
	ConsultationStarted  = "consultation.started"
	ConsultationEnded    = "consultation.ended"
	CustomerAdmitted     = "customer.admitted"
	DocumentPresented    = "document.presented"
	ContractSigned       = "contract.signed"
	DataSubjectRequest   = "data_subject.request"
	headerID             = "Parley-Webhook-Id"
	headerTimestamp      = "Parley-Webhook-Timestamp"
	headerSignature      = "Parley-Webhook-Signature"
	headerEvent          = "Parley-Webhook-Event"
	signaturePrefix      = "v1="
	maxResponseBodyBytes = 4 << 10
)

// Types lists every event type.
func Types() []string {
	return []string{ConsultationBooked, ConsultationStarted, ConsultationEnded, CustomerAdmitted,
		DocumentPresented, ContractSigned, DataSubjectRequest}
}

// Endpoint is one receiver.
type Endpoint struct {
	ID     string // short stable name: part of idempotency keys and the delivery log
	URL    string
	Secret string
	// Events it receives; empty: all.
	Events []string
	// PersonalData adds names and e-mail addresses to the events that
	// have them; false sends only ids, times and states.
	PersonalData bool
}

func (e Endpoint) wants(typ string) bool { return len(e.Events) == 0 || slices.Contains(e.Events, typ) }

// Event is something that happened. Data holds what any receiver gets;
// Personal what only receivers with PersonalData get.
type Event struct {
	Type         string
	Consultation string
	// Once, if set, makes the event happen once per value: an event
	// emitted again with the same Once (on any node, after a restart) is
	// not sent again. Empty: every Emit is a new event.
	Once     string
	Data     map[string]any
	Personal map[string]any
}

// Hooks emits events to the configured endpoints.
type Hooks struct {
	endpoints []Endpoint
	ob        *outbox.Outbox
	client    *http.Client
	log       *slog.Logger
	now       func() time.Time
}

// New registers the webhook handler on ob. With no endpoints, Emit does
// nothing.
func New(endpoints []Endpoint, timeout time.Duration, ob *outbox.Outbox, log *slog.Logger) *Hooks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	h := &Hooks{endpoints: endpoints, ob: ob, log: log, now: time.Now,
		client: &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if ob != nil && len(endpoints) > 0 {
		ob.Handle(Kind, h.deliver)
	}
	return h
}

// delivery is the outbox payload: which endpoint, and the exact body.
type delivery struct {
	Endpoint string          `json:"endpoint"`
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Body     json.RawMessage `json:"body"`
}

// Body is the JSON every receiver gets (WEBHOOKS.md).
type Body struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	CreatedAt    time.Time      `json:"createdAt"`
	Consultation string         `json:"consultation,omitempty"`
	Data         map[string]any `json:"data"`
}

// Emit queues ev for every endpoint that wants it. It never fails the
// caller's action: an event that cannot be queued is logged.
func (h *Hooks) Emit(ctx context.Context, ev Event) {
	if h == nil || h.ob == nil || len(h.endpoints) == 0 {
		return
	}
	id := "evt_" + randomHex(12)
	if ev.Once != "" {
		sum := sha256.Sum256([]byte(ev.Type + "\x00" + ev.Once))
		id = "evt_" + hex.EncodeToString(sum[:12])
	}
	for _, ep := range h.endpoints {
		if !ep.wants(ev.Type) {
			continue
		}
		data := map[string]any{}
		for k, v := range ev.Data {
			data[k] = v
		}
		if ep.PersonalData {
			for k, v := range ev.Personal {
				data[k] = v
			}
		}
		body, err := json.Marshal(Body{ID: id, Type: ev.Type, CreatedAt: h.now().UTC().Truncate(time.Millisecond), Consultation: ev.Consultation, Data: data})
		if err != nil {
			h.log.ErrorContext(ctx, "webhook event not encoded", "type", ev.Type, "err", err)
			continue
		}
		payload, _ := json.Marshal(delivery{Endpoint: ep.ID, ID: id, Type: ev.Type, Body: body})
		if _, err := h.ob.Enqueue(ctx, outbox.Item{Kind: Kind, Key: DeliveryKey(ep.ID, ev.Type, id), Payload: payload}); err != nil {
			h.log.ErrorContext(ctx, "webhook event not queued", "type", ev.Type, "endpoint", ep.ID, "err", err)
		}
	}
}

// DeliveryKey is an event's outbox key for one endpoint.
func DeliveryKey(endpoint, typ, id string) string {
	return Kind + ":" + endpoint + ":" + typ + ":" + id
}

// Delivery is one line of the delivery log.
type Delivery struct {
	Endpoint    string     `json:"endpoint"`
	Type        string     `json:"type"`
	ID          string     `json:"id"`
	State       string     `json:"state"` // pending, delivered, failed
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"lastError,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	NextAttempt *time.Time `json:"nextAttemptAt,omitempty"`
	DoneAt      *time.Time `json:"doneAt,omitempty"`
}

// Log is the newest deliveries, for admins (no event content).
func Log(ctx context.Context, rec interface {
	ListOutbox(ctx context.Context, kind string, limit int) ([]records.OutboxRow, error)
}, limit int) ([]Delivery, error) {
	rows, err := rec.ListOutbox(ctx, Kind, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(rows))
	for _, r := range rows {
		parts := strings.SplitN(r.Key, ":", 4)
		if len(parts) != 4 {
			continue
		}
		d := Delivery{Endpoint: parts[1], Type: parts[2], ID: parts[3], State: r.State, Attempts: r.Attempts,
			LastError: r.LastError, CreatedAt: r.Created.UTC()}
		if r.State == "pending" {
			t := r.NextAttempt.UTC()
			d.NextAttempt = &t
		} else if !r.Done.IsZero() {
			t := r.Done.UTC()
			d.DoneAt = &t
		}
		out = append(out, d)
	}
	return out, nil
}

// deliver is the outbox handler: one POST.
func (h *Hooks) deliver(ctx context.Context, m outbox.Message) error {
	var d delivery
	if err := json.Unmarshal(m.Payload, &d); err != nil {
		return fmt.Errorf("webhook payload: %v: %w", err, outbox.ErrPermanent)
	}
	i := slices.IndexFunc(h.endpoints, func(e Endpoint) bool { return e.ID == d.Endpoint })
	if i < 0 {
		// The endpoint was removed from the configuration.
		return fmt.Errorf("webhook endpoint %q no longer configured: %w", d.Endpoint, outbox.ErrPermanent)
	}
	ep := h.endpoints[i]
	ts := strconv.FormatInt(h.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(d.Body))
	if err != nil {
		return fmt.Errorf("webhook request: %v: %w", err, outbox.ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley-Webhooks/1")
	req.Header.Set(headerID, d.ID)
	req.Header.Set(headerEvent, d.Type)
	req.Header.Set(headerTimestamp, ts)
	req.Header.Set(headerSignature, Sign(ep.Secret, d.ID, ts, d.Body))
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %s", ep.ID, describeNetErr(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBodyBytes))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusGone:
		return fmt.Errorf("webhook %s: answered %d: %w", ep.ID, resp.StatusCode, outbox.ErrPermanent)
	default:
		// 3xx (redirects are not followed: a signed body goes only where
		// configured), 4xx and 5xx are retried: a receiver that is being
		// deployed or misconfigured for a moment loses nothing.
		return fmt.Errorf("webhook %s: answered %d", ep.ID, resp.StatusCode)
	}
}

// describeNetErr names a transport failure without the URL (which may
// hold a token in its query).
func describeNetErr(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "no such host"):
		return "unknown host"
	case strings.Contains(err.Error(), "certificate"):
		return "TLS certificate refused"
	}
	return "transport error"
}

// Sign is the signature header's value: "v1=" and the hex HMAC-SHA256,
// keyed with the endpoint's secret, of id "." timestamp "." body.
func Sign(secret, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id))
	m.Write([]byte("."))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhooks: signature does not match")
	ErrStale        = errors.New("webhooks: timestamp outside the replay window")
)

// Verify is what a receiver does with a delivery (WEBHOOKS.md): the
// signature must match and the timestamp be within window of now. Replays
// inside the window are caught by the receiver remembering ids it has
// processed (the id is also the idempotency key).
func Verify(secret string, header http.Header, body []byte, now time.Time, window time.Duration) error {
	id, ts, sig := header.Get(headerID), header.Get(headerTimestamp), header.Get(headerSignature)
	want := Sign(secret, id, ts, body)
	if id == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return ErrStale
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
