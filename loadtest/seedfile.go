package loadtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Creating a million resources through the API, one request each, takes
// an hour; loading them from a file with "nbreg import" takes minutes.
// WriteSeed writes that file: the resources a seed through the API would
// create, in nbreg's export format (JSON lines: a header counting the
// records of each kind, then one record a line). The format belongs to
// nbreg, not to this package, which speaks only HTTP; the records below
// restate the fields of its version 1.

// seedExportVersion is the version of nbreg's export format WriteSeed writes.
const seedExportVersion = 1

// seedTimeLayout is how the export format writes times: RFC 3339 in UTC
// with microseconds.
const seedTimeLayout = "2006-01-02T15:04:05.000000Z"

// seedEpoch is the creation time of seeded resource 0 in a seed file;
// resource i was created i seconds later.
var seedEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultCreator is the user a seed file names as the creator of every
// resource. nbreg keeps the creator as a name, so no such user need exist.
const DefaultCreator = "loadtest"

type seedExportHeader struct {
	Version int              `json:"version"`
	Counts  seedExportCounts `json:"counts"`
}

type seedExportCounts struct {
	DataTypes    int `json:"datatypes"`
	Archives     int `json:"archives"`
	Users        int `json:"users"`
	RetiredNames int `json:"retired_names"`
	Resources    int `json:"resources"`
	Changes      int `json:"changes"`
}

type seedExportResource struct {
	Name      string          `json:"name"`
	SHA1      string          `json:"sha1"`
	DType     string          `json:"dtype"`
	Metadata  json.RawMessage `json:"metadata"`
	Locations []string        `json:"locations"`
	CreatedBy string          `json:"created_by"`
	CreatedOn string          `json:"created_on"`
}

// seedExportRecord is one line of the file: an object whose one key names
// the kind of record.
type seedExportRecord struct {
	Header   *seedExportHeader   `json:"nbreg_export,omitempty"`
	DataType *seedDataType       `json:"datatype,omitempty"`
	Archive  *seedArchive        `json:"archive,omitempty"`
	Resource *seedExportResource `json:"resource,omitempty"`
}

// CreatedOn returns the creation time a seed file gives seeded resource i.
func CreatedOn(i int) time.Time {
	return seedEpoch.Add(time.Duration(i) * time.Second)
}

// WriteSeed writes to w, in nbreg's export format, the datatypes, archives
// and resources 0..n-1 that seeding n resources named from prefix creates
// through the API: the same names, datatypes, sha1s, metadata and
// locations. Every resource is created by creator (DefaultCreator when
// empty) at CreatedOn(i). The file holds no users and no history: an
// import needs neither, and "nbreg import" loads it into an empty
// registry (or one without these names) in one transaction.
func WriteSeed(w io.Writer, prefix string, n int, creator string) error {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !prefixPattern.MatchString(prefix) {
		return fmt.Errorf("the name prefix %q may only contain letters, digits, _ and -", prefix)
	}
	if n < 1 {
		return fmt.Errorf("a seed file needs at least one resource, not %d", n)
	}
	if creator == "" {
		creator = DefaultCreator
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	header := seedExportHeader{Version: seedExportVersion, Counts: seedExportCounts{
		DataTypes: len(seedDataTypes),
		Archives:  len(seedArchives),
		Resources: n,
	}}
	if err := enc.Encode(seedExportRecord{Header: &header}); err != nil {
		return err
	}
	for _, d := range seedDataTypes {
		if err := enc.Encode(seedExportRecord{DataType: &d}); err != nil {
			return err
		}
	}
	for _, a := range seedArchives {
		if err := enc.Encode(seedExportRecord{Archive: &a}); err != nil {
			return err
		}
	}
	var r seedExportResource
	rec := seedExportRecord{Resource: &r}
	for i := range n {
		s := seedRecord(prefix, i)
		metadata, err := json.Marshal(s.Metadata)
		if err != nil {
			return err
		}
		r = seedExportResource{
			Name:      s.Name,
			SHA1:      s.SHA1,
			DType:     s.DataType,
			Metadata:  metadata,
			Locations: s.Locations,
			CreatedBy: creator,
			CreatedOn: CreatedOn(i).Format(seedTimeLayout),
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return bw.Flush()
}
