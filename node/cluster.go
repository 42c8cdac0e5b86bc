package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/routing"
	"github.com/parley-video/parley/signaling"
	"github.com/redis/go-redis/v9"
)

// cluster is this node's membership in the cluster registry (cluster
// mode only; routing/ROUTING.md). Requests are not relayed yet: the
// registry is written and kept alive, nothing reads it on the request
// path.
type cluster struct {
	rdb *redis.Client
	reg *routing.Registry
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
		return routing.Load{Consultations: c, Participants: p}
	}
	rcfg := routing.Config{
		Prefix:    cfg.Session.KeyPrefix,
		Heartbeat: cfg.Cluster.Heartbeat,
		HomeTTL:   cfg.Consultation.MaxDuration + cfg.Session.GracePeriod,
	}
	return &cluster{rdb: rdb, reg: routing.New(rdb, rcfg, self, load, log)}, nil
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
	return errors.Join(err, c.rdb.Close())
}

// Registry is the node's cluster registry, nil unless cluster.enabled.
func (n *Node) Registry() *routing.Registry {
	if n.cluster == nil {
		return nil
	}
	return n.cluster.reg
}
