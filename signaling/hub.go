// Package signaling owns live consultations: their participants and states,
// the WebSocket protocol (PROTOCOL.md) with reconnection, the session store
// behind customer cookies, advisor presence and waiting queues (STORE.md),
// and the link to the media plane.
package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/parley-video/parley/sfu"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// ConsultationID identifies a consultation (the same id as in records).
type ConsultationID string

// ParticipantID identifies one participant within a consultation.
type ParticipantID string

// Role is a participant's role in a call.
type Role string

const (
	RoleAdvisor  Role = "advisor"
	RoleCustomer Role = "customer"
)

// Errors the web layer maps to HTTP statuses.
var (
	ErrNoSession      = errors.New("signaling: no such session")      // 401
	ErrForbidden      = errors.New("signaling: forbidden")            // 403
	ErrNoConsultation = errors.New("signaling: no such consultation") // 404
	ErrEnded          = errors.New("signaling: consultation ended")   // 410
	ErrFull           = errors.New("signaling: consultation full")    // 409
	// ErrNodeFull: this node carries Config.MaxNodeParticipants already; a
	// new customer is refused before running calls degrade (503 busy).
	ErrNodeFull = errors.New("signaling: node at capacity")
)

// Media is what signaling needs from the media plane; *sfu.SFU has it.
type Media interface {
	Room(id string) *sfu.Room
	CloseRoom(id string)
}

var _ Media = (*sfu.SFU)(nil)

// Config configures the hub.
type Config struct {
	MaxParticipants int
	MaxMessageBytes int64
	PingInterval    time.Duration
	PongTimeout     time.Duration
	SendQueue       int
	// MaxNodeParticipants bounds the participants of all consultations
	// on this node (rtc.max_participants); 0: no limit. New customers
	// beyond it get ErrNodeFull; reconnects and staff are not refused.
	MaxNodeParticipants int
	// SessionTTL bounds a customer session (the consultation's lifetime;
	// ConsultationInfo.ExpiresAt may end it sooner).
	SessionTTL time.Duration
	// GracePeriod is how long a participant whose connection dropped stays
	// reconnecting before it has left (session.grace_period).
	GracePeriod time.Duration
	// PresenceTTL is how long an advisor's presence lives in the store
	// without refresh; the hub refreshes it every third of that.
	PresenceTTL time.Duration
	// StoreTimeout bounds each session store call.
	StoreTimeout time.Duration
	// AllowedOrigins are accepted in the WebSocket Origin header besides the
	// request's own host (scheme://host[:port]).
	AllowedOrigins []string
	// Admitted, if set, is called (on its own goroutine) after staff admitted
	// customer p into consultation c.
	Admitted func(c ConsultationID, p ParticipantID)
	// ICEServers are handed to clients in the welcome message; c is the
	// participant's consultation (TURN credentials end with it).
	ICEServers func(c ConsultationInfo, p ParticipantID) []webrtc.ICEServer
	// AllowUnencrypted tells clients that a participant without end-to-end
	// encryption may join (welcome e2ee "optional" instead of "required").
	AllowUnencrypted bool
	// RelayOnly tells clients to use relayed (TURN) candidates only
	// (welcome iceTransportPolicy "relay"); for testing firewalled networks.
	RelayOnly bool
}

// ConsultationInfo is what the hub is told when a consultation opens.
type ConsultationInfo struct {
	ID      ConsultationID
	Title   string
	Company string
	// ExpiresAt is the end of the consultation's lifetime; customer
	// sessions live no longer. Zero: SessionTTL from their creation.
	ExpiresAt time.Time
}

// Staff identifies a logged-in advisor allowed into a consultation (web
// checks that; the hub trusts it).
type Staff struct {
	UserID int64
	Name   string
}

// Snapshot is a consultation's live state for lists.
type Snapshot struct {
	ID           ConsultationID
	Joined       int // participants in the call
	Waiting      int // customers waiting for admission
	Reconnecting int // participants whose connection dropped (grace period)
}

