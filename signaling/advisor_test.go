package signaling

import (
	"strings"
	"testing"
)

// TestAdvisorAway: the welcome tells a customer whether the consultation's
// advisor is away, and a change reaches the connected customers (waiting
// or in the call) as an "advisor" message, but not the advisors; setting
// the same value again sends nothing.
func TestAdvisorAway(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	if !e.hub.SetAdvisorAway("c1", true) {
		t.Fatal("SetAdvisorAway on a live consultation reports it is not live")
	}
	if e.hub.SetAdvisorAway("nope", true) {
		t.Fatal("SetAdvisorAway on an unknown consultation reports it live")
	}
	pid, cookie := e.addCustomer(t, "c1", customerName)
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})
	cu := e.mustDial(t, "c1", cookie)
	if w := cu.next(t); w.Type != TypeWelcome || !strings.Contains(string(w.raw), `"advisorAway":true`) {
		t.Fatalf("welcome without advisorAway true: %s", w.raw)
	}

	e.hub.SetAdvisorAway("c1", false)
	m := cu.waitType(t, TypeAdvisor)
	if !strings.Contains(string(m.raw), `"away":false`) {
		t.Fatalf("advisor message %s", m.raw)
	}
	e.hub.SetAdvisorAway("c1", false) // unchanged: nothing sent
	e.hub.SetAdvisorAway("c1", true)
	if m := cu.waitType(t, TypeAdvisor); !strings.Contains(string(m.raw), `"away":true`) {
		t.Fatalf("advisor message after the repeat %s (the unchanged value was sent again)", m.raw)
	}
	// The advisor got none of these: a ping's pong comes first.
	adv.send(t, `{"type":"ping","id":7}`)
	got := adv.waitFor(t, "pong or advisor", func(m serverMessage) bool { return m.Type == TypePong || m.Type == TypeAdvisor })
	if got.Type != TypePong {
		t.Fatalf("the advisor got %s", got.raw)
	}
}
