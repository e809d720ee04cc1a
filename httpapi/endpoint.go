package httpapi

import (
	"net/http"
	"strings"

	"nbreg/registry"
)

// permission says who may call a method of an endpoint.
type permission int

const (
	anyone  permission = iota // anonymous included
	editors                   // editors and administrators
	admins                    // administrators only
)

// allows reports whether user (nil when anonymous) has p.
func (p permission) allows(user *registry.User) bool {
	switch p {
	case anyone:
		return true
	case editors:
		return user != nil && user.Role.CanWrite()
	case admins:
		return user != nil && user.Role.IsAdmin()
	}
	return false
}

// method is how an endpoint serves one HTTP method.
type method struct {
	handle http.HandlerFunc
	perm   permission
	// fields describe the body this method accepts, for OPTIONS and the
	// API documentation.
	fields []fieldSpec
	// query lists the query parameters the method reads, and result is a
	// zero value of what it answers (a wire type, or a slice of one), for
	// the API documentation (openapi.go). Both are optional.
	query  []paramSpec
	result any
	// status is the status of success when not the method's usual one
	// (GET, PUT, PATCH 200; POST 201; DELETE 204).
	status int
	// errors, for probes, are the only refusals the documentation lists.
	errors []apiError
}

// endpoint is one route of the API: a path template and the methods it
// serves. The dispatcher around the methods authenticates, answers OPTIONS
// and HEAD, refuses other methods with 405, checks permissions and bounds
// the body, so handlers only do their own work.
type endpoint struct {
	name        string
	description string
	methods     map[string]method
	// bulk endpoints accept larger bodies.
	bulk bool
	// raw endpoints write their own answers (documents, static files) and
	// are never turned into pages of the web interface.
	raw bool
	// tag groups the endpoint in the API documentation; "" puts it under
	// its first path segment.
	tag string
	// probe endpoints (health.go) answer anyone without authenticating,
	// are never pages and are left out of the access log.
	probe bool
}

// methodOrder is the order in which Allow lists methods.
var methodOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowed lists the methods e serves, for Allow and OPTIONS.
func (e *endpoint) allowed() []string {
	var out []string
	for _, m := range methodOrder {
		if _, ok := e.methods[m]; ok {
			out = append(out, m)
		}
	}
	if _, ok := e.methods[http.MethodGet]; ok {
		out = append(out, http.MethodHead)
	}
	return append(out, http.MethodOptions)
}

// handle registers e under path, relative to the API root.
func (s *Server) handle(path string, e *endpoint) {
	s.handleAt(s.cfg.Prefix+path, e)
}

// handleAt registers e under an absolute path template. Every route is
// registered here, so that the API documentation (openapi.go), made from
// s.endpoints, lists exactly what the router serves.
func (s *Server) handleAt(template string, e *endpoint) {
	s.endpoints = append(s.endpoints, routeEntry{template: template, endpoint: e})
	route, _ := openAPIPath(template)
	s.router.Handle(template, s.serveEndpoint(e, route))
}

// routeEntry is one registered route: its path template and endpoint.
type routeEntry struct {
	template string
	endpoint *endpoint
}

// slug is the route pattern of a name in a path: a segment that is not a
// slug matches no route and is answered 404 "not found".
const slug = "[A-Za-z0-9_-]+"

