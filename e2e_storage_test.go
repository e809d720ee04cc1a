package main_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDiskFull serves a registry from a 3 MB file system and fills it:
// writes are then answered 507 with a detail saying nothing was written,
// reads go on, and once space is freed writes succeed again by
// themselves. Mounting a file system needs root; elsewhere it skips.
func TestDiskFull(t *testing.T) {
	dir := smallFileSystem(t)
	h := newHome(t)
	db := filepath.Join(dir, "registry.db")
	client := &http.Client{Timeout: 10 * time.Second}
	h.mustRun(t, "pw\n", "adduser", "--db", db, "--role", "admin", "--password-stdin", "alice")
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	alice := basic("alice", "pw")
	if status, body := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": "wav"}, alice); status != http.StatusCreated {
		t.Fatalf("POST datatypes/: %d %v", status, body)
	}
	// Another file takes most of the room, so that filling the rest is
	// quick, and freeing it makes room again.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}

	notes := strings.Repeat("a long observation of the session ", 300)
	var status int
	var body map[string]any
	created := 0
	for i := 0; i < 2000; i++ {
		status, body = request(t, client, "POST", s.url+"resources/",
			map[string]any{"name": fmt.Sprintf("r%04d", i), "dtype": "wav", "metadata": map[string]any{"notes": notes}}, alice)
		if status != http.StatusCreated {
			break
		}
		created++
	}
	want := map[string]any{"detail": "The registry's storage is full: nothing was written. Writes will succeed again once space is freed."}
	if status != http.StatusInsufficientStorage || !cmp.Equal(body, want) {
		t.Fatalf("create in a full registry after %d created: %d %v, want 507 %v", created, status, body, want)
	}
	if created == 0 {
		t.Fatal("the registry was full before any create; the test proves nothing")
	}

	status, body = request(t, client, "GET", fmt.Sprintf("%sresources/r%04d/", s.url, created-1), nil, nil)
	if status != http.StatusOK {
		t.Errorf("read when full: %d %v, want 200", status, body)
	}
	status, body = request(t, client, "GET", fmt.Sprintf("%sresources/r%04d/", s.url, created), nil, nil)
	if status != http.StatusNotFound {
		t.Errorf("the refused resource: %d %v, want 404 (nothing written)", status, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	status, body = request(t, client, "POST", s.url+"resources/",
		map[string]any{"name": fmt.Sprintf("r%04d", created), "dtype": "wav", "metadata": map[string]any{"notes": notes}}, alice)
	if status != http.StatusCreated {
		t.Errorf("create once space is freed: %d %v, want 201", status, body)
	}
	if !strings.Contains(s.log(), "database storage full") {
		t.Errorf("the server did not log the full storage:\n%s", s.log())
	}
}

// TestReadOnlyFileSystem: a database on a file system mounted read-only
// is refused at start, in one sentence naming the file and the reason.
func TestReadOnlyFileSystem(t *testing.T) {
	dir := smallFileSystem(t)
	h := newHome(t)
	db := filepath.Join(dir, "registry.db")
	h.mustRun(t, "pw\n", "adduser", "--db", db, "--role", "admin", "--password-stdin", "alice")
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"users"}} {
		r := h.run(t, "", append(args, "--db", db)...)
		want := "nbreg: cannot open the database " + db + ": it is on a read-only file system.\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("nbreg %s on a read-only file system: exit %d, stderr %q; want 1, %q", args[0], r.code, r.stderr, want)
		}
	}
}

// smallFileSystem mounts a file system of 3 MB for the test and returns
// its directory. Mounting needs root; elsewhere the test skips.
func smallFileSystem(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a file system: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}
