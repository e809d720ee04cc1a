package httpapi

import (
	"fmt"
	"sync"
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

// TestCredentialChecksShareAndWait checks that credentials arriving
// together are checked once, and that slow checks of different
// credentials run at most maxSlowChecks at a time: each takes tens of
// megabytes.
func TestCredentialChecksShareAndWait(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newCredentialCache(clock.now)
	var mu sync.Mutex
	calls, running, most := 0, 0, 0
	release := make(chan struct{})
	c.verify = func(hash, password string) bool {
		mu.Lock()
		calls++
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return password == "right"
	}
	waitCalls := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := calls
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d slow checks started, want %d", got, n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	t.Run("SameCredentialsOneCheck", func(t *testing.T) {
		user := &registry.User{Username: "u", PasswordHash: "h"}
		var wg sync.WaitGroup
		results := make([]bool, 16)
		for i := range results {
			wg.Go(func() { results[i] = c.check(user, "right") })
		}
		waitCalls(1)
		time.Sleep(20 * time.Millisecond) // let the others queue behind it
		close(release)
		wg.Wait()
		for i, ok := range results {
			if !ok {
				t.Errorf("check %d refused the right password", i)
			}
		}
		if calls != 1 {
			t.Errorf("%d slow checks for 16 identical requests, want 1", calls)
		}
	})

	t.Run("AtMostMaxSlowChecks", func(t *testing.T) {
		mu.Lock()
		calls, most = 0, 0
		mu.Unlock()
		release = make(chan struct{})
		var wg sync.WaitGroup
		n := maxSlowChecks + 3
		for i := range n {
			user := &registry.User{Username: fmt.Sprintf("u%d", i), PasswordHash: "h"}
			wg.Go(func() { c.check(user, "wrong") })
		}
		waitCalls(maxSlowChecks)
		time.Sleep(20 * time.Millisecond) // the others are waiting, not checking
		mu.Lock()
		got := calls
		mu.Unlock()
		if got != maxSlowChecks {
			t.Errorf("%d slow checks running at once, want %d", got, maxSlowChecks)
		}
		close(release)
		wg.Wait()
		if calls != n || most > maxSlowChecks {
			t.Errorf("%d checks, at most %d at once; want %d, at most %d", calls, most, n, maxSlowChecks)
		}
	})
}
