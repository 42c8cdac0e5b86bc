package signature

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Biometric envelope format, version 1. See CAPTURE.md, "Biometric envelope".
const (
	EnvelopeFormat  = "parley-biometric-envelope"
	EnvelopeVersion = 1
	// AlgECDHP256: ephemeral-static ECDH on P-256, HKDF-SHA256 to a
	// key-encryption key, AES-256-GCM for the content key and the content.
	AlgECDHP256 = "ECDH-P256+HKDF-SHA256/A256GCM"
	// AlgRSAOAEP: RSA-OAEP (SHA-256, MGF1-SHA-256) for the content key,
	// AES-256-GCM for the content.
	AlgRSAOAEP = "RSA-OAEP-SHA256/A256GCM"

	// MaxEnvelopePlaintextBytes bounds what SealEnvelope seals.
	MaxEnvelopePlaintextBytes = 2 << 20
	// MaxEnvelopeBytes bounds an encoded envelope.
	MaxEnvelopeBytes = 3 << 20
	// MaxBindingFieldBytes bounds Binding.Field and Binding.ConsultationID.
	MaxBindingFieldBytes = 255

	// envelopeTag is the format/version tag in the additional data, the HKDF
	// salt and the OAEP label.
	envelopeTag = "parley-biometric-envelope/v1"
	// hkdfInfoPrefix starts the HKDF info; both public keys follow.
	hkdfInfoPrefix = "parley-biometric-envelope/v1 key wrap"
	// createdAtLayout: UTC, millisecond precision, always three digits.
	createdAtLayout = "2006-01-02T15:04:05.000Z"
	contentKeyBytes = 32
	gcmNonceBytes   = 12
	gcmTagBytes     = 16
	p256PointBytes  = 65
)

// Errors from the envelope functions.
var (
	// ErrEnvelopeMalformed: not a valid version 1 envelope.
	ErrEnvelopeMalformed = errors.New("signature: malformed biometric envelope")
	// ErrEnvelopeWrongKey: the envelope is not sealed to this escrow key
	// (recipient fingerprint differs or the content key doesn't unwrap).
	ErrEnvelopeWrongKey = errors.New("signature: biometric envelope sealed to another key")
	// ErrEnvelopeNotBound: the envelope is not bound to this document, field
	// and consultation (its header differs from the caller's binding, or the
	// content doesn't authenticate with the caller's binding).
	ErrEnvelopeNotBound = errors.New("signature: biometric envelope not bound to this document")
	// ErrBindingInvalid: a Binding that is not well-formed.
	ErrBindingInvalid = errors.New("signature: invalid envelope binding")
)

// Binding ties an envelope to one signature field of one document in one
// consultation. DocumentSHA256 (lower-case hex) and DocumentLength are over
// the exact bytes of the PDF as presented to the signer; a verifier
// recomputes them from the byte prefix of the signed PDF.
type Binding struct {
	DocumentSHA256 string `json:"document_sha256"`
	DocumentLength int64  `json:"document_length"`
	Field          string `json:"field"`
	ConsultationID string `json:"consultation_id"`
}

// NewBinding computes the binding for the document's bytes.
func NewBinding(document []byte, field, consultationID string) Binding {
	sum := sha256.Sum256(document)
	return Binding{
		DocumentSHA256: hex.EncodeToString(sum[:]),
		DocumentLength: int64(len(document)),
		Field:          field,
		ConsultationID: consultationID,
	}
}

// Validate checks the binding's form: a SHA-256 in lower-case hex, a
// positive length, a non-empty field name, both names valid UTF-8 of at most
// MaxBindingFieldBytes bytes (the consultation ID may be empty).
func (b Binding) Validate() error {
	if _, err := documentDigest(b.DocumentSHA256); err != nil {
		return fmt.Errorf("%w: document_sha256: %w", ErrBindingInvalid, err)
	}
	if b.DocumentLength <= 0 {
		return fmt.Errorf("%w: document_length %d", ErrBindingInvalid, b.DocumentLength)
	}
	if b.Field == "" {
		return fmt.Errorf("%w: empty field name", ErrBindingInvalid)
	}
	for _, f := range [...]struct{ name, v string }{{"field", b.Field}, {"consultation_id", b.ConsultationID}} {
		if len(f.v) > MaxBindingFieldBytes || !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s: not valid UTF-8 of at most %d bytes", ErrBindingInvalid, f.name, MaxBindingFieldBytes)
		}
	}
	return nil
}

