package signaling

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/parley-video/parley/sfu"
)

// participant is one person in a consultation.
type participant struct {
	id         ParticipantID
	role       Role
	name       string
	staffID    int64  // advisors: the staff user
	sessionKey string // customers: the store key (hash of the cookie)

	// Guarded by room.mu.
	state  State
	conn   *conn // the current connection, nil when none
	audio  bool
	video  bool
	screen bool
	tracks map[string]TrackSource

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
	}
}

func (p *participant) clearMediaLocked() {
	p.audio, p.video, p.screen, p.tracks = false, false, false, nil
}

// room is one live consultation: its participants and their states.
//
// Everything under mu is state; messages are queued onto connections under
// mu too (a non-blocking channel send, so rosters reach every client in the
// order the changes happened). Socket writes happen in each connection's
// writer goroutine; media plane and store calls happen outside mu.
type room struct {
	info  ConsultationInfo
	cfg   *Config
	media Media // nil: no media plane
	store SessionStore
	m     *metrics
	log   *slog.Logger

	mu      sync.Mutex
	ended   bool // End was called
	done    bool // ended or the hub closed: nobody may attach
	order   []*participant
	byID    map[ParticipantID]*participant
	staff   map[int64]*participant
	gone    map[ParticipantID]struct{} // customers who left or were rejected
	joined  int                        // as reported to metrics
	waiting int
}

func newRoom(info ConsultationInfo, cfg *Config, media Media, store SessionStore, m *metrics, log *slog.Logger) *room {
	return &room{
		info: info, cfg: cfg, media: media, store: store, m: m,
		log:   log.With("consultation", info.ID),
		byID:  make(map[ParticipantID]*participant),
		staff: make(map[int64]*participant),
		gone:  make(map[ParticipantID]struct{}),
	}
}

// maxKnown bounds the participants a room keeps (joined, waiting, and
// those who lost their connection and may come back).
func (r *room) maxKnown() int { return max(4*r.cfg.MaxParticipants, 16) }

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
	}
}

func (r *room) countLocked(s State) int {
	n := 0
	for _, p := range r.order {
		if p.state == s {
			n++
		}
	}
	return n
}

// addCustomer creates a waiting customer.
func (r *room) addCustomer(name, key string) (*participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return nil, ErrEnded
	}
	if r.done {
		return nil, errHubClosed
	}
	if len(r.order) >= r.maxKnown() {
		return nil, ErrFull
	}
	p := &participant{id: newParticipantID(), role: RoleCustomer, name: clip(name), sessionKey: key, state: StateWaiting}
	r.addLocked(p)
	r.changedLocked()
	return p, nil
}

// removeCustomer undoes addCustomer (the session could not be stored).
func (r *room) removeCustomer(p *participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[p.id] == p {
		r.removeLocked(p)
		r.changedLocked()
	}
}

// staffParticipant returns the advisor for who, creating it (not yet
// joined) when needed. A staff user who is not in the call yet is refused
// when the call is full. (Two advisors connecting at the same moment may
// exceed the limit by one; attach does not check again.)
func (r *room) staffParticipant(who Staff) (*participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil, r.doneErrLocked()
	}
	p := r.staff[who.UserID]
	if p != nil && p.state == StateJoined {
		return p, nil
	}
	if r.countLocked(StateJoined) >= r.cfg.MaxParticipants {
		return nil, ErrFull
	}
	if p == nil {
		p = &participant{id: newParticipantID(), role: RoleAdvisor, name: clip(who.Name), staffID: who.UserID, state: StateLeft}
		r.addLocked(p)
	}
	return p, nil
}

// customerParticipant returns the customer a session stands for. A
// customer unknown here (e.g. this node restarted and the store kept the
// session) is recreated; one who left for good or was rejected is not.
func (r *room) customerParticipant(s Session, key string) (*participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil, r.doneErrLocked()
	}
	if p := r.byID[s.ParticipantID]; p != nil {
		if p.role != RoleCustomer || p.sessionKey != key {
			return nil, ErrForbidden
		}
		return p, nil
	}
	if _, gone := r.gone[s.ParticipantID]; gone || s.Role != RoleCustomer || s.ParticipantID == "" {
		return nil, ErrNoSession
	}
	if len(r.order) >= r.maxKnown() {
		return nil, ErrFull
	}
	p := &participant{id: s.ParticipantID, role: RoleCustomer, name: clip(s.Name), sessionKey: key, state: StateLeft}
	r.addLocked(p)
	return p, nil
}

func (r *room) doneErrLocked() error {
	if r.ended {
		return ErrEnded
	}
	return errHubClosed
}

// attach makes c the participant's connection, replacing (closing with
// 4001) an older one, and sends the welcome and a roster. It reports
// whether the participant is in the call.
func (r *room) attach(p *participant, c *conn, welcome func(ParticipantInfo) []byte) (joined bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return false, r.doneErrLocked()
	}
	if r.byID[p.id] != p {
		return false, ErrNoSession // removed while connecting
	}
	if old := p.conn; old != nil {
		old.close(StatusReplaced, "replaced", closeFlush)
		r.log.Info("signaling connection replaced", "participant", p.id)
	}
	p.conn = c
	if p.state == StateLeft {
		if p.role == RoleAdvisor {
			p.state = StateJoined
		} else {
			p.state = StateWaiting
		}
	}
	c.send(welcome(p.infoLocked()))
	r.changedLocked()
	r.log.Info("participant connected", "participant", p.id, "role", p.role, "state", p.state)
	return p.state == StateJoined, nil
}

