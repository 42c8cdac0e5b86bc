package contracts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-video/parley/signature"
)

// EnvelopePrefix starts the attachment name of every biometric envelope.
const EnvelopePrefix = "parley-biometric-"

// FoundEnvelope is a biometric envelope found in a PDF, with the binding
// computed from the PDF itself (not taken from the envelope's header).
type FoundEnvelope struct {
	Attachment string
	Envelope   *signature.Envelope
	// Binding is what this PDF says: the SHA-256 of its first
	// Envelope.Binding.DocumentLength bytes (the document as presented to
	// the signer), the field and consultation from the header.
	Binding signature.Binding
	// BoundHere: the header's document hash matches this PDF's prefix.
	// (Only opening with the escrow key proves the header is genuine.)
	BoundHere bool
	Err       error // the envelope could not be parsed
}

// FindEnvelopes lists the biometric envelopes attached to pdf.
func FindEnvelopes(pdf []byte) ([]FoundEnvelope, error) {
	atts, err := signature.Attachments(pdf)
	if err != nil {
		return nil, err
	}
	var out []FoundEnvelope
	for _, a := range atts {
		if !strings.HasPrefix(a.Name, EnvelopePrefix) {
			continue
		}
		fe := FoundEnvelope{Attachment: a.Name}
		env, err := signature.ParseEnvelope(a.Data)
		if err != nil {
			fe.Err = err
			out = append(out, fe)
			continue
		}
		fe.Envelope = env
		fe.Binding = BindingInPDF(pdf, env)
		fe.BoundHere = fe.Binding.DocumentSHA256 == env.Binding.DocumentSHA256
		out = append(out, fe)
	}
	return out, nil
}

// BindingInPDF is the binding an envelope must have to belong to pdf: the
// hash of pdf's prefix of the length the envelope names.
func BindingInPDF(pdf []byte, env *signature.Envelope) signature.Binding {
	b := signature.Binding{
		DocumentLength: env.Binding.DocumentLength,
		Field:          env.Binding.Field,
		ConsultationID: env.Binding.ConsultationID,
	}
	if n := env.Binding.DocumentLength; n > 0 && n <= int64(len(pdf)) {
		sum := sha256.Sum256(pdf[:n])
		b.DocumentSHA256 = hex.EncodeToString(sum[:])
	}
	return b
}

// OpenedEnvelope is a decrypted biometric record.
type OpenedEnvelope struct {
	FoundEnvelope
	Record *signature.BiometricRecord
}

// ErrNoEnvelope: the PDF carries no biometric envelope.
var ErrNoEnvelope = errors.New("no biometric envelope in this PDF")

// OpenEnvelopes decrypts every biometric envelope of pdf with the escrow
// holder's private key, each with the binding computed from pdf, so an
// envelope moved from another document (or a changed document) fails with
// signature.ErrEnvelopeNotBound.
func OpenEnvelopes(pdf []byte, key *signature.EscrowPrivateKey) ([]OpenedEnvelope, error) {
	found, err := FindEnvelopes(pdf)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, ErrNoEnvelope
	}
	var out []OpenedEnvelope
	var errs []error
	for _, fe := range found {
		if fe.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fe.Attachment, fe.Err))
			continue
		}
		plain, err := fe.Envelope.Open(key, fe.Binding)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fe.Attachment, err))
			continue
		}
		rec, err := signature.ParseBiometricRecord(plain)
		clear(plain)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fe.Attachment, err))
			continue
		}
		out = append(out, OpenedEnvelope{FoundEnvelope: fe, Record: rec})
	}
	return out, errors.Join(errs...)
}
