package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/signature"
)

const keysUsage = `Usage: parley keys [--out DIR] [--escrow rsa3072|p256]

Makes DEVELOPMENT key material in DIR (default ./parley-dev-keys):
  dev-ca.pem          a development CA (trust it in test verifiers only)
  seal-cert.pem       the platform's PDF seal certificate (with the CA)
  seal-key.pem        its private key
  escrow-public.pem   the escrow public key biometric data is sealed to
  escrow-private.pem  its private key: in production this never exists on
                      the server; the escrow holder (e.g. a notary) makes
                      the pair and hands over only the public key
Existing files are never overwritten.
`

// keysCmd runs "parley keys".
func keysCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysUsage) }
	out := fs.String("out", "parley-dev-keys", "directory for the keys")
	escrow := fs.String("escrow", "p256", "escrow key type: p256 (ECDH P-256) or rsa3072 (RSA-OAEP)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("keys: unexpected argument %q", fs.Arg(0))
	}
	if err := contracts.EnsureDevSeal(*out); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	priv, pub, err := signature.GenerateEscrowKey(*escrow)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{contracts.DevEscrowPrivateFile, priv, 0o600}, {contracts.DevEscrowPublicFile, pub, 0o644}} {
		path := filepath.Join(*out, f.name)
		file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.perm)
		if err != nil {
			return fmt.Errorf("keys: %w (not overwriting existing keys)", err)
		}
		_, err = file.Write(f.data)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("keys: write %s: %w", path, err)
		}
	}
	fmt.Fprintf(stdout, `Development keys written to %[1]s.

WARNING: these are for development and tests only. PDF verifiers will not
trust the development seal, and the escrow private key lies next to the
public one. For production, use a seal certificate from a trust service
provider and an escrow key pair made by the escrow holder.

Configuration:
  signature:
    seal_cert: %[1]s/%[2]s
    seal_key: %[1]s/%[3]s
    escrow_public_key: %[1]s/%[4]s
    trust_anchors: %[1]s/%[5]s

Open a contract's biometric data (escrow holder):
  parley biometric open --escrow-key %[1]s/%[6]s contract.pdf
`, *out, contracts.DevSealCertFile, contracts.DevSealKeyFile, contracts.DevEscrowPublicFile, contracts.DevCAFile, contracts.DevEscrowPrivateFile)
	return nil
}
