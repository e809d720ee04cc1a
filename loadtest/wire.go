package loadtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Measured requests do not go through net/http's client: its two
// goroutines per connection and the handoffs between them cost the load
// tool, which shares the machine with the server it measures, about twice
// the CPU per request of this one. A wire is one kept-alive HTTP/1.1
// connection owned by one worker, which writes a prebuilt request and
// reads the answer with net/http's own parser (http.ReadResponse).
type wire struct {
	addr     string
	tls      *tls.Config // nil for http://
	deadline time.Time   // no request on this wire may outlive it

	conn   net.Conn
	r      *bufio.Reader
	reused bool // the connection has carried a request before
	dialed bool // a connection was opened once
}

// wireBuffer is the size of a wire's read buffer.
const wireBuffer = 32 << 10

// errMalformed marks an answer that does not follow HTTP/1.1.
var errMalformed = errors.New("malformed HTTP answer")

func (c *client) newWire(deadline time.Time) *wire {
	w := &wire{addr: c.root.Host, deadline: deadline}
	if c.root.Scheme == "https" {
		w.tls = &tls.Config{ServerName: c.root.Hostname()}
	}
	if c.root.Port() == "" {
		if w.tls != nil {
			w.addr = net.JoinHostPort(c.root.Hostname(), "443")
		} else {
			w.addr = net.JoinHostPort(c.root.Hostname(), "80")
		}
	}
	return w
}

// connect opens the connection if there is none, outside the time of any
// request.
func (w *wire) connect(ctx context.Context) error {
	if w.conn != nil {
		return nil
	}
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Deadline: w.deadline}
	conn, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return err
	}
	if w.tls != nil {
		tc := tls.Client(conn, w.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		conn = tc
	}
	conn.SetDeadline(w.deadline)
	w.conn, w.reused, w.dialed = conn, false, true
	if w.r == nil {
		w.r = bufio.NewReaderSize(conn, wireBuffer)
	} else {
		w.r.Reset(conn)
	}
	return nil
}

// close drops the connection; the next request opens another.
func (w *wire) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// roundTrip sends request, a complete HTTP/1.1 request, and reads the
// answer to its end, returning its status and, when keep is positive, up
// to keep bytes of its body. A connection the server closed while idle is
// reopened and the request sent once more, since the server never saw it.
func (w *wire) roundTrip(request []byte, keep int) (int, []byte, error) {
	for {
		status, body, read, err := w.exchange(request, keep)
		if err == nil {
			return status, body, nil
		}
		retry := w.reused && !read && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err))
		w.close()
		if !retry {
			return 0, nil, err
		}
		if err := w.connect(context.Background()); err != nil {
			return 0, nil, err
		}
	}
}

// isReset reports whether err is the peer resetting the connection.
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// exchange is one try of roundTrip; read reports whether any of the answer
// arrived.
func (w *wire) exchange(request []byte, keep int) (status int, body []byte, read bool, err error) {
	if _, err := w.conn.Write(request); err != nil {
		return 0, nil, false, err
	}
	for {
		// A connection the server closed while idle ends before the
		// first byte of an answer.
		if _, err := w.r.Peek(1); err != nil {
			return 0, nil, read, err
		}
		read = true
		resp, err := http.ReadResponse(w.r, nil)
		if err != nil {
			return 0, nil, true, malformed(err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue // an interim answer; the real one follows
		}
		if keep > 0 {
			body, err = io.ReadAll(io.LimitReader(resp.Body, int64(keep)))
		}
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		if err != nil {
			return 0, nil, true, malformed(err)
		}
		w.reused = true
		if resp.Close {
			w.close()
		}
		return resp.StatusCode, body, true, nil
	}
}

// malformed marks err as a malformed answer unless the connection failed.
func malformed(err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return fmt.Errorf("%w: %v", errMalformed, err)
}

// appendRequest appends an HTTP/1.1 request to dst: method and target
// (path and query), the headers every request carries, and a JSON body
// when body is not nil, signed in with auth when not empty.
func appendRequest(dst []byte, method string, target []byte, host string, body []byte, auth string) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUser-Agent: nbreg-loadtest\r\nAccept: application/json\r\n"...)
	if auth != "" {
		dst = append(dst, "Authorization: "...)
		dst = append(dst, auth...)
		dst = append(dst, "\r\n"...)
	}
	if body != nil {
		dst = append(dst, "Content-Type: application/json\r\nContent-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}
