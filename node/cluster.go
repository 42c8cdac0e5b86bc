package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/relay"
	"github.com/parley-video/parley/routing"
	"github.com/parley-video/parley/signaling"
	"github.com/redis/go-redis/v9"
)

// cluster is this node's membership in the cluster (cluster mode only;
// routing/ROUTING.md): its registry entry, the relay that sends
// consultation-scoped requests to their home nodes, and the event channel
// on which a node that ended a consultation tells its home node.
type cluster struct {
	rdb   *redis.Client
	reg   *routing.Registry
	relay *relay.Relay
	log   *slog.Logger

	draining atomic.Bool
}

// eventsChannel is the Redis pub/sub channel of cluster events (after the
// key prefix).
const eventsChannel = "events"

// event is one message on the events channel.
type event struct {
	// Ended names a consultation that was ended (by staff, expiry,
	// retention or the CLI) on node From: its home node closes the room.
	Ended string `json:"ended,omitempty"`
	// AdvisorAway names a consultation whose advisor switched their
	// availability on node From; Away is the new state. The node holding
	// the room tells its customers.
	AdvisorAway string         `json:"advisorAway,omitempty"`
	Away        bool           `json:"away,omitempty"`
	From        routing.NodeID `json:"from"`
}

// publishAway tells the other nodes that the advisor of consultation id
// is now away (or back).
func (c *cluster) publishAway(ctx context.Context, id string, away bool) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeConnectTimeout)
	defer cancel()
	b, _ := json.Marshal(event{AdvisorAway: id, Away: away, From: c.reg.Self().ID})
	if err := c.rdb.Publish(ctx, c.reg.Prefix()+eventsChannel, b).Err(); err != nil {
		c.log.Warn("cluster: publish advisor availability", "consultation", id, "err", err)
	}
}

// publishEnded tells the other nodes that consultation id ended here, and
// gives up its home mapping if this node was its home.
func (c *cluster) publishEnded(ctx context.Context, id string) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeConnectTimeout)
	defer cancel()
	self := c.reg.Self().ID
	b, _ := json.Marshal(event{Ended: id, From: self})
	if err := c.rdb.Publish(ctx, c.reg.Prefix()+eventsChannel, b).Err(); err != nil {
		c.log.Warn("cluster: publish end of consultation", "consultation", id, "err", err)
	}
	if err := c.reg.Release(ctx, id, self); err != nil {
		c.log.Debug("cluster: release home", "consultation", id, "err", err)
	}
}

// listen acts on the other nodes' events until ctx is done: a consultation
// ended elsewhere is ended in this node's hub if the hub holds its room.
// go-redis resubscribes by itself after a Redis outage; an end missed
// meanwhile is caught by the room's own check of its record (expiry) or
// the next connect (the record is ended).
func (c *cluster) listen(ctx context.Context, hub *signaling.Hub) {
	sub := c.rdb.Subscribe(ctx, c.reg.Prefix()+eventsChannel)
	defer sub.Close()
	self := c.reg.Self().ID
	ch := sub.Channel(redis.WithChannelHealthCheckInterval(10 * time.Second))
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			var ev event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil || ev.From == self {
				continue
			}
			if ev.AdvisorAway != "" {
				hub.SetAdvisorAway(signaling.ConsultationID(ev.AdvisorAway), ev.Away)
			}
			if ev.Ended != "" {
				id := signaling.ConsultationID(ev.Ended)
				if _, live := hub.Snapshot(id); live {
					c.log.Info("cluster: consultation ended on another node", "consultation", id, "node", ev.From)
					hub.End(ctx, id)
					if err := c.reg.Release(ctx, ev.Ended, self); err != nil {
						c.log.Debug("cluster: release home", "consultation", id, "err", err)
					}
				}
			}
		}
	}
}

