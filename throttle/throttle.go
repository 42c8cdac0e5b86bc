// Package throttle is Parley's failed-login rule: per key (an anonymised
// client network, a user name, a device cookie) a budget of failures that
// drains over time, then an exponential backoff. The rule has two homes
// with the same arithmetic: Memory (one node, the embedded default) and
// Redis (cluster mode: every node shares one count per key, computed
// atomically by a Lua script on the Redis server's clock).
//
// Below the budget, failures drain at budget per minute, so an occasional
// typo never matters. Once a failure uses up the budget, the key is in
// backoff: each further attempt must wait 1 s, 2 s, 4 s … up to max after
// the previous failure, and the backoff ends only after quiet (no failure
// for Quiet) or a successful login on the key. Attempts are checked before
// any password is hashed, so refused attempts cost nothing; attempts in
// flight count, so a burst of parallel requests cannot overshoot the
// budget.
package throttle

import (
	"errors"
	"time"
)

// Quiet ends a backoff: a key without failures for this long starts over.
const Quiet = 15 * time.Minute

// Outcome is how an admitted attempt ended.
type Outcome int

const (
	// Aborted: the attempt never reached the password.
	Aborted Outcome = iota
	// Failed: a wrong name or password.
	Failed
	// Succeeded: resets the key.
	Succeeded
)

// Attempt is the answer to Begin.
type Attempt struct {
	Key string
	// OK: admitted; end it with End.
	OK bool
	// Wait is how long to wait before the next attempt when refused.
	Wait time.Duration
	// token names an admitted attempt among those in flight (Redis).
	token string
}

// ErrUnavailable: the shared state (Redis) did not answer; the attempt
// must be refused (fail closed), never let through unthrottled.
var ErrUnavailable = errors.New("throttle: the shared login throttle is unavailable")

func max1(n int) int { return max(n, 1) }
