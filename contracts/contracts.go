// Package contracts runs the signing of documents in a call: an advisor
// presents a PDF, the signers sign by hand, and each signature becomes a
// durable, sealed PDF revision with the signer's pen data encrypted in a
// biometric envelope inside it. It ties the signature package (PDF, pen
// data, envelope) to the records (documents, fields, audit trail) and the
// document file store; web calls it, and it knows nothing of HTTP.
//
// Plaintext pen data exists only in memory during Sign: it is sealed to
// the escrow key and the buffer cleared; it is never written or logged.
package contracts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// Errors of the service; web maps them to HTTP answers.
var (
	// ErrNotYourField: the caller is not the field's signer.
	ErrNotYourField = errors.New("contracts: this signature field is for someone else")
	// ErrAlreadySigned: the field has been signed.
	ErrAlreadySigned = errors.New("contracts: the field is signed already")
	// ErrPresentSigned: the PDF to present already carries signatures.
	ErrPresentSigned = errors.New("contracts: the PDF already carries signatures; countersign it in its own consultation")
	// ErrLockUnavailable: the document lock shared by the nodes (cluster
	// mode) could not be taken (Redis did not answer, or the caller's
	// context ended while another node held it); nothing was changed.
	ErrLockUnavailable = errors.New("contracts: the document lock shared by the nodes is unavailable")
)

// Service signs documents. Safe for concurrent use; signings of one
// document are serialised.
type Service struct {
	rec    *records.Store
	files  *blobs.Store
	signer *signature.Signer
	escrow *signature.EscrowPublicKey
	log    *slog.Logger
	now    func() time.Time
	maxPDF int64
	intake Isolator // nil: intake in this process

	locks docLocks // signing locks of the documents being signed now
}

// Locker is a lock shared by all nodes (cluster mode; *redislock.Locker
// implements it). Lock waits until it holds name's lock or ctx ends.
type Locker interface {
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// WithLocker makes the work on one document (signing, binding a field,
// withdrawing, expiring) take turns across all nodes sharing l, not only
// within this process.
func WithLocker(l Locker) Option {
	return func(s *Service) { s.locks.shared = l }
}

// New returns the service. files is the document store (not the call's
// file store: signed contracts outlive the consultation).
func New(rec *records.Store, files *blobs.Store, keys *Keys, maxPDFBytes int64, log *slog.Logger, opts ...Option) *Service {
	s := &Service{
		rec:    rec,
		files:  files,
		signer: keys.Signer,
		escrow: keys.Escrow,
		log:    log,
		now:    time.Now,
		maxPDF: maxPDFBytes,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// docLocks serialises the work on one document. An entry exists only
// while someone holds or waits for its lock (reference counted), so the
// map is as large as the signings in flight, whatever ids requests name.
// With a shared locker (cluster mode), the holder of the process's lock
// then takes the document's lock in it, so nodes take turns too.
type docLocks struct {
	mu     sync.Mutex
	m      map[string]*docLock
	shared Locker // nil: one node
}

type docLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; guarded by docLocks.mu
}

// lock takes document id's lock and returns its release. Errors (the
// shared lock only) wrap ErrLockUnavailable, and ctx's error when it
// ended while waiting for another node.
func (ls *docLocks) lock(ctx context.Context, id string) (unlock func(), err error) {
	local := ls.local(id)
	if ls.shared == nil {
		return local, nil
	}
	shared, err := ls.shared.Lock(ctx, "document:"+id)
	if err != nil {
		local()
		return nil, fmt.Errorf("lock document %s: %w: %w", id, ErrLockUnavailable, err)
	}
	return func() { shared(); local() }, nil
}

// local takes document id's lock in this process.
func (ls *docLocks) local(id string) (unlock func()) {
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = make(map[string]*docLock)
	}
	l := ls.m[id]
	if l == nil {
		l = new(docLock)
		ls.m[id] = l
	}
	l.refs++
	ls.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		ls.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(ls.m, id)
		}
		ls.mu.Unlock()
	}
}