// Hub holds all live consultations of this node.
type Hub struct {
	cfg     Config
	media   Media
	store   SessionStore
	log     *slog.Logger
	m       *metrics
	origins []origin // AllowedOrigins, parsed

	mu        sync.Mutex
	closed    bool
	rooms     map[ConsultationID]*room
	ended     map[ConsultationID]struct{} // tombstones, oldest first in endedFIFO
	endedFIFO []ConsultationID
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // connection handlers

	// Advisor presence (presence.go), guarded by pmu.
	pmu     sync.Mutex
	avail   map[int64]*availability           // available advisors
	dropped map[int64]map[ConsultationID]bool // advisors reconnecting, by room
	pq      *opQueue                          // presence writes, in order

	// storeFailed is set when a store write failed; the maintenance loop
	// writes the live state back once the store answers again.
	storeFailed atomic.Bool
	stopMaint   chan struct{}
	maintDone   chan struct{}
}

// maxTombstones bounds the ended ids the hub remembers (web also checks
// its records).
const maxTombstones = 4096

// errHubClosed is returned after Close.
var errHubClosed = errors.New("signaling: hub closed")

// NewHub returns a hub using media for the media plane and store for
// customer sessions, presence and waiting queues (the caller closes the
// store after the hub). Zero Config fields take the defaults of
// config.Default. media may be nil for a hub without media plane (offers
// and candidates then fail with media_failed); store nil means a new
// MemoryStore; reg may be nil. Close stops the hub's goroutines.
func NewHub(cfg Config, media Media, store SessionStore, log *slog.Logger, reg prometheus.Registerer) *Hub {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if store == nil {
		store = NewMemoryStore()
	}
	h := &Hub{
		cfg:       cfg,
		media:     media,
		store:     store,
		log:       log,
		m:         newMetrics(reg),
		rooms:     make(map[ConsultationID]*room),
		ended:     make(map[ConsultationID]struct{}),
		conns:     make(map[*conn]struct{}),
		avail:     make(map[int64]*availability),
		dropped:   make(map[int64]map[ConsultationID]bool),
		stopMaint: make(chan struct{}),
		maintDone: make(chan struct{}),
	}
	h.pq = newOpQueue(cfg.StoreTimeout, log, h.markStoreFailed)
	for _, o := range cfg.AllowedOrigins {
		if po, ok := parseOrigin(o); ok {
			h.origins = append(h.origins, po)
		} else {
			log.Warn("ignoring malformed allowed origin", "origin", o)
		}
	}
	go h.maintain()
	return h
}

func (c Config) withDefaults() Config {
	if c.MaxParticipants <= 0 {
		c.MaxParticipants = 8
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 15 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 10 * time.Second
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 64
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 8 * time.Hour
	}
	if c.GracePeriod <= 0 {
		c.GracePeriod = 60 * time.Second
	}
	if c.PresenceTTL <= 0 {
		c.PresenceTTL = 2 * time.Minute
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = defaultStoreTimeout
	}
	c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	return c
}

// Open makes a consultation known to the hub (idempotent). An ended
// consultation stays ended.
func (h *Hub) Open(info ConsultationInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.rooms[info.ID] != nil {
		return
	}
	if _, ended := h.ended[info.ID]; ended {
		return
	}
	hooks := roomHooks{staffDropped: h.staffDropped, storeFailed: h.markStoreFailed}
	h.rooms[info.ID] = newRoom(info, &h.cfg, h.media, h.store, hooks, h.m, h.log)
	h.m.consultations.Inc()
	h.log.Info("consultation opened", "consultation", info.ID)
}

// room returns the open consultation id: ErrEnded, ErrNoConsultation.
func (h *Hub) room(id ConsultationID) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ended := h.ended[id]; ended {
		return nil, ErrEnded
	}
	if h.closed {
		return nil, errHubClosed
	}
	if r := h.rooms[id]; r != nil {
		return r, nil
	}
	return nil, ErrNoConsultation
}

// storeCtx bounds one store call.
func (h *Hub) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, h.cfg.StoreTimeout)
}

