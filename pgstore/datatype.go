package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// ListDataTypes returns every datatype ordered by name.
func (s *Store) ListDataTypes(ctx context.Context) ([]registry.DataType, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT name, content_type, extension, downloadable FROM datatypes ORDER BY name`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	ds := []registry.DataType{}
	for rows.Next() {
		var d registry.DataType
		if err := rows.Scan(&d.Name, &d.ContentType, &d.Extension, &d.Downloadable); err != nil {
			return nil, formatError(err)
		}
		ds = append(ds, d)
	}
	return ds, formatError(rows.Err())
}

// FindDataType returns the datatype called name, or ENOTFOUND.
func (s *Store) FindDataType(ctx context.Context, name string) (*registry.DataType, error) {
	d, _, err := findDataType(ctx, s.pool, name, false)
	return d, formatError(err)
}

// CreateDataType validates and stores d. EINVALID; ECONFLICT on "name",
// also for a retired name.
func (s *Store) CreateDataType(ctx context.Context, d *registry.DataType) error {
	d.Normalize()
	invalid := registry.Problems{}
	if err := invalid.Merge(d.Validate()); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		conflicts := registry.Problems{}
		if !invalid.Has("name") {
			if _, _, err := findDataType(ctx, tx, d.Name, false); err == nil {
				conflicts.Add("name", registry.MsgDataTypeExists)
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := registry.Refusal(invalid, conflicts); err != nil {
			return err
		}
		// A retired name is refused by the table's trigger (NB001), and
		// a name in use by the unique constraint when another writer
		// took it since the check above.
		_, err := tx.Exec(ctx,
			`INSERT INTO datatypes (name, content_type, extension, downloadable) VALUES ($1, $2, $3, $4)`,
			d.Name, d.ContentType, d.Extension, d.Downloadable)
		return err
	})
}

// UpdateDataType changes the datatype called name and returns it.
// ENOTFOUND, EINVALID.
func (s *Store) UpdateDataType(ctx context.Context, name string, upd registry.DataTypeUpdate) (*registry.DataType, error) {
	var d *registry.DataType
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The row stays locked until commit, so that two updates of
		// different fields do not undo each other.
		found, id, err := findDataType(ctx, tx, name, true)
		if err != nil {
			return err
		}
		if upd.ContentType != nil {
			found.ContentType = *upd.ContentType
		}
		if upd.Extension != nil {
			found.Extension = *upd.Extension
		}
		if upd.Downloadable != nil {
			found.Downloadable = *upd.Downloadable
		}
		found.Normalize()
		if err := found.Validate(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`UPDATE datatypes SET content_type = $1, extension = $2, downloadable = $3 WHERE id = $4`,
			found.ContentType, found.Extension, found.Downloadable, id); err != nil {
			return err
		}
		d = found
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// RenameDataType changes the name of the datatype called old to new and
// retires old for datatypes; resources refer to datatypes by row id, so
// they follow.
func (s *Store) RenameDataType(ctx context.Context, old, new string) error {
	return s.renameRetiring(ctx, dataTypeNames, old, new)
}

// findDataType returns the datatype called name and its row id, or
// pgx.ErrNoRows (ENOTFOUND once formatted). With lock, the row is locked
// until the transaction q ends.
func findDataType(ctx context.Context, q querier, name string, lock bool) (*registry.DataType, int64, error) {
	query := `SELECT id, name, content_type, extension, downloadable FROM datatypes WHERE name = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var d registry.DataType
	var id int64
	if err := q.QueryRow(ctx, query, name).Scan(&id, &d.Name, &d.ContentType, &d.Extension, &d.Downloadable); err != nil {
		return nil, 0, err
	}
	return &d, id, nil
}
