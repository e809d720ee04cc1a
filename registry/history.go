package registry

import (
	"encoding/json"
	"time"
)

// Actions of the changes kept in a resource's history.
const (
	ActionCreate         = "create"          // the resource was registered; New holds its first state
	ActionUpdate         = "update"          // one field changed: Field says which, Old and New its values
	ActionAddLocation    = "add_location"    // New holds the archive's name
	ActionRemoveLocation = "remove_location" // Old holds the archive's name
	ActionRename         = "rename"          // Old and New hold the names
	ActionDelete         = "delete"          // Old holds the last state
)

// Change is one entry of a resource's history: who changed what, when, from
// what to what. Histories are kept under the resource's current name, and
// stay after it is deleted, so that every change can be traced.
type Change struct {
	Resource string // the resource's name (its last name, once deleted)
	Action   string // one of the Action constants
	// Field names what an update changed: "sha1", "dtype" or
	// "metadata.<key>"; "name" for a rename, "locations" for locations.
	Field string
	// Old and New are JSON values; nil when there is none (a metadata key
	// that was added or removed, the state before a create).
	Old  json.RawMessage
	New  json.RawMessage
	User string // the username of whoever made the change; "" when unknown
	Time time.Time
}

// HistoryFilter pages through a history, newest first.
type HistoryFilter struct {
	// Limit caps the number of entries when positive; Offset skips that
	// many first.
	Limit  int
	Offset int
}
