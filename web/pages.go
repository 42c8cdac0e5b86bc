package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/records"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTemplates are the server-rendered pages (error page, privacy notice).
var pageTemplates = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// errorPageText is what the bilingual error page says for one error code.
type errorPageText struct {
	TitleDE, TextDE string
	TitleEN, TextEN string
}

// errorPageTexts maps error codes to the error page's wording. Deliberately
// vague: no detail beyond "invalid", "expired" or "ended".
func errorPageTexts(code string, noRoute bool) errorPageText {
	if noRoute {
		return errorPageText{
			"Seite nicht gefunden", "Diese Seite gibt es nicht.",
			"Page not found", "This page does not exist.",
		}
	}
	switch code {
	case "not_found":
		return errorPageText{
			"Link ungültig", "Dieser Link ist ungültig oder wurde durch einen neuen ersetzt. Bitte fragen Sie Ihre Ansprechpartnerin oder Ihren Ansprechpartner nach einem aktuellen Link.",
			"Invalid link", "This link is not valid or has been replaced by a new one. Please ask your contact for a current link.",
		}
	case "expired":
		return errorPageText{
			"Link abgelaufen", "Dieser Link ist abgelaufen. Bitte fragen Sie Ihre Ansprechpartnerin oder Ihren Ansprechpartner nach einem neuen Link.",
			"Link expired", "This link has expired. Please ask your contact for a new link.",
		}
	case "ended":
		return errorPageText{
			"Beratung beendet", "Diese Beratung ist beendet. Vielen Dank für Ihren Besuch.",
			"Consultation ended", "This consultation has ended. Thank you for your visit.",
		}
	case "forbidden", "csrf":
		return errorPageText{
			"Kein Zugriff", "Sie haben keinen Zugriff auf diese Seite.",
			"Access denied", "You do not have access to this page.",
		}
	case "bad_request":
		return errorPageText{
			"Ungültige Anfrage", "Diese Anfrage kann nicht bearbeitet werden.",
			"Bad request", "This request cannot be processed.",
		}
	}
	return errorPageText{
		"Es ist ein Fehler aufgetreten", "Bitte versuchen Sie es in einigen Minuten noch einmal.",
		"Something went wrong", "Please try again in a few minutes.",
	}
}

// failPage renders err as the bilingual error page and aborts the chain.
func (s *Server) failPage(c *gin.Context, err error) {
	p := s.report(c, err)
	if c.Writer.Written() {
		c.Abort()
		return
	}
	data := struct {
		Company string
		Text    errorPageText
	}{s.cfg.Company.Name, errorPageTexts(p.code, err == errNoRoute || err == errNoFile)}
	s.renderTemplate(c, p.status, "error.html", data)
	c.Abort()
}

