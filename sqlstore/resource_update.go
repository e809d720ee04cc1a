package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"nbreg/registry"
)

// UpdateResource applies upd to the resource called name on behalf of
// actor, in one transaction, and returns the result.
func (s *Store) UpdateResource(ctx context.Context, name string, upd registry.ResourceUpdate, actor *registry.User) (*registry.Resource, error) {
	var r *registry.Resource
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		before, err := findResourceByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if r, err = updateResource(ctx, tx, s.writes, name, upd, actor); err != nil {
			return err
		}
		username := ""
		if actor != nil {
			username = actor.Username
		}
		return recordChanges(ctx, tx, registry.ResourceChanges(before, r, username, fromMicros(toMicros(s.now()))))
	})
	if err != nil {
		return nil, formatError(err)
	}
	return r, nil
}

// updateResource checks every part of upd before changing anything, so
// that a rejected update reports all its problems and writes nothing.
func updateResource(ctx context.Context, tx *sql.Tx, stmts *stmtCache, name string, upd registry.ResourceUpdate, actor *registry.User) (*registry.Resource, error) {
	var id, dtypeID int64
	var sha1, metadata sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT id, sha1, dtype_id, metadata FROM resources WHERE name = ?`, name).
		Scan(&id, &sha1, &dtypeID, &metadata)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}

	invalid, conflicts := registry.Problems{}, registry.Problems{}
	if upd.Name != nil && *upd.Name != name {
		invalid.Add("name", registry.MsgNameChange)
	}

	newSHA1 := sha1.String
	if upd.SHA1 != nil {
		given, problem := registry.SHA1Update(sha1.String, *upd.SHA1, actor)
		switch {
		case problem != "":
			invalid.Add("sha1", problem)
		case given != sha1.String:
			newSHA1 = given
			if given != "" {
				var taken bool
				if err := tx.QueryRowContext(ctx,
					`SELECT EXISTS (SELECT 1 FROM resources WHERE sha1 = ? AND id <> ?)`, given, id).Scan(&taken); err != nil {
					return nil, err
				}
				if taken {
					conflicts.Add("sha1", registry.MsgSHA1Exists)
				}
			}
		}
	}

	if upd.DType != nil {
		switch _, did, err := findDataType(ctx, tx, *upd.DType); {
		case *upd.DType == "":
			invalid.Add("dtype", registry.MsgBlank)
		case registry.ErrorCode(err) == registry.ENOTFOUND:
			invalid.Add("dtype", registry.MsgNoSuchDataType(*upd.DType))
		case err != nil:
			return nil, err
		default:
			dtypeID = did
		}
	}

	var archiveIDs []int64
	for _, archive := range upd.Locations {
		switch _, aid, err := findArchive(ctx, tx, archive); {
		case registry.ErrorCode(err) == registry.ENOTFOUND:
			invalid.Add("locations", registry.MsgNoSuchArchive(archive))
		case err != nil:
			return nil, err
		default:
			archiveIDs = append(archiveIDs, aid)
		}
	}

	oldMetadata := any(nil)
	if metadata.Valid {
		oldMetadata = metadata.String
	}
	newMetadata := oldMetadata
	if len(upd.Metadata) > 0 {
		var stored registry.Resource
		if metadata.Valid {
			if err := stored.SetMetadataJSON([]byte(metadata.String)); err != nil {
				return nil, err
			}
		}
		// Metadata that is not an object (imported from django-neurobank)
		// has no keys to merge into: the given object replaces it.
		m := stored.Metadata
		if m == nil {
			m = registry.Metadata{}
		}
		for k, v := range upd.Metadata {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		var err error
		if newMetadata, err = encodeMetadata(&registry.Resource{Metadata: m}); err != nil {
			invalid.Add("metadata", registry.MsgInvalidJSON)
		}
	}

	if err := registry.Refusal(invalid, conflicts); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE resources SET sha1 = ?, dtype_id = ?, metadata = ? WHERE id = ?`,
		nullable(newSHA1), dtypeID, newMetadata, id); err != nil {
		return nil, err
	}
	if len(upd.Metadata) > 0 {
		if err := reindexMetadata(ctx, tx, stmts, id, oldMetadata, newMetadata); err != nil {
			return nil, err
		}
	}
	for _, aid := range archiveIDs {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO locations (resource_id, archive_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, aid); err != nil {
			return nil, err
		}
	}
	return findResourceByName(ctx, tx, name)
}

// DeleteResource removes the resource called name and its locations, and
// retires the name in the same transaction. ENOTFOUND.
func (s *Store) DeleteResource(ctx context.Context, name string) error {
	return formatError(s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		last, err := findResourceByName(ctx, tx, name)
		if err != nil {
			return err
		}
		id, err := findResourceID(ctx, tx, name)
		if err != nil {
			return err
		}
		deleted := registry.Change{Resource: name, Action: registry.ActionDelete, Old: registry.HistoryState(last),
			User: registry.UsernameFromContext(ctx), Time: s.now()}
		if err := recordChanges(ctx, tx, []registry.Change{deleted}); err != nil {
			return err
		}
		// The metadata index rows are found from the document; locations
		// go with the resource (ON DELETE CASCADE).
		var metadata sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT metadata FROM resources WHERE id = ?`, id).Scan(&metadata); err != nil {
			return err
		}
		if metadata.Valid {
			if err := reindexMetadata(ctx, tx, s.writes, id, metadata.String, nil); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM resources WHERE id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO retired_names (name, retired_on) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			name, toMicros(s.now()))
		return err
	}))
}
