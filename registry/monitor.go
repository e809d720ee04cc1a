package registry

import "context"

// Monitored is a store that reports on itself, for the server's metrics.
// Both methods are cheap; Size queries the database and is meant to be
// called every few seconds, not for every request.
type Monitored interface {
	// Connections says how many connections to the database are open and
	// how many of them are in use at this moment. It reads memory only.
	Connections() ConnectionStats
	// Size counts the records of the registry.
	Size(ctx context.Context) (RegistrySize, error)
}

// ConnectionStats are the connections of a store to its database.
type ConnectionStats struct {
	Open, InUse int
}

// RegistrySize is how many records of the kinds an operator watches grow a
// registry holds.
type RegistrySize struct {
	Resources, Locations, Users int64
}

// WriteQueue is a store whose writes wait in a queue for a single writer,
// which commits those waiting together (SQLite's group commit).
type WriteQueue interface {
	// QueuedWrites is how many writes are waiting for the writer now.
	QueuedWrites() int
	// ObserveGroupCommits has f called after each commit of the writer
	// with the number of writes it committed together. f must be quick;
	// it is called by the writer. It replaces any earlier observer.
	ObserveGroupCommits(f func(writes int))
}
