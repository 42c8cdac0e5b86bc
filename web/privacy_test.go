package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
)

func withQuestions(c *config.Config) {
	c.Questions.Before = []config.Question{
		{ID: "email", Type: "email", Required: true, Label: config.Text{DE: "E-Mail", EN: "E-mail"}},
		{ID: "topic", Type: "choice", Label: config.Text{DE: "Thema", EN: "Topic"},
			Options: []config.Text{{DE: "Kredit", EN: "Loan"}, {DE: "Konto", EN: "Account"}}},
	}
	c.Questions.After = []config.Question{{ID: "rating", Type: "rating", Required: true, Label: config.Text{DE: "Zufrieden?", EN: "Satisfied?"}}}
}

// TestConsentRecords: each consented join leaves a consent record with the
// notice version, time and consultation; a declined (anonymous) join
// leaves none, and no name; where the company does not allow anonymous
// calls, declining means not joining.
func TestConsentRecords(t *testing.T) {
	e := newEnv(t, withQuestions)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, token := e.createConsultation(adv, "Einwilligung")
	inv := e.do(e.client(), "GET", "/api/v1/invites/"+token, nil).json(t)
	version := inv["consent"].(map[string]any)["version"].(string)
	if inv["allowAnonymous"] != true || len(inv["questions"].([]any)) != 2 {
		t.Fatalf("invite: %v", inv)
	}
	join := func(body map[string]any) response {
		return e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", body)
	}
	ctx := context.Background()

	r := join(map[string]any{"name": "Kim Kunde", "consent": true, "consentVersion": version, "lang": "de",
		"answers": map[string]string{"email": "kim@example.org", "topic": "1"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("consented join: %d %s", r.StatusCode, r.body)
	}
	first := r.json(t)
	r = join(map[string]any{"consent": true, "consentVersion": version, "lang": "en", "answers": map[string]string{"email": "lee@example.org"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("second consented join: %d %s", r.StatusCode, r.body)
	}
	second := r.json(t)
	r = join(map[string]any{"consent": false, "lang": "de"})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("anonymous join: %d %s", r.StatusCode, r.body)
	}
	anon := r.json(t)
	if anon["anonymous"] != true || !strings.HasPrefix(anon["myDataUrl"].(string), "/my-data#") {
		t.Fatalf("anonymous join answer: %v", anon)
	}

	cs, err := e.rec.Consents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d consent records, want 2 (none for the declined join): %+v", len(cs), cs)
	}
	byPID := map[string]records.Consent{}
	for _, c := range cs {
		byPID[c.ParticipantID] = c
		if c.TextVersion != version || c.ConsultationID != id || c.GivenAt.IsZero() {
			t.Errorf("consent record %+v", c)
		}
	}
	if byPID[first["participantId"].(string)].Lang != "de" || byPID[second["participantId"].(string)].Lang != "en" {
		t.Errorf("consent records by participant: %+v", byPID)
	}
	if _, ok := byPID[anon["participantId"].(string)]; ok {
		t.Error("a consent record for the declined join")
	}
	// The anonymous customer joined without a name; their record says so.
	c, err := e.rec.CustomerByID(ctx, id, anon["participantId"].(string))
	if err != nil || !c.Anonymous || c.Name != "" {
		t.Fatalf("anonymous customer record %+v %v", c, err)
	}
	if got := e.fake.customers[len(e.fake.customers)-1]; got != "" {
		t.Errorf("hub got name %q for the anonymous join", got)
	}

	// Bad input: nothing is recorded.
	for name, body := range map[string]map[string]any{
		"anonymous with a name":     {"consent": false, "lang": "de", "name": "Kim"},
		"anonymous with answers":    {"consent": false, "lang": "de", "answers": map[string]string{"email": "a@b.de"}},
		"required answer missing":   {"consent": true, "consentVersion": version, "lang": "de"},
		"not an e-mail address":     {"consent": true, "consentVersion": version, "lang": "de", "answers": map[string]string{"email": "kim at example"}},
		"unknown question":          {"consent": true, "consentVersion": version, "lang": "de", "answers": map[string]string{"email": "a@b.de", "iban": "DE00"}},
		"choice out of range":       {"consent": true, "consentVersion": version, "lang": "de", "answers": map[string]string{"email": "a@b.de", "topic": "7"}},
		"stale consent version":     {"consent": true, "consentVersion": "0000", "lang": "de", "answers": map[string]string{"email": "a@b.de"}},
		"answer with control chars": {"consent": true, "consentVersion": version, "lang": "de", "answers": map[string]string{"email": "a@b.de\u0007"}},
	} {
		if r := join(body); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.StatusCode, r.body)
		}
	}
	if cs, _ := e.rec.Consents(ctx, id); len(cs) != 2 {
		t.Errorf("bad joins left consent records: %d", len(cs))
	}

	// A company that allows no anonymous calls: declining means not joining.
	e2 := newEnv(t, func(c *config.Config) { c.Privacy.AllowAnonymous = false })
	adv2, _ := e2.loggedIn("anna", records.RoleAdvisor)
	id2, token2 := e2.createConsultation(adv2, "Nur mit Einwilligung")
	if r := e2.do(e2.client(), "POST", "/api/v1/invites/"+token2+"/join", map[string]any{"consent": false, "lang": "de"}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("declined join without anonymous calls: %d %s", r.StatusCode, r.body)
	}
	if cs, _ := e2.rec.Consents(ctx, id2); len(cs) != 0 {
		t.Fatalf("consent records after a refused join: %d", len(cs))
	}
}

