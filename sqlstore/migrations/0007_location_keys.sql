-- django-neurobank 0.11 gave a location an optional key: the address of
-- the resource within the archive, when it cannot be derived from the
-- resource's name (a file on a tape). Few locations have one, so keys
-- live beside the locations rather than in every location row, and go
-- with their location when it is removed. Within an archive a key names
-- one resource.
CREATE TABLE location_keys (
    resource_id INTEGER NOT NULL,
    archive_id  INTEGER NOT NULL,
    key         TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 1024),
    PRIMARY KEY (resource_id, archive_id),
    FOREIGN KEY (resource_id, archive_id) REFERENCES locations (resource_id, archive_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX location_keys_archive_key ON location_keys (archive_id, key);
