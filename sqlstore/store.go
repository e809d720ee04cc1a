// Package sqlstore implements registry.Store on an SQLite database through
// database/sql and the CGO-free driver modernc.org/sqlite.
//
// Writes go through one connection, so they queue in this process instead of
// fighting over SQLite's lock; reads use pools of read-only connections that
// never wait behind a write (the journal is in WAL mode): one for reads of a
// few pages, one mapping the file for reads of many. Every write
// transaction begins IMMEDIATE, so a writer in another process (the command
// line while the server runs) waits on the busy timeout rather than failing.
// Nothing is cached in memory: each call reads the file, so changes made by
// another process are seen at once.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"nbreg/registry"
)

// busyTimeout is how long a statement waits for another connection's lock,
// in milliseconds, before giving up with SQLITE_BUSY.
const busyTimeout = 10_000

// Store is a registry.Store kept in one SQLite file.
type Store struct {
	// Now is the clock that stamps creation times; tests replace it.
	Now func() time.Time
	// NameLength is the length of the names minted for resources created
	// without one.
	NameLength int
	// BulkLoadFrom is how many incoming resources make a load a bulk load
	// (see Load.Expect); 0 is the default, 5000. Tests lower it to take
	// the bulk path with a few records, or raise it to stay off it.
	BulkLoadFrom int64

	path    string
	writer  *sql.DB // one connection: every write transaction
	readers *sql.DB // read-only connections for everything else
	reads   *stmtCache
	// scanners are read-only connections that map the file into memory,
	// for the reads of many pages: searches, lists, bulk resolution.
	scanners *sql.DB
	scans    *stmtCache
	writes   *stmtCache // on writer; filled by commitLoop (writesReady)

	// Group commit (commit.go): writes queue on jobs for commitLoop
	// (running when committing), which ends when closing is closed and
	// then closes committed.
	committing bool
	jobs       chan *writeJob
	closing    chan struct{}
	committed  chan struct{}
	closeOnce  sync.Once
	groups     atomic.Int64 // transactions commitLoop has run
	queued     atomic.Int64 // writes waiting for commitLoop to take them
	onCommit   atomic.Pointer[func(writes int)]
	bulkLoads  atomic.Int64 // imports loaded in bulk (deferIndexes)
}

var _ registry.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating the file if needed, and
// configures its connections. It does not apply migrations: call Migrate.
// It refuses, with a registry.Error, a file that is not an SQLite database
// and a database whose schema is newer than this binary knows.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, registry.Errorf(registry.EINVALID, "cannot open the database %s: %v", path, err)
	}
	s := &Store{Now: time.Now, NameLength: registry.DefaultNameLength, path: abs,
		jobs: make(chan *writeJob, maxGroup), closing: make(chan struct{}), committed: make(chan struct{})}

	// The database holds password hashes and the key that signs sessions,
	// so a new one is readable by its owner only; SQLite gives the -wal and
	// -shm files the mode of the database. An existing file keeps its mode,
	// and any failure here resurfaces, explained, when SQLite opens it.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}

	s.writer, err = sql.Open("sqlite", dsn(abs, writerConn))
	if err != nil {
		return nil, openError(path, err)
	}
	// One connection, never closed while idle: the second pool relies on
	// the WAL index this connection keeps open.
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)
	if err := s.writer.Ping(); err != nil {
		s.writer.Close()
		return nil, openError(path, err)
	}

	s.writes = newStmtCache(s.writer)

	s.readers, err = sql.Open("sqlite", dsn(abs, readerConn))
	if err != nil {
		s.writer.Close()
		return nil, openError(path, err)
	}
	s.readers.SetMaxOpenConns(readerConns())
	s.readers.SetMaxIdleConns(readerConns())
	if err := s.readers.Ping(); err != nil {
		s.Close()
		return nil, openError(path, err)
	}
	s.reads = newStmtCache(s.readers)

	s.scanners, err = sql.Open("sqlite", dsn(abs, scannerConn))
	if err != nil {
		s.Close()
		return nil, openError(path, err)
	}
	s.scanners.SetMaxOpenConns(readerConns())
	s.scanners.SetMaxIdleConns(readerConns())
	s.scans = newStmtCache(s.scanners)

	if err := s.checkSchemaVersion(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	s.committing = true
	go s.commitLoop()
	return s, nil
}

