package httpapi

import "crypto/rand"

// RequestIDHeader carries the id of a request, in and out.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an id taken from a client or proxy.
const maxRequestIDLen = 128

// requestID returns the id of a request that came with incoming as its
// X-Request-Id: incoming itself when it is well formed, so that one id
// follows a request from nginx through nbreg's log, else a fresh random
// one. Well formed is 1 to 128 letters, digits, '.', '_' and '-': nothing
// that could break a log line or a header.
func requestID(incoming string) string {
	if wellFormedRequestID(incoming) {
		return incoming
	}
	return rand.Text()
}

func wellFormedRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
