package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// ErrDamaged: the database file failed SQLite's integrity check (or SQLite
// reported it corrupt). The concrete error is a *DamagedError.
var ErrDamaged = errors.New("records: database damaged")

// DamagedError says which database file is damaged and what to do. Its
// message names the file and SQLite's first finding (page numbers and
// index names, never row contents).
type DamagedError struct {
	Path   string // the database file
	Detail string // SQLite's first complaint, shortened
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("records: the database file %s is damaged (%s). "+
		"Stop Parley, move the file and its -wal/-shm companions aside, restore them from the latest backup, "+
		"and start again; a damaged database is never written to", e.Path, e.Detail)
}

// Is makes errors.Is(err, ErrDamaged) true for every *DamagedError.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// maxDetail bounds the SQLite finding quoted in a DamagedError.
const maxDetail = 200

// SQLite's primary result codes that mean the file is not a sound database.
const (
	sqliteCorrupt = 11 // SQLITE_CORRUPT
	sqliteNotADB  = 26 // SQLITE_NOTADB
)

// asDamaged returns a *DamagedError for path when err is SQLite saying the
// file is corrupt or not a database, else err unchanged.
func asDamaged(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		if code := se.Code() & 0xff; code == sqliteCorrupt || code == sqliteNotADB {
			return &DamagedError{Path: path, Detail: shorten(se.Error())}
		}
	}
	return err
}

// quickCheck runs PRAGMA quick_check on db (O(size of the file), checks
// every page's structure, not the indexes' contents against the tables).
// It returns a *DamagedError when SQLite finds a problem.
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(1)")
	if err != nil {
		return asDamaged(path, fmt.Errorf("records: integrity check of %s: %w", path, err))
	}
	defer rows.Close()
	var first string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return asDamaged(path, fmt.Errorf("records: integrity check of %s: %w", path, err))
		}
		if first == "" {
			first = line
		}
	}
	if err := rows.Err(); err != nil {
		return asDamaged(path, fmt.Errorf("records: integrity check of %s: %w", path, err))
	}
	if first != "ok" {
		return &DamagedError{Path: path, Detail: "PRAGMA quick_check: " + shorten(first)}
	}
	return nil
}

// CheckIntegrity runs PRAGMA quick_check on a fresh read-only connection
// (so pages cached by the pool cannot hide damage on disk). A damaged file
// is remembered: Ping fails from then on, so /readyz reports it. On
// PostgreSQL it does nothing: the server checks its own pages.
func (s *Store) CheckIntegrity(ctx context.Context) error {
	if s.db.dialect != SQLite {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+s.path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("records: integrity check of %s: %w", s.path, err)
	}
	defer db.Close()
	err = quickCheck(ctx, db, s.path)
	if errors.Is(err, ErrDamaged) {
		s.damaged.Store(&err)
	}
	return err
}

// damagedErr is the remembered result of a failed integrity check, or nil.
func (s *Store) damagedErr() error {
	if p := s.damaged.Load(); p != nil {
		return *p
	}
	return nil
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return s
}
