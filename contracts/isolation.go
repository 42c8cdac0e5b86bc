package contracts

// Untrusted PDFs are parsed where an out-of-memory or a runaway parse can't
// reach the server: an Isolator (pdfjail.Runner in the server and in
// `parley verify`) runs intake and verification in a child process with
// memory and CPU limits. Without one, both run in this process.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/parley-video/parley/signature"
)

// Errors of isolated PDF work; web maps them to HTTP answers.
var (
	// ErrPDFUnsafe: the PDF could not be processed within the memory,
	// CPU or time limits (the worker was killed or ran out of memory).
	ErrPDFUnsafe = errors.New("the PDF could not be processed safely: it is too complex or damaged")
	// ErrPDFBusy: every PDF worker is busy and the queue is full or its
	// wait ran out; try again later.
	ErrPDFBusy = errors.New("too many PDFs are being processed; try again shortly")
)

// Isolator runs the work on untrusted PDFs somewhere an out-of-memory or a
// runaway can't hurt the caller. Errors wrap ErrPDFUnsafe, ErrPDFBusy, or
// what the in-process work returns (signature.ErrPDFMalformed, …,
// ErrCannotCheck).
type Isolator interface {
	// Intake is signature.LoadPDF in isolation.
	Intake(ctx context.Context, pdf []byte, maxBytes int64) (*signature.PDFInfo, error)
	// Verify is a Verifier built from cfg, verifying pdf in isolation.
	Verify(ctx context.Context, cfg VerifierConfig, pdf []byte) (*Verdict, error)
}

// VerifierConfig is everything a Verifier needs, in a form that can be
// sent to a worker process (JSON).
type VerifierConfig struct {
	// TrustAnchors are DER certificates.
	TrustAnchors [][]byte `json:"trustAnchors"`
	// SealCerts are the pinned seal certificates, DER.
	SealCerts [][]byte `json:"sealCerts,omitempty"`
	// EscrowPublicKey is PEM; empty: envelopes checked for binding only.
	EscrowPublicKey []byte `json:"escrowPublicKey,omitempty"`
	MaxPDFBytes     int64  `json:"maxPdfBytes"`
}

// Config returns v's configuration (without its Isolation).
func (v *Verifier) Config() VerifierConfig {
	c := VerifierConfig{MaxPDFBytes: v.MaxPDFBytes}
	for _, a := range v.Anchors {
		c.TrustAnchors = append(c.TrustAnchors, a.Raw)
	}
	for _, a := range v.Seals {
		c.SealCerts = append(c.SealCerts, a.Raw)
	}
	if v.Escrow != nil {
		c.EscrowPublicKey = v.Escrow.PEM()
	}
	return c
}

// NewVerifierFromConfig builds an in-process Verifier from c.
func NewVerifierFromConfig(c VerifierConfig) (*Verifier, error) {
	v := &Verifier{Roots: x509.NewCertPool(), MaxPDFBytes: c.MaxPDFBytes}
	for _, der := range c.TrustAnchors {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("trust anchor: %w", err)
		}
		v.Roots.AddCert(cert)
		v.Anchors = append(v.Anchors, cert)
	}
	for _, der := range c.SealCerts {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("seal certificate: %w", err)
		}
		v.Seals = append(v.Seals, cert)
	}
	if len(c.EscrowPublicKey) > 0 {
		k, err := signature.ParseEscrowPublicKey(c.EscrowPublicKey)
		if err != nil {
			return nil, fmt.Errorf("escrow public key: %w", err)
		}
		v.Escrow = k
	}
	return v, nil
}

// Option configures a Service.
type Option func(*Service)

// WithIsolation makes Present check uploads through iso instead of in
// this process.
func WithIsolation(iso Isolator) Option {
	return func(s *Service) { s.intake = iso }
}
