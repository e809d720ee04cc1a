-- The metadata index in a third of the space. The rows of migration 0002
-- repeated each key path in full, kept a row number, a kind and two value
-- columns, and were indexed three more times (text, number, folded):
-- about 79 bytes for each value, three times the resources themselves.
-- Now:
--
--   metadata_paths    each key path once, named by a small integer;
--   metadata_values   one table that is itself the index, clustered by
--                     (path, value, resource): an equality, a prefix or a
--                     range is one seek and a walk over adjacent rows,
--                     and a create writes each value into one B-tree;
--   metadata_folded   the strings that ASCII folding changes, folded, for
--                     the case-insensitive lookups (a few of the values).
--
-- value holds every kind in one ordered column, as SQLite orders values
-- of different types (numbers, then text, then blobs):
--   string               the text itself;
--   number               its value as SQLite's CAST(... AS REAL) reads the
--                        JSON text, written as an integer when it is one
--                        exactly (an integer takes 1 to 8 bytes, a real
--                        always 8; integers and reals compare by value);
--   boolean              the blob 'true' or 'false', so that text ranges
--                        and prefixes never reach it while equality finds
--                        it by its text's bytes;
--   null, object, array  the empty blob, which says the key is present.
-- A resource holding the same value twice at one path (["a", "a"]) has
-- one row: the index answers which resources match, not how often.
--
-- The rows of a resource are not found by resource: a write that changes
-- or removes a resource's metadata works out its old rows from the old
-- document (sqlstore/metadata_index.go), and a search tests a second
-- lookup on each candidate's own document (nbreg_leaves, registered by
-- sqlstore) or by a seek on the full key.
CREATE TABLE metadata_paths (
    id   INTEGER PRIMARY KEY,
    path TEXT    NOT NULL UNIQUE
) STRICT;

CREATE TABLE metadata_values (
    path_id     INTEGER NOT NULL,
    value       ANY     NOT NULL,
    resource_id INTEGER NOT NULL,
    PRIMARY KEY (path_id, value, resource_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE metadata_folded (
    path_id     INTEGER NOT NULL,
    folded      TEXT    NOT NULL,
    resource_id INTEGER NOT NULL,
    PRIMARY KEY (path_id, folded, resource_id)
) STRICT, WITHOUT ROWID;

INSERT INTO metadata_paths (path)
SELECT DISTINCT path FROM metadata_leaves ORDER BY path;

-- Sorted as the table is, so that each row goes in at its right end.
INSERT OR IGNORE INTO metadata_values (path_id, value, resource_id)
SELECT p.id,
       CASE l.kind
            WHEN 'string' THEN l.text_value
            WHEN 'boolean' THEN CAST(l.text_value AS BLOB)
            WHEN 'number' THEN
                 CASE WHEN l.num_value = CAST(l.num_value AS INTEGER) AND abs(l.num_value) <= 9007199254740992.0
                      THEN CAST(l.num_value AS INTEGER) ELSE l.num_value END
            ELSE x'' END AS v,
       l.resource_id
  FROM metadata_leaves l JOIN metadata_paths p ON p.path = l.path
 ORDER BY 1, 2, 3;

INSERT OR IGNORE INTO metadata_folded (path_id, folded, resource_id)
SELECT p.id, lower(l.text_value), l.resource_id
  FROM metadata_leaves l JOIN metadata_paths p ON p.path = l.path
 WHERE l.kind = 'string' AND l.text_value <> lower(l.text_value)
 ORDER BY 1, 2, 3;

DROP TABLE metadata_leaves;
