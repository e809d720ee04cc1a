// Package httpapi serves the neurobank registry protocol over HTTP: the
// routes of API.md, authentication and permissions, request decoding and
// JSON rendering. Handlers read input, call a registry.Store and render the
// result; the rules about records live in the registry and the store.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// Defaults of Config, and the limits of the protocol.
const (
	DefaultPrefix           = "/neurobank/"
	DefaultPageSize         = 100
	MaxPageSize             = 1000
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxBulkBodyBytes = 16 << 20

	// APIVersion is the version of the neurobank protocol that info/ reports.
	APIVersion = "1.0"
)

// Timeouts of NewHTTPServer. Streamed answers (bulk) push the write deadline
// forward chunk by chunk, so writeTimeout bounds a stalled client, not the
// length of an answer.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 2 * time.Minute
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Config is how a Server behaves. The zero value of a field means its
// default.
type Config struct {
	Prefix           string       // API root path, default "/neurobank/"; always starts and ends with "/"
	PageSize         int          // default page size of resources/, default 100
	TrustProxy       bool         // honour X-Forwarded-Proto / X-Forwarded-Host
	Sendfile         string       // "direct" (default), "nginx", "apache" — for downloads
	SendfilePrefix   string       // internal location of archive files for "nginx", default "/_nbreg_files"
	Version          string       // reported by info/
	Logger           *slog.Logger // nil: discard
	MaxBodyBytes     int64        // default 1 MiB
	MaxBulkBodyBytes int64        // default 16 MiB
	NoAccessLog      bool         // leave out the line per request; warnings and errors are still logged
	Metrics          bool         // count requests and read the store's figures for MetricsHandler
}

// withDefaults fills in the zero fields and tidies the prefix so that route
// templates can be built by plain concatenation.
func (c Config) withDefaults() Config {
	switch p := strings.Trim(strings.TrimSpace(c.Prefix), "/"); {
	case strings.TrimSpace(c.Prefix) == "":
		c.Prefix = DefaultPrefix
	case p == "":
		c.Prefix = "/"
	default:
		c.Prefix = "/" + p + "/"
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.PageSize > MaxPageSize {
		c.PageSize = MaxPageSize
	}
	if c.Sendfile == "" {
		c.Sendfile = "direct"
	}
	if p := strings.Trim(strings.TrimSpace(c.SendfilePrefix), "/"); p == "" {
		c.SendfilePrefix = DefaultSendfilePrefix
	} else {
		c.SendfilePrefix = "/" + p // the file's absolute path follows
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBulkBodyBytes <= 0 {
		c.MaxBulkBodyBytes = DefaultMaxBulkBodyBytes
	}
	return c
}

// Server is the registry's HTTP interface. It implements http.Handler and
// is safe for concurrent use.
type Server struct {
	store  registry.Store
	cfg    Config
	logger *slog.Logger
	router *mux.Router
	// endpoints lists every route in the order registered, for the API
	// documentation.
	endpoints []routeEntry

	// now is the clock of sessions, the credential cache and the sign-in
	// throttle.
	now func() time.Time

	credentials *credentialCache
	throttle    *signInThrottle

	// sessionKey is read from the store on first use and kept: it never
	// changes once created.
	sessionMu  sync.Mutex
	sessionKey []byte

	// draining is set by Drain: the readiness probe fails from then on.
	draining atomic.Bool

	// metrics is nil unless Config.Metrics is set (metrics.go).
	metrics *serverMetrics
}

// NewServer returns a Server answering from store.
func NewServer(store registry.Store, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		store:  store,
		cfg:    cfg,
		logger: cfg.Logger,
		router: mux.NewRouter(),
		now:    time.Now,
	}
	s.credentials = newCredentialCache(s.now)
	s.throttle = newSignInThrottle(s.now)

	// A cleaning redirect would turn a POST into a GET and lose the write;
	// unclean paths simply match no route.
	s.router.SkipClean(true)
	s.router.NotFoundHandler = http.HandlerFunc(handleNotFound)
	s.registerHealthRoutes()
	s.registerRootRoutes()
	s.registerDataTypeRoutes()
	s.registerArchiveRoutes()
	s.registerResourceRoutes()
	s.registerLocationRoutes()
	s.registerBulkRoutes()
	s.registerWebRoutes()
	s.registerHistoryRoutes()
	s.registerDownloadRoutes()
	if cfg.Metrics {
		s.metrics = newServerMetrics(s)
	}
	return s
}

// NewHTTPServer returns an http.Server serving h with timeouts that protect
// against slow or idle clients without cutting long streamed answers.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// ServeHTTP answers one request: it gives it an id, recovers panics, logs
// one line (probes excepted), and routes. Everything logged about the
// request carries its id.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r.Header.Get(RequestIDHeader))
	w.Header().Set(RequestIDHeader, id)
	logger := s.logger.With(slog.String("request_id", id))
	state := &requestState{logger: logger, server: s, html: wantsHTML(r)}
	r = r.WithContext(context.WithValue(r.Context(), requestStateKey{}, state))
	rw := &responseWriter{ResponseWriter: w, head: r.Method == http.MethodHead}
	path := r.URL.Path
	if s.metrics != nil {
		s.metrics.inFlight.Inc()
	}

	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler {
			logger.Error("panic while serving a request", "method", r.Method, "path", path, "panic", v, "stack", string(debug.Stack()))
			if !rw.wroteHeader {
				Error(rw, r, errPanic)
			}
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		if s.metrics != nil {
			s.metrics.inFlight.Dec()
			s.metrics.observe(state.routeLabel(), r.Method, status, rw.bytes, time.Since(start))
		}
		if !s.cfg.NoAccessLog && (state.endpoint == nil || !state.endpoint.probe) {
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", path),
				slog.Int("status", status),
				slog.Int64("bytes", rw.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("user", state.username()),
				slog.String("remote", r.RemoteAddr),
			)
		}
		if v == http.ErrAbortHandler {
			// Let net/http cut the connection: the client must not take a
			// truncated stream for a complete answer.
			panic(v)
		}
	}()
	s.route(rw, r)
}

