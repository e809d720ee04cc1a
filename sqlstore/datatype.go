package sqlstore

import (
	"context"
	"database/sql"

	"nbreg/registry"
)

// ListDataTypes returns every datatype ordered by name.
func (s *Store) ListDataTypes(ctx context.Context) ([]registry.DataType, error) {
	rows, err := s.reads.QueryContext(ctx,
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
	d, _, err := findDataType(ctx, s.reads, name)
	return d, formatError(err)
}

// CreateDataType validates and stores d. EINVALID; ECONFLICT on "name".
func (s *Store) CreateDataType(ctx context.Context, d *registry.DataType) error {
	d.Normalize()
	invalid := registry.Problems{}
	if err := invalid.Merge(d.Validate()); err != nil {
		return err
	}

	return formatError(s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		conflicts := registry.Problems{}
		if !invalid.Has("name") {
			if _, _, err := findDataType(ctx, tx, d.Name); err == nil {
				conflicts.Add("name", registry.MsgDataTypeExists)
			} else if registry.ErrorCode(err) != registry.ENOTFOUND {
				return err
			}
		}
		if err := registry.Refusal(invalid, conflicts); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO datatypes (name, content_type, extension, downloadable) VALUES (?, ?, ?, ?)`,
			d.Name, d.ContentType, d.Extension, d.Downloadable)
		return err
	}))
}

// UpdateDataType changes the datatype called name and returns it.
// ENOTFOUND, EINVALID.
func (s *Store) UpdateDataType(ctx context.Context, name string, upd registry.DataTypeUpdate) (*registry.DataType, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	d, id, err := findDataType(ctx, tx, name)
	if err != nil {
		return nil, formatError(err)
	}
	if upd.ContentType != nil {
		d.ContentType = *upd.ContentType
	}
	if upd.Extension != nil {
		d.Extension = *upd.Extension
	}
	if upd.Downloadable != nil {
		d.Downloadable = *upd.Downloadable
	}
	d.Normalize()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE datatypes SET content_type = ?, extension = ?, downloadable = ? WHERE id = ?`,
		d.ContentType, d.Extension, d.Downloadable, id); err != nil {
		return nil, formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return d, nil
}

// findDataType returns the datatype called name and its row id, or
// ENOTFOUND.
func findDataType(ctx context.Context, tx querier, name string) (*registry.DataType, int64, error) {
	var d registry.DataType
	var id int64
	err := tx.QueryRowContext(ctx,
		`SELECT id, name, content_type, extension, downloadable FROM datatypes WHERE name = ?`, name,
	).Scan(&id, &d.Name, &d.ContentType, &d.Extension, &d.Downloadable)
	if err == sql.ErrNoRows {
		return nil, 0, notFound()
	} else if err != nil {
		return nil, 0, err
	}
	return &d, id, nil
}
