package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// cannedAnswer is what a scripted server writes after reading one request;
// with hangUp it then closes the connection.
type cannedAnswer struct {
	raw    string
	hangUp bool
}

// scriptedServer answers requests, on whatever connection they come, with
// the next of its answers in order, and counts connections.
type scriptedServer struct {
	ln      net.Listener
	mu      sync.Mutex
	answers []cannedAnswer
	conns   int
}

func startScriptedServer(t *testing.T, answers ...cannedAnswer) *scriptedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{ln: ln, answers: answers}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serve(conn)
		}
	}()
	return s
}

func (s *scriptedServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		for { // the request's headers; test requests have no body
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		s.mu.Lock()
		if len(s.answers) == 0 {
			s.mu.Unlock()
			return
		}
		a := s.answers[0]
		s.answers = s.answers[1:]
		s.mu.Unlock()
		conn.Write([]byte(a.raw))
		if a.hangUp {
			return
		}
	}
}

func (s *scriptedServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *scriptedServer) wire(t *testing.T) *wire {
	t.Helper()
	c, err := newClient(&Config{URL: "http://" + s.ln.Addr().String() + "/api/", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := c.newWire(time.Now().Add(10 * time.Second))
	t.Cleanup(w.close)
	return w
}

// get sends a GET on w, connecting first as a worker does.
func get(t *testing.T, w *wire, keep int) (int, string, error) {
	t.Helper()
	if err := w.connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	status, body, err := w.roundTrip(appendRequest(nil, "GET", []byte("/api/info/"), "x", nil, ""), keep)
	return status, string(body), err
}

func TestWireReadsEveryKindOfBody(t *testing.T) {
	s := startScriptedServer(t,
		cannedAnswer{raw: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n{\"a\": \"b\"}\n"},
		cannedAnswer{raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"},
		cannedAnswer{raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"},
		cannedAnswer{raw: "HTTP/1.1 204 No Content\r\n\r\n"},
		cannedAnswer{raw: "HTTP/1.1 404 Not Found\r\nContent-Length: 24\r\n\r\n{\"detail\": \"Not found.\"}"},
		cannedAnswer{raw: "HTTP/1.0 200 OK\r\n\r\nuntil the end", hangUp: true},
		cannedAnswer{raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye", hangUp: true},
		cannedAnswer{raw: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	)
	w := s.wire(t)
	for _, want := range []struct {
		status int
		body   string
	}{
		{200, `{"a": "b"}` + "\n"},
		{200, "hello, world"},
		{201, "ok"},
		{204, ""},
		{404, `{"detail": "Not found."}`},
		{200, "until the end"},
		{200, "bye"},
		{200, ""},
	} {
		status, body, err := get(t, w, 100)
		if err != nil || status != want.status || body != want.body {
			t.Errorf("answer %d %q (%v), want %d %q", status, body, err, want.status, want.body)
		}
	}
	// Keep-alive: the first five answers came on one connection; the two
	// closed by the server each needed a new one.
	if got := s.connections(); got != 3 {
		t.Errorf("%d connections, want 3", got)
	}
}

func TestWireKeepsOnlyWhatItIsAskedFor(t *testing.T) {
	long := strings.Repeat("x", 5000)
	s := startScriptedServer(t,
		cannedAnswer{raw: "HTTP/1.1 500 Oops\r\nContent-Length: 5000\r\n\r\n" + long},
		cannedAnswer{raw: "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + long},
	)
	w := s.wire(t)
	if status, body, err := get(t, w, 300); err != nil || status != 500 || body != long[:300] {
		t.Errorf("answer %d with %d bytes kept (%v), want 500 with 300", status, len(body), err)
	}
	if status, body, err := get(t, w, 0); err != nil || status != 200 || body != "" {
		t.Errorf("answer %d with %d bytes kept (%v), want 200 with none", status, len(body), err)
	}
}

func TestWireResendsOnAConnectionClosedWhileIdle(t *testing.T) {
	s := startScriptedServer(t,
		cannedAnswer{raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst", hangUp: true}, // no Connection: close
		cannedAnswer{raw: "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"},
	)
	w := s.wire(t)
	if _, body, err := get(t, w, 10); err != nil || body != "first" {
		t.Fatalf("first answer %q (%v)", body, err)
	}
	time.Sleep(20 * time.Millisecond) // let the close arrive
	if _, body, err := get(t, w, 10); err != nil || body != "second" {
		t.Errorf("answer after the server closed the idle connection: %q (%v), want \"second\"", body, err)
	}
}

func TestWireRefusesWhatIsNotHTTP(t *testing.T) {
	for _, raw := range []string{
		"SSH-2.0-OpenSSH_9.6\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		s := startScriptedServer(t, cannedAnswer{raw: raw})
		w := s.wire(t)
		if status, _, err := get(t, w, 0); !errors.Is(err, errMalformed) {
			t.Errorf("answer %q: status %d, error %v; want a malformed answer", raw, status, err)
		}
		if w.conn != nil {
			t.Errorf("answer %q: the connection is kept after a malformed answer", raw)
		}
	}
}

func TestAppendRequest(t *testing.T) {
	got := string(appendRequest(nil, "POST", []byte("/api/resources/"), "127.0.0.1:8000", []byte(`{"a":1}`), "Token abc"))
	want := "POST /api/resources/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: nbreg-loadtest\r\nAccept: application/json\r\n" +
		"Authorization: Token abc\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
	if got != want {
		t.Errorf("request\n%q\nwant\n%q", got, want)
	}
	if !bytes.HasSuffix(appendRequest(nil, "GET", []byte("/x/"), "h", nil, ""), []byte("application/json\r\n\r\n")) {
		t.Error("a GET carries more than its headers")
	}
}