// len is the number of entries (tests).
func (ls *docLocks) len() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.m)
}

// Presentation is a document an advisor presents for signature.
type Presentation struct {
	ConsultationID string
	Name           string
	PDF            []byte
	// Signers in signing order: records.SignerCustomer and/or
	// records.SignerAdvisor; each becomes a field of the same name.
	Signers   []string
	CreatedBy int64  // staff user id
	Actor     string // audit actor, "staff:<id>"
	// Place: the fields get a place on the pages (uploads): Boxes[field]
	// where the advisor chose one, free space on the last pages for the
	// others. Without it (the contract template) each field goes to
	// signature.DefaultSignatureRect on the last page.
	Place bool
	Boxes map[string]signature.FieldBox
}

// Present checks an untrusted PDF (size, parses, not encrypted), stores it
// durably and records it. Errors from signature.LoadPDF come back wrapped
// (signature.ErrPDFTooLarge, ErrPDFMalformed, ErrPDFEncrypted), and with
// WithIsolation ErrPDFUnsafe and ErrPDFBusy.
func (s *Service) Present(ctx context.Context, p Presentation) (records.Document, error) {
	var info *signature.PDFInfo
	var err error
	if s.intake != nil {
		info, err = s.intake.Intake(ctx, p.PDF, s.maxPDF)
	} else {
		info, err = signature.LoadPDF(p.PDF, s.maxPDF)
	}
	if err != nil {
		return records.Document{}, fmt.Errorf("present document: %w", err)
	}
	if info.SigFields > 0 {
		// Countersigning happens on the stored contract, in its own
		// consultation; a signed PDF uploaded again would show someone
		// else's signature to this customer (and hide what was appended).
		return records.Document{}, fmt.Errorf("present document: %w", ErrPresentSigned)
	}
	var placement map[string]signature.FieldBox
	if p.Place {
		if placement, err = placeFields(info, p.Signers, p.Boxes); err != nil {
			return records.Document{}, fmt.Errorf("present document: %w", err)
		}
	}
	fields := make([]records.Field, len(p.Signers))
	for i, who := range p.Signers {
		fields[i] = records.Field{Name: who, Signer: who}
	}
	blob := newBlobID()
	if _, err := s.files.Put(ctx, p.ConsultationID, blob, p.Actor, bytes.NewReader(p.PDF)); err != nil {
		return records.Document{}, fmt.Errorf("present document: store: %w", err)
	}
	sum := sha256.Sum256(p.PDF)
	nd := records.NewDocument{
		ConsultationID: p.ConsultationID, Name: p.Name, Pages: info.Pages, Size: int64(len(p.PDF)),
		SHA256: hex.EncodeToString(sum[:]), Blob: blob, CreatedBy: p.CreatedBy, Fields: fields, Actor: p.Actor,
	}
	if placement != nil {
		nd.Placement = placement
	}
	d, err := s.rec.CreateDocument(ctx, nd)
	if err != nil {
		s.removeBlob(ctx, p.ConsultationID, blob)
		return records.Document{}, err
	}
	return d, nil
}

// Signing is one signer's handwritten signature of a field.
type Signing struct {
	ConsultationID string
	DocumentID     string
	Field          string
	// As is the caller's role (records.SignerCustomer or SignerAdvisor); it
	// must be the field's signer.
	As         string
	SignerName string
	SignerRef  string // "participant:<id>" or "staff:<id>"
	Capture    []byte // the browser's capture JSON (signature/CAPTURE.md)
	// Method is signature.MethodDrawn (Capture) or signature.MethodTyped:
	// the accessible alternative, TypedName typed and Confirmed by the
	// signer's explicit checkbox; no pen data, no biometric envelope.
	Method    string
	TypedName string
	Confirmed bool
}

