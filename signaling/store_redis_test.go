package signaling

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"

	"github.com/redis/go-redis/v9"
)

// Redis tests use redistest: the throwaway server scripts/test.sh starts,
// a random key prefix per test, deleted afterwards.

func rawRedis(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.Protocol = 2
	opt.DisableIdentity = true
	return redis.NewClient(opt)
}

// newTestRedisStore returns a RedisStore on url under a fresh prefix.
func newTestRedisStore(t *testing.T, url string) (*RedisStore, string) {
	t.Helper()
	prefix := redistest.Prefix(t, url)
	s, err := NewRedisStore(t.Context(), url, prefix, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, prefix
}

func TestRedisStore(t *testing.T) {
	url := redistest.URL(t)
	testSessionStore(t, func(t *testing.T) SessionStore {
		s, _ := newTestRedisStore(t, url)
		return s
	})
}

// The documented key layout, with a TTL on every key, and no cookie.
func TestRedisStoreKeys(t *testing.T) {
	url := redistest.URL(t)
	s, prefix := newTestRedisStore(t, url)
	ctx := t.Context()
	cookie, key := newCookie()
	sess := Session{ConsultationID: "c_1", ParticipantID: "p_1", Role: RoleCustomer, State: "waiting", LastSeen: time.Now()}
	if err := s.Put(ctx, key, sess, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.AddWaiting(ctx, "c_1", Waiter{Participant: "p_1", Since: time.Now()}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPresence(ctx, Presence{UserID: 42, Name: "Anna", State: PresenceAvailable, Since: time.Now()}, time.Minute); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		prefix + "session:" + key:            "hash",
		prefix + "consultation:c_1:sessions": "set",
		prefix + "consultation:c_1:waiting":  "zset",
		prefix + "presence":                  "zset",
		prefix + "presence:42":               "hash",
	}
	rdb := rawRedis(t, url)
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	for _, k := range keys {
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil || typ != want[k] {
			t.Fatalf("key %s: type %q %v, want %q", k, typ, err, want[k])
		}
		if ttl, err := rdb.PTTL(ctx, k).Result(); err != nil || ttl <= 0 {
			t.Fatalf("key %s has no TTL (%v, %v)", k, ttl, err)
		}
		if strings.Contains(k, cookie) {
			t.Fatalf("cookie in key %s", k)
		}
	}
	h, err := rdb.HGetAll(ctx, prefix+"session:"+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for f, v := range h {
		if strings.Contains(v, cookie) {
			t.Fatalf("cookie stored in field %s", f)
		}
	}
	// Ending the consultation leaves nothing of it.
	if err := s.DeleteConsultation(ctx, "c_1"); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, prefix+"session:"+key, prefix+"consultation:c_1:sessions", prefix+"consultation:c_1:waiting").Result(); err != nil || n != 0 {
		t.Fatalf("%d keys of the ended consultation left (%v)", n, err)
	}
}

func TestRedisStoreUnreachable(t *testing.T) {
	port := freePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := NewRedisStore(ctx, "redis://127.0.0.1:"+strconv.Itoa(port)+"/0", "x:", discardLogger())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unreachable redis: %v", err)
	}
	_, err = NewRedisStore(ctx, "http://:secret@example.com", "x:", discardLogger())
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad URL: %v", err)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// redisProcess is a redis-server of the test's own, on a fixed loopback
// port, that the test can stop and start again.
type redisProcess struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

const redisServerBin = "/usr/bin/redis-server"

// startRedis starts a private redis-server (no persistence) on a free
// loopback port; it is killed when the test ends.
func startRedis(t *testing.T) *redisProcess {
	t.Helper()
	if _, err := os.Stat(redisServerBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", redisServerBin, err)
		}
		t.Skipf("no %s: %v", redisServerBin, err)
	}
	rp := &redisProcess{t: t, port: freePort(t), dir: t.TempDir()}
	rp.start()
	t.Cleanup(rp.stop)
	return rp
}

func (rp *redisProcess) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", rp.port) }

// start runs redis-server on rp.port and waits until it answers.
func (rp *redisProcess) start() {
	rp.t.Helper()
	rp.cmd = exec.Command(redisServerBin, "--port", strconv.Itoa(rp.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", rp.dir, "--daemonize", "no", "--loglevel", "warning")
	if err := rp.cmd.Start(); err != nil {
		rp.t.Fatalf("start redis-server: %v", err)
	}
	rdb := rawRedis(rp.t, rp.url())
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			rp.t.Fatalf("redis-server on port %d did not answer: %v", rp.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (as a crash would) and waits for it. Idempotent.
func (rp *redisProcess) stop() {
	if rp.cmd == nil {
		return
	}
	_ = rp.cmd.Process.Kill()
	_ = rp.cmd.Wait()
	rp.cmd = nil
}
