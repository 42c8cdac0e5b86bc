package node

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
	_ "modernc.org/sqlite" // reads the database file directly
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestStartRemovesLeftoverTemps: the temporary PDF a crash during signing
// left in documents/ (and an upload's in files/) is gone after a start,
// and the log counts them.
func TestStartRemovesLeftoverTemps(t *testing.T) {
	cfg := testConfig(t)
	var planted []string
	for _, store := range []string{"documents", "files"} {
		dir := filepath.Join(cfg.DataDir, store, "c_crashed")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, ".tmp-0123456789abcdef0123456789abcdef-42")
		if err := os.WriteFile(p, []byte("%PDF-1.7 half written"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		planted = append(planted, p)
	}
	logs := &syncBuffer{}
	n, err := New(t.Context(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	defer n.Close(context.Background())
	for _, p := range planted {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived the start (%v)", p, err)
		}
	}
	for _, store := range []string{"documents", "files"} {
		if !strings.Contains(logs.String(), "store="+store+" removed=1") {
			t.Errorf("no log line counting the leftover in %s:\n%s", store, logs.String())
		}
	}
}

// TestReadyzDiskLow: with less free space than storage.min_free_bytes the
// node is not ready and /readyz says why.
func TestReadyzDiskLow(t *testing.T) {
	cfg := testConfig(t)
	cfg.Storage.MinFreeBytes = 1 << 62 // more than any disk has
	n := startNode(t, cfg)
	status, checks := readyz(t, n)
	if status != http.StatusServiceUnavailable || checks["disk"] != "low" || checks["records"] != "ok" {
		t.Fatalf("readyz = %d %v, want 503 with disk low", status, checks)
	}

	cfg = testConfig(t) // the default threshold on this machine's disk
	n = startNode(t, cfg)
	if status, checks := readyz(t, n); status != http.StatusOK || checks["disk"] != "ok" {
		t.Fatalf("readyz = %d %v, want 200 with disk ok", status, checks)
	}
}

// TestStartRefusesDamagedDatabase: a database with a damaged page stops
// the start with a message that says what to do.
func TestStartRefusesDamagedDatabase(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	rec, err := records.Open(ctx, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rec.CreateConsultation(ctx, mustAdvisor(t, rec), "Baufinanzierung", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.DataDir, "parley.db")
	damagePage(t, path, "consultations")

	n, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		n.Close(context.Background())
		t.Fatal("node started on a damaged database")
	}
	if !errors.Is(err, records.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("start error = %v, want ErrDamaged naming %s and the backup", err, path)
	}
	t.Logf("start refused: %v", err)
}

func mustAdvisor(t *testing.T, rec *records.Store) int64 {
	t.Helper()
	u, err := rec.CreateUser(t.Context(), "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// damagePage overwrites the b-tree header of table's root page in the
// SQLite file at path (the file header stays intact).
func damagePage(t *testing.T, path, table string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	err = db.QueryRow("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&root)
	if err == nil {
		err = db.QueryRow("PRAGMA page_size").Scan(&pageSize)
	}
	db.Close()
	if err != nil || root < 2 {
		t.Fatalf("root page of %s: %d, %v", table, root, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xFF}, 12), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// TestReadyzReportsDamagedDatabase: damage found by the integrity check
// while the node runs makes /readyz report records failed.
func TestReadyzReportsDamagedDatabase(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg)
	ctx := t.Context()
	if _, _, err := n.Records.CreateConsultation(ctx, mustAdvisor(t, n.Records), "Baufinanzierung", time.Hour); err != nil {
		t.Fatal(err)
	}
	if status, checks := readyz(t, n); status != http.StatusOK || checks["records"] != "ok" {
		t.Fatalf("readyz = %d %v", status, checks)
	}
	path := filepath.Join(cfg.DataDir, "parley.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil { // the pages into the file
		t.Fatal(err)
	}
	db.Close()
	damagePage(t, path, "consultations")

	if err := n.Records.CheckIntegrity(ctx); !errors.Is(err, records.ErrDamaged) {
		t.Fatalf("CheckIntegrity = %v, want ErrDamaged", err)
	}
	if status, checks := readyz(t, n); status != http.StatusServiceUnavailable || checks["records"] != "failed" {
		t.Fatalf("readyz after damage = %d %v, want 503 with records failed", status, checks)
	}
}
