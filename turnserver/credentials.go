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
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10)
	if participant != "" {
		username += restSeparator + participant
	}
	return username, restPassword(secret, username)
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

// safeParticipant makes a participant id usable in a username: no
// separator-free guarantee is needed (the expiry ends at the first one), but
// control characters and oversize ids are not sent to browsers or servers.
func safeParticipant(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			r = '_'
		}
		b.WriteRune(r)
		if b.Len() >= 128 {
			break
		}
	}
	return b.String()
}
