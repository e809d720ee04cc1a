package main_test

// End-to-end tests: build the real binary once and drive it as an
// administrator would, from the shell, with a real database file and a real
// server answering real HTTP requests.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite"
)

// nbregBinary is the path of the binary built by TestMain.
var nbregBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nbreg-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nbregBinary = filepath.Join(dir, "nbreg")
	// The binary users get is CGO-free; build exactly that.
	build := exec.Command("go", "build", "-o", nbregBinary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "CGO_ENABLED=0 go build failed: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	postgresDatabases.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// commandTimeout bounds every run of a command that should finish by
// itself, so a hang fails the test instead of blocking it.
const commandTimeout = 60 * time.Second

// home is a user's environment: a home and an XDG data directory of its
// own, so no test reads or writes the real user's files.
type home struct {
	dir string
	env []string
}

func newHome(t *testing.T) *home {
	t.Helper()
	dir := t.TempDir()
	// Servers stop at once, without draining for a load balancer.
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "NBREG_DRAIN=0"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		configures := strings.HasPrefix(name, "NBREG_") && !strings.HasPrefix(name, "NBREG_TEST_")
		if name == "HOME" || configures || strings.HasPrefix(name, "XDG_") {
			continue
		}
		env = append(env, kv)
	}
	return &home{dir: dir, env: env}
}

// with returns a copy of h with more environment variables.
func (h *home) with(kv ...string) *home {
	return &home{dir: h.dir, env: append(append([]string{}, h.env...), kv...)}
}

// result is what a finished command left behind.
type result struct {
	stdout, stderr string
	code           int
}

