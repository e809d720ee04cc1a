package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A soak run loads a server for hours to see whether it holds steady:
// memory flat, no goroutines, threads or open files piling up. Sampling
// shows the load and the server's state interval by interval, and the
// soak summary compares the first sample with the last.

// Sample is what one sampling interval of a workload saw.
type Sample struct {
	// Elapsed is the time since the workload started, at the sample.
	Elapsed float64 `json:"elapsed_seconds"`
	// PerSecond is the rate of successful requests in the interval,
	// Errors the requests without a 2xx answer, and P99 the 99th
	// percentile latency of successful requests, in milliseconds.
	PerSecond float64 `json:"requests_per_second"`
	Errors    int64   `json:"errors"`
	P99       float64 `json:"p99_ms"`
	// With the server's process id: its resident memory (VmRSS) in MiB,
	// open file descriptors and OS threads.
	ServerRSS     float64 `json:"server_rss_mib,omitempty"`
	ServerFDs     int     `json:"server_fds,omitempty"`
	ServerThreads int     `json:"server_threads,omitempty"`
	// With a goroutine profile URL: the server's goroutines.
	ServerGoroutines int `json:"server_goroutines,omitempty"`
}

// Soak sums up the server's state over a workload's samples. A measure
// not taken is nil.
type Soak struct {
	RSS        *Trend `json:"server_rss_mib,omitempty"`
	FDs        *Trend `json:"server_fds,omitempty"`
	Threads    *Trend `json:"server_threads,omitempty"`
	Goroutines *Trend `json:"server_goroutines,omitempty"`
}

// Trend is a measure at the first sample, at the last, and its largest.
type Trend struct {
	First float64 `json:"first"`
	Last  float64 `json:"last"`
	Max   float64 `json:"max"`
}

// String sums the soak up on one line.
func (s *Soak) String() string {
	var parts []string
	add := func(what string, t *Trend, format, unit string) {
		if t != nil {
			parts = append(parts, fmt.Sprintf("%s "+format+" -> "+format+"%s (max "+format+")", what, t.First, t.Last, unit, t.Max))
		}
	}
	add("RSS", s.RSS, "%.1f", " MiB")
	add("fds", s.FDs, "%.0f", "")
	add("threads", s.Threads, "%.0f", "")
	add("goroutines", s.Goroutines, "%.0f", "")
	return strings.Join(parts, ", ")
}

// summary introduces String with the workload and the number of samples.
func (s *Soak) summary(workload string, samples int) string {
	return fmt.Sprintf("soak of %s, first -> last of %d samples: %s", workload, samples, s)
}

// soakOf sums up samples, each measure over the samples that took it.
func soakOf(samples []Sample) *Soak {
	trend := func(value func(*Sample) float64) *Trend {
		var t *Trend
		for i := range samples {
			v := value(&samples[i])
			if v <= 0 {
				continue // not measured at this sample
			}
			if t == nil {
				t = &Trend{First: v, Max: v}
			}
			t.Last, t.Max = v, max(t.Max, v)
		}
		return t
	}
	s := &Soak{
		RSS:        trend(func(s *Sample) float64 { return s.ServerRSS }),
		FDs:        trend(func(s *Sample) float64 { return float64(s.ServerFDs) }),
		Threads:    trend(func(s *Sample) float64 { return float64(s.ServerThreads) }),
		Goroutines: trend(func(s *Sample) float64 { return float64(s.ServerGoroutines) }),
	}
	if *s == (Soak{}) {
		return nil
	}
	return s
}

// window counts what one worker did since the last sample. A nil window
// counts nothing.
type window struct {
	mu      sync.Mutex
	latency Histogram // of successful requests
	errors  int64
}

func (w *window) count(ok bool, latency time.Duration) {
	if w == nil {
		return
	}
	w.mu.Lock()
	if ok {
		w.latency.Record(latency)
	} else {
		w.errors++
	}
	w.mu.Unlock()
}

// sampler samples one workload every cfg.Sample until stopped.
type sampler struct {
	r        *runner
	ctx      context.Context
	workload string
	start    time.Time
	workers  []*worker
	done     chan struct{}
	finished chan struct{}

	last    time.Time // of the last sample
	merged  Histogram
	samples []Sample
}

