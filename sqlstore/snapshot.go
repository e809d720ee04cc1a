package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"iter"

	"nbreg/registry"
)

// Snapshot implements registry.Exporter: the whole registry from one read
// transaction, which sees none of the writes made while it is open.
func (s *Store) Snapshot(ctx context.Context) (registry.Snapshot, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	// SQLite takes a transaction's snapshot at its first read, not at
	// BEGIN: read now, so that the snapshot is of this moment.
	var schema int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&schema); err != nil {
		tx.Rollback()
		return nil, formatError(err)
	}
	return &snapshot{tx: tx}, nil
}

type snapshot struct{ tx *sql.Tx }

func (sn *snapshot) Close() error { return sn.tx.Rollback() }

func (sn *snapshot) Counts(ctx context.Context) (registry.RecordCounts, error) {
	var c registry.RecordCounts
	err := sn.tx.QueryRowContext(ctx, `SELECT
	  (SELECT count(*) FROM datatypes), (SELECT count(*) FROM archives), (SELECT count(*) FROM users),
	  (SELECT count(*) FROM retired_names) + (SELECT count(*) FROM retired_archive_names) + (SELECT count(*) FROM retired_datatype_names),
	  (SELECT count(*) FROM resources), (SELECT count(*) FROM history)`).
		Scan(&c.DataTypes, &c.Archives, &c.Users, &c.RetiredNames, &c.Resources, &c.Changes)
	return c, formatError(err)
}

// rowsOf lists what scan makes of each row of query, stopping at the
// first error.
func rowsOf[T any](ctx context.Context, tx *sql.Tx, query string, scan func(*sql.Rows) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			yield(zero, formatError(err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				yield(zero, formatError(err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(zero, formatError(err))
		}
	}
}

func (sn *snapshot) DataTypes(ctx context.Context) iter.Seq2[registry.DataType, error] {
	return rowsOf(ctx, sn.tx, `SELECT name, content_type, extension, downloadable FROM datatypes ORDER BY name`, func(rows *sql.Rows) (registry.DataType, error) {
		var d registry.DataType
		err := rows.Scan(&d.Name, &d.ContentType, &d.Extension, &d.Downloadable)
		return d, err
	})
}

func (sn *snapshot) Archives(ctx context.Context) iter.Seq2[registry.Archive, error] {
	return rowsOf(ctx, sn.tx, `SELECT name, scheme, root, accessibility FROM archives ORDER BY name`, func(rows *sql.Rows) (registry.Archive, error) {
		var a registry.Archive
		err := rows.Scan(&a.Name, &a.Scheme, &a.Root, &a.Accessibility)
		return a, err
	})
}

func (sn *snapshot) Users(ctx context.Context) iter.Seq2[registry.UserRecord, error] {
	return rowsOf(ctx, sn.tx, `
SELECT u.username, u.role, u.password_hash, u.created_on,
       (SELECT json_group_array(json_object('hash', t.hash, 'created_on', t.created_on) ORDER BY t.hash)
          FROM tokens t WHERE t.user_id = u.id)
  FROM users u ORDER BY u.username`, func(rows *sql.Rows) (registry.UserRecord, error) {
		var u registry.UserRecord
		var role, tokens string
		var created int64
		if err := rows.Scan(&u.User.Username, &role, &u.User.PasswordHash, &created, &tokens); err != nil {
			return u, err
		}
		u.User.Role, u.User.CreatedOn = registry.Role(role), fromMicros(created)
		var stored []struct {
			Hash      string `json:"hash"`
			CreatedOn int64  `json:"created_on"`
		}
		if err := json.Unmarshal([]byte(tokens), &stored); err != nil {
			return u, err
		}
		u.Tokens = []registry.Token{}
		for _, t := range stored {
			u.Tokens = append(u.Tokens, registry.Token{Hash: t.Hash, CreatedOn: fromMicros(t.CreatedOn)})
		}
		return u, nil
	})
}

func (sn *snapshot) RetiredNames(ctx context.Context) iter.Seq2[registry.RetiredName, error] {
	return func(yield func(registry.RetiredName, error) bool) {
		for _, kind := range []registry.NameKind{registry.ResourceName, registry.ArchiveName, registry.DataTypeName} {
			table := retiredTables[kind]
			names := rowsOf(ctx, sn.tx, `SELECT name, renamed_to, retired_on FROM `+table+` ORDER BY name`, func(rows *sql.Rows) (registry.RetiredName, error) {
				n := registry.RetiredName{Kind: kind}
				var to sql.NullString
				var on int64
				err := rows.Scan(&n.Name, &to, &on)
				n.RenamedTo, n.RetiredOn = to.String, fromMicros(on)
				return n, err
			})
			for n, err := range names {
				if !yield(n, err) || err != nil {
					return
				}
			}
		}
	}
}

// retiredTables are the tables of retired names, by kind.
var retiredTables = map[registry.NameKind]string{
	registry.ResourceName: "retired_names",
	registry.ArchiveName:  "retired_archive_names",
	registry.DataTypeName: "retired_datatype_names",
}

func (sn *snapshot) Resources(ctx context.Context) iter.Seq2[registry.ResourceRecord, error] {
	return rowsOf(ctx, sn.tx, `
SELECT r.name, r.sha1, d.name, r.metadata, r.created_by, r.created_on,
       (SELECT json_group_array(a.name ORDER BY a.name)
          FROM locations l JOIN archives a ON a.id = l.archive_id WHERE l.resource_id = r.id),
       (SELECT json_group_object(a.name, k.key)
          FROM location_keys k JOIN archives a ON a.id = k.archive_id WHERE k.resource_id = r.id)
  FROM resources r JOIN datatypes d ON d.id = r.dtype_id ORDER BY r.name`, func(rows *sql.Rows) (registry.ResourceRecord, error) {
		var rec registry.ResourceRecord
		r := &rec.Resource
		var sha1, metadata sql.NullString
		var created int64
		var locations, keys string
		if err := rows.Scan(&r.Name, &sha1, &r.DType, &metadata, &r.CreatedBy, &created, &locations, &keys); err != nil {
			return rec, err
		}
		r.SHA1, r.CreatedOn = sha1.String, fromMicros(created)
		if keys != "{}" {
			if err := json.Unmarshal([]byte(keys), &rec.LocationKeys); err != nil {
				return rec, err
			}
		}
		rec.Metadata = json.RawMessage("null")
		if metadata.Valid {
			rec.Metadata = json.RawMessage(metadata.String)
		}
		return rec, json.Unmarshal([]byte(locations), &r.Locations)
	})
}

func (sn *snapshot) Changes(ctx context.Context) iter.Seq2[registry.Change, error] {
	return rowsOf(ctx, sn.tx, `SELECT resource, action, field, old, new, username, time FROM history ORDER BY id`, func(rows *sql.Rows) (registry.Change, error) {
		var c registry.Change
		var old, new sql.NullString
		var at int64
		if err := rows.Scan(&c.Resource, &c.Action, &c.Field, &old, &new, &c.User, &at); err != nil {
			return c, err
		}
		c.Time = fromMicros(at)
		if old.Valid {
			c.Old = json.RawMessage(old.String)
		}
		if new.Valid {
			c.New = json.RawMessage(new.String)
		}
		return c, nil
	})
}
