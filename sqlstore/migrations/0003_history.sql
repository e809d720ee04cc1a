-- Provenance: every change to a resource is kept, and names never change
-- meaning. A renamed resource's old name stays retired and leads to the
-- new one; archives and datatypes keep their old names retired too.

-- renamed_to is the current name of the resource an old name led to, or
-- NULL for a deleted resource's name. Renames keep it pointing at the
-- final name, so that resolving an old name takes one lookup.
ALTER TABLE retired_names ADD COLUMN renamed_to TEXT;

CREATE INDEX retired_names_renamed_to ON retired_names (renamed_to) WHERE renamed_to IS NOT NULL;

-- A rename must not take a retired name either.
CREATE TRIGGER resources_rename_not_retired
BEFORE UPDATE OF name ON resources
WHEN EXISTS (SELECT 1 FROM retired_names WHERE name = NEW.name)
BEGIN
    SELECT RAISE(ABORT, 'resource name is retired');
END;

-- Histories are kept by resource name, not row id: they outlive the
-- resource (a deleted name is never reused, so its history stays its own),
-- and a rename moves them to the new name. old and new are JSON values;
-- NULL when there is none.
CREATE TABLE history (
    id       INTEGER PRIMARY KEY,
    resource TEXT    NOT NULL,
    action   TEXT    NOT NULL CHECK (action IN ('create', 'update', 'add_location', 'remove_location', 'rename', 'delete')),
    field    TEXT    NOT NULL DEFAULT '',
    old      TEXT,
    new      TEXT,
    username TEXT    NOT NULL,
    time     INTEGER NOT NULL -- microseconds since the Unix epoch, UTC
) STRICT;

CREATE INDEX history_resource ON history (resource, id);

-- Old names of archives and datatypes: an archive's name is written in
-- scripts and configuration, so an old one must not come to mean another
-- place.
CREATE TABLE retired_archive_names (
    name       TEXT    PRIMARY KEY,
    renamed_to TEXT    NOT NULL,
    retired_on INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE retired_datatype_names (
    name       TEXT    PRIMARY KEY,
    renamed_to TEXT    NOT NULL,
    retired_on INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER archives_name_not_retired
BEFORE INSERT ON archives
WHEN EXISTS (SELECT 1 FROM retired_archive_names WHERE name = NEW.name)
BEGIN
    SELECT RAISE(ABORT, 'archive name is retired');
END;

CREATE TRIGGER datatypes_name_not_retired
BEFORE INSERT ON datatypes
WHEN EXISTS (SELECT 1 FROM retired_datatype_names WHERE name = NEW.name)
BEGIN
    SELECT RAISE(ABORT, 'datatype name is retired');
END;
