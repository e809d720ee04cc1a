package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// pageBuilder makes the page of an endpoint from the value its JSON
// answer carries; it returns nil when it answered itself.
type pageBuilder func(s *Server, w http.ResponseWriter, r *http.Request, status int, v any) *webPage

// pageBuilders maps endpoint names to their pages; an endpoint without one
// (added later, or by another area) gets the generic page, which shows
// its JSON.
var pageBuilders = map[string]pageBuilder{
	"Api Root":        (*Server).homePage,
	"Resource List":   (*Server).resourceListPage,
	"Resource Detail": (*Server).resourcePage,
	"Datatype List":   (*Server).dataTypeListPage,
	"Datatype Detail": (*Server).dataTypePage,
	"Archive List":    (*Server).archiveListPage,
	"Archive Detail":  (*Server).archivePage,
	"Location List":   (*Server).locationListPage,
	"Location Detail": (*Server).locationPage,
}

func (s *Server) genericPage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	title := "nbreg"
	if e := stateOf(r).endpoint; e != nil {
		title = e.name
	}
	p := s.newPage(r, "generic", title, status)
	if e := stateOf(r).endpoint; e != nil {
		p.Content = e.description
	}
	return p
}

// homeView is the content of the API root's page.
type homeView struct {
	Root    rootJSON
	Version string
}

func (s *Server) homePage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	p := s.newPage(r, "home", "nbreg", status)
	root, _ := v.(rootJSON)
	p.Content = homeView{Root: root, Version: s.cfg.Version}
	return p
}

// metadataLookups are the lookups of metadata__ parameters the search form
// offers, as API.md lists them; "exact" is written without a suffix.
var metadataLookups = []string{"exact", "neq", "iexact", "contains", "icontains", "startswith", "istartswith",
	"endswith", "iendswith", "gt", "gte", "lt", "lte", "in", "isnull"}

// metadataRow is one metadata condition of the search form.
type metadataRow struct {
	Key, Lookup, Value string
}

// Fields of the search form's metadata rows; the page turns them into
// metadata__<key>__<lookup>=<value> by redirecting to the canonical URL.
const (
	searchKeyField    = "mkey"
	searchLookupField = "mlookup"
	searchValueField  = "mvalue"
)

// searchParams are the plain filters of the search form.
var searchParams = []string{"name", "dtype", "location", "sha1", "created_by"}

// canonicalSearch returns the query string of the API that the search
// form's fields q ask for: metadata rows become metadata__ parameters and
// empty fields are dropped, so that the URL a user shares or pastes into
// a script is exactly the API's.
func canonicalSearch(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		switch k {
		case searchKeyField, searchLookupField, searchValueField, pageParam, afterParam:
			continue
		}
		for _, v := range vs {
			if v != "" {
				out.Add(k, v)
			}
		}
	}
	keys, lookups, values := q[searchKeyField], q[searchLookupField], q[searchValueField]
	for i, key := range keys {
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		lookup, value := "exact", ""
		if i < len(lookups) && lookups[i] != "" {
			lookup = lookups[i]
		}
		if i < len(values) {
			value = values[i]
		}
		param := "metadata__" + key
		if lookup != "exact" {
			param += "__" + lookup
		}
		out.Add(param, value)
	}
	return out
}

// redirectSearchForm answers a submitted search form (a GET whose query
// has metadata rows) with a redirect to the API's own URL for the search,
// before any handler reads the form's fields as filters. It reports
// whether it answered.
func redirectSearchForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	q := r.URL.Query()
	if !q.Has(searchKeyField) {
		return false
	}
	target := r.URL.EscapedPath()
	if c := canonicalSearch(q); len(c) > 0 {
		target += "?" + c.Encode()
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
	return true
}

// metadataRows reads the metadata__ parameters of q back into rows of the
// search form, in a stable order.
func metadataRows(q url.Values) []metadataRow {
	var rows []metadataRow
	for k, vs := range q {
		rest, ok := strings.CutPrefix(k, "metadata__")
		if !ok || rest == "" {
			continue
		}
		lookup := "exact"
		if i := strings.LastIndex(rest, "__"); i > 0 && slices.Contains(metadataLookups, rest[i+2:]) {
			lookup, rest = rest[i+2:], rest[:i]
		}
		for _, v := range vs {
			rows = append(rows, metadataRow{Key: rest, Lookup: lookup, Value: v})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Key != rows[j].Key {
			return rows[i].Key < rows[j].Key
		}
		return rows[i].Lookup < rows[j].Lookup
	})
	return rows
}

