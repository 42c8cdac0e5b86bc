package records

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DocState is a document's signing state.
type DocState string

// The document states.
const (
	DocOpen   DocState = "open"   // presented, not every field signed
	DocSigned DocState = "signed" // every field signed
)

// Signer roles of a signature field.
const (
	SignerCustomer = "customer"
	SignerAdvisor  = "advisor"
)

// MaxDocNameLen bounds a document's file name (characters).
const MaxDocNameLen = 120

// Document is a PDF presented in a consultation for signature. The bytes
// live in the document blob store; CurrentBlob names the newest revision
// (the signed PDF once a field is signed).
type Document struct {
	ID             string // "d_" + 24 base32 characters
	ConsultationID string
	Name           string
	Pages          int
	Size           int64  // as presented
	SHA256         string // hex, as presented
	Revision       int    // signatures applied so far
	CurrentBlob    string
	CurrentSize    int64
	CurrentSHA256  string
	State          DocState
	CreatedBy      int64
	CreatedAt      time.Time
	SignedAt       time.Time // zero until every field is signed
	// RestrictedAt is set when a signer asked for erasure: the contract is
	// kept only to meet the legal retention duty (GDPR Art. 18).
	RestrictedAt time.Time
	Fields       []Field
}

// Field is one signature field of a document.
type Field struct {
	Name       string // unique in the document: "customer", "advisor"
	Signer     string // SignerCustomer or SignerAdvisor
	SignerName string // empty until signed
	SignerRef  string // "participant:<id>" or "staff:<user id>"
	SignedAt   time.Time
}

// Signed reports whether the field has been signed.
func (f Field) Signed() bool { return !f.SignedAt.IsZero() }