func documentDigest(h string) ([]byte, error) {
	if len(h) != 2*sha256.Size || !isLowerHex(h) {
		return nil, errors.New("want 64 lower-case hex digits")
	}
	return hex.DecodeString(h)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Envelope is a parsed biometric envelope. The header fields are in clear so
// a verifier can check the binding and the recipient without the private key.
type Envelope struct {
	Format    string
	V         int
	Alg       string
	Recipient string // escrow key fingerprint, "sha256:…"
	Binding   Binding
	CreatedAt time.Time // UTC, millisecond precision
	// EphemeralKey is the uncompressed P-256 point (AlgECDHP256 only).
	EphemeralKey []byte
	WrappedKey   []byte
	Nonce        []byte
	Ciphertext   []byte // AES-256-GCM output: ciphertext and 16-byte tag
}

// envelopeJSON is the wire form; byte fields are standard base64 with
// padding.
type envelopeJSON struct {
	Format       string  `json:"format"`
	V            int     `json:"v"`
	Alg          string  `json:"alg"`
	Recipient    string  `json:"recipient"`
	Binding      Binding `json:"binding"`
	CreatedAt    string  `json:"created_at"`
	EphemeralKey string  `json:"ephemeral_key,omitempty"`
	WrappedKey   string  `json:"wrapped_key"`
	Nonce        string  `json:"nonce"`
	Ciphertext   string  `json:"ciphertext"`
}

// SealEnvelope encrypts plaintext to the escrow key, bound to b. rand
// supplies the content key and nonce (nil means crypto/rand); the ephemeral
// ECDH key and the OAEP padding always come from the system's secure source.
// The envelope carries createdAt truncated to milliseconds, in UTC.
func SealEnvelope(rnd io.Reader, pub *EscrowPublicKey, b Binding, plaintext []byte, createdAt time.Time) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("seal envelope: %w: no key", ErrEscrowKey)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("seal envelope: %w", err)
	}
	if len(plaintext) > MaxEnvelopePlaintextBytes {
		return nil, fmt.Errorf("seal envelope: %d bytes of plaintext, at most %d", len(plaintext), MaxEnvelopePlaintextBytes)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	e := &Envelope{
		Format:    EnvelopeFormat,
		V:         EnvelopeVersion,
		Alg:       pub.Algorithm(),
		Recipient: pub.Fingerprint(),
		Binding:   b,
		CreatedAt: createdAt.UTC().Truncate(time.Millisecond),
		Nonce:     make([]byte, gcmNonceBytes),
	}
	contentKey := make([]byte, contentKeyBytes)
	if _, err := io.ReadFull(rnd, contentKey); err != nil {
		return nil, fmt.Errorf("seal envelope: content key: %w", err)
	}
	if _, err := io.ReadFull(rnd, e.Nonce); err != nil {
		return nil, fmt.Errorf("seal envelope: nonce: %w", err)
	}
	var err error
	switch {
	case pub.ec != nil:
		eph, err := ecdh.P256().GenerateKey(rnd)
		if err != nil {
			return nil, fmt.Errorf("seal envelope: ephemeral key: %w", err)
		}
		e.EphemeralKey = eph.PublicKey().Bytes()
		z, err := eph.ECDH(pub.ec)
		if err != nil {
			return nil, fmt.Errorf("seal envelope: ecdh: %w", err)
		}
		kek, nonce, err := deriveKEK(z, e.EphemeralKey, pub.ec.Bytes())
		if err != nil {
			return nil, fmt.Errorf("seal envelope: %w", err)
		}
		if e.WrappedKey, err = gcmSeal(kek, nonce, contentKey, []byte(e.Recipient)); err != nil {
			return nil, fmt.Errorf("seal envelope: wrap: %w", err)
		}
	default:
		e.WrappedKey, err = rsa.EncryptOAEP(sha256.New(), rnd, pub.rsa, contentKey, []byte(envelopeTag))
		if err != nil {
			return nil, fmt.Errorf("seal envelope: rsa-oaep: %w", err)
		}
	}
	aad, err := e.additionalData(b)
	if err != nil {
		return nil, fmt.Errorf("seal envelope: %w", err)
	}
	if e.Ciphertext, err = gcmSeal(contentKey, e.Nonce, plaintext, aad); err != nil {
		return nil, fmt.Errorf("seal envelope: %w", err)
	}
	return e.Marshal()
}

