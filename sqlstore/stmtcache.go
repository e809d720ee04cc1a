package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// stmtCache runs the queries of one pool as prepared statements, each
// distinct text prepared once per connection rather than parsed again on
// every call: parsing was half the cost of reading one resource, and a
// fifth of a search's. Searches and lists go through it too: their text
// depends only on which filters are asked for, and SQLite plans them again
// by itself when a value bound changes what it may do (a LIKE pattern).
// (With the metadata index of migrations 2 to 7, a statement planned
// without its values chose a plan fifteen times slower for an equality
// search; the index of migration 8 has one plan.) The cache holds at most
// maxCachedStmts texts; queries beyond them run unprepared.
type stmtCache struct {
	db        *sql.DB
	mu        sync.Mutex
	stmts     map[string]*sql.Stmt
	preparing map[string]bool // queries being prepared in the background
}

const maxCachedStmts = 256

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, preparing: map[string]bool{}}
}

// stmt returns the prepared statement of query, preparing it on the pool
// when it is new, or nil when the cache is full or preparing failed (the
// query then reports its own error). It waits for a connection of the
// pool to prepare on, so a caller holding one in a transaction must not
// call it (see inTx): with every connection so held, nobody would get one.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.stmts[query]
	full := len(c.stmts) >= maxCachedStmts
	c.mu.Unlock()
	if ok || full {
		return st
	}
	// Prepared without the lock held: preparing waits for a connection,
	// which a holder of the lock must never make others wait for.
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.stmts[query]; ok {
		st.Close() // prepared meanwhile by another caller
		return cached
	}
	if len(c.stmts) >= maxCachedStmts {
		st.Close()
		return nil
	}
	c.stmts[query] = st
	return st
}

// cached returns the prepared statement of query when there is one, and
// otherwise has it prepared in the background, once, for the next caller.
func (c *stmtCache) cached(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if len(c.stmts) < maxCachedStmts && !c.preparing[query] {
		c.preparing[query] = true
		go func() {
			c.stmt(context.Background(), query)
			c.mu.Lock()
			delete(c.preparing, query)
			c.mu.Unlock()
		}()
	}
	return nil
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// close closes every statement; the pool stays open.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// inTx returns a querier that runs the cached statements inside tx. A
// query not cached yet runs unprepared in tx, and is prepared in the
// background: tx holds a connection of the pool, and waiting for another
// to prepare on could wait for ever once every connection is so held.
func (c *stmtCache) inTx(tx *sql.Tx) querier { return txStmts{c, tx} }

type txStmts struct {
	c  *stmtCache
	tx *sql.Tx
}

func (t txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.c.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.c.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// writerQueries are the statements group commits prepare ahead on the
// writer's one connection, so that writes in a transaction reuse them.
func writerQueries() []string {
	return append(slices.Clone(resourceWriterQueries), metadataQueries...)
}

// prepareAll prepares queries on the pool, outside any transaction. It
// reports whether all are now cached (it fails on a database whose schema
// is not there yet).
func (c *stmtCache) prepareAll(ctx context.Context, queries []string) bool {
	for _, q := range queries {
		if c.stmt(ctx, q) == nil {
			return false
		}
	}
	return true
}

// prepareIn returns query prepared for tx: the cached statement bound to
// tx when there is one, or else one prepared in tx. It never prepares on
// the pool, whose connection tx may be holding. c may be nil.
func (c *stmtCache) prepareIn(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if c != nil {
		c.mu.Lock()
		st := c.stmts[query]
		c.mu.Unlock()
		if st != nil {
			return tx.StmtContext(ctx, st), nil
		}
	}
	return tx.PrepareContext(ctx, query)
}
