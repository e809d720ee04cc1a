package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// lockResource returns the row id of the resource called name, locked
// until the transaction ends so that concurrent writes to it (updates,
// renames, deletes, new locations) take turns; ENOTFOUND when there is
// none, also when a write that committed while this one waited renamed
// or deleted it.
func lockResource(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	if !storableText(name) {
		return 0, pgx.ErrNoRows
	}
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM resources WHERE name = $1 FOR UPDATE`, name).Scan(&id)
	return id, err
}

// UpdateResource applies upd to the resource called name on behalf of
// actor, in one transaction, and returns the result. Every part of upd is
// checked before anything changes, so that a refused update reports all
// its problems and writes nothing; one history entry is recorded per
// changed field, metadata key and added location.
func (s *Store) UpdateResource(ctx context.Context, name string, upd registry.ResourceUpdate, actor *registry.User) (*registry.Resource, error) {
	var after *registry.Resource
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		id, err := lockResource(ctx, tx, name)
		if err != nil {
			return err
		}
		before, _, err := findResourceByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := s.updateResource(ctx, tx, id, before, upd, actor); err != nil {
			return err
		}
		if after, _, err = findResourceByName(ctx, tx, name); err != nil {
			return err
		}
		username := ""
		if actor != nil {
			username = actor.Username
		}
		return recordChanges(ctx, tx, registry.ResourceChanges(before, after, username, s.now()))
	})
	if err != nil {
		return nil, err
	}
	return after, nil
}

// updateResource checks upd against the resource with row id, as before
// holds it, and writes it when nothing is wrong.
func (s *Store) updateResource(ctx context.Context, tx pgx.Tx, id int64, before *registry.Resource, upd registry.ResourceUpdate, actor *registry.User) error {
	invalid, conflicts := registry.Problems{}, registry.Problems{}
	if upd.Name != nil && *upd.Name != before.Name {
		invalid.Add("name", registry.MsgNameChange)
	}

	newSHA1 := before.SHA1
	if upd.SHA1 != nil {
		given, problem := registry.SHA1Update(before.SHA1, *upd.SHA1, actor)
		switch {
		case problem != "":
			invalid.Add("sha1", problem)
		case given != before.SHA1:
			newSHA1 = given
			if given != "" {
				// The unique constraint has the last word, should another
				// resource take the sha1 after this check.
				var taken bool
				if err := tx.QueryRow(ctx,
					`SELECT EXISTS (SELECT 1 FROM resources WHERE sha1 = $1 AND id <> $2)`, given, id).Scan(&taken); err != nil {
					return err
				}
				if taken {
					conflicts.Add("sha1", registry.MsgSHA1Exists)
				}
			}
		}
	}

	var dtypeID *int64 // nil: unchanged
	if upd.DType != nil {
		did, err := lookupID(ctx, tx, `SELECT id FROM datatypes WHERE name = $1`, *upd.DType)
		switch {
		case *upd.DType == "":
			invalid.Add("dtype", registry.MsgBlank)
		case err != nil:
			return err
		case did == 0:
			invalid.Add("dtype", registry.MsgNoSuchDataType(*upd.DType))
		default:
			dtypeID = &did
		}
	}

	var archiveIDs []int64
	for _, archive := range upd.Locations {
		aid, err := lookupID(ctx, tx, `SELECT id FROM archives WHERE name = $1`, archive)
		switch {
		case err != nil:
			return err
		case aid == 0:
			invalid.Add("locations", registry.MsgNoSuchArchive(archive))
		default:
			archiveIDs = append(archiveIDs, aid)
		}
	}

	metadataChanged := len(upd.Metadata) > 0
	var merged registry.Metadata
	var newMetadata *string
	if metadataChanged {
		// Metadata that is not an object (imported from django-neurobank)
		// has no keys to merge into: the given object replaces it.
		merged = registry.Metadata{}
		for k, v := range before.Metadata {
			merged[k] = v
		}
		for k, v := range upd.Metadata {
			if v == nil {
				delete(merged, k)
			} else {
				merged[k] = v
			}
		}
		var err error
		if newMetadata, err = encodeMetadata(&registry.Resource{Metadata: merged}); err != nil {
			invalid.Add("metadata", registry.MsgInvalidJSON)
		}
	}

	if err := registry.Refusal(invalid, conflicts); err != nil {
		return err
	}
	if newSHA1 != before.SHA1 || dtypeID != nil || metadataChanged {
		// coalesce keeps what upd leaves unchanged.
		if _, err := tx.Exec(ctx, `
UPDATE resources
   SET sha1 = $2, dtype_id = coalesce($3, dtype_id),
       metadata = CASE WHEN $4 THEN $5 ELSE metadata END
 WHERE id = $1`, id, nullableText(newSHA1), dtypeID, metadataChanged, newMetadata); err != nil {
			return err
		}
	}
	if metadataChanged {
		leaves, err := metadataLeavesOf(merged, newMetadata)
		if err != nil {
			return err
		}
		if err := replaceLeaves(ctx, tx, id, leaves); err != nil {
			return err
		}
	}
	if len(archiveIDs) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO locations (resource_id, archive_id)
		  SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`, id, archiveIDs); err != nil {
			return err
		}
	}
	return nil
}

// lookupID returns the id that query (which selects one id by name)
// finds for name, or 0 when it finds none.
func lookupID(ctx context.Context, q querier, query, name string) (int64, error) {
	if !storableText(name) {
		return 0, nil
	}
	var id int64
	err := q.QueryRow(ctx, query, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// DeleteResource removes the resource called name with its locations,
// metadata index rows and location keys (ON DELETE CASCADE), retires the
// name, and records the deletion with the resource's last state, as done
// by the user in ctx, all in one transaction. ENOTFOUND.
func (s *Store) DeleteResource(ctx context.Context, name string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		id, err := lockResource(ctx, tx, name)
		if err != nil {
			return err
		}
		last, _, err := findResourceByName(ctx, tx, name)
		if err != nil {
			return err
		}
		now := s.now()
		deleted := registry.Change{Resource: name, Action: registry.ActionDelete, Old: registry.HistoryState(last),
			User: registry.UsernameFromContext(ctx), Time: now}
		if err := recordChanges(ctx, tx, []registry.Change{deleted}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM resources WHERE id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO retired_names (name, retired_on) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, now)
		return err
	})
}
