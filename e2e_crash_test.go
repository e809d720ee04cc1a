package main_test

// The crash test: the real server, killed with SIGKILL in the middle of
// concurrent writes, again and again on one database file. A 201 or 200
// promises that the write is on disk; this test holds the server to that
// promise, and to the promise that a write either happened whole or not at
// all.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Shape of the crash test. Rounds and seed can be set from the environment
// (NBREG_CRASH_ROUNDS, NBREG_CRASH_SEED) to soak the server longer or to
// replay a failure.
const (
	crashRounds    = 20
	crashWorkers   = 8
	crashMinUptime = 300 * time.Millisecond
	crashMaxUptime = 1500 * time.Millisecond
	// crashFileBudget is how long into the test the file is still checked
	// after kills; the checks grow with the file, and a slow machine (or
	// the race detector, which slows SQLite itself down many times) would
	// otherwise spend minutes on them. The file after the last shutdown is
	// always checked.
	crashFileBudget = 30 * time.Second
	// crashRecovery bounds how long the server, started again on the file
	// a killed one left, may take to answer info/.
	crashRecovery = 10 * time.Second

	crashUser     = "crash-editor"
	crashDataType = "crash-recording"
	crashArchiveA = "crash-local"
	crashArchiveB = "crash-remote"
)

// outcome is what a client can know of a write it sent.
type outcome int

const (
	notSent outcome = iota
	// acknowledged: the success status and the whole answer arrived, so
	// the write must be in the database.
	acknowledged
	// unknown: the connection broke before a whole answer arrived; the
	// write may or may not have happened, but not in part.
	unknown
	// refused: a whole answer with an error status arrived; nothing of
	// the write may be in the database.
	refused
)

// crashWrite is everything one client asked of one resource in a round:
// its creation, the counters it set by PATCH and the archive it added.
type crashWrite struct {
	name      string
	sha1      string         // "" when the create sent none
	metadata  map[string]any // as created, decoded as JSON decodes it
	locations []string       // as created, sorted
	created   outcome

	counters     []int // every counter sent, in order
	ackedCounter int   // the last acknowledged counter; 0 when none
	addedB       outcome
}

// crashRecord is a resource as the API shows it and as the test compares it
// with the database.
type crashRecord struct {
	Name      string         `json:"name"`
	SHA1      *string        `json:"sha1"`
	DType     string         `json:"dtype"`
	Metadata  map[string]any `json:"metadata"`
	Locations []string       `json:"locations"`
	CreatedBy string         `json:"created_by"`
}

// settledResource is a resource whose state the test knows for good: it
// was seen after the round that wrote it, and no later round touches it.
type settledResource struct {
	record crashRecord
	// locationsAdded is how many archives were added after creation,
	// which is how many add_location entries its history must hold.
	locationsAdded int
}

