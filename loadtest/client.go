package loadtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// requestTimeout bounds one request, so a server that stops answering
// shows up as errors instead of a run that never ends.
const requestTimeout = 60 * time.Second

// client sends requests to one registry's API over kept-alive connections.
type client struct {
	http *http.Client
	root *url.URL // the API root, path ending in "/"
	auth string   // the Authorization header of writes, or ""
}

func newClient(cfg *Config) (*client, error) {
	root, err := url.Parse(cfg.URL)
	if err != nil || (root.Scheme != "http" && root.Scheme != "https") || root.Host == "" {
		return nil, fmt.Errorf("the registry URL %q is not an http:// or https:// address", cfg.URL)
	}
	root.Path = strings.TrimSuffix(root.Path, "/") + "/"
	root.RawPath, root.RawQuery, root.Fragment = "", "", ""

	conns := cfg.Concurrency + 4 // the workers, the checks and some slack
	transport := &http.Transport{
		Proxy:               nil, // measure the registry, not a proxy picked from the environment
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // nothing to gain on a local link, and gzip costs both sides CPU
		ForceAttemptHTTP2:   false,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	c := &client{
		http: &http.Client{
			Transport: transport,
			Timeout:   requestTimeout,
			// A redirect would hide what the server did; report it as the status it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		root: root,
	}
	switch {
	case cfg.Token != "":
		c.auth = "Token " + cfg.Token
	case cfg.Username != "":
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))
	}
	return c, nil
}

// close drops the idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// url returns the absolute URL of path, relative to the API root.
func (c *client) url(path string) string {
	return c.root.Scheme + "://" + c.root.Host + c.root.Path + path
}

// answer is a response read in full, for the few requests whose answer
// the tool looks at (setup and checks, never the measured ones).
type answer struct {
	status int
	body   []byte
}

// ok reports whether the status is 2xx.
func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// String describes the answer for an error message, its body shortened.
func (a answer) String() string {
	body := strings.TrimSpace(string(a.body))
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	return fmt.Sprintf("%d %s", a.status, body)
}

// send sends one request with an optional JSON body, signed in when auth is
// true, and reads the whole answer.
func (c *client) send(ctx context.Context, method, path string, body any, auth bool) (answer, error) {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), reader)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth && c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, body: b}, nil
}
