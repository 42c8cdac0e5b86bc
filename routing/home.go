package routing

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis key layout (ROUTING.md). Every key starts with Config.Prefix
// (session.key_prefix, default "parley:") and has a TTL:
//
//	<prefix>node:<nodeID>         string  the node's entry (JSON: id, internal_url,
//	                                      media_addr, state, consultations, participants,
//	                                      version, started); TTL = Config.TTL, refreshed
//	                                      every Config.Heartbeat
//	<prefix>nodes                 zset    node ids, score = when the entry expires
//	                                      (Redis server time, ms); an index only, the
//	                                      entry key decides liveness; TTL ≥ the latest
//	<prefix>home:<consultation>   string  the consultation's home node id;
//	                                      TTL = Config.HomeTTL
const (
	KeyNode  = "node:" // + <nodeID>
	KeyNodes = "nodes"
	KeyHome  = "home:" // + <consultation id>
)

// Lua scripts; Redis runs each atomically, so concurrent callers on any
// number of nodes see one order. Times come from Redis (TIME), never from
// the nodes' clocks.
const (
	// KEYS: node entry, nodes zset. ARGV: entry JSON, ttl ms, node id.
	luaHeartbeat = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1`
	// KEYS: node entry, nodes zset. ARGV: node id.
	luaUnregister = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`
	// pick(nodes zset, node key prefix, excluded id) returns the id and
	// decoded entry of the live serving node that is not full with the fewest
	// consultations, then participants, then the smallest id; nil when
	// there is none. It drops expired ids from the zset.
	luaPick = `
local function pick(zset, prefix, exclude)
  local t = redis.call('TIME')
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  local bestID, best
  for _, id in ipairs(redis.call('ZRANGE', zset, 0, -1)) do
    if id ~= exclude then
      local raw = redis.call('GET', prefix .. id)
      if raw then
        local n = cjson.decode(raw)
        local c, p = tonumber(n.consultations) or 0, tonumber(n.participants) or 0
        if n.state == 'serving' and n.full ~= true and (best == nil or c < best.c or (c == best.c and (p < best.p or (p == best.p and id < bestID)))) then
          bestID, best = id, {n = n, c = c, p = p}
        end
      end
    end
  end
  if best == nil then return nil, nil end
  return bestID, best.n
end
-- assign(home key, node key prefix, ttl ms, id, entry) maps the
-- consultation to id and counts it in the entry at once, so that the
-- next assignment before id's next heartbeat sees it.
local function assign(home, prefix, ttl, id, n)
  redis.call('SET', home, id, 'PX', ttl)
  n.consultations = (tonumber(n.consultations) or 0) + 1
  local raw = cjson.encode(n)
  redis.call('SET', prefix .. id, raw, 'KEEPTTL')
  return raw
end
`
	// KEYS: home key, nodes zset. ARGV: node key prefix, home ttl ms.
	// Returns {entry JSON, outcome, previous owner} or false (no node).
	// Outcome: "kept" (owner alive, serving or draining), "assigned" (no
	// owner before), "reassigned" (the owner was dead).
	luaHome = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local raw = redis.call('GET', ARGV[1] .. cur)
  if raw then return {raw, 'kept', cur} end
end
local id, n = pick(KEYS[2], ARGV[1], '')
if id == nil then return false end
local raw = assign(KEYS[1], ARGV[1], ARGV[2], id, n)
if cur then return {raw, 'reassigned', cur} end
return {raw, 'assigned', ''}`
	// KEYS: home key, nodes zset. ARGV: node key prefix, home ttl ms,
	// node to move away from. Moves the consultation only when its owner
	// is that node and it is dead or draining, or the owner is dead.
	// Returns {entry JSON, outcome, previous owner}, false (no node to
	// move to) or 0 (no mapping). Outcome: "kept" or "reassigned".
	luaReassign = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local raw = redis.call('GET', ARGV[1] .. cur)
if raw then
  if cur ~= ARGV[3] then return {raw, 'kept', cur} end
  if cjson.decode(raw).state ~= 'draining' then return {raw, 'kept', cur} end
end
local id, n = pick(KEYS[2], ARGV[1], cur)
if id == nil then return false end
return {assign(KEYS[1], ARGV[1], ARGV[2], id, n), 'reassigned', cur}`
	// KEYS: home key. ARGV: owner id. Deletes the mapping only if it
	// still names that owner.
	luaRelease = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
)

