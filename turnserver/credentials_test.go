package turnserver

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v4"
)

// The expected passwords were computed independently with OpenSSL, the way
// coturn's documentation derives use-auth-secret passwords:
//
//	printf %s "$username" | openssl dgst -binary -sha1 -hmac "$secret" | base64
func TestCredentialsMatchCoturnScheme(t *testing.T) {
	cases := []struct {
		secret, participant string
		ttl                 time.Duration
		now                 time.Time
		user, pass          string
	}{
		{testSecret, "p-42", time.Hour, time.Unix(1_800_000_000-3600, 0), "1800000000:p-42", "RX34W8mmYIhXQ4ClBndktNriDiQ="},
		{testSecret, "", time.Hour, time.Unix(1_800_000_000-3600, 0), "1800000000", "E8h3m9I1Obh1JSC2lnRPpN/zLR0="},
		{"north-0123456789abcdef0123456789ab", "customer-7", 12 * time.Hour, time.Unix(1_800_000_000, 0),
			"1800043200:customer-7", "Dr3vvEAfnC9/FBrrIx/iKwZsy+4="},
	}
	for _, tc := range cases {
		user, pass := Credentials(tc.secret, tc.participant, tc.ttl, tc.now)
		if user != tc.user || pass != tc.pass {
			t.Errorf("Credentials(%q, %q, %s) = %q, %q; want %q, %q", tc.secret, tc.participant, tc.ttl, user, pass, tc.user, tc.pass)
		}
	}
}

// pion's TURN REST helper (the same scheme) agrees with Credentials.
func TestCredentialsMatchPion(t *testing.T) {
	user, pass, err := turn.GenerateLongTermTURNRESTCredentials(testSecret, "p-pion", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expiry, participant, ok := strings.Cut(user, ":")
	if !ok || participant != "p-pion" {
		t.Fatalf("pion username %q", user)
	}
	sec, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	ourUser, ourPass := Credentials(testSecret, "p-pion", 0, time.Unix(sec, 0))
	if ourUser != user || ourPass != pass {
		t.Errorf("Credentials = %q, %q; pion made %q, %q", ourUser, ourPass, user, pass)
	}
}

func TestCheckUsername(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		user string
		want error
	}{
		{"1800000000:p", nil},             // expires this second: still valid, like coturn
		{"1800000001:p:with:colons", nil}, // the expiry ends at the first separator
		{"1800000001", nil},
		{"1799999999:p", errUsernameExpired},
		{"alice", errUsernameMalformed},
		{":p", errUsernameMalformed},
		{"+1800000001:p", errUsernameMalformed},
		{"-1:p", errUsernameMalformed},
		{"18000000x1:p", errUsernameMalformed},
		{"99999999999999999999:p", errUsernameMalformed},
		{"1800000001:" + strings.Repeat("x", 600), errUsernameTooLong},
	}
	for _, tc := range cases {
		if err := checkUsername(tc.user, now); !errors.Is(err, tc.want) {
			t.Errorf("checkUsername(%.30q) = %v, want %v", tc.user, err, tc.want)
		}
	}
}
