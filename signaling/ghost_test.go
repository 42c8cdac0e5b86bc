package signaling

import (
	"errors"
	"testing"
	"time"
)

// TestCustomerWithoutConnectionLeaves: a customer added over REST who
// never connects leaves after the grace period, also when an advisor
// admitted them meanwhile (joined without a connection takes a place in
// the call); their session is gone. One who connects in time stays.
func TestCustomerWithoutConnectionLeaves(t *testing.T) {
	cfg := testConfig()
	cfg.GracePeriod = time.Second
	e, adv, advID := callSetup(t, cfg)

	waiting, _ := e.addCustomer(t, "c1", "Ghost")
	admittedGhost, _ := e.addCustomer(t, "c1", "Admitted ghost")
	realID, realCookie := e.addCustomer(t, "c1", customerName)
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, waiting: StateWaiting, admittedGhost: StateWaiting, realID: StateWaiting})
	adv.send(t, map[string]any{"type": "admit", "participant": admittedGhost})
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, waiting: StateWaiting, admittedGhost: StateJoined, realID: StateWaiting})
	cu := e.mustDial(t, "c1", realCookie)
	cu.waitType(t, TypeWelcome)

	// Both ghosts leave after the grace period; the connected one stays.
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, realID: StateWaiting})
	if got := e.hub.JoinedCustomers("c1"); len(got) != 0 {
		t.Fatalf("joined customers %v; want none", got)
	}
	// Store writes are queued (queue.go): the store follows the roster.
	eventually(t, "only the connected customer in the store's queue", func() bool {
		ws, err := e.hub.Waiting(t.Context(), "c1")
		return err == nil && len(ws) == 1 && ws[0].Participant == realID
	})
	time.Sleep(2 * cfg.GracePeriod)
	if snap, _ := e.hub.Snapshot("c1"); snap.Waiting != 1 || snap.Joined != 1 {
		t.Fatalf("snapshot %+v; want the advisor joined and the connected customer waiting", snap)
	}
}

// TestDropCustomer: a customer whose join failed is taken out of room,
// waiting queue and session store at once.
func TestDropCustomer(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	pid, cookie := e.addCustomer(t, "c1", "Kim")
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})
	if err := e.hub.DropCustomer(t.Context(), "c1", pid); err != nil {
		t.Fatal(err)
	}
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined})
	if ws, err := e.hub.Waiting(t.Context(), "c1"); err != nil || len(ws) != 0 {
		t.Fatalf("waiting queue after drop: %v, %v", ws, err)
	}
	if _, err := e.hub.Customer(t.Context(), "c1", cookie[len("parley_session="):]); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after drop: %v", err)
	}
	if err := e.hub.DropCustomer(t.Context(), "c1", pid); err != nil {
		t.Fatalf("second drop: %v", err)
	}
}

// TestGoneCustomersBounded: a room remembers a bounded number of customers
// who left, however many joins came and went.
func TestGoneCustomersBounded(t *testing.T) {
	e, _, _ := callSetup(t, testConfig())
	for range maxGone + 100 {
		pid, _ := e.addCustomer(t, "c1", "Kim")
		if err := e.hub.DropCustomer(t.Context(), "c1", pid); err != nil {
			t.Fatal(err)
		}
	}
	r, err := e.hub.room("c1")
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.gone) != maxGone || len(r.goneFIFO) != maxGone || len(r.order) != 1 {
		t.Fatalf("gone %d (fifo %d), known %d; want %d gone and only the advisor known", len(r.gone), len(r.goneFIFO), len(r.order), maxGone)
	}
}
