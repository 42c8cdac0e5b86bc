package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// ErrSeal is returned for a signing certificate or key that can't be used.
var ErrSeal = errors.New("signature: invalid seal")

// OIDDocumentSigning is Microsoft's "Document Signing" extended key usage
// (1.3.6.1.4.1.311.10.3.12), the EKU Adobe and most PDF validators expect
// on a document signing certificate.
var OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 10, 3, 12}

// Seal is the platform's signing identity: the key that signs every PDF and
// its certificate with the chain up to (not necessarily including) the root.
type Seal struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
	Chain  []*x509.Certificate // intermediates (and optionally the root), leaf excluded
}

// LoadSeal reads the seal certificate (first CERTIFICATE block; any further
// blocks are its chain) and its private key (PKCS#8, SEC 1 or PKCS#1 PEM).
func LoadSeal(certPEMFile, keyPEMFile string) (*Seal, error) {
	certPEM, err := os.ReadFile(certPEMFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSeal, err)
	}
	keyPEM, err := os.ReadFile(keyPEMFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSeal, err)
	}
	return ParseSeal(certPEM, keyPEM)
}

// ParseSeal is LoadSeal on PEM bytes.
func ParseSeal(certPEM, keyPEM []byte) (*Seal, error) {
	certs, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	s := &Seal{Signer: key, Cert: certs[0], Chain: certs[1:]}
	if err := s.Validate(time.Now()); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks that the key matches the certificate and the certificate
// can sign documents at t.
func (s *Seal) Validate(t time.Time) error {
	if s == nil || s.Signer == nil || s.Cert == nil {
		return fmt.Errorf("%w: missing key or certificate", ErrSeal)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := s.Signer.Public().(equaler)
	if !ok || !pub.Equal(s.Cert.PublicKey) {
		return fmt.Errorf("%w: private key does not match certificate %q", ErrSeal, s.Cert.Subject.CommonName)
	}
	if t.Before(s.Cert.NotBefore) || t.After(s.Cert.NotAfter) {
		return fmt.Errorf("%w: certificate %q valid only %s to %s", ErrSeal, s.Cert.Subject.CommonName,
			s.Cert.NotBefore.Format(time.DateOnly), s.Cert.NotAfter.Format(time.DateOnly))
	}
	if s.Cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("%w: certificate %q lacks digitalSignature/nonRepudiation key usage", ErrSeal, s.Cert.Subject.CommonName)
	}
	return nil
}

func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate: %w", ErrSeal, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block", ErrSeal)
	}
	return certs, nil
}

func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%w: no private key block", ErrSeal)
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: private key: %w", ErrSeal, err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: key type %T can't sign", ErrSeal, key)
		}
		return s, nil
	}
}

// GenerateDevSeal makes a development CA (ECDSA P-256, valid 10 years) and
// a seal certificate issued by it (valid 2 years) for commonName/org, with
// digitalSignature + nonRepudiation key usage and the Document Signing and
// emailProtection EKUs (pdfsign's Verify requires an EKU; pdfsig accepts
// these). certPEM holds the seal certificate followed by the CA, keyPEM the
// seal's PKCS#8 key. Never use it in production: the CA key is discarded,
// so nothing else can be issued, but nothing vouches for it either.
func GenerateDevSeal(commonName, org string) (caCertPEM, certPEM, keyPEM []byte, err error) {
	if commonName == "" {
		return nil, nil, nil, fmt.Errorf("%w: empty common name", ErrSeal)
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName + " Development CA", Organization: orgs(org)},
		NotBefore:             now,
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: orgs(org)},
		NotBefore:             now,
		NotAfter:              now.AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDDocumentSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	caCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caCertPEM...)
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	return caCertPEM, certPEM, keyPEM, nil
}

func orgs(org string) []string {
	if org == "" {
		return nil
	}
	return []string{org}
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}
