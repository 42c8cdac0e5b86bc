package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/node"
	"github.com/parley-video/parley/signature"
)

const verifyUsage = `Usage: parley verify [--json] [--trust CA.pem] [--seal SEAL.pem] [--escrow-public KEY.pem] FILE...

Checks signed PDFs the way the back office does: every signature's
integrity and certificate chain, changes made after signing, time-stamps,
and the biometric envelope (present, bound to this document, sealed to the
escrow key). Only signatures made with the pinned seal certificates (the
configured seal_cert and seal_history, or --seal) count as Parley's; other
trusted signatures are reported as third-party. Trust anchors, seal
certificates and the escrow key come from the configuration
(--config, --data-dir; development keys in <data_dir>/keys) unless given.

Exit status: 0 every file valid (warnings allowed), 1 a file is invalid,
2 a file could not be checked. --json prints one JSON object per file
(format: web/API.md, "Verification").
`

// exitError carries a process exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// verifyCmd runs "parley verify".
func verifyCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage) }
	asJSON := fs.Bool("json", false, "print JSON")
	configPath := fs.String("config", "", "YAML configuration file")
	dataDir := fs.String("data-dir", "", "data directory (overrides the configuration)")
	trust := fs.String("trust", "", "PEM CA certificates to trust (overrides the configuration)")
	sealFile := fs.String("seal", "", "PEM seal certificates to pin (overrides the configuration)")
	escrowPub := fs.String("escrow-public", "", "PEM escrow public key the envelopes must be sealed to")
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return &exitError{2, err}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) == 0 {
		fs.Usage()
		return &exitError{2, errors.New("verify: no file given")}
	}
	cfg := config.Default()
	if *configPath != "" {
		if err := config.LoadFile(&cfg, *configPath); err != nil {
			return &exitError{2, err}
		}
	}
	if err := config.ApplyEnv(&cfg, environ); err != nil {
		return &exitError{2, err}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	v, err := verifierFor(cfg, *trust, *sealFile, *escrowPub)
	if err != nil {
		return &exitError{2, fmt.Errorf("verify: %w", err)}
	}
	// Files to verify come from anyone: parse them in a worker process.
	if v.Isolation, err = node.PDFWorkers(cfg, slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
		return &exitError{2, fmt.Errorf("verify: %w", err)}
	}
	worst := 0
	for _, f := range files {
		code := verifyFile(ctx, v, f, *asJSON, stdout)
		worst = max(worst, code)
	}
	switch worst {
	case 1:
		return &exitError{1, errors.New("verify: invalid")}
	case 2:
		return &exitError{2, errors.New("verify: could not check every file")}
	}
	return nil
}

// verifierFor builds the verifier from flags, else the configuration's
// files, else the development keys in the data directory.
func verifierFor(cfg config.Config, trust, seal, escrowPub string) (*contracts.Verifier, error) {
	kf := node.KeyFiles(cfg)
	v := &contracts.Verifier{Roots: x509.NewCertPool(), MaxPDFBytes: 4 * cfg.Signature.MaxPDFBytes}
	anchors := trust
	if anchors == "" {
		anchors = kf.TrustAnchors
	}
	if anchors == "" {
		if kf.SealCert != "" {
			anchors = kf.SealCert
		} else if dev := filepath.Join(kf.DevDir, contracts.DevCAFile); fileExists(dev) {
			anchors = dev
		}
	}
	if anchors != "" {
		b, err := os.ReadFile(anchors)
		if err != nil {
			return nil, err
		}
		certs, err := contracts.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", anchors, err)
		}
		for _, c := range certs {
			v.Roots.AddCert(c)
		}
		v.Anchors = certs
	}
	seals, err := pinnedSeals(kf, seal)
	if err != nil {
		return nil, err
	}
	v.Seals = seals
	pub := escrowPub
	if pub == "" {
		pub = kf.EscrowPublicKey
	}
	if pub == "" {
		if dev := filepath.Join(kf.DevDir, contracts.DevEscrowPublicFile); fileExists(dev) {
			pub = dev
		}
	}
	if pub != "" {
		b, err := os.ReadFile(pub)
		if err != nil {
			return nil, err
		}
		if v.Escrow, err = signature.ParseEscrowPublicKey(b); err != nil {
			return nil, fmt.Errorf("%s: %w", pub, err)
		}
	}
	return v, nil
}

// pinnedSeals: --seal's certificates, else the configured seal
// certificate (its first, the leaf) and seal history, else the
// development seal in the data directory.
func pinnedSeals(kf contracts.KeyFiles, flagFile string) ([]*x509.Certificate, error) {
	if flagFile != "" {
		b, err := os.ReadFile(flagFile)
		if err != nil {
			return nil, err
		}
		return contracts.ParseCertificates(b)
	}
	file := kf.SealCert
	if file == "" {
		if dev := filepath.Join(kf.DevDir, contracts.DevSealCertFile); fileExists(dev) {
			file = dev
		}
	}
	var current *x509.Certificate
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		certs, err := contracts.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		current = certs[0]
	}
	return contracts.PinnedSeals(current, kf.SealHistory)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// verifyFile prints one file's verdict and returns 0, 1 or 2.
func verifyFile(ctx context.Context, v *contracts.Verifier, path string, asJSON bool, w io.Writer) int {
	data, err := os.ReadFile(path)
	var verdict *contracts.Verdict
	if err == nil {
		verdict, err = v.Verify(ctx, data)
	}
	if err != nil {
		if asJSON {
			json.NewEncoder(w).Encode(map[string]any{"file": path, "verdict": "error", "error": err.Error()})
		} else {
			fmt.Fprintf(w, "%s: COULD NOT CHECK: %v\n", path, err)
		}
		return 2
	}
	code := 0
	if verdict.Verdict == contracts.Invalid {
		code = 1
	}
	if asJSON {
		json.NewEncoder(w).Encode(struct {
			File string `json:"file"`
			*contracts.Verdict
		}{path, verdict})
		return code
	}
	label := map[string]string{contracts.Valid: "VALID", contracts.ValidWithWarnings: "VALID WITH WARNINGS", contracts.Invalid: "INVALID"}[verdict.Verdict]
	fmt.Fprintf(w, "%s: %s (SHA-256 %s)\n", path, label, verdict.SHA256)
	for _, s := range verdict.Signatures {
		fmt.Fprintf(w, "  signature %s by %q at %s: intact %v, certificate %q trusted %v, whole file %v, biometric envelope %s\n",
			s.Field, s.SignerName, s.SigningTime, s.Intact, s.Certificate, s.Trusted, s.CoversWholeFile, s.Envelope)
	}
	for _, r := range verdict.Reasons {
		fmt.Fprintf(w, "  %s: %s\n", r.Severity, r.EN)
	}
	return code
}
