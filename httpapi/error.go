package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"nbreg/registry"
)

// statusError is a refusal decided by the HTTP layer itself (no route, a
// method not allowed, a body too large), answered as {"detail": ...}.
type statusError struct {
	status int
	detail string
}

func (e *statusError) Error() string { return e.detail }

// Refusals of the HTTP layer whose text is part of the contract.
var (
	errNoRoute        = &statusError{http.StatusNotFound, "not found"}
	errInvalidPage    = &statusError{http.StatusNotFound, "Invalid page."}
	errBodyTooLarge   = &statusError{http.StatusRequestEntityTooLarge, "Request body too large."}
	errNotSignedIn    = &statusError{http.StatusForbidden, "Authentication credentials were not provided."}
	errBadCredentials = &statusError{http.StatusForbidden, "Invalid username/password."}
	errNotPermitted   = &statusError{http.StatusForbidden, "You do not have permission to perform this action."}
	errCSRF           = &statusError{http.StatusForbidden, "CSRF Failed: CSRF token missing or incorrect."}
	// errPanic answers a request whose handler panicked; the panic is
	// logged where it is recovered.
	errPanic = &statusError{http.StatusInternalServerError, "Internal error."}
)

// methodNotAllowed is the refusal of a method a route does not serve.
func methodNotAllowed(method string) error {
	return &statusError{http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", method)}
}

// unsupportedMediaType is the refusal of a body of a type no parser reads.
func unsupportedMediaType(contentType string) error {
	return &statusError{http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", contentType)}
}

// badRequest is a 400 answered as {"detail": detail}.
func badRequest(detail string) error {
	return &statusError{http.StatusBadRequest, detail}
}

// throttled is the refusal of a sign-in attempt from a user or address
// with too many recent failures; Retry-After is set by the caller.
func throttled(seconds int) error {
	unit := "seconds"
	if seconds == 1 {
		unit = "second"
	}
	return &statusError{http.StatusTooManyRequests, fmt.Sprintf("Request was throttled. Expected available in %d %s.", seconds, unit)}
}

// detailJSON is the body of every error that is not about fields.
type detailJSON struct {
	Detail string `json:"detail"`
}

// Error answers r with the response err calls for: validation and conflict
// errors are 400 with their messages per field, missing records 404,
// refusals 403, a database that cannot be reached 503, a database whose
// storage is full 507, and anything unexpected a 500 whose cause is logged
// and never shown.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	// A name that is not found may be the old name of a renamed resource.
	if err == errNoRoute || registry.ErrorCode(err) == registry.ENOTFOUND {
		if s := stateOf(r).server; s != nil && s.redirectRenamed(w, r) {
			return
		}
	}
	var se *statusError
	if errors.As(err, &se) {
		renderJSON(w, r, se.status, detailJSON{se.detail})
		return
	}
	var re *registry.Error
	if !errors.As(err, &re) {
		re = &registry.Error{Code: registry.EINTERNAL}
	}
	switch re.Code {
	case registry.EINVALID, registry.ECONFLICT:
		if len(re.Fields) > 0 {
			renderJSON(w, r, http.StatusBadRequest, re.Fields)
		} else {
			renderJSON(w, r, http.StatusBadRequest, detailJSON{re.Message})
		}
	case registry.ENOTFOUND:
		renderJSON(w, r, http.StatusNotFound, detailJSON{registry.MsgNotFound})
	case registry.EUNAUTHORIZED, registry.EFORBIDDEN:
		msg := re.Message
		if msg == "" {
			msg = errNotPermitted.detail
		}
		renderJSON(w, r, http.StatusForbidden, detailJSON{msg})
	case registry.EUNAVAILABLE:
		// The database is restarting or out of connections: the request
		// may be tried again once it is back.
		stateOf(r).logger.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "1")
		renderJSON(w, r, http.StatusServiceUnavailable, detailJSON{"The database cannot be reached now; try again shortly."})
	case registry.EFULL:
		// The disk (or the database's size limit) is full. Reads go on,
		// and writes succeed again once space is freed.
		stateOf(r).logger.Error("database storage full", "method", r.Method, "path", r.URL.Path, "error", err)
		renderJSON(w, r, http.StatusInsufficientStorage, detailJSON{"The registry's storage is full: nothing was written. Writes will succeed again once space is freed."})
	default:
		stateOf(r).logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		renderJSON(w, r, http.StatusInternalServerError, detailJSON{"Internal error."})
	}
}
