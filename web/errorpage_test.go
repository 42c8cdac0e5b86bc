package web

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
)

func TestAcceptLang(t *testing.T) {
	tests := []struct{ header, want string }{
		{"", "de"},
		{"de-DE,de;q=0.9,en;q=0.8", "de"},
		{"en-US,en;q=0.9", "en"},
		{"en-GB", "en"},
		{"fr-FR,fr;q=0.9,en;q=0.8,de;q=0.7", "en"},
		{"fr-FR,fr;q=0.9,de;q=0.8,en;q=0.7", "de"},
		{"de;q=0.5, en;q=0.6", "en"},
		{"en;q=0, de;q=0.1", "de"},
		{"en;q=0", "de"},
		{"fr, *", "de"},
		{"EN-us", "en"},
		{"en, de", "en"},
		{"de, en", "de"},
	}
	for _, tt := range tests {
		if got := acceptLang(tt.header); got != tt.want {
			t.Errorf("acceptLang(%q) = %q; want %q", tt.header, got, tt.want)
		}
	}
}

// TestErrorPages: unknown, expired and ended links (and an unknown page)
// are shown in one language at a time, German by default, English for an
// English browser or ?lang=en, with the right status, <html lang>, a
// working language switch, the product's stylesheet and header, one h1,
// no inline script or style, and what to do next.
func TestErrorPages(t *testing.T) {
	e := newEnv(t)
	anna, u := e.loggedIn("anna", records.RoleAdvisor)
	_, expired, err := e.rec.CreateConsultation(context.Background(), u.ID, "", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	endedID, endedTok := e.createConsultation(anna, "")
	if r := e.staff(anna, "POST", "/api/v1/consultations/"+endedID+"/end", nil); r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	time.Sleep(5 * time.Millisecond)

	pages := []struct {
		name   string
		path   string
		status int
		de, en []string // what each language says (besides its h1)
	}{
		{"unknown", "/j/no-such-token", 404,
			[]string{"<h1>Link ungültig</h1>", "Ansprechpartner nach einem aktuellen Link"},
			[]string{"<h1>Invalid link</h1>", "ask your advisor for a current link"}},
		{"expired", "/j/" + expired, 410,
			[]string{"<h1>Link abgelaufen</h1>", "nach einem neuen Link"},
			[]string{"<h1>Link expired</h1>", "ask your advisor for a new link"}},
		{"ended", "/j/" + endedTok, 410,
			[]string{"<h1>Beratung beendet</h1>", "„Meine Daten“", `href="/privacy?lang=de"`},
			[]string{"<h1>Consultation ended</h1>", "“My data”", `href="/privacy?lang=en"`}},
		{"no route", "/nope", 404,
			[]string{"<h1>Seite nicht gefunden</h1>", "prüfen Sie die Adresse"},
			[]string{"<h1>Page not found</h1>", "check the address"}},
	}
	// How a language is asked for: nothing (German), the browser's
	// preference, the page's own switch (which beats the browser).
	asks := []struct {
		name, query, acceptLang, want string
	}{
		{"default", "", "", "de"},
		{"browser de", "", "de-DE,de;q=0.9,en;q=0.8", "de"},
		{"browser en", "", "en-US,en;q=0.9", "en"},
		{"switch en", "?lang=en", "de-DE", "en"},
		{"switch de", "?lang=de", "en-US,en;q=0.9", "de"},
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, p := range pages {
		for _, a := range asks {
			t.Run(p.name+"/"+a.name, func(t *testing.T) {
				r := e.do(e.client(), "GET", p.path+a.query, nil, "Accept-Language", a.acceptLang)
				if r.StatusCode != p.status {
					t.Fatalf("status %d; want %d", r.StatusCode, p.status)
				}
				if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Fatalf("Content-Type %q", ct)
				}
				if got := r.Header.Get("Content-Language"); got != a.want {
					t.Errorf("Content-Language %q; want %q", got, a.want)
				}
				if !strings.Contains(r.Header.Get("Vary"), "Accept-Language") {
					t.Errorf("Vary %q lacks Accept-Language", r.Header.Get("Vary"))
				}
				body := string(r.body)
				if !strings.Contains(body, `<html lang="`+a.want+`">`) {
					t.Fatalf("<html lang> is not %q: %s", a.want, body)
				}
				want, other := p.de, p.en
				switchTo, switchText := "?lang=en", ">English</a>"
				if a.want == "en" {
					want, other = p.en, p.de
					switchTo, switchText = "?lang=de", ">Deutsch</a>"
				}
				for _, w := range want {
					if !strings.Contains(body, w) {
						t.Errorf("page lacks %q: %s", w, body)
					}
				}
				for _, w := range other {
					if strings.Contains(body, w) {
						t.Errorf("page also has the other language's %q", w)
					}
				}
				if strings.Count(body, "<h1") != 1 {
					t.Errorf("%d h1 elements; want one", strings.Count(body, "<h1"))
				}
				if !strings.Contains(body, `href="`+switchTo+`"`) || !strings.Contains(body, switchText) {
					t.Errorf("no language switch to %s: %s", switchTo, body)
				}
				for _, w := range []string{`href="/static/css/app.css"`, `class="topbar"`, `class="brand-name">` + e.cfg.Company.Name + "<"} {
					if !strings.Contains(body, w) {
						t.Errorf("page lacks the product's look: %q", w)
					}
				}
				if m := inline.FindString(body); m != "" {
					t.Errorf("inline script or style: %q", m)
				}
				if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "//") && strings.Contains(body, `src="//`) {
					t.Errorf("page refers to another host: %s", body)
				}
				if tok := strings.TrimPrefix(p.path, "/j/"); tok != p.path && strings.Contains(body, tok) {
					t.Error("page echoes the token")
				}
			})
		}
	}
}

