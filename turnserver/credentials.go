package turnserver

import (
	"crypto/hmac"
	"crypto/sha1" // HMAC-SHA1 is what TURN REST / coturn use-auth-secret mandate
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// restSeparator separates expiry and participant in a TURN REST username
// (coturn's default rest-api-separator).
const restSeparator = ":"

// maxUsernameLen is the longest STUN USERNAME (RFC 8489: < 513 bytes).
const maxUsernameLen = 512

// Credentials mints TURN REST credentials in coturn's use-auth-secret
// scheme: username "<unix time of now+ttl>:<participant>" (only the expiry
// when participant is empty) and password base64(HMAC-SHA1(secret,
// username)). A TURN server with the same secret (coturn:
// static-auth-secret) accepts them until the expiry.
func Credentials(secret, participant string, ttl time.Duration, now time.Time) (username, password string) {
	return sessionCredentials(secret, "", participant, now.Add(ttl))
}

// sessionCredentials mints credentials valid until expiry (rounded down
// to the second) whose username also names a session:
// "<unix expiry>:<session>:<participant>" ("<unix expiry>:<participant>"
// without a session). Still coturn's scheme: coturn only reads the expiry.
func sessionCredentials(secret, session, participant string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10)
	if session != "" {
		username += restSeparator + session
	}
	if participant != "" || session != "" {
		username += restSeparator + participant
	}
	return username, restPassword(secret, username)
}

// sessionOf returns the session a username names ("" for none).
func sessionOf(username string) string {
	_, rest, _ := strings.Cut(username, restSeparator)
	session, _, found := strings.Cut(rest, restSeparator)
	if !found {
		return ""
	}
	return session
}

// restPassword is base64(HMAC-SHA1(secret, username)).
func restPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username)) // hash writes never fail
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Reasons a TURN REST username is refused before its password is checked.
var (
	errUsernameMalformed = errors.New("username is not <unix expiry>:<participant>")
	errUsernameExpired   = errors.New("credentials expired")
	errUsernameTooLong   = errors.New("username too long")
	errSessionOver       = errors.New("the consultation of these credentials is over")
)

// checkUsername parses the expiry before the first separator and checks it
// against now. It never returns or wraps the username itself, so the error
// can be logged.
func checkUsername(username string, now time.Time) error {
	if len(username) > maxUsernameLen {
		return errUsernameTooLong
	}
	expiry, _, _ := strings.Cut(username, restSeparator)
	if expiry == "" || expiry[0] == '+' || expiry[0] == '-' {
		return errUsernameMalformed
	}
	t, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		return errUsernameMalformed
	}
	if t < now.Unix() {
		return errUsernameExpired
	}
	return nil
}

// safeParticipant makes a session or participant id usable in a
// username: no separator (so the fields stay apart), no control
// characters, no oversize ids sent to browsers or servers.
func safeParticipant(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == ':' {
			r = '_'
		}
		b.WriteRune(r)
		if b.Len() >= 128 {
			break
		}
	}
	return b.String()
}
