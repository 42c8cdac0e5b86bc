package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

const adminName = "ada"

// privacyQuestions: one question before joining (e-mail, required) and
// one after the consultation (a rating).
func privacyQuestions(c *config.Config) {
	c.Privacy.AllowAnonymous = true
	c.Questions.Before = []config.Question{{ID: "email", Type: "email", Required: true,
		Label: config.Text{DE: "Ihre E-Mail-Adresse", EN: "Your e-mail address"}}}
	c.Questions.After = []config.Question{{ID: "rating", Type: "rating",
		Label: config.Text{DE: "Wie zufrieden waren Sie mit der Beratung?", EN: "How satisfied were you?"}}}
}

// textOf is an element's innerText ("" when it is missing).
func textOf(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	return within(t, ctx, 10*time.Second, "text of "+selector, chromedp.Evaluate[string](
		`document.querySelector(`+strconv.Quote(selector)+`)?.innerText ?? ''`))
}

// clearInput empties a text field as a person would (an input event follows).
func clearInput(selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector(` + strconv.Quote(selector) +
		`); el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
}

// signContractFor presents the template contract in consultation cid and
// signs it as customer pid (through the node's contract service, as the
// call would), so that the customer's data includes a signed contract.
func signContractFor(t *testing.T, srv *server, cid, pid, signer string) {
	t.Helper()
	ctx := context.Background()
	adv, err := srv.Records.UserByUsername(ctx, advisorName)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Darlehensvertrag", Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := srv.Contracts.Present(ctx, contracts.Presentation{ConsultationID: cid, Name: "Darlehensvertrag.pdf", PDF: pdf,
		Signers: []string{records.SignerCustomer}, CreatedBy: adv.ID, Actor: "staff:" + strconv.FormatInt(adv.ID, 10)})
	if err != nil {
		t.Fatalf("present: %v", err)
	}
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Contracts.Sign(ctx, contracts.Signing{ConsultationID: cid, DocumentID: d.ID, Field: records.SignerCustomer,
		As: records.SignerCustomer, SignerName: signer, SignerRef: "participant:" + pid, Capture: capture}); err != nil {
		t.Fatalf("sign: %v", err)
	}
}

// subjectExport is the part of the data-subject export the test reads.
type subjectExport struct {
	Format   string `json:"format"`
	Customer *struct {
		Name      string `json:"name"`
		Anonymous bool   `json:"anonymous"`
	} `json:"customer"`
	Answers []struct {
		Phase, QuestionID, Value string
	} `json:"answers"`
	Consents []struct {
		Restricted bool   `json:"restricted"`
		KeptUntil  string `json:"keptUntil"`
	} `json:"consents"`
	Contracts []struct {
		Restricted bool `json:"restricted"`
	} `json:"contracts"`
}

