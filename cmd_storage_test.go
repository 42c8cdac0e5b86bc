package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/blobs/s3test"
)

func TestStorageGenkey(t *testing.T) {
	out, errOut, err := runCmd(t, "", "storage", "genkey", "--id", "k2")
	if err != nil || !strings.HasPrefix(out, "k2 ") || !strings.Contains(errOut, "FIRST") {
		t.Fatalf("genkey: %q %q %v", out, errOut, err)
	}
	if r, err := blobs.ParseKeyRing(out); err != nil || r.Current() != "k2" {
		t.Fatalf("genkey line does not parse: %v", err)
	}
	if _, _, err := runCmd(t, "", "storage", "genkey", "--id", "no way"); err == nil {
		t.Fatal("bad id accepted")
	}
	if _, _, err := runCmd(t, "", "storage"); err == nil {
		t.Fatal("no subcommand accepted")
	}
	if _, _, err := runCmd(t, "", "storage", "frob"); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}

// TestStorageRekey walks through STORAGE.md's rotation.
func TestStorageRekey(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyFile := filepath.Join(dir, "storage.keys")
	old, _, _ := runCmd(t, "", "storage", "genkey", "--id", "k1")
	os.WriteFile(keyFile, []byte(old), 0o600)
	ring1, err := blobs.LoadKeyRing(keyFile, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	const fid = "0123456789abcdef0123456789abcdef"
	ctx := context.Background()
	for _, name := range []string{"files", "documents"} {
		s, _ := blobs.Open(filepath.Join(data, name), ring1)
		if _, err := s.Put(ctx, "c_1", fid, "staff:1", strings.NewReader(name)); err != nil {
			t.Fatal(err)
		}
	}

	// 1. The new key first, the old one kept.
	next, _, _ := runCmd(t, "", "storage", "genkey", "--id", "k2")
	os.WriteFile(keyFile, []byte("# rotation\n"+next+old), 0o600)
	// 2. (restart) 3. rekey.
	out, _, err := runCmd(t, "", "storage", "rekey", "--data-dir", data, "--key-file", keyFile)
	if err != nil || !strings.Contains(out, "files: 1 files re-encrypted to key k2") || !strings.Contains(out, "documents: 1 files") {
		t.Fatalf("rekey: %q %v", out, err)
	}
	// 4. The old key goes.
	os.WriteFile(keyFile, []byte(next), 0o600)
	ring2, err := blobs.LoadKeyRing(keyFile, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"files", "documents"} {
		s, _ := blobs.Open(filepath.Join(data, name), ring2)
		f, _, err := s.Open("c_1", fid)
		if err != nil {
			t.Fatalf("%s after rotation: %v", name, err)
		}
		var b bytes.Buffer
		b.ReadFrom(f)
		f.Close()
		if b.String() != name || f.KeyID() != "k2" {
			t.Fatalf("%s: %q under %s", name, b.String(), f.KeyID())
		}
	}

	// Removing the old key too early: rekey names the missing key.
	s, _ := blobs.Open(filepath.Join(data, "files"), ring1)
	s.Put(ctx, "c_1", "fedcba9876543210fedcba9876543210", "staff:1", strings.NewReader("late"))
	_, _, err = runCmd(t, "", "storage", "rekey", "--data-dir", data, "--key-file", keyFile)
	if err == nil || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("rekey with a missing key: %v", err)
	}
	if _, ok := errors.AsType[*blobs.UnknownKeyError](err); !ok {
		t.Fatalf("not an UnknownKeyError: %v", err)
	}

	// The key from the environment; a readable key file is refused.
	env := []string{"PARLEY_STORAGE_KEY=" + strings.TrimSpace(next) + "," + strings.TrimSpace(old)}
	var o, e bytes.Buffer
	if err := run(t.Context(), []string{"storage", "rekey", "--data-dir", data}, env, nil, &o, &e); err != nil || !strings.Contains(o.String(), "files: 1 files re-encrypted") {
		t.Fatalf("rekey with %s: %q %v", "PARLEY_STORAGE_KEY", o.String(), err)
	}
	os.Chmod(keyFile, 0o644)
	if _, _, err := runCmd(t, "", "storage", "rekey", "--data-dir", data, "--key-file", keyFile); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable key file: %v", err)
	}
	if _, _, err := runCmd(t, "", "storage", "rekey", "--data-dir", filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing data directory accepted")
	}
}

