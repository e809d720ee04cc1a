package httpapi

import (
	"fmt"
	"testing"
	"time"

	"nbreg/registry"
)

func TestCredentialCacheEntries(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newCredentialCache(clock.now)
	// A hash that no password matches: a true answer can only come from
	// the cache.
	user := &registry.User{Username: "u", PasswordHash: "bogus"}
	c.entries[c.entryKey(user, "pw")] = clock.t.Add(credentialTTL)

	t.Run("HitSkipsTheHash", func(t *testing.T) {
		if !c.check(user, "pw") {
			t.Error("cached credentials refused")
		}
	})
	t.Run("OtherPasswordMisses", func(t *testing.T) {
		if c.check(user, "pw2") {
			t.Error("uncached wrong password accepted")
		}
	})
	t.Run("NewHashMisses", func(t *testing.T) {
		changed := &registry.User{Username: "u", PasswordHash: "bogus2"}
		if c.check(changed, "pw") {
			t.Error("entry of the old hash used for the new one")
		}
	})
	t.Run("Expires", func(t *testing.T) {
		clock.t = clock.t.Add(credentialTTL)
		if c.check(user, "pw") {
			t.Error("expired entry used")
		}
	})
	t.Run("VerifiedPasswordIsCached", func(t *testing.T) {
		real := &registry.User{Username: "v", PasswordHash: registry.DjangoPBKDF2("secret", "salt", 10)}
		if !c.check(real, "secret") {
			t.Fatal("right password refused")
		}
		if _, ok := c.entries[c.entryKey(real, "secret")]; !ok {
			t.Error("verified credentials not cached")
		}
		if _, ok := c.entries[c.entryKey(real, "wrong")]; ok || c.check(real, "wrong") {
			t.Error("wrong password accepted or cached")
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		for i := 0; i < maxCachedCredentials+10; i++ {
			u := &registry.User{Username: fmt.Sprint("user", i), PasswordHash: registry.DjangoPBKDF2("pw", "s", 1)}
			c.check(u, "pw")
		}
		if n := len(c.entries); n > maxCachedCredentials {
			t.Errorf("%d entries, more than %d", n, maxCachedCredentials)
		}
	})
}