// renderTemplate executes a page template into a buffer first, so that a
// template failure can still become a clean 500.
func (s *Server) renderTemplate(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.ErrorContext(c.Request.Context(), "render page", "template", name, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Interner Fehler / Internal error\n"))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// servePage sends one of the client's HTML pages, never cached.
func (s *Server) servePage(c *gin.Context, name string) error {
	return s.files.serve(c.Writer, c.Request, name, "no-store")
}

// loginRedirect sends an anonymous visitor to the login page, asking it to
// come back to the current path afterwards.
func loginRedirect(c *gin.Context) {
	c.Redirect(http.StatusFound, "/login?next="+url.QueryEscape(c.Request.URL.Path))
}

// handleRoot: GET /.
func (s *Server) handleRoot(c *gin.Context) error {
	_, _, ok, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if ok {
		c.Redirect(http.StatusFound, "/app")
	} else {
		c.Redirect(http.StatusFound, "/login")
	}
	return nil
}

// handleLoginPage: GET /login. A next parameter that is not a local path is
// dropped (no open redirect); a logged-in user goes straight on.
func (s *Server) handleLoginPage(c *gin.Context) error {
	raw, has := c.GetQuery("next")
	next := safeNext(raw)
	if has && next == "" {
		c.Redirect(http.StatusFound, "/login")
		return nil
	}
	_, _, ok, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if ok {
		if next == "" || strings.HasPrefix(next, "/login") {
			next = "/app"
		}
		c.Redirect(http.StatusFound, next)
		return nil
	}
	return s.servePage(c, "login.html")
}

// handleAppPage: GET /app and /app/call/:id, staff only.
func (s *Server) handleAppPage(c *gin.Context) error {
	u, _, ok, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if !ok {
		loginRedirect(c)
		return nil
	}
	if u.Role == records.RoleBackoffice {
		c.Redirect(http.StatusFound, "/backoffice")
		return nil
	}
	return s.servePage(c, "app.html")
}

// handleJoinPage: GET /j/:token, the customer's landing page; invalid,
// expired or ended links get the error page (404/410).
func (s *Server) handleJoinPage(c *gin.Context) error {
	if _, err := s.inviteConsultation(c.Request.Context(), c.Param("token")); err != nil {
		return err
	}
	return s.servePage(c, "join.html")
}

// handleColleaguePage: GET /c/:token. Logged-in advisors are added to the
// consultation and sent to the call; others log in first.
func (s *Server) handleColleaguePage(c *gin.Context) error {
	u, _, ok, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if !ok {
		loginRedirect(c)
		return nil
	}
	if !u.Role.CanConsult() {
		return errForbidden("only advisors and admins join consultations")
	}
	con, err := s.rec.AcceptColleague(c.Request.Context(), c.Param("token"), u.ID)
	if err != nil {
		return err
	}
	c.Redirect(http.StatusFound, "/app/call/"+url.PathEscape(con.ID))
	return nil
}

// handleStatic: GET /static/*filepath.
func (s *Server) handleStatic(c *gin.Context) error {
	return s.files.serve(c.Writer, c.Request, strings.TrimPrefix(c.Param("filepath"), "/"), "no-cache")
}

// privacyData fills templates/privacy.html from the running configuration.
type privacyData struct {
	Company        string
	PrivacyContact string
	// Durations in German and English, e.g. "12 Stunden" / "12 hours".
	SessionTTLDE, SessionTTLEN   string
	MaxDurationDE, MaxDurationEN string
	InviteTTLDE, InviteTTLEN     string
	// EscrowFingerprint names the key biometric signature data is sealed to.
	EscrowFingerprint string
	// TSAHost is the time-stamp authority's host ("" when none).
	TSAHost string
}

// handlePrivacy: GET /privacy, the privacy notice.
func (s *Server) handlePrivacy(c *gin.Context) error {
	s.renderTemplate(c, http.StatusOK, "privacy.html", privacyData{
		Company:           s.cfg.Company.Name,
		PrivacyContact:    s.cfg.Company.PrivacyContact,
		SessionTTLDE:      humanDuration(s.cfg.Auth.SessionTTL, "de"),
		SessionTTLEN:      humanDuration(s.cfg.Auth.SessionTTL, "en"),
		MaxDurationDE:     humanDuration(s.cfg.Consultation.MaxDuration, "de"),
		MaxDurationEN:     humanDuration(s.cfg.Consultation.MaxDuration, "en"),
		InviteTTLDE:       humanDuration(s.cfg.Consultation.InviteTTL, "de"),
		InviteTTLEN:       humanDuration(s.cfg.Consultation.InviteTTL, "en"),
		EscrowFingerprint: s.escrowFP,
		TSAHost:           hostOf(s.cfg.Signature.TSAURL),
	})
	return nil
}

// hostOf is the host of URL u ("" when u is empty or unparsable).
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}

// humanDuration writes d in words, e.g. "12 Stunden" / "12 hours".
func humanDuration(d time.Duration, lang string) string {
	type unit struct {
		size                         time.Duration
		deOne, deMany, enOne, enMany string
	}
	units := []unit{
		{24 * time.Hour, "Tag", "Tage", "day", "days"},
		{time.Hour, "Stunde", "Stunden", "hour", "hours"},
		{time.Minute, "Minute", "Minuten", "minute", "minutes"},
		{time.Second, "Sekunde", "Sekunden", "second", "seconds"},
	}
	for i, u := range units {
		if d%u.size != 0 && i < len(units)-1 {
			continue
		}
		n := int(d / u.size)
		word := u.enMany
		switch {
		case lang == "de" && n == 1:
			word = u.deOne
		case lang == "de":
			word = u.deMany
		case n == 1:
			word = u.enOne
		}
		return strconv.Itoa(n) + " " + word
	}
	return ""
}
