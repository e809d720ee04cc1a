package sqlstore

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"time"

	"nbreg/registry"
)

// ExportVersion is the version of the export format Export writes and
// Import reads. It changes only when a record's meaning changes; new
// optional fields keep it.
const ExportVersion = 1

// The export format is JSON lines, one record a line, each an object with
// exactly one key naming its kind. The first line is the header; then come
// datatypes, archives, users, retired names, resources and history, each
// kind in a fixed order, so that exporting the same registry twice gives
// the same bytes.
type exportRecord struct {
	Header          *exportHeader   `json:"nbreg_export,omitempty"`
	DataType        *exportDataType `json:"datatype,omitempty"`
	Archive         *exportArchive  `json:"archive,omitempty"`
	User            *exportUser     `json:"user,omitempty"`
	RetiredName     *exportRetired  `json:"retired_name,omitempty"`
	RetiredArchive  *exportRetired  `json:"retired_archive_name,omitempty"`
	RetiredDataType *exportRetired  `json:"retired_datatype_name,omitempty"`
	Resource        *exportResource `json:"resource,omitempty"`
	Change          *exportChange   `json:"change,omitempty"`
}

// exportHeader says what follows: the format version and how many records
// of each kind, so that an import can show its progress.
type exportHeader struct {
	Version int          `json:"version"`
	Counts  ExportCounts `json:"counts"`
}

// ExportCounts says how many records of each kind an export holds.
type ExportCounts struct {
	DataTypes    int64 `json:"datatypes"`
	Archives     int64 `json:"archives"`
	Users        int64 `json:"users"`
	RetiredNames int64 `json:"retired_names"`
	Resources    int64 `json:"resources"`
	Changes      int64 `json:"changes"`
}

// Total is the number of records counted.
func (c ExportCounts) Total() int64 {
	return c.DataTypes + c.Archives + c.Users + c.RetiredNames + c.Resources + c.Changes
}

type exportDataType struct {
	Name         string `json:"name"`
	ContentType  string `json:"content_type"`
	Extension    string `json:"extension"`
	Downloadable bool   `json:"downloadable"`
}

type exportArchive struct {
	Name          string `json:"name"`
	Scheme        string `json:"scheme"`
	Root          string `json:"root"`
	Accessibility string `json:"accessibility"`
}

type exportUser struct {
	Username     string        `json:"username"`
	Role         string        `json:"role"`
	PasswordHash string        `json:"password_hash"`
	CreatedOn    exportTime    `json:"created_on"`
	Tokens       []exportToken `json:"tokens"`
}

// exportToken is an API token, kept as its hash like in the database, so
// that scripts keep working after a move.
type exportToken struct {
	Hash      string     `json:"hash"`
	CreatedOn exportTime `json:"created_on"`
}

// exportRetired is a name that may never be used again; RenamedTo is the
// name it leads to, or null for a deleted resource's name.
type exportRetired struct {
	Name      string     `json:"name"`
	RenamedTo *string    `json:"renamed_to"`
	RetiredOn exportTime `json:"retired_on"`
}

type exportResource struct {
	Name      string          `json:"name"`
	SHA1      *string         `json:"sha1"`
	DType     string          `json:"dtype"`
	Metadata  json.RawMessage `json:"metadata"`
	Locations []string        `json:"locations"`
	// LocationKeys are the keys of the locations that have one, by
	// archive name (see registry.Location.Key).
	LocationKeys map[string]string `json:"location_keys,omitempty"`
	CreatedBy    string            `json:"created_by"`
	CreatedOn    exportTime        `json:"created_on"`
}

type exportChange struct {
	Resource string          `json:"resource"`
	Action   string          `json:"action"`
	Field    string          `json:"field"`
	Old      json.RawMessage `json:"old,omitempty"`
	New      json.RawMessage `json:"new,omitempty"`
	User     string          `json:"user"`
	Time     exportTime      `json:"time"`
}

// exportTime travels as RFC 3339 in UTC with microseconds: exactly what the
// database keeps.
type exportTime int64

const exportTimeLayout = "2006-01-02T15:04:05.000000Z"

// MarshalJSON implements json.Marshaler.
func (t exportTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(fromMicros(int64(t)).Format(exportTimeLayout))
}

// UnmarshalJSON implements json.Unmarshaler; it takes any RFC 3339 time.
func (t *exportTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = exportTime(toMicros(v.UTC().Truncate(time.Microsecond)))
	return nil
}

// Progress is told, now and then, how many records an export or import has
// handled of how many in all (0 while unknown).
type Progress func(done, total int64)