// crashTally counts what the checks covered, for the summary line.
type crashTally struct {
	ackedCreates, ackedPatches, ackedAdds     int
	unknownCreatesPresent, unknownCreatesGone int
	unknownPatchesLanded, unknownPatchesLost  int
	unknownAddsLanded, unknownAddsLost        int
	databaseChecks                            int
	slowestRecovery                           time.Duration
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server many times")
	}
	began := time.Now()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("NBREG_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("NBREG_CRASH_SEED=%q is not a number", v)
		}
	}
	rounds := crashRounds
	if v := os.Getenv("NBREG_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("NBREG_CRASH_ROUNDS=%q is not a positive number", v)
		}
		rounds = n
	}
	// The seed replays the kill moments and every client's choice of
	// writes; how the requests interleave is up to the scheduler.
	t.Logf("seed %d (replay with NBREG_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")
	h.mustRun(t, "crash password\n", "adduser", "--db", db, "--password-stdin", crashUser)
	key := strings.TrimSpace(h.mustRun(t, "", "token", "--db", db, crashUser).stdout)

	c := &crashCheck{t: t, db: db, settled: map[string]settledResource{}, gone: map[string]bool{}}
	var previous []*crashWrite // the last round's writes, checked after the restart
	var fromFile map[string]crashRecord
	for round := 0; round <= rounds; round++ {
		client, transport := crashClient()
		start := time.Now()
		s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
		if round > 0 {
			if took := time.Since(start); took > crashRecovery {
				t.Errorf("round %d: the server answered info/ %s after the kill, want within %s", round, took.Round(time.Millisecond), crashRecovery)
			} else if took > c.tally.slowestRecovery {
				c.tally.slowestRecovery = took
			}
			served := c.judgeRound(round, previous, c.readAPI(client, s.url, previous), "the server", true)
			if fromFile != nil {
				if diff := cmp.Diff(fromFile, served); diff != "" {
					c.errorf("round %d: the server after a restart shows other records than the file held after the kill (-file +server):\n%s", round, diff)
				}
			}
			c.settle(previous, served)
		} else {
			crashSetUp(t, client, s.url, h.dir)
		}
		if t.Failed() {
			t.Fatalf("stopping after round %d with %d problems; seed %d; end of the server's log:\n%s", round, c.problems, seed, lastLines(s.log(), 20))
		}
		if round == rounds {
			if code := s.stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0; end of stderr:\n%s", code, lastLines(s.log(), 20))
			}
			c.checkLog(s.log())
			transport.CloseIdleConnections()
			break
		}

		uptime := crashMinUptime + time.Duration(rng.Int64N(int64(crashMaxUptime-crashMinUptime)))
		previous = crashWorkload(t, s, client, key, round+1, uptime, rng)
		transport.CloseIdleConnections()
		c.checkLog(s.log())
		wal := "no write-ahead log"
		if _, err := os.Stat(db + "-wal"); err == nil {
			wal = "its write-ahead log"
		}
		t.Logf("round %d: killed after %s, %d resources written to, %s left behind", round+1, uptime.Round(time.Millisecond), len(previous), wal)

		// Look at the file the killed server left, before anything opens
		// it read-write, in every other round while the time allows: the
		// rounds in between let the restarted server be the first to find
		// the crashed journal.
		fromFile = nil
		if ((round+1)%2 == 1 || round+1 == rounds) && time.Since(began) < crashFileBudget {
			fromFile = c.judgeRound(round+1, previous, c.readFile(previous), "the file after the kill", false)
		}
		if t.Failed() {
			t.Fatalf("stopping after round %d with %d problems; seed %d; end of the server's log:\n%s", round+1, c.problems, seed, lastLines(s.log(), 20))
		}
	}

	// Stopped cleanly at last: the file holds exactly what was settled.
	c.checkSettled(c.readFile(nil), "the file after the last shutdown", nil)

	tl := c.tally
	t.Logf("%d rounds in %s (seed %d): acknowledged %d creates, %d metadata updates, %d location adds; "+
		"unacknowledged creates %d present whole, %d absent; unacknowledged updates %d landed, %d not; "+
		"unacknowledged location adds %d landed, %d not; %d resources at the end; %d checks of the file; slowest recovery %s",
		rounds, time.Since(began).Round(time.Millisecond), seed,
		tl.ackedCreates, tl.ackedPatches, tl.ackedAdds,
		tl.unknownCreatesPresent, tl.unknownCreatesGone, tl.unknownPatchesLanded, tl.unknownPatchesLost,
		tl.unknownAddsLanded, tl.unknownAddsLost, len(c.settled), tl.databaseChecks, tl.slowestRecovery.Round(time.Millisecond))
}

// crashClient is a client for one life of the server, keeping a connection
// open per worker.
func crashClient() (*http.Client, *http.Transport) {
	transport := &http.Transport{MaxIdleConnsPerHost: crashWorkers * 2}
	return &http.Client{Timeout: 20 * time.Second, Transport: transport}, transport
}

// crashSetUp creates the datatype and archives every resource refers to.
func crashSetUp(t *testing.T, client *http.Client, api, dir string) {
	t.Helper()
	signIn := basic(crashUser, "crash password")
	for _, w := range []struct {
		path string
		body map[string]any
	}{
		{"datatypes/", map[string]any{"name": crashDataType, "content_type": "audio/wav", "extension": "wav"}},
		{"archives/", map[string]any{"name": crashArchiveA, "scheme": "neurobank", "root": filepath.Join(dir, "archive")}},
		{"archives/", map[string]any{"name": crashArchiveB, "scheme": "https", "root": "data.example.org/crash", "accessibility": "remote"}},
	} {
		if status, body := request(t, client, "POST", api+w.path, w.body, signIn); status != http.StatusCreated {
			t.Fatalf("POST %s: %d %v", w.path, status, body)
		}
	}
}

