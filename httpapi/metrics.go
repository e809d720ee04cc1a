package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"nbreg/registry"
)

// Metrics. A server made with Config.Metrics counts its requests and
// reads the figures of its store when scraped; MetricsHandler serves them
// in Prometheus's formats, on an address of the operator's choosing. Every
// label has a bounded set of values: routes are the templates of the
// route table, methods the ones HTTP defines.

// Label values of requests that no route template names.
const (
	routeNone = "none" // no route matched: a 404
)

// sizeRefresh is how long a count of the registry's records is reused:
// counting is a query, cheap on SQLite but a scan on PostgreSQL, so a
// scrape every few seconds does not run one each time.
const sizeRefresh = 30 * time.Second

// sizeTimeout bounds the counting query of a scrape.
const sizeTimeout = 2 * time.Second

// latencyBuckets are the upper bounds, in seconds, of the latency
// histogram: most answers of a registry take well under a millisecond to
// a few, bulk ones up to seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// serverMetrics are the instruments of one Server.
type serverMetrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec   // route, method, code
	latency  *prometheus.HistogramVec // route, method
	inFlight prometheus.Gauge
	sent     *prometheus.CounterVec // route: bytes of answer bodies

	// series caches the instruments of each route, method and status
	// seen, so that a request costs one lookup instead of one per vector.
	series sync.Map // seriesKey -> *seriesInstruments
}

type seriesKey struct {
	route, method string
	status        int
}

type seriesInstruments struct {
	requests prometheus.Counter
	latency  prometheus.Observer
	sent     prometheus.Counter
}

func newServerMetrics(s *Server) *serverMetrics {
	reg := prometheus.NewRegistry()
	m := &serverMetrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nbreg_http_requests_total",
			Help: "Requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nbreg_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by route template and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nbreg_http_requests_in_flight",
			Help: "Requests being answered now.",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nbreg_http_response_bytes_total",
			Help: "Bytes of answer bodies sent, by route template: downloads and bulk answers are most of them.",
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency, m.inFlight, m.sent,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "nbreg_build_info",
			Help:        "Always 1; the version of the running server is its label.",
			ConstLabels: prometheus.Labels{"version": s.cfg.Version},
		}, func() float64 { return 1 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nbreg_password_checks_total",
			Help: "Slow password hash checks run (sign-ins and Basic credentials the cache did not know).",
		}, func() float64 { return float64(s.credentials.checks.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "nbreg_credential_cache_hits_total",
			Help: "Passwords accepted without a hash check of their own, from the credential cache.",
		}, func() float64 { return float64(s.credentials.hits.Load()) }),
	)
	if st, ok := s.store.(registry.Monitored); ok {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "nbreg_db_connections_open",
				Help: "Connections open to the database.",
			}, func() float64 { return float64(st.Connections().Open) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "nbreg_db_connections_in_use",
				Help: "Connections to the database in use now.",
			}, func() float64 { return float64(st.Connections().InUse) }),
			newSizeCollector(st, s.now, s.logger),
		)
	}
	if q, ok := s.store.(registry.WriteQueue); ok {
		commits := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "nbreg_db_group_commit_writes",
			Help:    "Writes committed together by each commit of the database's single writer.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		})
		q.ObserveGroupCommits(func(n int) { commits.Observe(float64(n)) })
		reg.MustRegister(commits, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "nbreg_db_queued_writes",
			Help: "Writes waiting for the database's single writer now.",
		}, func() float64 { return float64(q.QueuedWrites()) }))
	}
	return m
}

// observe records one answered request.
func (m *serverMetrics) observe(route, method string, status int, bytes int64, elapsed time.Duration) {
	key := seriesKey{route, methodLabel(method), status}
	v, ok := m.series.Load(key)
	if !ok {
		v, _ = m.series.LoadOrStore(key, &seriesInstruments{
			requests: m.requests.WithLabelValues(key.route, key.method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(key.route, key.method),
			sent:     m.sent.WithLabelValues(key.route),
		})
	}
	in := v.(*seriesInstruments)
	in.requests.Inc()
	in.latency.Observe(elapsed.Seconds())
	if bytes > 0 {
		in.sent.Add(float64(bytes))
	}
}

// methodLabel bounds the method label: a client may send any token as a
// method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// MetricsHandler serves the server's metrics, or answers 404 for a server
// made without Config.Metrics.
func (s *Server) MetricsHandler() http.Handler {
	if s.metrics == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{
		ErrorLog: slogPrintln{s.logger},
	})
}

// slogPrintln gives promhttp's error log to the server's logger.
type slogPrintln struct{ logger *slog.Logger }

func (l slogPrintln) Println(v ...any) { l.logger.Warn("metrics", "error", v) }

// sizeCollector reports the registry's size, counted at most every
// sizeRefresh.
type sizeCollector struct {
	store  registry.Monitored
	now    func() time.Time
	logger *slog.Logger
	descs  [3]*prometheus.Desc

	mu      sync.Mutex
	size    registry.RegistrySize
	counted time.Time // zero until the first count succeeds
}

func newSizeCollector(st registry.Monitored, now func() time.Time, logger *slog.Logger) *sizeCollector {
	return &sizeCollector{store: st, now: now, logger: logger, descs: [3]*prometheus.Desc{
		prometheus.NewDesc("nbreg_registry_resources", "Resources the registry holds (counted at most every 30 s).", nil, nil),
		prometheus.NewDesc("nbreg_registry_locations", "Locations of resources the registry holds (counted at most every 30 s).", nil, nil),
		prometheus.NewDesc("nbreg_registry_users", "Users of the registry (counted at most every 30 s).", nil, nil),
	}}
}

// Describe implements prometheus.Collector.
func (c *sizeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed count keeps the last
// one; before any count succeeds the figures are left out.
func (c *sizeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.counted.IsZero() || now.Sub(c.counted) >= sizeRefresh || now.Before(c.counted) {
		ctx, cancel := context.WithTimeout(context.Background(), sizeTimeout)
		size, err := c.store.Size(ctx)
		cancel()
		if err != nil {
			c.logger.Warn("metrics: cannot count the registry's records", "error", err)
		} else {
			c.size, c.counted = size, now
		}
	}
	if c.counted.IsZero() {
		return
	}
	for i, v := range []int64{c.size.Resources, c.size.Locations, c.size.Users} {
		ch <- prometheus.MustNewConstMetric(c.descs[i], prometheus.GaugeValue, float64(v))
	}
}
