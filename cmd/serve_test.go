package cmd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runningServe is a serve command running in-process.
type runningServe struct {
	url    string // the API root, as printed
	stderr *lockedBuffer
	stop   context.CancelFunc
	exited chan int
}

// servingURL finds the API root in what serve printed, whether its log is
// text or JSON.
var servingURL = regexp.MustCompile(`serving (https?://127\.0\.0\.1:\d+/\S*) \(database `)

// startServe runs serve with args in-process and returns once it has
// printed its address. It is stopped, as by SIGINT, when the test ends.
func startServe(t *testing.T, args ...string) *runningServe {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	s := &runningServe{stderr: &lockedBuffer{}, stop: stop, exited: make(chan int, 1)}
	go func() {
		s.exited <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &bytes.Buffer{}, s.stderr)
	}()
	t.Cleanup(func() { s.wait(t) })
	for deadline := time.Now().Add(30 * time.Second); s.url == ""; {
		if m := servingURL.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("serve did not report its address:\n%s", s.stderr)
		}
		select {
		case code := <-s.exited:
			t.Fatalf("serve exited with status %d:\n%s", code, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s
}

// wait stops the server and returns its exit status.
func (s *runningServe) wait(t *testing.T) int {
	t.Helper()
	s.stop()
	select {
	case code := <-s.exited:
		s.exited <- code // for the next wait
		return code
	case <-time.After(time.Minute):
		t.Fatalf("serve did not shut down:\n%s", s.stderr)
		return -1
	}
}

// origin is the scheme, host and port of s, without the API root.
func (s *runningServe) origin() string {
	scheme, rest, _ := strings.Cut(s.url, "://")
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// get sends a GET with header and returns the status and header answered.
func get(t *testing.T, client *http.Client, url string, header http.Header) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// jsonLines decodes every line of a JSON log, failing on one that is not
// a JSON object.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		out = append(out, rec)
	}
	return out
}

func TestServeJSONLog(t *testing.T) {
	db := filepath.Join(t.TempDir(), "registry.db")
	s := startServe(t, "--db", db, "--log-format", "json", "--drain", "0")
	client := &http.Client{Timeout: 10 * time.Second}
	if status, header := get(t, client, s.url+"info/", http.Header{"X-Request-Id": {"trace-1"}}); status != http.StatusOK || header.Get("X-Request-Id") != "trace-1" {
		t.Errorf("GET info/: %d with X-Request-Id %q, want 200 with trace-1", status, header.Get("X-Request-Id"))
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit status %d:\n%s", code, s.stderr)
	}
	var requests, lifecycle int
	for _, rec := range jsonLines(t, s.stderr.String()) {
		switch msg, _ := rec["msg"].(string); {
		case msg == "request":
			requests++
			if rec["request_id"] != "trace-1" || rec["path"] != "/neurobank/info/" || rec["status"] != float64(200) {
				t.Errorf("request record: %v", rec)
			}
		case strings.HasPrefix(msg, "serving "), strings.HasPrefix(msg, "applied migration "), msg == "stopped":
			lifecycle++
			if rec["level"] != "INFO" {
				t.Errorf("lifecycle record not at level INFO: %v", rec)
			}
		}
	}
	if requests != 1 || lifecycle < 3 {
		t.Errorf("%d request records and %d of serve's own, want 1 and at least 3:\n%s", requests, lifecycle, s.stderr)
	}
}

func TestServeAccessLogOff(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool := selfSignedCertificate(t, dir)
	s := startServe(t, "--db", filepath.Join(dir, "registry.db"), "--tls-cert", cert, "--tls-key", key,
		"--log-format", "json", "--access-log=false", "--drain", "0")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if status, _ := get(t, client, s.url+"info/", nil); status != http.StatusOK {
		t.Errorf("GET info/: %d, want 200", status)
	}
	// Plain HTTP to the HTTPS port: net/http warns of a failed handshake.
	plain := "http://" + strings.TrimPrefix(s.url, "https://")
	if status, _ := get(t, &http.Client{Timeout: 10 * time.Second}, plain+"info/", nil); status != http.StatusBadRequest {
		t.Errorf("plain HTTP to the HTTPS port: %d, want 400", status)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit status %d:\n%s", code, s.stderr)
	}
	warned := false
	for _, rec := range jsonLines(t, s.stderr.String()) {
		if rec["msg"] == "request" {
			t.Errorf("a request was logged with --access-log=false: %v", rec)
		}
		msg, _ := rec["msg"].(string)
		warned = warned || rec["level"] == "WARN" && strings.Contains(msg, "TLS handshake error")
	}
	if !warned {
		t.Errorf("no warning of the failed handshake with --access-log=false:\n%s", s.stderr)
	}
}

func TestServeLogLevel(t *testing.T) {
	s := startServe(t, "--db", filepath.Join(t.TempDir(), "registry.db"), "--log-level", "warn", "--drain", "0")
	get(t, &http.Client{Timeout: 10 * time.Second}, s.url+"info/", nil)
	s.wait(t)
	if strings.Contains(s.stderr.String(), "msg=request") {
		t.Errorf("a request was logged at --log-level warn:\n%s", s.stderr)
	}
	s = startServe(t, "--db", filepath.Join(t.TempDir(), "registry.db"), "--drain", "0")
	get(t, &http.Client{Timeout: 10 * time.Second}, s.url+"info/", nil)
	s.wait(t)
	if !strings.Contains(s.stderr.String(), "level=INFO msg=request request_id=") {
		t.Errorf("no request line at the default level:\n%s", s.stderr)
	}
}

