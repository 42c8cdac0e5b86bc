// Package redistest gives tests the throwaway Redis that scripts/test.sh
// starts (PARLEY_TEST_REDIS_URL). Each test works under its own random key
// prefix and deletes exactly those keys afterwards (SCAN + DEL, never
// FLUSH*), so tests can share one server.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns the test Redis. Without one the test is skipped, and fails
// under CI=true, where a skipped Redis test would hide a broken set-up.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PARLEY_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PARLEY_TEST_REDIS_URL is not set (run the tests with scripts/test.sh)")
		}
		t.Skip("PARLEY_TEST_REDIS_URL is not set; run scripts/test.sh for the Redis tests")
	}
	return u
}

// Prefix returns a fresh key prefix ("parley-test:<random>:") whose keys
// are deleted when the test ends.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	prefix := "parley-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() { DeletePrefix(t, url, prefix) })
	return prefix
}

// DeletePrefix deletes every key under prefix; failures are logged, not
// fatal (it runs in clean-ups).
func DeletePrefix(t testing.TB, url, prefix string) {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Logf("clean up redis keys %s*: %v", prefix, err)
		return
	}
	opt.Protocol = 2
	opt.DisableIdentity = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 500).Result()
		if err != nil {
			t.Logf("clean up redis keys %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Logf("clean up redis keys %s*: %v", prefix, err)
				return
			}
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// Client returns a client of the test Redis (closed when the test ends)
// and a fresh key prefix (Prefix).
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := URL(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.Protocol = 2
	opt.DisableIdentity = true
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb, Prefix(t, url)
}
