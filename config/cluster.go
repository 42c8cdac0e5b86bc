package config

import (
	"crypto/rand"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// ClusterConfig makes this node one of many sharing Redis (routing/
// ROUTING.md). Off (the default), the node runs alone and nothing here is
// used. On, the node registers in the registry in Redis and Validate
// refuses everything that would differ between nodes or vanish with one
// (development keys, a per-start TURN secret, a per-node storage key,
// in-memory sessions).
type ClusterConfig struct {
	// Enabled turns cluster mode on.
	Enabled bool `yaml:"enabled"`
	// NodeID names this node in the registry; unique in the cluster.
	// Empty: the host name plus a random suffix, new at every start.
	NodeID string `yaml:"node_id"`
	// InternalURL is where the other nodes reach this node's HTTP server
	// (to relay requests of consultations living here), e.g.
	// http://10.0.0.5:8080. Required in cluster mode.
	InternalURL string `yaml:"internal_url"`
	// Secret signs the requests one node relays to another (the home node
	// of a consultation then believes the client address and scheme the
	// relaying node saw). The same on every node, at least 32 characters;
	// set it with PARLEY_CLUSTER_SECRET. Required in cluster mode.
	Secret string `yaml:"secret"`
	// DrainTimeout is how long a draining node keeps its running calls
	// before they move to other nodes.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// Heartbeat is how often the node refreshes its registry entry; the
	// entry expires after three heartbeats without refresh (the node is
	// then dead to the others).
	Heartbeat time.Duration `yaml:"heartbeat"`
}

func defaultCluster() ClusterConfig {
	return ClusterConfig{DrainTimeout: 15 * time.Minute, Heartbeat: 2 * time.Second}
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// DefaultNodeID is the node id used when cluster.node_id is empty: the
// host name (cut to what a node id may hold) and a random suffix.
func DefaultNodeID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return -1
	}, host)
	host = strings.Trim(host, ".-")
	if len(host) > 40 {
		host = host[:40]
	}
	if host == "" {
		host = "parley"
	}
	return host + "-" + strings.ToLower(rand.Text()[:8])
}

// validateCluster checks the cluster section and, in cluster mode, that
// nothing is left to a per-node or per-start default.
func (c *Config) validateCluster(bad func(key, format string, args ...any)) {
	cl := c.Cluster
	if cl.Heartbeat < 100*time.Millisecond || cl.Heartbeat > time.Minute {
		bad("cluster.heartbeat", "%s is outside 100ms..1m", cl.Heartbeat)
	}
	if cl.DrainTimeout < 0 || cl.DrainTimeout > 24*time.Hour {
		bad("cluster.drain_timeout", "%s is outside 0s..24h", cl.DrainTimeout)
	}
	if cl.NodeID != "" && !nodeIDPattern.MatchString(cl.NodeID) {
		bad("cluster.node_id", "%q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (empty: host name plus a random suffix)", cl.NodeID)
	}
	if !cl.Enabled {
		return
	}
	if u, err := url.Parse(cl.InternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
		bad("cluster.internal_url", "cluster mode needs the URL other nodes reach this node's HTTP server at, e.g. http://10.0.0.5:8080 (no path)")
	}
	if len(cl.Secret) < 32 {
		bad("cluster.secret", "cluster mode needs the secret every node signs relayed requests with, the same on every node and at least 32 characters: set PARLEY_CLUSTER_SECRET, e.g. to $(openssl rand -hex 32)")
	}
	if c.Session.Store != "redis" {
		bad("session.store", "cluster mode needs the shared session store: set session.store to redis and session.redis_url (in-memory sessions are this node's alone)")
	}
	if c.Records.Driver != "postgres" {
		bad("records.driver", "cluster mode needs the shared records: set records.driver to postgres and PARLEY_RECORDS_URL (SQLite is this node's alone: logins, invites and contracts would exist on one node only)")
	}
	if c.Storage.Backend != StorageS3 {
		bad("storage.backend", "cluster mode needs the shared file store: set storage.backend to s3 and storage.s3 (local files download only from the node that stored them)")
	}
	if c.Signature.SealCert == "" || c.Signature.SealKey == "" {
		bad("signature.seal_cert/signature.seal_key", "cluster mode refuses the development seal (generated per node under data_dir/keys): give every node the same production certificate and key files")
	}
	if c.Signature.EscrowPublicKey == "" {
		bad("signature.escrow_public_key", "cluster mode refuses the development escrow key (generated per node, private key on the server): give every node the escrow holder's public key file")
	}
	if c.Storage.Key == "" && c.Storage.KeyFile == "" {
		bad("storage.key/storage.key_file", "cluster mode refuses the development storage key (generated per node under data_dir/keys, so one node could not read another's files): give every node the same key, e.g. PARLEY_STORAGE_KEY=\"k1 $(openssl rand -base64 32)\"")
	}
	if c.TURN.Enabled && c.TURN.Secret == "" {
		bad("turn.secret", "cluster mode refuses a random TURN secret (made per node at every start, so credentials from one node fail on another): set the same secret on every node, e.g. PARLEY_TURN_SECRET=$(openssl rand -hex 32)")
	}
}