// deriveKEK derives the key-encryption key and its nonce from the ECDH
// shared secret: HKDF-SHA256(secret, salt = envelopeTag, info =
// hkdfInfoPrefix || ephemeral point || recipient point), 44 bytes.
func deriveKEK(secret, ephemeral, recipient []byte) (kek, nonce []byte, err error) {
	info := hkdfInfoPrefix + string(ephemeral) + string(recipient)
	okm, err := hkdf.Key(sha256.New, secret, []byte(envelopeTag), info, contentKeyBytes+gcmNonceBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("hkdf: %w", err)
	}
	return okm[:contentKeyBytes], okm[contentKeyBytes:], nil
}

// gcmSeal and gcmOpen run AES-256-GCM with a 32-byte key.
func gcmSeal(key, nonce, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nonce, plaintext, aad), nil
}

func gcmOpen(key, nonce, ciphertext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, nonce, ciphertext, aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// additionalData is the AES-GCM additional data of the content: each item
// as a 4-byte big-endian length and its bytes, in this order: envelopeTag,
// the 32 raw bytes of the document SHA-256, the document length as 8 bytes
// big-endian, the field name, the consultation ID, the recipient
// fingerprint, the algorithm, created_at as in the envelope.
func (e *Envelope) additionalData(b Binding) ([]byte, error) {
	digest, err := documentDigest(b.DocumentSHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBindingInvalid, err)
	}
	length := binary.BigEndian.AppendUint64(nil, uint64(b.DocumentLength))
	var aad []byte
	for _, item := range [][]byte{
		[]byte(envelopeTag), digest, length, []byte(b.Field), []byte(b.ConsultationID),
		[]byte(e.Recipient), []byte(e.Alg), []byte(e.CreatedAt.UTC().Format(createdAtLayout)),
	} {
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(item)))
		aad = append(aad, item...)
	}
	return aad, nil
}

// Marshal encodes the envelope as its version 1 JSON document.
func (e *Envelope) Marshal() ([]byte, error) {
	enc := base64.StdEncoding.EncodeToString
	w := envelopeJSON{
		Format: e.Format, V: e.V, Alg: e.Alg, Recipient: e.Recipient, Binding: e.Binding,
		CreatedAt:  e.CreatedAt.UTC().Format(createdAtLayout),
		WrappedKey: enc(e.WrappedKey), Nonce: enc(e.Nonce), Ciphertext: enc(e.Ciphertext),
	}
	if len(e.EphemeralKey) > 0 {
		w.EphemeralKey = enc(e.EphemeralKey)
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("marshal envelope: %w", err)
	}
	return data, nil
}