// Field returns the named field.
func (d Document) Field(name string) (Field, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func newDocumentID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "d_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// NewDocument is what CreateDocument needs.
type NewDocument struct {
	ConsultationID string
	Name           string
	Pages          int
	Size           int64
	SHA256         string
	Blob           string // file id of the stored bytes
	CreatedBy      int64
	Fields         []Field // Name and Signer only
	// Actor of the "presented" audit event, e.g. "staff:3".
	Actor string
	// Placement, when set, is recorded in the "presented" event as
	// "placement" (where each signature field goes; contracts reads it).
	Placement any
}

// CreateDocument records a presented document with its fields and starts
// its audit trail with a "presented" event.
func (s *Store) CreateDocument(ctx context.Context, nd NewDocument) (Document, error) {
	name, err := CleanText("name", nd.Name, MaxDocNameLen)
	if err != nil {
		return Document{}, err
	}
	if name == "" {
		name = "document.pdf"
	}
	if len(nd.Fields) == 0 || len(nd.Fields) > 8 {
		return Document{}, invalid("signers", "must name 1 to 8 signature fields")
	}
	seen := map[string]bool{}
	for _, f := range nd.Fields {
		if f.Signer != SignerCustomer && f.Signer != SignerAdvisor {
			return Document{}, invalid("signers", fmt.Sprintf("%q is not customer or advisor", f.Signer))
		}
		if f.Name == "" || len(f.Name) > 32 || seen[f.Name] {
			return Document{}, invalid("signers", "field names must be unique and 1 to 32 characters")
		}
		seen[f.Name] = true
	}
	id := newDocumentID()
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Document{}, fmt.Errorf("records: create document: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO documents (id, consultation_id, name, pages, size, sha256, revision,
		current_blob, current_size, current_sha256, state, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 'open', ?, ?)`,
		id, nd.ConsultationID, name, nd.Pages, nd.Size, nd.SHA256, nd.Blob, nd.Size, nd.SHA256, nd.CreatedBy, now.UnixMilli()); err != nil {
		return Document{}, fmt.Errorf("records: create document: %w", err)
	}
	for i, f := range nd.Fields {
		if _, err := tx.ExecContext(ctx, "INSERT INTO document_fields (document_id, name, signer, position) VALUES (?, ?, ?, ?)",
			id, f.Name, f.Signer, i); err != nil {
			return Document{}, fmt.Errorf("records: create document field: %w", err)
		}
	}
	signers := make([]string, len(nd.Fields))
	for i, f := range nd.Fields {
		signers[i] = f.Name
	}
	detail := map[string]any{
		"consultation": nd.ConsultationID, "name": name, "pages": nd.Pages, "size": nd.Size,
		"sha256": nd.SHA256, "fields": signers,
	}
	if nd.Placement != nil {
		detail["placement"] = nd.Placement
	}
	if err := appendAudit(ctx, tx, id, now, "presented", nd.Actor, detail); err != nil {
		return Document{}, err
	}
	d, err := s.document(ctx, tx, id)
	if err != nil {
		return Document{}, err
	}
	if err := tx.Commit(); err != nil {
		return Document{}, fmt.Errorf("records: create document: %w", err)
	}
	return d, nil
}

// queryer is what reading a document needs (a *sql.DB or *sql.Tx).
type queryer interface {
	execQuerier
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const documentColumns = `id, consultation_id, name, pages, size, sha256, revision, current_blob, current_size,
	current_sha256, state, created_by, created_at, signed_at, restricted_at`

func scanDocument(row interface{ Scan(...any) error }) (Document, error) {
	var d Document
	var state string
	var created int64
	var signed, restricted sql.NullInt64
	if err := row.Scan(&d.ID, &d.ConsultationID, &d.Name, &d.Pages, &d.Size, &d.SHA256, &d.Revision, &d.CurrentBlob,
		&d.CurrentSize, &d.CurrentSHA256, &state, &d.CreatedBy, &created, &signed, &restricted); err != nil {
		return Document{}, err
	}
	d.RestrictedAt = nullMillis(restricted)
	d.State = DocState(state)
	d.CreatedAt = millis(created)
	d.SignedAt = nullMillis(signed)
	return d, nil
}

func (s *Store) document(ctx context.Context, q queryer, id string) (Document, error) {
	d, err := scanDocument(q.QueryRowContext(ctx, "SELECT "+documentColumns+" FROM documents WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, fmt.Errorf("records: document: %w", ErrNotFound)
	}
	if err != nil {
		return Document{}, fmt.Errorf("records: document: %w", err)
	}
	if d.Fields, err = s.fields(ctx, q, id); err != nil {
		return Document{}, err
	}
	return d, nil
}

func (s *Store) fields(ctx context.Context, q queryer, id string) ([]Field, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, signer, COALESCE(signer_name, ''), COALESCE(signer_ref, ''), signed_at
		FROM document_fields WHERE document_id = ? ORDER BY position`, id)
	if err != nil {
		return nil, fmt.Errorf("records: document fields: %w", err)
	}
	defer rows.Close()
	var fs []Field
	for rows.Next() {
		var f Field
		var at sql.NullInt64
		if err := rows.Scan(&f.Name, &f.Signer, &f.SignerName, &f.SignerRef, &at); err != nil {
			return nil, fmt.Errorf("records: document fields: %w", err)
		}
		f.SignedAt = nullMillis(at)
		fs = append(fs, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: document fields: %w", err)
	}
	return fs, nil
}

// DocumentByID returns document id of consultation cid, or ErrNotFound
// (also when it belongs to another consultation).
func (s *Store) DocumentByID(ctx context.Context, cid, id string) (Document, error) {
	d, err := s.document(ctx, s.db, id)
	if err != nil {
		return Document{}, err
	}
	if d.ConsultationID != cid {
		return Document{}, fmt.Errorf("records: document: %w", ErrNotFound)
	}
	return d, nil
}

// Documents returns the documents of consultation cid, oldest first.
func (s *Store) Documents(ctx context.Context, cid string) ([]Document, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+documentColumns+" FROM documents WHERE consultation_id = ? ORDER BY created_at, id", cid)
	if err != nil {
		return nil, fmt.Errorf("records: documents: %w", err)
	}
	var ds []Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("records: documents: %w", err)
		}
		ds = append(ds, d)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("records: documents: %w", err)
	}
	for i := range ds {
		if ds[i].Fields, err = s.fields(ctx, s.db, ds[i].ID); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// Signing is one applied signature, for RecordSignature.
type Signing struct {
	Field        string
	FromRevision int // the revision that was signed (optimistic lock)
	Blob         string
	Size         int64
	SHA256       string // hex of the signed PDF
	SignerName   string
	SignerRef    string
	Actor        string
	At           time.Time
	// Audit detail of the "signed" event (features summary, envelope
	// recipient...); never pen data.
	Detail map[string]any
}

// RecordSignature records that field sg.Field was signed, producing the
// stored revision sg.Blob. ErrConflict when the field is signed already or
// the document moved past sg.FromRevision meanwhile (the caller signed a
// stale revision and must discard its output).
func (s *Store) RecordSignature(ctx context.Context, docID string, sg Signing) (Document, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Document{}, fmt.Errorf("records: record signature: %w", err)
	}
	defer tx.Rollback()
	d, err := s.document(ctx, tx, docID)
	if err != nil {
		return Document{}, err
	}
	f, ok := d.Field(sg.Field)
	if !ok {
		return Document{}, fmt.Errorf("records: field %q: %w", sg.Field, ErrNotFound)
	}
	if f.Signed() || d.Revision != sg.FromRevision {
		return Document{}, fmt.Errorf("records: field %q: %w", sg.Field, ErrConflict)
	}
	allSigned := true
	for _, o := range d.Fields {
		if o.Name != sg.Field && !o.Signed() {
			allSigned = false
		}
	}
	at := sg.At.UnixMilli()
	if _, err := tx.ExecContext(ctx, "UPDATE document_fields SET signer_name = ?, signer_ref = ?, signed_at = ? WHERE document_id = ? AND name = ?",
		sg.SignerName, sg.SignerRef, at, docID, sg.Field); err != nil {
		return Document{}, fmt.Errorf("records: record signature: %w", err)
	}
	state, signedAt := DocOpen, sql.NullInt64{}
	if allSigned {
		state, signedAt = DocSigned, sql.NullInt64{Int64: at, Valid: true}
	}
	res, err := tx.ExecContext(ctx, `UPDATE documents SET revision = revision + 1, current_blob = ?, current_size = ?, current_sha256 = ?,
		state = ?, signed_at = ? WHERE id = ? AND revision = ?`,
		sg.Blob, sg.Size, sg.SHA256, string(state), signedAt, docID, sg.FromRevision)
	if err != nil {
		return Document{}, fmt.Errorf("records: record signature: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Document{}, fmt.Errorf("records: document %s: %w", docID, ErrConflict)
	}
	detail := map[string]any{"field": sg.Field, "signer": sg.SignerName, "signed_sha256": sg.SHA256, "size": sg.Size,
		"revision": sg.FromRevision + 1, "signed_over_sha256": d.CurrentSHA256}
	for k, v := range sg.Detail {
		detail[k] = v
	}
	if err := appendAudit(ctx, tx, docID, sg.At, "signed", sg.Actor, detail); err != nil {
		return Document{}, err
	}
	if d, err = s.document(ctx, tx, docID); err != nil {
		return Document{}, err
	}
	if err := tx.Commit(); err != nil {
		return Document{}, fmt.Errorf("records: record signature: %w", err)
	}
	return d, nil
}

// DeleteUnsignedDocuments removes consultation cid's documents that nobody
// has signed (with their fields and audit trails) and returns them, so the
// caller can remove their files. A document with at least one signature is
// evidence and stays (its retention is that of signed contracts).
func (s *Store) DeleteUnsignedDocuments(ctx context.Context, cid string) ([]Document, error) {
	ds, err := s.Documents(ctx, cid)
	if err != nil {
		return nil, err
	}
	var gone []Document
	for _, d := range ds {
		if d.Revision > 0 {
			continue
		}
		if err := s.deleteDocument(ctx, d.ID); err != nil {
			return gone, err
		}
		gone = append(gone, d)
	}
	return gone, nil
}

func (s *Store) deleteDocument(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: delete document: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{"DELETE FROM audit_events WHERE document_id = ?", "DELETE FROM documents WHERE id = ?"} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("records: delete document: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: delete document: %w", err)
	}
	return nil
}

