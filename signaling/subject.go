package signaling

import (
	"context"

	"github.com/coder/websocket"
)

// Data-subject rights in a live call (web's "my data"): a customer who
// deletes their data leaves the call for good and their session goes from
// the store; a corrected name is shown to everyone at once.

// RemoveCustomer takes customer pid out of consultation id for good: its
// connection gets state "left" and is closed, its media stops, its session
// and waiting-queue entry are deleted from the session store. false when
// the room does not know the customer (any more).
func (h *Hub) RemoveCustomer(ctx context.Context, id ConsultationID, pid ParticipantID) bool {
	r, err := h.room(id)
	if err != nil {
		return false
	}
	r.mu.Lock()
	p := r.byID[pid]
	if r.done || p == nil || p.role != RoleCustomer {
		r.mu.Unlock()
		return false
	}
	p.stopGraceLocked()
	p.state = StateLeft
	p.clearMediaLocked()
	if c := p.conn; c != nil {
		c.send(encode(stateMsg{Type: TypeState, State: StateLeft, Reason: "erased"}))
		c.close(websocket.StatusNormalClosure, "left", closeFlush)
		p.conn = nil
	}
	r.removeLocked(p)
	r.changedLocked()
	r.mu.Unlock()
	r.log.Info("customer removed at their request", "participant", p.id)
	r.stopMedia(p, nil)
	r.forget(p)
	return true
}

// RenameCustomer changes customer pid's display name in the room (everyone
// gets the new participant list) and in the session store. false when the
// room does not know the customer.
func (h *Hub) RenameCustomer(ctx context.Context, id ConsultationID, pid ParticipantID, name string) bool {
	r, err := h.room(id)
	if err != nil {
		return false
	}
	name = clip(name)
	r.mu.Lock()
	p := r.byID[pid]
	if r.done || p == nil || p.role != RoleCustomer {
		r.mu.Unlock()
		return false
	}
	p.name = name
	s, ttl, ok := r.sessionLocked(p)
	r.changedLocked()
	r.mu.Unlock()
	if ok && ttl > 0 {
		r.q.push("rename session", func(ctx context.Context) error {
			return r.store.Put(ctx, p.sessionKey, s, ttl)
		})
	}
	return true
}

// HasCustomer reports whether customer pid is in consultation id's room
// (waiting, in the call or reconnecting).
func (h *Hub) HasCustomer(id ConsultationID, pid ParticipantID) bool {
	r, err := h.room(id)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.byID[pid]
	return !r.done && p != nil && p.role == RoleCustomer
}
