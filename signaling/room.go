package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/parley-video/parley/sfu"
)

// participant is one person in a consultation.
type participant struct {
	id         ParticipantID
	role       Role
	name       string
	staffID    int64     // advisors: the staff user
	sessionKey string    // customers: the store key (hash of the cookie)
	expires    time.Time // customers: when the session ends (consultation lifetime)
	since      time.Time // customers: when they started waiting

	// Guarded by room.mu.
	state    State
	resume   State       // while reconnecting: the state to return to
	grace    *time.Timer // while reconnecting: ends the grace period
	graceSeq uint64      // invalidates a grace timer that already fired
	gen      uint64      // generation of the newest accepted connection
	nextGen  uint64      // advisors: generations handed out (customers: the store's)
	owner    string      // id of the newest accepted connection
	lastSeen time.Time
	conn     *conn // the current connection, nil when none
	audio    bool
	video    bool
	screen   bool
	tracks   map[string]TrackSource
	plain    bool // sends without end-to-end encryption

	// The media peer of the current connection, guarded by mediaMu.
	// Lock order: mediaMu before room.mu; never the other way.
	mediaMu  sync.Mutex
	peer     *sfu.Peer
	events   *peerEvents
	peerConn *conn
}

// infoLocked is the participant as the protocol shows it (room.mu held).
func (p *participant) infoLocked() ParticipantInfo {
	tracks := maps.Clone(p.tracks)
	if tracks == nil {
		tracks = map[string]TrackSource{}
	}
	return ParticipantInfo{
		ID: p.id, Name: p.name, Role: p.role, State: p.state,
		Audio: p.audio, Video: p.video, Screen: p.screen, Tracks: tracks,
		E2EE: !p.plain,
	}
}

func (p *participant) clearMediaLocked() {
	p.audio, p.video, p.screen, p.tracks = false, false, false, nil
}

// inCallLocked reports whether p holds a place in the call: joined, or
// reconnecting from joined.
func (p *participant) inCallLocked() bool {
	return p.state == StateJoined || p.state == StateReconnecting && p.resume == StateJoined
}

// waitingLocked reports whether p waits for admission, connected or not.
func (p *participant) waitingLocked() bool {
	return p.state == StateWaiting || p.state == StateReconnecting && p.resume == StateWaiting
}

// room is one live consultation: its participants and their states.
//
// Everything under mu is state; messages are queued onto connections under
// mu too (a non-blocking channel send, so rosters reach every client in the
// order the changes happened). Socket writes happen in each connection's
// writer goroutine; media plane calls happen outside mu, and store writes
// in the room's queue (q), so a slow store never stalls the room.
type room struct {
	info  ConsultationInfo
	cfg   *Config
	media Media // nil: no media plane
	store SessionStore
	q     *opQueue // store writes, in order
	hooks roomHooks
	m     *metrics
	log   *slog.Logger

	mu           sync.Mutex
	ended        bool // End was called
	done         bool // ended or the hub closed: nobody may attach
	order        []*participant
	byID         map[ParticipantID]*participant
	staff        map[int64]*participant
	gone         map[ParticipantID]struct{} // customers who left or were rejected
	goneFIFO     []ParticipantID            // gone, oldest first (bounded by maxGone)
	chat         chatLog                    // chat.go
	joined       int                        // as reported to metrics
	waiting      int
	reconnecting int
	advisorAway  bool // the owning advisor's availability is off (SetAdvisorAway)
}

// roomHooks tell the hub what it tracks across rooms.
type roomHooks struct {
	// staffDropped reports that an advisor's connection dropped
	// (reconnecting true) or that the advisor is back or gone (false).
	staffDropped func(userID int64, id ConsultationID, reconnecting bool)
	// storeFailed reports a failed store write.
	storeFailed func()
}

func newRoom(info ConsultationInfo, cfg *Config, media Media, store SessionStore, hooks roomHooks, m *metrics, log *slog.Logger) *room {
	log = log.With("consultation", info.ID)
	return &room{
		info: info, cfg: cfg, media: media, store: store, hooks: hooks, m: m, log: log,
		q:     newOpQueue(cfg.StoreTimeout, log, hooks.storeFailed),
		byID:  make(map[ParticipantID]*participant),
		staff: make(map[int64]*participant),
		gone:  make(map[ParticipantID]struct{}),
	}
}

// maxGone bounds the customers a room remembers as gone (so that a stored
// session of theirs is not restored); their sessions are deleted from the
// store too, so forgetting the oldest only matters if that failed.
const maxGone = 4096

