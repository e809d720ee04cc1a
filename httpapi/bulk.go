package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
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
// first given. A body without a list of names, or with an item that is not
// a string (or a number, read as its text), is a usage error. A string
// that is not a slug names nothing the registry can hold, so it is skipped
// like any unknown name.
func bulkNames(body *requestBody) ([]string, error) {
	var names []string
	given := 0
	if body.isForm() {
		vs, ok := body.form["names"]
		if !ok {
			return nil, errBulkUsage
		}
		// An empty input of a form is a name not given.
		for _, v := range vs {
			if v != "" {
				names = append(names, v)
			}
		}
		given = len(names)
	} else {
		raw, ok := body.object["names"]
		if !ok {
			return nil, errBulkUsage
		}
		var err error
		if names, given, err = decodeNameList(raw); err != nil {
			return nil, err
		}
	}
	if given == 0 {
		return nil, errBulkNoNames
	}
	seen := make(map[string]struct{}, len(names))
	unique := names[:0]
	for _, n := range names {
		if len(n) > registry.MaxResourceName || !registry.IsSlug(n) {
			continue
		}
		if _, ok := seen[n]; !ok {
			seen[n] = struct{}{}
			unique = append(unique, n)
		}
	}
	return unique, nil
}

// decodeNameList reads a JSON array of names token by token, without a
// copy of each item, and returns the names and how many items there were.
func decodeNameList(raw []byte) ([]string, int, error) {
	// Lists of strings, which is what clients send, take the quick way
	// (where a null item would pass for "", the slow way decides).
	var names []string
	if err := json.Unmarshal(raw, &names); err == nil && names != nil && !slices.Contains(names, "") {
		return names, len(names), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, 0, errBulkUsage
	}
	names = nil
	given := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, 0, errBulkUsage
		}
		given++
		switch v := tok.(type) {
		case string:
			names = append(names, v)
		case json.Number:
			names = append(names, v.String())
		default:
			return nil, 0, errBulkUsage
		}
	}
	return names, given, nil
}

// readBulkRequest returns the names a bulk request asks for and a decoder
// of its other fields; a body that is not an object is a usage error, like
// one without names.
func readBulkRequest(r *http.Request) ([]string, *fieldDecoder, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	if body.notObject != "" {
		return nil, nil, errBulkUsage
	}
	names, err := bulkNames(body)
	if err != nil {
		return nil, nil, err
	}
	return names, &fieldDecoder{body: body, problems: registry.Problems{}}, nil
}

func (s *Server) handleBulkResources(w http.ResponseWriter, r *http.Request) {
	names, _, err := readBulkRequest(r)
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
	names, d, err := readBulkRequest(r)
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
	s.streamLines(w, r, names, func(ctx context.Context, chunk []string, emit func(any)) error {
		rs, err := s.store.ResolveResources(ctx, chunk, f)
		if err != nil {
			return err
		}
		for i := range rs {
			res := &rs[i]
			// A resource no archive holds is left out, even when the
			// registry would serve its file, as django-neurobank does:
			// there is no file to serve, and the client says so.
			if len(res.Locations) == 0 {
				continue
			}
			out := newLocationsJSON(res.Locations)
			// The registry's own location is listed only when nothing is
			// filtered.
			if res.Downloadable && f.IsZero() {
				out = append(out, s.registryLocation(r, res.Name))
			}
			emit(bulkLocationsJSON{Name: res.Name, SHA1: nullable(res.SHA1), Filename: res.Filename, Locations: out})
		}
		return nil
	})
}

// streamLines answers 200 with one JSON value per line, produced chunk of
// names by chunk and sent as each chunk is ready, in the order of names, so
// that neither the server's memory nor the client's wait grows with the
// number of names. An error in the first chunk is answered normally; a
// later one can only cut the connection, so that the client does not take
// a truncated answer for a whole one.
//
// While one chunk is written, the next ones are already being looked up
// on other connections: at most bulkAhead chunks are looked up at once,
// besides the one being written.
func (s *Server) streamLines(w http.ResponseWriter, r *http.Request, names []string,
	fetch func(ctx context.Context, chunk []string, emit func(any)) error) {
	if len(names) == 0 {
		// Every name was skipped: an empty answer, still of its type.
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		return
	}
	chunks, stop := lookUpAhead(r.Context(), names, fetch)
	defer stop()
	rc := http.NewResponseController(w)
	first := true
	for c := range chunks {
		res := <-c
		if res.err != nil {
			if first {
				Error(w, r, res.err)
				return
			}
			stateOf(r).logger.Error("bulk answer cut short", "path", r.URL.Path, "error", res.err)
			panic(http.ErrAbortHandler)
		}
		if first {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			first = false
		}
		// Each chunk gets a fresh write deadline: a long answer to a client
		// that keeps reading is never cut by the server's WriteTimeout.
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(res.lines); err != nil {
			return // the client went away
		}
		rc.Flush()
	}
}

// bulkAhead is how many chunks of a bulk answer are looked up at once.
const bulkAhead = 2

// chunkLines is one chunk of a bulk answer: its lines, or why there are
// none.
type chunkLines struct {
	lines []byte
	err   error
}

// lookUpAhead looks up names chunk by chunk, up to bulkAhead chunks at
// once, and sends in order, for each chunk, where its answer will arrive.
// stop ends the lookups early and returns once none is running.
func lookUpAhead(ctx context.Context, names []string,
	fetch func(ctx context.Context, chunk []string, emit func(any)) error) (chunks <-chan chan chunkLines, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	// The reader holds one chunk and waits on another; the channel
	// holds the rest.
	order := make(chan chan chunkLines, bulkAhead-1)
	running.Add(1)
	go func() {
		defer running.Done()
		defer close(order)
		for start := 0; start < len(names); start += bulkChunk {
			chunk := names[start:min(start+bulkChunk, len(names))]
			done := make(chan chunkLines, 1)
			select {
			case order <- done:
			case <-ctx.Done():
				return
			}
			running.Add(1)
			go func() {
				defer running.Done()
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				var encodeErr error
				err := fetch(ctx, chunk, func(v any) {
					if err := enc.Encode(v); err != nil && encodeErr == nil {
						encodeErr = err
					}
				})
				done <- chunkLines{lines: buf.Bytes(), err: cmp.Or(err, encodeErr)}
			}()
		}
	}()
	return order, func() {
		cancel()
		running.Wait()
	}
}
