package httpapi

import (
	"fmt"
	"testing"
	"time"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestSignInThrottleWindow(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := newSignInThrottle(clock.now)
	for i := 0; i < maxFailuresUser; i++ {
		if w := th.wait("alice", "10.0.0.1"); w != 0 {
			t.Fatalf("failure %d: throttled already (%d s)", i, w)
		}
		th.fail("alice", "10.0.0.1")
		clock.t = clock.t.Add(10 * time.Second)
	}
	// The first failure was 100 s ago: it ages out in 200 s.
	if got := th.wait("alice", "10.0.0.2"); got != 200 {
		t.Errorf("wait %d s, want 200", got)
	}
	if got := th.wait("bob", "10.0.0.1"); got != 0 {
		t.Errorf("another user from the same address waits %d s", got)
	}
	clock.t = clock.t.Add(200 * time.Second)
	if got := th.wait("alice", "10.0.0.1"); got != 0 {
		t.Errorf("after the window: wait %d s, want 0", got)
	}
	th.fail("alice", "10.0.0.1")
	if got := th.wait("alice", "10.0.0.1"); got == 0 {
		t.Error("a new failure with 9 recent ones left alice free")
	}
	th.succeed("alice")
	if got := th.wait("alice", "10.0.0.1"); got != 0 {
		t.Errorf("after a sign-in: wait %d s, want 0", got)
	}

	t.Run("Bounded", func(t *testing.T) {
		for i := 0; i < maxThrottledSubject+100; i++ {
			th.fail(fmt.Sprint("user", i), "10.0.0.3")
		}
		if n := len(th.failures); n > maxThrottledSubject {
			t.Errorf("%d subjects, more than %d", n, maxThrottledSubject)
		}
	})
}
