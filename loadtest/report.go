package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is what a run measured. Its JSON form is the tool's
// machine-readable output.
type Report struct {
	URL         string      `json:"url"`
	Server      string      `json:"server,omitempty"` // name and version the registry gives at info/
	Prefix      string      `json:"prefix"`
	Resources   int         `json:"resources"` // seeded resources the workloads drew from
	Concurrency int         `json:"concurrency"`
	Duration    float64     `json:"duration_seconds"`          // asked for, per workload
	Rate        float64     `json:"rate_per_second,omitempty"` // the pace asked for, in requests/s; 0 for closed loop
	Seeding     *SeedReport `json:"seeding,omitempty"`
	// Mixed is the blend of the mixed workload.
	Mixed     string           `json:"mixed_blend"`
	Workloads []WorkloadReport `json:"workloads"`
	ServerPID int              `json:"server_pid,omitempty"`
	// ServerPeakRSS is the server's peak resident memory since it started
	// (VmHWM), in MiB, read after the last workload.
	ServerPeakRSS float64 `json:"server_peak_rss_mib,omitempty"`
}

// WorkloadReport is what one workload, or one kind of request of the mixed
// workload, measured. Latencies are of answered requests with a 2xx status,
// from sending the request to reading the last byte of the answer.
type WorkloadReport struct {
	Name string `json:"name"`
	// Requests counts every request that ended, answered or not; Errors
	// those without a 2xx answer, by status ("transport" for no answer).
	Requests       int64            `json:"requests"`
	Errors         int64            `json:"errors"`
	ErrorsByStatus map[string]int64 `json:"errors_by_status,omitempty"`
	FirstError     string           `json:"first_error,omitempty"`
	Seconds        float64          `json:"seconds"`
	// PerSecond is the rate of successful requests.
	PerSecond float64 `json:"requests_per_second"`
	Latency   Latency `json:"latency_ms"`
	// Check is "ok" when the one answer inspected before measuring was
	// right, else what was wrong with it.
	Check string `json:"check,omitempty"`
	// ServerRSSMax is the largest resident memory of the server sampled
	// during the workload, ServerPeakRSS its peak since it started (VmHWM)
	// at the end of the workload, both in MiB.
	ServerRSSMax  float64 `json:"server_rss_max_mib,omitempty"`
	ServerPeakRSS float64 `json:"server_peak_rss_mib,omitempty"`
	// ServerCPU and ToolCPU are the CPU time used by the server and by this
	// tool during the workload, in percent of one core.
	ServerCPU float64 `json:"server_cpu_percent,omitempty"`
	ToolCPU   float64 `json:"tool_cpu_percent,omitempty"`
	// Parts breaks the mixed workload down by kind of request.
	Parts []WorkloadReport `json:"parts,omitempty"`
	// Samples were taken every sampling interval, and Soak sums up how the
	// server's state moved over them.
	Samples []Sample `json:"samples,omitempty"`
	Soak    *Soak    `json:"soak,omitempty"`
}

// Latency holds latency statistics in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// fill sets the counts and statistics of w from t, counted over elapsed.
func (w *WorkloadReport) fill(t *tally, elapsed time.Duration) {
	w.Requests = t.requests()
	ok := int64(t.latency.Count())
	w.Errors = w.Requests - ok
	for status, n := range t.statuses {
		if status < 200 || status >= 300 {
			if w.ErrorsByStatus == nil {
				w.ErrorsByStatus = map[string]int64{}
			}
			w.ErrorsByStatus[strconv.Itoa(status)] += n
		}
	}
	if t.failures > 0 {
		if w.ErrorsByStatus == nil {
			w.ErrorsByStatus = map[string]int64{}
		}
		w.ErrorsByStatus["transport"] = t.failures
	}
	w.FirstError = t.example
	w.Seconds = elapsed.Seconds()
	if w.Seconds > 0 {
		w.PerSecond = float64(ok) / w.Seconds
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	w.Latency = Latency{
		P50:  ms(t.latency.Quantile(0.50)),
		P99:  ms(t.latency.Quantile(0.99)),
		P999: ms(t.latency.Quantile(0.999)),
		Mean: ms(t.latency.Mean()),
		Max:  ms(t.latency.Max()),
	}
}

// Problems lists what went wrong in the run: workloads with errors and
// checks that failed. A clean run has none.
func (r *Report) Problems() []string {
	var problems []string
	for _, w := range r.Workloads {
		if w.Errors > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d of %d requests failed (first: %s)", w.Name, w.Errors, w.Requests, w.FirstError))
		}
		if w.Check != "" && w.Check != checkPassed {
			problems = append(problems, fmt.Sprintf("%s: wrong answer: %s", w.Name, w.Check))
		}
	}
	return problems
}

