// Package outbox delivers messages to other systems (e-mail, webhooks)
// reliably: a message is written to the records database first (sealed
// with the storage key), and a worker on every node claims due rows,
// hands each to the handler registered for its kind, and retries failures
// with exponential backoff up to a cap until the message expires. Rows
// survive a restart; a claim is a lease, so a node that dies mid-delivery
// leaves its rows to the others once the lease ends, and on PostgreSQL
// nodes claiming at once skip each other's rows (FOR UPDATE SKIP LOCKED).
//
// Delivery is at least once: every message carries its idempotency key
// (an e-mail's Message-ID), so a receiver that sees one twice (a node
// died after sending, before recording it) can tell. Logs name kinds,
// row ids and counts, never content or addresses.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/parley-video/parley/records"
)

// Store is what the outbox needs from the records; *records.Store has it.
type Store interface {
	EnqueueOutbox(ctx context.Context, kind, key string, payload []byte, notBefore, expires time.Time) (bool, error)
	ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]records.OutboxEntry, error)
	OutboxDelivered(ctx context.Context, id int64, attempts int) error
	OutboxRetry(ctx context.Context, id int64, attempts int, next time.Time, reason string) error
	OutboxFailed(ctx context.Context, id int64, attempts int, reason string) error
	CancelOutbox(ctx context.Context, key string) (bool, error)
	DeleteOutboxDoneBefore(ctx context.Context, cutoff time.Time) (int, error)
}

var _ Store = (*records.Store)(nil)

// Sealer encrypts payloads at rest; *blobs.KeyRing has it.
type Sealer interface {
	Seal(purpose string, plain, ad []byte) ([]byte, error)
	Open(purpose string, sealed, ad []byte) ([]byte, error)
}

// Message is a claimed message handed to its handler.
type Message struct {
	Kind    string
	Key     string // idempotency key: send it along
	Payload []byte
	Attempt int // 1 for the first attempt
}

// Handler delivers one message. An error wrapping ErrPermanent gives the
// message up at once; any other error is retried.
type Handler func(ctx context.Context, m Message) error

// ErrPermanent marks a failure no retry can fix (a malformed payload, a
// recipient the server refuses for good).
var ErrPermanent = errors.New("outbox: permanent failure")

// Config tunes the worker. Zero fields take the defaults.
type Config struct {
	Poll        time.Duration // how often due rows are looked for (default 2s)
	BackoffBase time.Duration // wait after the first failure (default 30s), doubled per failure
	BackoffMax  time.Duration // cap of the wait (default 1h)
	Lease       time.Duration // how long a claim holds (default 2m); a delivery is cut off at half of it
	Batch       int           // rows claimed at a time (default 10)
	TTL         time.Duration // a message not delivered by then is given up (default 72h)
	KeepDone    time.Duration // delivered and failed rows are deleted this long after (default 7 days)
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Poll, 2*time.Second)
	def(&c.BackoffBase, 30*time.Second)
	def(&c.BackoffMax, time.Hour)
	def(&c.Lease, 2*time.Minute)
	def(&c.TTL, 72*time.Hour)
	def(&c.KeepDone, 7*24*time.Hour)
	if c.Batch <= 0 {
		c.Batch = 10
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffBase)
}

// Outbox queues and delivers messages.
type Outbox struct {
	cfg    Config
	store  Store
	sealer Sealer
	log    *slog.Logger
	now    func() time.Time
	kick   chan struct{}

	mu       sync.Mutex
	handlers map[string]Handler
}

