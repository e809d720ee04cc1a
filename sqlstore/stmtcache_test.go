package sqlstore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestCachedQueriesInEveryConnection holds every connection of the
// reader pool in a read transaction and has each run a query the cache
// has not prepared yet. Preparing it on the pool would wait for a free
// connection, which none of them gives back until its query is done: the
// queries must run all the same, and the query is prepared afterwards.
func TestCachedQueriesInEveryConnection(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	const query = `SELECT count(*) FROM datatypes WHERE name <> 'never prepared before'`
	conns := readerConns()
	var began, done sync.WaitGroup
	began.Add(conns)
	errs := make(chan error, conns)
	for range conns {
		done.Add(1)
		go func() {
			defer done.Done()
			tx, err := s.beginRead(ctx)
			if err != nil {
				began.Done()
				errs <- err
				return
			}
			defer tx.Rollback()
			// The transaction holds its connection from its first query.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT 1`).Scan(&n); err != nil {
				errs <- err
			}
			began.Done()
			began.Wait()
			if err := s.reads.inTx(tx).QueryRowContext(ctx, query).Scan(&n); err != nil {
				errs <- fmt.Errorf("query in a transaction: %w", err)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("queries in transactions holding every connection never finished")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Prepared in the background, now that connections are free.
	isCached := func() bool {
		s.reads.mu.Lock()
		defer s.reads.mu.Unlock()
		return s.reads.stmts[query] != nil
	}
	for i := 0; !isCached(); i++ {
		if i == 3000 {
			t.Fatal("the query was never prepared")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
