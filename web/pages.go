package web

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTemplates are the server-rendered pages (error page, privacy notice).
var pageTemplates = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

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
	c.Data(status, "text/html; charset=utf-8", s.brand.page(buf.Bytes()))
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
	// Back from a single sign-on: the page goes on by itself, adding the
	// fragment (a colleague link's call key) it kept before leaving.
	if ok && c.Query("sso") != "1" {
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
	if _, err := s.cons.ByInvite(c.Request.Context(), c.Param("token")); err != nil {
		return err
	}
	return s.servePage(c, "join.html")
}

// handleColleaguePage: GET /c/:token. Logged-in advisors see a
// confirmation; joining is a POST (handleColleagueAccept), so that opening
// the link, from anywhere, changes nothing. Anonymous visitors go to the
// login first.
func (s *Server) handleColleaguePage(c *gin.Context) error {
	u, token, ok, err := s.currentStaff(c)
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
	con, err := s.rec.CheckColleague(c.Request.Context(), c.Param("token"), u.ID)
	if err != nil {
		return err
	}
	s.renderTemplate(c, http.StatusOK, "colleague.html", struct {
		Company, Title, Token, CSRF string
	}{s.cfg.Company.Name, con.Title, c.Param("token"), csrfFor(token)})
	return nil
}

// handleColleagueAccept: POST /c/:token from the confirmation page: same
// origin, the login's CSRF token in the form, then the consultation is
// added to the colleague's list and the call opens (303; the browser keeps
// the link's fragment, the call key, across it).
func (s *Server) handleColleagueAccept(c *gin.Context) error {
	// Our pages send no referrer, so browsers send "Origin: null" with
	// their form posts; the fetch metadata and the CSRF field decide then.
	r := c.Request
	if o := r.Header.Get("Origin"); o != "" && o != "null" && !s.origins.allows(r, o) {
		return errCSRF("request from a foreign origin")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errCSRF("cross-site request")
	}
	u, token, ok, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if !ok {
		loginRedirect(c)
		return nil
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 4<<10)
	if subtle.ConstantTimeCompare([]byte(c.PostForm("csrf")), []byte(csrfFor(token))) != 1 {
		return errCSRF("missing or wrong csrf form field")
	}
	if !u.Role.CanConsult() {
		return errForbidden("only advisors and admins join consultations")
	}
	con, err := s.rec.AcceptColleague(c.Request.Context(), c.Param("token"), u.ID)
	if err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/app/call/"+url.PathEscape(con.ID))
	return nil
}

// handleStatic: GET /static/*filepath.
func (s *Server) handleStatic(c *gin.Context) error {
	return s.files.serve(c.Writer, c.Request, strings.TrimPrefix(c.Param("filepath"), "/"), "no-cache")
}

// privacyData fills templates/privacy.html from the running configuration.
type privacyData struct {
	Lang           string // "de" or "en": the one language shown (pageLang)
	Company        string
	PrivacyContact string
	Controller     string
	DPOContact     string
	Authority      string
	AllowAnonymous bool
	// Durations in German and English, e.g. "12 Stunden" / "12 hours".
	SessionTTLDE, SessionTTLEN   string
	SessionMaxDE, SessionMaxEN   string
	MaxDurationDE, MaxDurationEN string
	InviteTTLDE, InviteTTLEN     string
	// EscrowFingerprint names the key biometric signature data is sealed to.
	EscrowFingerprint string
	// TSAHost is the time-stamp authority's host ("" when none).
	TSAHost string
	// Categories: each data category with its actual retention.
	Categories []privacyCategory
	// Before and After: the questions the company asks (labels).
	BeforeDE, BeforeEN, AfterDE, AfterEN []string
	// EmailCopy: a customer who gave an e-mail address can ask for a
	// copy of a signed contract by e-mail (subject_mail.go).
	EmailCopy bool
}

