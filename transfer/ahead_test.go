package transfer

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAhead(t *testing.T) {
	// count yields 0..n-1 and closes done when it returns.
	count := func(n int, done chan struct{}) func(func(int) bool) {
		return func(yield func(int) bool) {
			defer close(done)
			for i := range n {
				if !yield(i) {
					return
				}
			}
		}
	}
	waitDone := func(t *testing.T, done chan struct{}) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the producing goroutine did not stop")
		}
	}

	t.Run("InOrder", func(t *testing.T) {
		done := make(chan struct{})
		var got []int
		err := ahead(t.Context(), count(3*aheadBatch+7, done), func(i int) error {
			got = append(got, i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("item %d is %d", i, v)
			}
		}
		if len(got) != 3*aheadBatch+7 {
			t.Errorf("consumed %d items, want %d", len(got), 3*aheadBatch+7)
		}
		waitDone(t, done)
	})

	t.Run("StopsAtAnError", func(t *testing.T) {
		done := make(chan struct{})
		bad := errors.New("bad item")
		last := -1
		err := ahead(t.Context(), count(1_000_000, done), func(i int) error {
			last = i
			if i == 300 {
				return bad
			}
			return nil
		})
		if err != bad || last != 300 {
			t.Errorf("ahead = %v after item %d, want the error of item 300", err, last)
		}
		waitDone(t, done)
	})

	t.Run("StopsWhenCancelled", func(t *testing.T) {
		done := make(chan struct{})
		ctx, cancel := context.WithCancel(t.Context())
		err := ahead(ctx, count(1_000_000, done), func(i int) error {
			if i == 10 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ahead = %v, want context.Canceled", err)
		}
		waitDone(t, done)
	})
}