// crashWorkload runs the clients against s for uptime, kills the server
// with SIGKILL while they write, and returns every write they attempted.
func crashWorkload(t *testing.T, s *server, client *http.Client, key string, round int, uptime time.Duration, rng *rand.Rand) []*crashWrite {
	t.Helper()
	var killed atomic.Bool
	var wg sync.WaitGroup
	workers := make([]*crashWorker, crashWorkers)
	for i := range workers {
		workers[i] = &crashWorker{
			t: t, client: client, api: s.url, key: key, round: round, id: i,
			rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
		}
		wg.Go(func() { workers[i].run(&killed) })
	}
	time.Sleep(uptime)

	if code := s.stop(t, syscall.SIGKILL); code != -1 {
		t.Errorf("round %d: exit status %d, want death by signal; end of stderr:\n%s", round, code, lastLines(s.log(), 20))
	}
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the server process did not die of SIGKILL (%v)", round, s.cmd.ProcessState)
	}
	killed.Store(true)
	wg.Wait()

	var writes []*crashWrite
	for _, w := range workers {
		writes = append(writes, w.writes...)
	}
	return writes
}

// crashWorker is one client: it creates resources, updates their metadata
// and adds archives to them, one request at a time, until the server dies.
type crashWorker struct {
	t      *testing.T
	client *http.Client
	api    string
	key    string
	round  int
	id     int
	rng    *rand.Rand
	writes []*crashWrite
}

func (w *crashWorker) run(killed *atomic.Bool) {
	for !killed.Load() {
		var o outcome
		switch n := w.rng.IntN(10); {
		case n < 3:
			o = w.patch()
		case n < 5:
			o = w.addArchive()
		}
		if o == notSent {
			o = w.create()
		}
		if o == unknown {
			// The answer was lost: the server is gone.
			return
		}
	}
}

// create asks for a new resource.
func (w *crashWorker) create() outcome {
	name := fmt.Sprintf("crash-%02d-%d-%04d", w.round, w.id, len(w.writes))
	meta := map[string]any{
		"round":  w.round,
		"worker": w.id,
		"seq":    len(w.writes),
		"subject": map[string]any{
			"bird":     fmt.Sprintf("b%03d", w.rng.IntN(1000)),
			"age_days": w.rng.IntN(400),
			"tags":     []any{"crash", "song", w.rng.IntN(10)},
		},
		"note": "recorded in the booth — ünïcödé survives",
	}
	if w.rng.IntN(10) == 0 {
		// A note longer than a page, so that some writes span pages.
		meta["long_note"] = strings.Repeat(fmt.Sprintf("%s/", name), 260+w.rng.IntN(60))
	}
	locations := []string{crashArchiveA}
	if w.rng.IntN(2) == 0 {
		locations = append(locations, crashArchiveB)
	}
	body := map[string]any{"name": name, "dtype": crashDataType, "metadata": meta, "locations": locations}
	cw := &crashWrite{name: name, metadata: asJSON(w.t, meta), locations: locations}
	if w.rng.IntN(3) == 0 {
		sum := sha1.Sum([]byte(name))
		cw.sha1 = hex.EncodeToString(sum[:])
		body["sha1"] = cw.sha1
	}
	w.writes = append(w.writes, cw)
	var answer crashRecord
	cw.created = w.send("POST", "resources/", body, http.StatusCreated, &answer)
	if cw.created == acknowledged && answer.Name != name {
		w.t.Errorf("POST resources/ for %s answered the record of %q", name, answer.Name)
	}
	return cw.created
}

// patch sets the next counter on one of this round's resources; notSent
// when there is none yet.
func (w *crashWorker) patch() outcome {
	cw := w.pick(func(cw *crashWrite) bool { return true })
	if cw == nil {
		return notSent
	}
	counter := cw.ackedCounter + 1
	cw.counters = append(cw.counters, counter)
	var answer crashRecord
	o := w.send("PATCH", "resources/"+cw.name+"/", map[string]any{"metadata": map[string]any{"counter": counter}}, http.StatusOK, &answer)
	switch o {
	case acknowledged:
		cw.ackedCounter = counter
		if got := answer.Metadata["counter"]; got != float64(counter) {
			w.t.Errorf("PATCH resources/%s/ with counter %d answered counter %v", cw.name, counter, got)
		}
	case refused:
		// Nothing happened; the counter was not used.
		cw.counters = cw.counters[:len(cw.counters)-1]
	}
	return o
}

