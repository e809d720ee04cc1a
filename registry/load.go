package registry

import (
	"context"
	"errors"
	"fmt"
)

// A whole registry comes into a store through Loader, which takes its
// records and commits them all or none, as it leaves through Exporter; the
// file formats speak only these, so that every format works with every
// store.

// Loader is a store that can take a whole registry at once.
type Loader interface {
	// BeginLoad starts a load into the store. Nothing given to the Load
	// is visible to anyone until its Commit returns nil; a Load ended by
	// Close without a Commit leaves the store as it was.
	BeginLoad(ctx context.Context) (Load, error)
}

// Load receives the records of one import. Its methods are called from
// one goroutine, but for Prepare, which may run on another at the same
// time.
//
// Records refer to others by name: a resource to its datatype, archives
// and creator, a token to its user, a change to its resource. What a
// record refers to must have been given earlier (a resource's creator
// need not be a user of the registry: imports keep creators who were
// deleted). A Load may hold resources back and write them in batches,
// reporting a refused one at a later call than the AddResource that gave
// it: errors about a resource name it by the record given to Prepare, and
// an error is always about the first bad record given so far, so that the
// first bad record of the input is the one named. Every error ends the
// load: the caller then only closes it.
//
// The Load keeps the rules of Store's writes (unique names and sha1s,
// retired names never taken again, valid fields); what an import keeps
// beyond what the API accepts (metadata of any JSON value, a sha1 of any
// text up to 40 characters: see Resource.ValidateImported) it keeps too.
type Load interface {
	// Expect tells the load how many resources are coming in all, as soon
	// as the reader knows it (an export's header), or how many at least
	// (a dump being read), so that a store may take a faster path for
	// many; it may be called again with larger numbers. It reports
	// whether resources may now refer to datatypes and archives by key
	// (see AddResource), which a store allows when the registry held no
	// datatypes, archives or resources and the load is large. Once it
	// has said so, it says so for the rest of the load.
	Expect(ctx context.Context, resources int64) (byKey bool, err error)

	// AddDataType and AddArchive store a datatype or an archive as they
	// come, unchanged (an extension keeps a leading dot). key, when not
	// 0, is a positive integer the input knows the record by (a Django
	// pk), unique among the load's datatypes (archives): once Expect has
	// allowed references by key, resources and locations given earlier
	// may refer to it by that key. EINVALID, ECONFLICT as for
	// CreateDataType and CreateArchive.
	AddDataType(ctx context.Context, d *DataType, key int64) error
	AddArchive(ctx context.Context, a *Archive, key int64) error
	// AddUser stores u with its password hash as given ("" turns password
	// sign-in off) and its creation time (a zero time is now). EINVALID,
	// ECONFLICT as for CreateUser.
	AddUser(ctx context.Context, u *User) error
	// AddToken stores an API token of the user called username, by its
	// hash; a zero CreatedOn is now. EINVALID for a blank hash or a user
	// the registry does not have.
	AddToken(ctx context.Context, username string, t Token) error
	// AddRetiredName stores a name that may never be used again.
	// EINVALID for a blank name, or an archive or datatype name retired
	// without the name it became; ECONFLICT when the name is in use or
	// already retired.
	AddRetiredName(ctx context.Context, n RetiredName) error

	// Prepare makes r ready for AddResource without asking the store
	// anything (it checks r alone and encodes what it stores), so that a
	// reader can prepare resources on one processor while the load
	// stores earlier ones on another. record names the resource's input
	// record in errors. r is copied: the caller may reuse it.
	Prepare(r *Resource, record string) PreparedResource
	// AddResource stores a prepared resource with its locations, keeping
	// its creator and creation time and recording no history (an import
	// brings its history as changes). With keys nil, its datatype and
	// archives are found by name (Resource().DType and Locations); with
	// keys, by the keys of datatypes and archives that may not have been
	// added yet (Expect must have allowed it), which Commit then
	// requires to exist. It returns the number the load gives the
	// resource, for AddLocations and AddLocationKey. EINVALID, ECONFLICT
	// as for CreateResource.
	AddResource(ctx context.Context, p PreparedResource, keys *ResourceKeys) (int64, error)
	// AddLocations records more locations of resources already added, by
	// the number AddResource gave each and the key of the archive (Expect
	// must have allowed references by key). A location given twice, or
	// already recorded (with its resource, even one held back), is one
	// location. It returns how many it added.
	AddLocations(ctx context.Context, locations []KeyedLocation) (int, error)
	// AddLocationKey sets the key of a location (see Location.Key) of a
	// resource added earlier. The store may write it at Commit, whose
	// error then names k.Record: EINVALID when the key is too long or the
	// archive does not hold the resource.
	AddLocationKey(ctx context.Context, k LocationKey) error
	// AddChange stores one entry of a resource's history as it was
	// recorded. EINVALID for a change without a resource or with an
	// action that is not one of the history's.
	AddChange(ctx context.Context, c *Change) error

	// Flush stores what the load holds back of the records given so far,
	// reporting a refused one. A reader calls it before reporting an
	// error of its own, so that an earlier bad record is named first, and
	// before giving a record other than a resource, so that an error of
	// AddDataType, AddArchive, AddUser, AddToken, AddRetiredName or
	// AddChange is about the record given, which the reader names.
	Flush(ctx context.Context) error
	// Commit stores everything given, after checking that nothing refers
	// to a record the registry does not have, such as a datatype or an
	// archive referred to by a key never added (EINTERNAL: a reader
	// checks the references it makes by key itself, to name the record
	// that makes one). After an error nothing has been stored. It closes
	// the load.
	Commit(ctx context.Context) error
	// Close ends the load, rolling back what was not committed. It may be
	// called after Commit, and more than once.
	Close() error
}

// PreparedResource is a resource made ready by Load.Prepare for the load
// that made it.
type PreparedResource interface {
	// Resource is the resource as prepared. Until it is given to
	// AddResource, what it refers to (DType, CreatedBy, Locations) may be
	// set or changed; nothing else may.
	Resource() *Resource
}

// ResourceKeys are what a resource refers to by key (see Load.Expect).
type ResourceKeys struct {
	DataType int64
	Archives []int64 // repeats count once
}

// KeyedLocation is a location given by the load's number of its resource
// and the key of its archive.
type KeyedLocation struct {
	Resource int64 // as AddResource returned it
	Archive  int64 // the archive's key
}

// LocationKey is the key of a location (Location.Key), as an import
// brings it.
type LocationKey struct {
	// ResourceID is the number AddResource gave the resource; when 0,
	// Resource names it.
	ResourceID int64
	Resource   string
	Archive    string
	Key        string
	Record     string // names the input record in errors
}

// RecordError names the input record that failed and why, in one message
// for the administrator, listed under NonField.
func RecordError(record string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		msg := record + ": " + e.Error()
		return &Error{Code: e.Code, Message: msg, Fields: map[string][]string{NonField: {msg}}}
	}
	return fmt.Errorf("%s: %w", record, err)
}
