package loadtest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// An operation is one kind of request a workload sends.
type operation int

const (
	opDetail operation = iota
	opLocations
	opSearch
	opBulk
	opCreate
	opPatch
	operations // how many there are
)

var operationNames = [operations]string{"detail", "locations", "search", "bulk", "create", "patch"}

// mixedShares is the blend of the mixed workload, in percent: mostly
// resolving names as nbank does, some searches and bulk reads, and 15% of
// writes shared between new resources and metadata changes to existing
// ones. Bulk requests get 2%, not more, because one costs the server as
// much as a hundred single reads and would otherwise be all the mix measures.
var mixedShares = [operations]int{
	opDetail:    35,
	opLocations: 33,
	opSearch:    15,
	opBulk:      2,
	opCreate:    8,
	opPatch:     7,
}

// MixedBlend describes the mixed workload for people.
func MixedBlend() string {
	var b []byte
	for op, share := range mixedShares {
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(share), 10)
		b = append(b, "% "...)
		b = append(b, operationNames[op]...)
	}
	return string(b)
}

// workloadOperations maps each single-operation workload to its operation.
var workloadOperations = map[string]operation{
	WorkloadDetail:    opDetail,
	WorkloadLocations: opLocations,
	WorkloadSearch:    opSearch,
	WorkloadBulk:      opBulk,
	WorkloadCreate:    opCreate,
}

// runner runs workloads against a registry holding n seeded resources.
type runner struct {
	c          *client
	cfg        *Config
	n          int // seeded resources: indices 0..n-1
	searchable int // animals searches draw from
	runID      string
	created    atomic.Int64 // names minted by this run's creates
	patched    atomic.Int64
	seed       atomic.Uint64
}

func newRunner(c *client, cfg *Config, n int) *runner {
	return &runner{
		c:          c,
		cfg:        cfg,
		n:          n,
		searchable: searchableAnimals(n),
		runID:      strconv.FormatInt(time.Now().UnixNano(), 36),
	}
}

// tally is what one client counted for one operation.
type tally struct {
	latency  Histogram // of answers with a 2xx status
	statuses map[int]int64
	failures int64  // requests with no answer
	example  string // the first failure, for the report
}

func (t *tally) fail(example string) {
	if t.example == "" {
		t.example = example
	}
}

// worker is one closed-loop client: it sends a request on its own
// connection, reads the whole answer, and sends the next.
type worker struct {
	r       *runner
	ctx     context.Context
	rng     *rand.Rand
	wire    *wire
	request []byte // the request being sent, rebuilt in place each time
	target  []byte
	body    []byte
	tallies [operations]*tally // made on first use: a histogram is 58 KiB
	window  *window            // what was done since the last sample, when sampling
	pause   *time.Timer        // waits for the next slot, when paced
}

func (r *runner) newWorker(ctx context.Context, deadline time.Time) *worker {
	w := &worker{
		r:       r,
		ctx:     ctx,
		rng:     rand.New(rand.NewPCG(r.seed.Add(1), uint64(time.Now().UnixNano()))),
		wire:    r.c.newWire(deadline),
		request: make([]byte, 0, 1024),
		target:  make([]byte, 0, 256),
	}
	if r.cfg.Sample > 0 {
		w.window = &window{}
	}
	return w
}

// waitUntil waits until slot, and reports false instead when the run ends
// first: at end, or when the worker's context is done.
func (w *worker) waitUntil(slot, end time.Time) bool {
	if !slot.Before(end) {
		return false
	}
	d := time.Until(slot)
	if d <= 0 {
		return true
	}
	if w.pause == nil {
		w.pause = time.NewTimer(d)
	} else {
		w.pause.Reset(d)
	}
	select {
	case <-w.pause.C:
		return true
	case <-w.ctx.Done():
		w.pause.Stop()
		return false
	}
}

// name appends the name of a random seeded resource to dst.
func (w *worker) name(dst []byte) []byte {
	return appendName(dst, w.r.cfg.Prefix, w.rng.IntN(w.r.n))
}

// exampleSize is how much of a failed answer is kept to show in the report.
const exampleSize = 300

