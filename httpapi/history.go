package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// changeJSON is one entry of a resource's history as clients see it. Old
// and new are the JSON values before and after (null when there was none);
// field says what an update changed ("sha1", "dtype", "metadata.<key>").
type changeJSON struct {
	Resource string          `json:"resource"`
	Action   string          `json:"action"`
	Field    string          `json:"field"`
	Old      json.RawMessage `json:"old"`
	New      json.RawMessage `json:"new"`
	User     string          `json:"user"`
	Time     jsonTime        `json:"time"`
}

func newChangeJSON(c *registry.Change) changeJSON {
	out := changeJSON{Resource: c.Resource, Action: c.Action, Field: c.Field, Old: c.Old, New: c.New, User: c.User, Time: jsonTime(c.Time)}
	if out.Old == nil {
		out.Old = json.RawMessage("null")
	}
	if out.New == nil {
		out.New = json.RawMessage("null")
	}
	return out
}

func (s *Server) registerHistoryRoutes() {
	s.handle("resources/{name:"+slug+"}/history/", &endpoint{
		name: "Resource History",
		description: "Every change to a resource, newest first, paginated like the resource list: " +
			"create, each metadata key, sha1 and dtype change, location added or removed, rename and delete, " +
			"with who made it and when. A deleted resource keeps its history.",
		methods: map[string]method{
			http.MethodGet: {handle: s.handleHistory, result: []changeJSON{}},
		},
	})
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	// The store lists a renamed resource's history under its old name too;
	// the URL of the old name leads to the new one, as every resource URL
	// does.
	if s.redirectRenamed(w, r) {
		return
	}
	count, err := s.store.CountHistory(r.Context(), name)
	if err != nil {
		Error(w, r, err)
		return
	}
	q := r.URL.Query()
	p, err := paginate(q, count, s.cfg.PageSize)
	if err != nil {
		Error(w, r, err)
		return
	}
	cs, err := s.store.History(r.Context(), name, registry.HistoryFilter{Limit: p.size, Offset: p.offset()})
	if err != nil {
		Error(w, r, err)
		return
	}
	out := make([]changeJSON, 0, len(cs))
	for i := range cs {
		out = append(out, newChangeJSON(&cs[i]))
	}
	if link := p.linkHeader(s.requestScheme(r)+"://"+s.requestHost(r)+r.URL.EscapedPath(), q); link != "" {
		w.Header().Set("Link", link)
	}
	renderJSON(w, r, http.StatusOK, out)
}

// actingAs returns the context of r carrying its signed-in user, so that
// the store records who made a change it takes no user argument for.
func actingAs(r *http.Request) context.Context {
	return registry.NewContextWithUser(r.Context(), currentUser(r))
}
