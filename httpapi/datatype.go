package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// dataTypeFields describes the body of a datatype, for OPTIONS.
var dataTypeFields = []fieldSpec{
	{Name: "name", Type: "string", Required: true, Label: "Name", MaxLength: registry.MaxDataTypeName},
	{Name: "content_type", Type: "string", Label: "Content type", MaxLength: registry.MaxContentType},
	{Name: "extension", Type: "string", Label: "Extension", MaxLength: registry.MaxExtension},
	{Name: "downloadable", Type: "boolean", Label: "Downloadable"},
}

func (s *Server) registerDataTypeRoutes() {
	s.handle("datatypes/", &endpoint{
		name:        "Datatype List",
		description: "The datatypes of the registry, ordered by name. Editors may add one.",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleDataTypeList, result: []dataTypeJSON{}},
			http.MethodPost: {handle: s.handleDataTypeCreate, perm: editors, fields: dataTypeFields, result: dataTypeJSON{}},
		},
	})
	s.handle("datatypes/{name:"+slug+"}/", &endpoint{
		name:        "Datatype Detail",
		description: "One datatype. Datatypes change only from the command line.",
		methods: map[string]method{
			http.MethodGet: {handle: s.handleDataTypeDetail, result: dataTypeJSON{}},
		},
	})
}

func (s *Server) handleDataTypeList(w http.ResponseWriter, r *http.Request) {
	ds, err := s.store.ListDataTypes(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	out := make([]dataTypeJSON, 0, len(ds))
	for i := range ds {
		out = append(out, newDataTypeJSON(&ds[i]))
	}
	renderJSON(w, r, http.StatusOK, out)
}

func (s *Server) handleDataTypeCreate(w http.ResponseWriter, r *http.Request) {
	d, err := newFieldDecoder(r, false)
	if err != nil {
		Error(w, r, err)
		return
	}
	var dt registry.DataType
	dt.Name, _ = d.String("name", fieldRule{required: true})
	dt.ContentType, _ = d.String("content_type", fieldRule{allowBlank: true})
	dt.Extension, _ = d.String("extension", fieldRule{allowBlank: true})
	dt.Downloadable, _ = d.Bool("downloadable", fieldRule{})
	dt.Normalize()
	if err := d.check(dt.Validate()); err != nil {
		Error(w, r, err)
		return
	}
	if err := s.store.CreateDataType(r.Context(), &dt); err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusCreated, newDataTypeJSON(&dt))
}

func (s *Server) handleDataTypeDetail(w http.ResponseWriter, r *http.Request) {
	dt, err := s.store.FindDataType(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		Error(w, r, err)
		return
	}
	renderJSON(w, r, http.StatusOK, newDataTypeJSON(dt))
}