// AddCustomer creates a waiting customer in an open consultation and returns
// the new session cookie value (random, 256 bit; only its hash is stored).
// It fails with ErrNoConsultation, ErrEnded, ErrFull when the
// consultation already knows too many participants, or ErrUnavailable
// when the session store cannot be reached.
func (h *Hub) AddCustomer(ctx context.Context, id ConsultationID, name string) (ParticipantID, string, error) {
	pid := NewParticipantID()
	cookie, err := h.AddCustomerAs(ctx, id, pid, name)
	if err != nil {
		return "", "", err
	}
	return pid, cookie, nil
}

// AddCustomerAs is AddCustomer for a participant id the caller chose
// (NewParticipantID) before, e.g. to record the customer's consent first.
func (h *Hub) AddCustomerAs(ctx context.Context, id ConsultationID, pid ParticipantID, name string) (string, error) {
	r, err := h.room(id)
	if err != nil {
		return "", err
	}
	if err := r.checkAdd(); err != nil {
		return "", err
	}
	if h.Full() {
		h.log.Warn("customer refused: node at capacity", "consultation", id, "max_participants", h.cfg.MaxNodeParticipants)
		return "", ErrNodeFull
	}
	cookie, key := newCookie()
	now := time.Now().UTC()
	ttl := r.sessionTTL(now)
	if ttl <= 0 {
		return "", ErrEnded
	}
	name = clip(name)
	s := Session{
		ConsultationID: id, ParticipantID: pid, Role: RoleCustomer, Name: name,
		State: string(StateWaiting), LastSeen: now,
	}
	// The session is stored first: when the store is down, nobody saw the
	// customer knock.
	sctx, cancel := h.storeCtx(ctx)
	err = h.store.Put(sctx, key, s, ttl)
	cancel()
	if err != nil {
		h.log.Warn("customer not added: session store", "consultation", id, "err", err)
		return "", fmt.Errorf("store session: %w", unavailable("put session", err))
	}
	p, err := r.addCustomer(pid, name, key, now, now.Add(ttl))
	if err != nil {
		sctx, cancel := h.storeCtx(context.WithoutCancel(ctx))
		if derr := h.store.Delete(sctx, key); derr != nil {
			h.log.Warn("delete session of a customer not added", "consultation", id, "err", derr)
		}
		cancel()
		return "", err
	}
	r.addWaiting(p)
	h.log.Info("customer added", "consultation", id, "participant", p.id)
	return cookie, nil
}

// JoinedCustomers lists the customers in consultation id's call (joined,
// or reconnecting to it), in the order they came.
func (h *Hub) JoinedCustomers(id ConsultationID) []ParticipantID {
	r, err := h.room(id)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ParticipantID
	for _, p := range r.order {
		if p.role == RoleCustomer && p.inCallLocked() {
			out = append(out, p.id)
		}
	}
	return out
}

// DropCustomer undoes AddCustomer for a join that failed afterwards: the
// customer leaves the room and their session and waiting entry are
// deleted before it returns. An unknown customer is no error.
func (h *Hub) DropCustomer(ctx context.Context, id ConsultationID, pid ParticipantID) error {
	r, err := h.room(id)
	if err != nil {
		return nil // ended or closed: End deletes the sessions
	}
	ctx, cancel := h.storeCtx(ctx)
	defer cancel()
	if err := r.dropCustomer(ctx, pid); err != nil {
		h.markStoreFailed()
		return fmt.Errorf("drop customer: %w", unavailable("delete session", err))
	}
	return nil
}

// ServeCustomer upgrades a customer's request to the protocol WebSocket;
// cookie is the parley_session value. Errors before the upgrade are
// written as JSON with the matching status (503 unavailable while the
// session store cannot be reached; the client retries).
func (h *Hub) ServeCustomer(w http.ResponseWriter, r *http.Request, id ConsultationID, cookie string) {
	if err := h.checkRequest(r); err != nil {
		h.refuse(w, id, err)
		return
	}
	p, rm, gen, connID, err := h.customer(r.Context(), id, cookie)
	if err != nil {
		h.refuse(w, id, err)
		return
	}
	h.serve(w, r, rm, p, gen, connID)
}

