package blobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRemoveStaleTemporary: the temporary file a crash left between write
// and rename goes; one still being written (recently modified) and the
// stored files stay.
func TestRemoveStaleTemporary(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	const cid, fid = "c_abc", "0123456789abcdef0123456789abcdef"
	if _, err := s.Put(context.Background(), cid, fid, "staff:1", strings.NewReader("stored document")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Root(), cid)
	stale := filepath.Join(dir, tmpPrefix+fid+"-123456")
	fresh := filepath.Join(dir, tmpPrefix+fid+"-654321")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half a signed PDF"), filePerm); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	old := now.Add(-2 * StaleTempAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	removed, err := s.RemoveStaleTemporary(StaleTempAge, now)
	if err != nil || removed != 1 {
		t.Fatalf("RemoveStaleTemporary = %d, %v; want 1, nil", removed, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there (%v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("temporary file being written was removed: %v", err)
	}
	if ok, err := s.Exists(cid, fid); !ok || err != nil {
		t.Errorf("stored file: Exists = %v, %v", ok, err)
	}
}