// run runs nbreg with args and stdin and waits for it to exit.
func (h *home) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, nbregBinary, args...)
	c.Env = h.env
	c.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if ctx.Err() != nil {
		t.Fatalf("nbreg %s did not finish within %s; stderr:\n%s", strings.Join(args, " "), commandTimeout, stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("nbreg %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs nbreg and fails the test unless it succeeds.
func (h *home) mustRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := h.run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("nbreg %s: exit status %d; stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// checkRefusal fails the test unless r is a refusal as users should see
// one: a non-zero exit and one plain line on stderr that contains want.
func checkRefusal(t *testing.T, r result, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("exit status 0, want a failure; stdout:\n%s", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "nbreg: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not one line starting with \"nbreg: \":\n%s", r.stderr)
	}
	for _, bad := range []string{"goroutine", "panic", "Usage:"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr contains %q:\n%s", bad, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	h := newHome(t)
	r := h.mustRun(t, "", "version")
	for _, want := range []string{
		"nbreg:   ",
		"commit:  ",
		"go:      " + runtime.Version() + " ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^schema:  [1-9][0-9]*$`).MatchString(r.stdout) {
		t.Errorf("version output lacks a schema version:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "data", "nbreg", "registry.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("version created or touched the default database (stat: %v)", err)
	}

	t.Run("SetAtLinkTime", func(t *testing.T) {
		binary := filepath.Join(t.TempDir(), "nbreg")
		build := exec.Command("go", "build", "-o", binary,
			"-ldflags", "-X nbreg/cmd.Version=v9.8.7 -X nbreg/cmd.Commit=0123abcd", ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(binary, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"nbreg:   v9.8.7\n", "commit:  0123abcd\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("version output lacks %q:\n%s", want, out)
			}
		}
	})
}

// versionOf returns the version that nbreg version reports.
func (h *home) versionOf(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^nbreg: +(\S+)$`).FindStringSubmatch(h.mustRun(t, "", "version").stdout)
	if m == nil {
		t.Fatal("nbreg version printed no version")
	}
	return m[1]
}

func TestHelp(t *testing.T) {
	h := newHome(t)
	flags := map[string][]string{
		"":               {"--db"},
		"serve":          {"--addr", "--prefix", "--page-size", "--sendfile", "--trust-proxy", "--tls-cert", "--tls-key", "--db"},
		"migrate":        {"--status", "--db"},
		"adduser":        {"--role", "--password-stdin", "--db"},
		"passwd":         {"--password-stdin", "--db"},
		"users":          {"--db"},
		"token":          {"--db"},
		"admin-datatype": {"--content-type", "--extension", "--downloadable", "--db"},
		"version":        {"--db"},
	}
	for command, want := range flags {
		name := command
		if name == "" {
			name = "nbreg"
		}
		t.Run(name, func(t *testing.T) {
			args := append(strings.Fields(command), "--help")
			r := h.mustRun(t, "", args...)
			if !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("nbreg %s --help has no examples:\n%s", command, r.stdout)
			}
			for _, flag := range want {
				if !strings.Contains(r.stdout, flag+" ") {
					t.Errorf("nbreg %s --help does not explain %s:\n%s", command, flag, r.stdout)
				}
			}
		})
	}
}

func TestUsageMistakes(t *testing.T) {
	h := newHome(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"MissingArgument", []string{"adduser"}, "adduser takes exactly one argument"},
		{"ExtraArgument", []string{"token", "alice", "bob"}, "token takes exactly one argument"},
		{"UnknownFlag", []string{"serve", "--bogus"}, "unknown flag: --bogus"},
		{"BadFlagValue", []string{"serve", "--page-size", "many"}, "--page-size"},
		{"UnknownCommand", []string{"frobnicate"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run(t, "", tc.args...)
			if r.code != 2 {
				t.Errorf("exit status %d, want 2", r.code)
			}
			first, _, _ := strings.Cut(r.stderr, "\n")
			if !strings.HasPrefix(first, "nbreg: ") || !strings.Contains(first, tc.want) {
				t.Errorf("first line of stderr is %q, want nbreg: ...%s...", first, tc.want)
			}
			if !strings.Contains(r.stderr, "Usage:") {
				t.Errorf("no usage after a usage mistake:\n%s", r.stderr)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")

	statusLines := func(t *testing.T) []string {
		t.Helper()
		r := h.mustRun(t, "", "migrate", "--status", "--db", db)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "MIGRATION") {
			t.Fatalf("migrate --status printed no migrations:\n%s", r.stdout)
		}
		return lines[1:]
	}

	t.Run("StatusOnFreshDatabaseIsAllPending", func(t *testing.T) {
		for _, line := range statusLines(t) {
			if !strings.HasSuffix(line, " pending") {
				t.Errorf("migration not pending on a fresh database: %q", line)
			}
		}
		// --status looked without applying: still all pending.
		for _, line := range statusLines(t) {
			if !strings.HasSuffix(line, " pending") {
				t.Errorf("migrate --status applied a migration: %q", line)
			}
		}
	})
	t.Run("MigrateAppliesEveryMigration", func(t *testing.T) {
		r := h.mustRun(t, "", "migrate", "--db", db)
		if !strings.Contains(r.stdout, "applied 0001_initial\n") {
			t.Errorf("migrate did not report applying 0001_initial:\n%s", r.stdout)
		}
		for _, line := range statusLines(t) {
			if !regexp.MustCompile(` applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(line) {
				t.Errorf("migration not applied after migrate: %q", line)
			}
		}
	})
	t.Run("MigrateAgainChangesNothing", func(t *testing.T) {
		r := h.mustRun(t, "", "migrate", "--db", db)
		if !strings.Contains(r.stdout, "is up to date") || strings.Contains(r.stdout, "applied") {
			t.Errorf("second migrate output:\n%s", r.stdout)
		}
	})
	t.Run("NotADatabase", func(t *testing.T) {
		bogus := filepath.Join(h.dir, "notes.txt")
		if err := os.WriteFile(bogus, bytes.Repeat([]byte("not a database\n"), 200), 0o644); err != nil {
			t.Fatal(err)
		}
		checkRefusal(t, h.run(t, "", "users", "--db", bogus), "not an SQLite database")
	})
}

func TestDatabaseLocation(t *testing.T) {
	t.Run("DefaultIsInXDGDataHome", func(t *testing.T) {
		h := newHome(t)
		h.mustRun(t, "pw\n", "adduser", "--password-stdin", "alice")
		if _, err := os.Stat(filepath.Join(h.dir, "data", "nbreg", "registry.db")); err != nil {
			t.Errorf("default database not created: %v", err)
		}
	})
	t.Run("EnvironmentVariable", func(t *testing.T) {
		h := newHome(t)
		db := filepath.Join(h.dir, "env.db")
		h.with("NBREG_DB="+db).mustRun(t, "pw\n", "adduser", "--password-stdin", "alice")
		r := h.mustRun(t, "", "users", "--db", db)
		if !strings.Contains(r.stdout, "alice") {
			t.Errorf("user not in $NBREG_DB:\n%s", r.stdout)
		}
		if _, err := os.Stat(filepath.Join(h.dir, "data", "nbreg", "registry.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("default database used despite NBREG_DB (stat: %v)", err)
		}
	})
	t.Run("FlagBeatsEnvironment", func(t *testing.T) {
		h := newHome(t)
		envDB, flagDB := filepath.Join(h.dir, "env.db"), filepath.Join(h.dir, "flag.db")
		h.with("NBREG_DB="+envDB).mustRun(t, "pw\n", "adduser", "--password-stdin", "--db", flagDB, "alice")
		if _, err := os.Stat(flagDB); err != nil {
			t.Errorf("--db not used: %v", err)
		}
		if _, err := os.Stat(envDB); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("$NBREG_DB used despite --db (stat: %v)", err)
		}
	})
}

func TestUsers(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")

	t.Run("NoUsersYet", func(t *testing.T) {
		r := h.mustRun(t, "", "users", "--db", db)
		if r.stdout != "" || !strings.Contains(r.stderr, "no users yet") {
			t.Errorf("users on an empty registry: stdout %q, stderr %q", r.stdout, r.stderr)
		}
	})
	t.Run("AddUserOnFreshDatabase", func(t *testing.T) {
		r := h.mustRun(t, "s3cret pass\n", "adduser", "--db", db, "--role", "admin", "--password-stdin", "alice")
		if !strings.Contains(r.stdout, "alice") {
			t.Errorf("adduser output: %q", r.stdout)
		}
		h.mustRun(t, "another\n", "adduser", "--db", db, "--password-stdin", "bob")
		h.mustRun(t, "third\n", "adduser", "--db", db, "--role", "viewer", "--password-stdin", "carol")
	})
	t.Run("ListUsers", func(t *testing.T) {
		r := h.mustRun(t, "", "users", "--db", db)
		var got [][]string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			f := strings.Fields(line)
			got = append(got, f[:2])
		}
		want := [][]string{{"USERNAME", "ROLE"}, {"alice", "admin"}, {"bob", "editor"}, {"carol", "viewer"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
	})
	t.Run("DuplicateUserRefused", func(t *testing.T) {
		checkRefusal(t, h.run(t, "other\n", "adduser", "--db", db, "--password-stdin", "alice"), "already exists")
	})
	t.Run("BadRoleRefused", func(t *testing.T) {
		checkRefusal(t, h.run(t, "pw\n", "adduser", "--db", db, "--role", "overlord", "--password-stdin", "dave"), "overlord")
	})
	t.Run("BadUsernameRefused", func(t *testing.T) {
		checkRefusal(t, h.run(t, "pw\n", "adduser", "--db", db, "--password-stdin", "dave smith"), "username")
	})
	t.Run("EmptyPasswordRefused", func(t *testing.T) {
		checkRefusal(t, h.run(t, "\n", "adduser", "--db", db, "--password-stdin", "dave"), "password")
	})
	t.Run("NoTerminalForPrompt", func(t *testing.T) {
		checkRefusal(t, h.run(t, "pw\n", "adduser", "--db", db, "dave"), "--password-stdin")
	})
	t.Run("RefusalsChangedNothing", func(t *testing.T) {
		r := h.mustRun(t, "", "users", "--db", db)
		if strings.Count(r.stdout, "\n") != 4 || strings.Contains(r.stdout, "dave") {
			t.Errorf("users after refusals:\n%s", r.stdout)
		}
	})
	t.Run("UnknownUser", func(t *testing.T) {
		checkRefusal(t, h.run(t, "pw\n", "passwd", "--db", db, "--password-stdin", "nobody"), `no user named "nobody"`)
		checkRefusal(t, h.run(t, "", "token", "--db", db, "nobody"), `no user named "nobody"`)
	})
	t.Run("TokenIsPrintedOnce", func(t *testing.T) {
		r := h.mustRun(t, "", "token", "--db", db, "alice")
		if !regexp.MustCompile(`^[0-9a-f]{40}\n$`).MatchString(r.stdout) {
			t.Errorf("token output %q is not one 40-digit key", r.stdout)
		}
		if !strings.Contains(r.stderr, "not be shown again") {
			t.Errorf("no warning that the token is shown once: %q", r.stderr)
		}
		again := h.mustRun(t, "", "token", "--db", db, "alice")
		if again.stdout == r.stdout {
			t.Error("two tokens are the same")
		}
	})
}

// server is a running nbreg serve.
type server struct {
	cmd    *exec.Cmd
	url    string // the API root, as printed by serve
	exited chan struct{}
	err    error // the result of Wait, once exited is closed

	mu     sync.Mutex
	stderr strings.Builder
}

// log returns everything the server wrote on stderr so far.
func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// startServer runs nbreg serve with args and returns once it answers
// info/. The server is stopped at the end of the test if still running.
func (h *home) startServer(t *testing.T, client *http.Client, args ...string) *server {
	t.Helper()
	s := &server{exited: make(chan struct{})}
	s.cmd = exec.Command(nbregBinary, append([]string{"serve"}, args...)...)
	s.cmd.Env = h.env
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The line is plain text, or a JSON record with --log-format json.
	serving := regexp.MustCompile(`^(?:nbreg: |\{.*"msg":")serving (\S+) \(database .+\)`)
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if m := serving.FindStringSubmatch(line); m != nil {
				url <- m[1]
			}
		}
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
	})

	select {
	case s.url = <-url:
	case <-s.exited:
		t.Fatalf("serve exited before serving (%v); stderr:\n%s", s.err, s.log())
	case <-time.After(commandTimeout):
		t.Fatalf("serve printed no address within %s; stderr:\n%s", commandTimeout, s.log())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(s.url + "info/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve does not answer %sinfo/ (last error %v); stderr:\n%s", s.url, err, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and returns the exit status, failing if the server does
// not exit in time.
func (s *server) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(commandTimeout):
		t.Fatalf("serve did not exit within %s of %v; stderr:\n%s", commandTimeout, sig, s.log())
	}
	var exit *exec.ExitError
	if errors.As(s.err, &exit) {
		return exit.ExitCode()
	} else if s.err != nil {
		t.Fatal(s.err)
	}
	return 0
}

// credentials sign a request in.
type credentials func(*http.Request)

func basic(user, password string) credentials {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}

func token(key string) credentials {
	return func(r *http.Request) { r.Header.Set("Authorization", "Token "+key) }
}

// request sends a JSON request and returns the status and decoded body.
func request(t *testing.T, client *http.Client, method, url string, body any, signIn credentials) (int, map[string]any) {
	t.Helper()
	status, decoded, err := tryRequest(client, method, url, body, signIn)
	if err != nil {
		t.Fatal(err)
	}
	return status, decoded
}

// tryRequest is request for goroutines other than the test's: it returns
// what went wrong rather than ending the test.
func tryRequest(client *http.Client, method, url string, body any, signIn credentials) (int, map[string]any, error) {
	status, _, decoded, err := tryRequestHeader(client, method, url, body, signIn)
	return status, decoded, err
}

// tryRequestHeader is tryRequest that also returns the response's header.
func tryRequestHeader(client *http.Client, method, url string, body any, signIn credentials) (int, http.Header, map[string]any, error) {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if signIn != nil {
		signIn(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	var decoded map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &decoded); err != nil {
			return 0, nil, nil, fmt.Errorf("%s %s: %d with a body that is not a JSON object: %s", method, url, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header, decoded, nil
}

func TestServe(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")
	client := &http.Client{Timeout: 10 * time.Second}
	h.mustRun(t, "first password\n", "adduser", "--db", db, "--role", "admin", "--password-stdin", "alice")
	key := strings.TrimSpace(h.mustRun(t, "", "token", "--db", db, "alice").stdout)

	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*/neurobank/$`).MatchString(s.url) {
		t.Fatalf("serve printed URL %q", s.url)
	}
	if !strings.Contains(s.log(), "(database "+db+")") {
		t.Errorf("serve does not name its database %s:\n%s", db, s.log())
	}

	t.Run("PasswordSignIn", func(t *testing.T) {
		status, body := request(t, client, "POST", s.url+"datatypes/",
			map[string]any{"name": "wav", "content_type": "audio/wav", "extension": "wav"}, basic("alice", "first password"))
		if status != http.StatusCreated {
			t.Errorf("POST datatypes/ with a password: %d %v, want 201", status, body)
		}
	})
	t.Run("TokenSignIn", func(t *testing.T) {
		status, body := request(t, client, "POST", s.url+"datatypes/",
			map[string]any{"name": "pprox", "content_type": "application/json"}, token(key))
		if status != http.StatusCreated {
			t.Errorf("POST datatypes/ with a token: %d %v, want 201", status, body)
		}
	})
	t.Run("WrongPasswordRefused", func(t *testing.T) {
		status, body := request(t, client, "POST", s.url+"datatypes/",
			map[string]any{"name": "other"}, basic("alice", "not it"))
		want := map[string]any{"detail": "Invalid username/password."}
		if status != http.StatusForbidden || !cmp.Equal(body, want) {
			t.Errorf("wrong password: %d %v, want 403 %v", status, body, want)
		}
	})
	t.Run("AdminDataTypeSeenAtOnce", func(t *testing.T) {
		r := h.mustRun(t, "", "admin-datatype", "--db", db, "wav", "--content-type", "audio/x-wav", "--downloadable=true")
		if !strings.Contains(r.stdout, "audio/x-wav") || !strings.Contains(r.stdout, "downloadable: true") {
			t.Errorf("admin-datatype did not print the changed datatype:\n%s", r.stdout)
		}
		status, got := request(t, client, "GET", s.url+"datatypes/wav/", nil, nil)
		want := map[string]any{"name": "wav", "content_type": "audio/x-wav", "extension": "wav", "downloadable": true}
		if status != http.StatusOK {
			t.Fatalf("GET datatypes/wav/: %d %v", status, got)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("datatype as served after admin-datatype (-want +got):\n%s", diff)
		}
	})
	t.Run("AdminDataTypeChangesOnlyFlagsGiven", func(t *testing.T) {
		h.mustRun(t, "", "admin-datatype", "--db", db, "wav", "--extension", ".wave")
		_, got := request(t, client, "GET", s.url+"datatypes/wav/", nil, nil)
		want := map[string]any{"name": "wav", "content_type": "audio/x-wav", "extension": "wave", "downloadable": true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("datatype after changing only the extension (-want +got):\n%s", diff)
		}
	})
	t.Run("AdminDataTypeUnknown", func(t *testing.T) {
		checkRefusal(t, h.run(t, "", "admin-datatype", "--db", db, "mp3", "--downloadable=true"), `no datatype named "mp3"`)
	})
	t.Run("PasswdSeenAtOnce", func(t *testing.T) {
		h.mustRun(t, "second password\n", "passwd", "--db", db, "--password-stdin", "alice")
		status, body := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": "old"}, basic("alice", "first password"))
		if status != http.StatusForbidden || body["detail"] != "Invalid username/password." {
			t.Errorf("old password after passwd: %d %v, want 403", status, body)
		}
		status, body = request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": "new"}, basic("alice", "second password"))
		if status != http.StatusCreated {
			t.Errorf("new password after passwd: %d %v, want 201", status, body)
		}
	})
	t.Run("UserAddedWhileServingCanSignIn", func(t *testing.T) {
		h.mustRun(t, "pw\n", "adduser", "--db", db, "--role", "viewer", "--password-stdin", "vera")
		status, body := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": "by_vera"}, basic("vera", "pw"))
		want := map[string]any{"detail": "You do not have permission to perform this action."}
		if status != http.StatusForbidden || !cmp.Equal(body, want) {
			t.Errorf("viewer write: %d %v, want 403 %v", status, body, want)
		}
	})
	t.Run("TokenIssuedWhileServingWorks", func(t *testing.T) {
		fresh := strings.TrimSpace(h.mustRun(t, "", "token", "--db", db, "alice").stdout)
		status, body := request(t, client, "POST", s.url+"datatypes/", map[string]any{"name": "by_token"}, token(fresh))
		if status != http.StatusCreated {
			t.Errorf("POST datatypes/ with a token issued while serving: %d %v, want 201", status, body)
		}
	})
	t.Run("RequestsAreLogged", func(t *testing.T) {
		if !strings.Contains(s.log(), "datatypes/wav/") {
			t.Errorf("no log line for GET datatypes/wav/:\n%s", s.log())
		}
	})
	t.Run("TakenPortFailsFast", func(t *testing.T) {
		addr := strings.TrimSuffix(strings.TrimPrefix(s.url, "http://"), "/neurobank/")
		start := time.Now()
		r := h.run(t, "", "serve", "--db", db, "--addr", addr)
		checkRefusal(t, r, "cannot listen on "+addr+": the address is already in use")
		if elapsed := time.Since(start); elapsed > 20*time.Second {
			t.Errorf("refusing a taken port took %s", elapsed)
		}
	})
	t.Run("SIGTERMShutsDownCleanly", func(t *testing.T) {
		if code := s.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit status %d after SIGTERM, want 0; stderr:\n%s", code, s.log())
		}
		if _, err := client.Get(s.url + "info/"); err == nil {
			t.Error("the server still answers after SIGTERM")
		}
		// The database was left consistent: a new command reads it.
		r := h.mustRun(t, "", "users", "--db", db)
		if !strings.Contains(r.stdout, "vera") {
			t.Errorf("users after shutdown:\n%s", r.stdout)
		}
	})
}

func TestServeOnFreshMachine(t *testing.T) {
	h := newHome(t)
	client := &http.Client{Timeout: 10 * time.Second}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--prefix", "registry")
	if !strings.HasSuffix(s.url, "/registry/") {
		t.Errorf("prefix not normalised: serving %s", s.url)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "data", "nbreg", "registry.db")); err != nil {
		t.Errorf("serve did not create the default database: %v", err)
	}
	status, body := request(t, client, "GET", s.url+"info/", nil, nil)
	if status != http.StatusOK || body["name"] != "nbreg" || body["version"] != h.versionOf(t) {
		t.Errorf("GET info/: %d %v, want nbreg at version %s", status, body, h.versionOf(t))
	}
	if code := s.stop(t, os.Interrupt); code != 0 {
		t.Errorf("exit status %d after SIGINT, want 0; stderr:\n%s", code, s.log())
	}
}

func TestServeTLS(t *testing.T) {
	h := newHome(t)
	certFile, keyFile, pool := selfSignedCertificate(t, h.dir)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(s.url, "https://127.0.0.1:") {
		t.Errorf("serving %s, want an https URL", s.url)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0; stderr:\n%s", code, s.log())
	}
}

// selfSignedCertificate writes a certificate for 127.0.0.1 and its key into
// dir, and returns their paths and a pool that trusts the certificate.
func selfSignedCertificate(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeRefusesBadFlags(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"BogusSendfile", []string{"--sendfile", "bogus"}, `--sendfile must be one of direct, nginx, apache, not "bogus"`},
		{"CertWithoutKey", []string{"--tls-cert", "cert.pem"}, "--tls-cert and --tls-key go together"},
		{"KeyWithoutCert", []string{"--tls-key", "key.pem"}, "--tls-cert and --tls-key go together"},
		{"PageSizeZero", []string{"--page-size", "0"}, "--page-size must be between 1 and 1000"},
		{"MissingCertificate", []string{"--tls-cert", filepath.Join(h.dir, "none.pem"), "--tls-key", filepath.Join(h.dir, "none.key")}, "cannot load the TLS certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, tc.args...)
			checkRefusal(t, h.run(t, "", args...), tc.want)
			if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused serve created the database (stat: %v)", err)
			}
		})
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	h := newHome(t)
	db := filepath.Join(h.dir, "registry.db")
	h.mustRun(t, "", "migrate", "--db", db)
	// Pretend a newer nbreg migrated this database. The table is sqlstore's
	// record of applied migrations.
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(`INSERT INTO schema_migrations (version, name, applied_on) VALUES (9999, 'from_the_future', 0)`)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"migrate"},
		{"users"},
	} {
		t.Run(args[0], func(t *testing.T) {
			checkRefusal(t, h.run(t, "", append(args, "--db", db)...), "newer than this nbreg")
		})
	}
}
