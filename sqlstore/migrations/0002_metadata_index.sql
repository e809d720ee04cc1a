-- An index of metadata, so that a search on a key looks up the values of
-- that key instead of reading every resource's JSON. The JSON document in
-- resources.metadata stays the source of truth; these rows are derived from
-- it, written in the same transaction as the resource, and rewritten
-- whenever its metadata changes.
--
-- One row per value: every scalar (string, number, boolean, null) and
-- every object and array, so that a key holding null, {} or [] is present.
-- path is the key path, each key with '\' written '\\' and '.' written
-- '\.', joined by '.': {"subject": {"age": 5}} gives the rows "subject"
-- (object) and "subject.age" (number 5). The escaping keeps the paths of
-- two different keys apart. Elements of an array take the array's own
-- path, so a search on the key looks at each element: {"tags": ["a", "b"]}
-- gives "tags" (array), "tags" (string a) and "tags" (string b).
--
-- text_value holds strings, and booleans as 'true' or 'false' (which is how
-- a query writes them); num_value holds numbers. seq numbers the rows of
-- one resource.
CREATE TABLE metadata_leaves (
    resource_id INTEGER NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    path        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('string', 'number', 'boolean', 'null', 'object', 'array')),
    text_value  TEXT,
    num_value   REAL,
    PRIMARY KEY (resource_id, seq)
) STRICT, WITHOUT ROWID;

-- Equality, prefix and text ranges; also "has the key" (path alone). kind
-- rides along so that string-only lookups are answered from the index.
CREATE INDEX metadata_leaves_text ON metadata_leaves (path, text_value, kind);
-- Case-insensitive lookups, with SQLite's ASCII lower().
CREATE INDEX metadata_leaves_folded ON metadata_leaves (path, lower(text_value), kind);
-- Numeric equality and ranges.
CREATE INDEX metadata_leaves_number ON metadata_leaves (path, num_value)
    WHERE num_value IS NOT NULL;

-- Backfill from the documents already stored, walking each one with
-- json_each level by level. The Go code that indexes new writes
-- (sqlstore/metadata_index.go) builds exactly the same rows.
INSERT INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value)
WITH RECURSIVE walk (resource_id, path, type, value) AS (
    SELECT r.id,
           replace(replace(j.key, '\', '\\'), '.', '\.'),
           j.type,
           CASE WHEN j.type IN ('object', 'array') THEN j.value ELSE j.atom END
      FROM resources r, json_each(r.metadata) j
     WHERE r.metadata IS NOT NULL
    UNION ALL
    SELECT w.resource_id,
           CASE WHEN w.type = 'array' THEN w.path
                ELSE w.path || '.' || replace(replace(j.key, '\', '\\'), '.', '\.') END,
           j.type,
           CASE WHEN j.type IN ('object', 'array') THEN j.value ELSE j.atom END
      FROM walk w,
           json_each(CASE WHEN w.type IN ('object', 'array') THEN w.value ELSE '[]' END) j
)
SELECT resource_id,
       row_number() OVER (PARTITION BY resource_id),
       path,
       CASE type WHEN 'text' THEN 'string'
                 WHEN 'integer' THEN 'number'
                 WHEN 'real' THEN 'number'
                 WHEN 'true' THEN 'boolean'
                 WHEN 'false' THEN 'boolean'
                 ELSE type END,
       CASE type WHEN 'text' THEN value
                 WHEN 'true' THEN 'true'
                 WHEN 'false' THEN 'false' END,
       CASE WHEN type IN ('integer', 'real') THEN CAST(value AS REAL) END
  FROM walk;

-- How many resources there are, kept by triggers, so that the first page
-- of the unfiltered list (which shows the number of pages) does not count
-- a million rows each time.
CREATE TABLE resource_count (
    n INTEGER NOT NULL
) STRICT;

INSERT INTO resource_count (n) SELECT count(*) FROM resources;

CREATE TRIGGER resources_count_insert AFTER INSERT ON resources
BEGIN
    UPDATE resource_count SET n = n + 1;
END;

CREATE TRIGGER resources_count_delete AFTER DELETE ON resources
BEGIN
    UPDATE resource_count SET n = n - 1;
END;
