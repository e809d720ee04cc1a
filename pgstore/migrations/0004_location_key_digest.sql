-- A location key may be 1,024 characters, up to 4,096 bytes: more than a
-- B-tree entry holds. Keys are never looked up, only kept unique within
-- their archive, so the unique index holds a SHA-256 digest of the key
-- instead of the key itself, under the same name (formatError knows it).
ALTER TABLE location_keys DROP CONSTRAINT location_keys_archive_key;
CREATE UNIQUE INDEX location_keys_archive_key ON location_keys (archive_id, sha256(key::bytea));
