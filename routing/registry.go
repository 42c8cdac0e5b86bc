// Package routing keeps the cluster's shared routing state in Redis: the
// registry of live nodes (expiring entries each node refreshes) and which
// node is the home of each consultation (assigned atomically by a Lua
// script, moved only when its owner is dead or draining). Key layout and
// what is built: ROUTING.md.
//
// It is modelled on LiveKit's pkg/routing (a node registry and a room →
// node map in Redis), with two differences: a node's entry is its own key
// with a TTL (a node that stops refreshing disappears by itself, no
// cleaner needed), and the consultation → node map is written only by
// scripts, so nodes racing to assign or move a consultation agree. There
// is no cluster protocol of our own: Redis is the one arbiter.
package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// NodeID names one Parley node in the cluster (cluster.node_id).
type NodeID string

// NodeState says whether a node takes new consultations.
type NodeState string

const (
	// StateServing: the node takes new consultations.
	StateServing NodeState = "serving"
	// StateDraining: the node keeps its running consultations but takes
	// no new ones.
	StateDraining NodeState = "draining"
)

// Load is what a node carries; new consultations go to the serving node
// with the fewest consultations (then participants) that is not full.
type Load struct {
	Consultations int `json:"consultations"`
	Participants  int `json:"participants"`
	// Full: the node is at its forwarding headroom (rtc.max_participants);
	// it takes no new consultations (load shedding), its calls go on.
	Full bool `json:"full,omitempty"`
}

// Node is one registry entry. It is stored as flat JSON (the Lua scripts
// read state and consultations, and bump consultations on assignment).
type Node struct {
	ID NodeID `json:"id"`
	// InternalURL is where other nodes relay requests to this node, e.g.
	// http://10.0.0.5:8080.
	InternalURL string `json:"internal_url"`
	// MediaAddr is the public IP and UDP port browsers send media to.
	MediaAddr string    `json:"media_addr"`
	State     NodeState `json:"state"`
	Load
	Version string    `json:"version"`
	Started time.Time `json:"started"`
}

// Errors.
var (
	// ErrNoNode: no live serving node could take the consultation (or the
	// named node is not in the registry).
	ErrNoNode = errors.New("routing: no live serving node")
	// ErrNotAssigned: the consultation has no home node.
	ErrNotAssigned = errors.New("routing: consultation has no home node")
	// ErrUnavailable wraps every failure to ask Redis.
	ErrUnavailable = errors.New("routing: redis unavailable")
)

// Config tunes the registry; zero fields take the defaults below.
type Config struct {
	// Prefix starts every key (session.key_prefix, e.g. "parley:").
	Prefix string
	// Heartbeat is how often a node refreshes its entry (default 2 s).
	Heartbeat time.Duration
	// TTL is how long an entry lives without refresh: after it a node is
	// dead (default 3 × Heartbeat).
	TTL time.Duration
	// HomeTTL bounds a consultation → node mapping (default 8 h; set it to
	// consultation.max_duration plus the grace period).
	HomeTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.TTL <= 0 {
		c.TTL = 3 * c.Heartbeat
	}
	if c.HomeTTL <= 0 {
		c.HomeTTL = 8 * time.Hour
	}
	return c
}

// Registry is this node's view of, and entry in, the cluster registry.
// Its methods are safe for concurrent use.
type Registry struct {
	rdb  redis.UniversalClient
	cfg  Config
	log  *slog.Logger
	load func() Load // this node's current load; may be nil

	heartbeat, unregister, home, reassign, release *redis.Script

	mu   sync.Mutex
	self Node

	runMu  sync.Mutex
	cancel context.CancelFunc // of the heartbeat goroutine; nil when stopped
	done   chan struct{}
}

// New returns the registry for node self (its ID, InternalURL, MediaAddr,
// Version; State and Started are set here). load reports the node's load
// at each heartbeat. Nothing is written until Start.
func New(rdb redis.UniversalClient, cfg Config, self Node, load func() Load, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	self.State = StateServing
	if self.Started.IsZero() {
		self.Started = time.Now().UTC().Truncate(time.Second)
	}
	return &Registry{
		rdb: rdb, cfg: cfg.withDefaults(), log: log, load: load, self: self,
		heartbeat:  redis.NewScript(luaHeartbeat),
		unregister: redis.NewScript(luaUnregister),
		home:       redis.NewScript(luaPick + luaHome),
		reassign:   redis.NewScript(luaPick + luaReassign),
		release:    redis.NewScript(luaRelease),
	}
}

// Timeouts of the Redis client made by Dial; callers bound calls by ctx.
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second
)

