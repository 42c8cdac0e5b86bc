package records

import "testing"

// TestSQLiteCommitsAreSynced: every connection runs with
// synchronous=FULL, so a commit (a signature's record) is on disk before
// it returns, also against a power cut; with NORMAL in WAL mode the last
// commits can be lost. (A SIGKILL loses nothing either way: the crash
// test in the root package covers that.)
func TestSQLiteCommitsAreSynced(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Several connections at once: each must have it.
	for range 3 {
		conn, err := s.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var mode int
		if err := conn.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != 2 {
			t.Fatalf("PRAGMA synchronous = %d; want 2 (FULL)", mode)
		}
	}
}