// privacyCategory is one row of the notice's retention table.
type privacyCategory struct {
	DE, EN               string // the data
	KeptDE, KeptEN       string // how long, from the configuration
	BasisDE, BasisEN     string // legal basis
	PurposeDE, PurposeEN string
}

// privacyCategories describes every data category with the retention the
// configuration gives it (config "retention").
func (s *Server) privacyCategories() []privacyCategory {
	r := s.cfg.Retention
	afterEnd := func(p config.Period, lang string) string {
		if p.Duration() == 0 {
			if lang == "de" {
				return "bis zum Ende der Beratung (spätestens " + humanDuration(s.cfg.Consultation.MaxDuration, "de") + ")"
			}
			return "until the consultation ends (at most " + humanDuration(s.cfg.Consultation.MaxDuration, "en") + ")"
		}
		if lang == "de" {
			return humanDuration(p.Duration(), "de") + " nach dem Ende der Beratung"
		}
		return humanDuration(p.Duration(), "en") + " after the consultation ends"
	}
	since := func(p config.Period, lang, fromDE, fromEN string) string {
		if lang == "de" {
			return humanDuration(p.Duration(), "de") + " " + fromDE
		}
		return humanDuration(p.Duration(), "en") + " " + fromEN
	}
	consent := [2]string{"Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)", "consent (Art. 6(1)(a) GDPR)"}
	copyDE, copyEN := "", ""
	if s.emailCopyOffered() {
		copyDE = "; nur auf Ihren Wunsch: Kopie eines unterschriebenen Vertrags an Ihre E-Mail-Adresse"
		copyEN = "; only at your request: a copy of a signed contract to your e-mail address"
	}
	cats := []privacyCategory{
		{DE: "Bild, Ton und Bildschirmfreigabe (Ende-zu-Ende-verschlüsselt)", EN: "Picture, sound and screen sharing (end-to-end encrypted)",
			KeptDE: "nie gespeichert oder aufgezeichnet", KeptEN: "never stored or recorded",
			PurposeDE: "die Videoberatung", PurposeEN: "the video consultation",
			BasisDE: "Vertrag bzw. vorvertragliche Maßnahmen (Art. 6 Abs. 1 lit. b DSGVO)", BasisEN: "contract or pre-contractual steps (Art. 6(1)(b) GDPR)"},
		{DE: "Ihr Name und Ihre Angaben vor dem Beitritt", EN: "Your name and your answers before joining",
			KeptDE: afterEnd(r.PreJoin, "de"), KeptEN: afterEnd(r.PreJoin, "en"),
			PurposeDE: "Anzeige für die Teilnehmenden, Vorbereitung der Beratung" + copyDE, PurposeEN: "shown to the participants, preparing the consultation" + copyEN,
			BasisDE: consent[0], BasisEN: consent[1]},
		{DE: "Chatnachrichten (Ende-zu-Ende-verschlüsselt)", EN: "Chat messages (end-to-end encrypted)",
			KeptDE: "nur im Arbeitsspeicher, bis zum Ende der Beratung", KeptEN: "only in memory, until the consultation ends",
			PurposeDE: "Austausch in der Beratung", PurposeEN: "exchange during the consultation",
			BasisDE: consent[0], BasisEN: consent[1]},
		{DE: "Dateien und Fotos (Ende-zu-Ende-verschlüsselt, zusätzlich verschlüsselt gespeichert)", EN: "Files and photos (end-to-end encrypted, also encrypted at rest)",
			KeptDE: afterEnd(r.Files, "de"), KeptEN: afterEnd(r.Files, "en"),
			PurposeDE: "Austausch in der Beratung", PurposeEN: "exchange during the consultation",
			BasisDE: consent[0], BasisEN: consent[1]},
		{DE: "Vorgelegte, nicht unterschriebene Dokumente", EN: "Documents presented but not signed",
			KeptDE: afterEnd(r.Files, "de"), KeptEN: afterEnd(r.Files, "en"),
			PurposeDE: "Besprechung in der Beratung", PurposeEN: "discussion during the consultation",
			BasisDE: "Vertrag bzw. vorvertragliche Maßnahmen (Art. 6 Abs. 1 lit. b DSGVO)", BasisEN: "contract or pre-contractual steps (Art. 6(1)(b) GDPR)"},
		{DE: "Unterschriebene Verträge mit Prüfprotokoll und verschlüsselten Schreibdaten", EN: "Signed contracts with audit trail and encrypted handwriting data",
			KeptDE: since(config.Period(r.Contracts), "de", "nach der letzten Unterschrift", ""), KeptEN: since(config.Period(r.Contracts), "en", "", "after the last signature"),
			PurposeDE: "Vertragsschluss und Nachweis", PurposeEN: "concluding the contract and proving it",
			BasisDE: "Vertrag (Art. 6 Abs. 1 lit. b DSGVO), gesetzliche Aufbewahrungspflichten (Art. 6 Abs. 1 lit. c DSGVO); Schreibdynamik: ausdrückliche Einwilligung (Art. 9 Abs. 2 lit. a DSGVO)",
			BasisEN: "contract (Art. 6(1)(b) GDPR), legal retention duties (Art. 6(1)(c) GDPR); handwriting dynamics: explicit consent (Art. 9(2)(a) GDPR)"},
		{DE: "Nachweis Ihrer Einwilligung (Textversion, Sprache, Zeitpunkt; ohne Name und IP-Adresse)", EN: "Record of your consent (text version, language, time; no name, no IP address)",
			KeptDE: since(config.Period(r.ConsentRecords), "de", "nach der Einwilligung", ""), KeptEN: since(config.Period(r.ConsentRecords), "en", "", "after consent was given"),
			PurposeDE: "Nachweis der Einwilligung", PurposeEN: "demonstrating consent",
			BasisDE: "rechtliche Verpflichtung (Art. 7 Abs. 1, Art. 6 Abs. 1 lit. c DSGVO)", BasisEN: "legal obligation (Art. 7(1), Art. 6(1)(c) GDPR)"},
		{DE: "Zugriffsprotokoll (gekürzte IP-Adresse, Browserfamilie, Betriebssystem, aufgerufene Seitenart, Status)", EN: "Access log (shortened IP address, browser family, operating system, kind of page, status)",
			KeptDE: since(config.Period(r.AccessLogs), "de", "", ""), KeptEN: since(config.Period(r.AccessLogs), "en", "", ""),
			PurposeDE: "sicherer Betrieb, Abwehr von Angriffen", PurposeEN: "secure operation, defending against attacks",
			BasisDE: "berechtigtes Interesse (Art. 6 Abs. 1 lit. f DSGVO)", BasisEN: "legitimate interest (Art. 6(1)(f) GDPR)"},
		{DE: "Eintrag der Beratung für die Beratenden (Titel, Zeitpunkte)", EN: "The advisors' record of the consultation (title, times)",
			KeptDE: afterEnd(r.Consultations, "de"), KeptEN: afterEnd(r.Consultations, "en"),
			PurposeDE: "Organisation der Beratung", PurposeEN: "organising the consultation",
			BasisDE: "berechtigtes Interesse (Art. 6 Abs. 1 lit. f DSGVO)", BasisEN: "legitimate interest (Art. 6(1)(f) GDPR)"},
	}
	if s.appts != nil {
		purposeDE, purposeEN := "Organisation des vereinbarten Termins", "organising the appointment"
		if s.appts.MailOn() {
			purposeDE = "Einladung, Erinnerung, Verschiebung und Absage des Termins per E-Mail mit Kalendereintrag (über die beteiligten E-Mail-Server)"
			purposeEN = "invitation, reminder, rescheduling and cancellation of the appointment by e-mail with a calendar entry (through the mail servers involved)"
		}
		cats = append(cats, privacyCategory{DE: "Termindaten, wenn ein Termin mit Ihnen vereinbart wurde (Name, E-Mail-Adresse, ggf. Telefonnummer, Zeitpunkt)",
			EN:     "Appointment data, if an appointment was booked with you (name, e-mail address, phone number if given, time)",
			KeptDE: afterEnd(r.Consultations, "de"), KeptEN: afterEnd(r.Consultations, "en"),
			PurposeDE: purposeDE, PurposeEN: purposeEN,
			BasisDE: "vorvertragliche Maßnahmen auf Ihre Anfrage (Art. 6 Abs. 1 lit. b DSGVO)", BasisEN: "pre-contractual steps at your request (Art. 6(1)(b) GDPR)"})
	}
	if len(s.cfg.Questions.After) > 0 {
		cats = append(cats, privacyCategory{DE: "Ihre Antworten nach der Beratung", EN: "Your answers after the consultation",
			KeptDE: since(config.Period(r.Feedback), "de", "nach der Antwort", ""), KeptEN: since(config.Period(r.Feedback), "en", "", "after you answered"),
			PurposeDE: "Verbesserung unserer Beratung", PurposeEN: "improving our consultations",
			BasisDE: consent[0], BasisEN: consent[1]})
	}
	for i := range cats {
		cats[i].KeptDE = strings.TrimSpace(cats[i].KeptDE)
		cats[i].KeptEN = strings.TrimSpace(cats[i].KeptEN)
	}
	return cats
}

