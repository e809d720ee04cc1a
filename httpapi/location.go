package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// registryArchive names the virtual archive of the registry itself, listed
// last for resources whose datatype it serves for download.
const registryArchive = "registry"

// locationFields describes the body that adds a location, for OPTIONS.
var locationFields = []fieldSpec{
	{Name: "archive_name", Type: "string", Required: true, Label: "Archive name"},
	{Name: "scheme", Type: "string", ReadOnly: true, Label: "Scheme"},
	{Name: "root", Type: "string", ReadOnly: true, Label: "Root"},
	{Name: "resource_name", Type: "string", ReadOnly: true, Label: "Resource name"},
}

func (s *Server) registerLocationRoutes() {
	s.handle("resources/{name:"+slug+"}/locations/", &endpoint{
		name: "Location List",
		description: "The locations of a resource, local archives first, then remote, then offline. " +
			"Filters: archive, scheme (exact, ignoring case). Editors may add one.",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleLocationList},
			http.MethodPost: {handle: s.handleLocationCreate, perm: editors, fields: locationFields},
		},
	})
	s.handle("resources/{name:"+slug+"}/locations/{archive:"+slug+"}/", &endpoint{
		name:        "Location Detail",
		description: "One location of a resource. Editors may remove it.",
		methods: map[string]method{
			http.MethodGet:    {handle: s.handleLocationDetail},
			http.MethodDelete: {handle: s.handleLocationDelete, perm: editors},
		},
	})
}

func (s *Server) handleLocationList(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	q := r.URL.Query()
	f := registry.LocationFilter{Archive: q.Get("archive"), Scheme: q.Get("scheme")}
	// One query answers both what the locations are and whether the
	// registry serves the file itself.
	rs, err := s.store.ResolveResources(r.Context(), []string{name}, f)
	if err != nil {
		Error(w, r, err)
		return
	}
	// Old names of renamed resources were redirected before reaching here,
	// so a name that resolves to another is as good as unknown.
	if len(rs) != 1 || rs[0].Name != name {
		Error(w, r, registry.Errorf(registry.ENOTFOUND, registry.MsgNotFound))
		return
	}
	out := newLocationsJSON(rs[0].Locations)
	if f.IsZero() && rs[0].Downloadable {
		out = append(out, s.registryLocation(r, name))
	}
	renderJSON(w, r, http.StatusOK, out)
}

// registryLocation is the virtual location by which the registry serves
// resource name for download, addressed the way the client reached it:
// the client fetches <scheme>://<root><name>/.
func (s *Server) registryLocation(r *http.Request, name string) locationJSON {
	return locationJSON{
		ArchiveName:  registryArchive,
		Scheme:       s.requestScheme(r),
		Root:         s.requestHost(r) + s.cfg.Prefix + "download/",
		ResourceName: name,
	}
}

func (s *Server) handleLocationCreate(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	d, err := newFieldDecoder(r, false)
	if err != nil {
		Error(w, r, err)
		return
	}
	archive, _ := d.String("archive_name", fieldRule{required: true})
	if err := d.check(nil); err != nil {
		if _, ferr := s.store.FindResource(r.Context(), name); ferr != nil {
			err = ferr
		}
		Error(w, r, err)
		return
	}
	loc, err := s.store.AddLocation(actingAs(r), name, archive)
	if err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusCreated, newLocationJSON(loc))
}

func (s *Server) handleLocationDetail(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	loc, err := s.store.FindLocation(r.Context(), v["name"], v["archive"])
	if err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusOK, newLocationJSON(loc))
}

func (s *Server) handleLocationDelete(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if err := s.store.RemoveLocation(actingAs(r), v["name"], v["archive"]); err != nil {
		Error(w, r, err)
		return
	}
	renderNoContent(w)
}
