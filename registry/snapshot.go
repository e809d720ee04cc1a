package registry

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// A whole registry leaves a store through Exporter, so that the export
// format (package transfer) is written the same from every store.

// Token is an API token as a store keeps it: the hash of the token (see
// TokenHash), never the token itself.
type Token struct {
	Hash      string
	CreatedOn time.Time
}

// NameKind says what a retired name was the name of.
type NameKind string

// The kinds of retired names.
const (
	ResourceName NameKind = "resource"
	ArchiveName  NameKind = "archive"
	DataTypeName NameKind = "datatype"
)

// RetiredName is a name that may never be used again: the old name of a
// renamed record, or the name of a deleted resource.
type RetiredName struct {
	Kind NameKind
	Name string
	// RenamedTo is the name it became; "" for a deleted resource's name.
	RenamedTo string
	RetiredOn time.Time
}

// Exporter is a store that can hand over its whole registry.
type Exporter interface {
	// Snapshot opens a consistent view of the whole registry: writes made
	// while it is open are not in it. The caller closes it.
	Snapshot(ctx context.Context) (Snapshot, error)
}

// Snapshot is the whole registry at one moment. Each method lists one kind
// of record in a fixed order, so that the same registry gives the same
// records; a listing stops at its first error.
type Snapshot interface {
	// Counts says how many records of each kind the other methods list.
	Counts(ctx context.Context) (RecordCounts, error)
	// DataTypes and Archives list them by name.
	DataTypes(ctx context.Context) iter.Seq2[DataType, error]
	Archives(ctx context.Context) iter.Seq2[Archive, error]
	// Users lists the users by username, with their password hashes and
	// their tokens ordered by hash.
	Users(ctx context.Context) iter.Seq2[UserRecord, error]
	// RetiredNames lists the retired names of resources, then of
	// archives, then of datatypes, each kind by name.
	RetiredNames(ctx context.Context) iter.Seq2[RetiredName, error]
	// Resources lists the resources by name.
	Resources(ctx context.Context) iter.Seq2[ResourceRecord, error]
	// Changes lists every history entry in the order recorded.
	Changes(ctx context.Context) iter.Seq2[Change, error]
	// Close ends the snapshot.
	Close() error
}

// RecordCounts says how many records of each kind a registry holds.
type RecordCounts struct {
	DataTypes, Archives, Users, RetiredNames, Resources, Changes int64
}

// Total is the number of records counted.
func (c RecordCounts) Total() int64 {
	return c.DataTypes + c.Archives + c.Users + c.RetiredNames + c.Resources + c.Changes
}

// UserRecord is a user with the tokens it signs in with.
type UserRecord struct {
	User   User
	Tokens []Token
}

// ResourceRecord is a resource as a registry keeps it whole.
type ResourceRecord struct {
	// Resource is the resource with its locations (sorted); its Metadata
	// and NonObjectMetadata are left empty, and Filename too.
	Resource Resource
	// Metadata is the metadata as the store keeps it, JSON text verbatim
	// ("null" for none).
	Metadata json.RawMessage
	// LocationKeys are the keys of the locations that have one, by
	// archive name.
	LocationKeys map[string]string
}