// ParseEnvelope decodes and validates a version 1 envelope: strict JSON
// within MaxEnvelopeBytes, known algorithm, well-formed recipient and
// binding, canonical base64 fields of the right sizes.
func ParseEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrEnvelopeMalformed, len(data), MaxEnvelopeBytes)
	}
	var w envelopeJSON
	if err := decodeStrict(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEnvelopeMalformed, err)
	}
	e := &Envelope{Format: w.Format, V: w.V, Alg: w.Alg, Recipient: w.Recipient, Binding: w.Binding}
	t, err := time.Parse(createdAtLayout, w.CreatedAt)
	if err != nil || t.Format(createdAtLayout) != w.CreatedAt {
		return nil, fmt.Errorf("%w: created_at %q, want %s", ErrEnvelopeMalformed, w.CreatedAt, createdAtLayout)
	}
	e.CreatedAt = t
	for _, f := range []struct {
		name string
		in   string
		out  *[]byte
	}{
		{"ephemeral_key", w.EphemeralKey, &e.EphemeralKey},
		{"wrapped_key", w.WrappedKey, &e.WrappedKey},
		{"nonce", w.Nonce, &e.Nonce},
		{"ciphertext", w.Ciphertext, &e.Ciphertext},
	} {
		b, err := base64.StdEncoding.Strict().DecodeString(f.in)
		if err != nil || base64.StdEncoding.EncodeToString(b) != f.in {
			return nil, fmt.Errorf("%w: %s: not canonical standard base64", ErrEnvelopeMalformed, f.name)
		}
		if len(b) > 0 {
			*f.out = b
		}
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

// check validates the envelope's fields.
func (e *Envelope) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrEnvelopeMalformed, fmt.Sprintf(format, args...))
	}
	if e.Format != EnvelopeFormat {
		return bad("format %q, want %q", e.Format, EnvelopeFormat)
	}
	if e.V != EnvelopeVersion {
		return bad("version %d, want %d", e.V, EnvelopeVersion)
	}
	fp, ok := bytes.CutPrefix([]byte(e.Recipient), []byte("sha256:"))
	if !ok || len(fp) != 2*sha256.Size || !isLowerHex(string(fp)) {
		return bad("recipient %q, want sha256: and 64 lower-case hex digits", e.Recipient)
	}
	if err := e.Binding.Validate(); err != nil {
		return bad("binding: %v", err)
	}
	switch e.Alg {
	case AlgECDHP256:
		if _, err := ecdh.P256().NewPublicKey(e.EphemeralKey); err != nil {
			return bad("ephemeral_key: not an uncompressed P-256 point")
		}
		if len(e.WrappedKey) != contentKeyBytes+gcmTagBytes {
			return bad("wrapped_key: %d bytes, want %d", len(e.WrappedKey), contentKeyBytes+gcmTagBytes)
		}
	case AlgRSAOAEP:
		if len(e.EphemeralKey) != 0 {
			return bad("ephemeral_key with %s", AlgRSAOAEP)
		}
		if n := len(e.WrappedKey); n < MinEscrowRSABits/8 || n > MaxEscrowRSABits/8 {
			return bad("wrapped_key: %d bytes, want %d..%d", n, MinEscrowRSABits/8, MaxEscrowRSABits/8)
		}
	default:
		return bad("alg %q, want %q or %q", e.Alg, AlgECDHP256, AlgRSAOAEP)
	}
	if len(e.Nonce) != gcmNonceBytes {
		return bad("nonce: %d bytes, want %d", len(e.Nonce), gcmNonceBytes)
	}
	if n := len(e.Ciphertext); n < gcmTagBytes || n > MaxEnvelopePlaintextBytes+gcmTagBytes {
		return bad("ciphertext: %d bytes", n)
	}
	return nil
}

// SealedTo returns nil when the envelope names pub as its recipient with
// pub's algorithm, else ErrEnvelopeWrongKey. It needs no private key.
func (e *Envelope) SealedTo(pub *EscrowPublicKey) error {
	if pub == nil || e.Recipient != pub.Fingerprint() || e.Alg != pub.Algorithm() {
		return fmt.Errorf("%w: sealed to %s", ErrEnvelopeWrongKey, e.Recipient)
	}
	return nil
}

// CheckBinding returns nil when the envelope's header names exactly the
// binding b, else ErrEnvelopeNotBound. It needs no private key; only Open
// proves that the content was sealed with that binding.
func (e *Envelope) CheckBinding(b Binding) error {
	if e.Binding != b {
		return fmt.Errorf("%w: header binding differs", ErrEnvelopeNotBound)
	}
	return nil
}

// Open decrypts the envelope with the escrow private key. b is the binding
// the caller computed from the document at hand, not the envelope's header.
// Errors: ErrEnvelopeMalformed, ErrEnvelopeWrongKey, ErrBindingInvalid,
// ErrEnvelopeNotBound.
func (e *Envelope) Open(priv *EscrowPrivateKey, b Binding) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if priv == nil {
		return nil, fmt.Errorf("open envelope: %w: no key", ErrEscrowKey)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("open envelope: %w", err)
	}
	if err := e.SealedTo(priv.pub); err != nil {
		return nil, fmt.Errorf("open envelope: %w", err)
	}
	if err := e.CheckBinding(b); err != nil {
		return nil, fmt.Errorf("open envelope: %w", err)
	}
	contentKey, err := e.unwrap(priv)
	if err != nil {
		return nil, fmt.Errorf("open envelope: %w: %w", ErrEnvelopeWrongKey, err)
	}
	aad, err := e.additionalData(b)
	if err != nil {
		return nil, fmt.Errorf("open envelope: %w", err)
	}
	plaintext, err := gcmOpen(contentKey, e.Nonce, e.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("open envelope: %w: content does not authenticate", ErrEnvelopeNotBound)
	}
	return plaintext, nil
}

