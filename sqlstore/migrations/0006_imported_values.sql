-- A registry moving in from django-neurobank may hold what its models
-- allowed and nbreg's API does not write: metadata that is any JSON value
-- (django-neurobank 0.10 stored whatever a client sent: a string, a
-- number, a list), and a sha1 of any text up to 40 characters (its admin
-- pages did not check the form). The resources table's CHECK constraints
-- are relaxed to keep them; the API still refuses both on writes.
--
-- SQLite cannot alter a CHECK constraint, and rebuilding the table would
-- rewrite every resource. Relaxing a constraint changes nothing stored,
-- so the table's definition is edited in place, as SQLite's documentation
-- allows for this kind of change (ALTER TABLE, "Making Other Kinds Of
-- Table Schema Changes").
PRAGMA writable_schema = ON;

UPDATE sqlite_schema
   SET sql = replace(replace(sql,
           'CHECK (metadata IS NULL OR json_type(metadata) = ''object'')',
           'CHECK (metadata IS NULL OR json_valid(metadata))'),
           'CHECK (sha1 IS NULL OR length(sha1) = 40)',
           'CHECK (sha1 IS NULL OR length(sha1) BETWEEN 1 AND 40)')
 WHERE type = 'table' AND name = 'resources';

-- RESET reads the edited schema back into this connection. Creating and
-- dropping a table changes the schema's version number, so that every
-- other connection (another process's too) reads it again before its next
-- statement.
PRAGMA writable_schema = RESET;

CREATE TABLE schema_reload (x);
DROP TABLE schema_reload;
