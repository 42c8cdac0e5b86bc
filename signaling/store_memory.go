package signaling

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a SessionStore for a single node: everything under one
// mutex, which also makes Claim atomic. Expired entries are invisible at
// once and swept out on later writes, so it needs no goroutine.
type MemoryStore struct {
	mu        sync.Mutex
	sessions  map[string]memoryEntry
	presence  map[int64]memoryPresence
	waiting   map[ConsultationID]*memoryQueue
	lastSweep time.Time
}

type memoryEntry struct {
	s       Session
	expires time.Time
}

type memoryPresence struct {
	p       Presence
	expires time.Time
}

type memoryQueue struct {
	since   map[ParticipantID]time.Time
	expires time.Time
}

var _ SessionStore = (*MemoryStore)(nil)

// sweepEvery bounds how often writes scan for expired entries.
const sweepEvery = time.Minute

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		sessions: make(map[string]memoryEntry),
		presence: make(map[int64]memoryPresence),
		waiting:  make(map[ConsultationID]*memoryQueue),
	}
}

// sweepLocked drops expired entries, at most once per sweepEvery.
func (m *MemoryStore) sweepLocked(now time.Time) {
	if now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	maps.DeleteFunc(m.sessions, func(_ string, e memoryEntry) bool { return !now.Before(e.expires) })
	maps.DeleteFunc(m.presence, func(_ int64, e memoryPresence) bool { return !now.Before(e.expires) })
	maps.DeleteFunc(m.waiting, func(_ ConsultationID, q *memoryQueue) bool { return !now.Before(q.expires) })
}

// sessionLocked returns the live entry under key.
func (m *MemoryStore) sessionLocked(key string, now time.Time) (memoryEntry, bool) {
	e, ok := m.sessions[key]
	if ok && !now.Before(e.expires) {
		delete(m.sessions, key)
		ok = false
	}
	return e, ok
}

// Put stores s under key for ttl.
func (m *MemoryStore) Put(ctx context.Context, key string, s Session, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return errBadTTL
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	m.sessions[key] = memoryEntry{s: s, expires: now.Add(ttl)}
	return nil
}

// Get returns the session stored under key, or ErrNoSession.
func (m *MemoryStore) Get(ctx context.Context, key string) (Session, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.sessionLocked(key, time.Now())
	if !ok {
		return Session{}, ErrNoSession
	}
	return e.s, nil
}

// Claim makes connID the session's owner (see SessionStore).
func (m *MemoryStore) Claim(ctx context.Context, key, connID string) (Session, string, error) {
	if err := ctx.Err(); err != nil {
		return Session{}, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.sessionLocked(key, time.Now())
	if !ok {
		return Session{}, "", ErrNoSession
	}
	prev := e.s.Owner
	e.s.Owner = connID
	e.s.Generation++
	m.sessions[key] = e
	return e.s, prev, nil
}

// Update changes state, resume state and last-seen time of a session.
func (m *MemoryStore) Update(ctx context.Context, key string, u SessionUpdate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.sessionLocked(key, time.Now())
	if !ok {
		return ErrNoSession
	}
	e.s.State, e.s.Resume, e.s.LastSeen = u.State, u.Resume, u.LastSeen
	m.sessions[key] = e
	return nil
}

// Delete removes the session under key; a missing one is no error.
func (m *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.sessions, key)
	m.mu.Unlock()
	return nil
}

// DeleteConsultation removes every session and the waiting queue of id.
func (m *MemoryStore) DeleteConsultation(ctx context.Context, id ConsultationID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	maps.DeleteFunc(m.sessions, func(_ string, e memoryEntry) bool { return e.s.ConsultationID == id })
	delete(m.waiting, id)
	return nil
}

// SetPresence records an advisor's presence for ttl (see SessionStore).
func (m *MemoryStore) SetPresence(ctx context.Context, p Presence, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return errBadTTL
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	m.presence[p.UserID] = memoryPresence{p: p, expires: now.Add(ttl)}
	return nil
}