// handlePrivacy: GET /privacy, the privacy notice in one language
// (pageLang: ?lang=de|en, else Accept-Language, else German).
func (s *Server) handlePrivacy(c *gin.Context) error {
	lang := pageLang(c.Request)
	c.Header("Vary", "Accept-Language")
	c.Header("Content-Language", lang)
	d := privacyData{
		Lang:              lang,
		Company:           s.cfg.Company.Name,
		PrivacyContact:    s.cfg.Company.PrivacyContact,
		Controller:        s.cfg.Privacy.Controller,
		DPOContact:        s.cfg.Privacy.DPOContact,
		Authority:         s.cfg.Privacy.Authority,
		AllowAnonymous:    s.cfg.Privacy.AllowAnonymous,
		SessionTTLDE:      humanDuration(s.cfg.Auth.SessionTTL, "de"),
		SessionTTLEN:      humanDuration(s.cfg.Auth.SessionTTL, "en"),
		SessionMaxDE:      humanDuration(s.cfg.Auth.SessionMaxAge, "de"),
		SessionMaxEN:      humanDuration(s.cfg.Auth.SessionMaxAge, "en"),
		MaxDurationDE:     humanDuration(s.cfg.Consultation.MaxDuration, "de"),
		MaxDurationEN:     humanDuration(s.cfg.Consultation.MaxDuration, "en"),
		InviteTTLDE:       humanDuration(s.cfg.Consultation.InviteTTL, "de"),
		InviteTTLEN:       humanDuration(s.cfg.Consultation.InviteTTL, "en"),
		EscrowFingerprint: s.escrowFP,
		TSAHost:           hostOf(s.cfg.Signature.TSAURL),
		Categories:        s.privacyCategories(),
		EmailCopy:         s.emailCopyOffered(),
	}
	for _, q := range s.cfg.Questions.Before {
		d.BeforeDE, d.BeforeEN = append(d.BeforeDE, q.Label.DE), append(d.BeforeEN, q.Label.EN)
	}
	for _, q := range s.cfg.Questions.After {
		d.AfterDE, d.AfterEN = append(d.AfterDE, q.Label.DE), append(d.AfterEN, q.Label.EN)
	}
	s.renderTemplate(c, http.StatusOK, "privacy.html", d)
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
		{config.Year, "Jahr", "Jahre", "year", "years"},
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
