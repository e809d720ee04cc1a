package main_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// origin is the scheme, host and port of an API root URL.
func origin(apiRoot string) string {
	scheme, rest, _ := strings.Cut(apiRoot, "://")
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

func TestServeConfiguredByEnvironment(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "lab.db")
	h.mustRun(t, "pw\n", "adduser", "--db", db, "--role", "admin", "--password-stdin", "alice")
	client := &http.Client{Timeout: 10 * time.Second}

	s := h.with("NBREG_ADDR=127.0.0.1:0", "NBREG_PREFIX=/lab/", "NBREG_LOG_FORMAT=json", "NBREG_DB="+db).startServer(t, client)
	if !strings.HasSuffix(s.url, "/lab/") {
		t.Errorf("serving %s, want the prefix of NBREG_PREFIX", s.url)
	}
	// alice is in the database NBREG_DB names, and nowhere else.
	status, body := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": "wav"}, basic("alice", "pw"))
	if status != http.StatusCreated {
		t.Errorf("POST datatypes/ as alice: %d %v, want 201", status, body)
	}
	req, err := http.NewRequest("GET", s.url+"info/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", "from-nginx-1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "from-nginx-1" {
		t.Errorf("X-Request-Id %q, want the one sent", got)
	}
	if status, body := request(t, client, "GET", origin(s.url)+"/readyz", nil, nil); status != http.StatusOK {
		t.Errorf("GET /readyz: %d %v, want 200", status, body)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM; stderr:\n%s", code, s.log())
	}

	// NBREG_LOG_FORMAT=json: every line is a JSON object, serve's own too.
	traced, probes := false, 0
	for _, line := range strings.Split(strings.TrimSuffix(s.log(), "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "request" && rec["path"] == "/lab/info/" && rec["request_id"] == "from-nginx-1" {
			traced = true
		}
		if path, _ := rec["path"].(string); path == "/readyz" {
			probes++
		}
	}
	if !traced {
		t.Errorf("no JSON record of GET /lab/info/ with request_id from-nginx-1:\n%s", s.log())
	}
	if probes != 0 {
		t.Errorf("the readiness probe was logged:\n%s", s.log())
	}
}

func TestServeDrainsOnSIGTERM(t *testing.T) {
	h := newHome(t)
	client := &http.Client{Timeout: 10 * time.Second}
	// --drain on the command line wins over the NBREG_DRAIN=0 of the tests.
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", filepath.Join(h.dir, "registry.db"), "--drain", "3s")
	ready := origin(s.url) + "/readyz"
	if status, body := request(t, client, "GET", ready, nil, nil); status != http.StatusOK {
		t.Fatalf("GET /readyz: %d %v, want 200", status, body)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); ; {
		status, body, err := tryRequest(client, "GET", ready, nil, nil)
		if err != nil {
			t.Fatalf("the server stopped answering before /readyz said 503: %v; stderr:\n%s", err, s.log())
		}
		if status == http.StatusServiceUnavailable {
			if body["detail"] != "The server is shutting down." {
				t.Errorf("GET /readyz while draining: %v", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz after SIGTERM: %d, want 503", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, body := request(t, client, "GET", s.url+"info/", nil, nil); status != http.StatusOK {
		t.Errorf("GET info/ while draining: %d %v, want 200", status, body)
	}
	select {
	case <-s.exited:
	case <-time.After(commandTimeout):
		t.Fatalf("serve did not exit after draining; stderr:\n%s", s.log())
	}
	if s.err != nil {
		t.Errorf("serve after SIGTERM: %v; stderr:\n%s", s.err, s.log())
	}
	if _, err := client.Get(ready); err == nil {
		t.Error("the server still answers after draining")
	}
	log := s.log()
	if i, j := strings.Index(log, "nbreg: draining"), strings.Index(log, "nbreg: stopped"); i < 0 || j < i {
		t.Errorf("serve did not report draining, then stopping:\n%s", log)
	}
}
