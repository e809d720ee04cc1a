package registry

import "context"

// Store keeps the registry's records. Every method is safe for concurrent
// use. Errors are *Error values with the codes documented per method; any
// other failure is EINTERNAL. Every write is atomic: when a method returns an
// error, nothing it was asked to write has been written, and when it returns
// nil the write is durable.
//
// Another process may write to the same store at any time (the command line
// while the server runs), so no method answers from a stale copy.
type Store interface {
	// ListDataTypes returns every datatype ordered by name.
	ListDataTypes(ctx context.Context) ([]DataType, error)
	// FindDataType returns the datatype called name, or ENOTFOUND.
	FindDataType(ctx context.Context, name string) (*DataType, error)
	// CreateDataType validates and stores d. EINVALID for broken rules,
	// ECONFLICT (field "name") when the name is taken.
	CreateDataType(ctx context.Context, d *DataType) error
	// UpdateDataType changes the datatype called name and returns it.
	// ENOTFOUND, EINVALID.
	UpdateDataType(ctx context.Context, name string, upd DataTypeUpdate) (*DataType, error)

	// ListArchives returns the archives matching f ordered by name.
	ListArchives(ctx context.Context, f ArchiveFilter) ([]Archive, error)
	// FindArchive returns the archive called name, or ENOTFOUND.
	FindArchive(ctx context.Context, name string) (*Archive, error)
	// CreateArchive validates and stores a. EINVALID; ECONFLICT on field
	// "name" when the name is taken, or under NonField when another archive
	// has the same scheme and root.
	CreateArchive(ctx context.Context, a *Archive) error
	// UpdateArchive changes the archive called name and returns it, all
	// of upd or none of it. A new name follows the rules of RenameArchive
	// except that the archive's current name is no change: the old name
	// is retired, locations follow, and no resource's history records it.
	// ENOTFOUND, EINVALID, ECONFLICT as for CreateArchive (a retired name
	// is taken).
	UpdateArchive(ctx context.Context, name string, upd ArchiveUpdate) (*Archive, error)

	// ListResources returns the resources matching f ordered by name.
	ListResources(ctx context.Context, f ResourceFilter) ([]Resource, error)
	// CountResources returns how many resources match f (ignoring its
	// After, Limit and Offset).
	CountResources(ctx context.Context, f ResourceFilter) (int, error)
	// FindResource returns the resource called name with its locations, or
	// ENOTFOUND.
	FindResource(ctx context.Context, name string) (*Resource, error)
	// FindResources returns the resources among names that exist, with
	// their locations, in the order of names; unknown names are skipped and
	// a repeated name appears once. The old name of a renamed resource
	// stands for it: its record (under its current name) comes in the old
	// name's place. It answers in a fixed number of queries
	// however many names it is given; callers pass names in chunks.
	FindResources(ctx context.Context, names []string) ([]Resource, error)
	// CreateResource validates r, mints a never-used name when r.Name is
	// empty, and stores it with its locations as created by the user called
	// creator, now, recording the creation (with r's first state) in its
	// history. On success r is filled in as stored (name, filename,
	// sorted locations, creation time). EINVALID for broken rules, unknown
	// datatype or archives; ECONFLICT when the name (including a retired
	// one) or the sha1 is taken.
	CreateResource(ctx context.Context, r *Resource, creator string) error
	// CreateResources stores many resources as CreateResource does, all in
	// one transaction: either every one is stored or none is, and the error
	// names the first that failed. Bulk loading and imports use it.
	CreateResources(ctx context.Context, rs []*Resource, creator string) error
	// UpdateResource applies upd to the resource called name on behalf of
	// actor and returns the result, recording in its history one entry per
	// changed field, metadata key and added location. ENOTFOUND; EINVALID for a name change,
	// a sha1 change by someone other than an administrator, a bad sha1, an
	// unknown datatype or archive; ECONFLICT for a sha1 that another
	// resource has.
	UpdateResource(ctx context.Context, name string, upd ResourceUpdate, actor *User) (*Resource, error)
	// DeleteResource removes the resource called name and its locations and
	// retires the name for good, recording the deletion in its history as
	// done by the user in ctx (NewContextWithUser). ENOTFOUND.
	DeleteResource(ctx context.Context, name string) error
	// RenameResource gives the resource called old the name new, on behalf
	// of actor (a username). The old name is retired and resolves to the
	// new one (ResolveName); names that resolved to old resolve to new.
	// The history moves with the resource. ENOTFOUND for an unknown old;
	// EINVALID (field "name") for a new name that is not a valid name or
	// equals old; ECONFLICT (field "name") when new is in use or retired.
	RenameResource(ctx context.Context, old, new, actor string) error
	// ResolveName returns the current name of the resource that name
	// refers to: name itself when a resource has it, the final name when
	// it was renamed (however many times). ENOTFOUND when no resource has
	// or had the name, or the resource it led to was deleted.
	ResolveName(ctx context.Context, name string) (string, error)
	// RenameArchive and RenameDataType change the name of an archive or a
	// datatype; the records that refer to it follow. The old name is
	// retired: no archive (datatype) may take it again, so that an old
	// name never comes to mean another place (kind); requests for it find
	// nothing, with no redirect. No resource's history records the rename.
	// ENOTFOUND; EINVALID (field "name"), also when new is old; ECONFLICT
	// (field "name") when new is in use or retired. UpdateArchive renames
	// archives the same way.
	RenameArchive(ctx context.Context, old, new string) error
	RenameDataType(ctx context.Context, old, new string) error
	// History returns the changes recorded for the resource called name,
	// newest first, paged by f. A name that was renamed leads to its
	// resource's history; a deleted resource keeps its history. ENOTFOUND
	// when no resource has the name and none is recorded under it.
	History(ctx context.Context, name string, f HistoryFilter) ([]Change, error)
	// CountHistory returns how many changes History would list without
	// paging. ENOTFOUND as for History.
	CountHistory(ctx context.Context, name string) (int, error)

	// ListLocations returns the locations of the resource called name that
	// match f, ordered by archive accessibility then archive name.
	// ENOTFOUND when there is no such resource.
	ListLocations(ctx context.Context, name string, f LocationFilter) ([]Location, error)
	// ResolveResources returns what resolving each of names needs: the
	// resource's name, sha1, file name, whether its datatype is
	// downloadable, and its locations matching f ordered as in
	// ListLocations. Results come in the order of names; unknown names are
	// skipped, a repeated name appears once, and the old name of a renamed
	// resource stands for it. Unlike FindResources it reads no metadata,
	// and it answers in one query however many names it is given; callers
	// pass names in chunks.
	ResolveResources(ctx context.Context, names []string, f LocationFilter) ([]ResolvedResource, error)
	// FindLocation returns the location of resource name in archive, or
	// ENOTFOUND.
	FindLocation(ctx context.Context, name, archive string) (*Location, error)
	// AddLocation records that archive holds resource name, and records
	// the change in the resource's history as done by the user in ctx
	// (NewContextWithUser). ENOTFOUND for an unknown resource; EINVALID
	// (field "archive_name") for an unknown archive; ECONFLICT (NonField)
	// when already recorded.
	AddLocation(ctx context.Context, name, archive string) (*Location, error)
	// RemoveLocation forgets that archive holds resource name, recorded in
	// the history as AddLocation is. ENOTFOUND.
	RemoveLocation(ctx context.Context, name, archive string) error

	// CreateUser validates and stores u. EINVALID; ECONFLICT when the
	// username is taken.
	CreateUser(ctx context.Context, u *User) error
	// FindUser returns the user called username, or ENOTFOUND.
	FindUser(ctx context.Context, username string) (*User, error)
	// ListUsers returns every user ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser changes the user called username and returns it. ENOTFOUND,
	// EINVALID.
	UpdateUser(ctx context.Context, username string, upd UserUpdate) (*User, error)
	// CreateToken stores the hash of a new API token (see NewToken) for the
	// user called username. ENOTFOUND.
	CreateToken(ctx context.Context, username, hash string) error
	// ListTokens returns the tokens of the user called username, oldest
	// first. ENOTFOUND for an unknown user.
	ListTokens(ctx context.Context, username string) ([]Token, error)
	// DeleteToken revokes the token of the user called username whose hash
	// is given: it authenticates nobody from then on. ENOTFOUND when that
	// user has no such token (another user's token is not theirs to
	// revoke).
	DeleteToken(ctx context.Context, username, hash string) error
	// FindUserByToken returns the owner of the token whose hash is given, or
	// ENOTFOUND.
	FindUserByToken(ctx context.Context, hash string) (*User, error)

	// Secret returns a random key kept in the store under name, creating it
	// on first use, so that signed session cookies outlive a restart and
	// are shared by every process using the store.
	Secret(ctx context.Context, name string) ([]byte, error)

	// Ping checks that the database answers a query, within ctx's
	// deadline, without reading or writing any record; readiness checks
	// call it every few seconds, so it costs one round trip. EUNAVAILABLE
	// when the database cannot be reached; the context's error when ctx
	// ends first; any other error (a closed store) is EINTERNAL.
	Ping(ctx context.Context) error

	// Close releases the store. Pending writes have finished or failed.
	Close() error
}