func TestStorageMigratePlaintext(t *testing.T) {
	data := t.TempDir()
	const fid = "0123456789abcdef0123456789abcdef"
	cdir := filepath.Join(data, "documents", "c_1")
	os.MkdirAll(cdir, 0o700)
	os.WriteFile(filepath.Join(cdir, fid), []byte("%PDF-1.7 old contract"), 0o600)
	os.WriteFile(filepath.Join(cdir, fid+".meta"), []byte(`{"uploader":"staff:1"}`), 0o600)
	if _, _, err := runCmd(t, "", "storage", "rekey", "--data-dir", data); !errors.Is(err, blobs.ErrUnencrypted) {
		t.Fatalf("rekey without --migrate-plaintext: %v", err)
	}
	out, _, err := runCmd(t, "", "storage", "rekey", "--data-dir", data, "--migrate-plaintext")
	if err != nil || !strings.Contains(out, "documents: 1 unencrypted files encrypted") {
		t.Fatalf("migrate: %q %v", out, err)
	}
	disk, _ := os.ReadFile(filepath.Join(cdir, fid))
	if bytes.Contains(disk, []byte("contract")) {
		t.Fatal("still plaintext")
	}
}

// TestStorageRekeyS3: with storage.backend s3 (from the environment, the
// secret too), rekey rotates the objects in the bucket.
func TestStorageRekeyS3(t *testing.T) {
	o, c := s3test.Bucket(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "storage.keys")
	old, _, _ := runCmd(t, "", "storage", "genkey", "--id", "k1")
	os.WriteFile(keyFile, []byte(old), 0o600)
	ring1, err := blobs.LoadKeyRing(keyFile, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	const fid = "0123456789abcdef0123456789abcdef"
	opt := func(name string) blobs.S3Options {
		return blobs.S3Options{Endpoint: o.Endpoint, Bucket: o.Bucket, Region: o.Region, Prefix: "p/" + name + "/",
			AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, PathStyle: true}
	}
	for _, name := range []string{"files", "documents"} {
		s, err := blobs.OpenS3(t.Context(), opt(name), ring1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(t.Context(), "c_1", fid, "staff:1", strings.NewReader(name)); err != nil {
			t.Fatal(err)
		}
	}
	next, _, _ := runCmd(t, "", "storage", "genkey", "--id", "k2")
	os.WriteFile(keyFile, []byte(next+old), 0o600)
	env := []string{"PARLEY_STORAGE_BACKEND=s3", "PARLEY_STORAGE_S3_ENDPOINT=" + o.Endpoint, "PARLEY_STORAGE_S3_BUCKET=" + o.Bucket,
		"PARLEY_STORAGE_S3_REGION=" + o.Region, "PARLEY_STORAGE_S3_PREFIX=p/", "PARLEY_STORAGE_S3_ACCESS_KEY_ID=" + o.AccessKeyID,
		"PARLEY_STORAGE_S3_SECRET_ACCESS_KEY=" + o.SecretAccessKey, "PARLEY_STORAGE_S3_USE_TLS=false", "PARLEY_STORAGE_S3_PATH_STYLE=true"}
	var out, errOut bytes.Buffer
	err = run(t.Context(), []string{"storage", "rekey", "--data-dir", filepath.Join(dir, "none"), "--key-file", keyFile}, env, nil, &out, &errOut)
	if err != nil || !strings.Contains(out.String(), "files: 1 files re-encrypted to key k2") || !strings.Contains(out.String(), "documents: 1 files") {
		t.Fatalf("rekey on S3: %q %q %v", out.String(), errOut.String(), err)
	}
	if strings.Contains(out.String()+errOut.String(), o.SecretAccessKey) {
		t.Fatal("rekey printed the S3 secret")
	}
	ring2, err := blobs.ParseKeyRing(next)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"files", "documents"} {
		s, err := blobs.OpenS3(t.Context(), opt(name), ring2)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := s.Open("c_1", fid)
		if err != nil {
			t.Fatalf("%s after rotation: %v", name, err)
		}
		var b bytes.Buffer
		b.ReadFrom(f)
		f.Close()
		if b.String() != name || f.KeyID() != "k2" {
			t.Fatalf("%s: %q under %s", name, b.String(), f.KeyID())
		}
	}
	if keys := s3test.Keys(t, c, o.Bucket, ""); len(keys) != 2 {
		t.Fatalf("bucket after rekey: %v", keys)
	}
}
