package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// The server's memory and CPU use are read from Linux's /proc, so they are
// reported only for a server on the same Linux machine.

// rssInterval is how often a server's resident memory is sampled during a
// workload.
const rssInterval = 100 * time.Millisecond

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture.
const userHZ = 100

// procStatus returns a field of /proc/PID/status in bytes, e.g. "VmHWM"
// (the peak resident set size) or "VmRSS" (the current one).
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	v, err := statusField(b, field, true)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w in kB", pid, err)
	}
	return v, nil
}

// statusField returns a field of a /proc/PID/status file: a size in kB,
// returned in bytes, when inKB, else a plain count.
func statusField(status []byte, field string, inKB bool) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if inKB && (len(fields) != 2 || string(fields[1]) != "kB") || !inKB && len(fields) != 1 {
			break
		}
		v, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			break
		}
		if inKB {
			v <<= 10
		}
		return v, nil
	}
	return 0, fmt.Errorf("no %s", field)
}

// peakRSS returns the peak resident memory of process pid since it started.
func peakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM") }

// cpuTime returns the user and system CPU time process pid has used, or
// this process's own when pid is 0.
func cpuTime(pid int) (time.Duration, error) {
	who := "self"
	if pid != 0 {
		who = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + who + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces; fields are
	// counted after its closing parenthesis, from the state (field 3).
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, errors.New("/proc/" + who + "/stat is not as expected")
	}
	fields := bytes.Fields(b[end+1:])
	if len(fields) < 13 {
		return 0, errors.New("/proc/" + who + "/stat is not as expected")
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15
		t, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += t
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// rssSampler samples a process's resident memory until stopped, keeping
// the largest value.
type rssSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  int64
}

func startRSSSampler(pid int) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	sample := func() {
		if rss, err := procStatus(pid, "VmRSS"); err == nil {
			s.max = max(s.max, rss)
		}
	}
	sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(rssInterval)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				sample()
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest resident size seen, in bytes.
func (s *rssSampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	return s.max
}

// megabytes converts bytes to MiB, the unit of the report.
func megabytes(b int64) float64 { return float64(b) / (1 << 20) }
