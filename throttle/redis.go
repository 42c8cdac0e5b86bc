package throttle

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis key layout. Every key starts with the configured prefix
// (session.key_prefix, default "parley:") and has a TTL. Key names hold a
// hash of the throttle key, never a user name or a network:
//
//	<prefix>throttle:{<sha256hex/128 bit>}           hash  f (failures), b (in backoff),
//	                                                       d (drained at), l (last failure),
//	                                                       u (no attempt before; Unix ms);
//	                                                       TTL = max(Quiet, max backoff) + AttemptTTL
//	<prefix>throttle:{<sha256hex/128 bit>}:inflight  zset  attempts in flight: token, score =
//	                                                       counts until (Unix ms); same TTL
const (
	RedisKeyThrottle         = "throttle:"
	RedisKeyThrottleInFlight = ":inflight"
)

// AttemptTTL is how long an admitted attempt counts as in flight at most
// in Redis: a node that dies between Begin and End does not hold its
// attempts forever.
const AttemptTTL = time.Minute

// luaStep is the rule of memory.go in one atomic step. KEYS: state hash,
// in-flight zset. ARGV: op (begin|end), budget, max ms, quiet ms, ttl ms,
// attempt ttl ms, token, outcome (aborted|failed|succeeded), now ms (""
// for the Redis server's clock). Returns {admitted 0/1, wait ms}.
const luaStep = `
local budget = tonumber(ARGV[2])
local maxms = tonumber(ARGV[3])
local quiet = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local now
if ARGV[9] ~= '' then
  now = tonumber(ARGV[9])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'f', 'b', 'd', 'l', 'u')
local fails = tonumber(h[1]) or 0
local back = h[2] == '1'
local drained = tonumber(h[3]) or now
local last = tonumber(h[4]) or 0
local untl = tonumber(h[5]) or 0
-- settle: the quiet reset, then draining below the budget
if fails > 0 and now - last >= quiet then
  fails = 0
  back = false
end
local dt = now - drained
if dt > 0 and not back then
  fails = math.max(0, fails - dt / 60000 * budget)
end
drained = now
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local result
if ARGV[1] == 'begin' then
  if now < untl then
    result = {0, untl - now}
  else
    local inflight = redis.call('ZCARD', KEYS[2])
    if inflight > 0 and fails + inflight >= budget then
      result = {0, 1000}
    else
      redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[7])
      result = {1, 0}
    end
  end
else
  redis.call('ZREM', KEYS[2], ARGV[7])
  if ARGV[8] == 'succeeded' then
    fails = 0
    back = false
    untl = 0
  elseif ARGV[8] == 'failed' then
    fails = fails + 1
    last = now
    local over = math.ceil(fails - budget + 1)
    if over >= 1 then
      back = true
      untl = now + math.min(maxms, 1000 * 2 ^ math.min(over - 1, 40))
    end
  end
  result = {1, 0}
end
local function num(x) return string.format('%.17g', x) end
redis.call('HSET', KEYS[1], 'f', num(fails), 'b', back and '1' or '0', 'd', num(drained), 'l', num(last), 'u', num(untl))
redis.call('PEXPIRE', KEYS[1], ttl)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return result`

var stepScript = redis.NewScript(luaStep)

// Redis is the rule kept in Redis, shared by every node that uses the
// same server and prefix. Safe for concurrent use.
type Redis struct {
	rdb    redis.Scripter
	prefix string
	budget int
	max    time.Duration
	now    func() time.Time
}

// NewRedis returns the rule for budget failures per minute and a backoff
// of at most max, kept under prefix (session.key_prefix). now is its
// clock; nil means the Redis server's clock (TIME), which all nodes share.
func NewRedis(rdb redis.Scripter, prefix string, budget int, max time.Duration, now func() time.Time) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, budget: max1(budget), max: max, now: now}
}

// Begin admits one attempt on key, or says how long to wait. An admitted
// attempt must be ended with End. Errors wrap ErrUnavailable: the attempt
// was not admitted.
func (t *Redis) Begin(ctx context.Context, key string) (Attempt, error) {
	a := Attempt{Key: key, token: rand.Text()}
	ok, wait, err := t.step(ctx, "begin", a, Aborted)
	if err != nil {
		return Attempt{Key: key}, err
	}
	a.OK, a.Wait = ok, wait
	if !ok {
		a.token = ""
	}
	return a, nil
}

// End closes an admitted attempt: failed (a wrong password), succeeded
// (reset the key), or aborted (the attempt never reached the password).
// Errors wrap ErrUnavailable; the attempt then leaves the in-flight count
// after AttemptTTL.
func (t *Redis) End(ctx context.Context, a Attempt, outcome Outcome) error {
	if !a.OK {
		return nil
	}
	_, _, err := t.step(ctx, "end", a, outcome)
	return err
}

func (t *Redis) step(ctx context.Context, op string, a Attempt, outcome Outcome) (bool, time.Duration, error) {
	sum := sha256.Sum256([]byte(a.Key))
	k := t.prefix + RedisKeyThrottle + "{" + hex.EncodeToString(sum[:16]) + "}"
	now := ""
	if t.now != nil {
		now = strconv.FormatInt(t.now().UnixMilli(), 10)
	}
	ttl := max(Quiet, t.max) + AttemptTTL
	res, err := stepScript.Run(ctx, t.rdb, []string{k, k + RedisKeyThrottleInFlight},
		op, t.budget, t.max.Milliseconds(), Quiet.Milliseconds(), ttl.Milliseconds(),
		AttemptTTL.Milliseconds(), a.token, outcomeName(outcome), now).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("%w: unexpected answer %v", ErrUnavailable, res)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Millisecond, nil
}

func outcomeName(o Outcome) string {
	switch o {
	case Failed:
		return "failed"
	case Succeeded:
		return "succeeded"
	}
	return "aborted"
}
