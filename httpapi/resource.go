package httpapi

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// resourceFields describes the body of a resource, for OPTIONS.
var resourceFields = []fieldSpec{
	{Name: "name", Type: "string", Label: "Name", MaxLength: registry.MaxResourceName},
	{Name: "sha1", Type: "string", Label: "Sha1", MaxLength: registry.SHA1Length},
	{Name: "dtype", Type: "string", Required: true, Label: "Dtype"},
	{Name: "filename", Type: "string", ReadOnly: true, Label: "Filename"},
	{Name: "metadata", Type: "json", Label: "Metadata"},
	{Name: "locations", Type: "list", Label: "Locations"},
	{Name: "created_by", Type: "string", ReadOnly: true, Label: "Created by"},
	{Name: "created_on", Type: "datetime", ReadOnly: true, Label: "Created on"},
}

func (s *Server) registerResourceRoutes() {
	s.handle("resources/", &endpoint{
		name: "Resource List",
		description: "The resources of the registry, ordered by name and paginated (Link header). " +
			"Filters: name, sha1, dtype, created_by, location (substrings), scheme (prefix), " +
			"created_on, created_on__year, created_on__range, and metadata__<key>[__<subkey>...][__<lookup>] " +
			"with lookups exact, iexact, contains, icontains, startswith, istartswith, endswith, iendswith, " +
			"gt, gte, lt, lte, in, isnull, neq. Editors may add one.",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleResourceList, query: resourceListQuery, result: []resourceJSON{}},
			http.MethodPost: {handle: s.handleResourceCreate, perm: editors, fields: resourceFields, result: resourceJSON{}},
		},
	})
	s.handle("resources/{name:"+slug+"}/", &endpoint{
		name: "Resource Detail",
		description: "One resource. Editors may change its datatype, add metadata keys and locations; " +
			"administrators may also change its sha1 and delete it.",
		methods: map[string]method{
			http.MethodGet:    {handle: s.handleResourceDetail, result: resourceJSON{}},
			http.MethodPut:    {handle: s.handleResourceUpdate, perm: editors, fields: resourceFields, result: resourceJSON{}},
			http.MethodPatch:  {handle: s.handleResourceUpdate, perm: editors, result: resourceJSON{}},
			http.MethodDelete: {handle: s.handleResourceDelete, perm: admins},
		},
	})
}

func (s *Server) handleResourceList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseResourceFilter(q)
	if err != nil {
		Error(w, r, err)
		return
	}
	after, err := resourceCursor(q)
	if err != nil {
		Error(w, r, err)
		return
	}
	count, err := s.store.CountResources(r.Context(), f)
	if err != nil {
		Error(w, r, err)
		return
	}
	p, err := paginate(q, count, s.cfg.PageSize)
	if err != nil {
		Error(w, r, err)
		return
	}
	// A next link names the last resource of the page before, so the page
	// is a seek in the name index; a bare page number skips from the
	// nearer end of the list.
	if after != "" && p.number > 1 {
		f.After, f.Limit = after, p.size
	} else {
		f.Offset, f.Limit, f.FromEnd = p.window(count)
	}
	// A JSON answer writes each resource's metadata as the store holds
	// it, when it can; the web interface's page shows it decoded.
	f.MetadataText = !stateOf(r).html
	rs, err := s.store.ListResources(r.Context(), f)
	if err != nil {
		Error(w, r, err)
		return
	}
	if len(rs) == 0 && p.number > 1 {
		Error(w, r, errInvalidPage)
		return
	}
	if p.number < p.count && len(rs) > 0 {
		p.nextAfter = rs[len(rs)-1].Name
	}
	out := make([]resourceJSON, 0, len(rs))
	for i := range rs {
		out = append(out, newResourceJSON(&rs[i]))
	}
	if link := p.linkHeader(s.requestScheme(r)+"://"+s.requestHost(r)+r.URL.EscapedPath(), q); link != "" {
		w.Header().Set("Link", link)
	}
	renderJSON(w, r, http.StatusOK, out)
}

func (s *Server) handleResourceCreate(w http.ResponseWriter, r *http.Request) {
	d, err := newFieldDecoder(r, false)
	if err != nil {
		Error(w, r, err)
		return
	}
	var res registry.Resource
	res.Name, _ = d.String("name", fieldRule{})
	res.SHA1, _ = d.String("sha1", fieldRule{allowBlank: true, allowNull: true})
	res.DType, _ = d.String("dtype", fieldRule{required: true})
	res.Metadata, _ = d.Object("metadata", fieldRule{allowNull: true})
	res.Locations, _ = d.StringList("locations", fieldRule{})
	res.Normalize()
	// A body that does not even decode is refused here, with the domain's
	// rules it breaks as well. Otherwise the store checks everything at
	// once (the rules, the datatype and archives, names and sha1s taken),
	// so that one answer lists every problem, as clients expect.
	if len(d.problems) > 0 {
		Error(w, r, d.check(res.Validate()))
		return
	}
	if err := s.store.CreateResource(r.Context(), &res, currentUser(r).Username); err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusCreated, newResourceJSON(&res))
}

func (s *Server) handleResourceDetail(w http.ResponseWriter, r *http.Request) {
	res, err := s.store.FindResource(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusOK, newResourceJSON(res))
}

// handleResourceUpdate serves PUT, which needs dtype, and PATCH, which needs
// nothing. Metadata is merged and locations added by the store, which also
// decides who may change a sha1.
func (s *Server) handleResourceUpdate(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	d, err := newFieldDecoder(r, r.Method == http.MethodPatch)
	if err != nil {
		Error(w, r, err)
		return
	}
	var upd registry.ResourceUpdate
	if v, ok := d.String("name", fieldRule{}); ok {
		upd.Name = &v
	}
	if v, ok := d.String("sha1", fieldRule{allowBlank: true, allowNull: true}); ok {
		v = strings.ToLower(v)
		upd.SHA1 = &v
	}
	if v, ok := d.String("dtype", fieldRule{required: true}); ok {
		upd.DType = &v
	}
	if m, ok := d.Object("metadata", fieldRule{allowNull: true}); ok {
		upd.Metadata = m
	}
	if l, ok := d.StringList("locations", fieldRule{}); ok {
		upd.Locations = l
	}
	if err := d.check(nil); err != nil {
		// As for archives: a missing resource is reported before the body.
		if _, ferr := s.store.FindResource(r.Context(), name); ferr != nil {
			err = ferr
		}
		Error(w, r, err)
		return
	}
	res, err := s.store.UpdateResource(r.Context(), name, upd, currentUser(r))
	if err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusOK, newResourceJSON(res))
}

func (s *Server) handleResourceDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.store.DeleteResource(actingAs(r), mux.Vars(r)["name"]); err != nil {
		Error(w, r, err)
		return
	}
	renderNoContent(w)
}
