package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
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
type credentialCache struct {
	key []byte
	now func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]time.Time // expiry
}

func newCredentialCache(now func() time.Time) *credentialCache {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("httpapi: crypto/rand failed: " + err.Error())
	}
	return &credentialCache{key: key, now: now, entries: map[[sha256.Size]byte]time.Time{}}
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
	expiry, ok := c.entries[k]
	c.mu.Unlock()
	// A map lookup by the full 32-byte key is as good as a constant-time
	// comparison: a miss reveals nothing about the bytes of any entry.
	if ok && now.Before(expiry) {
		return true
	}
	if !registry.CheckPassword(user.PasswordHash, password) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedCredentials {
		c.evict(now)
	}
	c.entries[k] = now.Add(credentialTTL)
	return true
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
