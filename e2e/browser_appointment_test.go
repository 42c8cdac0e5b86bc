package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/mailtest"
)

var mailLink = regexp.MustCompile(`https?://[^\s]+/j/[^\s#]+#[^\s]+`)

// TestBrowserAppointment: the advisor books an appointment in the console;
// the customer's e-mail arrives in a real SMTP server (Mailpit) with a
// calendar entry a calendar library parses and the link; before its
// window the link shows when the appointment starts, and once the window
// opens the same page goes on to the consent and the waiting room. The
// advisor moves the appointment (an update: same UID, SEQUENCE 1, the new
// time) and cancels it (METHOD:CANCEL); the link is dead afterwards.
func TestBrowserAppointment(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	// The slot starts on a full minute (the form's precision); the link
	// opens about 40 seconds from now (appointments.early_join).
	start := time.Now().Truncate(time.Minute).Add(3 * time.Minute)
	srv := startServer(t, func(c *config.Config) {
		c.Mail.Enabled = true
		c.Mail.From = "termine@musterbank.example"
		c.Mail.SMTP = config.SMTPConfig{Host: mp.Host, Port: mp.SMTPPort, TLS: "none", Timeout: 10 * time.Second}
		c.Appointments.EarlyJoin = time.Until(start) - 40*time.Second
		c.Appointments.Reminder = 0
	})
	adv := newBrowser(t, "advisor", 1280, 900)
	cust := newBrowser(t, "customer", 390, 844)
	advisorLogin(t, adv, srv.base)

	local := func(tm time.Time) string { return tm.Local().Format("2006-01-02T15:04") }
	within(t, adv, 20*time.Second, "book an appointment", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="appt-submit"]`),
		chromedp.SetValue(`[data-testid="appt-start"]`, local(start)),
		chromedp.SetValue(`[data-testid="appt-duration"]`, "30"),
		chromedp.SendKeys(`[data-testid="appt-title"]`, "Baufinanzierung"),
		chromedp.SendKeys(`[data-testid="appt-name"]`, "Erika Mustermann"),
		chromedp.SendKeys(`[data-testid="appt-email"]`, "erika@example.com"),
		chromedp.Click(`[data-testid="appt-submit"]`),
		chromedp.WaitVisible(`[data-testid="appt-link"]`),
	))
	shown := within(t, adv, 5*time.Second, "the link", chromedp.Evaluate[string](`document.querySelector('[data-testid="appt-link"]').textContent`))

	msgs := mp.WaitFor(t, 30*time.Second, "the invitation", func(ms []mailtest.Summary) bool { return len(ms) == 1 })
	inv, ev := readMail(t, mp, msgs[0].ID)
	link := mailLink.FindString(inv.Text)
	if link == "" || link != shown || ev.URL != link {
		t.Fatalf("link in the mail %q, in the console %q, in the calendar %q", link, shown, ev.URL)
	}
	if ev.Method != "REQUEST" || ev.Sequence != 0 || !ev.Start.Equal(start) || !ev.End.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("invitation event %+v", ev)
	}
	if !strings.Contains(inv.Subject, "Musterbank AG") || !strings.Contains(inv.Header.Get("From"), "Musterbank AG") {
		t.Errorf("invitation subject %q, From %q", inv.Subject, inv.Header.Get("From"))
	}

	// Before the window: "starts at …"; then, by itself, the landing page.
	within(t, cust, 30*time.Second, "the link before the slot", chromedp.Steps(
		chromedp.Navigate(link),
		chromedp.WaitVisible(`[data-testid="early-screen"]`),
	))
	title := within(t, cust, 5*time.Second, "early title", chromedp.Evaluate[string](`document.getElementById('early-title').textContent`))
	if want := start.Local().Format("15:04"); !strings.Contains(title, want) {
		t.Errorf("waiting page says %q, want the start %s", title, want)
	}
	saveScreenshot(t, cust, "appointment-early")
	within(t, cust, 90*time.Second, "the window opens", chromedp.WaitVisible(`[data-testid="consent"]`))
	within(t, cust, 30*time.Second, "customer joins", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="join-name"]`, "Erika Mustermann"),
		chromedp.Click(`[data-testid="consent"]`),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="waiting-screen"]`),
	))

	// Moved by an hour: an update to the same entry.
	apptID := within(t, adv, 10*time.Second, "the day lists it", chromedp.Poll[string](
		`(document.querySelector('[data-appointment]') || {dataset: {}}).dataset.appointment || false`))
	moved := start.Add(time.Hour)
	within(t, adv, 10*time.Second, "move", chromedp.Steps(
		chromedp.SetValue(`[data-testid="appt-move-input-`+apptID+`"]`, local(moved)),
		chromedp.Click(`[data-testid="appt-move-`+apptID+`"]`),
	))
	msgs = mp.WaitFor(t, 30*time.Second, "the update", func(ms []mailtest.Summary) bool { return len(ms) == 2 })
	upd, ev2 := readMail(t, mp, msgs[0].ID)
	if ev2.Method != "REQUEST" || ev2.Sequence != 1 || ev2.UID != ev.UID || !ev2.Start.Equal(moved) || mailLink.FindString(upd.Text) != link {
		t.Fatalf("update event %+v (first %+v)", ev2, ev)
	}

	// Cancelled: METHOD:CANCEL, and the link is dead.
	// (The day list re-renders after the move: click whichever button is
	// there now.)
	waitJS(t, adv, 10*time.Second, "cancel", `(() => {
		const b = document.querySelector('[data-testid="appt-cancel-`+apptID+`"]');
		if (!b) return false;
		b.click();
		return true;
	})()`)
	msgs = mp.WaitFor(t, 30*time.Second, "the cancellation", func(ms []mailtest.Summary) bool { return len(ms) == 3 })
	_, ev3 := readMail(t, mp, msgs[0].ID)
	if ev3.Method != "CANCEL" || ev3.Status != "CANCELLED" || ev3.Sequence != 2 || ev3.UID != ev.UID {
		t.Fatalf("cancellation event %+v", ev3)
	}
	within(t, cust, 30*time.Second, "leave the page", chromedp.Navigate("about:blank")) // the same URL again would only move to its fragment
	within(t, cust, 30*time.Second, "the link after cancelling", chromedp.Navigate(link))
	// The server answers the dead link with its "consultation ended" page.
	waitJS(t, cust, 30*time.Second, "the ended page", `document.body.innerText.includes('Beratung beendet')`)
	saveScreenshot(t, cust, "appointment-link-after-cancel")
	_, token, _ := strings.Cut(strings.Split(link, "#")[0], "/j/")
	resp, err := http.Get(srv.base + "/api/v1/invites/" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("invite after cancelling: %d, want 410", resp.StatusCode)
	}
	saveScreenshot(t, adv, "appointment-console")
}

func readMail(t *testing.T, mp *mailtest.Server, id string) (mailtest.Parsed, mailtest.Event) {
	t.Helper()
	raw, err := mp.Raw(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mailtest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := mailtest.ParseCalendar(p.Calendar)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Calendar)
	}
	return p, ev
}