// maxKnown bounds the participants a room keeps (joined, waiting, and
// those who lost their connection and may come back).
func (r *room) maxKnown() int { return max(4*r.cfg.MaxParticipants, 16) }

// sessionTTL is how long a customer session created now may live: until
// the consultation's end of life.
func (r *room) sessionTTL(now time.Time) time.Duration {
	ttl := r.cfg.SessionTTL
	if !r.info.ExpiresAt.IsZero() {
		ttl = min(ttl, r.info.ExpiresAt.Sub(now))
	}
	return ttl
}

func clip(s string) string {
	if utf8.RuneCountInString(s) <= MaxIDChars {
		return s
	}
	return string([]rune(s)[:MaxIDChars])
}

func (r *room) addLocked(p *participant) {
	r.byID[p.id] = p
	r.order = append(r.order, p)
	if p.role == RoleAdvisor {
		r.staff[p.staffID] = p
	}
}

func (r *room) removeLocked(p *participant) {
	delete(r.byID, p.id)
	r.order = slices.DeleteFunc(r.order, func(q *participant) bool { return q == p })
	if p.role == RoleAdvisor {
		delete(r.staff, p.staffID)
	} else {
		r.gone[p.id] = struct{}{}
		r.goneFIFO = append(r.goneFIFO, p.id)
		if len(r.goneFIFO) > maxGone {
			delete(r.gone, r.goneFIFO[0])
			r.goneFIFO = slices.Delete(r.goneFIFO, 0, 1)
		}
	}
}

// inCallCountLocked counts the places taken in the call.
func (r *room) inCallCountLocked() int {
	n := 0
	for _, p := range r.order {
		if p.inCallLocked() {
			n++
		}
	}
	return n
}

// checkAdd reports whether a customer could be added now (AddCustomer
// asks before it writes to the store).
func (r *room) checkAdd() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return r.doneErrLocked()
	}
	if len(r.order) >= r.maxKnown() {
		return ErrFull
	}
	return nil
}

// addCustomer creates a waiting customer whose session is stored already.
func (r *room) addCustomer(id ParticipantID, name, key string, now, expires time.Time) (*participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil, r.doneErrLocked()
	}
	if len(r.order) >= r.maxKnown() {
		return nil, ErrFull
	}
	if r.byID[id] != nil {
		return nil, fmt.Errorf("participant %s exists: %w", id, ErrForbidden)
	}
	p := &participant{
		id: id, role: RoleCustomer, name: name, sessionKey: key, expires: expires, since: now,
		state: StateWaiting, lastSeen: now,
	}
	r.addLocked(p)
	// Until its first connection the customer is like one whose connection
	// dropped: one who never connects leaves when the grace period ends.
	r.startGraceLocked(p)
	r.changedLocked()
	return p, nil
}

// dropCustomer takes a customer out whom AddCustomer added but whose join
// failed afterwards (web could not record it): no waiting entry, no
// session stays behind. It waits until the store has forgotten them.
func (r *room) dropCustomer(ctx context.Context, id ParticipantID) error {
	r.mu.Lock()
	p := r.byID[id]
	if p == nil || p.role != RoleCustomer {
		r.mu.Unlock()
		return nil
	}
	p.stopGraceLocked()
	p.state = StateLeft
	if c := p.conn; c != nil {
		c.close(websocket.StatusPolicyViolation, "join failed", closeFlush)
		p.conn = nil
	}
	r.removeLocked(p)
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("customer removed: join failed", "participant", p.id)
	r.stopMedia(p, nil)
	return r.q.do(ctx, "drop customer", func(ctx context.Context) error {
		return errors.Join(r.store.Delete(ctx, p.sessionKey), r.store.RemoveWaiting(ctx, r.info.ID, p.id))
	})
}

// staffParticipant returns the advisor for who, creating it (not yet
// joined) when needed, and the generation of the connection about to
// attach. A staff user who is not in the call (or reconnecting to it) is
// refused when the call is full. (Two advisors connecting at the same
// moment may exceed the limit by one; attach does not check again.)
func (r *room) staffParticipant(who Staff) (*participant, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil, 0, r.doneErrLocked()
	}
	p := r.staff[who.UserID]
	if p == nil || !p.inCallLocked() {
		if r.inCallCountLocked() >= r.cfg.MaxParticipants {
			return nil, 0, ErrFull
		}
	}
	if p == nil {
		p = &participant{id: staffParticipantID(r.info.ID, who.UserID), role: RoleAdvisor, name: clip(who.Name), staffID: who.UserID, state: StateLeft}
		r.addLocked(p)
	}
	p.nextGen = max(p.nextGen, p.gen) + 1
	return p, p.nextGen, nil
}

