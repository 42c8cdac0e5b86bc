package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs/s3test"
	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records/recordstest"
	"github.com/parley-video/parley/redistest"
	"github.com/parley-video/parley/routing"
	"github.com/parley-video/parley/signaling"
)

// Many nodes in one test process: each a full node on its own loopback
// ports, all sharing one Redis (sessions, registry), one PostgreSQL schema
// (records) and one S3 bucket (files), with the same keys and secrets, as
// configs/cluster.example.yaml describes. Clients talk to chosen nodes
// directly (a load balancer that sent them there).

// clusterNode is one node of a test cluster.
type clusterNode struct {
	*server
	redisURL, prefix string
}

// startCluster starts n cluster nodes; mutate changes every node's
// configuration. The test accounts are created once, in the shared
// records.
func startCluster(t *testing.T, n int, mutate ...func(*config.Config)) []*clusterNode {
	t.Helper()
	redisURL := redistest.URL(t)
	prefix := redistest.Prefix(t, redisURL)
	pgURL := recordstest.PostgresURL(t)
	s3o, _ := s3test.Bucket(t)
	keys := t.TempDir()
	if err := contracts.EnsureDevSeal(keys); err != nil {
		t.Fatal(err)
	}
	if err := contracts.EnsureDevEscrow(keys); err != nil {
		t.Fatal(err)
	}
	storageKey := make([]byte, 32)
	rand.Read(storageKey)
	secret := rand.Text() + rand.Text()

	addrs := make([]string, n)
	bases := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
		bases[i] = "http://" + addrs[i]
	}
	var nodes []*clusterNode
	for i := range n {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.HTTP.Addr = addrs[i]
		cfg.HTTP.PublicURL = bases[0]
		cfg.HTTP.AllowedOrigins = bases
		cfg.Admin.Addr = "127.0.0.1:0"
		cfg.Log.Level = "warn"
		cfg.Company.Name = "Musterbank AG"
		cfg.RTC.UDPPort = 0
		cfg.RTC.TCPPort = -1
		cfg.RTC.ListenIP = "127.0.0.1"
		cfg.RTC.IncludeLoopback = true
		cfg.TURN.Enabled = false
		cfg.Session.Store = "redis"
		cfg.Session.RedisURL = redisURL
		cfg.Session.KeyPrefix = prefix
		cfg.Records.Driver = "postgres"
		cfg.Records.URL = pgURL
		cfg.Storage.Backend = config.StorageS3
		cfg.Storage.S3 = config.S3Config{Endpoint: s3o.Endpoint, Bucket: s3o.Bucket, Region: s3o.Region, Prefix: "parley/",
			AccessKeyID: s3o.AccessKeyID, SecretAccessKey: s3o.SecretAccessKey, PathStyle: true}
		cfg.Storage.Key = "k1 " + base64.StdEncoding.EncodeToString(storageKey)
		cfg.Signature.SealCert = filepath.Join(keys, contracts.DevSealCertFile)
		cfg.Signature.SealKey = filepath.Join(keys, contracts.DevSealKeyFile)
		cfg.Signature.EscrowPublicKey = filepath.Join(keys, contracts.DevEscrowPublicFile)
		cfg.Cluster.Enabled = true
		cfg.Cluster.NodeID = "node-" + string(rune('a'+i))
		cfg.Cluster.InternalURL = bases[i]
		cfg.Cluster.Secret = secret
		cfg.Cluster.Heartbeat = 200 * time.Millisecond
		for _, m := range mutate {
			m(&cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		s := runNode(t, cfg, i == 0, addrs)
		nodes = append(nodes, &clusterNode{server: s, redisURL: redisURL, prefix: prefix})
	}
	return nodes
}

// freeAddr is a free loopback TCP address (for nodes whose internal URL
// must be known before they start).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// at returns u (an invite link) pointing at base instead: the load
// balancer sent the browser to that node.
func at(t *testing.T, u, base string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := url.Parse(base)
	p.Scheme, p.Host = b.Scheme, b.Host
	return p.String()
}

// homedConsultation creates a consultation as the advisor through node 0
// and gives it a home (the first consultation-scoped request does); it
// returns the advisor's client, the id, the invite link and the home's
// index.
func homedConsultation(t *testing.T, ctx context.Context, nodes []*clusterNode, title string) (*callclient.HTTP, string, string, int) {
	t.Helper()
	creator, err := callclient.Staff(ctx, nodes[0].base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(creator.Close)
	id, invite, err := creator.CreateConsultation(ctx, title)
	if err != nil {
		t.Fatal(err)
	}
	if err := creator.Do(ctx, http.MethodGet, "/api/v1/consultations/"+id, nil, http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	return creator, id, invite, homeOf(t, ctx, nodes, id)
}

// homeOf makes consultation id's home known (by asking through node 0)
// and returns its index.
func homeOf(t *testing.T, ctx context.Context, nodes []*clusterNode, id string) int {
	t.Helper()
	owner, err := nodes[0].Registry().Owner(ctx, id)
	if err != nil {
		t.Fatalf("home of %s: %v", id, err)
	}
	for i, n := range nodes {
		if n.Registry().Self().ID == owner {
			return i
		}
	}
	t.Fatalf("home %s is none of the test's nodes", owner)
	return -1
}

// TestClusterCrossNodeCall: the advisor's socket reaches one node, the
// customer's another, and neither is the consultation's home; the call is
// one room on the home node, media flows both ways, files uploaded
// through one node download through another, and "end" pressed through a
// third ends the call on the home node and clears the sessions.
func TestClusterCrossNodeCall(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	_, id, invite, h := homedConsultation(t, ctx, nodes, "Baufinanzierung")
	a, c := (h+1)%3, (h+2)%3
	t.Logf("home %s, advisor via %s, customer via %s", nodes[h].Registry().Self().ID,
		nodes[a].Registry().Self().ID, nodes[c].Registry().Self().ID)

	// The advisor's login on one node works on the others (records in
	// PostgreSQL).
	adv, err := callclient.Staff(ctx, nodes[a].base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	cust, cid, err := callclient.JoinInvite(ctx, at(t, invite, nodes[c].base), "Max Kunde")
	if err != nil {
		t.Fatalf("join through a node that is not home: %v", err)
	}
	defer cust.Close()
	if cid != id {
		t.Fatalf("joined %s, want %s", cid, id)
	}

	ac, cc := admitted(t, ctx, adv, cust, id)
	for i, n := range nodes {
		snap, live := n.Hub.Snapshot(signaling.ConsultationID(id))
		if i == h && (!live || snap.Joined != 2) {
			t.Fatalf("home node: live %v, %+v; want one room with both", live, snap)
		}
		if i != h && live {
			t.Fatalf("node %d holds a room of a consultation living on node %d", i, h)
		}
	}

	mediaBothWays(t, ctx, ac, cc, 200)

	// The advisor's list, asked on any node, shows the call's live counts
	// (from the home node).
	for i, n := range nodes {
		if i == h {
			continue
		}
		staff, err := callclient.Staff(ctx, n.base, advisorName, advisorPassword)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Consultations []struct {
				ID   string `json:"id"`
				Live struct {
					Joined int `json:"joined"`
				} `json:"live"`
			} `json:"consultations"`
		}
		if err := staff.Do(ctx, http.MethodGet, "/api/v1/consultations", nil, http.StatusOK, &list); err != nil {
			t.Fatal(err)
		}
		staff.Close()
		if len(list.Consultations) != 1 || list.Consultations[0].ID != id || list.Consultations[0].Live.Joined != 2 {
			t.Fatalf("list on node %d: %+v, want the call with 2 joined", i, list.Consultations)
		}
	}

	// A file sent through the customer's node downloads through the
	// advisor's (relayed to the home node; stored in S3).
	fid := make([]byte, 16)
	rand.Read(fid)
	fileID := hex.EncodeToString(fid)
	body := []byte("ciphertext-of-a-photo")
	put, _ := http.NewRequestWithContext(ctx, http.MethodPut, nodes[c].base+"/api/v1/consultations/"+id+"/files/"+fileID, strings.NewReader(string(body)))
	if err := doRaw(cust, put, http.StatusCreated, nil); err != nil {
		t.Fatalf("upload through node %d: %v", c, err)
	}
	get, _ := http.NewRequestWithContext(ctx, http.MethodGet, nodes[a].base+"/api/v1/consultations/"+id+"/files/"+fileID, nil)
	var got []byte
	if err := doRaw(adv, get, http.StatusOK, &got); err != nil || string(got) != string(body) {
		t.Fatalf("download through node %d: %v %q", a, err, got)
	}

	// End, pressed through the third node... here the advisor's node,
	// which is not home either.
	if err := adv.End(ctx, id); err != nil {
		t.Fatalf("end through a node that is not home: %v", err)
	}
	for name, cl := range map[string]*callclient.Client{"advisor": ac, "customer": cc} {
		select {
		case <-cl.Done():
			if st := cl.CloseStatus(); st != 4004 {
				t.Errorf("%s's socket closed with %d, want 4004 (ended)", name, st)
			}
		case <-ctx.Done():
			t.Fatalf("%s's socket stays open after the end", name)
		}
	}
	if _, live := nodes[h].Hub.Snapshot(signaling.ConsultationID(id)); live {
		t.Fatal("the home node still holds the room")
	}
	if _, err := callclient.Dial(ctx, cust, id, callclient.Options{Name: "customer again"}); err == nil {
		t.Fatal("the customer's session still opens the call after the end")
	}
	if left := redisKeys(t, ctx, nodes[h], "consultation:"+id+":*"); len(left) != 0 {
		t.Fatalf("session keys of the ended consultation remain: %v", left)
	}
}

// mediaBothWays: both publish; numbered packets arrive on the other side.
func mediaBothWays(t *testing.T, ctx context.Context, x, y *callclient.Client, packets int) {
	t.Helper()
	xa, xv, err := x.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ya, yv, err := y.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopX := callclient.StartPump([]*callclient.LocalTrack{xa, xv}, 20*time.Millisecond)
	stopY := callclient.StartPump([]*callclient.LocalTrack{ya, yv}, 20*time.Millisecond)
	for _, w := range []struct {
		rx  *callclient.Client
		pub callclient.ID
	}{{x, y.Self()}, {y, x.Self()}} {
		for _, tr := range []string{"mic", "cam"} {
			if _, err := w.rx.WaitTrack(ctx, stream(w.pub, tr)); err != nil {
				t.Fatal(err)
			}
		}
	}
	stopX()
	stopY()
	sendAll(t, ctx, packets, 5*time.Millisecond, map[string][]*callclient.LocalTrack{"x": {xa, xv}, "y": {ya, yv}})
	receivesAll(t, ctx, "x", x, []string{stream(y.Self(), "mic"), stream(y.Self(), "cam")}, packets)
	receivesAll(t, ctx, "y", y, []string{stream(x.Self(), "mic"), stream(x.Self(), "cam")}, packets)
}

// doRaw sends req with h's cookies, CSRF token and Origin and checks the
// status; out, if set, receives the body.
func doRaw(h *callclient.HTTP, req *http.Request, want int, out *[]byte) error {
	resp, err := h.Raw(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return errors.New(resp.Status + ": " + string(b))
	}
	if out != nil {
		*out = b
	}
	return nil
}

// TestClusterEndedElsewhere: what happens on a node that does not hold a
// consultation's room reaches its home node: the advisor switching to
// away and back tells the waiting customer, and the consultation ended
// there (expiry, retention, the CLI run there) ends on the home node too,
// the customer's socket closing with "ended".
func TestClusterEndedElsewhere(t *testing.T) {
	nodes := startCluster(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	adv, err := callclient.Staff(ctx, nodes[0].base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	id, invite, err := adv.CreateConsultation(ctx, "Kfz")
	if err != nil {
		t.Fatal(err)
	}
	cust, _, err := callclient.JoinInvite(ctx, invite, "Max Kunde")
	if err != nil {
		t.Fatal(err)
	}
	defer cust.Close()
	cc, err := callclient.Dial(ctx, cust, id, clientOpts(t, "customer"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	h := homeOf(t, ctx, nodes, id)
	other := nodes[1-h]

	// The advisor switches to away and back through the node that does not
	// hold the room: the waiting customer is told both times.
	advOther, err := callclient.Staff(ctx, other.base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer advOther.Close()
	for _, away := range []bool{true, false} {
		if err := advOther.Do(ctx, http.MethodPut, "/api/v1/me/availability", map[string]bool{"available": !away}, http.StatusOK, nil); err != nil {
			t.Fatal(err)
		}
		if err := cc.WaitAdvisorAway(ctx, away); err != nil {
			t.Fatalf("the customer on the home node is not told the advisor is away=%v: %v", away, err)
		}
	}

	if _, err := other.Consultations.End(ctx, consultation.ID(id)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cc.Done():
		if st := cc.CloseStatus(); st != 4004 {
			t.Fatalf("closed with %d, want 4004", st)
		}
	case <-ctx.Done():
		t.Fatal("the call on the home node goes on after another node ended the consultation")
	}
	// The home node releases the mapping right after closing the room.
	waitFor(t, ctx, "the home mapping to be released", func() bool {
		_, err := nodes[h].Registry().Owner(ctx, id)
		return errors.Is(err, routing.ErrNotAssigned)
	})
}

// TestClusterDrain: SIGTERM to the home node keeps its call going and
// sends new consultations elsewhere; when the drain timeout passes, the
// call moves: both reconnect through the other node and are back in the
// same call with the same participant ids, media flowing. A draining node
// with nobody left exits at once with no error.
func TestClusterDrain(t *testing.T) {
	const drain = 8 * time.Second
	nodes := startCluster(t, 2, func(c *config.Config) { c.Cluster.DrainTimeout = drain })
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	_, id, invite, h := homedConsultation(t, ctx, nodes, "Umzug")
	o := 1 - h
	home, other := nodes[h], nodes[o]

	// Both come in through the other node (relayed to the home node).
	adv, err := callclient.Staff(ctx, other.base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	cust, _, err := callclient.JoinInvite(ctx, at(t, invite, other.base), "Max Kunde")
	if err != nil {
		t.Fatal(err)
	}
	defer cust.Close()
	ac, cc := admitted(t, ctx, adv, cust, id)
	advID, custID := ac.Self(), cc.Self()

	stopped := make(chan error, 1)
	go func() { stopped <- home.stop() }()
	waitFor(t, ctx, "the home node to say it is draining", func() bool {
		n, err := other.Registry().Node(ctx, home.Registry().Self().ID)
		return err == nil && n.State == routing.StateDraining
	})
	// The call goes on while the node drains ...
	mediaBothWays(t, ctx, ac, cc, 50)
	// ... and a new consultation goes to the other node.
	id2, _, err := adv.CreateConsultation(ctx, "Neu")
	if err != nil {
		t.Fatal(err)
	}
	if err := adv.Do(ctx, http.MethodGet, "/api/v1/consultations/"+id2, nil, http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	if got := homeOf(t, ctx, nodes, id2); got != o {
		t.Fatalf("a new consultation went to the draining node")
	}

	// The drain timeout passes: the sockets close, the call moves.
	<-cc.Done()
	closedAt := time.Now()
	<-ac.Done()
	if st := cc.CloseStatus(); st == 4004 {
		t.Fatal("the call ended instead of moving")
	}
	ac2, err := redial(ctx, adv, id, "advisor")
	if err != nil {
		t.Fatal(err)
	}
	defer ac2.Close()
	cc2, err := redial(ctx, cust, id, "customer")
	if err != nil {
		t.Fatal(err)
	}
	defer cc2.Close()
	if ac2.Self() != advID || cc2.Self() != custID {
		t.Fatalf("ids after the move: advisor %s (was %s), customer %s (was %s)", ac2.Self(), advID, cc2.Self(), custID)
	}
	if err := cc2.WaitState(ctx, callclient.StateJoined); err != nil {
		t.Fatalf("the customer is not back in the call: %v", err)
	}
	mediaBothWays(t, ctx, ac2, cc2, 50)
	t.Logf("MEASURE drain move: media again %v after the sockets closed", time.Since(closedAt).Round(time.Millisecond))
	if _, live := other.Hub.Snapshot(signaling.ConsultationID(id)); !live {
		t.Fatal("the call is not on the other node")
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("the drained node stopped with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the drained node did not stop")
	}

	// Nobody left: a draining node stops without waiting for its timeout.
	ac2.Close()
	cc2.Close()
	if err := adv.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := other.stop(); err != nil {
		t.Fatalf("empty node stopped with %v", err)
	}
	if d := time.Since(start); d > drain {
		t.Fatalf("an empty node took %v to drain (timeout %v)", d, drain)
	}
}

// admitted dials both, lets the advisor admit the customer and waits
// until both are in the call.
func admitted(t *testing.T, ctx context.Context, adv, cust *callclient.HTTP, id string) (ac, cc *callclient.Client) {
	t.Helper()
	ac, err := callclient.Dial(ctx, adv, id, clientOpts(t, "advisor"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ac.Close)
	cc, err = callclient.Dial(ctx, cust, id, clientOpts(t, "customer"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Close)
	if err := ac.WaitRoster(ctx, func(ps []callclient.Participant) bool {
		for _, p := range ps {
			if p.ID == cc.Self() && p.State == callclient.StateWaiting {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the advisor does not see the waiting customer: %v", err)
	}
	if err := ac.Admit(ctx, cc.Self()); err != nil {
		t.Fatal(err)
	}
	if err := cc.WaitState(ctx, callclient.StateJoined); err != nil {
		t.Fatal(err)
	}
	return ac, cc
}

// redial reconnects as a browser does after its socket closed: again and
// again (the relay answers 503 while no node holds the call) until the
// welcome arrives.
func redial(ctx context.Context, h *callclient.HTTP, id, name string) (*callclient.Client, error) {
	for {
		c, err := callclient.Dial(ctx, h, id, callclient.Options{Name: name})
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// redisKeys lists the node's Redis keys matching pattern (after the key
// prefix).
func redisKeys(t *testing.T, ctx context.Context, n *clusterNode, pattern string) []string {
	t.Helper()
	rdb, err := routing.Dial(ctx, n.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, n.prefix+pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestClusterRelayedJoinCost measures what relaying costs a customer's
// join: the time from opening the invite (GET, then POST join) to the
// welcome on the protocol WebSocket, through the home node and through
// another node, alternating, pion clients on loopback. It checks only
// that every join works; the medians are logged for the README.
func TestClusterRelayedJoinCost(t *testing.T) {
	nodes := startCluster(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	adv, err := callclient.Staff(ctx, nodes[0].base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	const rounds = 15
	var direct, relayed []time.Duration
	for i := range 2 * rounds {
		id, invite, err := adv.CreateConsultation(ctx, "Messung")
		if err != nil {
			t.Fatal(err)
		}
		if err := adv.Do(ctx, http.MethodGet, "/api/v1/consultations/"+id, nil, http.StatusOK, nil); err != nil {
			t.Fatal(err)
		}
		h := homeOf(t, ctx, nodes, id)
		via := h
		if i%2 == 1 {
			via = 1 - h
		}
		start := time.Now()
		cust, _, err := callclient.JoinInvite(ctx, at(t, invite, nodes[via].base), "Max Kunde")
		if err != nil {
			t.Fatal(err)
		}
		c, err := callclient.Dial(ctx, cust, id, callclient.Options{Name: "customer"})
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		cust.Close()
		if via == h {
			direct = append(direct, took)
		} else {
			relayed = append(relayed, took)
		}
		if err := adv.End(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	md, mr := median(direct), median(relayed)
	t.Logf("MEASURE join to welcome, p50 of %d: on the home node %v, relayed %v (+%v)", rounds,
		md.Round(100*time.Microsecond), mr.Round(100*time.Microsecond), (mr - md).Round(100*time.Microsecond))
}
