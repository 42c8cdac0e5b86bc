package signaling

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"
)

// A customer's corrected name reaches everyone in the call; erasure takes
// the customer out for good: state left, connection closed, session gone.
func TestRenameAndRemoveCustomer(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	roster := map[ParticipantID]State{advID: StateJoined}
	cu, pid, cookie := admitted(t, e, adv, roster)
	ctx := t.Context()

	if !e.hub.HasCustomer("c1", pid) || e.hub.HasCustomer("c1", "p_nobody") || e.hub.HasCustomer("c_none", pid) {
		t.Fatal("HasCustomer")
	}
	if !e.hub.RenameCustomer(ctx, "c1", pid, "Erika Musterfrau") {
		t.Fatal("rename refused")
	}
	adv.waitFor(t, "new name", func(m serverMessage) bool {
		for _, p := range m.Participants {
			if p.ID == pid && p.Name == "Erika Musterfrau" {
				return true
			}
		}
		return false
	})
	if e.hub.RenameCustomer(ctx, "c1", advID, "x") {
		t.Fatal("renamed an advisor")
	}

	if !e.hub.RemoveCustomer(ctx, "c1", pid) {
		t.Fatal("remove refused")
	}
	cu.waitFor(t, "state left, erased", func(m serverMessage) bool {
		return m.Type == TypeState && m.State == StateLeft && m.Reason == "erased"
	})
	if code := cu.waitClosed(t); code != websocket.StatusNormalClosure {
		t.Fatalf("close code %v", code)
	}
	delete(roster, pid)
	adv.waitRoster(t, roster)
	e.expectHTTPError(t, "c1", cookie, http.StatusUnauthorized, "unauthorized")
	if e.hub.HasCustomer("c1", pid) || e.hub.RemoveCustomer(ctx, "c1", pid) {
		t.Fatal("removed customer still known")
	}
}
