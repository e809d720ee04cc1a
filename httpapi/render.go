package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"nbreg/registry"
)

// timeLayout is how times travel: RFC 3339 in UTC with microseconds, as
// django-neurobank wrote them.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// jsonTime renders a time in timeLayout.
type jsonTime time.Time

// MarshalJSON implements json.Marshaler.
func (t jsonTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(timeLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, timeLayout)
	return append(b, '"'), nil
}

// encodeJSON returns v as compact JSON without HTML escaping (clients read
// names and metadata verbatim) and without a trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// renderJSON answers with status and v as JSON. This is the one place where
// JSON answers are written.
//
// A request that wants HTML (see wantsHTML) gets the page of the web
// interface made from the same v instead.
func renderJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	if st := stateOf(r); st.html && st.server != nil {
		st.server.renderHTML(w, r, status, v)
		return
	}
	b, err := encodeJSON(v)
	if err != nil {
		// Only a value nbreg built can get here, never user input.
		stateOf(r).logger.Error("cannot encode an answer", "path", r.URL.Path, "error", err)
		status = http.StatusInternalServerError
		b = []byte(`{"detail":"Internal error."}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Vary", "Accept")
	w.WriteHeader(status)
	w.Write(b)
}

// renderNoContent answers 204 with no body.
func renderNoContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
}

// dataTypeJSON is the wire form of a datatype.
type dataTypeJSON struct {
	Name         string `json:"name"`
	ContentType  string `json:"content_type"`
	Extension    string `json:"extension"`
	Downloadable bool   `json:"downloadable"`
}

func newDataTypeJSON(d *registry.DataType) dataTypeJSON {
	return dataTypeJSON{Name: d.Name, ContentType: d.ContentType, Extension: d.Extension, Downloadable: d.Downloadable}
}

// archiveJSON is the wire form of an archive.
type archiveJSON struct {
	Name          string `json:"name"`
	Scheme        string `json:"scheme"`
	Root          string `json:"root"`
	Accessibility string `json:"accessibility"`
}

func newArchiveJSON(a *registry.Archive) archiveJSON {
	return archiveJSON{Name: a.Name, Scheme: a.Scheme, Root: a.Root, Accessibility: a.Accessibility.String()}
}

// metadataValue is what a resource's metadata field shows: a
// registry.Metadata object, nil, or, in registries imported from
// django-neurobank, a json.RawMessage of another JSON value (see
// registry.Resource.NonObjectMetadata). It is a type of its own so that
// the OpenAPI document can describe it.
type metadataValue any

// resourceJSON is the wire form of a resource.
type resourceJSON struct {
	Name      string        `json:"name"`
	SHA1      *string       `json:"sha1"`
	DType     string        `json:"dtype"`
	Filename  string        `json:"filename"`
	Metadata  metadataValue `json:"metadata"`
	Locations []string      `json:"locations"`
	CreatedBy string        `json:"created_by"`
	CreatedOn jsonTime      `json:"created_on"`
}

func newResourceJSON(res *registry.Resource) resourceJSON {
	locations := res.Locations
	if locations == nil {
		locations = []string{}
	}
	return resourceJSON{
		Name:      res.Name,
		SHA1:      nullable(res.SHA1),
		DType:     res.DType,
		Filename:  res.Filename,
		Metadata:  res.MetadataValue(),
		Locations: locations,
		CreatedBy: res.CreatedBy,
		CreatedOn: jsonTime(res.CreatedOn),
	}
}

// nullable returns nil for "", which the wire shows as null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// locationJSON is the wire form of a location.
type locationJSON struct {
	ArchiveName  string `json:"archive_name"`
	Scheme       string `json:"scheme"`
	Root         string `json:"root"`
	ResourceName string `json:"resource_name"`
	// Key is shown only for the few locations that have one (imported
	// from django-neurobank 0.11), so that every other answer is as the
	// protocol has it.
	Key string `json:"key,omitempty"`
}

func newLocationJSON(l *registry.Location) locationJSON {
	return locationJSON{ArchiveName: l.ArchiveName, Scheme: l.Scheme, Root: l.Root, ResourceName: l.ResourceName, Key: l.Key}
}

// newLocationsJSON returns the wire form of locs, never nil so that an
// empty list shows as [].
func newLocationsJSON(locs []registry.Location) []locationJSON {
	out := make([]locationJSON, 0, len(locs)+1)
	for i := range locs {
		out = append(out, newLocationJSON(&locs[i]))
	}
	return out
}
