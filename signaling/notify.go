package signaling

// Server-originated messages (PROTOCOL.md "document", "document_progress"):
// other parts of the server (the REST API's document endpoints) tell the
// people in a live call that something changed. The hub does not know what
// a document is; it only delivers.

// Audience selects who gets a Notify message.
type Audience int

const (
	// ToCall: everyone joined in the call.
	ToCall Audience = iota
	// ToAdvisors: the advisors joined in the call.
	ToAdvisors
)

// Notify queues msg (a struct or map that encodes to a JSON object with a
// "type" documented in PROTOCOL.md) to the connected participants of live
// consultation id that to selects. It never blocks: a slow client's full
// queue disconnects that client as for any other message. It reports
// whether the consultation is live on this node.
func (h *Hub) Notify(id ConsultationID, to Audience, msg any) bool {
	h.mu.Lock()
	r := h.rooms[id]
	h.mu.Unlock()
	if r == nil {
		return false
	}
	b := encode(msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return false
	}
	for _, q := range r.order {
		if q.conn == nil || q.state != StateJoined || (to == ToAdvisors && q.role != RoleAdvisor) {
			continue
		}
		q.conn.send(b)
	}
	return true
}

// TypeAdvisor is the server message that tells customers whether the
// consultation's advisor declared themselves away (PROTOCOL.md "advisor").
const TypeAdvisor = "advisor"

type advisorMsg struct {
	Type string `json:"type"`
	Away bool   `json:"away"`
}

// SetAdvisorAway records whether the advisor who owns live consultation id
// is away (their availability switch is off) and, when that changed, tells
// the connected customers (waiting or in the call) with an "advisor"
// message; the welcome carries the current value. It reports whether the
// consultation is live on this node.
func (h *Hub) SetAdvisorAway(id ConsultationID, away bool) bool {
	h.mu.Lock()
	r := h.rooms[id]
	h.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return false
	}
	if r.advisorAway == away {
		return true
	}
	r.advisorAway = away
	b := encode(advisorMsg{Type: TypeAdvisor, Away: away})
	for _, q := range r.order {
		if q.conn == nil || q.role != RoleCustomer {
			continue
		}
		q.conn.send(b)
	}
	return true
}