// TestBrowserPrivacy is the data-subject rights in real browsers: the join
// page asks the configured question only once consent is given; a
// customer joins with consent answering it, opens "Meine Daten" in the
// call and sees the answer, the consent and a signed contract, downloads
// the export, corrects the name (the advisor sees the new name at once),
// then deletes the data: she leaves the call and the end screen says what
// was deleted and what is restricted until when; her personal link shows
// the consent and the contract restricted and the name gone, and a forged
// link gets a clear error. A second customer joins anonymously, without
// consent: no consent record exists for her and everyone sees "Gast".
// The first customer joins again with consent; when the advisor ends the
// consultation, her end screen asks the question after it and she rates.
// Finally an admin finds both of her participations on
// /admin/data-requests, sees the erased one restricted, the rating of the
// other, and deletes that.
func TestBrowserPrivacy(t *testing.T) {
	srv := startServer(t, privacyQuestions)
	ctx := t.Context()
	if _, err := srv.Records.CreateUser(ctx, adminName, "Ada Admin", records.RoleAdmin, advisorPassword); err != nil {
		t.Fatal(err)
	}
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)

	// The join page: the question is locked until consent is given; the
	// anonymous way in is offered.
	within(t, cust, 30*time.Second, "customer opens the invite", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
		chromedp.WaitVisible(`[data-testid="question-email"]`),
		chromedp.WaitVisible(`[data-testid="join-anonymous"]`),
	))
	if !within(t, cust, 5*time.Second, "question locked", chromedp.Evaluate[bool](
		`document.querySelector('[data-testid="question-email"]').disabled`)) {
		t.Errorf("the question can be answered before consent is given")
	}
	saveScreenshot(t, cust, "privacy-join")
	within(t, cust, 10*time.Second, "consent, name, a wrong address", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.WaitEnabled(`[data-testid="question-email"]`),
		chromedp.SendKeys(`[data-testid="question-email"]`, "erika@"),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="question-error-email"]`),
	))
	if msg := textOf(t, cust, `[data-testid="question-error-email"]`); !strings.Contains(msg, "E-Mail-Adresse") {
		t.Errorf("e-mail error %q", msg)
	}
	saveScreenshot(t, cust, "privacy-join-invalid")
	within(t, cust, 30*time.Second, "customer joins with consent", chromedp.Steps(
		clearInput(`[data-testid="question-email"]`),
		chromedp.SendKeys(`[data-testid="question-email"]`, "erika@example.com"),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	token := within(t, cust, 5*time.Second, "stored token", chromedp.Evaluate[string](
		`(() => { const k = Object.keys(sessionStorage).find((k) => k.startsWith('parley.myData.')); return k ? sessionStorage.getItem(k) : ''; })()`))
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[1] != custID {
		t.Fatalf("data-subject token %q does not name participant %s", token, custID)
	}
	cid := parts[0]
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	signContractFor(t, srv, cid, custID, "Erika Mustermann")

	// "Meine Daten" in the call: the answer, the consent, the contract.
	within(t, cust, 15*time.Second, "customer opens My data", chromedp.Steps(
		chromedp.Click(`[data-testid="my-data-toggle"]`),
		chromedp.WaitVisible(`[data-testid="my-data-panel"] [data-testid="answer-email"]`),
	))
	panel := `[data-testid="my-data-panel"] `
	if v := textOf(t, cust, panel+`[data-testid="answer-email"]`); !strings.Contains(v, "erika@example.com") || !strings.Contains(v, "Ihre E-Mail-Adresse") {
		t.Errorf("answer shown as %q", v)
	}
	if v := textOf(t, cust, panel+`[data-testid="my-data-name"]`); v != "Erika Mustermann" {
		t.Errorf("name shown as %q", v)
	}
	if v := textOf(t, cust, panel+`[data-testid="my-data-consents"]`); !strings.Contains(v, "Gesetzliche Aufbewahrung bis") {
		t.Errorf("consents shown as %q", v)
	}
	if v := textOf(t, cust, panel+`[data-testid="my-data-contracts"]`); !strings.Contains(v, "Darlehensvertrag.pdf") {
		t.Errorf("contracts shown as %q", v)
	}
	saveScreenshot(t, cust, "privacy-call-my-data")
	scrollTo(t, cust, panel+`[data-testid="my-data-download"]`)
	saveScreenshot(t, cust, "privacy-call-my-data-actions")

	// The export as a file.
	name, body := downloadByClick(t, cust, "customer", panel+`[data-testid="my-data-download"]`)
	var exp subjectExport
	if err := json.Unmarshal(body, &exp); err != nil {
		t.Fatalf("downloaded %s is no JSON: %v", name, err)
	}
	if name != "parley-my-data-"+custID+".json" || exp.Format != "parley-subject-export/1" || exp.Customer == nil ||
		exp.Customer.Name != "Erika Mustermann" || len(exp.Answers) != 1 || exp.Answers[0].Value != "erika@example.com" {
		t.Errorf("downloaded %s: %+v", name, exp)
	}

	// Correct the name: the advisor's list shows the new one.
	within(t, cust, 15*time.Second, "customer corrects the name", chromedp.Steps(
		chromedp.Click(panel+`[data-testid="my-data-correct"]`),
		chromedp.WaitVisible(panel+`[data-testid="my-data-name-input"]`),
		clearInput(panel+`[data-testid="my-data-name-input"]`),
		chromedp.SendKeys(panel+`[data-testid="my-data-name-input"]`, "Erika Musterfrau"),
		chromedp.Click(panel+`[data-testid="my-data-name-save"]`),
	))
	waitJS(t, cust, 10*time.Second, "corrected name shown", `document.querySelector('`+panel+`[data-testid="my-data-name"]')?.dataset.name === 'Erika Musterfrau'`)
	waitJS(t, adv, 10*time.Second, "advisor sees the corrected name",
		`document.querySelector('#participant-list [data-participant="`+custID+`"] .person-name')?.textContent === 'Erika Musterfrau'`)

	// Delete: the dialog says what happens; she leaves the call.
	within(t, cust, 15*time.Second, "customer asks to delete", chromedp.Steps(
		chromedp.Click(panel+`[data-testid="my-data-delete"]`),
		chromedp.WaitVisible(`[data-testid="my-data-delete-dialog"]`),
	))
	dlg := textOf(t, cust, `[data-testid="my-data-delete-dialog"]`)
	for _, want := range []string{"verlassen damit sofort die Beratung", "gesperrt, nicht gelöscht", "Einwilligungsnachweis (", "„Darlehensvertrag.pdf“: gesperrt bis"} {
		if !strings.Contains(dlg, want) {
			t.Errorf("delete dialog %q lacks %q", dlg, want)
		}
	}
	saveScreenshot(t, cust, "privacy-call-delete-dialog")
	within(t, cust, 20*time.Second, "customer deletes", chromedp.Steps(
		chromedp.Click(`[data-testid="my-data-delete-confirm"]`),
		chromedp.WaitVisible(`[data-testid="end-screen"]`),
		chromedp.WaitVisible(`[data-testid="erase-result"]`),
	))
	result := within(t, cust, 5*time.Second, "erase result", chromedp.Evaluate[map[string]string](
		`(() => { const r = document.querySelector('[data-testid="erase-result"]'); return {deleted: r.dataset.deleted, restricted: r.dataset.restricted, reason: document.getElementById('screen-end').dataset.reason, text: r.innerText}; })()`))
	t.Logf("erasure: %v", result)
	var deleted, restricted map[string]int
	_ = json.Unmarshal([]byte(result["deleted"]), &deleted)
	_ = json.Unmarshal([]byte(result["restricted"]), &restricted)
	if result["reason"] != "left" || deleted["customer"] != 1 || deleted["answers"] != 1 || deleted["session"] != 1 ||
		restricted["consents"] != 1 || restricted["contracts"] != 1 || !strings.Contains(result["text"], "aufbewahrt bis") {
		t.Errorf("erasure result %v", result)
	}
	if link := textOf(t, cust, `[data-testid="end-extra"] [data-testid="my-data-link"]`); link != srv.base+"/my-data#"+token {
		t.Errorf("personal link %q, want %s/my-data#%s", link, srv.base, token)
	}
	saveScreenshot(t, cust, "privacy-erased")
	waitJS(t, adv, 10*time.Second, "the customer left the advisor's call",
		`!document.querySelector('#participant-list [data-participant="`+custID+`"]')`)
	if d, err := srv.Records.SubjectData(ctx, records.Subject{ConsultationID: cid, ParticipantID: custID}, records.Retention{}); err != nil ||
		d.Customer != nil || len(d.Answers) != 0 || len(d.Consents) != 1 || !d.Consents[0].Restricted || len(d.Contracts) != 1 || !d.Contracts[0].Restricted {
		t.Errorf("records after erasure: %+v (%v)", d, err)
	}

	// The personal link afterwards: restricted, no name.
	within(t, cust, 20*time.Second, "customer opens the personal link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/my-data#"+token),
		chromedp.WaitVisible(`[data-testid="my-data-view"]`),
	))
	page := within(t, cust, 5*time.Second, "my-data page", chromedp.Evaluate[map[string]string](`(() => ({
		restricted: document.querySelector('[data-testid="my-data-view"]').dataset.restricted,
		consent: document.querySelector('[data-testid="my-data-consents"] li')?.dataset.restricted ?? '',
		contract: document.querySelector('[data-testid="my-data-contracts"] li')?.dataset.restricted ?? '',
		consents: document.querySelector('[data-testid="my-data-consents"]').innerText,
		name: document.querySelector('[data-testid="my-data-name"]').innerText,
		company: document.querySelector('[data-testid="company"]').textContent,
		feedback: String(!!document.querySelector('[data-testid="feedback-form"]')),
	}))()`))
	t.Logf("my-data page: %v", page)
	if page["restricted"] != "true" || page["consent"] != "true" || page["contract"] != "true" ||
		!strings.Contains(page["consents"], "Gesperrt") || page["name"] != "Kein Name mehr gespeichert" ||
		page["company"] != "Musterbank AG" || page["feedback"] != "false" {
		t.Errorf("my-data page %v", page)
	}
	saveScreenshot(t, cust, "privacy-my-data-page")
	onlyOwnOrigin(t, cust, "my-data page", srv.base)
	within(t, cust, 20*time.Second, "a forged link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/my-data#"+cid+"."+custID+".Zm9yZ2Vk"),
		chromedp.WaitVisible(`[data-testid="error-screen"][data-code="unauthorized"]`),
	))
	if v := textOf(t, cust, `[data-testid="error-screen"]`); !strings.Contains(v, "Dieser Link ist ungültig") {
		t.Errorf("forged link shows %q", v)
	}
	saveScreenshot(t, cust, "privacy-my-data-invalid")

	// A second customer joins anonymously, without consent.
	anon := newBrowser(t, "anonymous", 390, 844)
	within(t, anon, 30*time.Second, "anonymous customer joins", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="join-anonymous"]`),
		chromedp.Click(`[data-testid="join-anonymous"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	anonID := waitStats(t, anon, 10*time.Second, "anonymous id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	consents, err := srv.Records.Consents(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consents {
		if c.ParticipantID == anonID {
			t.Errorf("a consent record exists for the anonymous customer: %+v", c)
		}
	}
	if len(consents) != 1 || consents[0].ParticipantID != custID {
		t.Errorf("consent records %+v, want only the first customer's", consents)
	}
	within(t, adv, 20*time.Second, "advisor admits the anonymous customer", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+anonID+`"]`),
		chromedp.Click(`[data-testid="admit-`+anonID+`"]`),
	))
	waitStats(t, anon, 10*time.Second, "anonymous customer admitted", func(s debugStats) bool { return s.State == "joined" })
	waitJS(t, adv, 10*time.Second, "advisor sees a guest",
		`document.querySelector('#participant-list [data-participant="`+anonID+`"] .person-name')?.textContent === 'Gast'`)
	within(t, anon, 15*time.Second, "anonymous customer opens My data", chromedp.Steps(
		chromedp.Click(`[data-testid="my-data-toggle"]`),
		chromedp.WaitVisible(panel+`[data-testid="my-data-name"]`),
	))
	waitJS(t, anon, 10*time.Second, "anonymous shown", `document.querySelector('`+panel+`[data-testid="my-data-name"]').innerText.startsWith('Anonym teilgenommen')`)
	if v := textOf(t, anon, panel+`[data-testid="my-data-consents"]`); v != "Keine Einwilligung gespeichert." {
		t.Errorf("anonymous customer's consents: %q", v)
	}
	saveScreenshot(t, anon, "privacy-anonymous-my-data")
	onlyOwnOrigin(t, anon, "anonymous customer", srv.base)

	// Back with consent, as a new participant (the old one is erased).
	within(t, cust, 30*time.Second, "the first customer joins again", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.WaitEnabled(`[data-testid="question-email"]`),
		chromedp.SendKeys(`[data-testid="question-email"]`, "erika@example.com"),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	againID := waitStats(t, cust, 10*time.Second, "new participant id", func(s debugStats) bool { return s.ParticipantID != "" && s.ParticipantID != custID }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits her again", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+againID+`"]`),
		chromedp.Click(`[data-testid="admit-`+againID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "admitted again", func(s debugStats) bool { return s.State == "joined" })

	// The advisor ends the consultation: the question after it.
	within(t, adv, 10*time.Second, "advisor ends", chromedp.Steps(
		chromedp.Click(`[data-testid="end"]`),
		chromedp.Click(`[data-testid="end-confirm"]`),
	))
	within(t, cust, 20*time.Second, "the question after the consultation", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="end-screen"]`),
		chromedp.WaitVisible(`[data-testid="end-extra"] [data-testid="feedback-form"]`),
		chromedp.WaitVisible(`[data-testid="end-extra"] [data-testid="my-data-link"]`),
	))
	saveScreenshot(t, cust, "privacy-feedback")
	within(t, cust, 20*time.Second, "the customer rates", chromedp.Steps(
		chromedp.Click(`label.q-star:has([data-testid="question-rating-4"])`),
		chromedp.Click(`[data-testid="feedback-submit"]`),
	))
	waitJS(t, cust, 10*time.Second, "feedback sent", `!!document.querySelector('[data-testid="feedback-done"]:not([hidden]), [data-testid="feedback-error"]:not([hidden])')`)
	if v := textOf(t, cust, `[data-testid="feedback-error"]`); v != "" {
		t.Fatalf("feedback refused: %q", v)
	}
	if v := textOf(t, cust, `[data-testid="feedback-done"]`); v != "Vielen Dank für Ihre Rückmeldung!" {
		t.Errorf("after the feedback: %q", v)
	}
	saveScreenshot(t, cust, "privacy-feedback-done")
	// The anonymous customer's end screen offers her link (nothing about
	// her is kept once the consultation is over).
	within(t, anon, 20*time.Second, "the anonymous customer's end screen", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="end-screen"]`),
		chromedp.WaitVisible(`[data-testid="end-extra"] [data-testid="my-data-link"]`),
	))
	saveScreenshot(t, anon, "privacy-anonymous-ended")

	// An admin handles a request received by mail.
	admin := newBrowser(t, "admin", 1280, 900)
	within(t, admin, 20*time.Second, "admin logs in", chromedp.Steps(
		chromedp.Navigate(srv.base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, adminName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
	))
	within(t, admin, 20*time.Second, "admin opens the data requests", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="to-data-requests"]`),
		chromedp.Click(`[data-testid="to-data-requests"]`),
		chromedp.WaitVisible(`[data-testid="subject-search"]`),
	))
	within(t, admin, 20*time.Second, "admin searches the consultation", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="subject-q"]`, cid),
		chromedp.Click(`[data-testid="subject-search-submit"]`),
		chromedp.WaitVisible(`[data-testid="subject-`+custID+`"]`),
		chromedp.WaitVisible(`[data-testid="subject-`+againID+`"]`),
	))
	saveScreenshot(t, admin, "privacy-admin-search")
	within(t, admin, 20*time.Second, "admin opens the erased customer", chromedp.Steps(
		chromedp.Click(`[data-testid="open-subject-`+custID+`"]`),
		chromedp.WaitVisible(`[data-testid="subject-detail"] [data-testid="my-data-view"][data-restricted="true"]`),
	))
	if v := textOf(t, admin, `[data-testid="my-data-requests"] summary`); !strings.Contains(v, "Anfragen zu diesen Daten") {
		t.Errorf("requests %q", v)
	}
	within(t, admin, 20*time.Second, "back, open the customer who rated", chromedp.Steps(
		chromedp.Click(`[data-testid="subject-back"]`),
		chromedp.WaitVisible(`[data-testid="open-subject-`+againID+`"]`),
		chromedp.Click(`[data-testid="open-subject-`+againID+`"]`),
		chromedp.WaitVisible(`[data-testid="subject-detail"] [data-testid="answer-rating"]`),
	))
	if v := textOf(t, admin, `[data-testid="answer-rating"]`); !strings.Contains(v, "Wie zufrieden waren Sie mit der Beratung?") || !strings.Contains(v, "4 von 5") {
		t.Errorf("the admin sees the rating as %q", v)
	}
	saveScreenshot(t, admin, "privacy-admin-subject")
	within(t, admin, 20*time.Second, "admin asks to delete", chromedp.Steps(
		chromedp.Click(`[data-testid="my-data-delete"]`),
		chromedp.WaitVisible(`[data-testid="my-data-delete-dialog"]`),
	))
	if v := textOf(t, admin, `[data-testid="my-data-delete-dialog"]`); !strings.Contains(v, "Gelöscht werden Name, Antworten und Dateien der Person") ||
		!strings.Contains(v, "Einwilligungsnachweis (") {
		t.Errorf("admin's delete dialog %q", v)
	}
	within(t, admin, 20*time.Second, "admin deletes", chromedp.Steps(
		chromedp.Click(`[data-testid="my-data-delete-confirm"]`),
		chromedp.WaitVisible(`[data-testid="subject-detail"] [data-testid="erase-result"]`),
	))
	adminResult := within(t, admin, 5*time.Second, "admin's erase result", chromedp.Evaluate[map[string]string](
		`(() => { const r = document.querySelector('[data-testid="erase-result"]'); return {deleted: r.dataset.deleted, restricted: r.dataset.restricted}; })()`))
	deleted, restricted = nil, nil
	_ = json.Unmarshal([]byte(adminResult["deleted"]), &deleted)
	_ = json.Unmarshal([]byte(adminResult["restricted"]), &restricted)
	if deleted["answers"] != 1 || deleted["session"] != 0 || restricted["consents"] != 1 {
		t.Errorf("admin's erasure: %v", adminResult)
	}
	saveScreenshot(t, admin, "privacy-admin-erased")
	// In English, the answer too.
	within(t, admin, 5*time.Second, "switch to English", chromedp.Click(`[data-testid="lang-toggle"]`))
	waitJS(t, admin, 5*time.Second, "English answer", `document.querySelector('[data-testid="erase-result"]')?.innerText.includes('Restricted instead of deleted') &&
		document.querySelector('[data-testid="my-data-consents"]').innerText.includes('Restricted – used only for legal duties')`)
	saveScreenshot(t, admin, "privacy-admin-erased-en")
	within(t, admin, 5*time.Second, "back to German", chromedp.Click(`[data-testid="lang-toggle"]`))
	onlyOwnOrigin(t, admin, "admin", srv.base)
}