// customer finds the customer a cookie stands for and claims its session
// for a new connection; it returns the claim's generation and the
// connection id.
func (h *Hub) customer(ctx context.Context, id ConsultationID, cookie string) (*participant, *room, uint64, string, error) {
	h.mu.Lock()
	_, ended := h.ended[id]
	h.mu.Unlock()
	if ended {
		return nil, nil, 0, "", ErrEnded
	}
	if cookie == "" {
		return nil, nil, 0, "", ErrNoSession
	}
	key := sessionKey(cookie)
	sctx, cancel := h.storeCtx(ctx)
	defer cancel()
	s, err := h.store.Get(sctx, key)
	if errors.Is(err, ErrNoSession) {
		s, err = h.restoreSession(sctx, id, key)
	}
	if err != nil {
		return nil, nil, 0, "", unavailable("load session", err)
	}
	if s.ConsultationID != id {
		return nil, nil, 0, "", ErrForbidden
	}
	rm, err := h.room(id)
	if err != nil {
		return nil, nil, 0, "", err
	}
	p, err := rm.customerParticipant(s, key)
	if err != nil {
		return nil, nil, 0, "", err
	}
	connID := newConnID()
	s, prev, err := h.store.Claim(sctx, key, connID)
	if err != nil {
		return nil, nil, 0, "", unavailable("claim session", err)
	}
	if prev != "" {
		rm.log.Debug("session claimed by a new connection", "participant", p.id, "conn", connID, "previous", prev, "generation", s.Generation)
	}
	return p, rm, s.Generation, connID, nil
}

// restoreSession writes back the session of a customer the room still
// knows when the store lost it (e.g. Redis restarted empty); otherwise
// ErrNoSession.
func (h *Hub) restoreSession(ctx context.Context, id ConsultationID, key string) (Session, error) {
	rm, err := h.room(id)
	if err != nil {
		return Session{}, ErrNoSession
	}
	s, ttl, ok := rm.localSession(key)
	if !ok {
		return Session{}, ErrNoSession
	}
	if err := h.store.Put(ctx, key, s, ttl); err != nil {
		return Session{}, err
	}
	rm.log.Info("session written back to the store", "participant", s.ParticipantID)
	return s, nil
}

// ServeStaff upgrades an advisor's request to the protocol WebSocket. It
// refuses (409, ErrFull) a staff user who is not in the call yet when the
// call is full.
func (h *Hub) ServeStaff(w http.ResponseWriter, r *http.Request, id ConsultationID, who Staff) {
	if err := h.checkRequest(r); err != nil {
		h.refuse(w, id, err)
		return
	}
	rm, err := h.room(id)
	if err != nil {
		h.refuse(w, id, err)
		return
	}
	p, gen, err := rm.staffParticipant(who)
	if err != nil {
		h.refuse(w, id, err)
		return
	}
	h.serve(w, r, rm, p, gen, newConnID())
}

// End ends a consultation: everyone gets state "ended", sockets close with
// 4004, media and sessions are removed.
func (h *Hub) End(ctx context.Context, id ConsultationID) {
	h.mu.Lock()
	r := h.rooms[id]
	delete(h.rooms, id)
	if _, ended := h.ended[id]; !ended {
		h.ended[id] = struct{}{}
		h.endedFIFO = append(h.endedFIFO, id)
		if len(h.endedFIFO) > maxTombstones {
			delete(h.ended, h.endedFIFO[0])
			h.endedFIFO = slices.Delete(h.endedFIFO, 0, 1)
		}
	}
	if r != nil {
		h.m.consultations.Dec()
	}
	h.mu.Unlock()
	if r != nil {
		r.end()
	}
	if h.media != nil {
		h.media.CloseRoom(string(id))
	}
	sctx, cancel := h.storeCtx(ctx)
	defer cancel()
	if err := h.store.DeleteConsultation(sctx, id); err != nil {
		h.log.Warn("delete sessions of ended consultation", "consultation", id, "err", err)
	}
	h.log.Info("consultation ended", "consultation", id)
}

// Snapshot returns live counts; ok is false when the hub does not know id.
func (h *Hub) Snapshot(id ConsultationID) (s Snapshot, ok bool) {
	h.mu.Lock()
	r := h.rooms[id]
	h.mu.Unlock()
	if r == nil {
		return Snapshot{}, false
	}
	return r.snapshot(), true
}