func (r *runner) startSampler(ctx context.Context, workload string, start time.Time, workers []*worker) *sampler {
	s := &sampler{r: r, ctx: ctx, workload: workload, start: start, workers: workers, last: start,
		done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		tick := time.NewTicker(r.cfg.Sample)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				// The workers are done: sample the tail of the run unless
				// it is too short to say much.
				if time.Since(s.last) >= r.cfg.Sample/2 {
					s.take()
				}
				return
			case <-tick.C:
				s.take()
			}
		}
	}()
	return s
}

// stop ends the sampling once the workers are done and returns the
// samples and their soak summary, which it also writes to the sample log.
func (s *sampler) stop() ([]Sample, *Soak) {
	close(s.done)
	<-s.finished
	soak := soakOf(s.samples)
	if log := s.r.cfg.SampleLog; log != nil && soak != nil {
		fmt.Fprintf(log, "%s\n", soak.summary(s.workload, len(s.samples)))
	}
	return s.samples, soak
}

// take takes a sample of the interval since the last one.
func (s *sampler) take() {
	now := time.Now()
	interval := now.Sub(s.last)
	s.last = now
	s.merged = Histogram{}
	var errs int64
	for _, w := range s.workers {
		w.window.mu.Lock()
		s.merged.Merge(&w.window.latency)
		errs += w.window.errors
		w.window.latency, w.window.errors = Histogram{}, 0
		w.window.mu.Unlock()
	}
	sample := Sample{
		Elapsed: now.Sub(s.start).Seconds(),
		Errors:  errs,
		P99:     float64(s.merged.Quantile(0.99)) / float64(time.Millisecond),
	}
	if interval > 0 {
		sample.PerSecond = float64(s.merged.Count()) / interval.Seconds()
	}
	if pid := s.r.cfg.PID; pid != 0 {
		if rss, threads, err := processState(pid); err == nil {
			sample.ServerRSS, sample.ServerThreads = megabytes(rss), threads
		}
		if fds, err := openFiles(pid); err == nil {
			sample.ServerFDs = fds
		}
	}
	if url := s.r.cfg.Goroutines; url != "" {
		if n, err := goroutineCount(s.ctx, url); err == nil {
			sample.ServerGoroutines = n
		}
	}
	s.samples = append(s.samples, sample)
	if log := s.r.cfg.SampleLog; log != nil {
		io.WriteString(log, sample.line(s.workload))
	}
}

// line describes the sample for people, on one line.
func (s *Sample) line(workload string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %7.1f s  %8.0f req/s  %d errors  p99 %.2f ms", workload, s.Elapsed, s.PerSecond, s.Errors, s.P99)
	if s.ServerRSS > 0 {
		fmt.Fprintf(&b, "  RSS %.1f MiB", s.ServerRSS)
	}
	if s.ServerFDs > 0 {
		fmt.Fprintf(&b, "  %d fds", s.ServerFDs)
	}
	if s.ServerThreads > 0 {
		fmt.Fprintf(&b, "  %d threads", s.ServerThreads)
	}
	if s.ServerGoroutines > 0 {
		fmt.Fprintf(&b, "  %d goroutines", s.ServerGoroutines)
	}
	b.WriteString("\n")
	return b.String()
}

// processState returns the resident memory (VmRSS, in bytes) and the
// number of OS threads of process pid.
func processState(pid int) (rss int64, threads int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	rss, err = statusField(b, "VmRSS", true)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	n, err := statusField(b, "Threads", false)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return rss, int(n), nil
}

// openFiles returns how many file descriptors process pid holds open.
func openFiles(pid int) (int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	return len(names), err
}

// goroutineTimeout bounds reading the goroutine profile.
const goroutineTimeout = 5 * time.Second

// goroutineClient reads goroutine profiles on a connection of its own,
// kept alive so that reading does not change what it counts.
var goroutineClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1},
	Timeout:   goroutineTimeout,
}

// goroutineCount reads a server's goroutine count from its goroutine
// profile in text form at url.
func goroutineCount(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, goroutineTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := goroutineClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read the answer to the end so that the connection is used again.
	defer io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	first, err := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	n, err := parseGoroutineTotal(first)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return n, nil
}

// parseGoroutineTotal reads the count from the first line of a goroutine
// profile in text form, "goroutine profile: total N".
func parseGoroutineTotal(line string) (int, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	n, err := strconv.Atoi(rest)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("the answer does not start with \"goroutine profile: total N\" but %q (is it ?debug=1 of /debug/pprof/goroutine?)", shorten(line, 80))
	}
	return n, nil
}

// shorten cuts s to at most n bytes, marking the cut.
func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
