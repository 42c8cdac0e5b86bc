package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// pageLang is the language of a server-rendered page: "?lang=de|en" (the
// page's own switch, works without JavaScript) wins, then the browser's
// Accept-Language (the first of German or English by preference), else
// German.
func pageLang(r *http.Request) string {
	switch r.URL.Query().Get("lang") {
	case "de":
		return "de"
	case "en":
		return "en"
	}
	return acceptLang(r.Header.Get("Accept-Language"))
}

// acceptLang picks "de" or "en" from an Accept-Language header: the one
// with the higher weight, the earlier one on a tie; "de" when neither is
// listed ("*" and other languages do not count).
func acceptLang(h string) string {
	best, bestQ := "de", 0.0
	for part := range strings.SplitSeq(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if primary != "de" && primary != "en" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}

// errorPageText is what the error page says for one error, in one language.
type errorPageText struct {
	Title string // the page's one h1
	Text  string // what happened
	Next  string // what the visitor can do ("" when nothing)
	// MyData: mention the personal "Meine Daten" link and the privacy
	// notice (the consultation has ended; the data may still be there).
	MyData bool
}

// errorPageTexts maps error codes to the error page's wording in lang
// ("de" or "en"). Deliberately vague: no detail beyond "invalid",
// "expired" or "ended". colleague: the page is a colleague link's
// (/c/:token), opened by staff, not by a customer.
func errorPageTexts(code string, noRoute, colleague bool, lang string) errorPageText {
	de := lang != "en"
	pick := func(d, e errorPageText) errorPageText {
		if de {
			return d
		}
		return e
	}
	if colleague {
		switch code {
		case "not_found", "expired":
			t := pick(
				errorPageText{Title: "Link ungültig", Text: "Dieser Kollegen-Link ist ungültig oder abgelaufen.",
					Next: "Bitte lassen Sie sich von der Kollegin oder dem Kollegen, die Sie eingeladen hat, einen neuen Link schicken."},
				errorPageText{Title: "Invalid link", Text: "This colleague link is not valid or has expired.",
					Next: "Please ask the colleague who invited you to send you a new link."})
			if code == "expired" {
				t.Title = pick(errorPageText{Title: "Link abgelaufen"}, errorPageText{Title: "Link expired"}).Title
			}
			return t
		case "ended":
			return pick(
				errorPageText{Title: "Beratung beendet", Text: "Diese Beratung ist beendet; beitreten ist nicht mehr möglich."},
				errorPageText{Title: "Consultation ended", Text: "This consultation has ended; it can no longer be joined."})
		}
	}
	if noRoute {
		return pick(
			errorPageText{Title: "Seite nicht gefunden", Text: "Diese Seite gibt es nicht.",
				Next: "Bitte prüfen Sie die Adresse. Wenn Sie einen Link erhalten haben, öffnen Sie ihn bitte noch einmal vollständig aus der Nachricht."},
			errorPageText{Title: "Page not found", Text: "This page does not exist.",
				Next: "Please check the address. If you received a link, please open it again, complete, from the message."})
	}
	switch code {
	case "not_found":
		return pick(
			errorPageText{Title: "Link ungültig", Text: "Dieser Link ist ungültig oder wurde durch einen neuen ersetzt.",
				Next: "Bitte prüfen Sie, ob Sie den Link vollständig geöffnet haben. Sonst fragen Sie Ihre Ansprechpartnerin oder Ihren Ansprechpartner nach einem aktuellen Link."},
			errorPageText{Title: "Invalid link", Text: "This link is not valid or has been replaced by a new one.",
				Next: "Please check that you opened the complete link. Otherwise, ask your advisor for a current link."})
	case "expired":
		return pick(
			errorPageText{Title: "Link abgelaufen", Text: "Dieser Link ist abgelaufen.",
				Next: "Bitte fragen Sie Ihre Ansprechpartnerin oder Ihren Ansprechpartner nach einem neuen Link."},
			errorPageText{Title: "Link expired", Text: "This link has expired.",
				Next: "Please ask your advisor for a new link."})
	case "ended":
		return pick(
			errorPageText{Title: "Beratung beendet", Text: "Diese Beratung ist beendet. Vielen Dank für Ihren Besuch.",
				Next: "Für eine neue Beratung fragen Sie bitte Ihre Ansprechpartnerin oder Ihren Ansprechpartner nach einem neuen Link.", MyData: true},
			errorPageText{Title: "Consultation ended", Text: "This consultation has ended. Thank you for your visit.",
				Next: "For a new consultation, please ask your advisor for a new link.", MyData: true})
	case "forbidden", "csrf":
		return pick(
			errorPageText{Title: "Kein Zugriff", Text: "Sie haben keinen Zugriff auf diese Seite."},
			errorPageText{Title: "Access denied", Text: "You do not have access to this page."})
	case "bad_request":
		return pick(
			errorPageText{Title: "Ungültige Anfrage", Text: "Diese Anfrage kann nicht bearbeitet werden."},
			errorPageText{Title: "Bad request", Text: "This request cannot be processed."})
	}
	return pick(
		errorPageText{Title: "Es ist ein Fehler aufgetreten", Text: "Bitte versuchen Sie es in einigen Minuten noch einmal."},
		errorPageText{Title: "Something went wrong", Text: "Please try again in a few minutes."})
}

// errorPageData fills templates/error.html.
type errorPageData struct {
	Lang    string // "de" or "en": <html lang>, the wording
	Company string
	Text    errorPageText
}

// failPage renders err as the error page, in one language (pageLang), and
// aborts the chain.
func (s *Server) failPage(c *gin.Context, err error) {
	p := s.report(c, err)
	if c.Writer.Written() {
		c.Abort()
		return
	}
	lang := pageLang(c.Request)
	c.Header("Vary", "Accept-Language")
	c.Header("Content-Language", lang)
	s.renderTemplate(c, p.status, "error.html", errorPageData{
		Lang:    lang,
		Company: s.cfg.Company.Name,
		Text:    errorPageTexts(p.code, err == errNoRoute || err == errNoFile, routeOf(c) == "/c/:token", lang),
	})
	c.Abort()
}