// pager is the paging control of a list, following its Link header.
type pager struct {
	First, Prev, Next, Last string
	Number, Count           int
}

// parseLinks reads the URLs of a Link header by relation.
func parseLinks(header string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(header, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		for _, param := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
			if k == "rel" {
				out[strings.Trim(v, `"`)] = target
			}
		}
	}
	return out
}

// resourceListView is the content of the resources search page.
type resourceListView struct {
	Rows      []resourceJSON
	Total     int
	Pager     pager
	Name      string
	DType     string
	Location  string
	Metadata  []metadataRow
	Lookups   []string
	DataTypes []string
	Archives  []string
	// Query is the API query string of the search, shown with the results.
	Query string
}

func (s *Server) resourceListPage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	q := r.URL.Query()
	rows, _ := v.([]resourceJSON)
	view := resourceListView{
		Rows:     rows,
		Name:     q.Get("name"),
		DType:    q.Get("dtype"),
		Location: q.Get("location"),
		Metadata: metadataRows(q),
		Lookups:  metadataLookups,
	}
	view.Metadata = append(view.Metadata, metadataRow{Lookup: "exact"})
	if f, err := parseResourceFilter(q); err == nil {
		if n, err := s.store.CountResources(r.Context(), f); err == nil {
			view.Total = n
			if pg, err := paginate(q, n, s.cfg.PageSize); err == nil {
				view.Pager.Number, view.Pager.Count = pg.number, pg.count
			}
		}
	}
	links := parseLinks(w.Header().Get("Link"))
	view.Pager.First, view.Pager.Prev, view.Pager.Next, view.Pager.Last = links["first"], links["prev"], links["next"], links["last"]
	api := canonicalSearch(q)
	api.Del(formatParam)
	view.Query = api.Encode()
	view.DataTypes, view.Archives = s.recordNames(r)
	return s.newPage(r, "resources", "Resources", status).with(view)
}

// with sets the content of p and returns p.
func (p *webPage) with(content any) *webPage {
	p.Content = content
	return p
}

// recordNames lists the names of the datatypes and archives, for the
// choices of forms.
func (s *Server) recordNames(r *http.Request) (dataTypes, archives []string) {
	if ds, err := s.store.ListDataTypes(r.Context()); err == nil {
		for _, d := range ds {
			dataTypes = append(dataTypes, d.Name)
		}
	}
	if as, err := s.store.ListArchives(r.Context(), registry.ArchiveFilter{}); err == nil {
		for _, a := range as {
			archives = append(archives, a.Name)
		}
	}
	return dataTypes, archives
}

// metadataEntry is one row of a resource's metadata table.
type metadataEntry struct {
	Key, Value string
	Text       bool // a string, shown as is; otherwise JSON
}

// locationRow is one location of a resource, as its page lists it.
type locationRow struct {
	locationJSON
	Accessibility string
	// Address is where the file is, written as a client would use it.
	Address string
}

// resourceView is the content of a resource's page.
type resourceView struct {
	Resource resourceJSON
	Metadata []metadataEntry
	MetaJSON string
	// OtherMetadata is metadata that is not an object (imported from
	// django-neurobank), as indented JSON.
	OtherMetadata string
	Locations     []locationRow
	DataType      *dataTypeJSON
	Download      string
	// Addable lists the archives a location may be added in.
	Addable []string
	// History is the page of the resource's changes, when the server has
	// that route.
	History string
}

