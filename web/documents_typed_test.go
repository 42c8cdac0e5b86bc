package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// The accessible alternative through the REST API: a customer signs by
// typing their name and confirming; refusals say why (422 implausible with
// a reason, as for pen data); the back office's verification says
// "typed", valid, with no biometric record, and the audit trail records
// the method.
func TestSignTypedREST(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	back, _ := e.loggedIn("clara", records.RoleBackoffice)
	id, _ := e.createConsultation(adv, "Kredit")
	base := "/api/v1/consultations/" + id + "/documents"
	origin := []string{"Origin", e.ts.URL}
	cu := e.customer(id, "cookie-typed", "p_cu", signaling.StateJoined)
	d := docOf(t, e.staff(adv, "POST", base, map[string]any{"template": "contract", "title": "Kreditvertrag", "signers": []string{"customer"}}))
	typed := base + "/" + d.ID + "/sign/customer/typed"

	for _, tc := range []struct {
		body         any
		status       int
		code, reason string
	}{
		{map[string]any{"typedName": "Eva Kundin", "confirmed": false}, 422, "implausible", "not_confirmed"},
		{map[string]any{"typedName": "Eva Kundin"}, 422, "implausible", "not_confirmed"},
		{map[string]any{"typedName": "  ", "confirmed": true}, 422, "implausible", "typed_name_empty"},
		{map[string]any{"typedName": "E", "confirmed": true}, 422, "implausible", "typed_name_too_short"},
		{map[string]any{"typedName": strings.Repeat("Eva ", 20), "confirmed": true}, 422, "implausible", "typed_name_too_long"},
		{map[string]any{"typedName": "12345", "confirmed": true}, 422, "implausible", "typed_name_no_letter"},
		{map[string]any{"typedName": "Eva", "confirmed": true, "strokes": []int{}}, 400, "bad_request", ""},
		{"not json", 400, "bad_request", ""},
	} {
		r := e.do(cu, "POST", typed, tc.body, origin...)
		reason := ""
		if m, ok := r.json(t)["error"].(map[string]any); ok {
			reason, _ = m["reason"].(string)
		}
		if r.StatusCode != tc.status || r.errCode(t) != tc.code || reason != tc.reason {
			t.Fatalf("%v: %d %s, want %d %s %s", tc.body, r.StatusCode, r.body, tc.status, tc.code, tc.reason)
		}
	}
	// Not the customer's field, not without the call's cookie.
	if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/advisor/typed", map[string]any{"typedName": "Eva Kundin", "confirmed": true}, origin...); r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusForbidden {
		t.Fatalf("someone else's field: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(http.DefaultClient, "POST", typed, map[string]any{"typedName": "Eva Kundin", "confirmed": true}, origin...); r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusForbidden {
		t.Fatalf("without a session: %d %s", r.StatusCode, r.body)
	}

	r := e.do(cu, "POST", typed, map[string]any{"typedName": " Eva  Kundin ", "confirmed": true}, origin...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("typed signature: %d %s", r.StatusCode, r.body)
	}
	if d = docOf(t, r); d.State != "signed" || !d.Fields[0].Signed {
		t.Fatalf("after signing: %+v", d)
	}
	if r := e.do(cu, "POST", typed, map[string]any{"typedName": "Eva Kundin", "confirmed": true}, origin...); r.StatusCode != http.StatusConflict {
		t.Fatalf("twice: %d %s", r.StatusCode, r.body)
	}

	r = e.do(back, "GET", "/api/v1/contracts/"+d.ID+"/verification", nil)
	var v contracts.Verdict
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.body, &v) != nil {
		t.Fatalf("verification: %d %s", r.StatusCode, r.body)
	}
	if s := v.Signatures[0]; v.Verdict != contracts.ValidWithWarnings || s.Envelope != "typed" || s.Method != "typed" || !s.Intact {
		t.Fatalf("verdict %s %+v %+v", v.Verdict, v.Reasons, s)
	}
	codes := []string{}
	for _, r := range v.Reasons {
		codes = append(codes, r.Severity+":"+r.Code)
	}
	if strings.Contains(strings.Join(codes, ","), "error") || !strings.Contains(strings.Join(codes, ","), "warning:typed_signature") {
		t.Fatalf("reasons %v", codes)
	}
	trail, err := e.rec.AuditTrail(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var last records.AuditEvent
	for _, ev := range trail {
		if ev.Kind == "signed" {
			last = ev
		}
	}
	if last.Kind != "signed" || !strings.Contains(string(last.Detail), `"method":"typed"`) || !strings.Contains(string(last.Detail), `"typed_name":"Eva Kundin"`) {
		t.Fatalf("audit %s %s", last.Kind, last.Detail)
	}
}