// Sign checks the capture (format, plausibility: *signature.RejectError),
// seals the pen data to the escrow key bound to the document as presented,
// signs the PDF and stores the signed revision durably before recording
// it. When anything fails, the document stays as it was.
func (s *Service) Sign(ctx context.Context, sg Signing) (records.Document, error) {
	// Names are checked where they are entered; one stored before that
	// check still gets no control or text-direction character into the PDF.
	sg.SignerName = records.StripText(sg.SignerName)
	// A document that does not exist in this consultation takes no lock.
	if _, err := s.rec.DocumentByID(ctx, sg.ConsultationID, sg.DocumentID); err != nil {
		return records.Document{}, err
	}
	unlock, err := s.locks.lock(ctx, sg.DocumentID)
	if err != nil {
		return records.Document{}, err
	}
	defer unlock()

	d, err := s.rec.DocumentByID(ctx, sg.ConsultationID, sg.DocumentID)
	if err != nil {
		return records.Document{}, err
	}
	f, ok := d.Field(sg.Field)
	switch {
	case !ok:
		return records.Document{}, fmt.Errorf("sign field %q: %w", sg.Field, records.ErrNotFound)
	case f.Signer != sg.As:
		return records.Document{}, ErrNotYourField
	case f.Signed():
		return records.Document{}, ErrAlreadySigned
	}
	// The audit trail so far goes into the PDF too, under the signature;
	// it also says whom a customer's field is bound to.
	trail, err := s.rec.AuditTrail(ctx, d.ID)
	if err != nil {
		return records.Document{}, err
	}
	if !WithdrawnAt(trail).IsZero() {
		return records.Document{}, ErrWithdrawn
	}
	if who := boundTo(trail, sg.Field); f.Signer == records.SignerCustomer && who != "" && who != sg.SignerRef {
		return records.Document{}, ErrNotYourField
	}
	presented, err := s.read(d)
	if err != nil {
		return records.Document{}, err
	}
	now := s.now().UTC()
	sum := sha256.Sum256(presented)
	binding := signature.Binding{
		DocumentSHA256: hex.EncodeToString(sum[:]), DocumentLength: int64(len(presented)),
		Field: sg.Field, ConsultationID: sg.ConsultationID,
	}
	mark, err := s.signatureMark(sg, binding, now)
	if err != nil {
		return records.Document{}, err
	}
	position := 0
	for i, o := range d.Fields {
		if o.Name == sg.Field {
			position = i
		}
	}
	var page int
	var rect signature.Rect
	if b, ok := placementOf(trail, sg.Field); ok {
		page, rect = b.Page, b.Rect
	}
	trailJSON, err := json.Marshal(map[string]any{"format": "parley-audit-trail", "v": 1, "document": d.ID, "events": trail})
	if err != nil {
		return records.Document{}, fmt.Errorf("encode audit trail: %w", err)
	}
	signed, err := s.signer.Sign(ctx, presented, signature.SignRequest{
		Field:          sg.Field,
		ConsultationID: d.ConsultationID,
		SignerName:     sg.SignerName,
		Reason:         mark.reason,
		SignedAt:       now,
		Index:          position,
		Page:           page,
		Rect:           rect,
		SignatureImage: mark.image,
		Method:         mark.method,
		TypedName:      mark.typed,
		Attachments: append(mark.attachments, signature.Attachment{
			Name:        AuditName(sg.Field),
			Description: "Audit trail of this document up to the signature (" + sg.Field + ")",
			MIME:        "application/json",
			Data:        trailJSON,
			ModTime:     now,
		}),
	})
	if err != nil {
		return records.Document{}, fmt.Errorf("sign PDF: %w", err)
	}
	blob := newBlobID()
	if _, err := s.files.Put(ctx, d.ConsultationID, blob, sg.SignerRef, bytes.NewReader(signed)); err != nil {
		return records.Document{}, fmt.Errorf("store signed PDF: %w", err)
	}
	signedSum := sha256.Sum256(signed)
	nd, err := s.rec.RecordSignature(ctx, d.ID, records.Signing{
		Field: sg.Field, FromRevision: d.Revision, Blob: blob, Size: int64(len(signed)),
		SHA256: hex.EncodeToString(signedSum[:]), SignerName: sg.SignerName, SignerRef: sg.SignerRef,
		Actor: sg.SignerRef, At: now, Detail: mark.detail,
	})
	if err != nil {
		// A commit that failed may still have happened (a connection to
		// PostgreSQL lost during COMMIT): the new file goes only when the
		// record surely does not name it; otherwise SweepOrphans takes it.
		if cur, rerr := s.rec.DocumentByID(context.WithoutCancel(ctx), d.ConsultationID, d.ID); rerr == nil && cur.CurrentBlob != blob {
			s.removeBlob(ctx, d.ConsultationID, blob)
		}
		return records.Document{}, err
	}
	// Only now, with the new revision's record durable (SQLite
	// synchronous=FULL, PostgreSQL's commit), may the previous file go. It
	// is a byte prefix of the new one: not needed. A crash before this
	// leaves it to SweepOrphans.
	s.removeBlob(ctx, d.ConsultationID, d.CurrentBlob)
	s.log.InfoContext(ctx, "document field signed", "consultation", d.ConsultationID, "document", d.ID,
		"field", sg.Field, "revision", nd.Revision, "state", nd.State)
	return nd, nil
}

