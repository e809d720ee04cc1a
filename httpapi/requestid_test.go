package httpapi_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"nbreg/httpapi"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	ts := MustOpenServer(t, withLog(&logs))
	get := func(t *testing.T, incoming ...string) (id, logLine string) {
		t.Helper()
		logs.Reset()
		rq := req{method: "GET", path: "info/"}
		if len(incoming) > 0 {
			rq.header = http.Header{"X-Request-Id": incoming}
		}
		w := ts.Do(t, rq)
		return w.Header().Get("X-Request-Id"), logs.String()
	}
	wellFormed := regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

	t.Run("MadeWhenMissing", func(t *testing.T) {
		id, line := get(t)
		if !wellFormed.MatchString(id) {
			t.Fatalf("X-Request-Id %q is not a well-formed id", id)
		}
		if !strings.Contains(line, "request_id="+id+" ") {
			t.Errorf("log line lacks request_id=%s: %s", id, line)
		}
		other, _ := get(t)
		if other == id {
			t.Errorf("two requests got the same id %q", id)
		}
	})
	t.Run("KeptWhenWellFormed", func(t *testing.T) {
		for _, incoming := range []string{"a", "0f8c2e6a-1d3b-4c5e-9a7f-2b6d8e0c4a1f", "nginx.req_42", strings.Repeat("x", 128)} {
			id, line := get(t, incoming)
			if id != incoming {
				t.Errorf("X-Request-Id %q came back as %q", incoming, id)
			}
			if !strings.Contains(line, "request_id="+incoming+" ") {
				t.Errorf("log line lacks request_id=%s: %s", incoming, line)
			}
		}
	})
	t.Run("ReplacedWhenMalformed", func(t *testing.T) {
		for _, incoming := range []string{"", strings.Repeat("x", 129), "two words", "a=b", "line\x01break", "ünïcode", `"quoted"`} {
			id, line := get(t, incoming)
			if id == incoming || !wellFormed.MatchString(id) {
				t.Errorf("X-Request-Id %q came back as %q, want a fresh well-formed id", incoming, id)
			}
			if !strings.Contains(line, "request_id="+id+" ") {
				t.Errorf("log line lacks request_id=%s: %s", id, line)
			}
		}
	})
	t.Run("OnProbesAndRefusals", func(t *testing.T) {
		for _, rq := range []req{
			{method: "GET", path: "/healthz"},
			{method: "GET", path: "nothing-here/"},
			{method: "POST", path: "datatypes/", body: map[string]any{"name": "x"}},
		} {
			if id := ts.Do(t, rq).Header().Get("X-Request-Id"); !wellFormed.MatchString(id) {
				t.Errorf("%s %s: X-Request-Id %q", rq.method, rq.path, id)
			}
		}
	})
	t.Run("OnWarnings", func(t *testing.T) {
		ts := MustOpenServer(t, withLog(&logs))
		ts.Store.Close()
		logs.Reset()
		ts.Do(t, req{method: "GET", path: "/readyz", header: http.Header{"X-Request-Id": {"probe-7"}}})
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "request_id=probe-7") {
			t.Errorf("warning lacks the request's id: %s", logs.String())
		}
	})
}

func TestAccessLogOff(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	ts := MustOpenServer(t, withLog(&logs), func(c *httpapi.Config) { c.NoAccessLog = true })
	ts.Get(t, "info/")
	ts.Get(t, "datatypes/")
	if logs.Len() != 0 {
		t.Errorf("requests were logged with NoAccessLog:\n%s", logs.String())
	}
	ts.Store.Close()
	ts.Get(t, "/readyz")
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning with NoAccessLog:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "msg=request ") {
		t.Errorf("a request line with NoAccessLog:\n%s", logs.String())
	}
}