// TestColleagueErrorPages: a colleague link that is unknown or whose
// consultation has ended speaks to staff (ask the colleague who invited
// you), in the asked-for language, without the customer's "Meine Daten".
func TestColleagueErrorPages(t *testing.T) {
	e := newEnv(t)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	bert, _ := e.loggedIn("bert", records.RoleAdvisor)
	id, _ := e.createConsultation(anna, "")
	r := e.staff(anna, "POST", "/api/v1/consultations/"+id+"/colleague", nil)
	if r.StatusCode != 200 {
		t.Fatalf("colleague link: %d %s", r.StatusCode, r.body)
	}
	url, _ := r.json(t)["url"].(string)
	_, path, ok := strings.Cut(url, "/c/")
	if !ok {
		t.Fatalf("colleague url %q", url)
	}
	if r := e.staff(anna, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
	tests := []struct {
		name, path, acceptLang string
		status                 int
		want                   []string
	}{
		{"unknown de", "/c/unknown-token", "", 404, []string{`<html lang="de">`, "<h1>Link ungültig</h1>", "Kollegin oder dem Kollegen"}},
		{"unknown en", "/c/unknown-token", "en", 404, []string{`<html lang="en">`, "<h1>Invalid link</h1>", "ask the colleague who invited you"}},
		{"ended de", "/c/" + path, "", 410, []string{`<html lang="de">`, "<h1>Beratung beendet</h1>", "nicht mehr möglich"}},
		{"ended en", "/c/" + path + "?lang=en", "", 410, []string{`<html lang="en">`, "<h1>Consultation ended</h1>", "can no longer be joined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(bert, "GET", tt.path, nil, "Accept-Language", tt.acceptLang)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d; want %d: %s", r.StatusCode, tt.status, r.body)
			}
			body := string(r.body)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q: %s", w, body)
				}
			}
			for _, w := range []string{"Meine Daten", "My data", "Ihre Ansprechpartnerin", "your advisor"} {
				if strings.Contains(body, w) {
					t.Errorf("colleague page has the customer's %q", w)
				}
			}
		})
	}
}
