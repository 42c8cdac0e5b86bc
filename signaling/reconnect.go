package signaling

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reconnecting (PROTOCOL.md "Reconnecting"): a dropped connection leaves
// its participant in state reconnecting for the grace period; a newer
// connection of the same participant (same customer cookie, same staff
// user) takes it back with its id, name and state. Which connection is
// newest is decided by generations: the store's Claim counts them for
// customers, the room for advisors; attach accepts only a generation newer
// than the last one it accepted.

// errSuperseded: a newer connection of the participant was accepted
// before this one attached (it is closed with 4001).
var errSuperseded = errors.New("signaling: superseded by a newer connection")

// msgReplaced is the error message a replaced connection gets before 4001.
const msgReplaced = "this call was opened in another window or tab; this connection is closed"

// customerParticipant returns the customer a session stands for. A
// customer unknown here (this node restarted and the store kept the
// session) is recreated as reconnecting to its stored state, unless the
// stored grace period is over; one who left for good or was rejected is
// not recreated.
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
	resume := State(s.State)
	now := time.Now()
	if resume == StateReconnecting {
		if now.Sub(s.LastSeen) > r.cfg.GracePeriod {
			return nil, ErrNoSession
		}
		resume = State(s.Resume)
	}
	if resume != StateJoined {
		resume = StateWaiting
	}
	if len(r.order) >= r.maxKnown() {
		return nil, ErrFull
	}
	p := &participant{
		id: s.ParticipantID, role: RoleCustomer, name: clip(s.Name), sessionKey: key,
		expires: now.Add(r.sessionTTL(now)), since: now,
		state: StateReconnecting, resume: resume, lastSeen: now, gen: s.Generation,
	}
	r.addLocked(p)
	r.startGraceLocked(p)
	r.changedLocked()
	r.log.Info("participant restored from the session store", "participant", p.id, "state", resume)
	return p, nil
}

// localSession rebuilds the session of a customer this room still knows
// by its key (the store lost it, e.g. Redis restarted empty); ok is false
// when there is none.
func (r *room) localSession(key string) (s Session, ttl time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return Session{}, 0, false
	}
	for _, p := range r.order {
		if p.sessionKey == key {
			return r.sessionLocked(p)
		}
	}
	return Session{}, 0, false
}

// sessionLocked is p's session as the store should have it, and its
// remaining lifetime; ok is false when p has none (any more).
func (r *room) sessionLocked(p *participant) (Session, time.Duration, bool) {
	if p.sessionKey == "" || r.byID[p.id] != p {
		return Session{}, 0, false
	}
	ttl := time.Until(p.expires)
	if ttl <= 0 {
		return Session{}, 0, false
	}
	return Session{
		ConsultationID: r.info.ID, ParticipantID: p.id, Role: p.role, Name: p.name,
		State: string(p.state), Resume: string(p.resume), LastSeen: p.lastSeen.UTC(),
		Owner: p.owner, Generation: p.gen,
	}, ttl, true
}

// attach makes c (of generation gen) the participant's connection,
// replacing an older one (error replaced, then 4001), and sends the
// welcome and a roster. A reconnecting participant gets its previous
// state back. It reports whether the participant is in the call.
func (r *room) attach(p *participant, c *conn, gen uint64, welcome func(ParticipantInfo) []byte) (joined bool, err error) {
	r.mu.Lock()
	if r.done {
		defer r.mu.Unlock()
		return false, r.doneErrLocked()
	}
	if r.byID[p.id] != p {
		r.mu.Unlock()
		return false, ErrNoSession // removed while connecting
	}
	if gen <= p.gen {
		r.mu.Unlock()
		return false, errSuperseded
	}
	p.gen, p.owner = gen, c.id
	if old := p.conn; old != nil {
		old.sendError(CodeReplaced, msgReplaced, nil)
		old.close(StatusReplaced, "replaced", closeFlush)
		r.log.Info("signaling connection replaced", "participant", p.id)
	}
	p.conn = c
	p.stopGraceLocked() // also the deadline of a customer's first connection
	wasReconnecting := p.state == StateReconnecting
	switch p.state {
	case StateLeft: // an advisor who left or whose grace period ended
		p.state = StateJoined
	case StateReconnecting:
		p.stopGraceLocked()
		p.state, p.resume = p.resume, ""
		// The old media peer goes; the client publishes anew.
		p.clearMediaLocked()
	}
	p.lastSeen = time.Now()
	c.send(welcome(p.infoLocked()))
	if p.state == StateJoined {
		c.send(r.chat.historyLocked())
	}
	r.changedLocked()
	state := p.state
	r.mu.Unlock()

	r.log.Info("participant connected", "participant", p.id, "role", p.role, "state", state, "reconnected", wasReconnecting)
	r.saveSession(p)
	if p.role == RoleAdvisor && wasReconnecting {
		r.hooks.staffDropped(p.staffID, r.info.ID, false)
	}
	return state == StateJoined, nil
}