func (e *Envelope) unwrap(priv *EscrowPrivateKey) ([]byte, error) {
	if priv.ec != nil {
		eph, err := ecdh.P256().NewPublicKey(e.EphemeralKey)
		if err != nil {
			return nil, fmt.Errorf("ephemeral key: %w", err)
		}
		z, err := priv.ec.ECDH(eph)
		if err != nil {
			return nil, fmt.Errorf("ecdh: %w", err)
		}
		kek, nonce, err := deriveKEK(z, e.EphemeralKey, priv.pub.ec.Bytes())
		if err != nil {
			return nil, err
		}
		key, err := gcmOpen(kek, nonce, e.WrappedKey, []byte(e.Recipient))
		if err != nil {
			return nil, errors.New("content key does not unwrap")
		}
		return key, nil
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, priv.rsa, e.WrappedKey, []byte(envelopeTag))
	if err != nil || len(key) != contentKeyBytes {
		return nil, errors.New("content key does not unwrap")
	}
	return key, nil
}

// Biometric record, what SealEnvelope seals in Parley. See CAPTURE.md.
const (
	RecordFormat  = "parley-biometric-record"
	RecordVersion = 1
	// MaxRecordBytes bounds an encoded record: a capture and some headroom.
	MaxRecordBytes = MaxCaptureBytes + 64<<10
)

// ErrRecordMalformed: not a valid version 1 biometric record.
var ErrRecordMalformed = errors.New("signature: malformed biometric record")

// BiometricRecord is the plaintext of a biometric envelope: the raw pen data,
// the features the server computed from it, and who signed what and when, so
// the escrow holder's tool can print the features and render the strokes
// after opening the envelope.
type BiometricRecord struct {
	Capture        *Capture
	Features       Features
	SignerName     string
	Field          string
	ConsultationID string
	DocumentSHA256 string
	SignedAt       time.Time
}

type recordJSON struct {
	Format         string          `json:"format"`
	V              int             `json:"v"`
	SignerName     string          `json:"signer_name"`
	Field          string          `json:"field"`
	ConsultationID string          `json:"consultation_id"`
	DocumentSHA256 string          `json:"document_sha256"`
	SignedAt       time.Time       `json:"signed_at"`
	Features       Features        `json:"features"`
	Capture        json.RawMessage `json:"capture"`
}

// NewBiometricRecord builds the record of capture c signed by signerName for
// the binding b, computing the features.
func NewBiometricRecord(c *Capture, signerName string, b Binding, signedAt time.Time) *BiometricRecord {
	return &BiometricRecord{
		Capture:        c,
		Features:       ComputeFeatures(c),
		SignerName:     signerName,
		Field:          b.Field,
		ConsultationID: b.ConsultationID,
		DocumentSHA256: b.DocumentSHA256,
		SignedAt:       signedAt.UTC(),
	}
}

// Marshal encodes the record as JSON, the capture in its canonical form.
func (r *BiometricRecord) Marshal() ([]byte, error) {
	if r.Capture == nil {
		return nil, fmt.Errorf("marshal biometric record: %w: no capture", ErrRecordMalformed)
	}
	capture, err := r.Capture.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal biometric record: %w", err)
	}
	data, err := json.Marshal(recordJSON{
		Format: RecordFormat, V: RecordVersion,
		SignerName: r.SignerName, Field: r.Field, ConsultationID: r.ConsultationID,
		DocumentSHA256: r.DocumentSHA256, SignedAt: r.SignedAt.UTC(),
		Features: r.Features, Capture: capture,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal biometric record: %w", err)
	}
	return data, nil
}

// ParseBiometricRecord decodes a record strictly; its capture is decoded
// with DecodeCapture's rules.
func ParseBiometricRecord(data []byte) (*BiometricRecord, error) {
	if len(data) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrRecordMalformed, len(data), MaxRecordBytes)
	}
	var w recordJSON
	if err := decodeStrict(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecordMalformed, err)
	}
	if w.Format != RecordFormat || w.V != RecordVersion {
		return nil, fmt.Errorf("%w: format %q v%d, want %q v%d", ErrRecordMalformed, w.Format, w.V, RecordFormat, RecordVersion)
	}
	c, err := DecodeCapture(w.Capture)
	if err != nil {
		return nil, fmt.Errorf("%w: capture: %w", ErrRecordMalformed, err)
	}
	return &BiometricRecord{
		Capture: c, Features: w.Features, SignerName: w.SignerName, Field: w.Field,
		ConsultationID: w.ConsultationID, DocumentSHA256: w.DocumentSHA256, SignedAt: w.SignedAt.UTC(),
	}, nil
}
