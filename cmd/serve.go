package cmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"nbreg/httpapi"
)

// shutdownTimeout is how long a shutdown waits for requests in flight.
const shutdownTimeout = 30 * time.Second

// defaultDrain is how long a shutdown keeps serving with /readyz failing,
// by default: a few of a load balancer's probes.
const defaultDrain = 5 * time.Second

// logLevels and logFormats are the values of --log-level and --log-format.
var (
	logLevels  = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	logFormats = []string{"text", "json"}
)

// maxPageSize is the largest --page-size; a larger one would be capped by
// the server without a word, so it is refused instead.
const maxPageSize = httpapi.MaxPageSize

// sendfileModes are the ways a download can reach the client: streamed by
// nbreg itself, or handed to a fronting nginx (X-Accel-Redirect) or Apache
// (X-Sendfile).
var sendfileModes = []string{"direct", "nginx", "apache"}

// serveOptions are the flags of serve.
type serveOptions struct {
	addr       string
	prefix     string
	pageSize   int
	sendfile   string
	sfPrefix   string
	trustProxy bool
	tlsCert    string
	tlsKey     string
	pprof      string
	metrics    string
	logLevel   string
	logFormat  string
	accessLog  bool
	drain      time.Duration

	// fromEnv lists the flags set from their environment variable, so
	// that a refusal names what the administrator wrote.
	fromEnv map[string]bool
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry over HTTP",
		Long: `Serve the registry's HTTP API until interrupted.

Pending database migrations are applied first, so serve alone works on a
fresh machine; a database written by a newer nbreg is refused. One line is
logged to stderr per request (--access-log=false leaves it out), carrying
the request's id, which is also sent back as X-Request-Id.

GET /healthz answers 200 while the process runs; GET /readyz answers 200
while the database answers a query within a second, and 503 otherwise.
Both sit at the root of the site, whatever --prefix, need no credentials
and are not logged.

On SIGINT or SIGTERM, /readyz answers 503 at once while everything else is
still served for --drain, so that a load balancer stops sending requests;
then the server stops taking connections, lets requests in flight finish
(for up to 30 seconds), closes the database and exits with status 0. A
second signal stops it at once.

Every flag may also be given as an environment variable named after it,
NBREG_ADDR, NBREG_TRUST_PROXY, NBREG_LOG_FORMAT and so on (as --help lists;
NBREG_DB and NBREG_DB_MAX_CONNS for the global flags); a flag on the
command line wins over its variable.

Other nbreg commands may change the same database while serve runs; the
server sees their changes at once.`,
		Example: `  # listen on the default address, http://127.0.0.1:8000/neurobank/
  nbreg serve

  # listen on every interface, port 8080, under /registry/
  nbreg serve --addr :8080 --prefix /registry/

  # let the system pick a free port (the address is printed on stderr)
  nbreg serve --addr 127.0.0.1:0

  # behind nginx doing TLS, which also serves downloads from disk
  nbreg serve --trust-proxy --sendfile nginx

  # serve HTTPS directly
  nbreg serve --addr :8443 --tls-cert /etc/nbreg/cert.pem --tls-key /etc/nbreg/key.pem

  # list 50 resources per page instead of 100
  nbreg serve --page-size 50

  # let go tool pprof and nbreg loadtest look inside the running server
  nbreg serve --pprof 127.0.0.1:6060

  # let Prometheus scrape http://127.0.0.1:9464/metrics
  nbreg serve --metrics 127.0.0.1:9464

  # as a service: settings from the environment, JSON logs, warnings only
  NBREG_ADDR=:8000 NBREG_LOG_FORMAT=json NBREG_ACCESS_LOG=false nbreg serve`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			// The database's variable is read where --db is, for every command.
			fromEnv, err := flagsFromEnvironment(c.Flags(), "db")
			if err != nil {
				return err
			}
			o.fromEnv = fromEnv
			return serve(c, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8000", "host:port to listen on; port 0 picks a free port (e.g. --addr :8080)")
	f.StringVar(&o.prefix, "prefix", "/neurobank/", "URL path under which the API is served (e.g. --prefix /registry/)")
	f.IntVar(&o.pageSize, "page-size", 100, fmt.Sprintf("resources per page of a list, 1 to %d (e.g. --page-size 50)", maxPageSize))
	f.StringVar(&o.sendfile, "sendfile", "direct", "how downloads are sent: direct (by nbreg), nginx (X-Accel-Redirect) or apache (X-Sendfile) (e.g. --sendfile nginx)")
	f.StringVar(&o.sfPrefix, "sendfile-prefix", httpapi.DefaultSendfilePrefix, "with --sendfile nginx, the internal location under which nginx serves archive files by absolute path (e.g. --sendfile-prefix /_files)")
	f.BoolVar(&o.trustProxy, "trust-proxy", false, "take the scheme and host of links from X-Forwarded-Proto and X-Forwarded-Host, as set by a reverse proxy (e.g. --trust-proxy)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain; needs --tls-key (e.g. --tls-cert cert.pem)")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert (e.g. --tls-key key.pem)")
	f.StringVar(&o.pprof, "pprof", "", "also serve Go's runtime profiles (/debug/pprof/) on this separate host:port, for diagnosis; keep it on a loopback address (e.g. --pprof 127.0.0.1:6060)")
	f.StringVar(&o.metrics, "metrics", "", "also serve Prometheus metrics (/metrics) on this separate host:port; keep it where only the monitoring can reach it (e.g. --metrics 127.0.0.1:9464)")
	f.StringVar(&o.logLevel, "log-level", "info", "the least important messages logged: debug, info, warn or error; above info, requests are not logged (e.g. --log-level warn)")
	f.StringVar(&o.logFormat, "log-format", "text", "how stderr is written: text (key=value lines) or json (one JSON object a line) (e.g. --log-format json)")
	f.BoolVar(&o.accessLog, "access-log", true, "log one line per request; warnings and errors are logged either way (e.g. --access-log=false)")
	f.DurationVar(&o.drain, "drain", defaultDrain, "on SIGINT or SIGTERM, how long /readyz answers 503 before the server stops taking connections; 0 stops at once (e.g. --drain 10s)")
	announceEnvironment(f)
	return c
}

// source names how flag was given, for a refusal: the flag itself, or the
// environment variable it came from.
func (o *serveOptions) source(flag string) string {
	if o.fromEnv[flag] {
		return envName(flag)
	}
	return "--" + flag
}

// check refuses flag values that make no sense, before anything is opened.
func (o *serveOptions) check() error {
	if !slices.Contains(sendfileModes, o.sendfile) {
		return fmt.Errorf("%s must be one of %s, not %q", o.source("sendfile"), strings.Join(sendfileModes, ", "), o.sendfile)
	}
	if o.pageSize < 1 || o.pageSize > maxPageSize {
		return fmt.Errorf("%s must be between 1 and %d, not %d", o.source("page-size"), maxPageSize, o.pageSize)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return fmt.Errorf("%s and %s go together: give both or neither", o.source("tls-cert"), o.source("tls-key"))
	}
	if _, ok := logLevels[o.logLevel]; !ok {
		return fmt.Errorf("%s must be one of debug, info, warn, error, not %q", o.source("log-level"), o.logLevel)
	}
	if !slices.Contains(logFormats, o.logFormat) {
		return fmt.Errorf("%s must be one of %s, not %q", o.source("log-format"), strings.Join(logFormats, ", "), o.logFormat)
	}
	if o.drain < 0 {
		return fmt.Errorf("%s must not be negative, not %s", o.source("drain"), o.drain)
	}
	o.prefix = normalizePrefix(o.prefix)
	return nil
}

// normalizePrefix returns prefix with exactly one leading and one trailing
// slash, so "neurobank", "/neurobank" and "/neurobank/" mean the same.
func normalizePrefix(prefix string) string {
	p := strings.Trim(strings.TrimSpace(prefix), "/")
	if p == "" {
		return "/"
	}
	return "/" + p + "/"
}

func serve(c *cobra.Command, o serveOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	logger := o.logger(c.ErrOrStderr())
	if o.logFormat == "json" {
		// From here on, what serve says about itself goes into the log
		// too, so that a collector reading stderr only ever sees JSON.
		c.SetErr(&logLines{logger: logger})
	}
	stderr := c.ErrOrStderr()
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("cannot load the TLS certificate and key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	store, path, err := openStore(c, true)
	if err != nil {
		return err
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			store.Close()
		}
	}()

	// Listening before serving makes a taken port fail here, at once, and
	// tells us the real port when --addr asks for port 0.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return listenError(o.addr, err)
	}

	handler := httpapi.NewServer(store.store, httpapi.Config{
		Prefix:           o.prefix,
		PageSize:         o.pageSize,
		TrustProxy:       o.trustProxy,
		Sendfile:         o.sendfile,
		SendfilePrefix:   o.sfPrefix,
		Version:          buildVersion().version,
		Logger:           logger,
		MaxBodyBytes:     httpapi.DefaultMaxBodyBytes,
		MaxBulkBodyBytes: httpapi.DefaultMaxBulkBodyBytes,
		NoAccessLog:      !o.accessLog,
		Metrics:          o.metrics != "",
	})
	srv := httpapi.NewHTTPServer(handler)
	if srv.ErrorLog == nil {
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}

	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		srv.TLSConfig = tlsConfig
	}
	fmt.Fprintf(stderr, "nbreg: serving %s://%s%s (database %s)\n", scheme, ln.Addr(), o.prefix, path)

	if o.pprof != "" {
		pln, err := net.Listen("tcp", o.pprof)
		if err != nil {
			ln.Close()
			return listenError(o.pprof, err)
		}
		defer pln.Close()
		fmt.Fprintf(stderr, "nbreg: runtime profiles at http://%s/debug/pprof/\n", pln.Addr())
		go http.Serve(pln, profilesHandler())
	}
	if o.metrics != "" {
		mln, err := net.Listen("tcp", o.metrics)
		if err != nil {
			ln.Close()
			return listenError(o.metrics, err)
		}
		defer mln.Close()
		fmt.Fprintf(stderr, "nbreg: metrics at http://%s/metrics\n", mln.Addr())
		mux := http.NewServeMux()
		mux.Handle("/metrics", handler.MetricsHandler())
		go (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(mln)
	}

	ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-served:
		return fmt.Errorf("the server stopped: %w", err)
	case <-ctx.Done():
	}
	// A second interrupt while requests drain kills the process at once,
	// as an impatient administrator expects.
	stop()
	handler.Drain()
	if o.drain > 0 {
		fmt.Fprintf(stderr, "nbreg: draining: /readyz answers 503; still serving for %s\n", o.drain)
		select {
		case err := <-served:
			return fmt.Errorf("the server stopped: %w", err)
		case <-time.After(o.drain):
		}
	}
	fmt.Fprintln(stderr, "nbreg: shutting down; waiting for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
		return fmt.Errorf("requests in flight did not finish within %s and were cut off", shutdownTimeout)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("the server stopped: %w", err)
	}
	storeOpen = false
	if err := store.Close(); err != nil {
		return fmt.Errorf("cannot close database %s: %w", path, err)
	}
	fmt.Fprintln(stderr, "nbreg: stopped")
	return nil
}

// logger returns the log of the server, written to stderr as the flags say.
func (o *serveOptions) logger(stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevels[o.logLevel]}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// logLines turns the "nbreg: ..." lines that serve writes about itself
// into records of its log, at level info.
type logLines struct {
	logger  *slog.Logger
	mu      sync.Mutex
	partial []byte
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		line, rest, ok := bytes.Cut(l.partial, []byte("\n"))
		if !ok {
			break
		}
		l.logger.Info(strings.TrimPrefix(string(line), "nbreg: "))
		l.partial = rest
	}
	return len(p), nil
}

// profilesHandler serves Go's runtime profiles, as net/http/pprof does on
// the default mux, which nbreg does not use.
func profilesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// listenError explains why addr cannot be listened on, in one sentence
// without the Go syntax of a net.OpError.
func listenError(addr string, err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: the address is already in use (is another server running? choose another with --addr)", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: permission denied (ports below 1024 need privileges; choose another with --addr)", addr)
	case errors.As(err, &errno):
		return fmt.Errorf("cannot listen on %s: %v", addr, errno)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return fmt.Errorf("cannot listen on %s: %v", addr, opErr.Err)
	}
	return fmt.Errorf("cannot listen on %s: %v", addr, err)
}
