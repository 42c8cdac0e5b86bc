package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-video/parley/blobs"
)

// The storage keys come from storage.key, else storage.key_file, else the
// development key; a bad key stops the start with the setting's name.
func TestStorageKeysFromTheConfiguration(t *testing.T) {
	line, err := blobs.GenerateKeyLine("k2026")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cfg := testConfig(t)
	r, err := StorageKeys(cfg, log)
	if err != nil || !r.Dev() {
		t.Fatalf("no key configured: %v dev=%v", err, r != nil && r.Dev())
	}
	cfg.Storage.Key = line
	if r, err := StorageKeys(cfg, log); err != nil || r.Current() != "k2026" || r.Dev() {
		t.Fatalf("storage.key: %v %v", r, err)
	}
	cfg.Storage.Key = ""
	file := filepath.Join(t.TempDir(), "storage.keys")
	os.WriteFile(file, []byte("# rotated 2026-12\n"+line+"\n"), 0o600)
	cfg.Storage.KeyFile = file
	if r, err := StorageKeys(cfg, log); err != nil || r.Current() != "k2026" {
		t.Fatalf("storage.key_file: %v %v", r, err)
	}
	os.Chmod(file, 0o644)
	if _, err := StorageKeys(cfg, log); err == nil || !strings.Contains(err.Error(), "storage.key_file") {
		t.Fatalf("world-readable key file: %v", err)
	}
	cfg.Storage.KeyFile = ""
	cfg.Storage.Key = "k1 notbase64"
	if _, err := New(t.Context(), cfg, log); err == nil || !strings.Contains(err.Error(), "storage.key") || strings.Contains(err.Error(), "notbase64") {
		t.Fatalf("bad storage.key at start: %v", err)
	}
}
