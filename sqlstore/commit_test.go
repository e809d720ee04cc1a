package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"nbreg/registry"
)

// holdWriter runs a write that holds the writer until release is closed,
// so that the writes sent meanwhile queue up and commit as one group. It
// returns once the held write is running.
func holdWriter(t *testing.T, s *Store) (release chan struct{}, done <-chan error) {
	t.Helper()
	release = make(chan struct{})
	running := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			close(running)
			<-release
			return nil
		})
	}()
	<-running
	return release, errc
}

// waitQueued waits until n writes are queued behind the held writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.jobs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(s.jobs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommitKeepsWritesApart(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: "/data"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateResource(ctx, &registry.Resource{Name: "taken", DType: "wav"}, "ann"); err != nil {
		t.Fatal(err)
	}

	// Twenty creates queue behind a held write: three are refused for a
	// reason of their own, and one pair races for the same name.
	release, held := holdWriter(t, s)
	groupsBefore := s.groups.Load()
	const n = 20
	resources := make([]*registry.Resource, n)
	for i := range resources {
		r := &registry.Resource{Name: fmt.Sprintf("r%02d", i), DType: "wav", Locations: []string{"local"},
			Metadata: registry.Metadata{"i": float64(i)}}
		switch {
		case i == 4:
			r.Name = "taken"
		case i == 8:
			r.DType = "nope"
		case i == 12:
			r.Locations = []string{"nowhere"}
		case i == 17:
			r.Name = "r16" // the same name as its neighbour: one of them wins
		}
		resources[i] = r
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, r := range resources {
		wg.Go(func() { errs[i] = s.CreateResource(ctx, r, "ann") })
	}
	// And a write that fails after writing: its change must be undone.
	errHalfway := errors.New("failed halfway")
	var halfway error
	wg.Go(func() {
		halfway = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO datatypes (name) VALUES ('half')`); err != nil {
				return err
			}
			return errHalfway
		})
	})
	waitQueued(t, s, n+1)
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatalf("held write: %v", err)
	}
	if got := s.groups.Load() - groupsBefore; got != 1 {
		t.Errorf("%d writes committed in %d transactions, want 1", n, got)
	}

	for i, err := range errs {
		switch i {
		case 4:
			if registry.ErrorCode(err) != registry.ECONFLICT {
				t.Errorf("create of a taken name: %v, want ECONFLICT", err)
			}
		case 8, 12:
			if registry.ErrorCode(err) != registry.EINVALID {
				t.Errorf("create %d: %v, want EINVALID", i, err)
			}
		case 16, 17:
			// Checked below: exactly one of the two.
		default:
			if err != nil {
				t.Errorf("create %d failed beside refused ones: %v", i, err)
			}
		}
	}
	if !errors.Is(halfway, errHalfway) {
		t.Errorf("write failing halfway: %v, want its own error", halfway)
	}
	if _, err := s.FindDataType(ctx, "half"); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("datatype written by a failed write: %v, want ENOTFOUND", err)
	}
	if (errs[16] == nil) == (errs[17] == nil) {
		t.Errorf("two creates of r16: errors %v and %v, want exactly one to succeed", errs[16], errs[17])
	}

	// What was refused left nothing behind; what succeeded is whole.
	n16 := 0
	for i, r := range resources {
		got, err := s.FindResource(ctx, r.Name)
		switch {
		case errs[i] == nil:
			if err != nil || got.DType != "wav" || len(got.Locations) != 1 || fmt.Sprint(got.Metadata["i"]) != fmt.Sprint(i) {
				t.Errorf("resource %s after its create succeeded: %+v, %v", r.Name, got, err)
			}
			if r.Name == "r16" {
				n16++
			}
			h, err := s.History(ctx, r.Name, registry.HistoryFilter{})
			if err != nil || len(h) != 1 {
				t.Errorf("history of %s = %v, %v; want its create", r.Name, h, err)
			}
		case i == 8 || i == 12:
			if registry.ErrorCode(err) != registry.ENOTFOUND {
				t.Errorf("resource %s after its create was refused: %+v, %v", r.Name, got, err)
			}
		}
	}
	if n16 != 1 {
		t.Errorf("r16 stored by %d creates, want 1", n16)
	}
	if got, err := s.CountResources(ctx, registry.ResourceFilter{}); err != nil || got != 17 {
		t.Errorf("%d resources, %v; want 17 (the one before and 16 of the 20)", got, err)
	}
}

func TestGroupCommitAfterClose(t *testing.T) {
	s, err := Open(t.TempDir() + "/nbreg.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A write held while Close is called finishes and is kept.
	release, held := holdWriter(t, s)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for {
		select {
		case <-s.closing:
		default:
			time.Sleep(time.Millisecond)
			continue
		}
		break
	}
	close(release)
	if err := <-held; err != nil {
		t.Errorf("write under way at Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.CreateDataType(t.Context(), &registry.DataType{Name: "late"}); err == nil {
		t.Errorf("a write after Close succeeded")
	}
}

func TestGroupCommitCancelledWriter(t *testing.T) {
	s := MustOpenStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "never"}); !errors.Is(err, context.Canceled) {
		t.Errorf("write with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.FindDataType(t.Context(), "never"); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("datatype of a cancelled write: %v, want ENOTFOUND", err)
	}
}

// TestGroupCommitReported checks what the store tells the metrics: the
// writes waiting for the writer, and the size of each group committed.
func TestGroupCommitReported(t *testing.T) {
	s := MustOpenStore(t)
	var mu sync.Mutex
	var sizes []int
	s.ObserveGroupCommits(func(n int) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, n)
	})
	release, held := holdWriter(t, s)
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.CreateDataType(t.Context(), &registry.DataType{Name: fmt.Sprintf("d%d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, s, n)
	if got := s.QueuedWrites(); got != n {
		t.Errorf("queued writes behind the held one: %d, want %d", got, n)
	}
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if got := s.QueuedWrites(); got != 0 {
		t.Errorf("queued writes once all are done: %d, want 0", got)
	}
	// The observer runs once the writes have heard of their commit.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := fmt.Sprint(sizes)
		mu.Unlock()
		if got == fmt.Sprint([]int{1, n}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group commits observed: %s, want [1 %d]", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