// addArchive adds the second archive to a resource created without it;
// notSent when there is none.
func (w *crashWorker) addArchive() outcome {
	cw := w.pick(func(cw *crashWrite) bool { return len(cw.locations) == 1 && cw.addedB == notSent })
	if cw == nil {
		return notSent
	}
	cw.addedB = w.send("POST", "resources/"+cw.name+"/locations/", map[string]any{"archive_name": crashArchiveB}, http.StatusCreated, nil)
	return cw.addedB
}

// pick chooses one of the resources this worker created and had
// acknowledged that also satisfies ok, or nil when there is none.
func (w *crashWorker) pick(ok func(*crashWrite) bool) *crashWrite {
	var candidates []*crashWrite
	for _, cw := range w.writes {
		if cw.created == acknowledged && ok(cw) {
			candidates = append(candidates, cw)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	return candidates[w.rng.IntN(len(candidates))]
}

// send sends one write and says what the client can know of it. A whole
// answer with another status than want is a refusal, which this workload
// never provokes, so it is reported.
func (w *crashWorker) send(method, path string, body any, want int, answer any) outcome {
	b, err := json.Marshal(body)
	if err != nil {
		w.t.Error(err)
		return refused
	}
	req, err := http.NewRequest(method, w.api+path, bytes.NewReader(b))
	if err != nil {
		w.t.Error(err)
		return refused
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	token(w.key)(req)
	resp, err := w.client.Do(req)
	if err != nil {
		return unknown
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return unknown
	}
	if resp.StatusCode != want {
		w.t.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, got, want)
		return refused
	}
	// A success status with a cut-off body is not an acknowledgement the
	// client could act on.
	var decoded any = &map[string]any{}
	if answer != nil {
		decoded = answer
	}
	if err := json.Unmarshal(got, decoded); err != nil {
		return unknown
	}
	return acknowledged
}

// asJSON returns v as encoding/json decodes its encoding, which is how the
// API's answers and the database's text come back.
func asJSON(t *testing.T, v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Error(err)
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Error(err)
	}
	return out
}

// crashCheck holds what is known for good across rounds.
type crashCheck struct {
	t       *testing.T
	db      string
	settled map[string]settledResource
	gone    map[string]bool // unacknowledged creates found absent
	tally   crashTally
	// problems counts what errorf reported.
	problems int
}

// crashMaxReported is how many problems are reported one by one; the rest
// are only counted, so that a failure stays readable.
const crashMaxReported = 20

func (c *crashCheck) errorf(format string, args ...any) {
	c.t.Helper()
	c.problems++
	if c.problems <= crashMaxReported {
		c.t.Errorf(format, args...)
	}
}

// judgeRound checks observed (every resource found, by name) against the
// writes of round and against everything settled before it, and returns the
// round's resources as found. count says whether the judgement adds to the
// tally, which one judgement per round does.
func (c *crashCheck) judgeRound(round int, writes []*crashWrite, observed map[string]crashRecord, source string, count bool) map[string]crashRecord {
	t := c.t
	t.Helper()
	c.checkSettled(observed, source, writes)
	found := map[string]crashRecord{}
	var tl crashTally
	for _, cw := range writes {
		got, present := observed[cw.name]
		switch cw.created {
		case acknowledged:
			tl.ackedCreates++
			if !present {
				c.errorf("round %d, %s: acknowledged create of %s is missing", round, source, cw.name)
				continue
			}
		case unknown:
			if !present {
				tl.unknownCreatesGone++
				continue
			}
			tl.unknownCreatesPresent++
		case refused:
			if present {
				c.errorf("round %d, %s: refused create of %s is present: %+v", round, source, cw.name, got)
			}
			continue
		}
		found[cw.name] = got

		want := crashRecord{Name: cw.name, DType: crashDataType, CreatedBy: crashUser, Metadata: maps.Clone(cw.metadata), Locations: cw.locations}
		if cw.sha1 != "" {
			want.SHA1 = &cw.sha1
		}

		// The stored counter is the last acknowledged one or one sent
		// after it; nothing else. Counters go up by one, each sent after
		// the previous one was acknowledged.
		tl.ackedPatches += cw.ackedCounter
		stored, hasCounter := got.Metadata["counter"]
		allowed := cw.ackedCounter > 0 && stored == float64(cw.ackedCounter) || cw.ackedCounter == 0 && !hasCounter
		for _, k := range cw.counters {
			if k > cw.ackedCounter && hasCounter && stored == float64(k) {
				allowed = true
				tl.unknownPatchesLanded++
			}
		}
		if !allowed {
			c.errorf("round %d, %s: %s holds counter %v (present %t); sent %v, last acknowledged %d",
				round, source, cw.name, stored, hasCounter, cw.counters, cw.ackedCounter)
		}
		if len(cw.counters) > 0 && cw.counters[len(cw.counters)-1] > cw.ackedCounter && (!hasCounter || stored != float64(cw.counters[len(cw.counters)-1])) {
			tl.unknownPatchesLost++
		}
		if hasCounter {
			want.Metadata["counter"] = stored
		}

		hasB := len(cw.locations) == 1 && slices.Contains(got.Locations, crashArchiveB)
		switch cw.addedB {
		case acknowledged:
			tl.ackedAdds++
			want.Locations = []string{crashArchiveA, crashArchiveB}
		case unknown:
			if hasB {
				tl.unknownAddsLanded++
				want.Locations = []string{crashArchiveA, crashArchiveB}
			} else {
				tl.unknownAddsLost++
			}
		}

		if diff := cmp.Diff(want, got); diff != "" {
			c.errorf("round %d, %s: %s is not as written (-want +got):\n%s", round, source, cw.name, diff)
		}
	}
	if count {
		c.tally.add(tl)
	}
	return found
}

// checkSettled checks that every settled resource is in observed
// unchanged, and that observed holds nothing else than them and the
// resources of writes.
func (c *crashCheck) checkSettled(observed map[string]crashRecord, source string, writes []*crashWrite) {
	c.t.Helper()
	for name, s := range c.settled {
		got, ok := observed[name]
		if !ok {
			c.errorf("%s: %s, settled in an earlier round, is missing", source, name)
			continue
		}
		if diff := cmp.Diff(s.record, got); diff != "" {
			c.errorf("%s: %s changed since an earlier round (-then +now):\n%s", source, name, diff)
		}
	}
	inRound := map[string]bool{}
	for _, cw := range writes {
		inRound[cw.name] = true
	}
	for name := range observed {
		if _, ok := c.settled[name]; !ok && !inRound[name] {
			if c.gone[name] {
				c.errorf("%s: %s was absent after its round and is present now", source, name)
			} else {
				c.errorf("%s: %s was never written by this test", source, name)
			}
		}
	}
}

// settle records the state of the round's resources as found.
func (c *crashCheck) settle(writes []*crashWrite, found map[string]crashRecord) {
	for _, cw := range writes {
		r, ok := found[cw.name]
		if !ok {
			c.gone[cw.name] = true
			continue
		}
		c.settled[cw.name] = settledResource{record: r, locationsAdded: len(r.Locations) - len(cw.locations)}
	}
}

func (tl *crashTally) add(o crashTally) {
	tl.ackedCreates += o.ackedCreates
	tl.ackedPatches += o.ackedPatches
	tl.ackedAdds += o.ackedAdds
	tl.unknownCreatesPresent += o.unknownCreatesPresent
	tl.unknownCreatesGone += o.unknownCreatesGone
	tl.unknownPatchesLanded += o.unknownPatchesLanded
	tl.unknownPatchesLost += o.unknownPatchesLost
	tl.unknownAddsLanded += o.unknownAddsLanded
	tl.unknownAddsLost += o.unknownAddsLost
}

// readAPI asks the server for every resource the test ever wrote or tried
// to, in one bulk request, and for each of the round's uncertain writes
// also one by one.
func (c *crashCheck) readAPI(client *http.Client, api string, writes []*crashWrite) map[string]crashRecord {
	t := c.t
	t.Helper()
	names := slices.Collect(maps.Keys(c.settled))
	names = append(names, slices.Collect(maps.Keys(c.gone))...)
	for _, cw := range writes {
		names = append(names, cw.name)
	}
	b, err := json.Marshal(map[string]any{"names": names})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(api+"bulk/resources/", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST bulk/resources/: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST bulk/resources/: %d %s", resp.StatusCode, body)
	}
	observed := map[string]crashRecord{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r crashRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bulk/resources/ line %q: %v", sc.Bytes(), err)
		}
		if _, twice := observed[r.Name]; twice {
			c.errorf("bulk/resources/ answered %s twice", r.Name)
		}
		observed[r.Name] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading bulk/resources/: %v", err)
	}

	for _, cw := range writes {
		if cw.created != unknown && cw.addedB != unknown && !slices.ContainsFunc(cw.counters, func(k int) bool { return k > cw.ackedCounter }) {
			continue
		}
		status, one := crashGet(t, client, api+"resources/"+url.PathEscape(cw.name)+"/")
		bulk, inBulk := observed[cw.name]
		switch {
		case status == http.StatusNotFound && !inBulk:
		case status == http.StatusOK && inBulk:
			if diff := cmp.Diff(bulk, one); diff != "" {
				c.errorf("resources/%s/ and bulk/resources/ disagree (-bulk +detail):\n%s", cw.name, diff)
			}
		default:
			c.errorf("GET resources/%s/: %d, but bulk/resources/ has it: %t", cw.name, status, inBulk)
		}
	}
	return observed
}

