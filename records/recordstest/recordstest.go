// Package recordstest gives tests an empty PostgreSQL schema of their own on
// the throwaway server that scripts/test.sh starts (make test always does)
// and hands over in PARLEY_TEST_POSTGRES_URL.
package recordstest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvURL names the variable with the test server's URL.
const EnvURL = "PARLEY_TEST_POSTGRES_URL"

// PostgresURL creates a new, empty schema and returns the server's URL
// with search_path set to it, so a records store opened there sees nothing
// of other tests. The schema (only this one) is dropped when the test
// ends. Without PARLEY_TEST_POSTGRES_URL the test is skipped.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skip(EnvURL + " is not set: no PostgreSQL server for this test (scripts/test.sh starts one)")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open test PostgreSQL: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("open test PostgreSQL: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