// Close ends all connections (close code 1001) and waits for their
// goroutines. Consultations are not ended. Idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		<-h.maintDone
		return
	}
	h.closed = true
	rooms := slices.Collect(maps.Values(h.rooms))
	h.rooms = make(map[ConsultationID]*room)
	h.m.consultations.Sub(float64(len(rooms)))
	conns := slices.Collect(maps.Keys(h.conns))
	h.mu.Unlock()
	for _, r := range rooms {
		r.shutdown()
		if h.media != nil {
			h.media.CloseRoom(string(r.info.ID))
		}
	}
	for _, c := range conns {
		c.close(websocket.StatusGoingAway, "server shutting down", closeFlush)
	}
	h.wg.Wait()
	close(h.stopMaint)
	<-h.maintDone
	h.pq.close()
}

// Errors of the HTTP request before the upgrade.
var (
	errSubprotocol = errors.New("signaling: the client must offer the parley.v1 subprotocol")
	errOrigin      = errors.New("signaling: origin not allowed")
)

// checkRequest checks the parts of the upgrade request that do not depend
// on who connects: the subprotocol and the Origin.
func (h *Hub) checkRequest(r *http.Request) error {
	if !offersSubprotocol(r.Header) {
		return errSubprotocol
	}
	if !h.originAllowed(r) {
		return errOrigin
	}
	return nil
}

func offersSubprotocol(hd http.Header) bool {
	for _, v := range hd.Values("Sec-WebSocket-Protocol") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(tok) == Subprotocol {
				return true
			}
		}
	}
	return false
}

// origin is an allowed origin: scheme (empty: any) and host[:port].
type origin struct{ scheme, host string }

func parseOrigin(s string) (origin, bool) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		// A bare host[:port].
		if s == "" || strings.ContainsAny(s, "/ ") {
			return origin{}, false
		}
		return origin{host: strings.ToLower(s)}, true
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return origin{}, false
	}
	return origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Host)}, true
}

// originAllowed accepts requests without Origin (not from a browser, so no
// cross-site risk), from the request's own host, or from AllowedOrigins.
func (h *Hub) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	for _, a := range h.origins {
		if a.host == host && (a.scheme == "" || a.scheme == scheme) {
			return true
		}
	}
	return false
}

// httpError maps an error before the upgrade to its status and code: the
// one place where that mapping happens.
func httpError(err error) (status int, code, msg string) {
	switch {
	case errors.Is(err, errSubprotocol):
		return http.StatusBadRequest, "bad_request", "the WebSocket subprotocol parley.v1 is required"
	case errors.Is(err, errOrigin):
		return http.StatusForbidden, "forbidden", "origin not allowed"
	case errors.Is(err, ErrNoSession):
		return http.StatusUnauthorized, "unauthorized", "no valid session"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden", "not allowed in this consultation"
	case errors.Is(err, ErrNoConsultation):
		return http.StatusNotFound, "not_found", "no such consultation"
	case errors.Is(err, ErrEnded):
		return http.StatusGone, "ended", "the consultation has ended"
	case errors.Is(err, ErrFull):
		return http.StatusConflict, CodeRoomFull, "the consultation is full"
	case errors.Is(err, errHubClosed):
		return http.StatusServiceUnavailable, "unavailable", "the server is shutting down"
	case errors.Is(err, ErrNodeFull):
		return http.StatusServiceUnavailable, "busy", "this server is at capacity; please try again in a minute"
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable", "temporarily unavailable, please try again in a moment"
	default:
		return http.StatusInternalServerError, "internal", "internal error"
	}
}

// refuse answers a request that cannot be upgraded.
func (h *Hub) refuse(w http.ResponseWriter, id ConsultationID, err error) {
	status, code, msg := httpError(err)
	switch {
	case status == http.StatusInternalServerError:
		h.log.Error("signaling request failed", "consultation", id, "err", err)
	case errors.Is(err, ErrUnavailable):
		h.log.Warn("signaling request refused: session store unavailable", "consultation", id, "err", err)
	default:
		h.log.Debug("signaling request refused", "consultation", id, "code", code)
	}
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]body{"error": {Code: code, Message: msg}})
}
