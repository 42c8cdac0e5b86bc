package signaling

import (
	"context"
	"errors"
	"fmt"
)

// CustomerAccess is who a customer session cookie stands for right now.
type CustomerAccess struct {
	Consultation ConsultationID
	Participant  ParticipantID
	// State is the participant's live state in the room (joined, waiting,
	// reconnecting, …).
	State State
	// Name is the display name the customer gave (may be empty).
	Name string
}

// Customer resolves a customer's parley_session cookie for consultation id
// without connecting (web uses it for the file endpoints). It fails with
// ErrEnded, ErrNoConsultation, ErrNoSession (no valid session, or one the
// room does not know), ErrForbidden (a session of another consultation) or
// ErrUnavailable (session store).
func (h *Hub) Customer(ctx context.Context, id ConsultationID, cookie string) (CustomerAccess, error) {
	rm, err := h.room(id)
	if err != nil {
		return CustomerAccess{}, err
	}
	if cookie == "" {
		return CustomerAccess{}, ErrNoSession
	}
	key := sessionKey(cookie)
	sctx, cancel := h.storeCtx(ctx)
	defer cancel()
	s, err := h.store.Get(sctx, key)
	switch {
	case errors.Is(err, ErrNoSession):
		// The store may have lost it (e.g. Redis restarted empty); the
		// room still knows its customers.
		var ok bool
		if s, _, ok = rm.localSession(key); !ok {
			return CustomerAccess{}, ErrNoSession
		}
	case err != nil:
		return CustomerAccess{}, fmt.Errorf("resolve customer: %w", unavailable("load session", err))
	}
	if s.ConsultationID != id {
		return CustomerAccess{}, ErrForbidden
	}
	state, name, err := rm.customerState(s.ParticipantID, key)
	if err != nil {
		return CustomerAccess{}, err
	}
	return CustomerAccess{Consultation: id, Participant: s.ParticipantID, State: state, Name: name}, nil
}

// customerState is the live state and name of customer pid with session
// key key.
func (r *room) customerState(pid ParticipantID, key string) (State, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return "", "", r.doneErrLocked()
	}
	p := r.byID[pid]
	if p == nil || p.role != RoleCustomer || p.sessionKey != key {
		return "", "", ErrNoSession
	}
	return p.state, p.name, nil
}