// connectionLost handles a connection that ended without leave, end,
// rejection or replacement. It is the one place that decides what losing
// the connection means: a joined or waiting participant is reconnecting
// for the grace period (keeping its media peer meanwhile), then leaves.
func (r *room) connectionLost(p *participant, c *conn, why string) {
	r.mu.Lock()
	if r.done || p.conn != c {
		r.mu.Unlock()
		return
	}
	p.conn = nil
	dropped := p.state == StateJoined || p.state == StateWaiting
	if dropped {
		p.state, p.resume = StateReconnecting, p.state
		p.lastSeen = time.Now()
		r.startGraceLocked(p)
	}
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("participant connection lost", "participant", p.id, "reason", why, "reconnecting", dropped)
	if !dropped {
		r.stopMedia(p, c)
		return
	}
	r.saveSession(p)
	if p.role == RoleAdvisor {
		r.hooks.staffDropped(p.staffID, r.info.ID, true)
	}
}

// startGraceLocked starts p's grace period.
func (r *room) startGraceLocked(p *participant) {
	p.stopGraceLocked()
	seq := p.graceSeq
	p.grace = time.AfterFunc(r.cfg.GracePeriod, func() { r.graceOver(p, seq) })
}

// stopGraceLocked stops p's grace timer; one that fired already finds
// graceSeq changed and does nothing.
func (p *participant) stopGraceLocked() {
	if p.grace != nil {
		p.grace.Stop()
		p.grace = nil
	}
	p.graceSeq++
}

// graceOver ends the grace period of p (timer seq): p has left. A
// customer's session is deleted (the cookie then gets 401); an advisor may
// come back by connecting again. A customer who never connected (waiting,
// or admitted meanwhile, without a connection) leaves the same way.
func (r *room) graceOver(p *participant, seq uint64) {
	r.mu.Lock()
	noConn := p.conn == nil && (p.state == StateWaiting || p.state == StateJoined)
	if r.done || p.graceSeq != seq || (p.state != StateReconnecting && !noConn) {
		r.mu.Unlock()
		return
	}
	p.grace = nil
	p.state, p.resume = StateLeft, ""
	p.clearMediaLocked()
	if p.role == RoleCustomer {
		r.removeLocked(p)
	}
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("participant left: grace period over", "participant", p.id)
	r.stopMedia(p, nil)
	if p.role == RoleCustomer {
		r.forget(p)
	} else {
		r.hooks.staffDropped(p.staffID, r.info.ID, false)
	}
}

// Store writes. They go through the room's queue: in order, outside the
// room's lock, each with a short deadline.

// saveSession writes p's current state to its session. A session the
// store lost (and p still has) is written back whole.
func (r *room) saveSession(p *participant) {
	if p.sessionKey == "" {
		return
	}
	r.q.push("save session", func(ctx context.Context) error { return r.writeSession(ctx, p) })
}

func (r *room) writeSession(ctx context.Context, p *participant) error {
	r.mu.Lock()
	s, ttl, ok := r.sessionLocked(p)
	r.mu.Unlock()
	if !ok {
		return nil
	}
	err := r.store.Update(ctx, p.sessionKey, SessionUpdate{State: s.State, Resume: s.Resume, LastSeen: s.LastSeen})
	if errors.Is(err, ErrNoSession) {
		err = r.store.Put(ctx, p.sessionKey, s, ttl)
	}
	if err != nil {
		return fmt.Errorf("participant %s: %w", p.id, err)
	}
	return nil
}

// addWaiting puts p into the store's waiting queue.
func (r *room) addWaiting(p *participant) {
	w := Waiter{Participant: p.id, Since: p.since}
	ttl := time.Until(p.expires)
	r.q.push("add waiting", func(ctx context.Context) error {
		return r.store.AddWaiting(ctx, r.info.ID, w, max(ttl, time.Second))
	})
}

// removeWaiting takes p out of the store's waiting queue.
func (r *room) removeWaiting(p *participant) {
	r.q.push("remove waiting", func(ctx context.Context) error {
		return r.store.RemoveWaiting(ctx, r.info.ID, p.id)
	})
}

// forget deletes the session of a customer who is gone for good.
func (r *room) forget(p *participant) {
	if p.sessionKey == "" {
		return
	}
	r.q.push("delete session", func(ctx context.Context) error {
		return errors.Join(r.store.Delete(ctx, p.sessionKey), r.store.RemoveWaiting(ctx, r.info.ID, p.id))
	})
}

// resync writes the room's sessions and waiting queue back to the store
// after it failed (the store may have lost writes, or everything).
func (r *room) resync() {
	r.q.push("resync", func(ctx context.Context) error {
		type entry struct {
			p       *participant
			waiting bool
			w       Waiter
			ttl     time.Duration
		}
		r.mu.Lock()
		var es []entry
		for _, p := range r.order {
			if p.role == RoleCustomer {
				es = append(es, entry{p: p, waiting: p.waitingLocked(), w: Waiter{Participant: p.id, Since: p.since}, ttl: time.Until(p.expires)})
			}
		}
		r.mu.Unlock()
		var errs []error
		local := make(map[ParticipantID]bool, len(es))
		for _, e := range es {
			errs = append(errs, r.writeSession(ctx, e.p))
			local[e.p.id] = e.waiting
			if e.waiting && e.ttl > 0 {
				errs = append(errs, r.store.AddWaiting(ctx, r.info.ID, e.w, e.ttl))
			}
		}
		stored, err := r.store.ListWaiting(ctx, r.info.ID)
		errs = append(errs, err)
		for _, w := range stored {
			if !local[w.Participant] {
				errs = append(errs, r.store.RemoveWaiting(ctx, r.info.ID, w.Participant))
			}
		}
		return errors.Join(errs...)
	})
}