// mark is what a signature puts into the PDF besides the audit trail:
// the handwriting and its sealed pen data, or the typed name.
type mark struct {
	method, typed, reason string
	image                 []byte
	attachments           []signature.Attachment
	detail                map[string]any // for the "signed" audit event
}

// signatureMark checks the signer's input and builds the mark: for a
// drawn signature the capture's format and plausibility (*signature.
// RejectError), the rendered image and the biometric envelope bound to
// the document as presented; for a typed one the name (signature.
// CheckTypedName) and the explicit confirmation (RejectError
// CodeNotConfirmed).
func (s *Service) signatureMark(sg Signing, b signature.Binding, now time.Time) (mark, error) {
	switch sg.Method {
	case signature.MethodTyped:
		if !sg.Confirmed {
			return mark{}, &signature.RejectError{Code: signature.CodeNotConfirmed, Detail: "the signer did not confirm"}
		}
		typed, err := signature.CheckTypedName(sg.TypedName)
		if err != nil {
			return mark{}, err
		}
		return mark{
			method: signature.MethodTyped, typed: typed,
			reason: "Typed name, confirmed by the signer (accessible alternative to a handwritten signature) in a Parley consultation",
			detail: map[string]any{"method": signature.MethodTyped, "typed_name": typed, "confirmed": true},
		}, nil
	case signature.MethodDrawn:
	default:
		return mark{}, &signature.RejectError{Code: signature.CodeMalformed, Detail: "unknown signing method"}
	}
	capture, err := signature.DecodeCapture(sg.Capture)
	if err != nil {
		return mark{}, err
	}
	features := signature.ComputeFeatures(capture)
	if err := signature.CheckPlausible(capture, features); err != nil {
		return mark{}, err
	}
	envelope, err := s.seal(capture, features, sg, b, now)
	if err != nil {
		return mark{}, err
	}
	image, err := signature.RenderPNG(capture, signature.RenderOptions{MaxWidth: 600, MaxHeight: 240})
	if err != nil {
		return mark{}, fmt.Errorf("render signature: %w", err)
	}
	envSum := sha256.Sum256(envelope)
	return mark{
		reason: "Handwritten signature in a Parley consultation",
		image:  image,
		attachments: []signature.Attachment{{
			Name:        EnvelopeName(sg.Field),
			Description: "Encrypted biometric signature data (" + sg.Field + ")",
			MIME:        "application/json",
			Data:        envelope,
			ModTime:     now,
		}},
		detail: map[string]any{
			"envelope_sha256":    hex.EncodeToString(envSum[:]),
			"envelope_recipient": s.escrow.Fingerprint(),
			"strokes":            features.StrokeCount,
			"points":             features.PointCount,
			"duration_ms":        features.DurationMS,
		},
	}, nil
}

// AuditFieldBound is the audit event that binds a customer's field to one
// customer participant (BindCustomerField); detail "signer" names them.
const AuditFieldBound = "field_bound"

