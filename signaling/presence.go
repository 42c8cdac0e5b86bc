package signaling

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Advisor presence and the hub's upkeep of the session store.
//
// The hub knows which advisors declared themselves available (web tells it
// with SetAvailable; records stay the source of truth for the UI) and
// whose call connection dropped. It mirrors that into the store, where
// other nodes can read it: "available", or "reconnecting" while one of the
// advisor's connections is in its grace period. Entries expire after
// PresenceTTL unless refreshed; the maintenance loop refreshes them, and
// after a failed store write it writes the live state back once the store
// answers again (a Redis that restarted empty is repopulated).
//
// Several nodes share the store, and an advisor may say "available"
// through one node and "away" through another. So only an explicit
// SetAvailable writes presence unconditionally; it gives the declaration a
// random version, and "away" leaves a marker with its own version. The
// upkeep (refreshes, reconnecting states) goes through RefreshPresence,
// which touches the entry only while it is still this node's declaration:
// a node whose declaration was superseded (away, or available again via
// another node) forgets the advisor instead of writing them back. A
// missing entry (the store lost it) is written back.

// availability is one available advisor.
type availability struct {
	name    string
	since   time.Time
	version string // of the declaration that made the advisor available here
}

// maintainEvery is how often the maintenance loop checks a failed store.
const maintainEvery = time.Second

// SetAvailable records whether staff user userID (display name name)
// takes consultations, and writes it to the store; an error means the
// store did not get it now (the hub retries when it answers again).
func (h *Hub) SetAvailable(ctx context.Context, userID int64, name string, available bool) error {
	version := rand.Text()
	h.pmu.Lock()
	if available {
		if a := h.avail[userID]; a != nil {
			a.name, a.version = name, version
		} else {
			h.avail[userID] = &availability{name: name, since: time.Now().UTC(), version: version}
		}
	} else {
		delete(h.avail, userID)
	}
	h.pmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*h.cfg.StoreTimeout)
	defer cancel()
	if err := h.pq.do(ctx, "presence", func(ctx context.Context) error { return h.declarePresence(ctx, userID, version) }); err != nil {
		h.markStoreFailed()
		return fmt.Errorf("presence of user %d: %w", userID, unavailable("presence", err))
	}
	return nil
}

// Presence lists the available advisors as the store has them (those of
// every node sharing it).
func (h *Hub) Presence(ctx context.Context) ([]Presence, error) {
	ctx, cancel := h.storeCtx(ctx)
	defer cancel()
	ps, err := h.store.ListPresence(ctx)
	return ps, unavailable("list presence", err)
}

// Waiting lists the customers waiting for admission to consultation id as
// the store has them, longest waiting first.
func (h *Hub) Waiting(ctx context.Context, id ConsultationID) ([]Waiter, error) {
	ctx, cancel := h.storeCtx(ctx)
	defer cancel()
	ws, err := h.store.ListWaiting(ctx, id)
	return ws, unavailable("list waiting", err)
}

// presenceOf is userID's presence as the store should have it; ok is false
// when the advisor is not available.
func (h *Hub) presenceOf(userID int64) (Presence, bool) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	a := h.avail[userID]
	if a == nil {
		return Presence{}, false
	}
	state := PresenceAvailable
	if len(h.dropped[userID]) > 0 {
		state = PresenceReconnecting
	}
	return Presence{UserID: userID, Name: a.name, State: state, Since: a.since, Version: a.version}, true
}

// declarePresence writes an explicit declaration of userID: its current
// presence here (read when the write runs, so queued writes never bring
// back an old state), or "away" with version awayVersion.
func (h *Hub) declarePresence(ctx context.Context, userID int64, awayVersion string) error {
	p, ok := h.presenceOf(userID)
	if !ok {
		return h.store.ClearPresence(ctx, userID, awayVersion, h.cfg.PresenceTTL)
	}
	return h.store.SetPresence(ctx, p, h.cfg.PresenceTTL)
}

// keepPresence is the upkeep of userID's presence: it refreshes the entry
// while it is still this node's declaration, and forgets the advisor here
// once another declaration superseded it.
func (h *Hub) keepPresence(ctx context.Context, userID int64) error {
	p, ok := h.presenceOf(userID)
	if !ok {
		return nil // "away" here: written by SetAvailable
	}
	res, err := h.store.RefreshPresence(ctx, p, h.cfg.PresenceTTL)
	if err != nil || res != PresenceSuperseded {
		return err
	}
	h.pmu.Lock()
	if a := h.avail[userID]; a != nil && a.version == p.Version {
		delete(h.avail, userID)
	}
	h.pmu.Unlock()
	h.log.Debug("presence changed through another node; not refreshed here", "user", userID)
	return nil
}

func (h *Hub) pushPresence(userID int64) {
	h.pq.push("presence", func(ctx context.Context) error { return h.keepPresence(ctx, userID) })
}

// staffDropped is the rooms' hook: an advisor's connection to room id
// dropped (reconnecting) or the advisor is back or gone.
func (h *Hub) staffDropped(userID int64, id ConsultationID, reconnecting bool) {
	h.pmu.Lock()
	rooms := h.dropped[userID]
	if reconnecting {
		if rooms == nil {
			rooms = make(map[ConsultationID]bool)
			h.dropped[userID] = rooms
		}
		rooms[id] = true
	} else {
		delete(rooms, id)
		if len(rooms) == 0 {
			delete(h.dropped, userID)
		}
	}
	_, available := h.avail[userID]
	h.pmu.Unlock()
	if available {
		h.pushPresence(userID)
	}
}

func (h *Hub) markStoreFailed() { h.storeFailed.Store(true) }

// maintain refreshes presence every third of PresenceTTL and, after a
// failed store write, writes the live state back once the store answers.
func (h *Hub) maintain() {
	defer close(h.maintDone)
	t := time.NewTicker(min(maintainEvery, h.cfg.PresenceTTL/3))
	defer t.Stop()
	lastRefresh := time.Now()
	for {
		select {
		case <-h.stopMaint:
			return
		case now := <-t.C:
			if h.storeFailed.Load() && h.storeAnswers() && h.storeFailed.CompareAndSwap(true, false) {
				h.log.Info("session store answers again; writing the live state back")
				h.resync()
				lastRefresh = now
				continue
			}
			if now.Sub(lastRefresh) >= h.cfg.PresenceTTL/3 {
				lastRefresh = now
				h.refreshPresence()
			}
		}
	}
}

func (h *Hub) storeAnswers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
	defer cancel()
	return h.store.Ping(ctx) == nil
}

func (h *Hub) refreshPresence() {
	h.pmu.Lock()
	ids := slices.Collect(maps.Keys(h.avail))
	h.pmu.Unlock()
	for _, id := range ids {
		h.pushPresence(id)
	}
}

// resync writes every room's sessions and waiting queue and the presence
// back to the store.
func (h *Hub) resync() {
	h.mu.Lock()
	rooms := slices.Collect(maps.Values(h.rooms))
	h.mu.Unlock()
	for _, r := range rooms {
		r.resync()
	}
	h.refreshPresence()
}
