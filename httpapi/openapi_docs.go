package httpapi

import (
	"net/http"
	"strings"
)

// registerDocRoutes registers the API documentation: the OpenAPI document
// for tools and the docs/ page for people, both made from s.operations.
func (s *Server) registerDocRoutes() {
	s.handle("openapi.json", &endpoint{
		name:        "OpenAPI Document",
		description: "This API described in OpenAPI 3.1, generated from the routes the server is built from.",
		tag:         "docs",
		raw:         true,
		methods:     map[string]method{http.MethodGet: {handle: s.handleOpenAPI}},
	})
	s.handle("docs/", &endpoint{
		name:        "API Documentation",
		description: "Every endpoint, method, parameter, body field and error, as an HTML page.",
		tag:         "docs",
		raw:         true,
		methods:     map[string]method{http.MethodGet: {handle: s.handleDocs}},
	})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	// raw endpoints are never pages: this is JSON for browsers too.
	renderJSON(w, r, http.StatusOK, s.openAPIDocument(s.requestScheme(r)+"://"+s.requestHost(r)))
}

// docsView is the content of the documentation page.
type docsView struct {
	Groups []docsGroup
}

// docsGroup is the operations of one route.
type docsGroup struct {
	Path        string
	Anchor      string
	Name        string
	Description string
	Operations  []apiOperation
}

func (s *Server) handleDocs(w http.ResponseWriter, r *http.Request) {
	var view docsView
	index := map[string]int{}
	for _, op := range s.operations() {
		i, ok := index[op.Path]
		if !ok {
			i = len(view.Groups)
			index[op.Path] = i
			anchor := strings.NewReplacer("/", "-", "{", "", "}", "", ".", "-").Replace(strings.Trim(op.Path, "/"))
			if anchor == "" {
				anchor = "site-root"
			}
			view.Groups = append(view.Groups, docsGroup{Path: op.Path, Anchor: anchor, Name: op.Name, Description: op.Description})
		}
		view.Groups[i].Operations = append(view.Groups[i].Operations, op)
	}
	p := s.newPage(r, "docs", "API documentation", http.StatusOK)
	p.Content = view
	s.writePage(w, r, p)
}

// ResultName names the type an operation answers, for the docs page.
func (op apiOperation) ResultName() string {
	switch {
	case op.Success == http.StatusNoContent:
		return "no body"
	case op.Result != nil:
		return typeName(op.Result.String())
	case op.ResultFields != nil:
		return "the record"
	}
	return op.MediaType
}

// typeName turns a Go type into what the docs page calls it: []httpapi.resourceJSON
// becomes "list of Resource".
func typeName(goType string) string {
	list := strings.HasPrefix(goType, "[]")
	name := strings.TrimPrefix(goType, "[]")
	if i := strings.LastIndex(name, "."); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSuffix(name, "JSON")
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	if list {
		return "list of " + name
	}
	return name
}

// IsBodyless reports whether an operation is HEAD or OPTIONS, which the
// docs page lists briefly.
func (op apiOperation) IsBodyless() bool {
	return op.Method == http.MethodHead || op.Method == http.MethodOptions
}
