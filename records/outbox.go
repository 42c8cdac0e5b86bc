package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The outbox table (migration 6) holds messages to other systems until
// they are delivered. The outbox package owns the delivery; these are its
// queries. A row is claimed with a lease (claimed_until), so the claim is
// one short statement and the delivery runs outside any transaction; on
// PostgreSQL the candidates are picked with FOR UPDATE SKIP LOCKED, so
// nodes claiming at once take different rows. SQLite runs one write at a
// time, so the same UPDATE is atomic there without it.

// OutboxEntry is a message queued for delivery.
type OutboxEntry struct {
	ID       int64
	Kind     string
	Key      string // idempotency key, unique
	Payload  []byte // sealed by the caller
	Attempts int    // including the current claim
	Created  time.Time
	Expires  time.Time
}

// OutboxStats counts the outbox's rows by state.
type OutboxStats struct {
	Pending, Delivered, Failed int
}

// EnqueueOutbox adds a message due at notBefore, given up at expires. A
// message with the same key already queued (or delivered) is left as it
// is: added reports whether this call added it.
func (s *Store) EnqueueOutbox(ctx context.Context, kind, key string, payload []byte, notBefore, expires time.Time) (added bool, err error) {
	if kind == "" || key == "" {
		return false, invalid("outbox", "needs a kind and an idempotency key")
	}
	n, err := s.exec(ctx, `INSERT INTO outbox (kind, idem_key, payload, next_attempt_at, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING`,
		kind, key, payload, notBefore.UnixMilli(), s.now().UnixMilli(), expires.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("records: enqueue outbox: %w", err)
	}
	return n == 1, nil
}

// ClaimOutbox claims up to limit due pending rows for lease and returns
// them, oldest due first. A row claimed and not finished (the node died)
// is due again when its lease ends.
func (s *Store) ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]OutboxEntry, error) {
	now := s.now()
	skip := ""
	if s.db.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE outbox SET claimed_until = ?1, attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox
			WHERE state = 'pending' AND next_attempt_at <= ?2 AND (claimed_until IS NULL OR claimed_until <= ?2)
			ORDER BY next_attempt_at, id LIMIT ?3`+skip+`)
		RETURNING id, kind, idem_key, payload, attempts, created_at, expires_at`,
		now.Add(lease).UnixMilli(), now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("records: claim outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		var e OutboxEntry
		var created, expires int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.Key, &e.Payload, &e.Attempts, &created, &expires); err != nil {
			return nil, fmt.Errorf("records: claim outbox: %w", err)
		}
		e.Created, e.Expires = millis(created), millis(expires)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: claim outbox: %w", err)
	}
	return out, nil
}

// OutboxDelivered marks a claimed row delivered and empties its payload.
// attempts is the claim's count (ClaimOutbox), so a row whose lease ran
// out and was claimed again is not touched by the earlier claim.
func (s *Store) OutboxDelivered(ctx context.Context, id int64, attempts int) error {
	_, err := s.exec(ctx, `UPDATE outbox SET state = 'delivered', payload = ?, claimed_until = NULL, last_error = '', done_at = ?
		WHERE id = ? AND attempts = ? AND state = 'pending'`, []byte{}, s.now().UnixMilli(), id, attempts)
	if err != nil {
		return fmt.Errorf("records: outbox delivered: %w", err)
	}
	return nil
}

// OutboxRetry releases a claimed row to be tried again at next, noting
// why the attempt failed (a short reason without content).
func (s *Store) OutboxRetry(ctx context.Context, id int64, attempts int, next time.Time, reason string) error {
	_, err := s.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ?
		WHERE id = ? AND attempts = ? AND state = 'pending'`, next.UnixMilli(), clipText(reason, 200), id, attempts)
	if err != nil {
		return fmt.Errorf("records: outbox retry: %w", err)
	}
	return nil
}

// OutboxFailed gives a claimed row up (it expired or can never be
// delivered) and empties its payload.
func (s *Store) OutboxFailed(ctx context.Context, id int64, attempts int, reason string) error {
	_, err := s.exec(ctx, `UPDATE outbox SET state = 'failed', payload = ?, claimed_until = NULL, last_error = ?, done_at = ?
		WHERE id = ? AND attempts = ? AND state = 'pending'`, []byte{}, clipText(reason, 200), s.now().UnixMilli(), id, attempts)
	if err != nil {
		return fmt.Errorf("records: outbox failed: %w", err)
	}
	return nil
}

// CancelOutbox deletes a pending row by its key (a reminder for a slot
// that moved); it reports whether there was one.
func (s *Store) CancelOutbox(ctx context.Context, key string) (bool, error) {
	n, err := s.exec(ctx, "DELETE FROM outbox WHERE idem_key = ? AND state = 'pending'", key)
	if err != nil {
		return false, fmt.Errorf("records: cancel outbox: %w", err)
	}
	return n == 1, nil
}

// DeleteOutboxDoneBefore deletes delivered and failed rows done at or
// before cutoff.
func (s *Store) DeleteOutboxDoneBefore(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.exec(ctx, "DELETE FROM outbox WHERE state <> 'pending' AND done_at <= ?", cutoff.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("records: delete outbox: %w", err)
	}
	return n, nil
}

// OutboxState returns a row's state ("pending", "delivered", "failed"),
// attempts and last error by key, or ErrNotFound.
func (s *Store) OutboxState(ctx context.Context, key string) (state string, attempts int, lastError string, err error) {
	err = s.db.QueryRowContext(ctx, "SELECT state, attempts, last_error FROM outbox WHERE idem_key = ?", key).Scan(&state, &attempts, &lastError)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", 0, "", fmt.Errorf("records: outbox %w", ErrNotFound)
		}
		return "", 0, "", fmt.Errorf("records: outbox state: %w", err)
	}
	return state, attempts, lastError, nil
}

// OutboxCounts counts the rows by state.
func (s *Store) OutboxCounts(ctx context.Context) (OutboxStats, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT state, COUNT(*) FROM outbox GROUP BY state")
	if err != nil {
		return OutboxStats{}, fmt.Errorf("records: outbox counts: %w", err)
	}
	defer rows.Close()
	var st OutboxStats
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return OutboxStats{}, fmt.Errorf("records: outbox counts: %w", err)
		}
		switch state {
		case "pending":
			st.Pending = n
		case "delivered":
			st.Delivered = n
		case "failed":
			st.Failed = n
		}
	}
	return st, rows.Err()
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// OutboxRow is a row as the delivery log shows it (no payload).
type OutboxRow struct {
	Key         string
	State       string
	Attempts    int
	LastError   string
	Created     time.Time
	NextAttempt time.Time
	Done        time.Time // zero while pending
}

// ListOutbox returns the newest rows of a kind, at most limit.
func (s *Store) ListOutbox(ctx context.Context, kind string, limit int) ([]OutboxRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT idem_key, state, attempts, last_error, created_at, next_attempt_at, done_at
		FROM outbox WHERE kind = ? ORDER BY created_at DESC, id DESC LIMIT ?`, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("records: list outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		var created, next int64
		var done sql.NullInt64
		if err := rows.Scan(&r.Key, &r.State, &r.Attempts, &r.LastError, &created, &next, &done); err != nil {
			return nil, fmt.Errorf("records: list outbox: %w", err)
		}
		r.Created, r.NextAttempt = millis(created), millis(next)
		if done.Valid {
			r.Done = millis(done.Int64)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
