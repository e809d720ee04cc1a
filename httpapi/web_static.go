package httpapi

import (
	"io/fs"
	"net/http"

	"github.com/gorilla/mux"

	"nbreg/assets"
)

// registerWebRoutes registers what the web interface needs besides the
// API's own URLs: sign-in and sign-out, its static files, the API
// documentation and the pages where users are managed.
func (s *Server) registerWebRoutes() {
	s.registerWebAuthRoutes()
	static, err := fs.Sub(assets.FS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	s.handle("static/{file:[A-Za-z0-9_-]+\\.[a-z]+}", &endpoint{
		name:        "Static File",
		description: "The stylesheet and script of the web interface, embedded in the binary.",
		tag:         "web",
		raw:         true,
		methods: map[string]method{
			http.MethodGet: {handle: func(w http.ResponseWriter, r *http.Request) {
				name := mux.Vars(r)["file"]
				if _, err := fs.Stat(static, name); err != nil {
					Error(w, r, errNoRoute)
					return
				}
				w.Header().Set("Cache-Control", "public, max-age=3600")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				http.ServeFileFS(w, r, static, name)
			}},
		},
	})
	s.registerDocRoutes()
	s.registerUserRoutes()
}