// readerConns is how many read-only connections a store keeps.
func readerConns() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// Page cache sizes, in KiB: the writer's in normal use; during an import,
// which writes a whole registry in one transaction; and while an import
// builds indexes, where it also sizes the runs SQLite sorts.
const (
	writerCacheKiB     = 16 << 10
	importCacheKiB     = 256 << 10
	indexBuildCacheKiB = 16 << 10
)

// walCheckpointPages is how many pages the writer lets the WAL grow to
// before it copies them into the database (SQLite's default is 1,000).
// A checkpoint writes each page once however often it changed since the
// last, so a longer WAL spares the writer most of the rewrites of the
// pages every create touches (the ends of tables, the upper levels of
// indexes): creates at 16 clients went from 1,575 to 1,894 a second, for
// a WAL of up to 40 MB and a pause of tens of milliseconds every few
// thousand creates.
const walCheckpointPages = 10_000

// A connection of a store is one of these kinds.
type connKind int

const (
	writerConn  connKind = iota // the one connection that writes
	readerConn                  // reads of a few pages
	scannerConn                 // reads of many pages, from the file mapped
)

// mmapBytes is how much of the database file a scanner maps into memory:
// SQLite's own upper limit, 2 GiB less 64 KiB. It fits an int on 32-bit
// platforms, where SQLite reads by system call instead whenever the
// address space has no room for the mapping.
const mmapBytes = 0x7fff0000

// dsn is the driver's name for the database at the absolute path abs, for
// connections of kind. The pragmas ride in the DSN so that every
// connection of a pool gets them, not only the first. Read-only
// connections refuse writes (query_only), which guards against a write
// slipping onto a reader pool and bypassing the single writer.
func dsn(abs string, kind connKind) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout))
	q.Add("_pragma", "foreign_keys(1)")
	// A 201 promises the record survives a power cut.
	q.Add("_pragma", "synchronous(FULL)")
	// Only scanners map the file into memory. A connection that begins
	// reading after another committed unmaps its whole mapping (a TLB
	// shootdown on every processor), which costs a read of a few pages
	// more than mapping saves it: creates at 16 clients (each signing in
	// by a read) were 20-35% faster with no connection mapped. A read of
	// many pages saves more than it pays: mapped, searches were a fifth
	// faster, bulk resolution nearly twice as fast.
	if kind == scannerConn {
		q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapBytes))
	}
	if kind != writerConn {
		q.Set("_query_only", "1")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages))
		// Statement journals (kept so that a failed statement can be undone
		// inside a transaction) stay in memory rather than a temporary
		// file. The writer's page cache is larger than a reader's, for the
		// pages of the indexes every write touches; an import enlarges it
		// for its own transaction (importCacheKiB).
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", writerCacheKiB))
		q.Set("_txlock", "immediate")
	}
	// A file: URI keeps any character of the path (?, #, %) from being
	// taken for part of the query.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// openError explains why the database at path could not be opened.
func openError(path string, err error) error {
	var serr *sqlite.Error
	if errors.As(err, &serr) && serr.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return registry.Errorf(registry.EINVALID, "%s is not an SQLite database.", path)
	}
	if errors.As(err, &serr) && serr.Code()&0xff == sqlite3.SQLITE_BUSY {
		return registry.Errorf(registry.EINTERNAL, "cannot open the database %s: another process holds it locked (an import has a database to itself while it runs); try again once it is done.", path)
	}
	if isDir(path) {
		return registry.Errorf(registry.EINVALID, "%s is a directory, not an SQLite database.", path)
	}
	if dir := filepath.Dir(path); !isDir(dir) {
		return registry.Errorf(registry.EINVALID, "cannot create the database %s: there is no directory %s.", path, dir)
	}
	if why := notWritable(path); why != "" {
		return registry.Errorf(registry.EINVALID, "cannot open the database %s: %s.", path, why)
	}
	return registry.Errorf(registry.EINTERNAL, "cannot open the database %s: %v", path, err)
}

