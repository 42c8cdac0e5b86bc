package records

import (
	"context"
	"database/sql/driver"
	"fmt"
)

// TryExclusive runs fn unless another holder of the lock called name runs
// it now, anywhere: on PostgreSQL it is a session advisory lock (per
// schema) taken with pg_try_advisory_lock on a connection of its own, so
// of any number of nodes sharing the records at most one runs fn at a
// time; the others do not wait, they get ran == false. fn's queries use
// the pool's other connections (so the pool needs at least two). On
// SQLite (one node) it always runs fn: the caller serialises within its
// process.
func (s *Store) TryExclusive(ctx context.Context, name string, fn func(context.Context) error) (ran bool, err error) {
	if s.db.dialect != Postgres {
		return true, fn(ctx)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("records: lock %s: %w", name, err)
	}
	defer conn.Close()
	const key = "hashtextextended(current_schema() || ':' || $1, 0)"
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+key+")", name).Scan(&got); err != nil {
		return false, fmt.Errorf("records: lock %s: %w", name, err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		var released bool
		uerr := conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+key+")", name).Scan(&released)
		if uerr != nil || !released {
			// Do not hand a session that may still hold the lock back to
			// the pool: dropping the connection releases it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return true, fn(ctx)
}
