package transfer

import (
	"context"
	"iter"
)

// aheadBatch is how many items ahead hands over at a time, so that the
// two goroutines meet once per batch rather than once per item.
const aheadBatch = 256

// ahead runs seq on a goroutine of its own, at most a few batches ahead of
// the caller, and hands its items to consume in order on the caller's
// goroutine. An import decodes and checks records on one processor while
// the writer stores those before them on another. ahead returns the first
// error of consume, or ctx's error, looked at between batches; seq stops
// at its next item after that. seq must not share unguarded state with
// consume.
func ahead[T any](ctx context.Context, seq iter.Seq[T], consume func(T) error) error {
	batches := make(chan []T, 4)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(batches)
		batch := make([]T, 0, aheadBatch)
		send := func() bool {
			select {
			case batches <- batch:
				batch = make([]T, 0, aheadBatch)
				return true
			case <-stop:
				return false
			}
		}
		for v := range seq {
			if batch = append(batch, v); len(batch) == aheadBatch && !send() {
				return
			}
		}
		if len(batch) > 0 {
			send()
		}
	}()
	for batch := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, v := range batch {
			if err := consume(v); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}
