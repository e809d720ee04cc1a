package httpapi

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// redirectRenamed answers a request for a renamed resource's old name with
// a redirect to its new name, and reports whether it did, so that links
// written before the rename (in notebooks, papers, scripts) keep working:
// the old name never comes to mean anything else. Reads are answered 301
// as the contract says; other methods get 308, which keeps the method and
// the body, so a client that follows it writes to the resource the old
// name means rather than losing the write or turning it into a GET. The
// Location keeps the rest of the path and the query.
//
// It is asked only once a name was not found (see Error), so that requests
// for current names, nearly all of them, pay nothing for it.
func (s *Server) redirectRenamed(w http.ResponseWriter, r *http.Request) bool {
	name, ok := mux.Vars(r)["name"]
	route := mux.CurrentRoute(r)
	if !ok || route == nil {
		return false
	}
	tpl, err := route.GetPathTemplate()
	if err != nil || !(strings.HasPrefix(tpl, s.cfg.Prefix+"resources/{name:") || strings.HasPrefix(tpl, s.cfg.Prefix+"download/{name:")) {
		return false
	}
	current, err := s.store.ResolveName(r.Context(), name)
	if err != nil || current == name {
		// Unknown names are the handler's to refuse; a failing store
		// too, in its usual words.
		return false
	}
	// Names are slugs, so the path's escaped form holds the name as is:
	// the segment right after "resources/" or "download/".
	path := r.URL.EscapedPath()
	rest := strings.TrimPrefix(path, s.cfg.Prefix)
	segment, tail, _ := strings.Cut(rest, "/")
	_, after, _ := strings.Cut(tail, "/")
	target := s.cfg.Prefix + segment + "/" + current + "/" + after
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	status := http.StatusPermanentRedirect
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		status = http.StatusMovedPermanently
	}
	w.Header().Del("Content-Type")
	w.Header().Set("Location", target)
	w.WriteHeader(status)
	return true
}
