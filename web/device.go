package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Device cookies (OWASP "device cookies"): after a successful login the
// browser gets parley_device, an HMAC-signed statement "this browser logged
// in as <user> before". A login for that user presenting it is exempt from
// the per-account and per-network backoff and is held only by the backoff
// of its own device; it also queues ahead for a password-hashing slot. So
// nobody can lock a member of staff out with wrong passwords from
// elsewhere. The cookie proves nothing else: the password is still needed.
const (
	cookieDevice   = "parley_device"
	deviceLifetime = 90 * 24 * time.Hour
	deviceKeyName  = "device cookie"
)

// device is a verified device cookie.
type device struct {
	id       string // random, names the device's own throttle
	username string
}

// deviceKeys loads the installation's device-cookie key once it is first
// needed (the records hold it; a failed load is retried next time).
type deviceKeys struct {
	mu  sync.Mutex
	key []byte
}

func (s *Server) deviceKey(c *gin.Context) ([]byte, error) {
	s.devKeys.mu.Lock()
	defer s.devKeys.mu.Unlock()
	if s.devKeys.key == nil {
		k, err := s.rec.DerivedKey(c.Request.Context(), deviceKeyName)
		if err != nil {
			return nil, err
		}
		s.devKeys.key = k
	}
	return s.devKeys.key, nil
}

func deviceMAC(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("parley device v1\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requestDevice returns the request's device cookie if it is valid, not
// expired and issued to username (normalised).
func (s *Server) requestDevice(c *gin.Context, username string) (device, bool) {
	v, err := c.Cookie(cookieDevice)
	if err != nil || v == "" || len(v) > 512 {
		return device{}, false
	}
	// v1.<id>.<expires unix>.<username>.<mac>; user names contain no dots
	// that matter: the MAC is the last field, the id and expiry the first.
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return device{}, false
	}
	payload, mac := v[:i], v[i+1:]
	parts := strings.SplitN(payload, ".", 4)
	if len(parts) != 4 || parts[0] != "v1" || parts[3] != username {
		return device{}, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || s.now().Unix() >= exp {
		return device{}, false
	}
	key, err := s.deviceKey(c)
	if err != nil {
		return device{}, false // no key: treat like no cookie
	}
	if !hmac.Equal([]byte(mac), []byte(deviceMAC(key, payload))) {
		return device{}, false
	}
	return device{id: parts[1], username: username}, true
}

// setDevice gives the browser a fresh device cookie for username.
func (s *Server) setDevice(c *gin.Context, username string) error {
	key, err := s.deviceKey(c)
	if err != nil {
		return err
	}
	id := make([]byte, 12)
	rand.Read(id)
	payload := "v1." + base64.RawURLEncoding.EncodeToString(id) + "." +
		strconv.FormatInt(s.now().Add(deviceLifetime).Unix(), 10) + "." + username
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieDevice, Value: payload + "." + deviceMAC(key, payload),
		Path: "/api/v1/login", MaxAge: int(deviceLifetime.Seconds()),
		HttpOnly: true, Secure: s.secureCookies(c.Request), SameSite: http.SameSiteStrictMode,
	})
	return nil
}
