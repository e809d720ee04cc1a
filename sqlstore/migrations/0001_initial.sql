-- The registry as django-neurobank kept it: datatypes, archives, resources
-- and their locations, plus nbreg's own users, API tokens, retired names and
-- secrets. Every uniqueness rule of the domain is a constraint here, so that
-- no writer (not even a buggy one) can break it.

CREATE TABLE datatypes (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    content_type TEXT    NOT NULL DEFAULT '',
    extension    TEXT    NOT NULL DEFAULT '',
    downloadable INTEGER NOT NULL DEFAULT 0 CHECK (downloadable IN (0, 1))
) STRICT;

CREATE TABLE archives (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    scheme        TEXT    NOT NULL,
    root          TEXT    NOT NULL,
    accessibility INTEGER NOT NULL DEFAULT 0 CHECK (accessibility BETWEEN 0 AND 2),
    UNIQUE (scheme, root)
) STRICT;

-- created_by is the creator's username as text rather than a reference:
-- users are never renamed or deleted, and imported records keep creators
-- that may have no account here.
CREATE TABLE resources (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    sha1       TEXT    UNIQUE CHECK (sha1 IS NULL OR length(sha1) = 40),
    dtype_id   INTEGER NOT NULL REFERENCES datatypes (id),
    metadata   TEXT    CHECK (metadata IS NULL OR json_type(metadata) = 'object'),
    created_by TEXT    NOT NULL,
    created_on INTEGER NOT NULL -- microseconds since the Unix epoch, UTC
) STRICT;

CREATE INDEX resources_dtype_id ON resources (dtype_id);
CREATE INDEX resources_created_by ON resources (created_by);
CREATE INDEX resources_created_on ON resources (created_on);

CREATE TABLE locations (
    resource_id INTEGER NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    archive_id  INTEGER NOT NULL REFERENCES archives (id),
    PRIMARY KEY (resource_id, archive_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX locations_archive_id ON locations (archive_id, resource_id);

-- A deleted resource's name lives on here so that it is never given to
-- another resource: names are cited in papers and notebooks.
CREATE TABLE retired_names (
    name       TEXT    PRIMARY KEY,
    retired_on INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER resources_name_not_retired
BEFORE INSERT ON resources
WHEN EXISTS (SELECT 1 FROM retired_names WHERE name = NEW.name)
BEGIN
    SELECT RAISE(ABORT, 'resource name is retired');
END;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    password_hash TEXT    NOT NULL DEFAULT '',
    created_on    INTEGER NOT NULL
) STRICT;

-- Tokens are kept only as their hash: a stolen database grants nothing.
CREATE TABLE tokens (
    hash       TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_on INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX tokens_user_id ON tokens (user_id);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
