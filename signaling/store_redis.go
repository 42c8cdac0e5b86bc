package signaling

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis key layout (STORE.md). Every key starts with the configured prefix
// (session.key_prefix, default "parley:") and has a TTL:
//
//	<prefix>session:<sha256hex>              hash   one customer session: consultation,
//	                                                participant, role, name, state, resume,
//	                                                last_seen, owner, generation;
//	                                                TTL = the consultation's remaining lifetime
//	<prefix>consultation:<id>:sessions       set    the session hashes (<sha256hex>) of a
//	                                                consultation, for DeleteConsultation;
//	                                                TTL ≥ its longest session
//	<prefix>consultation:<id>:waiting        zset   waiting customers: participant id, score =
//	                                                waiting since (Unix ms); TTL = lifetime
//	<prefix>presence                         zset   present advisors: user id, score = expiry
//	                                                (Unix ms); TTL ≥ the latest expiry
//	<prefix>presence:<userID>                hash   user, name, state (available/reconnecting,
//	                                                or away: not listed), since, version;
//	                                                TTL = presence TTL
const (
	RedisKeySession             = "session:"      // + <sha256hex>
	RedisKeyConsultation        = "consultation:" // + <id> + one of the suffixes below
	RedisKeyConsultationSession = ":sessions"
	RedisKeyConsultationWaiting = ":waiting"
	RedisKeyPresence            = "presence"  // the zset
	RedisKeyPresenceUser        = "presence:" // + <userID>
)

// Hash fields of a session.
const (
	fieldConsultation = "consultation"
	fieldParticipant  = "participant"
	fieldRole         = "role"
	fieldName         = "name"
	fieldState        = "state"
	fieldResume       = "resume"
	fieldLastSeen     = "last_seen"
	fieldOwner        = "owner"
	fieldGeneration   = "generation"
)

// Lua scripts; each runs atomically in Redis.
const (
	// KEYS: session, consultation's session set. ARGV: ttl ms, session
	// id, then field/value pairs.
	luaPut = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1`
	// KEYS: session. ARGV: connection id. Returns {previous owner, HGETALL}
	// or nil.
	luaClaim = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local prev = redis.call('HGET', KEYS[1], 'owner') or ''
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'generation', 1)
return {prev, redis.call('HGETALL', KEYS[1])}`
	// KEYS: session. ARGV: state, resume, last_seen. Returns 0 when missing.
	luaUpdate = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'resume', ARGV[2], 'last_seen', ARGV[3])
return 1`
	// KEYS: session set, waiting queue. ARGV: session key prefix,
	// consultation id. Deletes only sessions that still belong to it.
	luaDeleteConsultation = `
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = ARGV[1] .. id
  if redis.call('HGET', k, 'consultation') == ARGV[2] then redis.call('DEL', k); n = n + 1 end
end
redis.call('DEL', KEYS[1], KEYS[2])
return n`
	// KEYS: presence zset, user hash. ARGV: ttl ms, expiry ms, user,
	// name, state, since, version.
	luaSetPresence = `
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'user', ARGV[3], 'name', ARGV[4], 'state', ARGV[5], 'since', ARGV[6], 'version', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`
	// KEYS: presence zset, user hash. ARGV as luaSetPresence. Writes only
	// when the stored version is ARGV[7] (1) or there is none (3);
	// returns 2 and writes nothing when another version is stored.
	luaRefreshPresence = `
local v = redis.call('HGET', KEYS[2], 'version')
if v and v ~= ARGV[7] then return 2 end
local outcome = 1
if not v then outcome = 3 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'user', ARGV[3], 'name', ARGV[4], 'state', ARGV[5], 'since', ARGV[6], 'version', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return outcome`
	// KEYS: presence zset, user hash. ARGV: ttl ms, user, version.
	luaClearPresence = `
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'user', ARGV[2], 'state', 'away', 'version', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1`
	// KEYS: presence zset. ARGV: now ms, user hash prefix.
	luaListPresence = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, uid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('HGETALL', ARGV[2] .. uid)
  if #h > 0 and redis.call('HGET', ARGV[2] .. uid, 'state') ~= 'away' then table.insert(out, h) end
end
return out`
	// KEYS: waiting queue. ARGV: ttl ms, since ms, participant.
	luaAddWaiting = `
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`
)