func crashGet(t *testing.T, client *http.Client, u string) (int, crashRecord) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var r crashRecord
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
	}
	return resp.StatusCode, r
}

// readFile opens the database read-only while no server runs, runs
// SQLite's own checks and the checks of what sqlstore keeps alongside each
// resource, and returns every resource in it.
func (c *crashCheck) readFile(writes []*crashWrite) map[string]crashRecord {
	t := c.t
	t.Helper()
	c.tally.databaseChecks++
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(c.db), RawQuery: "mode=ro"}
	conn, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// One connection, so that every query reads the same snapshot.
	conn.SetMaxOpenConns(1)
	tx, err := conn.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("opening %s read-only: %v", c.db, err)
	}
	defer tx.Rollback()

	query := func(q string, scan func(*sql.Rows) error) {
		t.Helper()
		rows, err := tx.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	var integrity []string
	query(`PRAGMA integrity_check`, func(rows *sql.Rows) error {
		var line string
		err := rows.Scan(&line)
		integrity = append(integrity, line)
		return err
	})
	if !slices.Equal(integrity, []string{"ok"}) {
		c.errorf("PRAGMA integrity_check: %q", integrity)
	}
	query(`PRAGMA foreign_key_check`, func(rows *sql.Rows) error {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		c.errorf("PRAGMA foreign_key_check: row %v of %s refers to a missing row of %s", rowid, table, parent)
		return nil
	})

	observed := map[string]crashRecord{}
	ids := map[string]int64{}
	query(`SELECT r.id, r.name, r.sha1, d.name, r.metadata, r.created_by,
	              coalesce((SELECT group_concat(a.name, ',') FROM locations l JOIN archives a ON a.id = l.archive_id
	                         WHERE l.resource_id = r.id), '')
	         FROM resources r JOIN datatypes d ON d.id = r.dtype_id`, func(rows *sql.Rows) error {
		var r crashRecord
		var id int64
		var sha, meta sql.NullString
		var locations string
		if err := rows.Scan(&id, &r.Name, &sha, &r.DType, &meta, &r.CreatedBy, &locations); err != nil {
			return err
		}
		if sha.Valid {
			r.SHA1 = &sha.String
		}
		if meta.Valid {
			if err := json.Unmarshal([]byte(meta.String), &r.Metadata); err != nil {
				return fmt.Errorf("metadata of %s: %v", r.Name, err)
			}
		}
		r.Locations = []string{}
		if locations != "" {
			r.Locations = strings.Split(locations, ",")
			slices.Sort(r.Locations)
		}
		observed[r.Name] = r
		ids[r.Name] = id
		return nil
	})
	c.checkKeptAlongside(query, observed, ids, writes)
	return observed
}

