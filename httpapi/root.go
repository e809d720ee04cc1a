package httpapi

import (
	"net/http"
	"strings"
)

// registerRootRoutes registers the API root, info/ and the redirect from
// the site root.
func (s *Server) registerRootRoutes() {
	if s.cfg.Prefix != "/" {
		s.handleAt("/", &endpoint{
			name:        "Home",
			description: "Redirects to the API root.",
			methods:     map[string]method{http.MethodGet: {handle: s.handleHome, status: http.StatusFound}},
		})
	}
	s.handle("", &endpoint{
		name:        "Api Root",
		description: "The entry points of the registry.",
		methods:     map[string]method{http.MethodGet: {handle: s.handleAPIRoot, result: rootJSON{}}},
	})
	s.handle("info/", &endpoint{
		name:        "Api Info",
		description: "The name and version of this registry and of the protocol it speaks.",
		methods:     map[string]method{http.MethodGet: {handle: s.handleInfo, result: infoJSON{}}},
	})
}

// handleHome redirects the site root to the API root.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	// No HTML body, unlike http.Redirect: clients of this API read JSON.
	w.Header().Set("Location", s.cfg.Prefix)
	w.WriteHeader(http.StatusFound)
}

// rootJSON lists the entry points of the API.
type rootJSON struct {
	Info      string `json:"info"`
	Resources string `json:"resources"`
	DataTypes string `json:"datatypes"`
	Archives  string `json:"archives"`
}

func (s *Server) handleAPIRoot(w http.ResponseWriter, r *http.Request) {
	root := s.rootURL(r)
	renderJSON(w, r, http.StatusOK, rootJSON{
		Info:      root + "info/",
		Resources: root + "resources/",
		DataTypes: root + "datatypes/",
		Archives:  root + "archives/",
	})
}

// infoJSON says what this registry is.
type infoJSON struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	renderJSON(w, r, http.StatusOK, infoJSON{Name: "nbreg", Version: s.cfg.Version, APIVersion: APIVersion})
}

// requestScheme is "http" or "https" as the client reached the server:
// behind a trusted proxy, as the proxy says it was reached.
func (s *Server) requestScheme(r *http.Request) string {
	if s.cfg.TrustProxy {
		if proto := firstValue(r.Header.Get("X-Forwarded-Proto")); proto == "http" || proto == "https" {
			return proto
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// requestHost is the host[:port] the client addressed. A forwarded host
// that is not a plain host[:port] is ignored rather than pasted into links.
func (s *Server) requestHost(r *http.Request) string {
	if s.cfg.TrustProxy {
		if host := firstValue(r.Header.Get("X-Forwarded-Host")); host != "" && isHostPort(host) {
			return host
		}
	}
	return r.Host
}

// isHostPort reports whether s can only be a host name or address with an
// optional port: nothing that would change the path or the user of a URL.
func isHostPort(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// firstValue returns the first of a comma-separated header's values, which
// is the one the outermost proxy set.
func firstValue(header string) string {
	v, _, _ := strings.Cut(header, ",")
	return strings.ToLower(strings.TrimSpace(v))
}

// rootURL is the absolute URL of the API root as the client reached it, so
// that links lead back the same way.
func (s *Server) rootURL(r *http.Request) string {
	return s.requestScheme(r) + "://" + s.requestHost(r) + s.cfg.Prefix
}