// TestFeedbackAndAdminSearch: answers after the consultation go in once
// with the data-subject token; an admin finds the customer by e-mail, name
// or consultation id, and advisors may not search.
func TestFeedbackAndAdminSearch(t *testing.T) {
	e := newEnv(t, withQuestions)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	admin, _ := e.loggedIn("dora", records.RoleAdmin)
	id, token := e.createConsultation(adv, "Feedback")
	version := e.consentVersion(token)
	r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", map[string]any{"name": "Kim Kunde", "consent": true,
		"consentVersion": version, "lang": "de", "answers": map[string]string{"email": "kim@example.org"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("join: %d %s", r.StatusCode, r.body)
	}
	joined := r.json(t)
	pid, subjectToken := joined["participantId"].(string), joined["myDataToken"].(string)
	bearer := []string{"Authorization", "Bearer " + subjectToken, "Origin", e.ts.URL}
	if r := e.staff(adv, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != http.StatusOK && r.StatusCode != http.StatusNoContent {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}

	fb := "/api/v1/my-data/feedback"
	if r := e.do(e.client(), "POST", fb, map[string]any{"answers": map[string]string{"rating": "9"}}, bearer...); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("rating 9: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(e.client(), "POST", fb, map[string]any{"answers": map[string]string{"rating": "4"}}, "Origin", e.ts.URL); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("feedback without token: %d", r.StatusCode)
	}
	if r := e.do(e.client(), "POST", fb, map[string]any{"answers": map[string]string{"rating": "4"}}, bearer...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("feedback: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(e.client(), "POST", fb, map[string]any{"answers": map[string]string{"rating": "5"}}, bearer...); r.StatusCode != http.StatusConflict {
		t.Fatalf("second feedback: %d %s", r.StatusCode, r.body)
	}
	exp := e.do(e.client(), "GET", "/api/v1/my-data", nil, bearer...)
	if exp.StatusCode != http.StatusOK || !strings.Contains(string(exp.body), `"questionId":"rating","value":"4"`) ||
		!strings.Contains(string(exp.body), `"given":true`) {
		t.Fatalf("export with feedback: %d %s", exp.StatusCode, exp.body)
	}

	for _, q := range []string{"kim@example", "Kim Kun", id} {
		r := e.staff(admin, "GET", "/api/v1/admin/data-subjects?q="+url.QueryEscape(q), nil)
		if r.StatusCode != http.StatusOK || !strings.Contains(string(r.body), pid) {
			t.Errorf("admin search %q: %d %s", q, r.StatusCode, r.body)
		}
	}
	if r := e.staff(admin, "GET", "/api/v1/admin/data-subjects?q=nobody-here", nil); r.StatusCode != http.StatusOK || strings.Contains(string(r.body), pid) {
		t.Errorf("admin search for nobody: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(admin, "GET", "/api/v1/admin/data-subjects?q=k", nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("one-letter search: %d", r.StatusCode)
	}
	if r := e.staff(adv, "GET", "/api/v1/admin/data-subjects?q=kim", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("advisor searches: %d", r.StatusCode)
	}
	// The admin corrects the name and exports for a request by mail.
	path := "/api/v1/admin/data-subjects/" + id + "/" + pid
	if r := e.staff(admin, "PATCH", path, map[string]string{"name": "Kim Kundin"}); r.StatusCode != http.StatusOK || !strings.Contains(string(r.body), "Kim Kundin") {
		t.Fatalf("admin correction: %d %s", r.StatusCode, r.body)
	}
	r = e.staff(admin, "GET", path+"?download=1", nil)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(string(r.body), `"requestedBy":"staff:`) {
		t.Fatalf("admin export: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(admin, "GET", "/api/v1/admin/data-subjects/"+id+"/p_nobody", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("export of nobody: %d", r.StatusCode)
	}
}
