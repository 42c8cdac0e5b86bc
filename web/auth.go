package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/throttle"
)

// Context keys for the logged-in staff user.
const (
	ctxUser  = "parley.user"
	ctxToken = "parley.loginToken"
)

// userJSON is API.md's User.
type userJSON struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
	Role        string `json:"role"`
	Available   bool   `json:"available"`
	// MustChangePassword: only GET /me, PUT /me/password and logout
	// work until the password is changed.
	MustChangePassword bool `json:"mustChangePassword"`
	Disabled           bool `json:"disabled"`
	// SSO: the account signs on through the company's identity provider.
	SSO bool `json:"sso"`
}

func toUserJSON(u records.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: string(u.Role), Available: u.Available,
		MustChangePassword: u.MustChangePassword, Disabled: u.Disabled, SSO: u.SSO}
}

// csrfFor derives the CSRF token of a login: an HMAC keyed with the login
// token, so it cannot be forged without the HttpOnly cookie and need not be
// stored.
func csrfFor(loginToken string) string {
	m := hmac.New(sha256.New, []byte(loginToken))
	m.Write([]byte("parley csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// staffCookie builds a staff cookie (session cookie: it ends with the
// browser; the server ends idle logins after auth.session_ttl and every
// login after auth.session_max_age).
func (s *Server) staffCookie(r *http.Request, name, value string, httpOnly bool, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: httpOnly, Secure: s.secureCookies(r), SameSite: http.SameSiteLaxMode,
	}
}

func (s *Server) clearStaffCookies(c *gin.Context) {
	http.SetCookie(c.Writer, s.staffCookie(c.Request, cookieStaff, "", true, -1))
	http.SetCookie(c.Writer, s.staffCookie(c.Request, cookieCSRF, "", false, -1))
}

// currentStaff returns the logged-in user of the request, if any.
func (s *Server) currentStaff(c *gin.Context) (records.User, string, bool, error) {
	token, err := c.Cookie(cookieStaff)
	if err != nil || token == "" {
		return records.User{}, "", false, nil
	}
	u, err := s.rec.LoginUserWithin(c.Request.Context(), token, s.cfg.Auth.SessionMaxAge)
	if errors.Is(err, records.ErrNotFound) || errors.Is(err, records.ErrExpired) {
		return records.User{}, "", false, nil
	}
	if err != nil {
		return records.User{}, "", false, err
	}
	return u, token, true, nil
}

// staffUser is the user requireStaff put into the context.
func staffUser(c *gin.Context) records.User {
	u, _ := c.Get(ctxUser)
	user, _ := u.(records.User)
	return user
}

// requireStaff lets only logged-in staff through (401 otherwise).
func (s *Server) requireStaff(c *gin.Context) {
	u, token, ok, err := s.currentStaff(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, errNotLoggedIn)
		return
	}
	if u.MustChangePassword && !passwordChangeRoutes[c.Request.Method+" "+c.FullPath()] {
		s.fail(c, errPasswordChange)
		return
	}
	c.Set(ctxUser, u)
	c.Set(ctxToken, token)
	c.Next()
}

// checkCSRF requires, on state-changing staff requests, the X-CSRF-Token
// header to equal the parley_csrf cookie and the login's CSRF token.
func (s *Server) checkCSRF(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	token := c.GetString(ctxToken)
	if err := s.verifyCSRF(c, token); err != nil {
		s.fail(c, err)
		return
	}
	c.Next()
}

func (s *Server) verifyCSRF(c *gin.Context, loginToken string) error {
	header := c.GetHeader(headerCSRF)
	cookie, _ := c.Cookie(cookieCSRF)
	if header == "" {
		return errCSRF("missing " + headerCSRF + " header")
	}
	want := csrfFor(loginToken)
	if subtle.ConstantTimeCompare([]byte(header), []byte(cookie)) != 1 ||
		subtle.ConstantTimeCompare([]byte(header), []byte(want)) != 1 {
		return errCSRF("wrong " + headerCSRF + " header")
	}
	return nil
}

// requireConsultRole lets only advisors and admins through (403 otherwise).
func (s *Server) requireConsultRole(c *gin.Context) {
	if !staffUser(c).Role.CanConsult() {
		s.fail(c, errForbidden("only advisors and admins hold consultations"))
		return
	}
	c.Next()
}

// handleLogin: POST /api/v1/login.
func (s *Server) handleLogin(c *gin.Context) error {
	if !s.cfg.Auth.PasswordLogin {
		return errPasswordLoginOff
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	userKey := strings.ToLower(strings.TrimSpace(req.Username))
	if len(userKey) > records.MaxUsernameLen {
		userKey = userKey[:records.MaxUsernameLen]
	}
	u, err := s.checkPassword(c, userKey, req.Username, req.Password)
	if err != nil {
		return err
	}
	if err := s.startLogin(c, u); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"user": toUserJSON(u)})
	return nil
}