// RedisStore is a SessionStore in Redis (standalone or behind Sentinel;
// not Redis Cluster: scripts touch keys of one consultation together). It
// keeps no state of its own, so it needs nothing when Redis restarts;
// go-redis reconnects by itself. Errors other than ErrNoSession wrap
// ErrUnavailable.
type RedisStore struct {
	rdb    *redis.Client
	prefix string
	log    *slog.Logger

	put, claim, update, delConsultation *redis.Script
	setPresence, listPresence           *redis.Script
	refreshPresence, clearPresence      *redis.Script
	addWaiting                          *redis.Script
}

var _ SessionStore = (*RedisStore)(nil)

// Timeouts of the Redis client; callers bound each call further by ctx.
const (
	redisDialTimeout = 2 * time.Second
	redisIOTimeout   = 2 * time.Second
)

// NewRedisStore connects to the Redis at url (redis:// or rediss://, as
// session.redis_url) and checks it with a PING bounded by ctx; prefix
// starts every key.
func NewRedisStore(ctx context.Context, url, prefix string, log *slog.Logger) (*RedisStore, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: do not quote it.
		return nil, errors.New("signaling: session.redis_url is not a valid redis:// or rediss:// URL")
	}
	opt.Protocol = 2 // plain replies; no push notifications needed
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DialTimeout = redisDialTimeout
	opt.DialerRetries = 2
	opt.DialerRetryTimeout = 50 * time.Millisecond
	opt.ReadTimeout = redisIOTimeout
	opt.WriteTimeout = redisIOTimeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = 1
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &RedisStore{
		rdb:             redis.NewClient(opt),
		prefix:          prefix,
		log:             log,
		put:             redis.NewScript(luaPut),
		claim:           redis.NewScript(luaClaim),
		update:          redis.NewScript(luaUpdate),
		delConsultation: redis.NewScript(luaDeleteConsultation),
		setPresence:     redis.NewScript(luaSetPresence),
		listPresence:    redis.NewScript(luaListPresence),
		refreshPresence: redis.NewScript(luaRefreshPresence),
		clearPresence:   redis.NewScript(luaClearPresence),
		addWaiting:      redis.NewScript(luaAddWaiting),
	}
	if err := s.Ping(ctx); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opt.Addr, err)
	}
	return s, nil
}

// Key names.
func (s *RedisStore) sessionKey(key string) string { return s.prefix + RedisKeySession + key }
func (s *RedisStore) sessionsKey(id ConsultationID) string {
	return s.prefix + RedisKeyConsultation + string(id) + RedisKeyConsultationSession
}
func (s *RedisStore) waitingKey(id ConsultationID) string {
	return s.prefix + RedisKeyConsultation + string(id) + RedisKeyConsultationWaiting
}
func (s *RedisStore) presenceKey() string { return s.prefix + RedisKeyPresence }
func (s *RedisStore) presenceUserKey(userID int64) string {
	return s.prefix + RedisKeyPresenceUser + strconv.FormatInt(userID, 10)
}

// fail wraps a Redis error in ErrUnavailable.
func (s *RedisStore) fail(op string, err error) error {
	return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
}

func ttlMillis(ttl time.Duration) int64 { return max(1, ttl.Milliseconds()) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Put stores s under key for ttl.
func (s *RedisStore) Put(ctx context.Context, key string, sess Session, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	args := []any{ttlMillis(ttl), key,
		fieldConsultation, string(sess.ConsultationID),
		fieldParticipant, string(sess.ParticipantID),
		fieldRole, string(sess.Role),
		fieldName, sess.Name,
		fieldState, sess.State,
		fieldResume, sess.Resume,
		fieldLastSeen, formatTime(sess.LastSeen),
		fieldOwner, sess.Owner,
		fieldGeneration, strconv.FormatUint(sess.Generation, 10),
	}
	keys := []string{s.sessionKey(key), s.sessionsKey(sess.ConsultationID)}
	if err := s.put.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
		return s.fail("put session", err)
	}
	return nil
}

