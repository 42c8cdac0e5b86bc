package signaling

import (
	"maps"
	"slices"
)

// Load counts what this node carries, for the cluster registry: its live
// consultations and the participants in them (joined, waiting or
// reconnecting).
func (h *Hub) Load() (consultations, participants int) {
	h.mu.Lock()
	rooms := slices.Collect(maps.Values(h.rooms))
	h.mu.Unlock()
	for _, r := range rooms {
		s := r.snapshot()
		participants += s.Joined + s.Waiting + s.Reconnecting
	}
	return len(rooms), participants
}

// Rooms lists the consultations whose rooms this node holds.
func (h *Hub) Rooms() []ConsultationID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Collect(maps.Keys(h.rooms))
}

// Full reports whether this node carries Config.MaxNodeParticipants
// participants or more (never with no limit): new customers are refused.
func (h *Hub) Full() bool {
	if h.cfg.MaxNodeParticipants <= 0 {
		return false
	}
	_, p := h.Load()
	return p >= h.cfg.MaxNodeParticipants
}
