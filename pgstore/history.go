package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// recordChanges writes cs to the history in the transaction of the write
// they describe, so that a change and its record stand or fall together;
// one statement however many there are.
func recordChanges(ctx context.Context, q querier, cs []registry.Change) error {
	if len(cs) == 0 {
		return nil
	}
	resources := make([]string, len(cs))
	actions := make([]string, len(cs))
	fields := make([]string, len(cs))
	olds := make([]*string, len(cs))
	news := make([]*string, len(cs))
	users := make([]string, len(cs))
	times := make([]time.Time, len(cs))
	for i, c := range cs {
		resources[i], actions[i], fields[i], users[i], times[i] = c.Resource, c.Action, c.Field, c.User, c.Time
		olds[i], news[i] = changeValue(c.Old), changeValue(c.New)
	}
	// WITH ORDINALITY keeps the order of cs in the ids, which order a
	// history.
	_, err := q.Exec(ctx, `
INSERT INTO history (resource, action, field, old, new, username, time)
SELECT resource, action, field, old, new, username, time
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
       WITH ORDINALITY AS c(resource, action, field, old, new, username, time, n)
 ORDER BY n`, resources, actions, fields, olds, news, users, times)
	return err
}

// changeValue is the stored form of a JSON value of the history: its
// text, or NULL for none.
func changeValue(v json.RawMessage) *string {
	if v == nil {
		return nil
	}
	s := string(v)
	return &s
}

// jsonOf encodes v for the history as the SQLite store does (no HTML
// escaping); it never fails for the values a resource holds.
func jsonOf(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// stringOrNull is a string for the history: JSON null when empty (an
// unset sha1).
func stringOrNull(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	return jsonOf(s)
}

// resourceState is what the history keeps of a whole resource, when it is
// created and when it is deleted.
type resourceState struct {
	SHA1      *string  `json:"sha1"`
	DType     string   `json:"dtype"`
	Metadata  any      `json:"metadata"`
	Locations []string `json:"locations"`
}

// stateOf is the history's record of r as a whole.
func stateOf(r *registry.Resource) json.RawMessage {
	st := resourceState{DType: r.DType, Metadata: r.MetadataValue(), Locations: r.Locations}
	if r.SHA1 != "" {
		sha1 := r.SHA1
		st.SHA1 = &sha1
	}
	if st.Locations == nil {
		st.Locations = []string{}
	}
	return jsonOf(st)
}

// resourceChanges lists what changed from before to after, one entry per
// field, metadata key and location, in the order the SQLite store records
// them (sha1, dtype, metadata by key, locations by archive), stamped with
// user and at.
func resourceChanges(before, after *registry.Resource, user string, at time.Time) []registry.Change {
	var cs []registry.Change
	add := func(action, field string, old, new json.RawMessage) {
		cs = append(cs, registry.Change{Resource: after.Name, Action: action, Field: field,
			Old: old, New: new, User: user, Time: at})
	}
	if before.SHA1 != after.SHA1 {
		add(registry.ActionUpdate, "sha1", stringOrNull(before.SHA1), stringOrNull(after.SHA1))
	}
	if before.DType != after.DType {
		add(registry.ActionUpdate, "dtype", jsonOf(before.DType), jsonOf(after.DType))
	}
	if before.NonObjectMetadata != nil || after.NonObjectMetadata != nil {
		// A value that is not an object has no keys: the change is to
		// the metadata as a whole.
		if old, new := jsonOf(before.MetadataValue()), jsonOf(after.MetadataValue()); !bytes.Equal(old, new) {
			add(registry.ActionUpdate, "metadata", old, new)
		}
	} else {
		keys := map[string]bool{}
		for k := range before.Metadata {
			keys[k] = true
		}
		for k := range after.Metadata {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			var old, new json.RawMessage
			if v, ok := before.Metadata[k]; ok {
				old = jsonOf(v)
			}
			if v, ok := after.Metadata[k]; ok {
				new = jsonOf(v)
			}
			if !bytes.Equal(old, new) || (old == nil) != (new == nil) {
				add(registry.ActionUpdate, "metadata."+k, old, new)
			}
		}
	}
	for _, a := range after.Locations {
		if !slices.Contains(before.Locations, a) {
			add(registry.ActionAddLocation, "locations", nil, jsonOf(a))
		}
	}
	for _, a := range before.Locations {
		if !slices.Contains(after.Locations, a) {
			add(registry.ActionRemoveLocation, "locations", jsonOf(a), nil)
		}
	}
	return cs
}

// historyName is the name under which the history of the resource called
// name is kept: the current name when it was renamed, else name itself.
// ENOTFOUND when no resource has that name and no history is kept under
// it.
func historyName(ctx context.Context, q querier, name string) (string, error) {
	if !storableText(name) {
		return "", pgx.ErrNoRows
	}
	var current string
	var known bool
	err := q.QueryRow(ctx, `
SELECT h.name,
       EXISTS (SELECT 1 FROM resources WHERE name = h.name)
       OR EXISTS (SELECT 1 FROM history WHERE resource = h.name)
  FROM (SELECT coalesce((SELECT renamed_to FROM retired_names WHERE name = $1), $1) COLLATE "C" AS name) h`, name).
		Scan(&current, &known)
	if err != nil {
		return "", err
	}
	if !known {
		return "", pgx.ErrNoRows
	}
	return current, nil
}

// History returns the changes kept for the resource called name (or the
// one that name led to), newest first, paged by f.
func (s *Store) History(ctx context.Context, name string, f registry.HistoryFilter) ([]registry.Change, error) {
	cs := []registry.Change{}
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		current, err := historyName(ctx, tx, name)
		if err != nil {
			return err
		}
		var limit any // NULL: no limit
		if f.Limit > 0 {
			limit = f.Limit
		}
		rows, err := tx.Query(ctx, `
SELECT resource, action, field, old, new, username, time FROM history
 WHERE resource = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, current, limit, max(f.Offset, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c registry.Change
			var old, new *string
			if err := rows.Scan(&c.Resource, &c.Action, &c.Field, &old, &new, &c.User, &c.Time); err != nil {
				return err
			}
			if old != nil {
				c.Old = json.RawMessage(*old)
			}
			if new != nil {
				c.New = json.RawMessage(*new)
			}
			c.Time = c.Time.UTC()
			cs = append(cs, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// CountHistory returns how many changes are kept for the resource called
// name (or the one that name led to).
func (s *Store) CountHistory(ctx context.Context, name string) (int, error) {
	var n int
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		current, err := historyName(ctx, tx, name)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM history WHERE resource = $1`, current).Scan(&n)
	})
	return n, err
}
