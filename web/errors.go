package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/relay"
	"github.com/parley-video/parley/signaling"
)

// apiError is an error with its HTTP rendering (API.md error codes).
type apiError struct {
	status  int
	code    string
	message string // English, for developers; no personal data
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errBadRequest(msg string) error { return &apiError{http.StatusBadRequest, "bad_request", msg} }
func errUnauthorized(msg string) error {
	return &apiError{http.StatusUnauthorized, "unauthorized", msg}
}
func errForbidden(msg string) error { return &apiError{http.StatusForbidden, "forbidden", msg} }
func errCSRF(msg string) error      { return &apiError{http.StatusForbidden, "csrf", msg} }

var (
	errNotLoggedIn = errUnauthorized("login required")
	// errPasswordLoginOff: auth.password_login is false.
	errPasswordLoginOff = &apiError{http.StatusForbidden, "password_login_disabled", "password login is turned off; sign in through the company's identity provider"}
	errRateLimited      = &apiError{http.StatusTooManyRequests, "rate_limited", "too many failed login attempts; try again after Retry-After seconds"}
	errLoginBusy        = &apiError{http.StatusServiceUnavailable, "unavailable", "too many logins at once; try again after Retry-After seconds"}
	// errLoginUnavailable: the throttle shared by the nodes (Redis) did
	// not answer; logins fail closed rather than pass unthrottled.
	errLoginUnavailable = &apiError{http.StatusServiceUnavailable, "unavailable", "login is temporarily unavailable; try again after Retry-After seconds"}
	errNoRoute          = &apiError{http.StatusNotFound, "not_found", "no such endpoint"}
	errMethod           = &apiError{http.StatusMethodNotAllowed, "bad_request", "method not allowed"}
	errBodyTooBig       = &apiError{http.StatusRequestEntityTooLarge, "bad_request", "request body too large (at most 64 KiB)"}
	errNoFile           = &apiError{http.StatusNotFound, "not_found", "no such file"}
	errFileExists       = &apiError{http.StatusConflict, "conflict", "a file with this id exists"}
)

// problem is how an error is shown.
type problem struct {
	status        int
	code, message string
	reason        string // optional machine-readable detail (implausible signatures)
	retryAfter    int    // seconds; set: a Retry-After header
}

// classify maps every error the handlers return to status, code and
// message. This is the only place that does so.
func classify(err error) problem {
	var ae *apiError
	var ve *records.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return problem{status: ae.status, code: ae.code, message: ae.message}
	case errors.As(err, &ve):
		return problem{status: http.StatusBadRequest, code: "bad_request", message: ve.Error()}
	case errors.As(err, &mbe):
		return problem{status: errBodyTooBig.status, code: errBodyTooBig.code, message: errBodyTooBig.message}
	}
	if p, ok := classifySigning(err); ok {
		return p
	}
	switch {
	case storageFull(err):
		return problem{status: http.StatusInsufficientStorage, code: "insufficient_storage",
			message: "the server's storage is full; nothing was saved, please try again later"}
	case errors.Is(err, records.ErrBadCredentials):
		return problem{status: http.StatusUnauthorized, code: "unauthorized", message: "wrong username or password"}
	case errors.Is(err, records.ErrNotFound), errors.Is(err, signaling.ErrNoConsultation):
		return problem{status: http.StatusNotFound, code: "not_found", message: "not found"}
	case errors.Is(err, records.ErrExpired):
		return problem{status: http.StatusGone, code: "expired", message: "the link has expired"}
	case errors.Is(err, records.ErrEnded), errors.Is(err, signaling.ErrEnded), errors.Is(err, consultation.ErrEnded):
		return problem{status: http.StatusGone, code: "ended", message: "the consultation has ended"}
	case errors.Is(err, records.ErrTooMany):
		return problem{status: http.StatusConflict, code: "too_many", message: "you hold the most open consultations allowed; end one first"}
	case errors.Is(err, records.ErrConflict):
		return problem{status: http.StatusConflict, code: "conflict", message: "already exists"}
	case errors.Is(err, signaling.ErrFull):
		return problem{status: http.StatusConflict, code: "conflict", message: "the consultation is full"}
	case errors.Is(err, signaling.ErrNoSession):
		return problem{status: http.StatusUnauthorized, code: "unauthorized", message: "no valid session"}
	case errors.Is(err, signaling.ErrForbidden):
		return problem{status: http.StatusForbidden, code: "forbidden", message: "forbidden"}
	case errors.Is(err, blobs.ErrNotFound):
		return problem{status: errNoFile.status, code: errNoFile.code, message: errNoFile.message}
	case errors.Is(err, blobs.ErrExists):
		return problem{status: errFileExists.status, code: errFileExists.code, message: errFileExists.message}
	case errors.Is(err, blobs.ErrBadID):
		return problem{status: http.StatusBadRequest, code: "bad_request", message: "malformed id"}
	case errors.Is(err, signaling.ErrNodeFull):
		return problem{status: http.StatusServiceUnavailable, code: "busy", retryAfter: 60,
			message: "this server is at capacity, so no new call can start right now; please try again in a minute"}
	case errors.Is(err, relay.ErrUnavailable):
		return problem{status: http.StatusServiceUnavailable, code: "unavailable", retryAfter: 2,
			message: "the node holding this consultation cannot be reached right now; please try again in a moment"}
	case errors.Is(err, signaling.ErrUnavailable), records.IsUnavailable(err):
		return problem{status: http.StatusServiceUnavailable, code: "unavailable", message: "temporarily unavailable, please try again in a moment"}
	}
	return problem{status: http.StatusInternalServerError, code: "internal", message: "internal server error"}
}

// storageFull reports whether err is a write that failed because the disk
// or the quota is full (files, documents, the records database).
func storageFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || records.IsStorageFull(err)
}

// fail renders err as a JSON error body and aborts the chain. Server
// errors are logged here (and only here).
func (s *Server) fail(c *gin.Context, err error) {
	p := s.report(c, err)
	if c.Writer.Written() {
		c.Abort()
		return
	}
	if p.retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(p.retryAfter))
	}
	body := gin.H{"code": p.code, "message": p.message}
	if p.reason != "" {
		body["reason"] = p.reason
	}
	c.AbortWithStatusJSON(p.status, gin.H{"error": body})
}

// failAny renders err as JSON under /api/ and /ws/, as a page elsewhere.
func (s *Server) failAny(c *gin.Context, err error) {
	p := c.Request.URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/ws/") {
		s.fail(c, err)
		return
	}
	s.failPage(c, err)
}

// report classifies err and logs it when it is the server's fault.
func (s *Server) report(c *gin.Context, err error) problem {
	p := classify(err)
	if p.status >= 500 {
		s.log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", routeOf(c), "err", err)
	}
	return p
}