// connectionLost handles a connection that ended without leave, end,
// rejection or replacement. It is the one place that decides what losing
// the connection means; for now the participant leaves (a grace period in
// state reconnecting goes here).
func (r *room) connectionLost(p *participant, c *conn, why string) {
	r.mu.Lock()
	if r.done || p.conn != c {
		r.mu.Unlock()
		return
	}
	p.conn = nil
	if p.state == StateJoined || p.state == StateWaiting {
		p.state = StateLeft
		p.clearMediaLocked()
	}
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("participant connection lost", "participant", p.id, "reason", why)
	r.stopMedia(p, c)
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
	case TypeMedia:
		return r.setMedia(p, c, m)
	case TypeAdmit:
		return r.admit(p, c, m.Participant)
	case TypeReject:
		return r.reject(ctx, p, c, m.Participant)
	case TypeLeave:
		r.leave(ctx, p, c)
		return nil
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
	r.changedLocked()
	return nil
}

// waiterLocked checks that advisor p on c may decide about target and
// returns the waiting customer.
func (r *room) waiterLocked(p *participant, c *conn, target ParticipantID) (*participant, error) {
	if p.role != RoleAdvisor {
		return nil, errNotAllowed
	}
	if r.done || p.conn != c || p.state != StateJoined {
		return nil, errBadState
	}
	t := r.byID[target]
	if t == nil || t.role != RoleCustomer || t.state != StateWaiting {
		return nil, errNoSuchWaiter
	}
	return t, nil
}

func (r *room) admit(p *participant, c *conn, target ParticipantID) error {
	r.mu.Lock()
	t, err := r.waiterLocked(p, c, target)
	if err == nil && r.countLocked(StateJoined) >= r.cfg.MaxParticipants {
		err = errRoomFull
	}
	if err != nil {
		r.mu.Unlock()
		return err
	}
	t.state = StateJoined
	tc := t.conn
	if tc != nil {
		tc.send(encode(stateMsg{Type: TypeState, State: StateJoined}))
	}
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("customer admitted", "participant", t.id, "by", p.id)
	if tc != nil {
		// Subscribe offers for the others' tracks need the peer even if the
		// customer never publishes.
		if _, _, err := r.ensurePeer(t, tc); err != nil {
			r.log.Warn("media peer for admitted customer", "participant", t.id, "kind", mediaErrorKind(err))
		}
	}
	return nil
}

func (r *room) reject(ctx context.Context, p *participant, c *conn, target ParticipantID) error {
	r.mu.Lock()
	t, err := r.waiterLocked(p, c, target)
	if err != nil {
		r.mu.Unlock()
		return err
	}
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
	r.forgetSession(ctx, t)
	return nil
}

// leave takes p out for good (an advisor may come back by connecting
// again; a customer's session is deleted).
func (r *room) leave(ctx context.Context, p *participant, c *conn) {
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
		r.forgetSession(ctx, p)
	}
}

func (r *room) forgetSession(ctx context.Context, p *participant) {
	if p.sessionKey == "" {
		return
	}
	if err := r.store.Delete(ctx, p.sessionKey); err != nil {
		r.log.Warn("delete session", "participant", p.id, "err", err)
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
	for _, p := range r.order {
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
	r.m.addParticipants(-r.joined, -r.waiting)
	r.joined, r.waiting = 0, 0
	ps := slices.Clone(r.order)
	r.mu.Unlock()
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
	return Snapshot{ID: r.info.ID, Joined: r.countLocked(StateJoined), Waiting: r.countLocked(StateWaiting)}
}

// changedLocked sends every connected participant the roster it may see
// and updates the participant gauges.
func (r *room) changedLocked() {
	all := make([]ParticipantInfo, 0, len(r.order))
	for _, p := range r.order {
		all = append(all, p.infoLocked())
	}
	var staffMsg []byte
	for i, p := range r.order {
		if p.conn == nil {
			continue
		}
		if p.role == RoleAdvisor {
			if staffMsg == nil {
				staffMsg = encode(rosterMsg{Type: TypeRoster, Participants: rosterView(all, -1, true)})
			}
			p.conn.send(staffMsg)
			continue
		}
		p.conn.send(encode(rosterMsg{Type: TypeRoster, Participants: rosterView(all, i, false)}))
	}
	joined, waiting := 0, 0
	for _, p := range all {
		switch p.State {
		case StateJoined:
			joined++
		case StateWaiting:
			waiting++
		}
	}
	r.m.addParticipants(joined-r.joined, waiting-r.waiting)
	r.joined, r.waiting = joined, waiting
}

// rosterView filters the roster for one viewer: advisors see everyone in
// or waiting for the call, customers those in the call and themselves
// (self is the viewer's index).
func rosterView(all []ParticipantInfo, self int, advisor bool) []ParticipantInfo {
	out := make([]ParticipantInfo, 0, len(all))
	for i, p := range all {
		switch {
		case p.State == StateJoined || p.State == StateReconnecting:
		case advisor && p.State == StateWaiting:
		case i == self:
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}
