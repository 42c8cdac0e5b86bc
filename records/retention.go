package records

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Deletions for the retention sweeper (package retention). Each takes a
// cutoff: what its period counts from must be at or before it (now minus
// the period), so an item is gone exactly when its period has passed.

// ExpireConsultations ends open consultations that ran longer than
// maxDuration (booked ones counted from when they open) and returns the ids of those it ended (their live state is
// the caller's).
func (s *Store) ExpireConsultations(ctx context.Context, maxDuration time.Duration) ([]string, error) {
	now := s.now()
	ids, err := s.strings(ctx, "SELECT id FROM consultations WHERE state = 'open' AND COALESCE(opens_at, created_at) <= ?", now.Add(-maxDuration).UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("records: expire consultations: %w", err)
	}
	ended := ids[:0]
	for _, id := range ids {
		n, err := s.exec(ctx, "UPDATE consultations SET state = 'ended', ended_at = ? WHERE id = ? AND state = 'open'", now.UnixMilli(), id)
		if err != nil {
			return nil, fmt.Errorf("records: expire consultations: %w", err)
		}
		if n == 1 { // not ended meanwhile by someone else
			ended = append(ended, id)
		}
	}
	return ended, nil
}

// EndedBefore reports whether consultation id ended at or before cutoff, or
// is unknown (its data belongs to nothing any more).
func (s *Store) EndedBefore(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM consultations WHERE id = ? AND (state = 'open' OR ended_at > ?)", id, cutoff.UnixMilli()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("records: ended before: %w", err)
	}
	return n == 0, nil
}

// UnsignedDocumentsEndedBefore lists consultations ended at or before
// cutoff (or unknown) that still have documents nobody signed.
func (s *Store) UnsignedDocumentsEndedBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	return s.strings(ctx, `SELECT DISTINCT d.consultation_id FROM documents d
		LEFT JOIN consultations c ON c.id = d.consultation_id
		WHERE d.revision = 0 AND (c.id IS NULL OR (c.state = 'ended' AND c.ended_at <= ?))`, cutoff.UnixMilli())
}

// DeleteCustomersEndedBefore deletes the pre-join data (customer rows and
// answers before joining) of consultations ended at or before cutoff, or
// unknown. It returns the numbers of customers and answers deleted.
func (s *Store) DeleteCustomersEndedBefore(ctx context.Context, cutoff time.Time) (customers, answers int, err error) {
	const gone = `NOT EXISTS (SELECT 1 FROM consultations c WHERE c.id = %s.consultation_id AND (c.state = 'open' OR c.ended_at > ?))`
	a, err := s.exec(ctx, "DELETE FROM answers WHERE phase = 'before' AND "+fmt.Sprintf(gone, "answers"), cutoff.UnixMilli())
	if err != nil {
		return 0, 0, fmt.Errorf("records: delete pre-join answers: %w", err)
	}
	c, err := s.exec(ctx, "DELETE FROM customers WHERE "+fmt.Sprintf(gone, "customers"), cutoff.UnixMilli())
	if err != nil {
		return 0, a, fmt.Errorf("records: delete customers: %w", err)
	}
	return c, a, nil
}

// DeleteFeedbackBefore deletes answers after the consultation given at or
// before cutoff.
func (s *Store) DeleteFeedbackBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return s.exec(ctx, "DELETE FROM answers WHERE phase = 'after' AND given_at <= ?", cutoff.UnixMilli())
}

// DeleteConsultationsEndedBefore deletes the records of consultations ended
// at or before cutoff that have no documents left (signed contracts keep
// their consultation's record while they are kept).
func (s *Store) DeleteConsultationsEndedBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return s.exec(ctx, `DELETE FROM consultations WHERE state = 'ended' AND ended_at <= ?
		AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.consultation_id = consultations.id)`, cutoff.UnixMilli())
}

// DeleteAccessLogBefore deletes access-log entries written at or before
// cutoff.
func (s *Store) DeleteAccessLogBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return s.exec(ctx, "DELETE FROM access_log WHERE at <= ?", cutoff.UnixMilli())
}

// DeleteConsentsBefore deletes consent records given at or before cutoff,
// and the data-subject request log of the same age (kept alike).
func (s *Store) DeleteConsentsBefore(ctx context.Context, cutoff time.Time) (consents, requests int, err error) {
	if consents, err = s.exec(ctx, "DELETE FROM consents WHERE given_at <= ?", cutoff.UnixMilli()); err != nil {
		return 0, 0, err
	}
	if requests, err = s.exec(ctx, "DELETE FROM subject_requests WHERE at <= ?", cutoff.UnixMilli()); err != nil {
		return 0, 0, err
	}
	// The links between participations of one subject go with them.
	_, err = s.exec(ctx, "DELETE FROM subject_links WHERE linked_at <= ?", cutoff.UnixMilli())
	return consents, requests, err
}

// SignedDocumentsBefore returns the signed documents whose last signature
// was at or before cutoff: their legal retention is over.
func (s *Store) SignedDocumentsBefore(ctx context.Context, cutoff time.Time) ([]Document, error) {
	ids, err := s.strings(ctx, "SELECT id FROM documents WHERE revision > 0 AND COALESCE(signed_at, created_at) <= ?", cutoff.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("records: expired contracts: %w", err)
	}
	out := make([]Document, 0, len(ids))
	for _, id := range ids {
		d, err := s.DocumentAnywhere(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// DeleteDocument deletes a document with its fields and audit trail (its
// file is the caller's).
func (s *Store) DeleteDocument(ctx context.Context, id string) error {
	return s.deleteDocument(ctx, id)
}

// RecordRetentionRun stores what one sweep deleted, as counts.
func (s *Store) RecordRetentionRun(ctx context.Context, at time.Time, counts map[string]int) error {
	for cat, n := range counts {
		if n == 0 {
			continue
		}
		if _, err := s.db.ExecContext(ctx, "INSERT INTO retention_runs (at, category, deleted) VALUES (?, ?, ?)", at.UnixMilli(), cat, n); err != nil {
			return fmt.Errorf("records: retention run: %w", err)
		}
	}
	return nil
}

// RetentionRun is one category's count of one sweep.
type RetentionRun struct {
	At       time.Time `json:"at"`
	Category string    `json:"category"`
	Deleted  int       `json:"deleted"`
}

// RetentionRuns returns the sweeps' counts since t, oldest first.
func (s *Store) RetentionRuns(ctx context.Context, since time.Time) ([]RetentionRun, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT at, category, deleted FROM retention_runs WHERE at >= ? ORDER BY at, id", since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("records: retention runs: %w", err)
	}
	defer rows.Close()
	var out []RetentionRun
	for rows.Next() {
		var r RetentionRun
		var at int64
		if err := rows.Scan(&at, &r.Category, &r.Deleted); err != nil {
			return nil, fmt.Errorf("records: retention runs: %w", err)
		}
		r.At = millis(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteExpiredLogins removes staff logins past their expiry.
func (s *Store) DeleteExpiredLogins(ctx context.Context) (int, error) {
	return s.exec(ctx, "DELETE FROM logins WHERE expires_at <= ?", s.now().UnixMilli())
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (int, error) {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (s *Store) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DB is the underlying database, for tests that check what is stored
// (queries on it are not rewritten: PostgreSQL wants $1, not ?).
func (s *Store) DB() *sql.DB { return s.db.DB }
