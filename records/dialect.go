package records

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Dialect names the database behind a Store.
type Dialect string

// The dialects. SQLite is the embedded default (one file in the data
// directory); PostgreSQL lets several nodes share the records.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// The queries in this package are written once, in the subset of SQL both
// databases understand, with SQLite's placeholders (? and ?N). For
// PostgreSQL, handle and txn rewrite them to $N on the way out; everything
// else that differs (types in the migrations, locks, error codes, file
// checks) is named where it happens.

// handle is the connection pool, rewriting placeholders for its dialect.
type handle struct {
	*sql.DB
	dialect Dialect
}

func (h *handle) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return h.DB.ExecContext(ctx, h.dialect.rebind(q), args...)
}

func (h *handle) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return h.DB.QueryContext(ctx, h.dialect.rebind(q), args...)
}

func (h *handle) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return h.DB.QueryRowContext(ctx, h.dialect.rebind(q), args...)
}

// BeginTx starts a transaction. SQLite's are IMMEDIATE (the DSN says so):
// write transactions run one at a time. PostgreSQL's are READ COMMITTED
// and run side by side; where this package counts-then-inserts it takes a
// transaction lock first (lock).
func (h *handle) BeginTx(ctx context.Context, opts *sql.TxOptions) (*txn, error) {
	tx, err := h.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, dialect: h.dialect}, nil
}

// txn is a transaction, rewriting placeholders for its dialect.
type txn struct {
	*sql.Tx
	dialect Dialect
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.dialect.rebind(q), args...)
}

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.dialect.rebind(q), args...)
}

func (t *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.dialect.rebind(q), args...)
}

// lock serialises transactions that use the same key until this one ends:
// a PostgreSQL advisory transaction lock (per schema, so installations
// sharing a database do not wait for each other). On SQLite write
// transactions are serial already, so it does nothing.
func (t *txn) lock(ctx context.Context, key string) error {
	if t.dialect != Postgres {
		return nil
	}
	_, err := t.Tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || $1, 0))", key)
	return err
}

// rebind rewrites SQLite placeholders for PostgreSQL: ?N becomes $N, and a
// bare ? the next number after the largest so far (SQLite's own rule).
// Question marks inside quoted strings or identifiers stay.
func (d Dialect) rebind(q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	top := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			b.WriteByte(c)
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n := top + 1
			if j > i+1 {
				n, _ = strconv.Atoi(q[i+1 : j])
			}
			top = max(top, n)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// PostgreSQL error codes (SQLSTATE) this package tells apart.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgDiskFull            = "53100"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isUniqueViolation recognises a UNIQUE or PRIMARY KEY violation in
// either database.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	return pgCode(err) == pgUniqueViolation || strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKeyViolation recognises a FOREIGN KEY violation in either
// database.
func isForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	return pgCode(err) == pgForeignKeyViolation || strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// sqliteFull is SQLITE_FULL: a write failed because the disk (or quota) is full.
const sqliteFull = 13

// IsUnavailable reports whether err is the records database being out of
// reach: PostgreSQL refusing or dropping the connection, shutting down or
// starting up (SQLSTATE class 08, 57P01-57P03). Requests that fail so are
// worth retrying once it is back; the pool reconnects by itself.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var ne *net.OpError
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	switch c := pgCode(err); {
	case strings.HasPrefix(c, "08"), c == "57P01", c == "57P02", c == "57P03":
		return true
	}
	return false
}

// IsStorageFull reports whether err is the database failing a write
// because its disk is full (SQLITE_FULL, or PostgreSQL's disk_full).
func IsStorageFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteFull {
		return true
	}
	return pgCode(err) == pgDiskFull
}
