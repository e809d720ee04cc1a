package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"nbreg/registry"
)

// bulkChunk is how many names one store call looks up: large enough that
// queries are few, small enough that the memory of an answer stays flat
// however many names a client sends.
const bulkChunk = 500

// Messages of malformed bulk requests, as the nbank client knows them.
var (
	errBulkUsage   = badRequest("usage: {'names': ['id1', 'id2', ...]}")
	errBulkNoNames = badRequest("must supply at least one name")
)

var bulkFields = []fieldSpec{
	{Name: "names", Type: "list", Required: true, Label: "Names"},
}

func (s *Server) registerBulkRoutes() {
	s.handle("bulk/resources/", &endpoint{
		name:        "Bulk Resources",
		description: "The resources among names, one JSON record per line, in the order of names.",
		methods: map[string]method{
			http.MethodPost: {handle: s.handleBulkResources, fields: bulkFields},
		},
		bulk: true,
	})
	s.handle("bulk/locations/", &endpoint{
		name: "Bulk Locations",
		description: "The locations of the resources among names, one JSON object per line. " +
			"archive and scheme filter the locations; resources left without any are omitted.",
		methods: map[string]method{
			http.MethodPost: {handle: s.handleBulkLocations, fields: append(bulkFields[:1:1],
				fieldSpec{Name: "archive", Type: "string", Label: "Archive"},
				fieldSpec{Name: "scheme", Type: "string", Label: "Scheme"})},
		},
		bulk: true,
	})
}

// bulkNames reads the names of a bulk request, each once, in the order
// first given.
func bulkNames(d *fieldDecoder) ([]string, error) {
	names, ok := d.StringList("names", fieldRule{})
	if !ok {
		return nil, errBulkUsage
	}
	if len(names) == 0 {
		return nil, errBulkNoNames
	}
	seen := make(map[string]bool, len(names))
	unique := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			unique = append(unique, n)
		}
	}
	return unique, nil
}

// newBulkDecoder returns the decoder of a bulk body; a body that is not an
// object is a usage error, like one without names.
func newBulkDecoder(r *http.Request) (*fieldDecoder, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if body.notObject != "" {
		return nil, errBulkUsage
	}
	return &fieldDecoder{body: body, problems: registry.Problems{}}, nil
}

func (s *Server) handleBulkResources(w http.ResponseWriter, r *http.Request) {
	d, err := newBulkDecoder(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	names, err := bulkNames(d)
	if err != nil {
		Error(w, r, err)
		return
	}
	s.streamLines(w, r, names, func(ctx context.Context, chunk []string, emit func(any)) error {
		rs, err := s.store.FindResources(ctx, chunk)
		if err != nil {
			return err
		}
		for i := range rs {
			emit(newResourceJSON(&rs[i]))
		}
		return nil
	})
}

// bulkLocationsJSON is one line of bulk/locations/.
type bulkLocationsJSON struct {
	Name      string         `json:"name"`
	SHA1      *string        `json:"sha1"`
	Filename  string         `json:"filename"`
	Locations []locationJSON `json:"locations"`
}

func (s *Server) handleBulkLocations(w http.ResponseWriter, r *http.Request) {
	d, err := newBulkDecoder(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	names, err := bulkNames(d)
	if err != nil {
		Error(w, r, err)
		return
	}
	var f registry.LocationFilter
	f.Archive, _ = d.String("archive", fieldRule{allowBlank: true, allowNull: true})
	f.Scheme, _ = d.String("scheme", fieldRule{allowBlank: true, allowNull: true})
	if err := d.check(nil); err != nil {
		Error(w, r, err)
		return
	}
	// The registry's own location is listed only when nothing is filtered;
	// which datatypes it serves is read once for the whole answer.
	downloadable := map[string]bool{}
	if f.IsZero() {
		dts, err := s.store.ListDataTypes(r.Context())
		if err != nil {
			Error(w, r, err)
			return
		}
		for _, dt := range dts {
			downloadable[dt.Name] = dt.Downloadable
		}
	}
	s.streamLines(w, r, names, func(ctx context.Context, chunk []string, emit func(any)) error {
		rs, err := s.store.FindResources(ctx, chunk)
		if err != nil {
			return err
		}
		locs, err := s.store.ListLocationsOf(ctx, chunk, f)
		if err != nil {
			return err
		}
		for i := range rs {
			res := &rs[i]
			out := newLocationsJSON(locs[res.Name])
			if downloadable[res.DType] {
				out = append(out, s.registryLocation(r, res.Name))
			}
			if len(out) > 0 {
				emit(bulkLocationsJSON{Name: res.Name, SHA1: nullable(res.SHA1), Filename: res.Filename, Locations: out})
			}
		}
		return nil
	})
}

// streamLines answers 200 with one JSON value per line, produced chunk of
// names by chunk and sent as each chunk is ready, so that neither the
// server's memory nor the client's wait grows with the number of names.
// An error in the first chunk is answered normally; a later one can only
// cut the connection, so that the client does not take a truncated answer
// for a whole one.
func (s *Server) streamLines(w http.ResponseWriter, r *http.Request, names []string,
	fetch func(ctx context.Context, chunk []string, emit func(any)) error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var encodeErr error
	emit := func(v any) {
		if err := enc.Encode(v); err != nil && encodeErr == nil {
			encodeErr = err
		}
	}
	rc := http.NewResponseController(w)
	for start := 0; start < len(names); start += bulkChunk {
		chunk := names[start:min(start+bulkChunk, len(names))]
		buf.Reset()
		err := fetch(r.Context(), chunk, emit)
		if err == nil {
			err = encodeErr
		}
		if err != nil {
			if start == 0 {
				Error(w, r, err)
				return
			}
			stateOf(r).logger.Error("bulk answer cut short", "path", r.URL.Path, "error", err)
			panic(http.ErrAbortHandler)
		}
		if start == 0 {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		// Each chunk gets a fresh write deadline: a long answer to a client
		// that keeps reading is never cut by the server's WriteTimeout.
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return // the client went away
		}
		rc.Flush()
	}
}
