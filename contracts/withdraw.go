package contracts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-video/parley/records"
)

// AuditWithdrawn is the audit event by which an advisor withdraws a
// presented document that is not fully signed: from then on nobody can
// sign it (Sign and BindCustomerField answer ErrWithdrawn).
const AuditWithdrawn = "withdrawn"

var (
	// ErrWithdrawn: the document was withdrawn by an advisor.
	ErrWithdrawn = errors.New("contracts: the document has been withdrawn")
	// ErrContractSigned: every field is signed; a contract cannot be
	// withdrawn.
	ErrContractSigned = errors.New("contracts: the contract is signed by everyone and cannot be withdrawn")
)

// WithdrawnAt returns when a document was withdrawn according to its audit
// trail, or the zero time.
func WithdrawnAt(trail []records.AuditEvent) time.Time {
	for _, e := range trail {
		if e.Kind == AuditWithdrawn {
			return e.At
		}
	}
	return time.Time{}
}

// Withdraw withdraws a presented document that is not signed by everyone
// (an audit event by actor; the record and any signed revision stay as
// evidence, an unsigned one goes when the consultation ends). It returns
// the document and when it was withdrawn; withdrawing again is no error.
// Errors: records.ErrNotFound, ErrContractSigned.
func (s *Service) Withdraw(ctx context.Context, cid, docID, actor string) (records.Document, time.Time, error) {
	if _, err := s.rec.DocumentByID(ctx, cid, docID); err != nil {
		return records.Document{}, time.Time{}, err
	}
	unlock, err := s.locks.lock(ctx, docID)
	if err != nil {
		return records.Document{}, time.Time{}, err
	}
	defer unlock()
	d, err := s.rec.DocumentByID(ctx, cid, docID)
	if err != nil {
		return records.Document{}, time.Time{}, err
	}
	if d.State == records.DocSigned {
		return records.Document{}, time.Time{}, ErrContractSigned
	}
	trail, err := s.rec.AuditTrail(ctx, d.ID)
	if err != nil {
		return records.Document{}, time.Time{}, err
	}
	if at := WithdrawnAt(trail); !at.IsZero() {
		return d, at, nil
	}
	if err := s.rec.AppendAudit(ctx, d.ID, AuditWithdrawn, actor, map[string]any{"revision": d.Revision, "sha256": d.CurrentSHA256}); err != nil {
		return records.Document{}, time.Time{}, fmt.Errorf("withdraw document: %w", err)
	}
	trail, err = s.rec.AuditTrail(ctx, d.ID)
	if err != nil {
		return records.Document{}, time.Time{}, err
	}
	at := WithdrawnAt(trail)
	s.log.InfoContext(ctx, "document withdrawn", "consultation", d.ConsultationID, "document", d.ID, "revision", d.Revision)
	return d, at, nil
}
