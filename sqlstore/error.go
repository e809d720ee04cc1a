package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"nbreg/registry"
)

// uniqueMessages maps the columns of each UNIQUE constraint, as SQLite names
// them in "UNIQUE constraint failed: ..." errors, to the field and message a
// client sees. The constraints have the final word on uniqueness: most
// writes check the rules first anyway, to report every problem at once,
// while resources are inserted straight away (a batch of thousands would
// otherwise pay a query each) and checked in detail only when refused.
var uniqueMessages = map[string]struct{ field, message string }{
	"datatypes.name":                              {"name", registry.MsgDataTypeExists},
	"archives.name":                               {"name", registry.MsgArchiveExists},
	"archives.scheme, archives.root":              {registry.NonField, registry.MsgArchiveUnique},
	"resources.name":                              {"name", registry.MsgResourceExists},
	"resources.sha1":                              {"sha1", registry.MsgSHA1Exists},
	"locations.resource_id, locations.archive_id": {registry.NonField, registry.MsgLocationUnique},
	"users.username":                              {"username", registry.MsgUserExists},
	"tokens.hash":                                 {registry.NonField, registry.MsgTokenExists},
	"location_keys.archive_id, location_keys.key": {"key", registry.MsgLocationKeyExists},
}

// formatError is the one place where database errors become domain errors:
// constraint violations become the ECONFLICT errors a client understands,
// a missing row becomes ENOTFOUND, and registry errors pass unchanged. Any
// other error stays as it is, which callers treat as EINTERNAL.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	var rerr *registry.Error
	if errors.As(err, &rerr) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return notFound()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var serr *sqlite.Error
	if !errors.As(err, &serr) {
		return err
	}
	msg := serr.Error()
	switch serr.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		// "... UNIQUE constraint failed: archives.scheme, archives.root (2067)"
		const marker = "constraint failed: "
		cols := msg
		if i := strings.LastIndex(msg, marker); i >= 0 {
			cols = msg[i+len(marker):]
		}
		if i := strings.Index(cols, " ("); i >= 0 {
			cols = cols[:i]
		}
		if m, ok := uniqueMessages[cols]; ok {
			return &registry.Error{Code: registry.ECONFLICT, Message: m.message, Fields: map[string][]string{m.field: {m.message}}}
		}
	case sqlite3.SQLITE_CONSTRAINT_TRIGGER:
		switch {
		case strings.Contains(msg, "resource name is retired"):
			return registry.FieldError(registry.ECONFLICT, "name", registry.MsgResourceExists)
		case strings.Contains(msg, "archive name is retired"):
			return registry.FieldError(registry.ECONFLICT, "name", registry.MsgArchiveExists)
		case strings.Contains(msg, "datatype name is retired"):
			return registry.FieldError(registry.ECONFLICT, "name", registry.MsgDataTypeExists)
		}
	}
	if serr.Code()&0xff == sqlite3.SQLITE_FULL {
		// The transaction was rolled back: nothing of it was written.
		return &registry.Error{Code: registry.EFULL, Message: fmt.Sprintf("the database's storage is full: %v", err)}
	}
	if serr.Code()&0xff == sqlite3.SQLITE_BUSY {
		return fmt.Errorf("database is busy: another process held its lock for longer than %d s: %w", busyTimeout/1000, err)
	}
	return err
}

// notFound is the error for a record that does not exist.
func notFound() error {
	return registry.Errorf(registry.ENOTFOUND, "%s", registry.MsgNotFound)
}