// checkKeptAlongside checks sqlstore's tables that are written in the same
// transaction as a resource (its history, metadata index, resolution row
// and the resource count) against the resources: a write that landed in
// part would leave them out of step.
func (c *crashCheck) checkKeptAlongside(query func(string, func(*sql.Rows) error), observed map[string]crashRecord, ids map[string]int64, writes []*crashWrite) {
	t := c.t
	t.Helper()

	var counted int
	query(`SELECT n FROM resource_count`, func(rows *sql.Rows) error { return rows.Scan(&counted) })
	if counted != len(observed) {
		c.errorf("resource_count holds %d, the file has %d resources", counted, len(observed))
	}

	// History: one create each, one update per counter set, one
	// add_location per archive added later; nothing for names that never
	// came to be.
	type entry struct{ resource, action, field string }
	history := map[entry]int{}
	query(`SELECT resource, action, field, count(*) FROM history GROUP BY resource, action, field`, func(rows *sql.Rows) error {
		var e entry
		var n int
		if err := rows.Scan(&e.resource, &e.action, &e.field, &n); err != nil {
			return err
		}
		history[e] = n
		return nil
	})
	want := map[entry]int{}
	for name, r := range observed {
		want[entry{name, "create", ""}] = 1
		if k, ok := r.Metadata["counter"].(float64); ok {
			want[entry{name, "update", "metadata.counter"}] = int(k)
		}
		added := 0
		if s, ok := c.settled[name]; ok {
			added = s.locationsAdded
		} else if i := slices.IndexFunc(writes, func(cw *crashWrite) bool { return cw.name == name }); i >= 0 {
			added = len(r.Locations) - len(writes[i].locations)
		}
		if added > 0 {
			want[entry{name, "add_location", "locations"}] = added
		}
	}
	if diff := cmp.Diff(want, history); diff != "" {
		c.errorf("history out of step with the resources (-want +got):\n%s", diff)
	}

	// The metadata index holds the values the documents hold.
	type leaf struct {
		resource, path string
		value          float64
	}
	leaves := map[leaf]int{}
	query(`SELECT r.name, p.path, m.value FROM metadata_values m JOIN metadata_paths p ON p.id = m.path_id
	        JOIN resources r ON r.id = m.resource_id WHERE p.path IN ('seq', 'counter')`, func(rows *sql.Rows) error {
		var l leaf
		var v sql.NullFloat64
		if err := rows.Scan(&l.resource, &l.path, &v); err != nil {
			return err
		}
		l.value = v.Float64
		leaves[l]++
		return nil
	})
	wantLeaves := map[leaf]int{}
	for name, r := range observed {
		for _, path := range []string{"seq", "counter"} {
			if v, ok := r.Metadata[path].(float64); ok {
				wantLeaves[leaf{name, path, v}] = 1
			}
		}
	}
	if diff := cmp.Diff(wantLeaves, leaves, cmp.AllowUnexported(leaf{})); diff != "" {
		c.errorf("metadata index out of step with the metadata (-want +got):\n%s", diff)
	}

	// Resolution rows: one per resource, naming its archives.
	archiveIDs := map[string]string{}
	query(`SELECT r.name, coalesce((SELECT group_concat(l.archive_id) FROM locations l WHERE l.resource_id = r.id), '')
	         FROM resources r`, func(rows *sql.Rows) error {
		var name, list string
		if err := rows.Scan(&name, &list); err != nil {
			return err
		}
		archiveIDs[name] = sortedList(list)
		return nil
	})
	resolved := 0
	// A digest is held as its 20 bytes (migration 9).
	query(`SELECT z.name, z.resource_id,
	              z.dtype_id = r.dtype_id AND (CASE typeof(z.sha1) WHEN 'blob' THEN lower(hex(z.sha1)) ELSE z.sha1 END) IS r.sha1,
	              z.archive_ids
	         FROM resolution z LEFT JOIN resources r ON r.name = z.name`, func(rows *sql.Rows) error {
		var name, list string
		var id sql.NullInt64
		var same sql.NullBool
		if err := rows.Scan(&name, &id, &same, &list); err != nil {
			return err
		}
		resolved++
		if rid, ok := ids[name]; !ok || id.Int64 != rid || !same.Bool || sortedList(list) != archiveIDs[name] {
			c.errorf("resolution row of %s (resource %v, same dtype and sha1 %v, archives %q) does not match the resource", name, id, same, list)
		}
		return nil
	})
	if resolved != len(observed) {
		c.errorf("%d resolution rows for %d resources", resolved, len(observed))
	}
}

// checkLog reports what a server logged beyond its ordinary request lines:
// warnings, errors, failed requests.
func (c *crashCheck) checkLog(log string) {
	c.t.Helper()
	for line := range strings.Lines(log) {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") ||
			strings.Contains(line, " status=5") || strings.Contains(line, "panic") {
			c.errorf("the server logged: %s", strings.TrimSpace(line))
		}
	}
}

// lastLines returns the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.SplitAfter(text, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

// sortedList sorts a comma-separated list.
func sortedList(list string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, ",")
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
