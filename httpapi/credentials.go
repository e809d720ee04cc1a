package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"nbreg/registry"
)

// Bounds of the credential cache.
const (
	credentialTTL        = 5 * time.Minute
	maxCachedCredentials = 4096
)

// credentialCache remembers password checks that succeeded, so that a
// script depositing thousands of files with Basic auth pays for the slow
// hash once every few minutes instead of once per request.
//
// An entry is keyed by an HMAC, under a key that lives only in this
// process, of the username, the password and the stored hash: the cache
// holds no password, a lost copy of it proves nothing, and a password
// change (a new stored hash) leaves old entries unreachable. The user's
// role is never cached: the caller reads the user afresh on each request.
//
// A slow hash check takes tens of megabytes (argon2id's memory cost), so
// checks are bounded: the same credentials arriving together (sixteen
// clients of one script, when their entry expires) share one check, and
// at most maxSlowChecks run at once.
type credentialCache struct {
	key    []byte
	now    func() time.Time
	verify func(hash, password string) bool // registry.CheckPassword
	slow   chan struct{}                    // a token per slow check running

	mu       sync.Mutex
	entries  map[[sha256.Size]byte]time.Time // expiry
	inFlight map[[sha256.Size]byte]*verification

	// For the metrics: slow checks run (decoys included), and passwords
	// accepted without a check of their own (a cached entry, or a check
	// another request was running).
	checks, hits atomic.Uint64
}

// verification is one slow check that others may wait for.
type verification struct {
	done chan struct{} // closed once ok is set
	ok   bool
}

// maxSlowChecks is how many slow hash checks may run at once: enough to
// keep the processors busy, few enough to bound their memory.
var maxSlowChecks = max(2, runtime.GOMAXPROCS(0))

func newCredentialCache(now func() time.Time) *credentialCache {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("httpapi: crypto/rand failed: " + err.Error())
	}
	return &credentialCache{key: key, now: now, verify: registry.CheckPassword,
		slow:    make(chan struct{}, maxSlowChecks),
		entries: map[[sha256.Size]byte]time.Time{}, inFlight: map[[sha256.Size]byte]*verification{}}
}

// slowCheck checks password against hash, waiting for its turn among the
// slow checks.
func (c *credentialCache) slowCheck(hash, password string) bool {
	c.slow <- struct{}{}
	defer func() { <-c.slow }()
	c.checks.Add(1)
	return c.verify(hash, password)
}

// entryKey is the HMAC naming the credentials of user with password.
func (c *credentialCache) entryKey(user *registry.User, password string) [sha256.Size]byte {
	mac := hmac.New(sha256.New, c.key)
	// Lengths first, so that no two different triples write the same bytes.
	for _, part := range []string{user.Username, password, user.PasswordHash} {
		mac.Write(binary.BigEndian.AppendUint64(nil, uint64(len(part))))
		mac.Write([]byte(part))
	}
	var k [sha256.Size]byte
	copy(k[:], mac.Sum(nil))
	return k
}

// check reports whether password is user's, from the cache when it was
// verified recently and by the stored hash otherwise.
func (c *credentialCache) check(user *registry.User, password string) bool {
	k := c.entryKey(user, password)
	now := c.now()
	c.mu.Lock()
	// A map lookup by the full 32-byte key is as good as a constant-time
	// comparison: a miss reveals nothing about the bytes of any entry.
	if expiry, ok := c.entries[k]; ok && now.Before(expiry) {
		c.mu.Unlock()
		c.hits.Add(1)
		return true
	}
	if v, ok := c.inFlight[k]; ok {
		c.mu.Unlock()
		<-v.done
		c.hits.Add(1)
		return v.ok
	}
	v := &verification{done: make(chan struct{})}
	c.inFlight[k] = v
	c.mu.Unlock()

	v.ok = c.slowCheck(user.PasswordHash, password)
	c.mu.Lock()
	delete(c.inFlight, k)
	if v.ok {
		if len(c.entries) >= maxCachedCredentials {
			c.evict(now)
		}
		c.entries[k] = now.Add(credentialTTL)
	}
	c.mu.Unlock()
	close(v.done)
	return v.ok
}

// evict makes room: expired entries go first, then arbitrary ones, which
// only costs their owners one more slow check.
func (c *credentialCache) evict(now time.Time) {
	for k, expiry := range c.entries {
		if !now.Before(expiry) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < maxCachedCredentials {
			break
		}
		delete(c.entries, k)
	}
}
