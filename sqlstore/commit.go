package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// Group commit. A durable commit waits for the disk (an fsync of the WAL),
// and writes are serialised on one connection: committing each request's
// write on its own caps writes at one per fsync. Instead, writes go to one
// goroutine, which runs every write waiting at that moment in a single
// transaction, each inside its own savepoint, and commits them together.
// A write that fails is rolled back to its savepoint and reports its own
// error; the others still commit. Nobody hears of success before the
// commit that holds their write is durable.

// maxGroup bounds how many writes share one commit, so that the first of
// them does not wait for an unbounded queue.
const maxGroup = 64

// errClosed is what a write gets once the store is closed.
var errClosed = errors.New("the registry is closed")

// writeJob is one write waiting for its turn.
type writeJob struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error // receives the outcome once, after the commit
}

// write runs fn in a write transaction shared with other writes, and
// returns once that transaction is committed (nil) or fn's changes are
// undone (fn's error, or the commit's). fn must leave the transaction
// open: no Commit or Rollback. Once queued a write is not abandoned when
// ctx ends: it may already be committed, and the caller must hear so.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A cancelled statement can roll back the whole transaction in
	// SQLite, taking other writes with it: the job keeps ctx's values but
	// not its end.
	j := &writeJob{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1)}
	// queued counts the write until commitLoop takes it off jobs.
	s.queued.Add(1)
	select {
	case s.jobs <- j:
	case <-ctx.Done():
		s.queued.Add(-1)
		return ctx.Err()
	case <-s.closing:
		s.queued.Add(-1)
		return errClosed
	}
	select {
	case err := <-j.done:
		return err
	case <-s.committed:
		// The loop has ended, having run this write or not.
		select {
		case err := <-j.done:
			return err
		default:
			return errClosed
		}
	}
}

// commitLoop runs the writes of s in groups until s closes.
func (s *Store) commitLoop() {
	defer close(s.committed)
	writesReady := false
	for {
		var group []*writeJob
		select {
		case j := <-s.jobs:
			group = append(group, j)
		case <-s.closing:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case j := <-s.jobs:
				group = append(group, j)
			default:
				break more
			}
		}
		if !writesReady {
			// Prepared while no transaction holds the connection; a
			// database not yet migrated is tried again next time.
			writesReady = s.writes.prepareAll(context.Background(), writerQueries())
		}
		s.queued.Add(-int64(len(group)))
		s.commitGroup(group)
		if f := s.onCommit.Load(); f != nil {
			(*f)(len(group))
		}
	}
}

// commitGroup runs group in one transaction and tells each write how it
// ended.
func (s *Store) commitGroup(group []*writeJob) {
	s.groups.Add(1)
	errs := make([]error, len(group))
	finish := func(groupErr error) {
		for i, j := range group {
			j.done <- outcome(errs[i], groupErr)
		}
	}
	tx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		finish(err)
		return
	}
	defer tx.Rollback()
	if len(group) == 1 {
		// Alone, a write needs no savepoint: its failure ends the
		// transaction.
		if errs[0] = group[0].fn(group[0].ctx, tx); errs[0] == nil {
			errs[0] = tx.Commit()
		}
		finish(nil)
		return
	}
	for i, j := range group {
		if _, err := tx.ExecContext(context.Background(), `SAVEPOINT write`); err != nil {
			finish(err)
			return
		}
		errs[i] = j.fn(j.ctx, tx)
		if errs[i] != nil {
			if _, err := tx.ExecContext(context.Background(), `ROLLBACK TO write`); err != nil {
				finish(err)
				return
			}
		}
		if _, err := tx.ExecContext(context.Background(), `RELEASE write`); err != nil {
			finish(err)
			return
		}
	}
	finish(tx.Commit())
}

// QueuedWrites implements registry.WriteQueue.
func (s *Store) QueuedWrites() int { return int(max(s.queued.Load(), 0)) }

// ObserveGroupCommits implements registry.WriteQueue.
func (s *Store) ObserveGroupCommits(f func(writes int)) {
	if f == nil {
		s.onCommit.Store(nil)
		return
	}
	s.onCommit.Store(&f)
}

// outcome returns own when the write failed by itself, else the group's
// outcome. A write that failed was rolled back to its savepoint, so the
// group's commit does not make it succeed.
func outcome(own, group error) error {
	if own != nil {
		return own
	}
	return group
}
