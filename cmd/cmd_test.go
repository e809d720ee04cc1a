package cmd

// These tests run the command line in-process, so that the race detector
// watches the wiring of serve; e2e_test.go at the top drives the built
// binary as a user does.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/neurobank/", "/neurobank/"},
		{"neurobank", "/neurobank/"},
		{"/neurobank", "/neurobank/"},
		{"neurobank/", "/neurobank/"},
		{"//lab/registry//", "/lab/registry/"},
		{"", "/"},
		{"/", "/"},
	} {
		if got := normalizePrefix(tc.in); got != tc.want {
			t.Errorf("normalizePrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReadPasswordLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"secret\n", "secret"},
		{"secret\r\n", "secret"},
		{"secret", "secret"},
		{" two words \n", " two words "},
		{"first\nsecond\n", "first"},
	} {
		got, err := readPasswordLine(strings.NewReader(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("readPasswordLine(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	t.Run("Empty", func(t *testing.T) {
		for _, in := range []string{"", "\n", "\r\n"} {
			if _, err := readPasswordLine(strings.NewReader(in)); err == nil {
				t.Errorf("readPasswordLine(%q) accepted an empty password", in)
			}
		}
	})
}

func TestErrorSentence(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"the passwords do not match", "the passwords do not match."},
		{"already a sentence.", "already a sentence."},
		{"two\nlines", "two lines."},
	} {
		if got := errorSentence(errString(tc.in)); got != tc.want {
			t.Errorf("errorSentence(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a
// server's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCommand runs one command line in-process and returns its status,
// stdout and stderr.
func runCommand(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestServeInProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "registry.db")
	if code, _, stderr := runCommand(t, "pw\n", "adduser", "--db", db, "--role", "admin", "--password-stdin", "alice"); code != 0 {
		t.Fatalf("adduser: status %d: %s", code, stderr)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stderr lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--prefix", "lab", "--drain", "0"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()

	serving := regexp.MustCompile(`nbreg: serving (http://127\.0\.0\.1:\d+/lab/) \(database ` + regexp.QuoteMeta(db) + `\)`)
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; {
		if m := serving.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve did not report its address:\n%s", stderr.String())
		}
		select {
		case code := <-exited:
			t.Fatalf("serve exited with status %d:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}

	client := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequest("POST", url+"datatypes/", strings.NewReader(`{"name": "wav", "extension": "wav"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("alice", "pw")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST datatypes/: %d, want 201", resp.StatusCode)
	}

	// A change from another command is served at once.
	if code, _, errs := runCommand(t, "", "admin-datatype", "--db", db, "wav", "--downloadable=true"); code != 0 {
		t.Fatalf("admin-datatype: status %d: %s", code, errs)
	}
	resp, err = client.Get(url + "datatypes/wav/")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "wav", "content_type": "", "extension": "wav", "downloadable": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("datatype after admin-datatype (-want +got):\n%s", diff)
	}

	stop()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("serve exited with status %d after shutdown:\n%s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not shut down")
	}
	if !strings.HasSuffix(stderr.String(), "nbreg: stopped\n") {
		t.Errorf("serve did not report a clean stop:\n%s", stderr.String())
	}
}
