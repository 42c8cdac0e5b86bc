package records

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// AuditEvent is one entry of a document's audit trail. Events form a hash
// chain: Hash = SHA-256(PrevHash || canonical(event)), the first event's
// PrevHash is 64 zeros, so deleting, reordering or altering an event breaks
// every later hash (VerifyAuditChain).
type AuditEvent struct {
	DocumentID string          `json:"document"`
	Seq        int             `json:"seq"`
	At         time.Time       `json:"at"`
	Kind       string          `json:"kind"`  // presented, viewed, signed, downloaded, …
	Actor      string          `json:"actor"` // "staff:3", "participant:p_…", "system"
	Detail     json.RawMessage `json:"detail"`
	PrevHash   string          `json:"prevHash"`
	Hash       string          `json:"hash"`
}

// ErrAuditBroken: an audit trail's hash chain does not hold.
var ErrAuditBroken = errors.New("records: audit trail hash chain broken")

const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// auditHash is the chain step. The canonical encoding is length-prefixed
// fields, so no field can be shifted into another.
func auditHash(e AuditEvent) string {
	h := sha256.New()
	h.Write([]byte("parley-audit-v1\n"))
	for _, f := range []string{e.PrevHash, e.DocumentID, strconv.Itoa(e.Seq),
		strconv.FormatInt(e.At.UnixMilli(), 10), e.Kind, e.Actor, string(e.Detail)} {
		h.Write([]byte(strconv.Itoa(len(f)) + ":"))
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// appendAudit adds an event to document docID's trail inside tx.
func appendAudit(ctx context.Context, q *txn, docID string, at time.Time, kind, actor string, detail map[string]any) error {
	if actor == "" {
		actor = "system"
	}
	d, err := json.Marshal(detail) // map keys are sorted: canonical
	if err != nil {
		return fmt.Errorf("records: audit %s: %w", kind, err)
	}
	if err := q.lock(ctx, "audit "+docID); err != nil {
		return fmt.Errorf("records: audit %s: %w", kind, err)
	}
	e := AuditEvent{DocumentID: docID, At: at.UTC().Truncate(time.Millisecond), Kind: kind, Actor: actor, Detail: d, PrevHash: zeroHash}
	var seq int
	var prev string
	err = q.QueryRowContext(ctx, "SELECT seq, hash FROM audit_events WHERE document_id = ? ORDER BY seq DESC LIMIT 1", docID).Scan(&seq, &prev)
	switch {
	case err == nil:
		e.Seq, e.PrevHash = seq+1, prev
	case errors.Is(err, sql.ErrNoRows):
		e.Seq = 1
	default:
		return fmt.Errorf("records: audit %s: %w", kind, err)
	}
	e.Hash = auditHash(e)
	if _, err := q.ExecContext(ctx, `INSERT INTO audit_events (document_id, seq, at, kind, actor, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.DocumentID, e.Seq, e.At.UnixMilli(), e.Kind, e.Actor, string(e.Detail), e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("records: audit %s: %w", kind, err)
	}
	return nil
}

// AppendAudit adds an event to a document's audit trail.
func (s *Store) AppendAudit(ctx context.Context, docID, kind, actor string, detail map[string]any) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: audit %s: %w", kind, err)
	}
	defer tx.Rollback()
	if err := appendAudit(ctx, tx, docID, s.now(), kind, actor, detail); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: audit %s: %w", kind, err)
	}
	return nil
}

// AppendViewedOnce appends a "viewed" event by actor for revision of a
// document unless one was appended before (by any node: the records keep
// who has viewed what, under a unique key), and says whether it did.
func (s *Store) AppendViewedOnce(ctx context.Context, docID, actor string, revision int, detail map[string]any) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("records: audit viewed: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "INSERT INTO document_views (document_id, viewer, revision) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", docID, actor, revision)
	if err != nil {
		if isForeignKeyViolation(err) {
			return false, ErrNotFound
		}
		return false, fmt.Errorf("records: audit viewed: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if err := appendAudit(ctx, tx, docID, s.now(), "viewed", actor, detail); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("records: audit viewed: %w", err)
	}
	return true, nil
}

// AuditTrail returns a document's events in order.
func (s *Store) AuditTrail(ctx context.Context, docID string) ([]AuditEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT document_id, seq, at, kind, actor, detail, prev_hash, hash
		FROM audit_events WHERE document_id = ? ORDER BY seq`, docID)
	if err != nil {
		return nil, fmt.Errorf("records: audit trail: %w", err)
	}
	defer rows.Close()
	var es []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.DocumentID, &e.Seq, &at, &e.Kind, &e.Actor, &detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("records: audit trail: %w", err)
		}
		e.At, e.Detail = millis(at), json.RawMessage(detail)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: audit trail: %w", err)
	}
	return es, nil
}

// VerifyAuditChain checks a trail as returned by AuditTrail (or exported
// and read back): consecutive sequence numbers from 1, each PrevHash the
// hash before it, each Hash recomputed. The error names the first broken
// event and wraps ErrAuditBroken.
func VerifyAuditChain(es []AuditEvent) error {
	prev := zeroHash
	for i, e := range es {
		if e.Seq != i+1 {
			return fmt.Errorf("%w: event %d has sequence number %d (an event is missing or reordered)", ErrAuditBroken, i+1, e.Seq)
		}
		if e.PrevHash != prev {
			return fmt.Errorf("%w: event %d does not follow event %d", ErrAuditBroken, e.Seq, i)
		}
		if auditHash(e) != e.Hash {
			return fmt.Errorf("%w: event %d (%s) was altered", ErrAuditBroken, e.Seq, e.Kind)
		}
		prev = e.Hash
	}
	return nil
}
