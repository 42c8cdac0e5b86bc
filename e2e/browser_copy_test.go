package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/mailtest"
)

// TestBrowserContractCopyByEmail: a customer who gave an e-mail address
// leaves after signing; the end screen offers "Kopie per E-Mail senden"
// next to the download (and passes axe); she clicks it, the button says
// it was requested, and the mail with the signed PDF attached (the same
// bytes as the download) arrives in a real SMTP server (Mailpit). On her
// personal link's page she asks again: it is not sent a second time.
func TestBrowserContractCopyByEmail(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	srv := startServer(t, privacyQuestions, func(c *config.Config) {
		c.Mail.Enabled = true
		c.Mail.From = "vertraege@musterbank.example"
		c.Mail.SMTP = config.SMTPConfig{Host: mp.Host, Port: mp.SMTPPort, TLS: "none", Timeout: 10 * time.Second}
	})
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

	const button = `[data-testid="end-contracts"] [data-testid="my-data-contract-email"]`
	within(t, cust, 20*time.Second, "leave", chromedp.Steps(
		chromedp.Click(`[data-testid="leave"]`),
		chromedp.WaitVisible(`[data-testid="leave-confirm"]`),
		chromedp.Click(`[data-testid="leave-confirm"]`),
		chromedp.WaitVisible(`[data-testid="end-screen"]`),
		chromedp.WaitVisible(button),
	))
	if v := textOf(t, cust, button); !strings.Contains(v, "Kopie per E-Mail senden") {
		t.Errorf("button says %q", v)
	}
	checkA11y(t, cust, "end-screen-email-copy")
	if n := len(mustMessages(t, mp)); n != 0 {
		t.Fatalf("%d mails before the customer asked", n)
	}
	within(t, cust, 10*time.Second, "ask for the copy", chromedp.Click(button))
	waitJS(t, cust, 10*time.Second, "button says requested",
		`document.querySelector('`+button+`')?.dataset.state === 'sent' && document.querySelector('`+button+`').disabled`)
	msgs := mp.WaitFor(t, 30*time.Second, "the copy", func(ms []mailtest.Summary) bool { return len(ms) >= 1 })
	raw, err := mp.Raw(t.Context(), msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mailtest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	// mailtest.Parse keeps the (one) attachment's bytes in Calendar.
	name, pdf := downloadByClick(t, cust, "customer", `[data-testid="end-contracts"] [data-testid="my-data-contract-download"]`)
	if !strings.Contains(p.Header.Get("To"), "erika@example.com") || !strings.Contains(p.Subject, "Ihr unterschriebener Vertrag") ||
		p.Attachment != name || !bytes.HasPrefix(p.Calendar, []byte("%PDF-")) || !bytes.Equal(p.Calendar, pdf) {
		t.Errorf("mail to %q, subject %q, attachment %q (%d bytes), download %q (%d bytes)",
			p.Header.Get("To"), p.Subject, p.Attachment, len(p.Calendar), name, len(pdf))
	}

	// The personal link's page offers it too; asking again sends nothing.
	within(t, cust, 20*time.Second, "the personal link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/my-data#"+token),
		chromedp.WaitVisible(`[data-testid="my-data-contracts"] [data-testid="my-data-contract-email"]`),
	))
	checkA11y(t, cust, "my-data-email-copy")
	within(t, cust, 10*time.Second, "ask again", chromedp.Click(`[data-testid="my-data-contracts"] [data-testid="my-data-contract-email"]`))
	waitJS(t, cust, 10*time.Second, "requested again",
		`document.querySelector('[data-testid="my-data-contracts"] [data-testid="my-data-contract-email"]')?.dataset.state === 'sent'`)
	time.Sleep(3 * time.Second) // the outbox polls every 2 s: a second mail would be sent by now
	if n := len(mustMessages(t, mp)); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	onlyOwnOrigin(t, cust, "customer", srv.base)
}

func mustMessages(t *testing.T, mp *mailtest.Server) []mailtest.Summary {
	t.Helper()
	ms, err := mp.Messages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
