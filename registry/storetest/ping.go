package storetest

import (
	"context"
	"testing"
	"time"

	"nbreg/registry"
)

// testPing checks the readiness probe's question: a store that is open
// answers at once, and one that cannot answer says so instead of hanging.
func testPing(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("OpenStoreAnswers", func(t *testing.T) {
		f := setup(t, open)
		ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
		defer cancel()
		if err := f.s.Ping(ctx); err != nil {
			t.Errorf("Ping of an open store: %v", err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		f := setup(t, open)
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		if err := f.s.Ping(ctx); err == nil {
			t.Error("Ping with a cancelled context succeeded")
		}
	})
	t.Run("DeadlinePassed", func(t *testing.T) {
		f := setup(t, open)
		ctx, cancel := context.WithDeadline(f.ctx, time.Now().Add(-time.Second))
		defer cancel()
		if err := f.s.Ping(ctx); err == nil {
			t.Error("Ping past its deadline succeeded")
		}
	})
}
