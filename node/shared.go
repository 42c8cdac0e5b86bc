package node

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/redislock"
	"github.com/parley-video/parley/routing"
	"github.com/parley-video/parley/throttle"
	"github.com/parley-video/parley/web"
	"github.com/redis/go-redis/v9"
)

// shared holds what the nodes of a cluster share in Redis besides the
// routing (cluster mode only): the login throttles and the per-document
// signing lock, under session.key_prefix.
type shared struct {
	rdb    *redis.Client
	prefix string
}

// newShared connects its Redis client (session.redis_url; cluster mode
// requires it). Later outages are survived: logins and signings are then
// refused with 503, never let through.
func newShared(ctx context.Context, cfg config.Config) (*shared, error) {
	ctx, cancel := context.WithTimeout(ctx, storeConnectTimeout)
	defer cancel()
	rdb, err := routing.Dial(ctx, cfg.Session.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("login throttle and signing lock (session.redis_url): %w", err)
	}
	return &shared{rdb: rdb, prefix: cfg.Session.KeyPrefix}, nil
}

// throttles is web.Deps.Throttle: nil (in memory) on a single node.
func (s *shared) throttles() func(budget int, max time.Duration) web.LoginThrottle {
	if s == nil {
		return nil
	}
	return func(budget int, max time.Duration) web.LoginThrottle {
		return throttle.NewRedis(s.rdb, s.prefix, budget, max, nil)
	}
}

// contractOptions adds the shared document lock in cluster mode.
func (s *shared) contractOptions(opts ...contracts.Option) []contracts.Option {
	if s == nil {
		return opts
	}
	return append(opts, contracts.WithLocker(redislock.New(s.rdb, s.prefix, 0)))
}

// close closes the client. Safe on nil.
func (s *shared) close() error {
	if s == nil {
		return nil
	}
	return s.rdb.Close()
}
