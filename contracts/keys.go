package contracts

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/parley-video/parley/signature"
)

// KeyFiles names the key material of signing (config "signature").
type KeyFiles struct {
	SealCert, SealKey string // PEM; both empty: development keys in DevDir
	EscrowPublicKey   string // PEM; empty: development pair in DevDir
	TrustAnchors      string // PEM CA certificates; empty: the seal's chain root
	// SealHistory is a PEM file of earlier seal certificates (rotation):
	// signatures made with them stay Parley's.
	SealHistory string
	TSAURL      string
	// DevDir receives development keys when the files above are empty.
	DevDir string
}

// Keys is the loaded key material.
type Keys struct {
	Signer *signature.Signer
	Seal   *signature.Seal
	Escrow *signature.EscrowPublicKey
	// Roots are the trust anchors verification uses; Anchors are the same
	// certificates as a list (a pool can't be listed).
	Roots   *x509.CertPool
	Anchors []*x509.Certificate
	// Seals are the pinned seal certificates: the current one first, then
	// the earlier ones from KeyFiles.SealHistory.
	Seals []*x509.Certificate
	// DevSeal, DevEscrow report development keys (warned about at start).
	DevSeal, DevEscrow bool
}

// Development key file names inside KeyFiles.DevDir (and `parley keys`).
const (
	DevCAFile            = "dev-ca.pem"
	DevSealCertFile      = "seal-cert.pem"
	DevSealKeyFile       = "seal-key.pem"
	DevEscrowPublicFile  = "escrow-public.pem"
	DevEscrowPrivateFile = "escrow-private.pem"
)

// LoadKeys loads the configured keys, generating development keys in
// kf.DevDir for what is not configured (and reusing them on later starts).
func LoadKeys(kf KeyFiles, log *slog.Logger) (*Keys, error) {
	k := &Keys{}
	certFile, keyFile := kf.SealCert, kf.SealKey
	if certFile == "" && keyFile == "" {
		if err := EnsureDevSeal(kf.DevDir); err != nil {
			return nil, err
		}
		certFile, keyFile = filepath.Join(kf.DevDir, DevSealCertFile), filepath.Join(kf.DevDir, DevSealKeyFile)
		k.DevSeal = true
		log.Warn("signing PDFs with a DEVELOPMENT seal certificate; verifiers will not trust it. "+
			"Set signature.seal_cert and signature.seal_key for production", "dir", kf.DevDir)
	}
	seal, err := signature.LoadSeal(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("signature.seal_cert/seal_key: %w", err)
	}
	k.Seal = seal
	if k.Seals, err = PinnedSeals(seal.Cert, kf.SealHistory); err != nil {
		return nil, err
	}

	escrowFile := kf.EscrowPublicKey
	if escrowFile == "" {
		if err := EnsureDevEscrow(kf.DevDir); err != nil {
			return nil, err
		}
		escrowFile = filepath.Join(kf.DevDir, DevEscrowPublicFile)
		k.DevEscrow = true
		log.Warn("sealing biometric data to a DEVELOPMENT escrow key whose private key lies next to it; "+
			"set signature.escrow_public_key to the escrow holder's public key for production", "dir", kf.DevDir)
	}
	b, err := os.ReadFile(escrowFile)
	if err != nil {
		return nil, fmt.Errorf("signature.escrow_public_key: %w", err)
	}
	if k.Escrow, err = signature.ParseEscrowPublicKey(b); err != nil {
		return nil, fmt.Errorf("signature.escrow_public_key %s: %w", escrowFile, err)
	}

	if k.Roots, k.Anchors, err = loadRoots(kf.TrustAnchors, seal); err != nil {
		return nil, err
	}
	if k.Signer, err = signature.NewSigner(seal, signature.SignerOptions{TSAURL: kf.TSAURL}); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return k, nil
}

// PinnedSeals is the current seal certificate followed by the earlier
// ones in the PEM file history (may be empty).
func PinnedSeals(current *x509.Certificate, history string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	if current != nil {
		out = append(out, current)
	}
	if history == "" {
		return out, nil
	}
	b, err := os.ReadFile(history)
	if err != nil {
		return nil, fmt.Errorf("signature.seal_history: %w", err)
	}
	certs, err := ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("signature.seal_history %s: %w", history, err)
	}
	return append(out, certs...), nil
}

// loadRoots reads the trust anchors, or uses the top of the seal's chain.
func loadRoots(file string, seal *signature.Seal) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	if file == "" {
		top := seal.Cert
		if n := len(seal.Chain); n > 0 {
			top = seal.Chain[n-1]
		}
		pool.AddCert(top)
		return pool, []*x509.Certificate{top}, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("signature.trust_anchors: %w", err)
	}
	certs, err := ParseCertificates(b)
	if err != nil {
		return nil, nil, fmt.Errorf("signature.trust_anchors %s: %w", file, err)
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, certs, nil
}

// ParseCertificates returns every certificate of a PEM bundle; a bundle
// without one is an error.
func ParseCertificates(pemBytes []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, pemBytes = pem.Decode(pemBytes)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return out, nil
}

// EnsureDevSeal writes a development CA and seal into dir unless present.
func EnsureDevSeal(dir string) error {
	if exists(filepath.Join(dir, DevSealCertFile)) && exists(filepath.Join(dir, DevSealKeyFile)) {
		return nil
	}
	ca, cert, key, err := signature.GenerateDevSeal("Parley Development Seal", "Parley (development, not trusted)")
	if err != nil {
		return fmt.Errorf("generate development seal: %w", err)
	}
	return writeFiles(dir, map[string][]byte{DevCAFile: ca, DevSealCertFile: cert}, map[string][]byte{DevSealKeyFile: key})
}

// EnsureDevEscrow writes a development escrow key pair into dir unless
// present.
func EnsureDevEscrow(dir string) error {
	if exists(filepath.Join(dir, DevEscrowPublicFile)) {
		return nil
	}
	priv, pub, err := signature.GenerateEscrowKey("p256")
	if err != nil {
		return fmt.Errorf("generate development escrow key: %w", err)
	}
	return writeFiles(dir, map[string][]byte{DevEscrowPublicFile: pub}, map[string][]byte{DevEscrowPrivateFile: priv})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeFiles writes public files (0644) and secret ones (0600) into dir
// (0700), each atomically; it never overwrites.
func writeFiles(dir string, public, secret map[string][]byte) error {
	if dir == "" {
		return errors.New("no directory for development keys")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	write := func(name string, data []byte, perm fs.FileMode) error {
		path := filepath.Join(dir, name)
		if exists(path) {
			return fmt.Errorf("%s exists; not overwriting it", path)
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, perm); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	for name, data := range secret {
		if err := write(name, data, 0o600); err != nil {
			return err
		}
	}
	for name, data := range public {
		if err := write(name, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// FirstCertificate returns the first certificate of a PEM bundle.
func FirstCertificate(pemBytes []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, pemBytes = pem.Decode(pemBytes)
		if blk == nil {
			return nil, errors.New("no certificate in PEM data")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}