// ContractFilter selects documents for the back office's contract list.
type ContractFilter struct {
	// AdvisorID > 0 limits to documents presented by that staff user.
	AdvisorID int64
	// Query matches signer names, the document name and the consultation
	// title (case-insensitive substring).
	Query string
	// Advisor matches the presenting advisor's display name (substring).
	Advisor string
	From    time.Time // created at or after (zero: no bound)
	To      time.Time // created before (zero: no bound)
	State   DocState  // "" for any
	Limit   int       // at most; 0 means 200
	// FlagKind, when set, is an audit event kind that marks a document
	// (contracts' "withdrawn"): Contract.FlaggedAt is its first such
	// event's time; Flagged > 0 lists only marked documents, < 0 only
	// unmarked ones.
	FlagKind string
	Flagged  int
}

// Contract is a document with what the contract list shows beside it.
type Contract struct {
	Document
	ConsultationTitle string
	AdvisorName       string
	FlaggedAt         time.Time // see ContractFilter.FlagKind; zero: not marked
}

// Contracts lists documents for the back office, newest first.
func (s *Store) Contracts(ctx context.Context, f ContractFilter) ([]Contract, error) {
	const flagged = `(SELECT MIN(a.at) FROM audit_events a WHERE a.document_id = d.id AND a.kind = ?)`
	q := `SELECT ` + prefixed("d.", documentColumns) + `, COALESCE(c.title, ''), COALESCE(u.display_name, ''), ` + flagged + `
		FROM documents d LEFT JOIN consultations c ON c.id = d.consultation_id LEFT JOIN users u ON u.id = d.created_by WHERE 1 = 1`
	args := []any{f.FlagKind}
	switch {
	case f.FlagKind != "" && f.Flagged > 0:
		q += " AND " + flagged + " IS NOT NULL"
		args = append(args, f.FlagKind)
	case f.FlagKind != "" && f.Flagged < 0:
		q += " AND " + flagged + " IS NULL"
		args = append(args, f.FlagKind)
	}
	if f.AdvisorID > 0 {
		q += " AND d.created_by = ?"
		args = append(args, f.AdvisorID)
	}
	if f.State != "" {
		q += " AND d.state = ?"
		args = append(args, string(f.State))
	}
	if !f.From.IsZero() {
		q += " AND d.created_at >= ?"
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		q += " AND d.created_at < ?"
		args = append(args, f.To.UnixMilli())
	}
	if s := strings.TrimSpace(f.Query); s != "" {
		like := "%" + escapeLike(strings.ToLower(s)) + "%"
		q += ` AND (lower(d.name) LIKE ? ESCAPE '\' OR lower(COALESCE(c.title, '')) LIKE ? ESCAPE '\'
			OR EXISTS (SELECT 1 FROM document_fields f WHERE f.document_id = d.id AND lower(COALESCE(f.signer_name, '')) LIKE ? ESCAPE '\'))`
		args = append(args, like, like, like)
	}
	if s := strings.TrimSpace(f.Advisor); s != "" {
		q += ` AND lower(COALESCE(u.display_name, '')) LIKE ? ESCAPE '\'`
		args = append(args, "%"+escapeLike(strings.ToLower(s))+"%")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	q += " ORDER BY d.created_at DESC, d.id LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("records: contracts: %w", err)
	}
	var out []Contract
	for rows.Next() {
		var c Contract
		var state string
		var created int64
		var signed, restricted, flaggedAt sql.NullInt64
		d := &c.Document
		if err := rows.Scan(&d.ID, &d.ConsultationID, &d.Name, &d.Pages, &d.Size, &d.SHA256, &d.Revision, &d.CurrentBlob,
			&d.CurrentSize, &d.CurrentSHA256, &state, &d.CreatedBy, &created, &signed, &restricted, &c.ConsultationTitle, &c.AdvisorName, &flaggedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("records: contracts: %w", err)
		}
		d.State, d.CreatedAt, d.SignedAt = DocState(state), millis(created), nullMillis(signed)
		d.RestrictedAt = nullMillis(restricted)
		c.FlaggedAt = nullMillis(flaggedAt)
		out = append(out, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("records: contracts: %w", err)
	}
	for i := range out {
		if out[i].Fields, err = s.fields(ctx, s.db, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DocumentAnywhere returns a document by id alone (back office).
func (s *Store) DocumentAnywhere(ctx context.Context, id string) (Document, error) {
	return s.document(ctx, s.db, id)
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// EndedWithUnsignedDocuments lists ended consultations that still have
// documents nobody signed (left over when the node stopped at the end).
func (s *Store) EndedWithUnsignedDocuments(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT d.consultation_id FROM documents d
		LEFT JOIN consultations c ON c.id = d.consultation_id
		WHERE d.revision = 0 AND (c.id IS NULL OR c.state = 'ended')`)
	if err != nil {
		return nil, fmt.Errorf("records: ended with unsigned documents: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("records: ended with unsigned documents: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