// Export writes the whole registry to w in the export format, from one
// consistent snapshot, so that it may run while the server writes.
// progress may be nil.
func (s *Store) Export(ctx context.Context, w io.Writer, progress Progress) (ExportCounts, error) {
	var counts ExportCounts
	tx, err := s.beginRead(ctx)
	if err != nil {
		return counts, formatError(err)
	}
	defer tx.Rollback()

	for _, c := range []struct {
		n   *int64
		sql string
	}{
		{&counts.DataTypes, `SELECT count(*) FROM datatypes`},
		{&counts.Archives, `SELECT count(*) FROM archives`},
		{&counts.Users, `SELECT count(*) FROM users`},
		{&counts.RetiredNames, `SELECT (SELECT count(*) FROM retired_names) + (SELECT count(*) FROM retired_archive_names) + (SELECT count(*) FROM retired_datatype_names)`},
		{&counts.Resources, `SELECT count(*) FROM resources`},
		{&counts.Changes, `SELECT count(*) FROM history`},
	} {
		if err := tx.QueryRowContext(ctx, c.sql).Scan(c.n); err != nil {
			return counts, formatError(err)
		}
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	total := counts.Total()
	var done int64
	emit := func(rec exportRecord) error {
		if err := enc.Encode(rec); err != nil {
			return err
		}
		done++
		if progress != nil && done%1000 == 0 {
			progress(done, total)
		}
		return nil
	}
	if err := enc.Encode(exportRecord{Header: &exportHeader{Version: ExportVersion, Counts: counts}}); err != nil {
		return counts, err
	}

	// each runs a query and emits a record per row.
	each := func(query string, record func(rows *sql.Rows) (exportRecord, error)) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return formatError(err)
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := record(rows)
			if err != nil {
				return formatError(err)
			}
			if err := emit(rec); err != nil {
				return err
			}
		}
		return formatError(rows.Err())
	}

	err = each(`SELECT name, content_type, extension, downloadable FROM datatypes ORDER BY name`, func(rows *sql.Rows) (exportRecord, error) {
		var d exportDataType
		err := rows.Scan(&d.Name, &d.ContentType, &d.Extension, &d.Downloadable)
		return exportRecord{DataType: &d}, err
	})
	if err == nil {
		err = each(`SELECT name, scheme, root, accessibility FROM archives ORDER BY name`, func(rows *sql.Rows) (exportRecord, error) {
			var a exportArchive
			var level registry.Accessibility
			err := rows.Scan(&a.Name, &a.Scheme, &a.Root, &level)
			a.Accessibility = level.String()
			return exportRecord{Archive: &a}, err
		})
	}
	if err == nil {
		err = each(`
SELECT u.username, u.role, u.password_hash, u.created_on,
       (SELECT json_group_array(json_object('hash', t.hash, 'created_on', t.created_on) ORDER BY t.hash)
          FROM tokens t WHERE t.user_id = u.id)
  FROM users u ORDER BY u.username`, func(rows *sql.Rows) (exportRecord, error) {
			var u exportUser
			var tokens string
			if err := rows.Scan(&u.Username, &u.Role, &u.PasswordHash, &u.CreatedOn, &tokens); err != nil {
				return exportRecord{}, err
			}
			var stored []struct {
				Hash      string `json:"hash"`
				CreatedOn int64  `json:"created_on"`
			}
			if err := json.Unmarshal([]byte(tokens), &stored); err != nil {
				return exportRecord{}, err
			}
			u.Tokens = []exportToken{}
			for _, t := range stored {
				u.Tokens = append(u.Tokens, exportToken{Hash: t.Hash, CreatedOn: exportTime(t.CreatedOn)})
			}
			return exportRecord{User: &u}, nil
		})
	}
	retired := func(table string, wrap func(*exportRetired) exportRecord) error {
		return each(`SELECT name, renamed_to, retired_on FROM `+table+` ORDER BY name`, func(rows *sql.Rows) (exportRecord, error) {
			var rn exportRetired
			var to sql.NullString
			err := rows.Scan(&rn.Name, &to, &rn.RetiredOn)
			if to.Valid {
				rn.RenamedTo = &to.String
			}
			return wrap(&rn), err
		})
	}
	if err == nil {
		err = retired("retired_names", func(rn *exportRetired) exportRecord { return exportRecord{RetiredName: rn} })
	}
	if err == nil {
		err = retired("retired_archive_names", func(rn *exportRetired) exportRecord { return exportRecord{RetiredArchive: rn} })
	}
	if err == nil {
		err = retired("retired_datatype_names", func(rn *exportRetired) exportRecord { return exportRecord{RetiredDataType: rn} })
	}
	if err == nil {
		err = each(`
SELECT r.name, r.sha1, d.name, r.metadata, r.created_by, r.created_on,
       (SELECT json_group_array(a.name ORDER BY a.name)
          FROM locations l JOIN archives a ON a.id = l.archive_id WHERE l.resource_id = r.id),
       (SELECT json_group_object(a.name, k.key)
          FROM location_keys k JOIN archives a ON a.id = k.archive_id WHERE k.resource_id = r.id)
  FROM resources r JOIN datatypes d ON d.id = r.dtype_id ORDER BY r.name`, func(rows *sql.Rows) (exportRecord, error) {
			var r exportResource
			var sha1, metadata sql.NullString
			var locations, keys string
			if err := rows.Scan(&r.Name, &sha1, &r.DType, &metadata, &r.CreatedBy, &r.CreatedOn, &locations, &keys); err != nil {
				return exportRecord{}, err
			}
			if keys != "{}" {
				if err := json.Unmarshal([]byte(keys), &r.LocationKeys); err != nil {
					return exportRecord{}, err
				}
			}
			if sha1.Valid {
				r.SHA1 = &sha1.String
			}
			r.Metadata = json.RawMessage("null")
			if metadata.Valid {
				r.Metadata = json.RawMessage(metadata.String)
			}
			if err := json.Unmarshal([]byte(locations), &r.Locations); err != nil {
				return exportRecord{}, err
			}
			return exportRecord{Resource: &r}, nil
		})
	}
	if err == nil {
		err = each(`SELECT resource, action, field, old, new, username, time FROM history ORDER BY id`, func(rows *sql.Rows) (exportRecord, error) {
			var c exportChange
			var old, new sql.NullString
			if err := rows.Scan(&c.Resource, &c.Action, &c.Field, &old, &new, &c.User, &c.Time); err != nil {
				return exportRecord{}, err
			}
			if old.Valid {
				c.Old = json.RawMessage(old.String)
			}
			if new.Valid {
				c.New = json.RawMessage(new.String)
			}
			return exportRecord{Change: &c}, nil
		})
	}
	if err != nil {
		return counts, err
	}
	if err := bw.Flush(); err != nil {
		return counts, err
	}
	if progress != nil {
		progress(total, total)
	}
	return counts, nil
}