// startLogin logs u in on this browser (after a password or a single
// sign-on): a new login token replaces the one the browser had.
func (s *Server) startLogin(c *gin.Context, u records.User) error {
	ctx := c.Request.Context()
	if err := s.setDevice(c, u.Username); err != nil {
		return err
	}
	if old, err := c.Cookie(cookieStaff); err == nil && old != "" {
		if err := s.rec.DeleteLogin(ctx, old); err != nil {
			return err
		}
	}
	token, err := s.rec.CreateLogin(ctx, u.ID, s.cfg.Auth.SessionTTL)
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, s.staffCookie(c.Request, cookieStaff, token, true, 0))
	http.SetCookie(c.Writer, s.staffCookie(c.Request, cookieCSRF, csrfFor(token), false, 0))
	return nil
}

// handleLogout: POST /api/v1/logout. A live login needs the CSRF header;
// stale cookies are simply cleared.
func (s *Server) handleLogout(c *gin.Context) error {
	_, token, ok, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if ok {
		if err := s.verifyCSRF(c, token); err != nil {
			return err
		}
		if err := s.rec.DeleteLogin(c.Request.Context(), token); err != nil {
			return err
		}
	}
	s.clearStaffCookies(c)
	c.Status(http.StatusNoContent)
	return nil
}

// handleMe: GET /api/v1/me.
func (s *Server) handleMe(c *gin.Context) error {
	c.JSON(http.StatusOK, toUserJSON(staffUser(c)))
	return nil
}

// handleAvailability: PUT /api/v1/me/availability.
func (s *Server) handleAvailability(c *gin.Context) error {
	var req struct {
		Available *bool `json:"available"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if req.Available == nil {
		return errBadRequest(`field "available" (true or false) is required`)
	}
	ctx := c.Request.Context()
	u, err := s.rec.SetAvailable(ctx, staffUser(c).ID, *req.Available)
	if err != nil {
		return err
	}
	// The records are the source of truth; the hub's presence follows and
	// catches up by itself when its store was unreachable.
	if err := s.hub.SetAvailable(ctx, u.ID, u.DisplayName, u.Available); err != nil {
		s.log.WarnContext(ctx, "presence not stored", "user", u.ID, "err", err)
	}
	// Customers waiting in this advisor's live consultations (on this
	// node) are told whether the advisor is away.
	if list, err := s.rec.ListConsultations(ctx, u.ID); err == nil {
		for _, con := range list {
			if con.AdvisorID == u.ID && con.State == records.StateOpen {
				if !s.hub.SetAdvisorAway(signaling.ConsultationID(con.ID), !u.Available) && s.awayElsewhere != nil {
					s.awayElsewhere(ctx, con.ID, !u.Available) // its room is on another node
				}
			}
		}
	} else {
		s.log.WarnContext(ctx, "consultations not told of the availability", "user", u.ID, "err", err)
	}
	c.JSON(http.StatusOK, toUserJSON(u))
	return nil
}

// checkPassword authenticates a login attempt under the login throttles
// (API.md, "Login throttling"): refused attempts are answered before any
// password is hashed; admitted ones wait for a hashing slot.
func (s *Server) checkPassword(c *gin.Context, userKey, username, password string) (records.User, error) {
	type held struct {
		t   LoginThrottle
		key string
		// resets: a successful login clears the key. Not a network's: an
		// insider could otherwise clear their network's backoff with their
		// own password between guesses at others'.
		resets bool
		a      throttle.Attempt
	}
	var keys []held
	dev, known := s.requestDevice(c, userKey)
	if known {
		keys = []held{{t: s.devThrottle, key: "dev:" + dev.id, resets: true}}
	} else {
		keys = []held{{t: s.netThrottle, key: "net:" + s.anonClient(c.Request)}, {t: s.userThrottle, key: "user:" + userKey, resets: true}}
	}
	ctx := c.Request.Context()
	// end closes the attempts begun; the shared throttle's errors are
	// logged (the next Begin fails closed if it stays away).
	end := func(hs []held, outcome throttle.Outcome) {
		for _, h := range hs {
			o := outcome
			if o == throttle.Succeeded && !h.resets {
				o = throttle.Aborted
			}
			if err := h.t.End(context.WithoutCancel(ctx), h.a, o); err != nil {
				s.log.WarnContext(ctx, "login attempt not counted", "err", err)
			}
		}
	}
	for i := range keys {
		a, err := keys[i].t.Begin(ctx, keys[i].key)
		if err != nil || !a.OK {
			end(keys[:i], throttle.Aborted)
			if err != nil {
				// Fail closed: no attempt passes unthrottled.
				s.log.WarnContext(ctx, "login refused: throttle unavailable", "err", err)
				c.Header("Retry-After", "5")
				return records.User{}, errLoginUnavailable
			}
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(a.Wait.Seconds()))))
			return records.User{}, errRateLimited
		}
		keys[i].a = a
	}
	outcome := throttle.Aborted
	defer func() { end(keys, outcome) }()

	wait, cancel := context.WithTimeout(c.Request.Context(), s.cfg.Auth.PasswordHashWait)
	err := s.hashes.acquire(wait, known)
	cancel()
	if err != nil {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(s.cfg.Auth.PasswordHashWait.Seconds()))))
		return records.User{}, errLoginBusy
	}
	u, err := s.rec.Authenticate(c.Request.Context(), username, password)
	if s.hashes.release() {
		s.freeMem.maybe(time.Now())
	}
	switch {
	case err == nil:
		outcome = throttle.Succeeded
	case errors.Is(err, records.ErrBadCredentials):
		outcome = throttle.Failed
	}
	return u, err
}
