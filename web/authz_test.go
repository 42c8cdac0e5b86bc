package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// TestNamesRefuseBidiControls: a customer's name at join, its correction
// by the customer and by an admin refuse control and text-direction
// characters with a clear 400; nothing is added by a refused join.
func TestNamesRefuseBidiControls(t *testing.T) {
	e, hub := liveEnv(t, signaling.NewMemoryStore(), time.Minute, unlimitedJoins)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	admin, _ := e.loggedIn("root", records.RoleAdmin)
	id, token := e.createConsultation(adv, "Names")

	for _, name := range []string{"Kim\u202eevil", "\u2066Kim\u2069", "Kim\u200f", "Kim\x1b[2J"} {
		r := e.joinAs(e.client(), token, "", name)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(r.body), "text-direction") {
			t.Fatalf("join as %q: %d %s", name, r.StatusCode, r.body)
		}
	}
	if snap, _ := hub.Snapshot(signaling.ConsultationID(id)); snap.Waiting != 0 {
		t.Fatalf("refused joins added customers: %+v", snap)
	}
	r := e.joinAs(e.client(), token, "", "Kim")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("join: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	bearer := []string{"Authorization", "Bearer " + m["myDataToken"].(string), "Origin", e.ts.URL}
	if r := e.do(e.client(), "PATCH", "/api/v1/my-data", map[string]string{"name": "Kim\u202e"}, bearer...); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("correction with a bidi override: %d %s", r.StatusCode, r.body)
	}
	path := "/api/v1/admin/data-subjects/" + id + "/" + m["participantId"].(string)
	if r := e.staff(admin, "PATCH", path, map[string]string{"name": "\u2067Kim"}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("admin correction with a bidi isolate: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(e.client(), "PATCH", "/api/v1/my-data", map[string]string{"name": "Kim Kundin"}, bearer...); r.StatusCode != http.StatusOK {
		t.Fatalf("plain correction: %d %s", r.StatusCode, r.body)
	}
}