// drain runs when the node is asked to stop (SIGTERM): it tells the
// registry it is draining (no new consultations come here; /readyz says
// so, so load balancers send no new browsers), keeps serving its calls
// until none has a participant left (and at least hold) or
// cluster.drain_timeout passed, then
// moves the consultations still here to other serving nodes. Their
// participants reconnect through any node (the sockets close with 1001
// when the node shuts down) and are relayed to the new home, which
// restores them from the session store under the same ids.
func (c *cluster) drain(ctx context.Context, hub *signaling.Hub, timeout, hold time.Duration) {
	c.draining.Store(true)
	if err := c.reg.SetDraining(ctx); err != nil {
		c.log.Warn("cluster: mark draining", "err", err)
	}
	_, people := hub.Load()
	c.log.Info("draining", "participants", people, "drain_timeout", timeout)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Even with nobody left, serve on for hold, so that load balancers
	// (asking /readyz) and the other nodes (reading the registry) stop
	// sending requests before the listener closes.
	held := time.NewTimer(min(hold, timeout))
	defer held.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	holding := true
	for people > 0 || holding {
		select {
		case <-deadline.C:
			c.moveAway(ctx, hub)
			return
		case <-held.C:
			holding = false
		case <-tick.C:
			_, people = hub.Load()
		}
	}
	c.log.Info("drained: no participant left")
}

// moveAway reassigns every consultation this node still holds to another
// serving node.
func (c *cluster) moveAway(ctx context.Context, hub *signaling.Hub) {
	self := c.reg.Self().ID
	for _, id := range hub.Rooms() {
		a, err := c.reg.Reassign(ctx, string(id), self)
		if err != nil {
			c.log.Warn("cluster: move consultation", "consultation", id, "err", err)
			continue
		}
		c.log.Info("drain timeout: consultation moves", "consultation", id, "to", a.Node.ID, "outcome", a.Outcome)
	}
}

// newCluster connects the registry's own Redis client (cluster mode
// requires session.store redis, Validate checks it). Nothing is written
// before start.
func newCluster(ctx context.Context, cfg config.Config, hub *signaling.Hub, mediaAddr string, log *slog.Logger) (*cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, storeConnectTimeout)
	defer cancel()
	rdb, err := routing.Dial(ctx, cfg.Session.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("cluster registry (session.redis_url): %w", err)
	}
	id := cfg.Cluster.NodeID
	if id == "" {
		id = config.DefaultNodeID()
	}
	self := routing.Node{
		ID:          routing.NodeID(id),
		InternalURL: cfg.Cluster.InternalURL,
		MediaAddr:   publicMediaAddr(cfg.RTC.PublicIP, mediaAddr),
		Version:     buildVersion(),
	}
	load := func() routing.Load {
		c, p := hub.Load()
		return routing.Load{Consultations: c, Participants: p, Full: hub.Full()}
	}
	rcfg := routing.Config{
		Prefix:    cfg.Session.KeyPrefix,
		Heartbeat: cfg.Cluster.Heartbeat,
		HomeTTL:   cfg.Consultation.MaxDuration + cfg.Session.GracePeriod,
	}
	reg := routing.New(rdb, rcfg, self, load, log)
	return &cluster{rdb: rdb, reg: reg, relay: relay.New(reg, cfg.Cluster.Secret, log), log: log}, nil
}

// publicMediaAddr is the media address browsers use: rtc.public_ip with
// the bound UDP port, else the bound address.
func publicMediaAddr(publicIP, bound string) string {
	if publicIP == "" {
		return bound
	}
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	return net.JoinHostPort(publicIP, port)
}

// buildVersion is the module version and VCS revision of this binary.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

// close stops the heartbeat, removes this node's entry and closes the
// Redis client. Safe on nil.
func (c *cluster) close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	err := c.reg.Stop(ctx)
	c.relay.Close()
	return errors.Join(err, c.rdb.Close())
}

// Registry is the node's cluster registry, nil unless cluster.enabled.
func (n *Node) Registry() *routing.Registry {
	if n.cluster == nil {
		return nil
	}
	return n.cluster.reg
}
