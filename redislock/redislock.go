// Package redislock is a mutual-exclusion lock held in Redis, shared by
// every node that uses the same server and key prefix (cluster mode: the
// per-document signing lock). A holder owns the key with a random token
// (SET NX PX), renews its lease while it holds it, and releases it with a
// compare-and-delete script, so it never removes a lock someone else took
// after its lease ran out.
//
// Leases end: a holder that cannot reach Redis for a whole TTL loses the
// lock. Callers that must never act twice keep their own check at the
// point of commit (the records' revision check for signatures); the lock
// makes the nodes take turns instead of failing each other.
package redislock

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis key layout. Every key starts with the configured prefix
// (session.key_prefix, default "parley:") and has a TTL:
//
//	<prefix>lock:<name>   string   the holder's random token; TTL = the lease, renewed
//	                               every third of it while held
const RedisKeyLock = "lock:"

// DefaultTTL is the lease of a lock whose holder stops renewing it.
const DefaultTTL = 30 * time.Second

// ErrUnavailable: Redis did not answer; the lock was not taken.
var ErrUnavailable = errors.New("redislock: redis is unavailable")

// Lua scripts; each runs atomically in Redis. KEYS: the lock. ARGV: token
// (and the lease in ms).
const (
	luaRelease = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
	luaRenew = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`
)

var (
	releaseScript = redis.NewScript(luaRelease)
	renewScript   = redis.NewScript(luaRenew)
)

// Client is what the locker needs of a go-redis client.
type Client interface {
	redis.Scripter
	SetNX(ctx context.Context, key string, value any, expiration time.Duration) *redis.BoolCmd
}

// Locker takes named locks in Redis. Safe for concurrent use.
type Locker struct {
	rdb    Client
	prefix string
	ttl    time.Duration
}

// New returns a locker whose keys start with prefix; ttl is the lease
// (0: DefaultTTL).
func New(rdb Client, prefix string, ttl time.Duration) *Locker {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Locker{rdb: rdb, prefix: prefix, ttl: ttl}
}

// Poll bounds: a waiting Lock retries after minPoll, doubling up to
// maxPoll.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = 100 * time.Millisecond
)

// Lock waits until it holds the lock called name, or ctx ends. The lease
// is renewed until unlock is called; unlock releases the lock (best
// effort: a release Redis misses ends with the lease). Errors: ctx's, or
// one wrapping ErrUnavailable when Redis does not answer.
func (l *Locker) Lock(ctx context.Context, name string) (unlock func(), err error) {
	key := l.prefix + RedisKeyLock + name
	token := rand.Text()
	poll := minPoll
	for {
		ok, err := l.rdb.SetNX(ctx, key, token, l.ttl).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("lock %s: %w", name, ctx.Err())
			}
			return nil, fmt.Errorf("lock %s: %w: %w", name, ErrUnavailable, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
		poll = min(2*poll, maxPoll)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go l.renew(key, token, stop, done)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = releaseScript.Run(ctx, l.rdb, []string{key}, token).Err()
		})
	}, nil
}

// renew extends the lease every third of it until stop closes or the lock
// is lost.
func (l *Locker) renew(key, token string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
			n, err := renewScript.Run(ctx, l.rdb, []string{key}, token, l.ttl.Milliseconds()).Int()
			cancel()
			if err == nil && n == 0 {
				return // lost: someone else holds it now
			}
		}
	}
}
