-- Case-insensitive lookups compare lower(text_value) with the folded
-- value they look for. A value that lower() leaves as it is (all of its
-- ASCII letters lower case already, as most lab metadata is) is found
-- through metadata_leaves_text instead, since its folded form is the value
-- itself; so the folded index needs only the values that folding changes.
-- It shrinks to a small share of the rows, and every write, and the end of
-- every bulk import, keeps one large index fewer. text_value rides along
-- so that the index answers a lookup alone (its rows must be told from the
-- others by text_value too).
DROP INDEX metadata_leaves_folded;

CREATE INDEX metadata_leaves_folded ON metadata_leaves (path, lower(text_value), kind, text_value)
    WHERE text_value <> lower(text_value);
