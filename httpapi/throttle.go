package httpapi

import (
	"math"
	"sync"
	"time"
)

// Limits of failed sign-ins. Past them, attempts are refused without
// checking the password until the oldest failures age out of the window,
// which makes guessing passwords hopeless without locking anyone out for
// long.
const (
	signInWindow        = 5 * time.Minute
	maxFailuresUser     = 10
	maxFailuresAddress  = 50
	maxThrottledSubject = 10000
)

// signInThrottle counts recent failed sign-ins per username and per client
// address. Each subject keeps at most its limit of failure times and the
// number of subjects is bounded, so memory stays small under any attack.
type signInThrottle struct {
	now func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time // oldest first
}

func newSignInThrottle(now func() time.Time) *signInThrottle {
	return &signInThrottle{now: now, failures: map[string][]time.Time{}}
}

// subject is a counted party with its limit.
type subject struct {
	key   string
	limit int
}

// subjects lists who a sign-in as username from address counts against; an
// empty username (a token) counts against the address only.
func subjects(username, address string) []subject {
	out := []subject{{"address\x00" + address, maxFailuresAddress}}
	if username != "" {
		out = append(out, subject{"user\x00" + username, maxFailuresUser})
	}
	return out
}

// wait returns 0 when a sign-in may be tried, and otherwise the number of
// seconds until it may.
func (t *signInThrottle) wait(username, address string) int {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var longest time.Duration
	for _, s := range subjects(username, address) {
		times := t.recent(s.key, now)
		if len(times) >= s.limit {
			// The attempt is possible again once enough failures age out
			// to leave fewer than the limit.
			if d := times[len(times)-s.limit].Add(signInWindow).Sub(now); d > longest {
				longest = d
			}
		}
	}
	if longest <= 0 {
		return 0
	}
	return int(math.Ceil(longest.Seconds()))
}

// fail records a failed sign-in.
func (t *signInThrottle) fail(username, address string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range subjects(username, address) {
		times := t.recent(s.key, now)
		if times == nil && len(t.failures) >= maxThrottledSubject {
			t.evict(now)
		}
		times = append(times, now)
		if len(times) > s.limit {
			times = times[len(times)-s.limit:]
		}
		t.failures[s.key] = times
	}
}

// succeed forgets the failures of a user who just signed in.
func (t *signInThrottle) succeed(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, "user\x00"+username)
}

// recent returns the failures of key within the window, dropping the rest.
func (t *signInThrottle) recent(key string, now time.Time) []time.Time {
	times := t.failures[key]
	i := 0
	for i < len(times) && !now.Before(times[i].Add(signInWindow)) {
		i++
	}
	if i == len(times) {
		delete(t.failures, key)
		return nil
	}
	times = times[i:]
	t.failures[key] = times
	return times
}

// evict makes room for a new subject: subjects whose failures all expired
// go first, then arbitrary ones.
func (t *signInThrottle) evict(now time.Time) {
	for key := range t.failures {
		t.recent(key, now)
	}
	for key := range t.failures {
		if len(t.failures) < maxThrottledSubject {
			break
		}
		delete(t.failures, key)
	}
}
