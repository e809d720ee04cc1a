package registry

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. Every error a Store returns carries one of them, so callers
// decide what to do by code and never by inspecting driver errors.
const (
	EINVALID      = "invalid"      // the input breaks a rule; Fields says which
	ECONFLICT     = "conflict"     // the input collides with an existing record
	ENOTFOUND     = "not_found"    // the record does not exist
	EUNAUTHORIZED = "unauthorized" // no or wrong credentials
	EFORBIDDEN    = "forbidden"    // authenticated but not allowed
	EINTERNAL     = "internal"     // a fault of nbreg or its environment
	EUNAVAILABLE  = "unavailable"  // the database cannot be reached now; the request may be tried again
	EFULL         = "full"         // the database's storage is full: nothing was written
)

// NonField is the key under which messages not tied to one field are listed.
const NonField = "non_field_errors"

// Error is the one error type of the domain. Message is meant for the user.
// Validation and conflict errors list their messages per field in Fields;
// the HTTP layer renders those as {"field": ["message", ...]}.
type Error struct {
	Code    string
	Message string
	Fields  map[string][]string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		for _, m := range e.Fields[k] {
			if k == NonField {
				parts = append(parts, m)
			} else {
				parts = append(parts, k+": "+m)
			}
		}
	}
	return strings.Join(parts, "; ")
}

// Errorf returns an Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an Error with one message about one field.
func FieldError(code, field, message string) *Error {
	return &Error{Code: code, Message: message, Fields: map[string][]string{field: {message}}}
}

// ErrorCode returns the code of err: "" for nil, EINTERNAL for any error
// that is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Internal errors get a
// generic message so that no internal detail reaches a user.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Error()
	}
	return "Internal error."
}

// Problems collects validation messages per field so that a caller can report
// every broken rule at once, as clients expect.
type Problems map[string][]string

// Add records msg against field.
func (p Problems) Add(field, msg string) {
	p[field] = append(p[field], msg)
}

// Has reports whether field already has a message.
func (p Problems) Has(field string) bool {
	return len(p[field]) > 0
}

// Merge adds the field messages of err, which must be nil or an *Error.
// Other errors are returned unchanged so the caller can pass them on.
func (p Problems) Merge(err error) error {
	var e *Error
	if err == nil {
		return nil
	}
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	for f, msgs := range e.Fields {
		p[f] = append(p[f], msgs...)
	}
	return nil
}

// Err returns nil when no problem was recorded, and otherwise an EINVALID
// Error listing them all.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	e := &Error{Code: EINVALID, Fields: map[string][]string(p)}
	e.Message = e.Error()
	return e
}

// Refusal is the one error of a write checked for invalid input and for
// conflicts with what is stored: EINVALID when any input is invalid,
// listing the conflicts found too (added to invalid) so that a client sees
// every problem at once; else ECONFLICT listing the conflicts; else nil.
// Either may be nil.
func Refusal(invalid, conflicts Problems) error {
	if len(invalid) > 0 {
		for field, msgs := range conflicts {
			for _, m := range msgs {
				invalid.Add(field, m)
			}
		}
		return invalid.Err()
	}
	if len(conflicts) > 0 {
		e := &Error{Code: ECONFLICT, Fields: map[string][]string(conflicts)}
		e.Message = e.Error()
		return e
	}
	return nil
}

// BatchError says which resource of a batch failed and why: the i-th
// (from 0) called name ("" when it has none yet). An *Error keeps its code
// and becomes one message, listed under NonField so that it reaches the
// user whole; any other error is wrapped with the same prefix.
func BatchError(i int, name string, err error) error {
	which := fmt.Sprintf("resource %d", i+1)
	if name != "" {
		which += fmt.Sprintf(" (%s)", name)
	}
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: %w", which, err)
	}
	msg := which + ": " + e.Error()
	return &Error{Code: e.Code, Message: msg, Fields: map[string][]string{NonField: {msg}}}
}

// User-facing messages shared by several fields. They are part of the
// HTTP contract: clients print them to people.
const (
	MsgRequired = "This field is required."
	MsgBlank    = "This field may not be blank."
	MsgNull     = "This field may not be null."
	MsgSlug     = "can only contain letters, numbers, underscores, and hyphens"
	MsgSHA1     = "invalid sha1 value"
	MsgNotFound = "Not found."
	// MsgInvalidJSON is for text that should be JSON and is not.
	MsgInvalidJSON = "Value must be valid JSON."
	// MsgMetadataObject refuses metadata other than an object on writes.
	MsgMetadataObject = "metadata must be a JSON object"

	MsgDataTypeExists = "a dtype with this name already exists"
	MsgArchiveExists  = "an archive with this name already exists"
	MsgResourceExists = "a resource with this name already exists"
	MsgSHA1Exists     = "resource with this sha1 already exists."
	MsgArchiveUnique  = "The fields scheme, root must make a unique set."
	MsgLocationUnique = "The fields resource_name, archive_name must make a unique set."
	// MsgLocationKeyExists refuses a location key another location of the
	// same archive has.
	MsgLocationKeyExists = "Another location of this archive has this key."
	MsgNameChange        = "name cannot be updated"
	MsgSHA1Change        = "sha1 value cannot be updated; create a new resource"
	// MsgUserExists is Django's message for a taken username.
	MsgUserExists = "A user with that username already exists."
	// MsgTokenExists is for a token whose hash another token has.
	MsgTokenExists = "This token already exists."
)

// MsgTooLong is the message for a string longer than n characters.
func MsgTooLong(n int) string {
	return fmt.Sprintf("Ensure this field has no more than %d characters.", n)
}

// MsgNoSuchDataType is the message for a reference to an unknown datatype.
func MsgNoSuchDataType(name string) string { return fmt.Sprintf("no such dtype '%s'", name) }

// MsgNoSuchArchive is the message for a reference to an unknown archive.
func MsgNoSuchArchive(name string) string { return fmt.Sprintf("no such archive '%s'", name) }
