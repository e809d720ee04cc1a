package httpapi

import (
	"context"
	"net/http"
	"time"
)

// Paths of the probes. They sit at the root of the site whatever the API
// prefix, where load balancers and service managers look for them.
const (
	HealthPath = "/healthz"
	ReadyPath  = "/readyz"
)

// readyTimeout bounds the database query of a readiness probe: a database
// slower than this is as good as gone to a load balancer.
const readyTimeout = time.Second

// Details of an unready server.
const (
	msgShuttingDown   = "The server is shutting down."
	msgDatabaseSilent = "The database does not answer."
)

// registerHealthRoutes registers the liveness and readiness probes.
// Probe endpoints answer anyone without looking at credentials (a probe
// sent with a stale cookie must not fail), and ServeHTTP leaves them out
// of the access log, which they would otherwise fill every few seconds.
func (s *Server) registerHealthRoutes() {
	s.handleAt(HealthPath, &endpoint{
		name:        "Health",
		description: "Answers 200 while the process runs, whatever the state of the database: a liveness probe.",
		methods:     map[string]method{http.MethodGet: {handle: s.handleHealth, result: statusJSON{}}},
		probe:       true,
		tag:         "health",
	})
	s.handleAt(ReadyPath, &endpoint{
		name: "Ready",
		description: "Answers 200 when the database answers a query within a second, and 503 otherwise or once the " +
			"server is shutting down, so that a load balancer stops sending requests before the server stops taking them.",
		methods: map[string]method{http.MethodGet: {handle: s.handleReady, result: statusJSON{},
			errors: []apiError{{http.StatusServiceUnavailable, "the database does not answer, or the server is shutting down: {\"detail\": ...}"}}}},
		probe: true,
		tag:   "health",
	})
}

// statusJSON is the answer of a probe that succeeds.
type statusJSON struct {
	Status string `json:"status"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	renderJSON(w, r, http.StatusOK, statusJSON{"ok"})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		renderJSON(w, r, http.StatusServiceUnavailable, detailJSON{msgShuttingDown})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		stateOf(r).logger.Warn("not ready: the database does not answer", "error", err)
		renderJSON(w, r, http.StatusServiceUnavailable, detailJSON{msgDatabaseSilent})
		return
	}
	renderJSON(w, r, http.StatusOK, statusJSON{"ready"})
}

// Drain makes the readiness probe answer 503 from now on, while every
// other request is still served: the first step of a graceful shutdown,
// which gives load balancers time to send requests elsewhere before the
// listener closes.
func (s *Server) Drain() { s.draining.Store(true) }
