package signature

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// Escrow key kinds, for GenerateEscrowKey and EscrowPublicKey.Kind.
const (
	EscrowKindP256    = "p256"
	EscrowKindRSA2048 = "rsa2048"
	EscrowKindRSA3072 = "rsa3072"
	EscrowKindRSA4096 = "rsa4096"
)

// RSA escrow key size bounds, in bits.
const (
	MinEscrowRSABits = 2048
	MaxEscrowRSABits = 8192
)

// ErrEscrowKey: a key that is not a usable escrow key (bad PEM, wrong block
// type, unsupported algorithm or curve, RSA too small or too large).
var ErrEscrowKey = errors.New("signature: invalid escrow key")

// EscrowPublicKey is the public key biometric envelopes are sealed to: ECDH
// on P-256 or RSA (OAEP-SHA256) of at least MinEscrowRSABits bits.
type EscrowPublicKey struct {
	ec   *ecdh.PublicKey
	rsa  *rsa.PublicKey
	spki []byte // canonical DER SubjectPublicKeyInfo
}

// EscrowPrivateKey is the private half, held offline by the escrow holder.
type EscrowPrivateKey struct {
	ec  *ecdh.PrivateKey
	rsa *rsa.PrivateKey
	pub *EscrowPublicKey
}

func newEscrowPublicKey(key any) (*EscrowPublicKey, error) {
	k := &EscrowPublicKey{}
	switch key := key.(type) {
	case *ecdsa.PublicKey:
		ek, err := key.ECDH()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEscrowKey, err)
		}
		return newEscrowPublicKey(ek)
	case *ecdh.PublicKey:
		if key.Curve() != ecdh.P256() {
			return nil, fmt.Errorf("%w: ECDH curve %v, want P-256", ErrEscrowKey, key.Curve())
		}
		k.ec = key
	case *rsa.PublicKey:
		if bits := key.N.BitLen(); bits < MinEscrowRSABits || bits > MaxEscrowRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits, want %d..%d", ErrEscrowKey, bits, MinEscrowRSABits, MaxEscrowRSABits)
		}
		k.rsa = key
	default:
		return nil, fmt.Errorf("%w: %T, want a P-256 or RSA key", ErrEscrowKey, key)
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEscrowKey, err)
	}
	k.spki = der
	return k, nil
}

// ParseEscrowPublicKey parses a PEM "PUBLIC KEY" block (PKIX
// SubjectPublicKeyInfo) holding a P-256 or RSA key. The input must hold
// exactly one PEM block; text around it is ignored.
func ParseEscrowPublicKey(pemBytes []byte) (*EscrowPublicKey, error) {
	der, err := onePEMBlock(pemBytes, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEscrowKey, err)
	}
	return newEscrowPublicKey(key)
}

// ParseEscrowPrivateKey parses a PEM "PRIVATE KEY" block (PKCS #8) holding a
// P-256 or RSA key.
func ParseEscrowPrivateKey(pemBytes []byte) (*EscrowPrivateKey, error) {
	der, err := onePEMBlock(pemBytes, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEscrowKey, err)
	}
	return newEscrowPrivateKey(key)
}

func newEscrowPrivateKey(key any) (*EscrowPrivateKey, error) {
	k := &EscrowPrivateKey{}
	var err error
	switch key := key.(type) {
	case *ecdsa.PrivateKey:
		if k.ec, err = key.ECDH(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEscrowKey, err)
		}
		k.pub, err = newEscrowPublicKey(k.ec.PublicKey())
	case *ecdh.PrivateKey:
		k.ec = key
		k.pub, err = newEscrowPublicKey(key.PublicKey())
	case *rsa.PrivateKey:
		k.rsa = key
		k.pub, err = newEscrowPublicKey(&key.PublicKey)
	default:
		return nil, fmt.Errorf("%w: %T, want a P-256 or RSA key", ErrEscrowKey, key)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

func onePEMBlock(data []byte, blockType string) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrEscrowKey)
	}
	if block.Type != blockType {
		return nil, fmt.Errorf("%w: PEM block %q, want %q", ErrEscrowKey, block.Type, blockType)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM headers (an encrypted key?) not supported", ErrEscrowKey)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: more than one PEM block", ErrEscrowKey)
	}
	return block.Bytes, nil
}

// GenerateEscrowKey generates an escrow key pair of the given kind
// (EscrowKindP256 or one of the RSA kinds) and returns the private key as
// PEM "PRIVATE KEY" (PKCS #8) and the public key as PEM "PUBLIC KEY" (PKIX).
func GenerateEscrowKey(kind string) (privPEM, pubPEM []byte, err error) {
	var key any
	switch kind {
	case EscrowKindP256:
		key, err = ecdh.P256().GenerateKey(rand.Reader)
	case EscrowKindRSA2048, EscrowKindRSA3072, EscrowKindRSA4096:
		bits := map[string]int{EscrowKindRSA2048: 2048, EscrowKindRSA3072: 3072, EscrowKindRSA4096: 4096}[kind]
		key, err = rsa.GenerateKey(rand.Reader, bits)
	default:
		return nil, nil, fmt.Errorf("%w: kind %q, want %q, %q, %q or %q", ErrEscrowKey, kind,
			EscrowKindP256, EscrowKindRSA2048, EscrowKindRSA3072, EscrowKindRSA4096)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generate escrow key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("generate escrow key: %w", err)
	}
	priv, err := newEscrowPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("generate escrow key: %w", err)
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return privPEM, priv.pub.PEM(), nil
}

// Public returns the public half.
func (k *EscrowPrivateKey) Public() *EscrowPublicKey { return k.pub }

// Fingerprint is "sha256:" and the lower-case hex SHA-256 of the DER
// SubjectPublicKeyInfo in its canonical form (the same bytes as `openssl
// pkey -pubin -outform DER`: uncompressed EC point, RSA with NULL
// parameters).
func (k *EscrowPublicKey) Fingerprint() string {
	sum := sha256.Sum256(k.spki)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Kind is EscrowKindP256 for an ECDH key, "rsa" followed by the modulus size
// for an RSA key.
func (k *EscrowPublicKey) Kind() string {
	if k.ec != nil {
		return EscrowKindP256
	}
	return fmt.Sprintf("rsa%d", k.rsa.N.BitLen())
}

// Algorithm is the envelope algorithm used with this key: AlgECDHP256 or
// AlgRSAOAEP.
func (k *EscrowPublicKey) Algorithm() string {
	if k.ec != nil {
		return AlgECDHP256
	}
	return AlgRSAOAEP
}

// PEM encodes the key as a PEM "PUBLIC KEY" block.
func (k *EscrowPublicKey) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: bytes.Clone(k.spki)})
}

// Equal reports whether both are the same key.
func (k *EscrowPublicKey) Equal(o *EscrowPublicKey) bool {
	return k != nil && o != nil && bytes.Equal(k.spki, o.spki)
}