// boundTo returns the signer ref a field is bound to by the first
// AuditFieldBound event for it, or "".
func boundTo(trail []records.AuditEvent, field string) string {
	for _, e := range trail {
		if e.Kind != AuditFieldBound {
			continue
		}
		var d struct {
			Field  string `json:"field"`
			Signer string `json:"signer"`
		}
		if json.Unmarshal(e.Detail, &d) == nil && d.Field == field {
			return d.Signer
		}
	}
	return ""
}

// BindCustomerField binds the customer's field of a document to one
// customer participant (signerRef "participant:<id>") unless it is bound
// already: the customer it was presented to, or the first who starts
// signing it. From then on only they may sign it (Sign answers
// ErrNotYourField to any other customer of the call). The binding is an
// audit event by actor, so it is in the trail sealed into the signed PDF.
// Errors: records.ErrNotFound, ErrNotYourField (not a customer's field,
// or bound to someone else), ErrAlreadySigned.
func (s *Service) BindCustomerField(ctx context.Context, cid, docID, field, signerRef, actor string) error {
	if _, err := s.rec.DocumentByID(ctx, cid, docID); err != nil {
		return err
	}
	unlock, err := s.locks.lock(ctx, docID)
	if err != nil {
		return err
	}
	defer unlock()
	d, err := s.rec.DocumentByID(ctx, cid, docID)
	if err != nil {
		return err
	}
	f, ok := d.Field(field)
	switch {
	case !ok:
		return fmt.Errorf("bind field %q: %w", field, records.ErrNotFound)
	case f.Signer != records.SignerCustomer:
		return ErrNotYourField
	case f.Signed():
		return ErrAlreadySigned
	}
	trail, err := s.rec.AuditTrail(ctx, d.ID)
	if err != nil {
		return err
	}
	if !WithdrawnAt(trail).IsZero() {
		return ErrWithdrawn
	}
	switch who := boundTo(trail, field); who {
	case signerRef:
		return nil
	case "":
		return s.rec.AppendAudit(ctx, d.ID, AuditFieldBound, actor, map[string]any{"field": field, "signer": signerRef, "revision": d.Revision})
	default:
		return ErrNotYourField
	}
}

// seal builds the biometric record, seals it and clears the plaintext.
func (s *Service) seal(c *signature.Capture, f signature.Features, sg Signing, b signature.Binding, now time.Time) ([]byte, error) {
	rec := signature.BiometricRecord{
		Capture: c, Features: f, SignerName: sg.SignerName, Field: sg.Field,
		ConsultationID: sg.ConsultationID, DocumentSHA256: b.DocumentSHA256, SignedAt: now,
	}
	plain, err := rec.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode biometric record: %w", err)
	}
	defer clear(plain)
	env, err := signature.SealEnvelope(rand.Reader, s.escrow, b, plain, now)
	if err != nil {
		return nil, fmt.Errorf("seal biometric envelope: %w", err)
	}
	return env, nil
}

// AuditName is the attachment name of the audit trail sealed with a
// field's signature.
func AuditName(field string) string { return "parley-audit-" + field + ".json" }

// EnvelopeName is the attachment name of a field's biometric envelope.
func EnvelopeName(field string) string { return "parley-biometric-" + field + ".json" }

// Open returns the current revision of a document (the signed PDF once a
// field is signed) for reading, and its size.
func (s *Service) Open(ctx context.Context, cid, docID string) (records.Document, io.ReadSeekCloser, int64, error) {
	d, err := s.rec.DocumentByID(ctx, cid, docID)
	if err != nil {
		return records.Document{}, nil, 0, err
	}
	f, size, err := s.files.Open(cid, d.CurrentBlob)
	if err != nil {
		return records.Document{}, nil, 0, fmt.Errorf("open document %s: %w", d.ID, err)
	}
	return d, f, size, nil
}