// Get returns the session under key, or ErrNoSession.
func (s *RedisStore) Get(ctx context.Context, key string) (Session, error) {
	h, err := s.rdb.HGetAll(ctx, s.sessionKey(key)).Result()
	if err != nil {
		return Session{}, s.fail("get session", err)
	}
	if len(h) == 0 {
		return Session{}, ErrNoSession
	}
	return sessionFromHash(h), nil
}

func sessionFromHash(h map[string]string) Session {
	gen, _ := strconv.ParseUint(h[fieldGeneration], 10, 64)
	return Session{
		ConsultationID: ConsultationID(h[fieldConsultation]),
		ParticipantID:  ParticipantID(h[fieldParticipant]),
		Role:           Role(h[fieldRole]),
		Name:           h[fieldName],
		State:          h[fieldState],
		Resume:         h[fieldResume],
		LastSeen:       parseTime(h[fieldLastSeen]),
		Owner:          h[fieldOwner],
		Generation:     gen,
	}
}

// pairs turns a flat [field, value, …] reply into a map.
func pairs(v any) (map[string]string, bool) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, false
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, ok1 := flat[i].(string)
		val, ok2 := flat[i+1].(string)
		if !ok1 || !ok2 {
			return nil, false
		}
		m[k] = val
	}
	return m, true
}

var errBadReply = errors.New("unexpected reply")

// Claim makes connID the session's owner (see SessionStore).
func (s *RedisStore) Claim(ctx context.Context, key, connID string) (Session, string, error) {
	v, err := s.claim.Run(ctx, s.rdb, []string{s.sessionKey(key)}, connID).Result()
	if errors.Is(err, redis.Nil) {
		return Session{}, "", ErrNoSession
	}
	if err != nil {
		return Session{}, "", s.fail("claim session", err)
	}
	reply, ok := v.([]any)
	if !ok || len(reply) != 2 {
		return Session{}, "", s.fail("claim session", errBadReply)
	}
	prev, ok1 := reply[0].(string)
	h, ok2 := pairs(reply[1])
	if !ok1 || !ok2 {
		return Session{}, "", s.fail("claim session", errBadReply)
	}
	return sessionFromHash(h), prev, nil
}

// Update changes state, resume state and last-seen time of a session.
func (s *RedisStore) Update(ctx context.Context, key string, u SessionUpdate) error {
	n, err := s.update.Run(ctx, s.rdb, []string{s.sessionKey(key)}, u.State, u.Resume, formatTime(u.LastSeen)).Int64()
	if err != nil {
		return s.fail("update session", err)
	}
	if n == 0 {
		return ErrNoSession
	}
	return nil
}

// Delete removes the session under key. (Its id may stay in the
// consultation's session set until that expires; DeleteConsultation
// checks.)
func (s *RedisStore) Delete(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.sessionKey(key)).Err(); err != nil {
		return s.fail("delete session", err)
	}
	return nil
}

// DeleteConsultation removes every session and the waiting queue of id.
func (s *RedisStore) DeleteConsultation(ctx context.Context, id ConsultationID) error {
	keys := []string{s.sessionsKey(id), s.waitingKey(id)}
	if err := s.delConsultation.Run(ctx, s.rdb, keys, s.prefix+RedisKeySession, string(id)).Err(); err != nil {
		return s.fail("delete consultation", err)
	}
	return nil
}

// SetPresence records an advisor's presence for ttl (see SessionStore).
func (s *RedisStore) SetPresence(ctx context.Context, p Presence, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	if err := s.setPresence.Run(ctx, s.rdb, s.presenceKeys(p.UserID), s.presenceArgs(p, ttl)...).Err(); err != nil {
		return s.fail("set presence", err)
	}
	return nil
}

