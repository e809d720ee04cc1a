-- Resolution rows hold a sha1 of 40 lowercase hexadecimal digits, nearly
-- all of them, as the 20 bytes it spells: a blob. Any other sha1 (an
-- import keeps any text up to 40 characters) stays text, and NULL stays
-- NULL; a reader turns a blob back into its lowercase hexadecimal. That
-- takes a third off the table (65 MB to 45 MB at a million resources),
-- and so off the pages a bulk resolution reads. The column of resources
-- keeps the text: it is what the API and exports give.
--
-- The table is built again under its own name, so that its definition
-- reads as written here, through a temporary copy of the same definition
-- so that its pages are filled (see packed.go).
DROP TRIGGER resolution_resource_insert;
DROP TRIGGER resolution_resource_update;
DROP TRIGGER resolution_resource_delete;
DROP TRIGGER resolution_location_insert;
DROP TRIGGER resolution_location_delete;

ALTER TABLE resolution RENAME TO resolution_text;

CREATE TABLE resolution (
    name        TEXT    PRIMARY KEY,
    resource_id INTEGER NOT NULL,
    dtype_id    INTEGER NOT NULL,
    sha1        ANY,
    archive_ids TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

CREATE TEMP TABLE resolution_migrated (
    name        TEXT    PRIMARY KEY,
    resource_id INTEGER NOT NULL,
    dtype_id    INTEGER NOT NULL,
    sha1        ANY,
    archive_ids TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

INSERT INTO temp.resolution_migrated (name, resource_id, dtype_id, sha1, archive_ids)
SELECT name, resource_id, dtype_id,
       CASE WHEN length(sha1) = 40 AND sha1 NOT GLOB '*[^0-9a-f]*' THEN unhex(sha1) ELSE sha1 END,
       archive_ids
  FROM resolution_text
 ORDER BY name;

INSERT INTO main.resolution SELECT * FROM temp.resolution_migrated;
DROP TABLE temp.resolution_migrated;
DROP TABLE resolution_text;

CREATE TRIGGER resolution_resource_insert AFTER INSERT ON resources
BEGIN
    INSERT INTO resolution (name, resource_id, dtype_id, sha1)
    VALUES (NEW.name, NEW.id, NEW.dtype_id,
            CASE WHEN length(NEW.sha1) = 40 AND NEW.sha1 NOT GLOB '*[^0-9a-f]*' THEN unhex(NEW.sha1) ELSE NEW.sha1 END);
END;

CREATE TRIGGER resolution_resource_update AFTER UPDATE OF name, dtype_id, sha1 ON resources
WHEN OLD.name IS NOT NEW.name OR OLD.dtype_id IS NOT NEW.dtype_id OR OLD.sha1 IS NOT NEW.sha1
BEGIN
    UPDATE resolution
       SET name = NEW.name, dtype_id = NEW.dtype_id,
           sha1 = CASE WHEN length(NEW.sha1) = 40 AND NEW.sha1 NOT GLOB '*[^0-9a-f]*' THEN unhex(NEW.sha1) ELSE NEW.sha1 END
     WHERE name = OLD.name;
END;

CREATE TRIGGER resolution_resource_delete AFTER DELETE ON resources
BEGIN
    DELETE FROM resolution WHERE name = OLD.name;
END;

CREATE TRIGGER resolution_location_insert AFTER INSERT ON locations
BEGIN
    UPDATE resolution
       SET archive_ids = coalesce((SELECT group_concat(archive_id) FROM locations WHERE resource_id = NEW.resource_id), '')
     WHERE name = (SELECT name FROM resources WHERE id = NEW.resource_id);
END;

CREATE TRIGGER resolution_location_delete AFTER DELETE ON locations
BEGIN
    UPDATE resolution
       SET archive_ids = coalesce((SELECT group_concat(archive_id) FROM locations WHERE resource_id = OLD.resource_id), '')
     WHERE name = (SELECT name FROM resources WHERE id = OLD.resource_id);
END;
