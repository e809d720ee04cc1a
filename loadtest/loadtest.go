// Package loadtest measures a registry speaking the neurobank HTTP API from
// the outside, as its clients see it: it seeds resources with realistic
// metadata through the API (or writes them as a file for nbreg import),
// runs timed workloads, closed-loop or paced (resource detail, locations,
// metadata search, bulk locations, authenticated creates and a mixed
// read/write load) and reports throughput and latency percentiles per
// workload, sampled over time for soak runs. It talks HTTP only and knows nothing of any
// server's internals, so the same run compares nbreg with other
// registries.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Workload names, in the order they run.
const (
	WorkloadDetail    = "detail"
	WorkloadLocations = "locations"
	WorkloadSearch    = "search"
	WorkloadBulk      = "bulk"
	WorkloadCreate    = "create"
	WorkloadMixed     = "mixed"
)

// Workloads lists every workload in the order Run runs them.
var Workloads = []string{WorkloadDetail, WorkloadLocations, WorkloadSearch, WorkloadBulk, WorkloadCreate, WorkloadMixed}

// BulkNames is how many names one bulk/locations/ request asks for.
const BulkNames = 1000

// DefaultPrefix starts the name of every seeded resource.
const DefaultPrefix = "lt"

// Config says what to load and how hard.
type Config struct {
	// URL is the API root, e.g. http://127.0.0.1:8000/neurobank/.
	URL string
	// Username and Password sign writes in by HTTP Basic auth; Token, when
	// set, signs them in by "Authorization: Token" instead. Reads are
	// anonymous, as the nbank client's are.
	Username, Password, Token string
	// Prefix starts every seeded name; resource i is Prefix plus i in
	// eight digits. Empty means DefaultPrefix.
	Prefix string
	// Seed is how many resources to make sure exist before measuring.
	// Zero reuses what an earlier seed made, finding how many by probing
	// names.
	Seed int
	// Workloads to run, by name; empty means all, in the order of Workloads.
	Workloads []string
	// Duration of each workload.
	Duration time.Duration
	// Concurrency is the number of clients, each with its own connection,
	// sending a request as soon as the previous one is answered (or, with
	// Rate, at its next slot).
	Concurrency int
	// Rate, when positive, paces the load at Rate requests per second in
	// all, shared evenly among the clients: each sends its next request at
	// its next slot, or at once when it has fallen behind, never in a burst
	// to make up for slots it missed. Zero leaves the clients closed-loop.
	Rate float64
	// PID, when not zero, is the process id of the server on this machine,
	// whose memory and CPU use are reported.
	PID int
	// Sample, when positive, is the interval at which each workload takes
	// a sample of the load (requests/s, errors and p99 in the interval)
	// and, with PID or Goroutines, of the server's state, for soak runs.
	Sample time.Duration
	// Goroutines, when set, is a URL of the server's goroutine profile in
	// text (net/http/pprof's /debug/pprof/goroutine?debug=1), read at every
	// sample for the server's goroutine count.
	Goroutines string
	// SampleLog, when set, gets a line per sample as it is taken and the
	// soak summary at the end of each workload.
	SampleLog io.Writer
	// Progress, when set, is told how seeding advances, a few times a second.
	Progress func(done, total int64)
}

