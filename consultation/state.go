package consultation

import (
	"errors"
	"fmt"
)

// State is where a consultation is in its life (doc.go).
type State string

// The states.
const (
	StateCreated State = "created" // open; no live room on this node
	StateLive    State = "live"    // open; the hub holds its room
	StateEnded   State = "ended"   // ended by staff
	StateExpired State = "expired" // ended at consultation.max_duration
)

// Event is what happens to a consultation.
type Event string

// The events.
const (
	EventConnect Event = "connect" // a participant connects (or staff opens the call)
	EventJoin    Event = "join"    // a customer joins through the invite
	EventEnd     Event = "end"     // staff end it
	EventExpire  Event = "expire"  // it reached its maximum duration
)

// Final reports whether s is a state nothing leaves.
func (s State) Final() bool { return s == StateEnded || s == StateExpired }

// ErrIllegal is a transition the state machine does not allow.
var ErrIllegal = errors.New("consultation: illegal transition")

// Next is the state machine: the state after ev in from, or an error
// (ErrEnded wrapping ErrIllegal for connect and join once it is over).
func Next(from State, ev Event) (State, error) {
	switch from {
	case StateCreated, StateLive:
		switch ev {
		case EventConnect, EventJoin:
			return StateLive, nil
		case EventEnd:
			return StateEnded, nil
		case EventExpire:
			return StateExpired, nil
		}
	case StateEnded, StateExpired:
		switch ev {
		case EventEnd, EventExpire:
			return from, nil // already over: nothing changes
		case EventConnect, EventJoin:
			return from, fmt.Errorf("%s in %s: %w", ev, from, errors.Join(ErrEnded, ErrIllegal))
		}
	}
	return from, fmt.Errorf("%s in %q: %w", ev, from, ErrIllegal)
}
