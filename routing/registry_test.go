package routing

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"

	"github.com/redis/go-redis/v9"
)

// The tests use the Redis in PARLEY_TEST_REDIS_URL (scripts/test.sh starts
// a throwaway one), each under its own random key prefix, deleted with
// SCAN + DEL afterwards (never FLUSH*).

func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	url = redistest.URL(t)
	return url, redistest.Prefix(t, url)
}

// client is one node's own connection pool (as separate processes have).
func client(t *testing.T, url string) *redis.Client {
	t.Helper()
	rdb, err := Dial(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// newNode makes a registry for node id with a fixed load.
func newNode(t *testing.T, rdb redis.UniversalClient, cfg Config, id string, load Load) *Registry {
	t.Helper()
	r := New(rdb, cfg, Node{ID: NodeID(id), InternalURL: "http://" + id + ".internal:8080", MediaAddr: "192.0.2.1:50000", Version: "test"},
		func() Load { return load }, nil)
	t.Cleanup(func() { r.stopHeartbeat() })
	return r
}

func register(t *testing.T, rs ...*Registry) {
	t.Helper()
	for _, r := range rs {
		if err := r.Register(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(ns []Node) []NodeID {
	out := make([]NodeID, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

// eventually polls cond every 20 ms for up to 10 s (generous: the machine
// is shared and slow).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A node's entry holds what it registered; the heartbeat keeps it alive
// past its TTL; a node that stops refreshing (a crash) disappears after
// the TTL by itself; Stop removes the entry at once.
func TestRegistryHeartbeatAndExpiry(t *testing.T) {
	url, prefix := testRedis(t)
	cfg := Config{Prefix: prefix, Heartbeat: 50 * time.Millisecond, TTL: 400 * time.Millisecond}
	a := newNode(t, client(t, url), cfg, "a", Load{Consultations: 2, Participants: 5})
	b := newNode(t, client(t, url), cfg, "b", Load{})
	ctx := t.Context()
	for _, r := range []*Registry{a, b} {
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := b.Nodes(ctx)
	if err != nil || len(ns) != 2 {
		t.Fatalf("Nodes = %v, %v", ns, err)
	}
	got := ns[0]
	if got.ID != "a" || got.InternalURL != "http://a.internal:8080" || got.MediaAddr != "192.0.2.1:50000" ||
		got.State != StateServing || got.Consultations != 2 || got.Participants != 5 || got.Version != "test" || got.Started.IsZero() {
		t.Fatalf("entry of a = %+v", got)
	}
	// Alive for several TTLs thanks to the heartbeat.
	for range 3 {
		time.Sleep(cfg.TTL)
		if _, err := b.Node(ctx, "a"); err != nil {
			t.Fatalf("a expired although it refreshes: %v", err)
		}
	}
	// a crashes: no more refreshes, no unregister.
	a.stopHeartbeat()
	eventually(t, "a's entry to expire", func() bool {
		ns, err := b.Nodes(ctx)
		return err == nil && len(ns) == 1 && ns[0].ID == "b"
	})
	if _, err := b.Node(ctx, "a"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Node(a) after expiry: %v", err)
	}
	// b stops cleanly: gone at once, and the heartbeat does not bring it
	// back.
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	time.Sleep(3 * cfg.Heartbeat)
	if ns, err := a.Nodes(ctx); err != nil || len(ns) != 0 {
		t.Fatalf("Nodes after Stop = %v, %v", ns, err)
	}
	// Every key the registry wrote has a TTL.
	rdb := client(t, url)
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if ttl, _ := rdb.PTTL(ctx, k).Result(); ttl <= 0 {
			t.Fatalf("key %s has no TTL (%v)", k, ttl)
		}
	}
}

// New consultations go to the serving node with the fewest consultations,
// then participants; draining and dead nodes get none; each assignment
// counts at once, so assignments between heartbeats spread out.
func TestHomeLeastLoaded(t *testing.T) {
	url, prefix := testRedis(t)
	cfg := Config{Prefix: prefix, TTL: time.Minute}
	rdb := client(t, url)
	ctx := t.Context()
	a := newNode(t, rdb, cfg, "a", Load{Consultations: 3, Participants: 6})
	b := newNode(t, rdb, cfg, "b", Load{Consultations: 1, Participants: 4})
	c := newNode(t, rdb, cfg, "c", Load{Consultations: 1, Participants: 2})
	d := newNode(t, rdb, cfg, "d", Load{}) // idle, but draining
	e := newNode(t, rdb, cfg, "e", Load{}) // idle, but dead
	register(t, a, b, c, d, e)
	if err := d.SetDraining(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Node(ctx, "d"); err != nil || n.State != StateDraining {
		t.Fatalf("d = %+v, %v", n, err)
	}

	as, err := a.Home(ctx, "c1")
	if err != nil || as.Node.ID != "c" || as.Outcome != Assigned || as.Previous != "" {
		t.Fatalf("Home(c1) = %+v, %v; want c (fewest consultations, then participants)", as, err)
	}
	// The script rewrote c's entry: only the count changed.
	if n, _ := a.Node(ctx, "c"); n.Consultations != 2 || n.Participants != 2 || n.InternalURL != "http://c.internal:8080" ||
		n.MediaAddr != "192.0.2.1:50000" || n.State != StateServing || n.Version != "test" || !n.Started.Equal(c.Self().Started) {
		t.Fatalf("c's entry after the assignment: %+v", n)
	}
	if as.Node.Consultations != 2 || as.Node.InternalURL != "http://c.internal:8080" {
		t.Fatalf("assignment's node: %+v", as.Node)
	}
	// Asking again, from any node, keeps it.
	if as, err := b.Home(ctx, "c1"); err != nil || as.Node.ID != "c" || as.Outcome != Kept {
		t.Fatalf("Home(c1) again = %+v, %v", as, err)
	}
	// Now b and c carry 1 and 2: b (1), then b or c by participants...
	// assign 6 more and count: a, b, c end level; d and e get none.
	count := map[NodeID]int{}
	for i := range 6 {
		as, err := c.Home(ctx, fmt.Sprintf("n%d", i))
		if err != nil {
			t.Fatal(err)
		}
		count[as.Node.ID]++
	}
	ns, err := a.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.ID == "d" {
			if n.Consultations != 0 || count["d"] != 0 {
				t.Fatalf("the draining node got consultations: %+v %v", n, count)
			}
			continue
		}
		if n.Consultations != 4 {
			t.Fatalf("after 7 assignments loads should be level at 4: %+v (assigned %v)", ns, count)
		}
	}
	if count["e"] != 0 || count["a"] != 1 || count["b"] != 3 || count["c"] != 2 {
		t.Fatalf("assignments %v", count)
	}
	// A heartbeat writes the node's real load again.
	register(t, c)
	if n, _ := a.Node(ctx, "c"); n.Consultations != 1 {
		t.Fatalf("c after its heartbeat: %+v", n)
	}

	// No serving node: ErrNoNode.
	for _, r := range []*Registry{a, b, c} {
		if err := r.SetDraining(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Home(ctx, "lonely"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Home with only draining nodes: %v", err)
	}
}

// Many goroutines on two nodes' own connections ask for the home of the
// same consultations at once: they all get the same node, and each
// consultation is assigned exactly once. When the owner dies, the racing
// reassignments agree too.
func TestHomeRace(t *testing.T) {
	url, prefix := testRedis(t)
	cfg := Config{Prefix: prefix, TTL: time.Minute}
	ctx := t.Context()
	regs := []*Registry{
		newNode(t, client(t, url), cfg, "a", Load{}),
		newNode(t, client(t, url), cfg, "b", Load{}),
		newNode(t, client(t, url), cfg, "c", Load{}),
	}
	register(t, regs...)
	const consultations, callers = 10, 24

	race := func(label string) map[string][]Assignment {
		var mu sync.Mutex
		got := map[string][]Assignment{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			r := regs[i%2] // two nodes, two connection pools
			wg.Go(func() {
				<-start
				for j := range consultations {
					id := fmt.Sprintf("k%d", (j+i)%consultations)
					as, err := r.Home(ctx, id)
					if err != nil {
						t.Errorf("%s: Home(%s): %v", label, id, err)
						return
					}
					mu.Lock()
					got[id] = append(got[id], as)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		return got
	}
	check := func(label string, got map[string][]Assignment, fresh Outcome) map[string]NodeID {
		t.Helper()
		homes := map[string]NodeID{}
		for id, as := range got {
			if len(as) != callers {
				t.Fatalf("%s: %s asked %d times", label, id, len(as))
			}
			first := 0
			for _, a := range as {
				if a.Node.ID != as[0].Node.ID {
					t.Fatalf("%s: %s got two homes: %s and %s", label, id, a.Node.ID, as[0].Node.ID)
				}
				if a.Outcome == fresh {
					first++
				} else if a.Outcome != Kept {
					t.Fatalf("%s: %s outcome %s", label, id, a.Outcome)
				}
			}
			if first != 1 {
				t.Fatalf("%s: %s was %s %d times, want once", label, id, fresh, first)
			}
			homes[id] = as[0].Node.ID
		}
		return homes
	}
	homes := check("first", race("first"), Assigned)
	// Assignment spreads: 10 over 3 idle nodes.
	per := map[NodeID]int{}
	for _, n := range homes {
		per[n]++
	}
	if per["a"] < 3 || per["b"] < 3 || per["c"] < 3 {
		t.Fatalf("assignments not spread: %v", per)
	}

	// c dies (its entry is gone): its consultations move, once each, and
	// everyone agrees where; the others stay.
	if err := regs[2].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got := race("after c died")
	for id, as := range got {
		if homes[id] != "c" {
			for _, a := range as {
				if a.Outcome != Kept || a.Node.ID != homes[id] {
					t.Fatalf("%s moved from live %s: %+v", id, homes[id], a)
				}
			}
			delete(got, id)
		}
	}
	if len(got) != per["c"] {
		t.Fatalf("consultations of c: %d, want %d", len(got), per["c"])
	}
	for id, n := range check("after c died", got, Reassigned) {
		if n == "c" {
			t.Fatalf("%s still on dead c", id)
		}
		for _, a := range got[id] {
			if a.Outcome == Reassigned && a.Previous != "c" {
				t.Fatalf("%s: previous owner %q", id, a.Previous)
			}
		}
	}
}

// Reassign moves a consultation only when its owner is draining or dead;
// Home keeps a draining owner's consultations (the drain decides when to
// move them); Release forgets a home only for its owner.
func TestReassignOnlyDeadOrDraining(t *testing.T) {
	url, prefix := testRedis(t)
	cfg := Config{Prefix: prefix, TTL: 500 * time.Millisecond, Heartbeat: 50 * time.Millisecond}
	ctx := t.Context()
	a := newNode(t, client(t, url), cfg, "a", Load{})
	b := newNode(t, client(t, url), cfg, "b", Load{Consultations: 5})
	c := newNode(t, client(t, url), cfg, "c", Load{Consultations: 9})
	for _, r := range []*Registry{a, b, c} {
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if as, err := b.Home(ctx, "x"); err != nil || as.Node.ID != "a" {
		t.Fatalf("Home(x) = %+v, %v", as, err)
	}
	// a serves: nobody moves x away from it.
	for _, r := range []*Registry{a, b} {
		if as, err := r.Reassign(ctx, "x", "a"); err != nil || as.Node.ID != "a" || as.Outcome != Kept {
			t.Fatalf("Reassign(x) from serving a = %+v, %v", as, err)
		}
	}
	// Naming another node as "from" does not move it either.
	if as, err := b.Reassign(ctx, "x", "c"); err != nil || as.Node.ID != "a" || as.Outcome != Kept {
		t.Fatalf("Reassign(x, from c) = %+v, %v", as, err)
	}
	// a drains: x stays with a (calls go on), new ones go elsewhere.
	if err := a.SetDraining(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * cfg.Heartbeat) // the heartbeat keeps "draining"
	if as, err := b.Home(ctx, "x"); err != nil || as.Node.ID != "a" || as.Outcome != Kept {
		t.Fatalf("Home(x) while a drains = %+v, %v", as, err)
	}
	if n, err := b.Node(ctx, "a"); err != nil || n.State != StateDraining {
		t.Fatalf("a = %+v, %v", n, err)
	}
	if as, err := b.Home(ctx, "y"); err != nil || as.Node.ID != "b" {
		t.Fatalf("Home(y) while a drains = %+v, %v", as, err)
	}
	// The drain timeout passed: x moves to the least-loaded serving node.
	as, err := a.Reassign(ctx, "x", "a")
	if err != nil || as.Node.ID != "b" || as.Outcome != Reassigned || as.Previous != "a" {
		t.Fatalf("Reassign(x) from draining a = %+v, %v", as, err)
	}
	// A second mover (another node racing) sees it moved already.
	if as, err := c.Reassign(ctx, "x", "a"); err != nil || as.Node.ID != "b" || as.Outcome != Kept {
		t.Fatalf("second Reassign(x) = %+v, %v", as, err)
	}
	// a can no longer release x; b can.
	if err := a.Release(ctx, "x", "a"); err != nil {
		t.Fatal(err)
	}
	if id, err := c.Owner(ctx, "x"); err != nil || id != "b" {
		t.Fatalf("Owner(x) after a's release = %q, %v", id, err)
	}
	if err := b.Release(ctx, "x", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Owner(ctx, "x"); !errors.Is(err, ErrNotAssigned) {
		t.Fatalf("Owner(x) after release: %v", err)
	}
	if _, err := c.Reassign(ctx, "x", "b"); !errors.Is(err, ErrNotAssigned) {
		t.Fatalf("Reassign of a released consultation: %v", err)
	}

	// y's owner b dies (crash: no unregister): Reassign from the dead
	// owner works once its entry expired, and Home does the same on its
	// own.
	if as, err := c.Home(ctx, "z"); err != nil || as.Node.ID != "b" {
		t.Fatalf("Home(z) = %+v, %v", as, err)
	}
	b.stopHeartbeat()
	eventually(t, "b's entry to expire", func() bool {
		_, err := c.Node(ctx, "b")
		return errors.Is(err, ErrNoNode)
	})
	if as, err := c.Reassign(ctx, "y", "b"); err != nil || as.Node.ID != "c" || as.Outcome != Reassigned || as.Previous != "b" {
		t.Fatalf("Reassign(y) from dead b = %+v, %v", as, err)
	}
	if as, err := a.Home(ctx, "z"); err != nil || as.Node.ID != "c" || as.Outcome != Reassigned || as.Previous != "b" {
		t.Fatalf("Home(z) with dead b = %+v, %v", as, err)
	}
	// Only draining a is left besides c; c's consultations cannot move.
	if _, err := a.Reassign(ctx, "z", "c"); err != nil {
		t.Fatalf("Reassign from serving c: %v", err)
	}
	if err := c.SetDraining(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reassign(ctx, "z", "c"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Reassign with no serving node left: %v", err)
	}
}

// Load shedding: a full node (at rtc.max_participants) gets no new
// consultations, however idle it looks otherwise, and keeps the ones it
// has; with every serving node full there is no node (the caller answers
// 503).
func TestHomeSkipsFullNode(t *testing.T) {
	url, prefix := testRedis(t)
	cfg := Config{Prefix: prefix, TTL: time.Minute}
	rdb := client(t, url)
	ctx := t.Context()
	load := Load{Consultations: 1, Participants: 2}
	a := New(rdb, cfg, Node{ID: "a", InternalURL: "http://a.internal:8080", Version: "test"},
		func() Load { return load }, nil)
	t.Cleanup(func() { a.stopHeartbeat() })
	b := newNode(t, rdb, cfg, "b", Load{Consultations: 5, Participants: 10})
	register(t, a, b)
	if as, err := a.Home(ctx, "old"); err != nil || as.Node.ID != "a" {
		t.Fatalf("Home(old) = %+v, %v; want a (least loaded)", as, err)
	}
	load = Load{Consultations: 2, Participants: 4, Full: true}
	register(t, a)
	if n, err := b.Node(ctx, "a"); err != nil || !n.Full {
		t.Fatalf("a's entry: %+v, %v; want full", n, err)
	}
	for i := range 3 {
		if as, err := a.Home(ctx, fmt.Sprintf("new%d", i)); err != nil || as.Node.ID != "b" {
			t.Fatalf("Home(new%d) = %+v, %v; want b (a is full)", i, as, err)
		}
	}
	if as, err := b.Home(ctx, "old"); err != nil || as.Node.ID != "a" || as.Outcome != Kept {
		t.Fatalf("Home(old) on a full node = %+v, %v; want kept on a", as, err)
	}
	if err := b.SetDraining(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Home(ctx, "nowhere"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Home with the only serving node full: %v, want ErrNoNode", err)
	}
}
