package main_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// privateCluster is a PostgreSQL server of the test's own, which it may
// stop and start: the machine's server is shared.
type privateCluster struct {
	bin, dir, port string
}

// newPrivateCluster initialises and starts a cluster in a directory of
// its own, run by the postgres system user (PostgreSQL refuses root). The
// test is skipped where that cannot be done.
func newPrivateCluster(t *testing.T) *privateCluster {
	t.Helper()
	bin := "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		t.Skipf("no PostgreSQL server binaries in %s", bin)
	}
	if _, err := exec.LookPath("runuser"); err != nil || os.Geteuid() != 0 {
		t.Skip("a private PostgreSQL cluster needs root, to run it as the postgres user")
	}
	dir, err := os.MkdirTemp("", "nbreg-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot give the cluster's directory to postgres: %v %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	c := &privateCluster{bin: bin, dir: filepath.Join(dir, "data"), port: port}
	c.run(t, "initdb", "-D", c.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.start(t)
	t.Cleanup(func() {
		exec.Command("runuser", "-u", "postgres", "--", filepath.Join(bin, "pg_ctl"), "-D", c.dir, "-m", "immediate", "stop").Run()
	})
	return c
}

func (c *privateCluster) run(t *testing.T, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bin, tool)}, args...)...)
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

func (c *privateCluster) start(t *testing.T) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.dir, "-w", "-l", filepath.Join(filepath.Dir(c.dir), "log"),
		"-o", "-p "+c.port+" -k "+filepath.Dir(c.dir)+" -c listen_addresses=127.0.0.1 -c fsync=off", "start")
}

func (c *privateCluster) stop(t *testing.T) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.dir, "-w", "-m", "fast", "stop")
}

func (c *privateCluster) url() string {
	return "postgres://postgres@127.0.0.1:" + c.port + "/postgres?sslmode=disable"
}

// TestPostgresRestartUnderLoad restarts PostgreSQL while writers create
// resources through nbreg: during the outage requests are answered 503
// with a detail and Retry-After: 1, within a bounded time, never 500;
// nbreg reconnects by itself; and every write that was answered 201 is
// there afterwards.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	cluster := newPrivateCluster(t)
	h := newHome(t)
	db := cluster.url()
	h.mustRun(t, "pw\n", "--db", db, "adduser", "--role", "admin", "--password-stdin", "alice")
	key := strings.TrimSpace(h.mustRun(t, "", "--db", db, "token", "alice").stdout)
	client := &http.Client{Timeout: 20 * time.Second}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	if status, body := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": "wav"}, token(key)); status != http.StatusCreated {
		t.Fatalf("POST datatypes/: %d %v", status, body)
	}

	var mu sync.Mutex
	created := map[string]bool{}
	statuses := map[int]int{}
	var slowest time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%05d", w, i)
				start := time.Now()
				status, header, body, err := tryRequestHeader(client, "POST", s.url+"resources/", map[string]any{"name": name, "dtype": "wav"}, token(key))
				took := time.Since(start)
				mu.Lock()
				if err != nil {
					// A request that found no answer within the client's
					// timeout, or a connection nbreg dropped.
					t.Errorf("create %s during the restart: %v", name, err)
					mu.Unlock()
					return
				}
				statuses[status]++
				slowest = max(slowest, took)
				if status == http.StatusCreated {
					created[name] = true
				} else if status != http.StatusServiceUnavailable || body["detail"] == nil || header.Get("Retry-After") != "1" {
					t.Errorf("create %s during the restart: %d %v, Retry-After %q; want 201, or 503 with a detail and Retry-After: 1", name, status, body, header.Get("Retry-After"))
				}
				mu.Unlock()
				if status != http.StatusCreated {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	cluster.stop(t)
	time.Sleep(2 * time.Second)
	cluster.start(t)
	// Writes succeed again without restarting nbreg.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		before := statuses[http.StatusCreated]
		mu.Unlock()
		time.Sleep(time.Second)
		mu.Lock()
		after := statuses[http.StatusCreated]
		mu.Unlock()
		if after > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write succeeded within 30 s of PostgreSQL's restart; statuses %v\n%s", statuses, s.log())
		}
	}
	close(stop)
	wg.Wait()
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no request was answered 503 while PostgreSQL was down: %v", statuses)
	}
	if slowest > 15*time.Second {
		t.Errorf("a request took %v during the outage", slowest)
	}
	t.Logf("statuses %v, slowest %v, %d created", statuses, slowest, len(created))
	for name := range created {
		if status, body := request(t, client, "GET", s.url+"resources/"+name+"/", nil, nil); status != http.StatusOK {
			t.Errorf("resource %s, answered 201, is gone: %d %v", name, status, body)
		}
	}
}
