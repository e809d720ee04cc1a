package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
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

// Validate refuses an entry without a resource (EINVALID on "resource") or
// with an action the history does not have (EINVALID on "action"), as a
// store does for every entry a load brings.
func (c *Change) Validate() error {
	if c.Resource == "" {
		return FieldError(EINVALID, "resource", MsgBlank)
	}
	switch c.Action {
	case ActionCreate, ActionUpdate, ActionAddLocation, ActionRemoveLocation, ActionRename, ActionDelete:
		return nil
	}
	return FieldError(EINVALID, "action", fmt.Sprintf("%q is not an action of the history", c.Action))
}

// HistoryJSON is v as the history keeps it: encoding/json's text (object
// keys sorted) without HTML escaping or a trailing newline, so that every
// store records the same bytes. It never fails for the values a resource
// holds (strings, metadata decoded from JSON); any other value that cannot
// be encoded is recorded as null.
func HistoryJSON(v any) json.RawMessage {
	b, err := encodeJSON(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// encodeJSON is the registry's one canonical encoding of a JSON value, for
// the history and for stored metadata alike.
func encodeJSON(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// historySHA1 is a sha1 as the history keeps it: JSON null when unset.
func historySHA1(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	return HistoryJSON(s)
}

// historyState is what the history keeps of a whole resource.
type historyState struct {
	SHA1      *string  `json:"sha1"`
	DType     string   `json:"dtype"`
	Metadata  any      `json:"metadata"`
	Locations []string `json:"locations"`
}

// HistoryState is the history's record of r as a whole, the New of its
// ActionCreate entry and the Old of its ActionDelete entry: an object of
// sha1 (null when unset), dtype, metadata (as MetadataValue shows it) and
// locations (a list, empty rather than null), in the bytes of HistoryJSON.
func HistoryState(r *Resource) json.RawMessage {
	st := historyState{DType: r.DType, Metadata: r.MetadataValue(), Locations: r.Locations}
	if r.SHA1 != "" {
		sha1 := r.SHA1
		st.SHA1 = &sha1
	}
	if st.Locations == nil {
		st.Locations = []string{}
	}
	return HistoryJSON(st)
}

// ResourceChanges lists the history entries of an update that turned
// before into after, made by user at time at: one ActionUpdate per changed
// field and metadata key, then one ActionAddLocation per archive added and
// one ActionRemoveLocation per archive removed. The order is fixed (sha1,
// dtype, metadata by key, added locations in after's order, removed ones
// in before's), so that every store records the same history. When either
// side's metadata is not an object, a change of it is one entry for the
// metadata as a whole (field "metadata"); an unchanged resource has none.
func ResourceChanges(before, after *Resource, user string, at time.Time) []Change {
	var cs []Change
	add := func(action, field string, old, new json.RawMessage) {
		cs = append(cs, Change{Resource: after.Name, Action: action, Field: field,
			Old: old, New: new, User: user, Time: at})
	}
	if before.SHA1 != after.SHA1 {
		add(ActionUpdate, "sha1", historySHA1(before.SHA1), historySHA1(after.SHA1))
	}
	if before.DType != after.DType {
		add(ActionUpdate, "dtype", HistoryJSON(before.DType), HistoryJSON(after.DType))
	}
	if before.NonObjectMetadata != nil || after.NonObjectMetadata != nil {
		// A value that is not an object has no keys: the change is to
		// the metadata as a whole.
		if old, new := HistoryJSON(before.MetadataValue()), HistoryJSON(after.MetadataValue()); !bytes.Equal(old, new) {
			add(ActionUpdate, "metadata", old, new)
		}
	} else {
		for _, k := range metadataKeys(before.Metadata, after.Metadata) {
			var old, new json.RawMessage
			if v, ok := before.Metadata[k]; ok {
				old = HistoryJSON(v)
			}
			if v, ok := after.Metadata[k]; ok {
				new = HistoryJSON(v)
			}
			// A key added or removed is a change even when its JSON
			// text matches none (nil) on the other side.
			if !bytes.Equal(old, new) || (old == nil) != (new == nil) {
				add(ActionUpdate, "metadata."+k, old, new)
			}
		}
	}
	for _, a := range after.Locations {
		if !slices.Contains(before.Locations, a) {
			add(ActionAddLocation, "locations", nil, HistoryJSON(a))
		}
	}
	for _, a := range before.Locations {
		if !slices.Contains(after.Locations, a) {
			add(ActionRemoveLocation, "locations", HistoryJSON(a), nil)
		}
	}
	return cs
}

// metadataKeys is every key of a or b, sorted.
func metadataKeys(a, b Metadata) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// LocationChange is the history entry of archive coming to hold the
// resource called resource (action ActionAddLocation, the archive's name
// in New) or ceasing to (ActionRemoveLocation, in Old), made by user at
// time at.
func LocationChange(action, resource, archive, user string, at time.Time) Change {
	c := Change{Resource: resource, Action: action, Field: "locations", User: user, Time: at}
	if action == ActionRemoveLocation {
		c.Old = HistoryJSON(archive)
	} else {
		c.New = HistoryJSON(archive)
	}
	return c
}

// RenameChange is the history entry of the resource called old being
// renamed new by user at time at, kept under new.
func RenameChange(old, new, user string, at time.Time) Change {
	return Change{Resource: new, Action: ActionRename, Field: "name",
		Old: HistoryJSON(old), New: HistoryJSON(new), User: user, Time: at}
}
