package pgstore

import (
	"context"
	"strconv"

	"nbreg/registry"
)

// encodeMetadata is the stored form of r's metadata as a column value:
// registry.Resource.MetadataJSON's text, the same bytes the SQLite store
// writes, or nil (NULL) for none.
func encodeMetadata(r *registry.Resource) (*string, error) {
	text, err := r.MetadataJSON()
	if text == nil || err != nil {
		return nil, err
	}
	s := string(text)
	return &s, nil
}

// metadataLeavesOf returns the index rows of metadata m whose stored form
// is stored: from the map itself when it holds only what JSON decoding
// gives, else from the stored text, so that the index describes exactly
// what was stored. Metadata that is not an object has none.
func metadataLeavesOf(m registry.Metadata, stored *string) ([]registry.MetadataLeaf, error) {
	if m == nil || stored == nil {
		return nil, nil
	}
	if leaves, ok := registry.MetadataLeaves(m); ok {
		return leaves, nil
	}
	return registry.MetadataLeavesOfJSON(*stored)
}

// insertLeaves writes the metadata index rows of the resource with row id
// resourceID, numbered from 0 in their order, in one statement however
// many there are. PostgreSQL text cannot hold a NUL byte: a leaf whose
// path has one is left out (no search can name such a key), and a string
// with one is kept without its text (no search can match it), so that the
// key is still present.
func insertLeaves(ctx context.Context, q querier, resourceID int64, leaves []registry.MetadataLeaf) error {
	c := leafColumnsOf(leaves)
	if len(c.seqs) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `
INSERT INTO metadata_leaves (resource_id, seq, path, kind, text_value, num_value)
SELECT $1, u.seq, u.path, u.kind, u.text_value, u.num_value
  FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::float8[])
       AS u(seq, path, kind, text_value, num_value)`,
		resourceID, c.seqs, c.paths, c.kinds, c.texts, c.nums)
	return err
}

// leafColumns are metadata index rows of one resource as the columns of
// metadata_leaves, one array each, for unnest.
type leafColumns struct {
	seqs  []int32
	paths []string
	kinds []string
	texts []*string
	nums  []*float64
}

// leafColumnsOf lays leaves out as columns, leaving out what PostgreSQL
// cannot hold as insertLeaves says.
func leafColumnsOf(leaves []registry.MetadataLeaf) leafColumns {
	c := leafColumns{
		seqs:  make([]int32, 0, len(leaves)),
		paths: make([]string, 0, len(leaves)),
		kinds: make([]string, 0, len(leaves)),
		texts: make([]*string, 0, len(leaves)),
		nums:  make([]*float64, 0, len(leaves)),
	}
	for i, l := range leaves {
		if !storableText(l.Path) {
			continue
		}
		var text *string
		if l.Text != nil && storableText(*l.Text) {
			text = l.Text
		}
		var num *float64
		if l.Num != nil {
			// The nearest double, infinite beyond their range, as
			// SQLite's CAST converts it and as searches convert theirs.
			f, _ := strconv.ParseFloat(*l.Num, 64)
			num = &f
		}
		c.seqs = append(c.seqs, int32(i))
		c.paths = append(c.paths, l.Path)
		c.kinds = append(c.kinds, l.Kind)
		c.texts = append(c.texts, text)
		c.nums = append(c.nums, num)
	}
	return c
}

// replaceLeaves rewrites the metadata index rows of the resource with row
// id resourceID to leaves, the rows of its new metadata.
func replaceLeaves(ctx context.Context, q querier, resourceID int64, leaves []registry.MetadataLeaf) error {
	if _, err := q.Exec(ctx, `DELETE FROM metadata_leaves WHERE resource_id = $1`, resourceID); err != nil {
		return err
	}
	return insertLeaves(ctx, q, resourceID, leaves)
}