func (s *Server) resourcePage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	res, _ := v.(resourceJSON)
	view := resourceView{Resource: res, MetaJSON: "{}"}
	switch m := res.Metadata.(type) {
	case registry.Metadata:
		for _, k := range slices.Sorted(maps.Keys(m)) {
			e := metadataEntry{Key: k}
			if str, ok := m[k].(string); ok {
				e.Value, e.Text = str, true
			} else if b, err := encodeJSON(m[k]); err == nil {
				e.Value = string(b)
			}
			view.Metadata = append(view.Metadata, e)
		}
		if len(m) > 0 {
			view.MetaJSON = prettyJSON(m)
		}
	case json.RawMessage:
		// Imported as it was; the edit form starts from an empty object,
		// which replaces it.
		view.OtherMetadata = prettyJSON(m)
	}
	held := map[string]bool{}
	if locs, err := s.store.ListLocations(r.Context(), res.Name, registry.LocationFilter{}); err == nil {
		for _, l := range locs {
			held[l.ArchiveName] = true
			row := locationRow{locationJSON: newLocationJSON(&l), Accessibility: l.Accessibility.String()}
			row.Address = locationAddress(l.Scheme, l.Root, res.Name)
			view.Locations = append(view.Locations, row)
		}
	}
	if dt, err := s.store.FindDataType(r.Context(), res.DType); err == nil {
		d := newDataTypeJSON(dt)
		view.DataType = &d
		if dt.Downloadable {
			view.Download = s.cfg.Prefix + "download/" + url.PathEscape(res.Name) + "/"
		}
	}
	_, archives := s.recordNames(r)
	for _, a := range archives {
		if !held[a] {
			view.Addable = append(view.Addable, a)
		}
	}
	if s.hasRoute("resources/{name:" + slug + "}/history/") {
		view.History = s.cfg.Prefix + "resources/" + url.PathEscape(res.Name) + "/history/"
	}
	return s.newPage(r, "resource", res.Name, status).with(view)
}

// hasRoute reports whether a route is registered under path, relative to
// the API root.
func (s *Server) hasRoute(path string) bool {
	for _, re := range s.endpoints {
		if re.template == s.cfg.Prefix+path {
			return true
		}
	}
	return false
}

// locationAddress writes where a resource is in an archive the way the
// nbank client shows it: a path in a neurobank archive, a URL otherwise.
func locationAddress(scheme, root, name string) string {
	switch scheme {
	case "neurobank":
		prefix := name
		if len(prefix) > 2 {
			prefix = prefix[:2]
		}
		return strings.TrimSuffix(root, "/") + "/resources/" + prefix + "/" + name
	case "http", "https":
		return scheme + "://" + strings.TrimSuffix(root, "/") + "/" + name + "/"
	}
	return scheme + "://" + strings.TrimSuffix(root, "/") + "/" + name
}

func (s *Server) dataTypeListPage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	rows, _ := v.([]dataTypeJSON)
	return s.newPage(r, "datatypes", "Datatypes", status).with(rows)
}

func (s *Server) dataTypePage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	d, _ := v.(dataTypeJSON)
	return s.newPage(r, "datatype", d.Name, status).with(d)
}

// archiveListView is the content of the archives page.
type archiveListView struct {
	Rows    []archiveJSON
	Choices []string
}

func (s *Server) archiveListPage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	rows, _ := v.([]archiveJSON)
	view := archiveListView{Rows: rows, Choices: []string{registry.Local.String(), registry.Remote.String(), registry.Offline.String()}}
	return s.newPage(r, "archives", "Archives", status).with(view)
}

func (s *Server) archivePage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	a, _ := v.(archiveJSON)
	return s.newPage(r, "archive", a.Name, status).with(a)
}

// locationListView is the content of the page of a resource's locations.
type locationListView struct {
	Resource string
	Rows     []locationJSON
	Addable  []string
}

func (s *Server) locationListPage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	name := mux.Vars(r)["name"]
	rows, _ := v.([]locationJSON)
	view := locationListView{Resource: name, Rows: rows}
	held := map[string]bool{}
	for _, l := range rows {
		held[l.ArchiveName] = true
	}
	_, archives := s.recordNames(r)
	for _, a := range archives {
		if !held[a] {
			view.Addable = append(view.Addable, a)
		}
	}
	return s.newPage(r, "locations", "Locations of "+name, status).with(view)
}

func (s *Server) locationPage(w http.ResponseWriter, r *http.Request, status int, v any) *webPage {
	l, _ := v.(locationJSON)
	return s.newPage(r, "location", l.ResourceName+" in "+l.ArchiveName, status).with(l)
}

// Display writes t for people: to the minute, in UTC.
func (t jsonTime) Display() string {
	return time.Time(t).UTC().Format("2006-01-02 15:04 UTC")
}

// metaSummary writes the start of a resource's metadata for a table cell.
func metaSummary(v metadataValue) string {
	if raw, ok := v.(json.RawMessage); ok {
		return truncate(string(raw), 80)
	}
	m, _ := v.(registry.Metadata)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString("=")
		if str, ok := m[k].(string); ok {
			b.WriteString(str)
		} else if enc, err := encodeJSON(m[k]); err == nil {
			b.Write(enc)
		}
		if b.Len() > 80 {
			return truncate(b.String(), 80)
		}
	}
	return b.String()
}

// truncate cuts s to its first n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
