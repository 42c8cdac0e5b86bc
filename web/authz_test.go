package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
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

// TestSecondCustomerCannotSignFirstsField: a customer's signature field
// belongs to the customer it was presented to (the only one in the call),
// or, with several in the call, to the first who starts signing; another
// admitted customer gets 403 for it.
func TestSecondCustomerCannotSignFirstsField(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Zwei Kunden")
	base := "/api/v1/consultations/" + id + "/documents"
	origin := []string{"Origin", e.ts.URL}
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	present := func() documentJSON {
		t.Helper()
		r := e.staff(adv, "POST", base, map[string]any{"template": "contract", "signers": []string{"customer", "advisor"}})
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("present: %d %s", r.StatusCode, r.body)
		}
		return docOf(t, r)
	}
	sign := func(c *http.Client, d documentJSON) response {
		t.Helper()
		return e.do(c, "POST", base+"/"+d.ID+"/sign/customer", string(capture), origin...)
	}
	progress := func(c *http.Client, d documentJSON) response {
		t.Helper()
		return e.do(c, "POST", base+"/"+d.ID+"/progress", map[string]any{"page": 1, "pages": d.Pages, "activity": "signing"}, origin...)
	}

	// Presented while only the first customer is in the call.
	first := e.customer(id, "cookie-first", "p_first", signaling.StateJoined)
	d1 := present()
	second := e.customer(id, "cookie-second", "p_second", signaling.StateJoined)
	if r := progress(second, d1); r.StatusCode != http.StatusForbidden {
		t.Fatalf("second customer starts signing the first's field: %d %s", r.StatusCode, r.body)
	}
	if r := sign(second, d1); r.StatusCode != http.StatusForbidden {
		t.Fatalf("second customer signs the first's field: %d %s", r.StatusCode, r.body)
	}
	if r := sign(first, d1); r.StatusCode != http.StatusOK {
		t.Fatalf("first customer signs: %d %s", r.StatusCode, r.body)
	}

	// Presented with both in the call: the first to start signing has it.
	d2 := present()
	if r := progress(second, d2); r.StatusCode != http.StatusNoContent {
		t.Fatalf("second customer starts signing: %d %s", r.StatusCode, r.body)
	}
	if r := progress(first, d2); r.StatusCode != http.StatusForbidden {
		t.Fatalf("first customer starts signing a field the second started: %d %s", r.StatusCode, r.body)
	}
	if r := sign(first, d2); r.StatusCode != http.StatusForbidden {
		t.Fatalf("first customer signs the second's field: %d %s", r.StatusCode, r.body)
	}
	if r := sign(second, d2); r.StatusCode != http.StatusOK {
		t.Fatalf("second customer signs: %d %s", r.StatusCode, r.body)
	}
	trail, err := e.rec.AuditTrail(t.Context(), d2.ID)
	if err != nil {
		t.Fatal(err)
	}
	bound := false
	for _, ev := range trail {
		if ev.Kind == "field_bound" && strings.Contains(string(ev.Detail), `"signer":"participant:p_second"`) {
			bound = true
		}
	}
	if !bound {
		t.Fatalf("no field_bound event for the second customer in %+v", trail)
	}
}

// TestConsultationsPerAdvisorCapped: an advisor holds at most
// consultation.max_open_per_advisor open consultations (409 too_many);
// ending one makes room; other advisors are not affected.
func TestConsultationsPerAdvisorCapped(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Consultation.MaxOpenPerAdvisor = 3 })
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	bert, _ := e.loggedIn("bert", records.RoleAdvisor)
	var ids []string
	for range 3 {
		id, _ := e.createConsultation(anna, "")
		ids = append(ids, id)
	}
	r := e.staff(anna, "POST", "/api/v1/consultations", map[string]string{"title": "one too many"})
	if r.StatusCode != http.StatusConflict || r.errCode(t) != "too_many" {
		t.Fatalf("fourth consultation: %d %s", r.StatusCode, r.body)
	}
	e.createConsultation(bert, "Bert's")
	if r := e.staff(anna, "POST", "/api/v1/consultations/"+ids[0]+"/end", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}
	e.createConsultation(anna, "after ending one")
}