// prefixPattern is what a name prefix may contain: what a name may.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// check fills in defaults and refuses settings that cannot work.
func (cfg *Config) check() error {
	if cfg.URL == "" {
		return errors.New("the registry URL is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !prefixPattern.MatchString(cfg.Prefix) {
		return fmt.Errorf("the name prefix %q may only contain letters, digits, _ and -", cfg.Prefix)
	}
	if len(cfg.Workloads) == 0 {
		cfg.Workloads = Workloads
	}
	for _, w := range cfg.Workloads {
		if !slices.Contains(Workloads, w) {
			return fmt.Errorf("there is no workload %q: choose among %s", w, strings.Join(Workloads, ", "))
		}
	}
	if cfg.Seed < 0 {
		return fmt.Errorf("cannot seed %d resources", cfg.Seed)
	}
	if cfg.Duration <= 0 {
		return fmt.Errorf("the duration of a workload must be positive, not %s", cfg.Duration)
	}
	if cfg.Concurrency < 1 {
		return fmt.Errorf("the concurrency must be at least 1, not %d", cfg.Concurrency)
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return fmt.Errorf("the rate must be a positive number of requests per second, not %g", cfg.Rate)
	}
	if cfg.Sample < 0 {
		return fmt.Errorf("the sampling interval must be positive, not %s", cfg.Sample)
	}
	if cfg.Goroutines != "" {
		if cfg.Sample == 0 {
			return errors.New("the goroutine count is read at every sample: give a sampling interval too")
		}
		if u, err := url.Parse(cfg.Goroutines); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("the goroutine profile URL %q is not an http:// or https:// address", cfg.Goroutines)
		}
	}
	if cfg.writes() && cfg.Username == "" && cfg.Token == "" {
		return errors.New("seeding and the create and mixed workloads write, so they need a user allowed to create resources: give a username and password or a token")
	}
	return nil
}

// writes reports whether the run changes the registry.
func (cfg *Config) writes() bool {
	return cfg.Seed > 0 || slices.Contains(cfg.Workloads, WorkloadCreate) || slices.Contains(cfg.Workloads, WorkloadMixed)
}

// Run seeds the registry if asked, then runs each workload in turn for
// cfg.Duration and reports what it measured. Failed requests are counted
// in the report, never a reason to stop; Run returns an error only when the
// run cannot start (a bad setting, an unreachable registry, credentials
// refused, seeding that failed) or ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.PID != 0 {
		if _, err := peakRSS(cfg.PID); err != nil {
			return nil, fmt.Errorf("cannot watch the server process %d (it must run on this Linux machine): %w", cfg.PID, err)
		}
	}
	if cfg.Goroutines != "" {
		if _, err := goroutineCount(ctx, cfg.Goroutines); err != nil {
			return nil, fmt.Errorf("cannot read the server's goroutine count: %w", err)
		}
	}
	c, err := newClient(&cfg)
	if err != nil {
		return nil, err
	}
	defer c.close()
	report := &Report{
		URL:         c.url(""),
		Prefix:      cfg.Prefix,
		Concurrency: cfg.Concurrency,
		Duration:    cfg.Duration.Seconds(),
		Rate:        cfg.Rate,
		ServerPID:   cfg.PID,
		Mixed:       MixedBlend(),
	}
	report.Server, err = serverInfo(ctx, c)
	if err != nil {
		return nil, err
	}
	if cfg.writes() {
		if err := ensureCollections(ctx, c); err != nil {
			return nil, err
		}
	}
	if cfg.Seed > 0 {
		seeding, err := seed(ctx, c, &cfg)
		if err != nil {
			return nil, err
		}
		report.Seeding = seeding
	}
	n, err := probeFirstMissing(ctx, c, cfg.Prefix, cfg.Seed)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("the registry has no resource named %s: seed it first (a positive seed count)", Name(cfg.Prefix, 0))
	}
	report.Resources = n

	r := newRunner(c, &cfg, n)
	for _, name := range Workloads {
		if !slices.Contains(cfg.Workloads, name) {
			continue
		}
		w, err := r.run(ctx, name)
		if err != nil {
			return nil, err
		}
		report.Workloads = append(report.Workloads, w)
	}
	if cfg.PID != 0 {
		if peak, err := peakRSS(cfg.PID); err == nil {
			report.ServerPeakRSS = megabytes(peak)
		}
	}
	return report, nil
}

// serverInfo returns the name and version the registry gives at info/, or
// "" when it has no such page; it fails only when the registry cannot be
// reached at all.
func serverInfo(ctx context.Context, c *client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	a, err := c.send(ctx, "GET", "info/", nil, false)
	if err != nil {
		return "", fmt.Errorf("cannot reach the registry at %s: %w", c.url(""), err)
	}
	if !a.ok() {
		return "", nil
	}
	var info struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if decodeJSON(a.body, &info) != nil {
		return "", nil
	}
	return strings.TrimSpace(info.Name + " " + info.Version), nil
}
