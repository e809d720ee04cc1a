package pgstore

import (
	"context"
	"encoding/json"
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
