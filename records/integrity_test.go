package records

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// damageTablePage fills a table with rows, closes the store and overwrites
// the b-tree header of the table's root page (not the file header) with
// garbage. It returns the database file's path.
func damageTablePage(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, "CREATE TABLE filler (x TEXT)"); err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		if _, err := s.db.ExecContext(ctx, "INSERT INTO filler VALUES (?)", strings.Repeat("Erika Mustermann ", 8)+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	var root, pageSize int64
	if err := s.db.QueryRowContext(ctx, "SELECT rootpage FROM sqlite_master WHERE name = 'filler'").Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	if root < 2 {
		t.Fatalf("root page %d: want a page after the header page", root)
	}
	path := filepath.Join(dir, "parley.db")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	garbage := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	if _, err := f.WriteAt(garbage, (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenRefusesDamagedDatabase: a database with a damaged page (the file
// header intact) stops Open with a message that names the file and says to
// restore from backup, without quoting row contents.
func TestOpenRefusesDamagedDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := damageTablePage(t, dir)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(context.Background(), dir)
	if err == nil {
		s.Close()
		t.Fatal("Open of a damaged database succeeded")
	}
	t.Logf("Open: %v", err)
	var de *DamagedError
	if !errors.Is(err, ErrDamaged) || !errors.As(err, &de) {
		t.Fatalf("Open error %v does not wrap ErrDamaged", err)
	}
	msg := err.Error()
	for _, want := range []string{path, "damaged", "restore", "backup"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "Mustermann") {
		t.Errorf("message quotes row contents: %q", msg)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("Open wrote to the damaged database")
	}
}

// TestCheckIntegrityFailsPing: damage found while running (CheckIntegrity
// reads the file through a fresh connection) makes Ping, and so /readyz,
// fail from then on.
func TestCheckIntegrityFailsPing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CheckIntegrity(ctx); err != nil {
		t.Fatalf("CheckIntegrity of a sound database: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	// Damage a second database and point this store's check at it: the
	// store's own pool keeps its pages cached, a restart would refuse it.
	other := damageTablePage(t, filepath.Join(t.TempDir(), "other"))
	s.path = other
	if err := s.CheckIntegrity(ctx); !errors.Is(err, ErrDamaged) {
		t.Fatalf("CheckIntegrity of a damaged file = %v, want ErrDamaged", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Ping after a failed integrity check = %v, want ErrDamaged", err)
	}
}
