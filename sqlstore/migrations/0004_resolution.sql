-- Resolution: what bulk/locations/ needs of a resource, one short row per
-- name, clustered by name. Resolving a name from resources, locations and
-- archives reads three pages scattered over three B-trees; here it reads
-- one, which is what keeps a bulk request of thousands of random names
-- fast on a registry of millions. Triggers keep it in step with resources
-- and locations, so that no writer can forget it; it holds nothing that
-- cannot be built again from them.
--
-- archive_ids lists the ids of the archives holding the resource,
-- separated by commas ('' when none), in no particular order.
CREATE TABLE resolution (
    name        TEXT    PRIMARY KEY,
    resource_id INTEGER NOT NULL,
    dtype_id    INTEGER NOT NULL,
    sha1        TEXT,
    archive_ids TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

INSERT INTO resolution (name, resource_id, dtype_id, sha1, archive_ids)
SELECT r.name, r.id, r.dtype_id, r.sha1,
       coalesce((SELECT group_concat(l.archive_id) FROM locations l WHERE l.resource_id = r.id), '')
  FROM resources r
 ORDER BY r.name;

CREATE TRIGGER resolution_resource_insert AFTER INSERT ON resources
BEGIN
    INSERT INTO resolution (name, resource_id, dtype_id, sha1)
    VALUES (NEW.name, NEW.id, NEW.dtype_id, NEW.sha1);
END;

-- Metadata updates rewrite the whole row: only a change of what is kept
-- here touches it.
CREATE TRIGGER resolution_resource_update AFTER UPDATE OF name, dtype_id, sha1 ON resources
WHEN OLD.name IS NOT NEW.name OR OLD.dtype_id IS NOT NEW.dtype_id OR OLD.sha1 IS NOT NEW.sha1
BEGIN
    UPDATE resolution SET name = NEW.name, dtype_id = NEW.dtype_id, sha1 = NEW.sha1
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
