package signaling

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SessionStore is the live state that outlives one connection and that
// other nodes may read: customer sessions (keyed by the SHA-256 of the
// cookie; the cookie itself is never stored), advisor presence and the
// waiting queue of each consultation. MemoryStore (one node) and
// RedisStore (shared by the nodes of a cluster; key layout in STORE.md)
// implement it.
//
// Errors: ErrNoSession for a missing or expired session; anything else
// means the store could not be asked (RedisStore wraps those in
// ErrUnavailable). Every entry has a TTL; nothing lives forever.
type SessionStore interface {
	// Put stores s under key for ttl (the consultation's remaining
	// lifetime), replacing what was there.
	Put(ctx context.Context, key string, s Session, ttl time.Duration) error
	// Get returns the session under key, or ErrNoSession.
	Get(ctx context.Context, key string) (Session, error)
	// Claim atomically makes connID the owner of the session under key
	// and increments its Generation; it returns the session as claimed and
	// the previous owner ("" for the first claim). Of concurrent claims the
	// one executed last owns the session and sees the one before it as
	// previous owner. ErrNoSession when there is no session.
	Claim(ctx context.Context, key, connID string) (s Session, previousOwner string, err error)
	// Update sets state, resume state and last-seen time of the session
	// under key, keeping its TTL, owner and generation. ErrNoSession when
	// there is no session (it is not recreated).
	Update(ctx context.Context, key string, u SessionUpdate) error
	// Delete removes the session under key; a missing one is no error.
	Delete(ctx context.Context, key string) error
	// DeleteConsultation removes every session and the waiting queue of a
	// consultation.
	DeleteConsultation(ctx context.Context, id ConsultationID) error

	// SetPresence records an advisor's presence for ttl, whatever was
	// there: an explicit "available" (p.Version names this declaration).
	SetPresence(ctx context.Context, p Presence, ttl time.Duration) error
	// ClearPresence records an explicit "away" of an advisor: the advisor
	// is no longer listed, and a marker with version (this declaration's)
	// stays for ttl so that RefreshPresence of another node holding an
	// older declaration does not bring the advisor back.
	ClearPresence(ctx context.Context, userID int64, version string, ttl time.Duration) error
	// RefreshPresence is the upkeep of a declaration: it extends the
	// entry's ttl and updates name and state only if the stored entry is
	// still p.Version's (PresenceRefreshed). An entry of another version
	// (an "away" or a newer "available" made elsewhere) is left alone
	// (PresenceSuperseded); a missing entry (expired, or lost by the
	// store) is written back (PresenceRestored).
	RefreshPresence(ctx context.Context, p Presence, ttl time.Duration) (PresenceRefresh, error)
	// ListPresence returns the present advisors, by user id.
	ListPresence(ctx context.Context) ([]Presence, error)

	// AddWaiting puts a customer into a consultation's waiting queue; one
	// already in it keeps its place (its original Since). The queue lives
	// at least ttl from now.
	AddWaiting(ctx context.Context, id ConsultationID, w Waiter, ttl time.Duration) error
	// RemoveWaiting takes a customer out of the queue; a missing one is no
	// error.
	RemoveWaiting(ctx context.Context, id ConsultationID, p ParticipantID) error
	// ListWaiting returns the queue, longest waiting first.
	ListWaiting(ctx context.Context, id ConsultationID) ([]Waiter, error)

	// Ping checks that the store answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// ErrUnavailable means the session store cannot be reached: new joins and
// reconnects are refused for now (HTTP 503, code unavailable) while
// running calls go on.
var ErrUnavailable = errors.New("signaling: temporarily unavailable")

// Session is what a customer cookie stands for.
type Session struct {
	ConsultationID ConsultationID `json:"consultation"`
	ParticipantID  ParticipantID  `json:"participant"`
	Role           Role           `json:"role"`
	Name           string         `json:"name"`
	// State is waiting, joined or reconnecting.
	State string `json:"state"`
	// Resume is, while reconnecting, the state to return to.
	Resume   string    `json:"resume,omitempty"`
	LastSeen time.Time `json:"last_seen"`
	// Owner is the connection that claimed the session last ("" before
	// the first claim).
	Owner string `json:"owner,omitempty"`
	// Generation counts the claims; a newer connection has a higher one.
	Generation uint64 `json:"generation,omitempty"`
}

// SessionUpdate is what Update changes in a session.
type SessionUpdate struct {
	State    string
	Resume   string
	LastSeen time.Time
}

// PresenceState is what an advisor's presence says.
type PresenceState string

const (
	// PresenceAvailable: the advisor takes consultations.
	PresenceAvailable PresenceState = "available"
	// PresenceReconnecting: the advisor is available but one of their call
	// connections dropped and the grace period runs.
	PresenceReconnecting PresenceState = "reconnecting"
)

// presenceAway marks, in the store only, an advisor declared away (never
// listed).
const presenceAway PresenceState = "away"

// Presence is one available advisor.
type Presence struct {
	UserID int64
	Name   string
	State  PresenceState
	Since  time.Time // when the advisor became available
	// Version is the random id of the declaration ("available" via
	// SetAvailable on some node) the entry stems from.
	Version string
}

// PresenceRefresh is what RefreshPresence did.
type PresenceRefresh int

const (
	// PresenceRefreshed: the entry was this declaration's; extended.
	PresenceRefreshed PresenceRefresh = iota + 1
	// PresenceSuperseded: another declaration (away, or available again
	// via another node) replaced it; nothing written.
	PresenceSuperseded
	// PresenceRestored: there was no entry; written back.
	PresenceRestored
)

// Waiter is one customer in a waiting queue.
type Waiter struct {
	Participant ParticipantID
	Since       time.Time // when the customer started waiting (millisecond precision)
}

var errBadTTL = errors.New("signaling: ttl must be positive")

// defaultStoreTimeout bounds one store call made for a request or a room
// (Config.StoreTimeout), so that a dead store never blocks anything long.
const defaultStoreTimeout = 2 * time.Second

// unavailable wraps a store error in ErrUnavailable unless it already says
// ErrNoSession or ErrUnavailable.
func unavailable(op string, err error) error {
	if err == nil || errors.Is(err, ErrNoSession) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}
