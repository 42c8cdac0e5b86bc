// Package records is Parley's durable state in one SQLite database
// (modernc.org/sqlite, no cgo): staff users and their logins, consultations
// with their invite links, colleague invites and consent records.
//
// Secrets never reach the database in the clear: passwords are stored as
// argon2id hashes, every token (login cookie, invite link, colleague link) as
// its SHA-256 digest. The raw token exists only in the return value of the
// function that created it.
package records

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Errors callers can test for with errors.Is.
var (
	// ErrNotFound: no such user, consultation or token.
	ErrNotFound = errors.New("records: not found")
	// ErrExpired: the token exists but its time is up.
	ErrExpired = errors.New("records: expired")
	// ErrEnded: the consultation has ended.
	ErrEnded = errors.New("records: consultation ended")
	// ErrBadCredentials: unknown user name or wrong password (deliberately
	// not saying which).
	ErrBadCredentials = errors.New("records: wrong username or password")
	// ErrConflict: the user name is taken.
	ErrConflict = errors.New("records: already exists")
	// ErrTooMany: a configured cap is reached (open consultations of one
	// advisor).
	ErrTooMany = errors.New("records: limit reached")
	// ErrInvalid: an argument failed validation; the concrete error is a
	// *ValidationError that says which and why.
	ErrInvalid = errors.New("records: invalid argument")
)

// ValidationError says which input was rejected and why. Its message is
// safe to show to the user who typed the input.
type ValidationError struct {
	Field  string // e.g. "username"
	Reason string // e.g. "must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'"
}

func (e *ValidationError) Error() string { return e.Field + " " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for every *ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

// Store is the records database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string // the database file
	now  func() time.Time

	damaged atomic.Pointer[error] // set by a failed CheckIntegrity

	dummyOnce sync.Once
	dummyHash string // verified against on unknown users (timing)
}

// Open creates dataDir (mode 0700) if needed, opens dataDir/parley.db (WAL
// mode, busy timeout, foreign keys on), checks its pages with PRAGMA
// quick_check (a damaged file is an error wrapping ErrDamaged that says
// what to do, and nothing is written to it) and applies pending migrations.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	if strings.TrimSpace(dataDir) == "" {
		return nil, errors.New("records: empty data directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("records: create data directory: %w", err)
	}
	path := filepath.Join(dataDir, "parley.db")
	dsn := "file:" + path +
		"?_pragma=busy_timeout(5000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("records: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: time.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, asDamaged(path, fmt.Errorf("records: open %s: %w", path, err))
	}
	if err := quickCheck(ctx, db, path); err != nil {
		db.Close()
		return nil, err
	}
	// The file holds password hashes; keep it private even under a lax umask.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			db.Close()
			return nil, fmt.Errorf("records: restrict %s: %w", p, err)
		}
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, asDamaged(path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("records: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers and has not been found damaged by
// CheckIntegrity (for readiness checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.damagedErr(); err != nil {
		return err
	}
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("records: ping: %w", err)
	}
	return nil
}

// migration is one embedded migrations/NNNN_name.sql file.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("records: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("records: migration %q must be named NNNN_description.sql", name)
		}
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("records: read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("records: migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies every migration newer than the recorded schema version,
// each in its own transaction. Running it again is a no-op.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("records: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: migration %s: begin: %w", m.name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return fmt.Errorf("records: migration %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("records: migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, s.now().UnixMilli()); err != nil {
		return fmt.Errorf("records: migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: migration %s: commit: %w", m.name, err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("records: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// millis converts a stored Unix millisecond value to UTC time.
func millis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullMillis converts a nullable stored time; NULL is the zero time.
func nullMillis(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return millis(v.Int64)
}
