package pgstore

import (
	"context"
	"encoding/json"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

var _ registry.Exporter = (*Store)(nil)

// Snapshot implements registry.Exporter: the whole registry from one
// REPEATABLE READ, READ ONLY transaction, which sees none of the writes
// committed while it is open. It holds one connection of the pool until
// Close.
func (s *Store) Snapshot(ctx context.Context) (registry.Snapshot, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, formatError(err)
	}
	// PostgreSQL takes a transaction's snapshot at its first statement,
	// not at BEGIN: run one now, so that the snapshot is of this moment
	// rather than of the first listing asked for.
	if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, formatError(err)
	}
	return &snapshot{tx: tx}, nil
}

// snapshot is a registry.Snapshot. Its listings stream rows from the
// server as the caller takes them; one listing must end before the next
// begins, as on any one connection.
type snapshot struct{ tx pgx.Tx }

// Close implements registry.Snapshot.
func (sn *snapshot) Close() error {
	err := sn.tx.Rollback(context.Background())
	if err == pgx.ErrTxClosed {
		return nil
	}
	return formatError(err)
}

// Counts implements registry.Snapshot.
func (sn *snapshot) Counts(ctx context.Context) (registry.RecordCounts, error) {
	var c registry.RecordCounts
	err := sn.tx.QueryRow(ctx, `SELECT
	  (SELECT count(*) FROM datatypes), (SELECT count(*) FROM archives), (SELECT count(*) FROM users),
	  (SELECT count(*) FROM retired_names) + (SELECT count(*) FROM retired_archive_names) + (SELECT count(*) FROM retired_datatype_names),
	  (SELECT count(*) FROM resources), (SELECT count(*) FROM history)`).
		Scan(&c.DataTypes, &c.Archives, &c.Users, &c.RetiredNames, &c.Resources, &c.Changes)
	return c, formatError(err)
}