// New returns an outbox; register handlers with Handle, then Run.
func New(cfg Config, store Store, sealer Sealer, log *slog.Logger) (*Outbox, error) {
	if store == nil || sealer == nil {
		return nil, errors.New("outbox: a store and a sealer are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.defaults()
	return &Outbox{cfg: cfg, store: store, sealer: sealer, log: log, now: time.Now,
		kick: make(chan struct{}, 1), handlers: map[string]Handler{}}, nil
}

// Handle registers the handler of a kind. Rows of a kind without a
// handler on this node wait (another node, or a later version, may have
// one) until they expire.
func (o *Outbox) Handle(kind string, h Handler) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handlers[kind] = h
}

// Item is a message to queue.
type Item struct {
	Kind    string
	Key     string // idempotency key, unique across kinds: e.g. "mail:a_x:invite:0"
	Payload []byte
	// NotBefore delays the first attempt (a reminder); zero: now.
	NotBefore time.Time
	// Expires gives the message up if undelivered by then; zero:
	// NotBefore (or now) plus Config.TTL.
	Expires time.Time
}

// Enqueue stores a message for delivery (sealed) and wakes the worker. An
// item whose key is already queued or delivered is not queued again:
// added says whether this call queued it.
func (o *Outbox) Enqueue(ctx context.Context, it Item) (added bool, err error) {
	nb := it.NotBefore
	if nb.IsZero() {
		nb = o.now()
	}
	exp := it.Expires
	if exp.IsZero() {
		exp = nb.Add(o.cfg.TTL)
	}
	sealed, err := o.sealer.Seal("outbox", it.Payload, []byte(it.Key))
	if err != nil {
		return false, fmt.Errorf("outbox: seal %s: %w", it.Kind, err)
	}
	added, err = o.store.EnqueueOutbox(ctx, it.Kind, it.Key, sealed, nb, exp)
	if err != nil {
		return false, fmt.Errorf("outbox: enqueue %s: %w", it.Kind, err)
	}
	o.Kick()
	return added, nil
}

// Cancel removes a queued, undelivered message by key; it reports
// whether there was one.
func (o *Outbox) Cancel(ctx context.Context, key string) (bool, error) {
	ok, err := o.store.CancelOutbox(ctx, key)
	if err != nil {
		return false, fmt.Errorf("outbox: cancel: %w", err)
	}
	return ok, nil
}

// Kick makes the worker look for due rows now.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Run delivers due messages until ctx ends, and deletes done rows
// Config.KeepDone after they were done (checked hourly).
func (o *Outbox) Run(ctx context.Context) error {
	poll := time.NewTicker(o.cfg.Poll)
	defer poll.Stop()
	var lastSweep time.Time
	for {
		if _, err := o.RunOnce(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("outbox: delivery round failed", "err", err)
		}
		if o.now().Sub(lastSweep) >= time.Hour {
			lastSweep = o.now()
			if n, err := o.store.DeleteOutboxDoneBefore(ctx, o.now().Add(-o.cfg.KeepDone)); err != nil && ctx.Err() == nil {
				o.log.Warn("outbox: delete done rows", "err", err)
			} else if n > 0 {
				o.log.Info("outbox: deleted done rows", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-o.kick:
		}
	}
}

// RunOnce claims the due rows (batch after batch while there are any)
// and delivers them; it returns how many were delivered.
func (o *Outbox) RunOnce(ctx context.Context) (int, error) {
	delivered := 0
	for ctx.Err() == nil {
		batch, err := o.store.ClaimOutbox(ctx, o.cfg.Batch, o.cfg.Lease)
		if err != nil {
			return delivered, fmt.Errorf("outbox: claim: %w", err)
		}
		for _, e := range batch {
			if o.deliver(ctx, e) {
				delivered++
			}
		}
		if len(batch) < o.cfg.Batch {
			break
		}
	}
	return delivered, nil
}

// deliver runs one claimed row's handler and records the outcome.
func (o *Outbox) deliver(ctx context.Context, e records.OutboxEntry) bool {
	// The outcome is recorded even when ctx ends meanwhile (shutdown).
	rec := context.WithoutCancel(ctx)
	o.mu.Lock()
	h := o.handlers[e.Kind]
	o.mu.Unlock()
	now := o.now()
	if !now.Before(e.Expires) {
		o.log.Warn("outbox: message expired undelivered", "kind", e.Kind, "id", e.ID, "attempts", e.Attempts-1)
		if err := o.store.OutboxFailed(rec, e.ID, e.Attempts, "expired"); err != nil {
			o.log.Warn("outbox: record failure", "id", e.ID, "err", err)
		}
		return false
	}
	var err error
	if h == nil {
		err = fmt.Errorf("no handler for kind %q on this node", e.Kind)
	} else {
		var payload []byte
		if payload, err = o.sealer.Open("outbox", e.Payload, []byte(e.Key)); err != nil {
			err = fmt.Errorf("%w: open payload: %v", ErrPermanent, err)
		} else {
			dctx, cancel := context.WithTimeout(ctx, o.cfg.Lease/2)
			err = h(dctx, Message{Kind: e.Kind, Key: e.Key, Payload: payload, Attempt: e.Attempts})
			cancel()
		}
	}
	if err == nil {
		if err := o.store.OutboxDelivered(rec, e.ID, e.Attempts); err != nil {
			o.log.Warn("outbox: record delivery", "id", e.ID, "err", err)
		}
		o.log.Debug("outbox: delivered", "kind", e.Kind, "id", e.ID, "attempt", e.Attempts)
		return true
	}
	reason := err.Error()
	if errors.Is(err, ErrPermanent) {
		o.log.Warn("outbox: message given up", "kind", e.Kind, "id", e.ID, "attempt", e.Attempts, "err", reason)
		if err := o.store.OutboxFailed(rec, e.ID, e.Attempts, reason); err != nil {
			o.log.Warn("outbox: record failure", "id", e.ID, "err", err)
		}
		return false
	}
	next := now.Add(o.Backoff(e.Attempts))
	o.log.Info("outbox: delivery failed, will retry", "kind", e.Kind, "id", e.ID, "attempt", e.Attempts, "err", reason, "next", next)
	if err := o.store.OutboxRetry(rec, e.ID, e.Attempts, next, reason); err != nil {
		o.log.Warn("outbox: record retry", "id", e.ID, "err", err)
	}
	return false
}

// Backoff is the wait after the attempt-th failed attempt: BackoffBase
// doubled per earlier failure, at most BackoffMax, less up to a fifth at
// random (so nodes do not retry in step).
func (o *Outbox) Backoff(attempt int) time.Duration {
	d := o.cfg.BackoffBase
	for i := 1; i < attempt && d < o.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, o.cfg.BackoffMax)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}