// serveEndpoint returns the dispatcher of e, registered at route (a
// template as the API documentation writes it).
func (s *Server) serveEndpoint(e *endpoint, route string) http.Handler {
	allow := strings.Join(e.allowed(), ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		limit := s.cfg.MaxBodyBytes
		if e.bulk {
			limit = s.cfg.MaxBulkBodyBytes
		}
		if r.ContentLength > limit {
			Error(w, r, errBodyTooLarge)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}

		st := stateOf(r)
		st.endpoint = e
		st.route = route
		if e.raw || e.probe {
			st.html = false
		}
		overrideMethod(r)
		if st.html && redirectSearchForm(w, r) {
			return
		}
		if st.html && !isSafeMethod(r.Method) {
			w = &formResponseWriter{ResponseWriter: w, r: r, prefix: s.cfg.Prefix}
		}

		// Credentials are checked on every request, reads included: wrong
		// ones are refused even where none are needed.
		var user *registry.User
		if !e.probe {
			var err error
			if user, err = s.authenticate(w, r); err != nil {
				Error(w, r, err)
				return
			}
		}
		stateOf(r).user = user

		name := r.Method
		if name == http.MethodHead {
			name = http.MethodGet
		}
		if name == http.MethodOptions {
			s.handleOptions(w, r, e)
			return
		}
		m, ok := e.methods[name]
		if !ok {
			Error(w, r, methodNotAllowed(r.Method))
			return
		}
		if !m.perm.allows(user) {
			if user == nil {
				Error(w, r, errNotSignedIn)
			} else {
				Error(w, r, errNotPermitted)
			}
			return
		}
		m.handle(w, r)
	})
}

// fieldSpec describes one field of a body for OPTIONS.
type fieldSpec struct {
	Name      string
	Type      string
	Required  bool
	ReadOnly  bool
	Label     string
	MaxLength int
	Choices   []string
}

// fieldSpecs renders as an object keyed by field name, in order.
type fieldSpecs []fieldSpec

// MarshalJSON implements json.Marshaler.
func (fs fieldSpecs) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, f := range fs {
		if i > 0 {
			buf = append(buf, ',')
		}
		key, err := encodeJSON(f.Name)
		if err != nil {
			return nil, err
		}
		val, err := encodeJSON(newFieldJSON(f))
		if err != nil {
			return nil, err
		}
		buf = append(buf, key...)
		buf = append(buf, ':')
		buf = append(buf, val...)
	}
	return append(buf, '}'), nil
}

// fieldJSON is the OPTIONS description of a field, in the style of Django
// REST framework's metadata.
type fieldJSON struct {
	Type      string       `json:"type"`
	Required  bool         `json:"required"`
	ReadOnly  bool         `json:"read_only"`
	Label     string       `json:"label"`
	MaxLength int          `json:"max_length,omitempty"`
	Choices   []choiceJSON `json:"choices,omitempty"`
}

type choiceJSON struct {
	Value       string `json:"value"`
	DisplayName string `json:"display_name"`
}

func newFieldJSON(f fieldSpec) fieldJSON {
	out := fieldJSON{Type: f.Type, Required: f.Required, ReadOnly: f.ReadOnly, Label: f.Label, MaxLength: f.MaxLength}
	for _, c := range f.Choices {
		out.Choices = append(out.Choices, choiceJSON{Value: c, DisplayName: c})
	}
	return out
}

// optionsJSON is the answer to OPTIONS.
type optionsJSON struct {
	Name           string                `json:"name"`
	Description    string                `json:"description"`
	AllowedMethods []string              `json:"allowed_methods"`
	Renders        []string              `json:"renders"`
	Parses         []string              `json:"parses"`
	Actions        map[string]fieldSpecs `json:"actions,omitempty"`
}

// Media types the API renders and parses, for OPTIONS.
var (
	rendersMediaTypes = []string{"application/json"}
	parsesMediaTypes  = []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}
)

// handleOptions describes e: what it is, which methods it serves and what
// bodies its writes take.
func (s *Server) handleOptions(w http.ResponseWriter, r *http.Request, e *endpoint) {
	out := optionsJSON{
		Name:           e.name,
		Description:    e.description,
		AllowedMethods: e.allowed(),
		Renders:        rendersMediaTypes,
		Parses:         parsesMediaTypes,
	}
	for _, name := range []string{http.MethodPost, http.MethodPut} {
		if m, ok := e.methods[name]; ok && m.fields != nil {
			if out.Actions == nil {
				out.Actions = map[string]fieldSpecs{}
			}
			out.Actions[name] = m.fields
		}
	}
	renderJSON(w, r, http.StatusOK, out)
}