func (r *room) doneErrLocked() error {
	if r.ended {
		return ErrEnded
	}
	return errHubClosed
}

// handle carries out one valid client message of participant p on c.
func (r *room) handle(ctx context.Context, p *participant, c *conn, m ClientMessage) error {
	switch m.Type {
	case TypePing:
		c.send(encode(pongMsg{Type: TypePong, Ref: m.ID}))
		return nil
	case TypeOffer:
		return r.publish(p, c, m)
	case TypeAnswer:
		return r.subscribeAnswer(p, c, m.SDP)
	case TypeCandidate:
		return r.addCandidate(p, c, m)
	case TypeRestartICE:
		return r.restartICE(p, c)
	case TypeMedia:
		return r.setMedia(p, c, m)
	case TypeAdmit:
		return r.admit(p, c, m.Participant)
	case TypeReject:
		return r.reject(p, c, m.Participant)
	case TypeLeave:
		r.leave(p, c)
		return nil
	case TypeChat:
		return r.sendChat(p, c, m)
	case TypeReceipt:
		return r.receipt(p, c, m.Msg)
	case TypeDelete:
		return r.deleteChat(p, c, m.Msg)
	}
	return protoErr(CodeUnknownType, "unknown message type") // DecodeClientMessage prevents this
}

func (r *room) setMedia(p *participant, c *conn, m ClientMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done || p.conn != c || p.state != StateJoined {
		return errBadState
	}
	p.audio, p.video, p.screen, p.tracks = m.Audio, m.Video, m.Screen, maps.Clone(m.Tracks)
	p.plain = m.E2EE != nil && !*m.E2EE
	r.changedLocked()
	return nil
}

// waiterLocked checks that advisor p on c may decide about target and
// returns the waiting customer (who may be reconnecting).
func (r *room) waiterLocked(p *participant, c *conn, target ParticipantID) (*participant, error) {
	if p.role != RoleAdvisor {
		return nil, errNotAllowed
	}
	if r.done || p.conn != c || p.state != StateJoined {
		return nil, errBadState
	}
	t := r.byID[target]
	if t == nil || t.role != RoleCustomer || !t.waitingLocked() {
		return nil, errNoSuchWaiter
	}
	return t, nil
}

// admit lets a waiting customer in. One who is reconnecting right now is
// joined when they are back.
func (r *room) admit(p *participant, c *conn, target ParticipantID) error {
	r.mu.Lock()
	t, err := r.waiterLocked(p, c, target)
	if err == nil && r.inCallCountLocked() >= r.cfg.MaxParticipants {
		err = errRoomFull
	}
	if err != nil {
		r.mu.Unlock()
		return err
	}
	var tc *conn
	if t.state == StateReconnecting {
		t.resume = StateJoined
	} else {
		t.state = StateJoined
		tc = t.conn
		if tc != nil {
			tc.send(encode(stateMsg{Type: TypeState, State: StateJoined}))
			tc.send(r.chat.historyLocked())
		}
	}
	t.lastSeen = time.Now()
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("customer admitted", "participant", t.id, "by", p.id)
	if f := r.cfg.Admitted; f != nil {
		go f(r.info.ID, t.id)
	}
	r.saveSession(t)
	r.removeWaiting(t)
	if tc != nil {
		// Subscribe offers for the others' tracks need the peer even if the
		// customer never publishes.
		if _, _, err := r.ensurePeer(t, tc); err != nil {
			r.log.Warn("media peer for admitted customer", "participant", t.id, "kind", mediaErrorKind(err))
		}
	}
	return nil
}

func (r *room) reject(p *participant, c *conn, target ParticipantID) error {
	r.mu.Lock()
	t, err := r.waiterLocked(p, c, target)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	t.stopGraceLocked()
	t.state = StateRejected
	if tc := t.conn; tc != nil {
		tc.send(encode(stateMsg{Type: TypeState, State: StateRejected}))
		tc.close(StatusRejected, "rejected", closeFlush)
		t.conn = nil
	}
	r.removeLocked(t)
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("customer rejected", "participant", t.id, "by", p.id)
	r.forget(t)
	return nil
}

