package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromCheckout builds nbreg as a developer does, with go build in
// a git checkout, and expects version to name that checkout's commit and
// its date. The checkout is a fresh repository holding a copy of this work
// tree, committed at a known time, so that the test sees the code as it is
// now, committed or not.
func TestVersionFromCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	files, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not in a git checkout (git ls-files: %v)", err)
	}

	checkout := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		content, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in git
		}
		if err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(checkout, name)
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dest, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const date = "2026-01-02T03:04:05Z"
	git := func(args ...string) string {
		t.Helper()
		c := exec.Command("git", append([]string{"-c", "user.name=nbreg test", "-c", "user.email=test@nbreg.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		c.Dir = checkout
		c.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "the work tree under test")
	commit := git("rev-parse", "HEAD")

	// The toolchain's own default, -buildvcs=auto, whatever GOFLAGS this
	// machine sets: what a developer who has not turned stamping off gets.
	binary := filepath.Join(t.TempDir(), "nbreg")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = checkout
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=auto", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	version := exec.Command(binary, "version")
	version.Stdout, version.Stderr = &stdout, &stderr
	if err := version.Run(); err != nil {
		t.Fatalf("nbreg version: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"nbreg:   v0.0.0-20260102030405-" + commit[:12] + "\n",
		"commit:  " + commit + "\n",
		"date:    " + date + "\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, stdout.String())
		}
	}
}
