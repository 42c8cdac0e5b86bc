// Package records is Parley's durable state, in one SQLite database
// (modernc.org/sqlite, no cgo; the embedded default) or in PostgreSQL
// (github.com/jackc/pgx/v5, shared by many nodes): staff users and their
// logins, consultations with their invite links, colleague invites and
// consent records. dialect.go says how one set of queries serves both.
//
// Secrets never reach the database in the clear: passwords are stored as
// argon2id hashes, every token (login cookie, invite link, colleague link) as
// its SHA-256 digest. The raw token exists only in the return value of the
// function that created it.
package records

import (
	"context"
	"crypto/rand"
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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
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
	db   *handle
	path string // the SQLite database file ("" for PostgreSQL)
	now  func() time.Time

	damaged atomic.Pointer[error] // set by a failed CheckIntegrity

	dummyOnce sync.Once
	dummyHash string // verified against on unknown users (timing)
}

// Open creates dataDir (mode 0700) if needed, opens dataDir/parley.db (WAL
// mode, synchronous=FULL, busy timeout, foreign keys on), checks its pages with PRAGMA
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
		// FULL: a commit is on disk (the WAL fsync'd) before it returns,
		// so a signature is durable before anyone is told and before the
		// previous revision's file is deleted (NORMAL may lose the last
		// commits to a power cut).
		"&_pragma=synchronous(FULL)" +
		"&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("records: open %s: %w", path, err)
	}
	s := &Store{db: &handle{DB: db, dialect: SQLite}, path: path, now: time.Now}
	// Switching a new file to WAL takes an exclusive lock without waiting
	// for busy_timeout, so processes opening one new file together (tests
	// of several nodes) can be refused with SQLITE_BUSY: try again.
	for attempt := 1; ; attempt++ {
		err := db.PingContext(ctx)
		if err == nil {
			break
		}
		if attempt >= 20 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			db.Close()
			return nil, asDamaged(path, fmt.Errorf("records: open %s: %w", path, err))
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, fmt.Errorf("records: open %s: %w", path, ctx.Err())
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		}
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

// DefaultMaxConns is OpenPostgres's pool size when none is given.
const DefaultMaxConns = 10

// OpenPostgres connects to the PostgreSQL database at url (e.g.
// postgres://parley:secret@db.example:5432/parley?sslmode=verify-full; a
// search_path parameter selects a schema), with at most maxConns
// connections (0: DefaultMaxConns), and applies pending migrations under an
// advisory lock, so any number of nodes may start at once. Errors never
// quote the URL (it may hold the password).
func OpenPostgres(ctx context.Context, url string, maxConns int) (*Store, error) {
	if strings.TrimSpace(url) == "" {
		return nil, errors.New("records: empty PostgreSQL URL")
	}
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors redact the password; say no more than that.
		return nil, fmt.Errorf("records: PostgreSQL URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(min(maxConns, 4))
	db.SetConnMaxIdleTime(5 * time.Minute)
	where := fmt.Sprintf("PostgreSQL at %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	s := &Store{db: &handle{DB: db, dialect: Postgres}, now: time.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("records: connect to %s: %w", where, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// Dialect says which database the store uses.
func (s *Store) Dialect() Dialect { return s.db.dialect }

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

// migration is one version of the schema: migrations/NNNN_name.sql, or for
// one dialect NNNN_name.sqlite.sql / NNNN_name.postgres.sql, which takes
// the place of the shared file for that dialect. A new migration is one
// shared file when both databases understand it (BIGINT, TEXT, no
// AUTOINCREMENT or BLOB); otherwise it is a pair, and
// TestMigrationsGiveTheSameSchema says whether the pair agrees.
type migration struct {
	version int
	name    string // NNNN_name.sql, also for a dialect's own file
	sql     string
}

// loadMigrations returns the migrations for dialect d in order: for every
// version the dialect's own file if there is one, else the shared one.
func loadMigrations(d Dialect) ([]migration, error) {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("records: read migrations: %w", err)
	}
	return loadMigrationsFrom(sub, d)
}

func loadMigrationsFrom(fsys fs.FS, d Dialect) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("records: read migrations: %w", err)
	}
	byVersion := map[int]migration{}
	own := map[int]bool{} // the dialect's own file was found
	for _, e := range entries {
		file := e.Name()
		base, ok := strings.CutSuffix(file, ".sql")
		if !ok {
			return nil, fmt.Errorf("records: migration %q must end in .sql", file)
		}
		var dialect Dialect
		if stem, ext, found := strings.Cut(base, "."); found {
			base, dialect = stem, Dialect(ext)
			if dialect != SQLite && dialect != Postgres {
				return nil, fmt.Errorf("records: migration %q: %q is not sqlite or postgres", file, ext)
			}
		}
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("records: migration %q must be named NNNN_description.sql", file)
		}
		if dialect != "" && dialect != d {
			continue
		}
		if prev, dup := byVersion[v]; dup && prev.name != base+".sql" {
			return nil, fmt.Errorf("records: migrations %s and %s share a version", prev.name, base+".sql")
		}
		if own[v] && dialect == "" {
			continue
		}
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("records: read migration %s: %w", file, err)
		}
		byVersion[v] = migration{version: v, name: base + ".sql", sql: string(body)}
		own[v] = own[v] || dialect != ""
	}
	ms := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrationsTable records the applied versions.
var migrationsTable = map[Dialect]string{
	SQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`,
	Postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`,
}

// migrate applies every migration newer than the recorded schema version,
// each in its own transaction, then makes the installation's secrets.
// Running it again is a no-op. On PostgreSQL it holds an advisory lock
// throughout, so nodes starting together migrate one after the other.
func (s *Store) migrate(ctx context.Context) error {
	d := s.db.dialect
	ms, err := loadMigrations(d)
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("records: migrate: %w", err)
	}
	defer conn.Close()
	if d == Postgres {
		const key = "SELECT hashtextextended(current_schema() || ':parley records migrations', 0)"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(("+key+"))"); err != nil {
			return fmt.Errorf("records: migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(("+key+"))")
	}
	if _, err := conn.ExecContext(ctx, migrationsTable[d]); err != nil {
		return fmt.Errorf("records: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.applyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	return s.ensureSecrets(ctx, conn)
}

func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, m migration) error {
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: migration %s: begin: %w", m.name, err)
	}
	tx := &txn{Tx: sqlTx, dialect: s.db.dialect}
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

// ensureSecrets makes the installation-wide secrets that do not exist yet
// (SQLite's migration 3 made the subject link key with randomblob; on
// PostgreSQL, which has no such function built in, it is made here).
func (s *Store) ensureSecrets(ctx context.Context, conn *sql.Conn) error {
	key := make([]byte, 32)
	rand.Read(key)
	if _, err := conn.ExecContext(ctx, s.db.dialect.rebind(
		"INSERT INTO settings (name, value) VALUES ('subject_link_key', ?) ON CONFLICT (name) DO NOTHING"), key); err != nil {
		return fmt.Errorf("records: make subject link key: %w", err)
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