// RefreshPresence extends p's declaration if it is still the stored one
// (see SessionStore).
func (s *RedisStore) RefreshPresence(ctx context.Context, p Presence, ttl time.Duration) (PresenceRefresh, error) {
	if ttl <= 0 {
		return 0, errBadTTL
	}
	n, err := s.refreshPresence.Run(ctx, s.rdb, s.presenceKeys(p.UserID), s.presenceArgs(p, ttl)...).Int64()
	if err != nil {
		return 0, s.fail("refresh presence", err)
	}
	switch n {
	case 1:
		return PresenceRefreshed, nil
	case 2:
		return PresenceSuperseded, nil
	case 3:
		return PresenceRestored, nil
	}
	return 0, s.fail("refresh presence", errBadReply)
}

func (s *RedisStore) presenceKeys(userID int64) []string {
	return []string{s.presenceKey(), s.presenceUserKey(userID)}
}

func (s *RedisStore) presenceArgs(p Presence, ttl time.Duration) []any {
	return []any{ttlMillis(ttl), time.Now().Add(ttl).UnixMilli(),
		strconv.FormatInt(p.UserID, 10), p.Name, string(p.State), formatTime(p.Since), p.Version}
}

// ClearPresence records an advisor's "away" (see SessionStore).
func (s *RedisStore) ClearPresence(ctx context.Context, userID int64, version string, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	err := s.clearPresence.Run(ctx, s.rdb, s.presenceKeys(userID), ttlMillis(ttl), strconv.FormatInt(userID, 10), version).Err()
	if err != nil {
		return s.fail("clear presence", err)
	}
	return nil
}

// ListPresence returns the present advisors by user id (dropping expired
// ones from the set).
func (s *RedisStore) ListPresence(ctx context.Context) ([]Presence, error) {
	v, err := s.listPresence.Run(ctx, s.rdb, []string{s.presenceKey()},
		time.Now().UnixMilli(), s.prefix+RedisKeyPresenceUser).Slice()
	if err != nil {
		return nil, s.fail("list presence", err)
	}
	out := make([]Presence, 0, len(v))
	for _, item := range v {
		h, ok := pairs(item)
		if !ok {
			return nil, s.fail("list presence", errBadReply)
		}
		uid, err := strconv.ParseInt(h["user"], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Presence{UserID: uid, Name: h["name"], State: PresenceState(h["state"]), Since: parseTime(h["since"]), Version: h["version"]})
	}
	slices.SortFunc(out, func(a, b Presence) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// AddWaiting puts a customer into a waiting queue (see SessionStore).
func (s *RedisStore) AddWaiting(ctx context.Context, id ConsultationID, w Waiter, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	err := s.addWaiting.Run(ctx, s.rdb, []string{s.waitingKey(id)}, ttlMillis(ttl), w.Since.UnixMilli(), string(w.Participant)).Err()
	if err != nil {
		return s.fail("add waiting", err)
	}
	return nil
}

// RemoveWaiting takes a customer out of a waiting queue.
func (s *RedisStore) RemoveWaiting(ctx context.Context, id ConsultationID, p ParticipantID) error {
	if err := s.rdb.ZRem(ctx, s.waitingKey(id), string(p)).Err(); err != nil {
		return s.fail("remove waiting", err)
	}
	return nil
}

// ListWaiting returns a waiting queue, longest waiting first.
func (s *RedisStore) ListWaiting(ctx context.Context, id ConsultationID) ([]Waiter, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.waitingKey(id), 0, -1).Result()
	if err != nil {
		return nil, s.fail("list waiting", err)
	}
	out := make([]Waiter, 0, len(zs))
	for _, z := range zs {
		m, ok := z.Member.(string)
		if !ok {
			continue
		}
		out = append(out, Waiter{Participant: ParticipantID(m), Since: time.UnixMilli(int64(z.Score)).UTC()})
	}
	sortWaiters(out)
	return out, nil
}

// Ping checks that Redis answers.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Close closes the connection pool.
func (s *RedisStore) Close() error { return s.rdb.Close() }