// snapshotRows lists what scan makes of each row of query, one row at a
// time, stopping at the first error.
func snapshotRows[T any](ctx context.Context, tx pgx.Tx, query string, scan func(pgx.Rows) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rows, err := tx.Query(ctx, query)
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

// DataTypes implements registry.Snapshot.
func (sn *snapshot) DataTypes(ctx context.Context) iter.Seq2[registry.DataType, error] {
	return snapshotRows(ctx, sn.tx, `SELECT name, content_type, extension, downloadable FROM datatypes ORDER BY name`,
		func(rows pgx.Rows) (registry.DataType, error) {
			var d registry.DataType
			err := rows.Scan(&d.Name, &d.ContentType, &d.Extension, &d.Downloadable)
			return d, err
		})
}

// Archives implements registry.Snapshot.
func (sn *snapshot) Archives(ctx context.Context) iter.Seq2[registry.Archive, error] {
	return snapshotRows(ctx, sn.tx, `SELECT name, scheme, root, accessibility FROM archives ORDER BY name`,
		func(rows pgx.Rows) (registry.Archive, error) {
			var a registry.Archive
			var level int16
			err := rows.Scan(&a.Name, &a.Scheme, &a.Root, &level)
			a.Accessibility = registry.Accessibility(level)
			return a, err
		})
}

// Users implements registry.Snapshot. Each user's tokens come with it, as
// two arrays in the same order, so that the listing is one query.
func (sn *snapshot) Users(ctx context.Context) iter.Seq2[registry.UserRecord, error] {
	return snapshotRows(ctx, sn.tx, `
SELECT u.username, u.role, u.password_hash, u.created_on,
       ARRAY(SELECT t.hash FROM tokens t WHERE t.user_id = u.id ORDER BY t.hash),
       ARRAY(SELECT t.created_on FROM tokens t WHERE t.user_id = u.id ORDER BY t.hash)
  FROM users u ORDER BY u.username`, func(rows pgx.Rows) (registry.UserRecord, error) {
		var u registry.UserRecord
		var role string
		var hashes []string
		var created []time.Time
		if err := rows.Scan(&u.User.Username, &role, &u.User.PasswordHash, &u.User.CreatedOn, &hashes, &created); err != nil {
			return u, err
		}
		u.User.Role, u.User.CreatedOn = registry.Role(role), u.User.CreatedOn.UTC()
		u.Tokens = make([]registry.Token, len(hashes))
		for i := range hashes {
			u.Tokens[i] = registry.Token{Hash: hashes[i], CreatedOn: created[i].UTC()}
		}
		return u, nil
	})
}

// retiredNameTables are the tables of retired names, by kind, in the order a
// snapshot lists them.
var retiredNameTables = []struct {
	kind  registry.NameKind
	table string
}{
	{registry.ResourceName, "retired_names"},
	{registry.ArchiveName, "retired_archive_names"},
	{registry.DataTypeName, "retired_datatype_names"},
}

// RetiredNames implements registry.Snapshot.
func (sn *snapshot) RetiredNames(ctx context.Context) iter.Seq2[registry.RetiredName, error] {
	return func(yield func(registry.RetiredName, error) bool) {
		for _, t := range retiredNameTables {
			names := snapshotRows(ctx, sn.tx, `SELECT name, renamed_to, retired_on FROM `+t.table+` ORDER BY name`,
				func(rows pgx.Rows) (registry.RetiredName, error) {
					n := registry.RetiredName{Kind: t.kind}
					var to *string
					err := rows.Scan(&n.Name, &to, &n.RetiredOn)
					if to != nil {
						n.RenamedTo = *to
					}
					n.RetiredOn = n.RetiredOn.UTC()
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

// Resources implements registry.Snapshot. A resource's locations and the
// keys of those that have one come with its row, so that the listing is
// one query the server streams in name order (the order of
// resources_name_key).
func (sn *snapshot) Resources(ctx context.Context) iter.Seq2[registry.ResourceRecord, error] {
	return snapshotRows(ctx, sn.tx, `
SELECT r.name, r.sha1, d.name, r.metadata, r.created_by, r.created_on,
       ARRAY(SELECT a.name FROM locations l JOIN archives a ON a.id = l.archive_id
              WHERE l.resource_id = r.id ORDER BY a.name),
       ARRAY(SELECT a.name FROM location_keys k JOIN archives a ON a.id = k.archive_id
              WHERE k.resource_id = r.id ORDER BY a.name),
       ARRAY(SELECT k.key FROM location_keys k JOIN archives a ON a.id = k.archive_id
              WHERE k.resource_id = r.id ORDER BY a.name)
  FROM resources r JOIN datatypes d ON d.id = r.dtype_id
 ORDER BY r.name`, func(rows pgx.Rows) (registry.ResourceRecord, error) {
		var rec registry.ResourceRecord
		r := &rec.Resource
		var sha1, metadata *string
		var keyed, keys []string
		if err := rows.Scan(&r.Name, &sha1, &r.DType, &metadata, &r.CreatedBy, &r.CreatedOn, &r.Locations, &keyed, &keys); err != nil {
			return rec, err
		}
		r.CreatedOn = r.CreatedOn.UTC()
		if sha1 != nil {
			r.SHA1 = *sha1
		}
		if r.Locations == nil {
			r.Locations = []string{}
		}
		rec.Metadata = json.RawMessage("null")
		if metadata != nil {
			rec.Metadata = json.RawMessage(*metadata)
		}
		if len(keyed) > 0 {
			rec.LocationKeys = make(map[string]string, len(keyed))
			for i, archive := range keyed {
				rec.LocationKeys[archive] = keys[i]
			}
		}
		return rec, nil
	})
}

// Changes implements registry.Snapshot.
func (sn *snapshot) Changes(ctx context.Context) iter.Seq2[registry.Change, error] {
	return snapshotRows(ctx, sn.tx, `SELECT resource, action, field, old, new, username, time FROM history ORDER BY id`,
		func(rows pgx.Rows) (registry.Change, error) {
			var c registry.Change
			var old, new *string
			if err := rows.Scan(&c.Resource, &c.Action, &c.Field, &old, &new, &c.User, &c.Time); err != nil {
				return c, err
			}
			c.Time = c.Time.UTC()
			if old != nil {
				c.Old = json.RawMessage(*old)
			}
			if new != nil {
				c.New = json.RawMessage(*new)
			}
			return c, nil
		})
}