// do sends one request of op and counts it.
func (w *worker) do(op operation) {
	t := w.tallies[op]
	if t == nil {
		t = &tally{statuses: map[int]int64{}}
		w.tallies[op] = t
	}
	method := w.build(op)
	keep := 0
	if t.example == "" {
		keep = exampleSize
	}
	// Opening the worker's first connection is not part of any request;
	// opening another because the server closed the last one is.
	first := !w.wire.dialed
	start := time.Now()
	if err := w.wire.connect(w.ctx); err != nil {
		if w.ctx.Err() == nil {
			t.failures++
			t.fail("connecting to " + w.wire.addr + ": " + err.Error())
			w.window.count(false, 0)
			// Do not spin on a server that is gone.
			time.Sleep(10 * time.Millisecond)
		}
		return
	}
	if first {
		start = time.Now()
	}
	status, body, err := w.wire.roundTrip(w.request, keep)
	elapsed := time.Since(start)
	switch {
	case err != nil:
		if w.ctx.Err() == nil { // not a request cut short by the end of the run
			t.failures++
			t.fail(method + " " + string(w.target) + ": " + err.Error())
			w.window.count(false, 0)
		}
	case status >= 200 && status < 300:
		t.latency.Record(elapsed)
		t.statuses[status]++
		w.window.count(true, elapsed)
	default:
		t.statuses[status]++
		t.fail(method + " " + string(w.target) + ": " + answer{status: status, body: body}.String())
		w.window.count(false, 0)
	}
}

// build writes the next request of op into w.request and returns its
// method.
func (w *worker) build(op operation) string {
	root := w.r.c.root.Path
	target := append(w.target[:0], root...)
	target = append(target, "resources/"...)
	method, auth := "GET", false
	var body []byte
	switch op {
	case opDetail:
		target = append(w.name(target), '/')
	case opLocations:
		target = append(w.name(target), "/locations/"...)
	case opSearch:
		target = append(target, "?metadata__animal="...)
		target = appendPadded(append(target, "st"...), w.rng.IntN(w.r.searchable), 6)
	case opBulk:
		target = append(target[:len(root)], "bulk/locations/"...)
		method, body = "POST", w.bulkBody()
	case opCreate:
		method, auth = "POST", true
		body, _ = json.Marshal(w.r.createRecord(int(w.r.created.Add(1))))
	case opPatch:
		target = append(w.name(target), '/')
		method, auth = "PATCH", true
		body = strconv.AppendInt(append(w.body[:0], `{"metadata":{"reviewed":`...), w.r.patched.Add(1), 10)
		body = append(body, "}}"...)
		w.body = body
	}
	w.target = target
	a := ""
	if auth {
		a = w.r.c.auth
	}
	w.request = appendRequest(w.request[:0], method, target, w.r.c.root.Host, body, a)
	return method
}

// bulkBody asks for the locations of BulkNames random seeded resources.
func (w *worker) bulkBody() []byte {
	body := append(w.body[:0], `{"names":[`...)
	for k := range BulkNames {
		if k > 0 {
			body = append(body, ',')
		}
		body = append(body, '"')
		body = w.name(body)
		body = append(body, '"')
	}
	body = append(body, "]}"...)
	w.body = body
	return body
}

// createRecord returns the k-th create of this run: a resource under a name
// new to the registry, with metadata like a seeded one's but an animal of
// its own, so that searches keep their known answers.
func (r *runner) createRecord(k int) seedBody {
	name := r.cfg.Prefix + "w" + r.runID + "-" + strconv.Itoa(k)
	metadata := Metadata(k)
	metadata["animal"] = "w" + r.runID + "-" + strconv.Itoa(k/animalResources)
	return seedBody{Name: name, DataType: DataType(k), SHA1: SHA1(name), Metadata: metadata, Locations: Locations(k)}
}