// leave takes p out for good (an advisor may come back by connecting
// again; a customer's session is deleted).
func (r *room) leave(p *participant, c *conn) {
	r.mu.Lock()
	if r.done || p.conn != c {
		r.mu.Unlock()
		return
	}
	p.state = StateLeft
	p.clearMediaLocked()
	p.conn = nil
	c.send(encode(stateMsg{Type: TypeState, State: StateLeft}))
	c.close(websocket.StatusNormalClosure, "left", closeFlush)
	if p.role == RoleCustomer {
		r.removeLocked(p)
	}
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("participant left", "participant", p.id)
	r.stopMedia(p, nil)
	if p.role == RoleCustomer {
		r.forget(p)
	}
}

// end ends the consultation: everyone gets state ended and is closed with
// 4004, and all media peers are closed. Idempotent.
func (r *room) end() {
	r.shut(true)
}

// shutdown closes every connection (1001) because the hub closes.
func (r *room) shutdown() {
	r.shut(false)
}

func (r *room) shut(ended bool) {
	r.mu.Lock()
	if r.done && (!ended || r.ended) {
		r.mu.Unlock()
		return
	}
	r.done = true
	r.ended = r.ended || ended
	r.chat.clearLocked() // chat lives only as long as the consultation
	var dropped []int64  // advisors who were reconnecting
	for _, p := range r.order {
		if p.state == StateReconnecting && p.role == RoleAdvisor {
			dropped = append(dropped, p.staffID)
		}
		p.stopGraceLocked()
		if p.conn == nil {
			continue
		}
		if ended {
			p.conn.send(encode(stateMsg{Type: TypeState, State: StateEnded}))
			p.conn.close(StatusEnded, "ended", closeFlush)
		} else {
			p.conn.close(websocket.StatusGoingAway, "server shutting down", closeFlush)
		}
		p.conn = nil
	}
	r.m.addParticipants(-r.joined, -r.waiting, -r.reconnecting)
	r.joined, r.waiting, r.reconnecting = 0, 0, 0
	ps := slices.Clone(r.order)
	r.mu.Unlock()
	r.q.close()
	for _, uid := range dropped {
		r.hooks.staffDropped(uid, r.info.ID, false)
	}
	for _, p := range ps {
		r.stopMedia(p, nil)
	}
}

func (r *room) isEnded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// snapshot returns the live counts.
func (r *room) snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{ID: r.info.ID}
	for _, p := range r.order {
		switch p.state {
		case StateJoined:
			s.Joined++
		case StateWaiting:
			s.Waiting++
		case StateReconnecting:
			s.Reconnecting++
		}
	}
	return s
}

// changedLocked sends every connected participant the roster it may see
// and updates the participant gauges.
func (r *room) changedLocked() {
	all := make([]ParticipantInfo, 0, len(r.order))
	inCall := make([]bool, 0, len(r.order))
	joined, waiting, reconnecting := 0, 0, 0
	for _, p := range r.order {
		all = append(all, p.infoLocked())
		inCall = append(inCall, p.inCallLocked())
		switch p.state {
		case StateJoined:
			joined++
		case StateWaiting:
			waiting++
		case StateReconnecting:
			reconnecting++
		}
	}
	var staffMsg []byte
	for i, p := range r.order {
		if p.conn == nil {
			continue
		}
		if p.role == RoleAdvisor {
			if staffMsg == nil {
				staffMsg = encode(rosterMsg{Type: TypeRoster, Participants: rosterView(all, inCall, -1, true)})
			}
			p.conn.send(staffMsg)
			continue
		}
		p.conn.send(encode(rosterMsg{Type: TypeRoster, Participants: rosterView(all, inCall, i, false)}))
	}
	r.m.addParticipants(joined-r.joined, waiting-r.waiting, reconnecting-r.reconnecting)
	r.joined, r.waiting, r.reconnecting = joined, waiting, reconnecting
}

// rosterView filters the roster for one viewer: advisors see everyone in,
// waiting for or reconnecting to the call; customers those in the call
// (inCall: joined, or reconnecting from joined) and themselves (self is
// the viewer's index).
func rosterView(all []ParticipantInfo, inCall []bool, self int, advisor bool) []ParticipantInfo {
	out := make([]ParticipantInfo, 0, len(all))
	for i, p := range all {
		switch {
		case inCall[i] || i == self:
		case advisor && (p.State == StateWaiting || p.State == StateReconnecting):
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}
