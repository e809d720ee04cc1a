package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// archiveFields describes the body of an archive, for OPTIONS.
var archiveFields = []fieldSpec{
	{Name: "name", Type: "string", Required: true, Label: "Name", MaxLength: registry.MaxArchiveName},
	{Name: "scheme", Type: "string", Required: true, Label: "Scheme", MaxLength: registry.MaxScheme},
	{Name: "root", Type: "string", Required: true, Label: "Root", MaxLength: registry.MaxRoot},
	{Name: "accessibility", Type: "choice", Label: "Accessibility", Choices: []string{
		registry.Local.String(), registry.Remote.String(), registry.Offline.String()}},
}

func (s *Server) registerArchiveRoutes() {
	s.handle("archives/", &endpoint{
		name: "Archive List",
		description: "The archives of the registry, ordered by name. Filters: name and scheme " +
			"(prefixes), root (exact), accessibility; all ignore case. Editors may add one.",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleArchiveList, query: archiveListQuery, result: []archiveJSON{}},
			http.MethodPost: {handle: s.handleArchiveCreate, perm: editors, fields: archiveFields, result: archiveJSON{}},
		},
	})
	s.handle("archives/{name:"+slug+"}/", &endpoint{
		name: "Archive Detail",
		description: "One archive. Editors may change it, its name too: the old name is then retired " +
			"(not found afterwards, never taken by another archive) and every location follows.",
		methods: map[string]method{
			http.MethodGet:   {handle: s.handleArchiveDetail, result: archiveJSON{}},
			http.MethodPut:   {handle: s.handleArchiveUpdate, perm: editors, fields: archiveFields, result: archiveJSON{}},
			http.MethodPatch: {handle: s.handleArchiveUpdate, perm: editors, result: archiveJSON{}},
		},
	})
}

func (s *Server) handleArchiveList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := registry.ArchiveFilter{Name: q.Get("name"), Scheme: q.Get("scheme"), Root: q.Get("root")}
	if v := q.Get("accessibility"); v != "" {
		a, err := registry.ParseAccessibility(v)
		if err != nil {
			Error(w, r, err)
			return
		}
		f.Accessibility = &a
	}
	as, err := s.store.ListArchives(r.Context(), f)
	if err != nil {
		Error(w, r, err)
		return
	}
	out := make([]archiveJSON, 0, len(as))
	for i := range as {
		out = append(out, newArchiveJSON(&as[i]))
	}
	renderJSON(w, r, http.StatusOK, out)
}

func (s *Server) handleArchiveCreate(w http.ResponseWriter, r *http.Request) {
	d, err := newFieldDecoder(r, false)
	if err != nil {
		Error(w, r, err)
		return
	}
	var a registry.Archive
	a.Name, _ = d.String("name", fieldRule{required: true})
	a.Scheme, _ = d.String("scheme", fieldRule{required: true})
	a.Root, _ = d.String("root", fieldRule{required: true})
	a.Accessibility, _ = d.Accessibility("accessibility", fieldRule{})
	if err := d.check(a.Validate()); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.store.CreateArchive(r.Context(), &a); err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusCreated, newArchiveJSON(&a))
}

func (s *Server) handleArchiveDetail(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.FindArchive(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusOK, newArchiveJSON(a))
}

// handleArchiveUpdate serves PUT, which needs scheme and root, and PATCH,
// which needs nothing. Either renames the archive when given another name;
// without one, the name stays, since the path already says it.
func (s *Server) handleArchiveUpdate(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	d, err := newFieldDecoder(r, r.Method == http.MethodPatch)
	if err != nil {
		Error(w, r, err)
		return
	}
	var upd registry.ArchiveUpdate
	if v, ok := d.String("name", fieldRule{}); ok {
		upd.Name = &v
	}
	if v, ok := d.String("scheme", fieldRule{required: true}); ok {
		upd.Scheme = &v
	}
	if v, ok := d.String("root", fieldRule{required: true}); ok {
		upd.Root = &v
	}
	if v, ok := d.Accessibility("accessibility", fieldRule{}); ok {
		upd.Accessibility = &v
	}
	if err := d.check(nil); err != nil {
		// A missing archive is the first thing to know about, as in Django
		// REST framework, which looks the record up before the body.
		if _, ferr := s.store.FindArchive(r.Context(), name); ferr != nil {
			err = ferr
		}
		Error(w, r, err)
		return
	}
	a, err := s.store.UpdateArchive(r.Context(), name, upd)
	if err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusOK, newArchiveJSON(a))
}
