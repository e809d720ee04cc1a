package sqlstore

import (
	"encoding/json"
	"time"
)

// The export format is written by package transfer (transfer.Export);
// Import still reads it here, through these types, which must decode
// every line transfer/export.go writes. They go once the readers of both
// formats move to transfer behind a store-neutral loader.

// ExportVersion is the version of the export format Import reads.
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
	Counts  exportCounts `json:"counts"`
}

// exportCounts says how many records of each kind an export holds.
type exportCounts struct {
	DataTypes    int64 `json:"datatypes"`
	Archives     int64 `json:"archives"`
	Users        int64 `json:"users"`
	RetiredNames int64 `json:"retired_names"`
	Resources    int64 `json:"resources"`
	Changes      int64 `json:"changes"`
}

// Total is the number of records counted.
func (c exportCounts) Total() int64 {
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

// Progress is told, now and then, how many records an import has handled
// of how many in all (0 while unknown).
type Progress func(done, total int64)