// route serves r by the router, first dealing with a path that lacks its
// trailing slash: a GET or HEAD on a known route is redirected, any other
// method is served as if the slash were there, so no write is lost to a
// redirect.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/") {
		slashed := withSlash(r)
		var m mux.RouteMatch
		if s.router.Match(slashed, &m) && m.MatchErr == nil && m.Route != nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				if tpl, err := m.Route.GetPathTemplate(); err == nil {
					stateOf(r).route, _ = openAPIPath(tpl)
				}
				target := slashed.URL.EscapedPath()
				if slashed.URL.RawQuery != "" {
					target += "?" + slashed.URL.RawQuery
				}
				w.Header().Set("Location", target)
				w.WriteHeader(http.StatusMovedPermanently)
				return
			}
			r = slashed
		}
	}
	s.router.ServeHTTP(w, r)
}

// withSlash returns a shallow copy of r whose path ends in "/".
func withSlash(r *http.Request) *http.Request {
	u := *r.URL
	u.Path += "/"
	if u.RawPath != "" {
		u.RawPath += "/"
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &u
	return r2
}

// handleNotFound answers a path that no route matches.
func handleNotFound(w http.ResponseWriter, r *http.Request) {
	Error(w, r, errNoRoute)
}

// requestStateKey keys the requestState in a request's context.
type requestStateKey struct{}

// requestState is what the layers of one request learn and share: who is
// signed in (for handlers and the log line), the decoded body, and where to
// log.
type requestState struct {
	logger *slog.Logger
	user   *registry.User
	body   *requestBody
	// bodyErr is remembered with body so that a body is read only once.
	bodyErr  error
	bodyRead bool

	// Web interface (html.go): the server and endpoint answering, whether
	// the answer is a page rather than JSON, and the failed form being
	// shown again.
	server   *Server
	endpoint *endpoint
	html     bool
	rerender *formState

	// route is the template of the route answering, as the API
	// documentation writes it, for the metrics.
	route string
}

// routeLabel is the route of the metrics of the request.
func (st *requestState) routeLabel() string {
	if st.route == "" {
		return routeNone
	}
	return st.route
}

func (st *requestState) username() string {
	if st == nil || st.user == nil {
		return ""
	}
	return st.user.Username
}

// stateOf returns the state of r, or a fresh one for a request that did not
// come through ServeHTTP.
func stateOf(r *http.Request) *requestState {
	if st, ok := r.Context().Value(requestStateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{logger: slog.New(slog.DiscardHandler)}
}

// currentUser returns the signed-in user of r, or nil for an anonymous one.
func currentUser(r *http.Request) *registry.User {
	return stateOf(r).user
}

// responseWriter records the status and size of an answer for the log line
// and swallows the body of HEAD answers.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	head        bool
}

func (w *responseWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.head {
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush sends what was written so far; bulk answers stream through it.
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom passes a download's *os.File on to net/http, which sends it with
// sendfile(2) instead of copying it through user space.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.head {
		return io.Copy(io.Discard, src)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

// writerOnly hides every method of a writer but Write, so io.Copy cannot
// call back into ReadFrom.
type writerOnly struct{ io.Writer }