// WriteTable writes the report as a plain table for people.
func (r *Report) WriteTable(out io.Writer) error {
	var b strings.Builder
	server := ""
	if r.Server != "" {
		server = " (" + r.Server + ")"
	}
	fmt.Fprintf(&b, "registry:    %s%s\n", r.URL, server)
	fmt.Fprintf(&b, "resources:   %d seeded (%s%0*d to %s)\n", r.Resources, r.Prefix, nameDigits, 0, Name(r.Prefix, r.Resources-1))
	if s := r.Seeding; s != nil {
		fmt.Fprintf(&b, "seeding:     %d created, %d there already, in %.1f s (%.0f creates/s)\n", s.Created, s.Existing, s.Seconds, s.PerSecond)
	}
	pace := "closed loop"
	if r.Rate > 0 {
		pace = fmt.Sprintf("paced at %g requests/s in all", r.Rate)
	}
	fmt.Fprintf(&b, "clients:     %d, %g s per workload, %s\n", r.Concurrency, r.Duration, pace)
	if slices.ContainsFunc(r.Workloads, func(w WorkloadReport) bool { return w.Name == WorkloadMixed }) {
		fmt.Fprintf(&b, "mixed:       %s\n", r.Mixed)
	}
	b.WriteString("\n")

	withServer := r.ServerPID != 0
	header := []string{"workload", "requests", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "client CPU %"}
	if withServer {
		header = append(header, "server CPU %", "server RSS MiB")
	}
	rows := [][]string{header}
	row := func(name string, w *WorkloadReport) {
		cells := []string{name, strconv.FormatInt(w.Requests, 10), fmt.Sprintf("%.0f", w.PerSecond),
			fmt.Sprintf("%.2f", w.Latency.P50), fmt.Sprintf("%.2f", w.Latency.P99), fmt.Sprintf("%.2f", w.Latency.P999),
			fmt.Sprintf("%.2f", w.Latency.Max), strconv.FormatInt(w.Errors, 10), percent(w.ToolCPU)}
		if withServer {
			rss := ""
			if w.ServerRSSMax > 0 {
				rss = fmt.Sprintf("%.1f", w.ServerRSSMax)
			}
			cells = append(cells, percent(w.ServerCPU), rss)
		}
		rows = append(rows, cells)
	}
	for i := range r.Workloads {
		w := &r.Workloads[i]
		row(w.Name, w)
		for j := range w.Parts {
			row("  "+w.Parts[j].Name, &w.Parts[j])
		}
	}
	writeColumns(&b, rows)

	if withServer {
		b.WriteString("\nserver RSS MiB is the largest resident size sampled every 0.1 s during the workload.\n")
		if r.ServerPeakRSS > 0 {
			fmt.Fprintf(&b, "server peak RSS since it started (VmHWM): %.1f MiB\n", r.ServerPeakRSS)
		}
	}
	for _, w := range r.Workloads {
		if w.Soak != nil {
			fmt.Fprintf(&b, "%s\n", w.Soak.summary(w.Name, len(w.Samples)))
		}
	}
	for _, w := range r.Workloads {
		if w.Check != "" && w.Check != checkPassed {
			fmt.Fprintf(&b, "%s: WRONG ANSWER: %s\n", w.Name, w.Check)
		}
		if len(w.ErrorsByStatus) > 0 {
			var counts []string
			for _, status := range slices.Sorted(maps.Keys(w.ErrorsByStatus)) {
				counts = append(counts, fmt.Sprintf("%s: %d", status, w.ErrorsByStatus[status]))
			}
			fmt.Fprintf(&b, "%s errors by status: %s; first: %s\n", w.Name, strings.Join(counts, ", "), w.FirstError)
		}
	}
	_, err := io.WriteString(out, b.String())
	return err
}

// percent formats a CPU share, or nothing when it was not measured.
func percent(p float64) string {
	if p <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f", p)
}

// writeColumns writes rows as aligned columns two spaces apart: the first
// column, the names, on the left, the numbers on the right.
func writeColumns(b *strings.Builder, rows [][]string) {
	var widths []int
	for _, cells := range rows {
		for c, cell := range cells {
			if c == len(widths) {
				widths = append(widths, 0)
			}
			widths[c] = max(widths[c], len(cell))
		}
	}
	for _, cells := range rows {
		var line strings.Builder
		for c, cell := range cells {
			pad := strings.Repeat(" ", widths[c]-len(cell))
			if c == 0 {
				line.WriteString(cell + pad)
			} else {
				line.WriteString("  " + pad + cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