// RefreshPresence extends p's declaration if it is still the stored one
// (see SessionStore).
func (m *MemoryStore) RefreshPresence(ctx context.Context, p Presence, ttl time.Duration) (PresenceRefresh, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if ttl <= 0 {
		return 0, errBadTTL
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	outcome := PresenceRefreshed
	if e, ok := m.presence[p.UserID]; !ok || !now.Before(e.expires) {
		outcome = PresenceRestored
	} else if e.p.Version != p.Version {
		return PresenceSuperseded, nil
	}
	m.presence[p.UserID] = memoryPresence{p: p, expires: now.Add(ttl)}
	return outcome, nil
}

// ClearPresence records an advisor's "away" (see SessionStore).
func (m *MemoryStore) ClearPresence(ctx context.Context, userID int64, version string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return errBadTTL
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	m.presence[userID] = memoryPresence{p: Presence{UserID: userID, State: presenceAway, Version: version}, expires: now.Add(ttl)}
	return nil
}

// ListPresence returns the present advisors by user id.
func (m *MemoryStore) ListPresence(ctx context.Context) ([]Presence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Presence{}
	for _, e := range m.presence {
		if now.Before(e.expires) && e.p.State != presenceAway {
			out = append(out, e.p)
		}
	}
	slices.SortFunc(out, func(a, b Presence) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// AddWaiting puts a customer into a waiting queue (see SessionStore).
func (m *MemoryStore) AddWaiting(ctx context.Context, id ConsultationID, w Waiter, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return errBadTTL
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	q := m.queueLocked(id, now)
	if q == nil {
		q = &memoryQueue{since: make(map[ParticipantID]time.Time)}
		m.waiting[id] = q
	}
	if _, ok := q.since[w.Participant]; !ok {
		q.since[w.Participant] = w.Since.Truncate(time.Millisecond)
	}
	q.expires = later(q.expires, now.Add(ttl))
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (m *MemoryStore) queueLocked(id ConsultationID, now time.Time) *memoryQueue {
	q := m.waiting[id]
	if q != nil && !now.Before(q.expires) {
		delete(m.waiting, id)
		q = nil
	}
	return q
}

// RemoveWaiting takes a customer out of a waiting queue.
func (m *MemoryStore) RemoveWaiting(ctx context.Context, id ConsultationID, p ParticipantID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if q := m.queueLocked(id, time.Now()); q != nil {
		delete(q.since, p)
	}
	return nil
}

// ListWaiting returns a waiting queue, longest waiting first.
func (m *MemoryStore) ListWaiting(ctx context.Context, id ConsultationID) ([]Waiter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Waiter{}
	if q := m.queueLocked(id, time.Now()); q != nil {
		for p, since := range q.since {
			out = append(out, Waiter{Participant: p, Since: since})
		}
	}
	sortWaiters(out)
	return out, nil
}

func sortWaiters(ws []Waiter) {
	slices.SortFunc(ws, func(a, b Waiter) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Participant, b.Participant))
	})
}

// Ping always succeeds.
func (m *MemoryStore) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing; the store stays usable.
func (m *MemoryStore) Close() error { return nil }

// newCookie returns a random 256-bit cookie value (base64url) and the key
// its session is stored under.
func newCookie() (cookie, key string) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on failure)
	cookie = base64.RawURLEncoding.EncodeToString(b[:])
	return cookie, sessionKey(cookie)
}

// sessionKey is the store key for a cookie value: hex(SHA-256(cookie)).
// Only the key is ever stored or logged.
func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// NewParticipantID returns a fresh random participant id.
func NewParticipantID() ParticipantID {
	var b [12]byte
	rand.Read(b[:])
	return ParticipantID(fmt.Sprintf("p_%x", b))
}

// staffParticipantID is the participant id of staff user userID in
// consultation id: the same on every node, so that an advisor whose call
// moved to another node (drain, failover) comes back under the same id,
// as a customer does through the session store. Staff ids are shown to
// everyone in the call; nothing is derived from them.
func staffParticipantID(id ConsultationID, userID int64) ParticipantID {
	h := sha256.Sum256(fmt.Appendf(nil, "parley staff participant\x00%s\x00%d", id, userID))
	return ParticipantID(fmt.Sprintf("p_%x", h[:12]))
}

// newConnID returns a random connection id (the owner in Claim).
func newConnID() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("c_%x", b)
}
