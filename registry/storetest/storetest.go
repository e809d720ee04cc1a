// Package storetest is the one test suite of registry.Store: every store
// implementation (SQLite today, perhaps PostgreSQL later) runs it from its
// own tests, so that all of them keep the promises documented on the
// interface.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) registry.Store { return MustOpenStore(t) })
//	}
//
// Names sort bytewise ("B-2" before "a_1"), as in the C locale; a store on
// a database with locale-aware collation must compare names with a binary
// collation to pass.
//
// The open function must return a new, empty, ready store (migrated, no
// records) configured as it ships: minted names of
// registry.DefaultNameLength characters. It should close the store when the
// test ends (t.Cleanup), and be safe to call from parallel tests. The store
// must implement Clocked, so that the suite controls creation times and
// checks them exactly.
package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"nbreg/registry"
)

// Clocked is a store whose clock can be replaced. The clock stamps the
// creation times of resources, users and tokens.
type Clocked interface {
	SetClock(now func() time.Time)
}

// Run runs the whole suite, each behaviour in its own subtest on its own
// store from open. The groups of subtests run in parallel, so open must be
// safe to call concurrently.
func Run(t *testing.T, open func(t *testing.T) registry.Store) {
	groups := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) registry.Store)
	}{
		{"DataTypes", testDataTypes},
		{"Archives", testArchives},
		{"Resources", testResources},
		{"CreateResources", testCreateResources},
		{"UpdateResource", testUpdateResource},
		{"ResourceFilters", testResourceFilters},
		{"MetadataFilters", testMetadataFilters},
		{"MetadataIndex", testMetadataIndex},
		{"LongMetadata", testLongMetadata},
		{"Locations", testLocations},
		{"Users", testUsers},
		{"Concurrency", testConcurrency},
		{"Renames", testRenames}, {"History", testHistory}, {"Snapshot", testSnapshot}, {"Load", testLoad},
		{"Ping", testPing},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, open)
		})
	}
}

// clock is a settable fake clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set makes the clock read t from now on.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// startTime is the fake clock's first reading. It has nanoseconds and a
// zone other than UTC, so that tests see stores return UTC, truncated to
// microseconds.
var startTime = time.Date(2024, 12, 17, 19, 41, 14, 439123456, time.FixedZone("EST", -5*3600))

// fixture is one test's store, clock and context.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	s     registry.Store
	clock *clock
}

// setup opens a fresh store and gives it the fake clock.
func setup(t *testing.T, open func(t *testing.T) registry.Store) *fixture {
	t.Helper()
	s := open(t)
	clocked, ok := s.(Clocked)
	if !ok {
		t.Fatalf("%T does not implement storetest.Clocked", s)
	}
	c := &clock{now: startTime}
	clocked.SetClock(c.Now)
	return &fixture{t: t, ctx: t.Context(), s: s, clock: c}
}

// stored is how a store returns t: in UTC with microsecond precision.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (f *fixture) dataType(d registry.DataType) registry.DataType {
	f.t.Helper()
	if err := f.s.CreateDataType(f.ctx, &d); err != nil {
		f.t.Fatalf("CreateDataType(%s): %v", d.Name, err)
	}
	return d
}

func (f *fixture) archive(a registry.Archive) registry.Archive {
	f.t.Helper()
	if err := f.s.CreateArchive(f.ctx, &a); err != nil {
		f.t.Fatalf("CreateArchive(%s): %v", a.Name, err)
	}
	return a
}

func (f *fixture) resource(r registry.Resource, creator string) registry.Resource {
	f.t.Helper()
	if err := f.s.CreateResource(f.ctx, &r, creator); err != nil {
		f.t.Fatalf("CreateResource(%s): %v", r.Name, err)
	}
	return r
}

func (f *fixture) user(u registry.User) registry.User {
	f.t.Helper()
	if err := f.s.CreateUser(f.ctx, &u); err != nil {
		f.t.Fatalf("CreateUser(%s): %v", u.Username, err)
	}
	return u
}

// findResource returns the resource called name, failing the test when
// there is none.
func (f *fixture) findResource(name string) registry.Resource {
	f.t.Helper()
	r, err := f.s.FindResource(f.ctx, name)
	if err != nil {
		f.t.Fatalf("FindResource(%s): %v", name, err)
	}
	return *r
}

// count returns how many resources there are.
func (f *fixture) count() int {
	f.t.Helper()
	n, err := f.s.CountResources(f.ctx, registry.ResourceFilter{})
	if err != nil {
		f.t.Fatalf("CountResources: %v", err)
	}
	return n
}

// wantNoResource fails unless FindResource reports that name does not exist.
func (f *fixture) wantNoResource(name string) {
	f.t.Helper()
	_, err := f.s.FindResource(f.ctx, name)
	wantError(f.t, err, registry.ENOTFOUND, nil)
}

// wantError fails the test unless err is a *registry.Error with code and,
// when fields is not nil, exactly those field messages (in any order
// within a field).
func wantError(t *testing.T, err error, code string, fields map[string][]string) {
	t.Helper()
	var e *registry.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want a *registry.Error with code %q", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %q (%v), want %q", e.Code, err, code)
	}
	if e.Error() == "" {
		t.Errorf("error %#v has no message", e)
	}
	if fields == nil {
		return
	}
	if diff := cmp.Diff(sortedFields(fields), sortedFields(e.Fields)); diff != "" {
		t.Errorf("error fields mismatch (-want +got):\n%s", diff)
	}
}

// fieldsOf returns the field messages of err, a *registry.Error.
func fieldsOf(err error) map[string][]string {
	var e *registry.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func sortedFields(fields map[string][]string) map[string][]string {
	out := make(map[string][]string, len(fields))
	for k, v := range fields {
		out[k] = slices.Sorted(slices.Values(v))
	}
	return out
}

// ptr returns a pointer to v, for the "given" fields of updates.
func ptr[T any](v T) *T { return &v }

// equateEmpty makes a nil list and an empty one equal, for lists whose
// emptiness, not representation, is the point.
var equateEmpty = cmpopts.EquateEmpty()