func TestServeDrains(t *testing.T) {
	s := startServe(t, "--db", filepath.Join(t.TempDir(), "registry.db"), "--drain", "3s")
	client := &http.Client{Timeout: 10 * time.Second}
	if status, _ := get(t, client, s.origin()+"/readyz", nil); status != http.StatusOK {
		t.Fatalf("GET /readyz before shutdown: %d, want 200", status)
	}
	s.stop()
	for deadline := time.Now().Add(2 * time.Second); ; {
		status, _ := get(t, client, s.origin()+"/readyz", nil)
		if status == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz after the interrupt: %d, want 503", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Still serving everything else while load balancers notice.
	if status, _ := get(t, client, s.url+"info/", nil); status != http.StatusOK {
		t.Errorf("GET info/ while draining: %d, want 200", status)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit status %d:\n%s", code, s.stderr)
	}
	log := s.stderr.String()
	if i, j := strings.Index(log, "nbreg: draining"), strings.Index(log, "nbreg: shutting down"); i < 0 || j < i {
		t.Errorf("serve did not drain before shutting down:\n%s", log)
	}
}

func TestServeFromEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "registry.db")
	t.Setenv("NBREG_DB", db)
	t.Setenv("NBREG_PREFIX", "/from-env/")
	t.Setenv("NBREG_PAGE_SIZE", "7")
	t.Setenv("NBREG_ACCESS_LOG", "false")
	t.Setenv("NBREG_DRAIN", "0s")

	t.Run("VariablesTakeEffect", func(t *testing.T) {
		s := startServe(t)
		if !strings.HasSuffix(s.url, "/from-env/") {
			t.Errorf("serving %s, want the prefix /from-env/", s.url)
		}
		get(t, &http.Client{Timeout: 10 * time.Second}, s.url+"info/", nil)
		s.wait(t)
		if strings.Contains(s.stderr.String(), "msg=request") {
			t.Errorf("NBREG_ACCESS_LOG=false did not turn the access log off:\n%s", s.stderr)
		}
	})
	t.Run("FlagWins", func(t *testing.T) {
		s := startServe(t, "--prefix", "from-flag", "--access-log=true")
		if !strings.HasSuffix(s.url, "/from-flag/") {
			t.Errorf("serving %s, want the flag's prefix /from-flag/", s.url)
		}
		get(t, &http.Client{Timeout: 10 * time.Second}, s.url+"info/", nil)
		s.wait(t)
		if !strings.Contains(s.stderr.String(), "msg=request") {
			t.Errorf("--access-log=true did not win over NBREG_ACCESS_LOG=false:\n%s", s.stderr)
		}
	})
	t.Run("BadValuesNameTheVariable", func(t *testing.T) {
		for _, tc := range []struct{ name, value, want string }{
			{"NBREG_PAGE_SIZE", "many", `NBREG_PAGE_SIZE does not take "many": give a whole number.`},
			{"NBREG_PAGE_SIZE", "0", `NBREG_PAGE_SIZE must be between 1 and 1000, not 0.`},
			{"NBREG_TRUST_PROXY", "yes please", `NBREG_TRUST_PROXY does not take "yes please": give true or false.`},
			{"NBREG_DRAIN", "5", `NBREG_DRAIN does not take "5": give a duration such as 5s or 1m30s.`},
			{"NBREG_SENDFILE", "lighttpd", `NBREG_SENDFILE must be one of direct, nginx, apache, not "lighttpd".`},
			{"NBREG_LOG_LEVEL", "verbose", `NBREG_LOG_LEVEL must be one of debug, info, warn, error, not "verbose".`},
			{"NBREG_LOG_FORMAT", "xml", `NBREG_LOG_FORMAT must be one of text, json, not "xml".`},
			{"NBREG_DB_MAX_CONNS", "lots", `NBREG_DB_MAX_CONNS does not take "lots": give a whole number.`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Setenv(tc.name, tc.value)
				code, _, stderr := runCommand(t, "", "serve", "--addr", "127.0.0.1:0")
				if want := "nbreg: " + tc.want + "\n"; code != exitFailure || stderr != want {
					t.Errorf("status %d, stderr %q; want %d, %q", code, stderr, exitFailure, want)
				}
			})
		}
		// On the command line, the same mistake names the flag.
		t.Setenv("NBREG_SENDFILE", "nginx")
		code, _, stderr := runCommand(t, "", "serve", "--addr", "127.0.0.1:0", "--sendfile", "lighttpd")
		if want := "nbreg: --sendfile must be one of direct, nginx, apache, not \"lighttpd\".\n"; code != exitFailure || stderr != want {
			t.Errorf("status %d, stderr %q; want %q", code, stderr, want)
		}
	})
	t.Run("HelpListsTheVariables", func(t *testing.T) {
		_, stdout, _ := runCommand(t, "", "serve", "--help")
		for _, flag := range []string{"addr", "prefix", "page-size", "sendfile", "sendfile-prefix", "trust-proxy", "tls-cert", "tls-key", "pprof", "log-level", "log-format", "access-log", "drain"} {
			line := regexp.MustCompile(`(?m)^ +--` + regexp.QuoteMeta(flag) + ` .*$`).FindString(stdout)
			if !strings.Contains(line, "[$"+envName(flag)+"]") {
				t.Errorf("the help of --%s does not name $%s: %q", flag, envName(flag), line)
			}
		}
	})
}

// selfSignedCertificate writes a certificate for 127.0.0.1 and its key
// into dir and returns their paths and a pool that trusts it.
func selfSignedCertificate(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "nbreg test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
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