// run checks that workload name gets real answers, then runs it for the
// configured duration and reports.
func (r *runner) run(ctx context.Context, name string) (WorkloadReport, error) {
	report := WorkloadReport{Name: name}
	if err := ctx.Err(); err != nil {
		return report, err
	}
	report.Check = r.check(ctx, name)

	var pick func(*rand.Rand) operation
	if op, ok := workloadOperations[name]; ok {
		pick = func(*rand.Rand) operation { return op }
	} else {
		var table [100]operation
		k := 0
		for op, share := range mixedShares {
			for range share {
				table[k] = operation(op)
				k++
			}
		}
		pick = func(rng *rand.Rand) operation { return table[rng.IntN(len(table))] }
	}

	// Requests still out when the time is up may finish, within a grace
	// period after which they are cut short. Cancelling ctx stops the
	// workers once their requests in flight have ended.
	grace := max(10*time.Second, r.cfg.Duration)
	wctx, cancel := context.WithTimeout(ctx, r.cfg.Duration+grace)
	defer cancel()
	var stop atomic.Bool
	timer := time.AfterFunc(r.cfg.Duration, func() { stop.Store(true) })
	defer timer.Stop()

	var rssWatch *rssSampler
	var serverCPU0 time.Duration
	if r.cfg.PID != 0 {
		rssWatch = startRSSSampler(r.cfg.PID)
		serverCPU0, _ = cpuTime(r.cfg.PID)
	}
	toolCPU0, _ := cpuTime(0)

	// Paced clients each send every interval, their slots staggered so
	// that together they send evenly.
	var interval time.Duration
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(r.cfg.Concurrency) / r.cfg.Rate)
	}
	hardDeadline, _ := wctx.Deadline()
	workers := make([]*worker, r.cfg.Concurrency)
	for i := range workers {
		workers[i] = r.newWorker(wctx, hardDeadline)
	}
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(r.cfg.Duration)
	for i, w := range workers {
		next := start.Add(interval * time.Duration(i) / time.Duration(len(workers)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.wire.close()
			for !stop.Load() && wctx.Err() == nil {
				if interval > 0 {
					if now := time.Now(); now.After(next) {
						next = now // behind: send now, and the next one a whole interval later
					} else if !w.waitUntil(next, end) {
						return
					}
					next = next.Add(interval)
				}
				w.do(pick(w.rng))
			}
		}()
	}
	var sampling *sampler
	if r.cfg.Sample > 0 {
		sampling = r.startSampler(ctx, name, start, workers)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if sampling != nil {
		report.Samples, report.Soak = sampling.stop()
	}
	var rssMax int64
	if rssWatch != nil {
		rssMax = rssWatch.stop()
	}
	if err := ctx.Err(); err != nil {
		return report, err
	}

	report.Seconds = elapsed.Seconds()
	if r.cfg.PID != 0 {
		report.ServerRSSMax = megabytes(rssMax)
		if peak, err := peakRSS(r.cfg.PID); err == nil {
			report.ServerPeakRSS = megabytes(peak)
		}
		if cpu, err := cpuTime(r.cfg.PID); err == nil && serverCPU0 > 0 {
			report.ServerCPU = 100 * (cpu - serverCPU0).Seconds() / elapsed.Seconds()
		}
	}
	if cpu, err := cpuTime(0); err == nil && toolCPU0 > 0 {
		report.ToolCPU = 100 * (cpu - toolCPU0).Seconds() / elapsed.Seconds()
	}

	var total tally
	total.statuses = map[int]int64{}
	for op := range operation(operations) {
		var t tally
		t.statuses = map[int]int64{}
		for _, w := range workers {
			if w.tallies[op] != nil {
				t.add(w.tallies[op])
			}
		}
		if t.requests() == 0 {
			continue
		}
		total.add(&t)
		if _, single := workloadOperations[name]; !single {
			part := WorkloadReport{Name: operationNames[op]}
			part.fill(&t, elapsed)
			report.Parts = append(report.Parts, part)
		}
	}
	report.fill(&total, elapsed)
	return report, nil
}

// add adds the counts of o to t.
func (t *tally) add(o *tally) {
	t.latency.Merge(&o.latency)
	for s, n := range o.statuses {
		t.statuses[s] += n
	}
	t.failures += o.failures
	if t.example == "" {
		t.example = o.example
	}
}

// requests returns how many requests t counts, answered or not.
func (t *tally) requests() int64 {
	n := t.failures
	for _, c := range t.statuses {
		n += c
	}
	return n
}
