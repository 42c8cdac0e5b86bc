package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// browserLanguages makes ctx's browser prefer langs (navigator.languages
// and the Accept-Language header), as a browser set up in that language.
func browserLanguages(t *testing.T, ctx context.Context, langs string) {
	t.Helper()
	v, err := chromedp.Call(ctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: v.UserAgent, AcceptLanguage: langs,
	}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserLanguageDetection: on a first visit the browser's language
// picks English or German (German for anything else); the switch is
// remembered over the browser's preference; server-rendered error pages
// follow Accept-Language.
func TestBrowserLanguageDetection(t *testing.T) {
	srv := startServer(t)
	pageLang := func(ctx context.Context) map[string]string {
		t.Helper()
		return within(t, ctx, 20*time.Second, "login page", chromedp.Evaluate[map[string]string](`({
			lang: document.documentElement.lang,
			title: document.querySelector('h1')?.textContent ?? '',
			button: document.querySelector('#login-submit')?.textContent ?? '',
		})`))
	}
	open := func(ctx context.Context, path string) {
		t.Helper()
		within(t, ctx, 20*time.Second, "open "+path, chromedp.Steps(
			chromedp.Navigate(srv.base+path),
			chromedp.WaitVisible(`h1`),
		))
	}

	en := newBrowser(t, "english", 1366, 768)
	browserLanguages(t, en, "en-US,en;q=0.9")
	open(en, "/login")
	if p := pageLang(en); p["lang"] != "en" || p["button"] != "Sign in" {
		t.Errorf("English browser, first visit: %v", p)
	}
	saveScreenshot(t, en, "lang-login-en")
	// The switch wins over the browser from then on.
	within(t, en, 10*time.Second, "switch to German", chromedp.Click(`[data-testid="lang-toggle"]`))
	open(en, "/login")
	if p := pageLang(en); p["lang"] != "de" || p["button"] != "Anmelden" {
		t.Errorf("after switching to German and reloading: %v", p)
	}
	// A server-rendered error page follows Accept-Language.
	open(en, "/j/no-such-invite")
	if v := textOf(t, en, "h1"); !strings.Contains(strings.ToLower(v), "link") || strings.Contains(v, "Einladung") {
		t.Logf("error page heading %q", v)
	}
	if lang := within(t, en, 5*time.Second, "error page lang", chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "en" {
		t.Errorf("error page for an English browser is %q", lang)
	}
	saveScreenshot(t, en, "lang-error-en")

	for _, c := range []struct{ langs, want string }{
		{"de-DE,de;q=0.9,en;q=0.8", "de"},
		{"fr-FR,fr;q=0.9", "de"},
		{"fr-FR,en-GB;q=0.8", "en"},
	} {
		b := newBrowser(t, "lang-"+c.langs[:5], 1024, 768)
		browserLanguages(t, b, c.langs)
		open(b, "/login")
		if p := pageLang(b); p["lang"] != c.want {
			t.Errorf("browser %q: page in %v, want %s", c.langs, p, c.want)
		}
	}
}
