package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"nbreg/loadtest"
)

// loadtestOptions are the flags of loadtest.
type loadtestOptions struct {
	url         string
	user        string
	password    string
	auth        string
	token       string
	prefix      string
	seed        int
	workloads   []string
	duration    time.Duration
	concurrency int
	pid         int
	asJSON      bool
	writeSeed   string
	rate        float64
	sample      time.Duration
	goroutines  string
}

func newLoadtestCommand() *cobra.Command {
	var o loadtestOptions
	c := &cobra.Command{
		Use:   "loadtest --url URL",
		Short: "Measure a registry server under load, through its HTTP API",
		Long: `Load a registry speaking the neurobank HTTP API (nbreg or another) and report
requests per second and latency percentiles per workload. Only HTTP is
used, so the same run measures any server.

With --seed N, resources named PREFIX00000000 to PREFIX<N-1> (--prefix,
default "lt") are created first, one request each from --concurrency
clients, with metadata following from their number: an experimenter, an
animal (50 resources per animal), subject age and sex, a session, an awake
flag and a date. Names already taken count as seeded, so an interrupted seed
resumes. The datatypes and archives they need are created if missing. With
--seed 0 (the default) an earlier seed is reused; how many resources it made
is found by probing names.

Each workload then runs for --duration with --concurrency closed-loop
clients on kept-alive connections:
  detail     GET resources/NAME/ of a random seeded resource
  locations  GET resources/NAME/locations/
  search     GET resources/?metadata__animal=A, about 50 matches
  bulk       POST bulk/locations/ with 1,000 random names, read to the end
  create     POST resources/ of a new resource (signed in; 201 expected)
  mixed      ` + loadtest.MixedBlend() + `
Before measuring, one answer of each workload is checked against what the
seeded registry must hold, so a fast answer is never a wrong one.

With --write-seed FILE, nothing is sent: the --seed N resources, with the
datatypes and archives they use, are written to FILE in nbreg's export
format instead, for "nbreg import FILE" to load in one go, far faster than
creating them one request at a time. They are recorded as created by the
user of --user or -a, else "loadtest" (no such user need exist), without
history entries. A later run with --seed 0 uses them.

--rate R paces each workload at R requests per second in all, shared
among the clients: each sends its next request at its own next slot, or at
once when it has fallen behind, without bursting to make up missed slots.
The report gives the rate achieved, below R when the server cannot keep up.

--sample D takes a sample every D during each workload: requests/s, errors
and p99 in the interval and, with --pid, the server's resident memory
(VmRSS), open file descriptors and OS threads, and with --goroutines URL
(a goroutine profile in text, /debug/pprof/goroutine?debug=1) its
goroutines. Samples are printed on stderr as they are taken and kept in
the --json report; at the end of each workload a soak summary gives each
measure at the first and last sample and its largest, so that steady
memory and no growth of goroutines, threads or files read off at a glance.

Reads are anonymous; seeding, create and mixed need a user allowed to
create resources (--user and --password, -a USER:PASSWORD as nbank takes
it, or --token). Creates and metadata changes stay in the registry: load a
registry kept for measuring, never a lab's real one.

The report gives, per workload, the requests sent, successful requests per
second, latency percentiles (p50, p99, p99.9, max) of successful requests,
errors (non-2xx answers and requests with no answer, counted, never
stopping the run) and the CPU used by this command. With --pid, the server
on this machine is watched too: its CPU use, its largest resident memory
sampled during each workload, and its peak resident memory (VmHWM) at the
end. The exit status is 1 when a request failed or a check found a wrong
answer.`,
		Example: `  # seed 20,000 resources, then run every workload for 10 s each
  nbreg loadtest --url http://127.0.0.1:8000/neurobank/ -a alice:PASSWORD --seed 20000

  # reuse that seed: reads only, 32 clients, 30 s each, watching the server
  nbreg loadtest --url http://127.0.0.1:8000/neurobank/ --workloads detail,locations,search,bulk \
      --concurrency 32 --duration 30s --pid $(pgrep -x nbreg)

  # write a million resources for nbreg import, far faster than seeding through the API
  nbreg loadtest --seed 1000000 --write-seed seed.jsonl
  nbreg --db /srv/bench/registry.db import seed.jsonl

  # soak: two hours of the mixed workload at 500 requests/s, sampled every minute
  nbreg loadtest --url http://127.0.0.1:8000/neurobank/ -a alice:PASSWORD --workloads mixed \
      --rate 500 --duration 2h --sample 1m --pid $(pgrep -x nbreg) \
      --goroutines http://127.0.0.1:6060/debug/pprof/goroutine?debug=1

  # machine-readable report, signed in with an API token
  nbreg loadtest --url http://127.0.0.1:8000/neurobank/ --token $TOKEN --json > run.json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runLoadtest(c, o) },
	}
	f := c.Flags()
	f.StringVar(&o.url, "url", "", "API root of the registry to load (required; e.g. --url http://127.0.0.1:8000/neurobank/)")
	f.StringVar(&o.user, "user", "", "username that signs writes in, with --password (e.g. --user alice)")
	f.StringVar(&o.password, "password", "", "password of --user (e.g. --password s3cret)")
	f.StringVarP(&o.auth, "auth", "a", "", "username and password as one USER:PASSWORD, as nbank takes them (e.g. -a alice:s3cret)")
	f.StringVar(&o.token, "token", "", "API token that signs writes in instead, sent as \"Authorization: Token KEY\" (e.g. --token $TOKEN)")
	f.StringVar(&o.prefix, "prefix", loadtest.DefaultPrefix, "start of every seeded name; resource i is PREFIX and i in eight digits (e.g. --prefix bench)")
	f.IntVar(&o.seed, "seed", 0, "make sure this many seeded resources exist before measuring; 0 reuses an earlier seed (e.g. --seed 1000000)")
	f.StringSliceVar(&o.workloads, "workloads", loadtest.Workloads, "workloads to run, comma-separated, among "+strings.Join(loadtest.Workloads, ", ")+" (e.g. --workloads detail,search)")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long each workload runs (e.g. --duration 30s)")
	f.IntVar(&o.concurrency, "concurrency", 16, "number of clients sending requests at once, each on its own connection (e.g. --concurrency 64)")
	f.IntVar(&o.pid, "pid", 0, "process id of the server, on this machine, to report its CPU and memory use (e.g. --pid $(pgrep -x nbreg))")
	f.BoolVar(&o.asJSON, "json", false, "write the report as JSON instead of a table (e.g. --json)")
	f.StringVar(&o.writeSeed, "write-seed", "", "write the --seed resources to FILE for nbreg import instead of creating them, and run nothing (e.g. --write-seed seed.jsonl)")
	f.Float64Var(&o.rate, "rate", 0, "pace each workload at this many requests per second in all; 0 sends as fast as answers come (e.g. --rate 500)")
	f.DurationVar(&o.sample, "sample", 0, "sample the load and the server's state this often during each workload, for soak runs (e.g. --sample 10s)")
	f.StringVar(&o.goroutines, "goroutines", "", "URL of the server's goroutine profile in text, read at every sample (e.g. --goroutines http://127.0.0.1:6060/debug/pprof/goroutine?debug=1)")
	return c
}

func runLoadtest(c *cobra.Command, o loadtestOptions) error {
	if o.writeSeed != "" {
		return writeSeedFile(c, o)
	}
	if o.url == "" {
		return &usageError{err: errors.New("loadtest needs --url, the API root of the registry to load")}
	}
	cfg := loadtest.Config{
		URL:         o.url,
		Username:    o.user,
		Password:    o.password,
		Token:       o.token,
		Prefix:      o.prefix,
		Seed:        o.seed,
		Workloads:   o.workloads,
		Duration:    o.duration,
		Concurrency: o.concurrency,
		Rate:        o.rate,
		PID:         o.pid,
		Sample:      o.sample,
		Goroutines:  o.goroutines,
		Progress:    progressBar(c, "seeding"),
	}
	if o.sample > 0 {
		cfg.SampleLog = c.ErrOrStderr()
	}
	if o.auth != "" {
		if o.user != "" || o.password != "" {
			return &usageError{err: errors.New("give either -a USER:PASSWORD or --user and --password, not both")}
		}
		user, password, ok := strings.Cut(o.auth, ":")
		if !ok || user == "" {
			return &usageError{err: errors.New("-a takes USER:PASSWORD, with a colon")}
		}
		cfg.Username, cfg.Password = user, password
	}
	if cfg.Token != "" && cfg.Username != "" {
		return &usageError{err: errors.New("give either a token or a username and password, not both")}
	}
	report, err := loadtest.Run(c.Context(), cfg)
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if o.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(report)
	} else {
		err = report.WriteTable(out)
	}
	if err != nil {
		return err
	}
	if problems := report.Problems(); len(problems) > 0 {
		return fmt.Errorf("the run had errors: %s", strings.Join(problems, "; "))
	}
	return nil
}

// writeSeedFile writes the resources of --seed to the file of --write-seed
// for nbreg import, and nothing else.
func writeSeedFile(c *cobra.Command, o loadtestOptions) error {
	if o.seed < 1 {
		return &usageError{err: errors.New("--write-seed writes the resources of --seed N: give how many")}
	}
	if o.url != "" {
		return &usageError{err: errors.New("--write-seed writes a file and sends nothing: leave out --url")}
	}
	creator := o.user
	if o.auth != "" {
		creator, _, _ = strings.Cut(o.auth, ":")
	}
	f, err := os.Create(o.writeSeed)
	if err != nil {
		return err
	}
	if err := loadtest.WriteSeed(f, o.prefix, o.seed, creator); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", o.writeSeed, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", o.writeSeed, err)
	}
	fmt.Fprintf(c.ErrOrStderr(), "wrote %d resources to %s; load them with: nbreg import %s\n", o.seed, o.writeSeed, o.writeSeed)
	return nil
}