// Outcome says what Home or Reassign did.
type Outcome string

const (
	// Kept: the consultation stays with its live owner.
	Kept Outcome = "kept"
	// Assigned: it had no home; the least-loaded serving node got it.
	Assigned Outcome = "assigned"
	// Reassigned: its owner was dead (or, for Reassign, draining); the
	// least-loaded other serving node got it.
	Reassigned Outcome = "reassigned"
)

// Assignment is the home node of a consultation after Home or Reassign.
type Assignment struct {
	Node    Node
	Outcome Outcome
	// Previous is the owner before the call ("" when there was none).
	Previous NodeID
}

// Home returns the home node of consultation, assigning one atomically
// when it has none or its owner is dead (registry entry gone): the live
// serving node with the fewest consultations that is not full (Load.Full,
// load shedding). A draining owner keeps its
// consultations here (Reassign moves them). Of any number of concurrent
// callers on any nodes, all get the same node. ErrNoNode when no serving
// node is alive.
func (r *Registry) Home(ctx context.Context, consultation string) (Assignment, error) {
	v, err := r.home.Run(ctx, r.rdb, []string{r.homeKey(consultation), r.nodesKey()},
		r.cfg.Prefix+KeyNode, r.cfg.HomeTTL.Milliseconds()).Result()
	return r.assignment("home of "+consultation, v, err)
}

// Reassign moves consultation away from node from when from is still its
// owner and is draining or dead (or its owner, whoever it is, is dead),
// to the least-loaded other serving node; otherwise it returns the owner
// unchanged (Outcome Kept). The drain uses it once cluster.drain_timeout
// has passed. ErrNotAssigned when the consultation has no home, ErrNoNode
// when no other serving node is alive.
func (r *Registry) Reassign(ctx context.Context, consultation string, from NodeID) (Assignment, error) {
	v, err := r.reassign.Run(ctx, r.rdb, []string{r.homeKey(consultation), r.nodesKey()},
		r.cfg.Prefix+KeyNode, r.cfg.HomeTTL.Milliseconds(), string(from)).Result()
	if n, ok := v.(int64); err == nil && ok && n == 0 {
		return Assignment{}, fmt.Errorf("reassign %s: %w", consultation, ErrNotAssigned)
	}
	return r.assignment("reassign "+consultation, v, err)
}

func (r *Registry) assignment(op string, v any, err error) (Assignment, error) {
	if errors.Is(err, redis.Nil) {
		return Assignment{}, fmt.Errorf("%s: %w", op, ErrNoNode)
	}
	if err != nil {
		return Assignment{}, fail(op, err)
	}
	reply, ok := v.([]any)
	if !ok || len(reply) != 3 {
		return Assignment{}, fail(op, errors.New("unexpected reply"))
	}
	raw, ok1 := reply[0].(string)
	outcome, ok2 := reply[1].(string)
	prev, ok3 := reply[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return Assignment{}, fail(op, errors.New("unexpected reply"))
	}
	n, err := decodeNode(raw)
	if err != nil {
		return Assignment{}, fmt.Errorf("%s: %w", op, err)
	}
	return Assignment{Node: n, Outcome: Outcome(outcome), Previous: NodeID(prev)}, nil
}

// Owner returns the home node id of consultation without assigning one,
// or ErrNotAssigned. The owner may be dead.
func (r *Registry) Owner(ctx context.Context, consultation string) (NodeID, error) {
	id, err := r.rdb.Get(ctx, r.homeKey(consultation)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("owner of %s: %w", consultation, ErrNotAssigned)
	}
	if err != nil {
		return "", fail("owner of "+consultation, err)
	}
	return NodeID(id), nil
}

// Release forgets consultation's home when it ended, but only if owner is
// still its home (a node that lost it cannot release it for the new one).
// A missing mapping is no error.
func (r *Registry) Release(ctx context.Context, consultation string, owner NodeID) error {
	if err := r.release.Run(ctx, r.rdb, []string{r.homeKey(consultation)}, string(owner)).Err(); err != nil {
		return fail("release "+consultation, err)
	}
	return nil
}
