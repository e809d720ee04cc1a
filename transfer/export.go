// Package transfer reads and writes the files a whole registry travels in:
// the nbreg export, for any store that offers registry.Exporter.
package transfer

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"iter"
	"time"

	"nbreg/registry"
)

// ExportVersion is the version of the export format Export writes. It
// changes only when a record's meaning changes; new optional fields keep
// it.
const ExportVersion = 1

// The export format is JSON lines, one record a line, each an object with
// exactly one key naming its kind. The first line is the header; then come
// datatypes, archives, users, retired names, resources and history, each
// kind in the fixed order of registry.Snapshot, so that exporting the same
// registry twice gives the same bytes.
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
	Counts  exportCounts `json:"counts"`
}

type exportCounts struct {
	DataTypes    int64 `json:"datatypes"`
	Archives     int64 `json:"archives"`
	Users        int64 `json:"users"`
	RetiredNames int64 `json:"retired_names"`
	Resources    int64 `json:"resources"`
	Changes      int64 `json:"changes"`
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

// exportToken is an API token, kept as its hash as in the store, so that
// scripts keep working after a move.
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

// exportTime travels as RFC 3339 in UTC with microseconds, which is what
// a store keeps.
type exportTime time.Time

const exportTimeLayout = "2006-01-02T15:04:05.000000Z"

// MarshalJSON implements json.Marshaler.
func (t exportTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(exportTimeLayout))
}

// Progress is told, now and then, how many records an export or import has
// handled of how many in all (0 while unknown).
type Progress func(done, total int64)

// Export writes the whole registry of store to w in the export format,
// from one consistent snapshot, so that it may run while a server writes.
// progress may be nil. It returns how many records of each kind it wrote.
func Export(ctx context.Context, store registry.Exporter, w io.Writer, progress Progress) (registry.RecordCounts, error) {
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return registry.RecordCounts{}, err
	}
	defer snap.Close()
	counts, err := snap.Counts(ctx)
	if err != nil {
		return counts, err
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
	header := exportHeader{Version: ExportVersion, Counts: exportCounts(counts)}
	if err := enc.Encode(exportRecord{Header: &header}); err != nil {
		return counts, err
	}
	err = emitAll(snap.DataTypes(ctx), emit, func(d registry.DataType) exportRecord {
		return exportRecord{DataType: &exportDataType{Name: d.Name, ContentType: d.ContentType, Extension: d.Extension, Downloadable: d.Downloadable}}
	})
	if err == nil {
		err = emitAll(snap.Archives(ctx), emit, func(a registry.Archive) exportRecord {
			return exportRecord{Archive: &exportArchive{Name: a.Name, Scheme: a.Scheme, Root: a.Root, Accessibility: a.Accessibility.String()}}
		})
	}
	if err == nil {
		err = emitAll(snap.Users(ctx), emit, func(u registry.UserRecord) exportRecord {
			out := &exportUser{Username: u.User.Username, Role: string(u.User.Role), PasswordHash: u.User.PasswordHash,
				CreatedOn: exportTime(u.User.CreatedOn), Tokens: []exportToken{}}
			for _, t := range u.Tokens {
				out.Tokens = append(out.Tokens, exportToken{Hash: t.Hash, CreatedOn: exportTime(t.CreatedOn)})
			}
			return exportRecord{User: out}
		})
	}
	if err == nil {
		err = emitAll(snap.RetiredNames(ctx), emit, func(n registry.RetiredName) exportRecord {
			rn := &exportRetired{Name: n.Name, RetiredOn: exportTime(n.RetiredOn)}
			if n.RenamedTo != "" {
				rn.RenamedTo = &n.RenamedTo
			}
			switch n.Kind {
			case registry.ArchiveName:
				return exportRecord{RetiredArchive: rn}
			case registry.DataTypeName:
				return exportRecord{RetiredDataType: rn}
			}
			return exportRecord{RetiredName: rn}
		})
	}
	if err == nil {
		err = emitAll(snap.Resources(ctx), emit, func(rec registry.ResourceRecord) exportRecord {
			r := &rec.Resource
			out := &exportResource{Name: r.Name, DType: r.DType, Metadata: rec.Metadata, Locations: r.Locations,
				LocationKeys: rec.LocationKeys, CreatedBy: r.CreatedBy, CreatedOn: exportTime(r.CreatedOn)}
			if out.Locations == nil {
				out.Locations = []string{}
			}
			if r.SHA1 != "" {
				out.SHA1 = &r.SHA1
			}
			return exportRecord{Resource: out}
		})
	}
	if err == nil {
		err = emitAll(snap.Changes(ctx), emit, func(c registry.Change) exportRecord {
			return exportRecord{Change: &exportChange{Resource: c.Resource, Action: c.Action, Field: c.Field, Old: c.Old, New: c.New, User: c.User, Time: exportTime(c.Time)}}
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

// emitAll emits the record made of each item of a listing, stopping at the
// first error.
func emitAll[T any](items iter.Seq2[T, error], emit func(exportRecord) error, record func(T) exportRecord) error {
	var failed error
	for item, err := range items {
		if err == nil {
			err = emit(record(item))
		}
		if err != nil {
			failed = err
			break
		}
	}
	return failed
}
