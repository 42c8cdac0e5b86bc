package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAfterTheCall is the customer's way out and back on a phone:
// "Verlassen" asks first and is not next to "Meine Daten"; after leaving,
// the end screen lists the signed contract with a download and asks the
// question after the consultation; "Erneut teilnehmen" comes back with
// name, e-mail and consent filled in and the same personal link, whose
// page then still lists (and downloads) the contract signed in the first
// participation; the question is not asked a second time.
func TestBrowserAfterTheCall(t *testing.T) {
	srv := startServer(t, privacyQuestions)
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)

	within(t, cust, 30*time.Second, "customer joins", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
		chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.WaitEnabled(`[data-testid="question-email"]`),
		chromedp.SendKeys(`[data-testid="question-email"]`, "erika@example.com"),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	tokenJS := `(() => { const k = Object.keys(sessionStorage).find((k) => k.startsWith('parley.myData.')); return k ? sessionStorage.getItem(k) : ''; })()`
	token := within(t, cust, 5*time.Second, "stored token", chromedp.Evaluate[string](tokenJS))
	cid, _, _ := strings.Cut(token, ".")
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	signContractFor(t, srv, cid, custID, "Erika Mustermann")

	// "Verlassen" is not beside "Meine Daten", and asks first.
	if together := within(t, cust, 5*time.Second, "controls", chromedp.Evaluate[bool](
		`document.querySelector('[data-testid="leave"]').parentElement.contains(document.querySelector('[data-testid="my-data-toggle"]'))`)); together {
		t.Errorf(`"Verlassen" sits in one group with "Meine Daten"`)
	}
	saveScreenshot(t, cust, "after-call-controls")
	within(t, cust, 10*time.Second, "leave asks", chromedp.Steps(
		chromedp.Click(`[data-testid="leave"]`),
		chromedp.WaitVisible(`[data-testid="leave-dialog"]`),
	))
	if v := textOf(t, cust, `[data-testid="leave-dialog"]`); !strings.Contains(v, "Beratung verlassen?") {
		t.Errorf("leave dialog says %q", v)
	}
	saveScreenshot(t, cust, "after-leave-confirm")
	within(t, cust, 10*time.Second, "cancel stays", chromedp.Steps(
		chromedp.Click(`[data-testid="leave-cancel"]`),
		chromedp.WaitNotVisible(`[data-testid="leave-dialog"]`),
	))
	time.Sleep(500 * time.Millisecond) // nothing may follow a cancel
	waitStats(t, cust, 5*time.Second, "still in the call", func(s debugStats) bool { return s.State == "joined" })
	within(t, cust, 20*time.Second, "leave for real", chromedp.Steps(
		chromedp.Click(`[data-testid="leave"]`),
		chromedp.WaitVisible(`[data-testid="leave-confirm"]`),
		chromedp.Click(`[data-testid="leave-confirm"]`),
		chromedp.WaitVisible(`[data-testid="end-screen"]`),
		chromedp.WaitVisible(`[data-testid="end-contracts"] [data-testid="my-data-contract-download"]`),
		chromedp.WaitVisible(`[data-testid="end-extra"] [data-testid="feedback-form"]`),
	))
	saveScreenshot(t, cust, "after-end-screen")
	name, pdf := downloadByClick(t, cust, "customer", `[data-testid="end-contracts"] [data-testid="my-data-contract-download"]`)
	if name != "Darlehensvertrag-signed.pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("end screen download: %q %.10q", name, pdf)
	}
	within(t, cust, 20*time.Second, "the customer rates", chromedp.Steps(
		chromedp.Click(`label.q-star:has([data-testid="question-rating-4"])`),
		chromedp.Click(`[data-testid="feedback-submit"]`),
		chromedp.WaitVisible(`[data-testid="feedback-done"]`),
	))

	// Join again: the same person, nothing typed twice, the same link.
	within(t, cust, 30*time.Second, "join again", chromedp.Steps(
		chromedp.Click(`[data-testid="end-rejoin"]`),
		chromedp.WaitVisible(`[data-testid="join-welcome-back"]`),
	))
	form := within(t, cust, 5*time.Second, "the form", chromedp.Evaluate[map[string]any](`({
		name: document.querySelector('[data-testid="join-name"]').value,
		email: document.querySelector('[data-testid="question-email"]').value,
		consent: document.querySelector('[data-testid="consent"]').checked,
		canJoin: !document.querySelector('[data-testid="join"]').disabled,
	})`))
	if form["name"] != "Erika Mustermann" || form["email"] != "erika@example.com" || form["consent"] != true || form["canJoin"] != true {
		t.Errorf("join again, form: %v", form)
	}
	saveScreenshot(t, cust, "after-rejoin-form")
	within(t, cust, 30*time.Second, "joins again", chromedp.Steps(
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))
	againID := waitStats(t, cust, 10*time.Second, "new participant", func(s debugStats) bool { return s.ParticipantID != "" && s.ParticipantID != custID }).ParticipantID
	if again := within(t, cust, 5*time.Second, "stored token", chromedp.Evaluate[string](tokenJS)); again != token {
		t.Errorf("the personal link changed on joining again: %q, want %q", again, token)
	}
	within(t, adv, 20*time.Second, "advisor admits her again", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+againID+`"]`),
		chromedp.Click(`[data-testid="admit-`+againID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "admitted again", func(s debugStats) bool { return s.State == "joined" })
	within(t, adv, 10*time.Second, "advisor ends", chromedp.Steps(
		chromedp.Click(`[data-testid="end"]`),
		chromedp.Click(`[data-testid="end-confirm"]`),
	))
	within(t, cust, 20*time.Second, "end screen again", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="end-screen"]`),
		chromedp.WaitVisible(`[data-testid="end-contracts"] [data-testid="my-data-contract-download"]`),
	))
	if fb := within(t, cust, 5*time.Second, "no second rating", chromedp.Evaluate[bool](`!!document.querySelector('[data-testid="end-extra"] [data-testid="feedback-form"]')`)); fb {
		t.Errorf("the question after the consultation is asked a second time")
	}
	saveScreenshot(t, cust, "after-end-again")

	// The personal link afterwards: the contract of the first participation.
	within(t, cust, 20*time.Second, "the personal link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/my-data#"+token),
		chromedp.WaitVisible(`[data-testid="my-data-contracts"] [data-testid="my-data-contract-download"]`),
	))
	if v := textOf(t, cust, `[data-testid="my-data-contracts"]`); !strings.Contains(v, "Darlehensvertrag.pdf") {
		t.Errorf("my-data contracts %q", v)
	}
	saveScreenshot(t, cust, "after-my-data")
	name, pdf = downloadByClick(t, cust, "customer", `[data-testid="my-data-contracts"] [data-testid="my-data-contract-download"]`)
	if name != "Darlehensvertrag-signed.pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("my-data download: %q %.10q", name, pdf)
	}
	onlyOwnOrigin(t, cust, "customer", srv.base)
}
