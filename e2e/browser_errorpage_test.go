package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestErrorPagePhone: an expired invite opened on a phone (390×844) shows
// the error page in German (the phone's language) with the product's header, fits the screen
// (no sideways scrolling), and its language switch (a plain link, no
// JavaScript) turns it into English. Screenshots in both languages.
func TestErrorPagePhone(t *testing.T) {
	srv := startServer(t)
	adv, err := srv.Records.UserByUsername(t.Context(), advisorName)
	if err != nil {
		t.Fatal(err)
	}
	_, expired, err := srv.Records.CreateConsultation(t.Context(), adv.ID, "", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ended, endedTok, err := srv.Records.CreateConsultation(t.Context(), adv.ID, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Records.EndConsultation(t.Context(), ended.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)

	b := newBrowser(t, "customer", 390, 844)
	// A German phone (headless Chromium itself asks for en-US).
	if _, err := chromedp.Call(b, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}}); err != nil {
		t.Fatal(err)
	}
	within(t, b, 20*time.Second, "open the expired link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/j/"+expired),
		chromedp.WaitVisible(`[data-testid="error-page"] h1`),
	))
	waitJS(t, b, 5*time.Second, "German, styled, fits the phone", `document.documentElement.lang === 'de' &&
		document.querySelector('h1').innerText === 'Link abgelaufen' &&
		!document.body.innerText.includes('Link expired') &&
		document.querySelector('.brand-name').innerText === 'Musterbank AG' &&
		getComputedStyle(document.querySelector('.topbar')).position === 'sticky' &&
		document.documentElement.scrollWidth <= 390 &&
		document.querySelector('[data-testid="error-page"]').getBoundingClientRect().bottom <= 844`)
	saveScreenshot(t, b, "error-expired-de-phone")

	within(t, b, 10*time.Second, "switch to English", chromedp.Click(`[data-testid="lang-switch"]`))
	waitJS(t, b, 10*time.Second, "English", `document.documentElement.lang === 'en' &&
		document.querySelector('h1').innerText === 'Link expired' &&
		!document.body.innerText.includes('Link abgelaufen') &&
		document.querySelector('[data-testid="lang-switch"]').innerText === 'Deutsch' &&
		document.documentElement.scrollWidth <= 390`)
	saveScreenshot(t, b, "error-expired-en-phone")

	// The longest page, the ended consultation, still fits in English.
	within(t, b, 20*time.Second, "open the ended link", chromedp.Steps(
		chromedp.Navigate(srv.base+"/j/"+endedTok+"?lang=en"),
		chromedp.WaitVisible(`[data-testid="error-page"] h1`),
	))
	waitJS(t, b, 5*time.Second, "ended, English, fits", `document.documentElement.lang === 'en' &&
		document.querySelector('h1').innerText === 'Consultation ended' &&
		!!document.querySelector('[data-testid="error-page"] a[href="/privacy?lang=en"]') &&
		document.documentElement.scrollWidth <= 390`)
	saveScreenshot(t, b, "error-ended-en-phone")
}
