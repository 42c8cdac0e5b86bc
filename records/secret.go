package records

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters for new hashes (OWASP: m=64 MiB, t=3, p=2 is well
// above the minimum). Verification reads the parameters from the hash.
const (
	argonMemory  = 64 * 1024 // KiB
	argonTime    = 3
	argonThreads = 2
	argonSaltLen = 16
	argonKeyLen  = 32
)

// newToken returns a random 256-bit token, base64url without padding.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what the database stores instead of a token.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newConsultationID returns "c_" and 120 random bits in lower-case base32.
func newConsultationID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "c_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// passwordAlphabet leaves out look-alikes (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newPassword returns n characters from passwordAlphabet, uniformly.
func newPassword(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, 1)
	limit := 256 - 256%len(passwordAlphabet) // rejection sampling: no bias
	for len(out) < n {
		rand.Read(buf)
		if int(buf[0]) >= limit {
			continue
		}
		out = append(out, passwordAlphabet[int(buf[0])%len(passwordAlphabet)])
	}
	return string(out)
}

// hashPassword returns an argon2id hash in PHC string format:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded standard base64).
func hashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var errBadHash = errors.New("records: malformed password hash")

// verifyPassword reports whether password matches the PHC-format argon2id
// hash, comparing in constant time.
func verifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errBadHash
	}
	// Bounds keep a corrupted row from exhausting memory or CPU.
	if m < 8*uint32(p) || m > 1<<22 || t < 1 || t > 64 || p < 1 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DerivedKey returns a 32-byte key for purpose (e.g. "device cookie"),
// derived from the installation's secret in the settings table with HMAC,
// so every purpose has its own key and all nodes sharing the records agree
// on it.
func (s *Store) DerivedKey(ctx context.Context, purpose string) ([]byte, error) {
	root, err := s.subjectKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("records: derive %s key: %w", purpose, err)
	}
	m := hmac.New(sha256.New, root)
	m.Write([]byte("parley derived key v1\x00" + purpose))
	return m.Sum(nil), nil
}