func (s *Service) read(d records.Document) ([]byte, error) {
	f, _, err := s.files.Open(d.ConsultationID, d.CurrentBlob)
	if err != nil {
		return nil, fmt.Errorf("read document %s: %w", d.ID, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4*s.maxPDF+(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("read document %s: %w", d.ID, err)
	}
	return b, nil
}

// EndConsultation removes the documents nobody signed and their files;
// signed contracts stay. Called when a consultation ends.
func (s *Service) EndConsultation(ctx context.Context, cid string) error {
	_, err := s.removeUnsigned(ctx, cid)
	return err
}

func (s *Service) removeUnsigned(ctx context.Context, cid string) (int, error) {
	gone, err := s.rec.DeleteUnsignedDocuments(ctx, cid)
	for _, d := range gone {
		s.removeBlob(ctx, cid, d.CurrentBlob)
	}
	if err != nil {
		return len(gone), fmt.Errorf("remove unsigned documents: %w", err)
	}
	if len(gone) > 0 {
		s.log.InfoContext(ctx, "removed unsigned documents of an ended consultation", "consultation", cid, "count", len(gone))
	}
	return len(gone), nil
}

func (s *Service) removeBlob(ctx context.Context, cid, blob string) {
	if err := s.files.Delete(cid, blob); err != nil && !errors.Is(err, blobs.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
		s.log.WarnContext(ctx, "remove document file", "consultation", cid, "err", err)
	}
}

func newBlobID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Expire deletes the signed contracts whose retention period ended at or
// before cutoff (the last signature at or before it): file, fields and
// audit trail. It returns how many went.
func (s *Service) Expire(ctx context.Context, cutoff time.Time) (int, error) {
	ds, err := s.rec.SignedDocumentsBefore(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		unlock, err := s.locks.lock(ctx, d.ID)
		if err != nil {
			return n, err
		}
		err = s.rec.DeleteDocument(ctx, d.ID)
		if err == nil {
			s.removeBlob(ctx, d.ConsultationID, d.CurrentBlob)
			n++
		}
		unlock()
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// SweepUnsigned removes unsigned documents of consultations that ended at or
// before cutoff (retention.files), e.g. while the node was down. It
// returns how many went.
func (s *Service) SweepUnsigned(ctx context.Context, cutoff time.Time) (int, error) {
	ids, err := s.rec.UnsignedDocumentsEndedBefore(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		k, err := s.removeUnsigned(ctx, id)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// SweepOrphans removes the document files that no document record names
// and that were stored more than olderThan before now: what a crash left
// between storing a file and recording it (Present, Sign), or between
// recording a signature and deleting the previous revision's file, or
// between deleting a record and its file. Younger files may belong to a
// signing in flight (stored, not yet recorded) and are left for a later
// sweep. It returns how many files went.
func (s *Service) SweepOrphans(ctx context.Context, olderThan time.Duration, now time.Time) (int, error) {
	cids, err := s.files.Consultations()
	if err != nil {
		return 0, fmt.Errorf("sweep orphaned documents: %w", err)
	}
	n := 0
	for _, cid := range cids {
		k, err := s.sweepOrphansOf(ctx, cid, olderThan, now)
		n += k
		if err != nil {
			return n, fmt.Errorf("sweep orphaned documents: %w", err)
		}
	}
	return n, nil
}

func (s *Service) sweepOrphansOf(ctx context.Context, cid string, olderThan time.Duration, now time.Time) (int, error) {
	// Files first, records second: a file stored and recorded between the
	// two reads is young and skipped anyway.
	fids, err := s.files.Files(cid)
	if err != nil || len(fids) == 0 {
		return 0, err
	}
	ds, err := s.rec.Documents(ctx, cid)
	if err != nil {
		return 0, err
	}
	named := make(map[string]bool, len(ds))
	for _, d := range ds {
		named[d.CurrentBlob] = true
	}
	n := 0
	for _, fid := range fids {
		if named[fid] {
			continue
		}
		at, err := s.files.Modified(cid, fid)
		if errors.Is(err, blobs.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if now.Sub(at) < olderThan {
			continue
		}
		err = s.files.Delete(cid, fid)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, blobs.ErrNotFound):
			return n, err
		}
	}
	return n, nil
}
