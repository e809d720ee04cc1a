-- A B-tree entry holds at most about 2,700 bytes, so the indexes of 0001,
-- which held whole key paths and values, refused metadata with a long
-- string or key, which the SQLite store takes. They now hold the first
-- 256 characters of a key path and the first 400 of a value: at most
-- 1,024 and 1,600 bytes of UTF-8, which with the kind fit an entry
-- whatever the characters. Shorter paths and values, nearly all of them,
-- are held whole as before, in entries of the same size. left() of text
-- keeps its "C" collation, and cutting a text never moves it past another
-- in bytewise order, so a prefix compares as the whole value does up to
-- its last character: the lookups compare the prefixes in the index and
-- the whole of a longer path or value on its row (see
-- pgstore/metadata_query.go, which writes these expressions word for word).
--
-- The folded index no longer carries text_value: a lookup reads the row of
-- each entry it finds anyway (resource_id is in no index but the primary
-- key), so an entry of the index has nothing to answer alone.

DROP INDEX metadata_leaves_text;
CREATE INDEX metadata_leaves_text ON metadata_leaves (left(path, 256), left(text_value, 400), kind);

DROP INDEX metadata_leaves_folded;
CREATE INDEX metadata_leaves_folded ON metadata_leaves (left(path, 256), lower(left(text_value, 400)), kind)
    WHERE text_value <> lower(text_value);

DROP INDEX metadata_leaves_number;
CREATE INDEX metadata_leaves_number ON metadata_leaves (left(path, 256), num_value) WHERE num_value IS NOT NULL;
