package records

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-video/parley/records/recordstest"
)

// backend is a database the records test suite runs against: every test
// that goes through forEachBackend runs once on SQLite and once on
// PostgreSQL (skipped, saying why, when no test server is configured;
// scripts/test.sh always starts one).
type backend struct {
	dialect Dialect
}

func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, d := range []Dialect{SQLite, Postgres} {
		t.Run(string(d), func(t *testing.T) { test(t, backend{dialect: d}) })
	}
}

// fresh returns where a new, empty database is: a data directory for
// SQLite, a URL with a schema of its own for PostgreSQL.
func (b backend) fresh(t *testing.T) string {
	t.Helper()
	if b.dialect == Postgres {
		return recordstest.PostgresURL(t)
	}
	return filepath.Join(t.TempDir(), "data")
}

// open opens the store at where (from fresh), as a node would.
func (b backend) open(ctx context.Context, where string) (*Store, error) {
	if b.dialect == Postgres {
		return OpenPostgres(ctx, where, 4)
	}
	return Open(ctx, where)
}

// store opens a store on a fresh database with a settable clock.
func (b backend) store(t *testing.T) (*Store, *time.Time) {
	t.Helper()
	s, err := b.open(context.Background(), b.fresh(t))
	if err != nil {
		t.Fatalf("open %s: %v", b.dialect, err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Dialect() != b.dialect {
		t.Fatalf("store dialect = %s, want %s", s.Dialect(), b.dialect)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }
	return s, &now
}
