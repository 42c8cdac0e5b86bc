package signaling

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryStore is a SessionStore for a single node. Expired sessions are
// invisible at once and swept out on later writes, so it needs no
// goroutine.
type MemoryStore struct {
	mu        sync.Mutex
	sessions  map[string]memoryEntry
	lastSweep time.Time
}

type memoryEntry struct {
	s       Session
	expires time.Time
}

var _ SessionStore = (*MemoryStore)(nil)

// sweepEvery bounds how often Put scans for expired sessions.
const sweepEvery = time.Minute

// NewMemoryStore returns an empty in-memory session store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: make(map[string]memoryEntry)}
}

var errBadTTL = errors.New("signaling: session ttl must be positive")

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
	if now.Sub(m.lastSweep) >= sweepEvery {
		m.lastSweep = now
		for k, e := range m.sessions {
			if !now.Before(e.expires) {
				delete(m.sessions, k)
			}
		}
	}
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
	e, ok := m.sessions[key]
	if ok && !time.Now().Before(e.expires) {
		delete(m.sessions, key)
		ok = false
	}
	if !ok {
		return Session{}, ErrNoSession
	}
	return e.s, nil
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

// DeleteConsultation removes every session of consultation id.
func (m *MemoryStore) DeleteConsultation(ctx context.Context, id ConsultationID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.sessions {
		if e.s.ConsultationID == id {
			delete(m.sessions, k)
		}
	}
	return nil
}

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

// newParticipantID returns a random participant id.
func newParticipantID() ParticipantID {
	var b [12]byte
	rand.Read(b[:])
	return ParticipantID(fmt.Sprintf("p_%x", b))
}