// notWritable says why this process cannot write the database at path, or
// create the journal files SQLite keeps beside it, or "" when nothing is
// known to stop it.
func notWritable(path string) string {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return writeRefusal(err, "this user may not write to it (check the file's owner and mode)")
	}
	f.Close()
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".nbreg-write-check-*")
	if err != nil {
		return writeRefusal(err, "this user may not create files in "+dir+", where SQLite keeps the database's journal (check the directory's owner and mode)")
	}
	probe.Close()
	os.Remove(probe.Name())
	return ""
}

// writeRefusal explains err, a failure to open a file for writing: denied
// when permission was refused.
func writeRefusal(err error, denied string) string {
	switch {
	case errors.Is(err, syscall.EROFS):
		return "it is on a read-only file system"
	case errors.Is(err, fs.ErrPermission):
		return denied
	}
	return ""
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// Close closes every connection of the store.
func (s *Store) Close() error {
	// Writes under way finish first; later ones are refused.
	s.closeOnce.Do(func() { close(s.closing) })
	if s.committing {
		<-s.committed
	}
	var errs []error
	for _, c := range []*stmtCache{s.reads, s.scans, s.writes} {
		if c != nil {
			c.close()
		}
	}
	if s.readers != nil {
		errs = append(errs, s.readers.Close())
	}
	if s.scanners != nil {
		errs = append(errs, s.scanners.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	return errors.Join(errs...)
}

// Ping checks that the database file answers a query. It reads the
// schema table through the read-only pool: a ping of an idle connection
// would not touch the file, and the writer's one connection may be held by
// a long import, which does not make the database unready.
func (s *Store) Ping(ctx context.Context) error {
	var tables int
	err := s.readers.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables)
	return formatError(err)
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// SetClock replaces the clock that stamps creation times. It exists for the
// shared store test suite (see storetest.Clocked); elsewhere set Now.
func (s *Store) SetClock(now func() time.Time) { s.Now = now }

// beginWrite starts a write transaction on the single writer connection.
// The DSN makes it BEGIN IMMEDIATE: the write lock is taken up front, so
// the transaction never fails later on a lock upgrade.
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, error) {
	return s.writer.BeginTx(ctx, nil)
}

// querier is what a helper needs to read: a transaction, or the reader
// pool itself when the read is one statement and needs no transaction
// around it (which would cost two more round trips on the hottest paths:
// a resource's detail, the signed-in user).
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// beginScan starts a read transaction on the scanner pool, for reads of
// many pages.
func (s *Store) beginScan(ctx context.Context) (*sql.Tx, error) {
	return s.scanners.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// beginRead starts a read transaction on the reader pool: every query in
// it sees the same snapshot of the database.
func (s *Store) beginRead(ctx context.Context) (*sql.Tx, error) {
	return s.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// now returns the current time as the store keeps times: UTC, with
// microsecond precision.
func (s *Store) now() time.Time {
	clock := s.Now
	if clock == nil {
		clock = time.Now
	}
	return clock().UTC().Truncate(time.Microsecond)
}

// nameLength is the length of minted names.
func (s *Store) nameLength() int {
	if s.NameLength <= 0 {
		return registry.DefaultNameLength
	}
	return s.NameLength
}

// toMicros is the stored form of t: microseconds since the Unix epoch.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

// ceilMicros is t in microseconds, rounded up: stored times are whole
// microseconds, so a stored time is at or after t exactly when it is at or
// after ceilMicros(t).
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if fromMicros(us).Before(t) {
		us++
	}
	return us
}

// fromMicros turns a stored time back into a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

var (
	_ registry.Monitored  = (*Store)(nil)
	_ registry.WriteQueue = (*Store)(nil)
)

// Connections implements registry.Monitored: the writer's connection and
// the readers'.
func (s *Store) Connections() registry.ConnectionStats {
	w, r := s.writer.Stats(), s.readers.Stats()
	return registry.ConnectionStats{Open: w.OpenConnections + r.OpenConnections, InUse: w.InUse + r.InUse}
}

// Size implements registry.Monitored. The resources are counted by
// triggers already; locations and users are counted from the smallest
// index of their tables.
func (s *Store) Size(ctx context.Context) (registry.RegistrySize, error) {
	var n registry.RegistrySize
	err := s.readers.QueryRowContext(ctx, `SELECT (SELECT n FROM resource_count),
		(SELECT count(*) FROM locations), (SELECT count(*) FROM users)`).Scan(&n.Resources, &n.Locations, &n.Users)
	return n, formatError(err)
}
