package web

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
)

// TestMyDataSignedContractAndRejoin: the customer downloads the contract
// they signed with their personal link (and in the call with the session
// cookie), after the consultation ended too; nobody else can. Joining
// again with the earlier personal link keeps that link: the new
// participation's data and the earlier contracts are one subject's.
func TestMyDataSignedContractAndRejoin(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, token := e.createConsultation(adv, "Kredit")
	version := e.consentVersion(token)
	origin := []string{"Origin", e.ts.URL}
	join := func(body map[string]any) map[string]any {
		t.Helper()
		r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", body)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("join: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)
	}
	kim := join(map[string]any{"name": "Kim Kunde", "consent": true, "consentVersion": version, "lang": "de"})
	lee := join(map[string]any{"name": "Lee Other", "consent": true, "consentVersion": version, "lang": "de"})
	kimTok, leeTok := kim["myDataToken"].(string), lee["myDataToken"].(string)
	kimPID := signaling.ParticipantID(kim["participantId"].(string))
	cu := e.customer(id, "cookie-kim", kimPID, signaling.StateJoined)

	base := "/api/v1/consultations/" + id + "/documents"
	r := e.staff(adv, "POST", base, map[string]any{"template": "contract", "title": "Kreditvertrag", "signers": []string{"customer", "advisor"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("present: %d %s", r.StatusCode, r.body)
	}
	d := docOf(t, r)
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", string(capture), origin...); r.StatusCode != http.StatusOK {
		t.Fatalf("customer signs: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adv, "POST", base+"/"+d.ID+"/sign/advisor", string(capture), "Content-Type", "application/json"); r.StatusCode != http.StatusOK {
		t.Fatalf("advisor signs: %d %s", r.StatusCode, r.body)
	}

	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	contractsOf := func(tok string) []any {
		t.Helper()
		r := e.do(e.client(), "GET", "/api/v1/my-data", nil, bearer(tok)...)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("my-data: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)["contracts"].([]any)
	}
	pdfOK := func(what string, r response) {
		t.Helper()
		if r.StatusCode != http.StatusOK || !bytes.HasPrefix(r.body, []byte("%PDF-")) ||
			!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") || !strings.Contains(r.Header.Get("Content-Disposition"), "signed.pdf") {
			t.Fatalf("%s: %d %q %.20q", what, r.StatusCode, r.Header.Get("Content-Disposition"), r.body)
		}
	}
	cs := contractsOf(kimTok)
	if len(cs) != 1 || cs[0].(map[string]any)["id"] != d.ID || cs[0].(map[string]any)["detail"].(map[string]any)["complete"] != "true" {
		t.Fatalf("Kim's contracts: %v", cs)
	}
	pdfOK("with the personal link", e.do(e.client(), "GET", "/api/v1/my-data/contracts/"+d.ID, nil, bearer(kimTok)...))
	pdfOK("in the call", e.do(cu, "GET", "/api/v1/consultations/"+id+"/my-data/contracts/"+d.ID, nil))
	// Another customer of the same call, and no link at all: nothing.
	if r := e.do(e.client(), "GET", "/api/v1/my-data/contracts/"+d.ID, nil, bearer(leeTok)...); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another customer's link: %d %.40q", r.StatusCode, r.body)
	}
	if r := e.do(e.client(), "GET", "/api/v1/my-data/contracts/"+d.ID, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no link: %d", r.StatusCode)
	}

	// Kim leaves and joins again with her personal link: same link, new
	// participant, the contract still hers, her new name shown.
	again := join(map[string]any{"name": "Kim Kunde-Neu", "consent": true, "consentVersion": version, "lang": "de", "previous": kimTok})
	if again["myDataToken"] != kimTok || again["participantId"] == string(kimPID) {
		t.Fatalf("rejoin answer: %v (want the earlier link %q and a new participant)", again, kimTok)
	}
	r = e.do(e.client(), "GET", "/api/v1/my-data", nil, bearer(kimTok)...)
	exp := r.json(t)
	if len(exp["contracts"].([]any)) != 1 || exp["customer"].(map[string]any)["name"] != "Kim Kunde-Neu" || len(exp["consents"].([]any)) != 2 {
		t.Fatalf("after rejoining: %s", r.body)
	}
	cu2 := e.customer(id, "cookie-kim-2", signaling.ParticipantID(again["participantId"].(string)), signaling.StateJoined)
	if r := e.do(cu2, "GET", "/api/v1/consultations/"+id+"/my-data", nil); r.StatusCode != http.StatusOK || len(r.json(t)["contracts"].([]any)) != 1 {
		t.Fatalf("in the call after rejoining: %d %s", r.StatusCode, r.body)
	}
	pdfOK("in the call after rejoining", e.do(cu2, "GET", "/api/v1/consultations/"+id+"/my-data/contracts/"+d.ID, nil))

	// A token of another consultation or a forged one starts afresh.
	_, token2 := e.createConsultation(adv, "Andere")
	other := e.do(e.client(), "POST", "/api/v1/invites/"+token2+"/join", map[string]any{"consent": true, "consentVersion": version, "lang": "de", "previous": kimTok}).json(t)
	if other["myDataToken"] == kimTok || len(contractsOf(other["myDataToken"].(string))) != 0 {
		t.Fatalf("a link of another consultation was reused: %v", other)
	}
	forged := join(map[string]any{"consent": true, "consentVersion": version, "lang": "de", "previous": id + "." + string(kimPID) + ".AAAA"})
	if forged["myDataToken"] == kimTok || len(contractsOf(forged["myDataToken"].(string))) != 0 {
		t.Fatalf("a forged link was honoured: %v", forged)
	}

	// Who asked for erasure starts afresh when joining again.
	if r := e.do(e.client(), "DELETE", "/api/v1/my-data", nil, append(bearer(leeTok), origin...)...); r.StatusCode != http.StatusOK {
		t.Fatalf("Lee erases: %d %s", r.StatusCode, r.body)
	}
	if back := join(map[string]any{"consent": true, "consentVersion": version, "lang": "de", "previous": leeTok}); back["myDataToken"] == leeTok {
		t.Fatalf("joining again after an erasure reused the erased link")
	}

	// After the end, for as long as the contract is kept.
	if r := e.staff(adv, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}
	pdfOK("after the end", e.do(e.client(), "GET", "/api/v1/my-data/contracts/"+d.ID, nil, bearer(kimTok)...))
}