// Dial connects to the Redis at url (redis:// or rediss://) and checks it
// with a PING bounded by ctx.
func Dial(ctx context.Context, url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: do not quote it.
		return nil, errors.New("routing: not a valid redis:// or rediss:// URL")
	}
	opt.Protocol = 2
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DialTimeout = dialTimeout
	opt.ReadTimeout = ioTimeout
	opt.WriteTimeout = ioTimeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = 1
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w: %w", opt.Addr, ErrUnavailable, err)
	}
	return rdb, nil
}

// Key names.
func (r *Registry) nodeKey(id NodeID) string { return r.cfg.Prefix + KeyNode + string(id) }
func (r *Registry) nodesKey() string         { return r.cfg.Prefix + KeyNodes }
func (r *Registry) homeKey(consultation string) string {
	return r.cfg.Prefix + KeyHome + consultation
}

func fail(op string, err error) error {
	return fmt.Errorf("routing %s: %w: %w", op, ErrUnavailable, err)
}

// Self returns this node's entry as it will be written next.
func (r *Registry) Self() Node {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.self
}

// Prefix is the key prefix of this cluster's Redis keys (and channels).
func (r *Registry) Prefix() string { return r.cfg.Prefix }

// Register writes this node's entry now (with its current load), valid
// for TTL.
func (r *Registry) Register(ctx context.Context) error {
	r.mu.Lock()
	if r.load != nil {
		r.self.Load = r.load()
	}
	n := r.self
	r.mu.Unlock()
	raw, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("routing: encode node: %w", err)
	}
	keys := []string{r.nodeKey(n.ID), r.nodesKey()}
	if err := r.heartbeat.Run(ctx, r.rdb, keys, string(raw), r.cfg.TTL.Milliseconds(), string(n.ID)).Err(); err != nil {
		return fail("register node", err)
	}
	return nil
}

// Start registers the node and refreshes its entry every Heartbeat until
// Stop. A failed refresh is logged and retried at the next beat (the
// entry expires if Redis stays away longer than TTL).
func (r *Registry) Start(ctx context.Context) error {
	if err := r.Register(ctx); err != nil {
		return err
	}
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.cancel != nil {
		return nil
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(hctx, r.done)
	return nil
}

func (r *Registry) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			bctx, cancel := context.WithTimeout(ctx, r.cfg.Heartbeat)
			err := r.Register(bctx)
			cancel()
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				failing = true
				r.log.Warn("cluster registry heartbeat failed", "err", err)
			case err == nil && failing:
				failing = false
				r.log.Info("cluster registry heartbeat works again")
			}
		}
	}
}

// stopHeartbeat ends the heartbeat goroutine without touching the entry
// (as a crash would). Idempotent.
func (r *Registry) stopHeartbeat() {
	r.runMu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Stop ends the heartbeat and removes this node's entry, so that no new
// consultation is sent to it and its consultations may move at once.
// Idempotent.
func (r *Registry) Stop(ctx context.Context) error {
	r.stopHeartbeat()
	id := r.Self().ID
	if err := r.unregister.Run(ctx, r.rdb, []string{r.nodeKey(id), r.nodesKey()}, string(id)).Err(); err != nil {
		return fail("unregister node", err)
	}
	return nil
}

// SetDraining marks this node draining and writes that at once: it gets
// no new consultations; Home keeps its existing ones here until it is
// dead or they are moved with Reassign (after cluster.drain_timeout).
func (r *Registry) SetDraining(ctx context.Context) error {
	r.mu.Lock()
	r.self.State = StateDraining
	r.mu.Unlock()
	return r.Register(ctx)
}

// Nodes lists the live nodes (entries not expired), by id.
func (r *Registry) Nodes(ctx context.Context) ([]Node, error) {
	ids, err := r.rdb.ZRange(ctx, r.nodesKey(), 0, -1).Result()
	if err != nil {
		return nil, fail("list nodes", err)
	}
	if len(ids) == 0 {
		return []Node{}, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.nodeKey(NodeID(id))
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fail("list nodes", err)
	}
	out := make([]Node, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // expired; the zset member goes at the next heartbeat
		}
		n, err := decodeNode(s)
		if err != nil {
			r.log.Warn("cluster registry: unreadable node entry skipped", "err", err)
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// Node returns the live node id, or ErrNoNode.
func (r *Registry) Node(ctx context.Context, id NodeID) (Node, error) {
	s, err := r.rdb.Get(ctx, r.nodeKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return Node{}, fmt.Errorf("node %s: %w", id, ErrNoNode)
	}
	if err != nil {
		return Node{}, fail("get node", err)
	}
	return decodeNode(s)
}

func decodeNode(s string) (Node, error) {
	var n Node
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		return Node{}, fmt.Errorf("routing: decode node entry: %w", err)
	}
	return n, nil
}
