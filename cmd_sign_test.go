package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/node"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// signedContract signs a template contract with the development keys of
// dataDir (as `parley serve` would make them) and returns its path.
func signedContract(t *testing.T, dataDir string) string {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = dataDir
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys, err := contracts.LoadKeys(node.KeyFiles(cfg), log)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := records.Open(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	ring, err := blobs.LoadKeyRing("", filepath.Join(dataDir, "keys"), log)
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := blobs.Open(filepath.Join(dataDir, "documents"), ring)
	svc := contracts.New(rec, docs, keys, 20<<20, log)
	pdf, _ := signature.ContractPDF(signature.ContractTemplate{Title: "CLI"})
	d, err := svc.Present(ctx, contracts.Presentation{ConsultationID: "c_cli", PDF: pdf, Signers: []string{"customer"}, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	capture, _ := signature.ExampleCapture().Marshal()
	if d, err = svc.Sign(ctx, contracts.Signing{ConsultationID: "c_cli", DocumentID: d.ID, Field: "customer", As: "customer", SignerName: "Eva", SignerRef: "participant:p", Capture: capture}); err != nil {
		t.Fatal(err)
	}
	_, rc, _, _ := svc.Open(ctx, "c_cli", d.ID)
	b, _ := io.ReadAll(rc)
	rc.Close()
	path := filepath.Join(t.TempDir(), "vertrag.pdf")
	os.WriteFile(path, b, 0o600)
	return path
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*exitError](err); ok {
		return e.code
	}
	return 1
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	good := signedContract(t, dir)
	b, _ := os.ReadFile(good)
	b[len(b)/3] ^= 0x20
	bad := filepath.Join(t.TempDir(), "bad.pdf")
	os.WriteFile(bad, b, 0o600)
	junk := filepath.Join(t.TempDir(), "junk.pdf")
	os.WriteFile(junk, []byte("not a pdf"), 0o600)

	out, _, err := runCmd(t, "", "verify", "--data-dir", dir, good)
	if exitCode(err) != 0 || !strings.Contains(out, "VALID") || !strings.Contains(out, "envelope bound") {
		t.Fatalf("good: %d %s", exitCode(err), out)
	}
	out, _, err = runCmd(t, "", "verify", "--json", "--data-dir", dir, good)
	var v struct {
		File, Verdict string
		Signatures    []struct{ Envelope string }
	}
	if exitCode(err) != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Verdict != "valid_with_warnings" || v.Signatures[0].Envelope != "bound" {
		t.Fatalf("good --json: %d %s", exitCode(err), out)
	}
	if out, _, err = runCmd(t, "", "verify", "--data-dir", dir, good, bad); exitCode(err) != 1 || !strings.Contains(out, "INVALID") {
		t.Fatalf("bad: %d %s", exitCode(err), out)
	}
	if out, _, err = runCmd(t, "", "verify", "--data-dir", dir, junk); exitCode(err) != 2 {
		t.Fatalf("junk: %d %s", exitCode(err), out)
	}
	// Without the trust anchors the seal is not trusted.
	if out, _, err = runCmd(t, "", "verify", "--data-dir", t.TempDir(), good); exitCode(err) != 1 || !strings.Contains(out, "trusted false") {
		t.Fatalf("no anchors: %d %s", exitCode(err), out)
	}
}

func TestBiometricOpenCommand(t *testing.T) {
	dir := t.TempDir()
	contract := signedContract(t, dir)
	key := filepath.Join(dir, "keys", contracts.DevEscrowPrivateFile)
	pngDir := t.TempDir()
	out, _, err := runCmd(t, "", "biometric", "open", "--escrow-key", key, "--png-dir", pngDir, contract)
	if err != nil || !strings.Contains(out, "bound to this document: yes") || !strings.Contains(out, "strokes") {
		t.Fatalf("open: %v\n%s", err, out)
	}
	png, err := os.ReadFile(filepath.Join(pngDir, "vertrag-customer.png"))
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("rendering: %v", err)
	}
	// Another key opens nothing.
	kd := t.TempDir()
	if _, _, err := runCmd(t, "", "keys", "--out", kd); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "biometric", "open", "--escrow-key", filepath.Join(kd, contracts.DevEscrowPrivateFile), contract); err == nil ||
		!errors.Is(err, signature.ErrEnvelopeWrongKey) {
		t.Fatalf("other key: %v", err)
	}
}

func TestKeysCommand(t *testing.T) {
	kd := filepath.Join(t.TempDir(), "k")
	out, _, err := runCmd(t, "", "keys", "--out", kd)
	if err != nil || !strings.Contains(out, "WARNING") {
		t.Fatalf("keys: %v %s", err, out)
	}
	for _, f := range []string{contracts.DevCAFile, contracts.DevSealCertFile, contracts.DevSealKeyFile, contracts.DevEscrowPublicFile, contracts.DevEscrowPrivateFile} {
		st, err := os.Stat(filepath.Join(kd, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f, "key") || strings.Contains(f, "private") {
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("%s mode %v", f, st.Mode().Perm())
			}
		}
	}
	if _, err := signature.LoadSeal(filepath.Join(kd, contracts.DevSealCertFile), filepath.Join(kd, contracts.DevSealKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "keys", "--out", kd); err == nil {
		t.Fatal("keys overwrote existing keys")
	}
}
