package storetest

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// longTextRunes are the characters of longText: ASCII letters of both
// cases (so that folding changes a value), digits, and characters of two,
// three and four bytes in UTF-8, so that a value's length in bytes is well
// above its length in characters. There is no comma (in splits its value
// on commas), no underscore (a double one separates keys in a lookup) and
// no dot or backslash (escaped in key paths), so a long text can be a
// value of in and a key.
var longTextRunes = []rune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -éßЖж中文😀🎵𝄞")

// longText is n characters drawn at random from longTextRunes, text that
// compression does not shorten much.
func longText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(longTextRunes[r.IntN(len(longTextRunes))])
	}
	return b.String()
}

// runePrefix is the first n characters of s.
func runePrefix(s string, n int) string {
	i := 0
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// testLongMetadata holds every lookup to its answers on values and key
// paths far longer than any index entry holds (a B-tree entry of
// PostgreSQL takes about 2,700 bytes): values equal to a search term,
// values sharing a long prefix that differ only after it, bounds of
// ranges and prefixes that fall inside that shared prefix, a value of a
// mebibyte, and long keys, one of them a prefix of another.
func testLongMetadata(t *testing.T, open func(t *testing.T) registry.Store) {
	f := setup(t, open)
	f.dataType(registry.DataType{Name: "wav"})
	r := rand.New(rand.NewPCG(7, 11))
	// shared starts with an upper-case M, so that folding changes every
	// value that starts with it and all of them sort before "short".
	shared := "M" + longText(r, 2999)
	folded := asciiLower(shared)
	inside := runePrefix(shared, 1500) // a bound inside the shared prefix
	key := longText(r, 3000)
	var big strings.Builder
	for big.Len() < 1<<20 {
		big.WriteString(longText(r, 1000))
	}
	mebibyte := big.String()
	half := runePrefix(mebibyte, utf8.RuneCountInString(mebibyte)/2)
	randomASCII := func(n int) string {
		const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return string(b)
	}
	random := randomASCII(8000)

	seed := []registry.Resource{
		{Name: "a", Metadata: registry.Metadata{"note": shared + "a-tail"}},
		{Name: "b", Metadata: registry.Metadata{"note": shared + "b-tail"}},
		{Name: "c", Metadata: registry.Metadata{"note": shared + "B-TAIL"}},
		{Name: "d", Metadata: registry.Metadata{"note": "short"}},
		{Name: "e", Metadata: registry.Metadata{"note": shared}},
		{Name: "f", Metadata: registry.Metadata{"big": mebibyte}},
		{Name: "g", Metadata: registry.Metadata{key: map[string]any{"id": "g1", "n": json.Number("5"), "note": shared + "a-tail"}}},
		{Name: "h", Metadata: registry.Metadata{key + "2": map[string]any{"id": "g1", "n": json.Number("7")}}},
		{Name: "i", Metadata: registry.Metadata{"random": random}},
	}
	for _, res := range seed {
		res.DType = "wav"
		f.resource(res, "bob")
	}
	for _, want := range seed {
		got := f.findResource(want.Name)
		if diff := cmp.Diff(want.Metadata, got.Metadata); diff != "" {
			t.Errorf("metadata of %s as stored mismatch (-want +got):\n%s", want.Name, diff)
		}
	}

	everyone := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}
	tests := []struct {
		name, param, value string
		want               []string
	}{
		// A long value equal to the search term, and only that one.
		{"Exact", "metadata__note", shared + "a-tail", []string{"a"}},
		{"ExactSharedPrefix", "metadata__note", shared, []string{"e"}},
		{"ExactShorter", "metadata__note", shared + "a-tai", nil},
		{"ExactLonger", "metadata__note", shared + "a-tails", nil},
		{"IExact", "metadata__note__iexact", folded + "b-tail", []string{"b", "c"}},
		{"IExactOne", "metadata__note__iexact", folded + "a-tail", []string{"a"}},
		{"IExactSharedPrefix", "metadata__note__iexact", folded, []string{"e"}},
		{"In", "metadata__note__in", shared + "a-tail,short", []string{"a", "d"}},
		{"InLongOnly", "metadata__note__in", shared + "b-tail," + shared + "x", []string{"b"}},
		{"Neq", "metadata__note__neq", shared + "a-tail", []string{"b", "c", "d", "e"}},
		// Prefixes, longer than the shared part, as long as it, and
		// ending inside it.
		{"StartsWithShared", "metadata__note__startswith", shared, []string{"a", "b", "c", "e"}},
		{"StartsWithAfterShared", "metadata__note__startswith", shared + "a", []string{"a"}},
		{"StartsWithAfterSharedUpper", "metadata__note__startswith", shared + "B", []string{"c"}},
		{"StartsWithInside", "metadata__note__startswith", inside, []string{"a", "b", "c", "e"}},
		{"StartsWithFolded", "metadata__note__startswith", folded, nil},
		{"IStartsWith", "metadata__note__istartswith", folded + "b", []string{"b", "c"}},
		{"IStartsWithShared", "metadata__note__istartswith", shared, []string{"a", "b", "c", "e"}},
		{"IStartsWithInside", "metadata__note__istartswith", asciiLower(inside), []string{"a", "b", "c", "e"}},
		// Ranges: shared < shared+"B-TAIL" < shared+"a-tail" <
		// shared+"b-tail" < "short", bytewise.
		{"GT", "metadata__note__gt", shared, []string{"a", "b", "c", "d"}},
		{"GTE", "metadata__note__gte", shared, []string{"a", "b", "c", "d", "e"}},
		{"LT", "metadata__note__lt", shared + "a", []string{"c", "e"}},
		{"LTE", "metadata__note__lte", shared + "a-tail", []string{"a", "c", "e"}},
		{"GTAfterShared", "metadata__note__gt", shared + "a-tail", []string{"b", "d"}},
		{"GTEAfterShared", "metadata__note__gte", shared + "b-tail", []string{"b", "d"}},
		{"LTInside", "metadata__note__lt", inside, nil},
		{"GTInside", "metadata__note__gt", inside, []string{"a", "b", "c", "d", "e"}},
		{"LTInsideHighest", "metadata__note__lt", inside + "\U0010FFFF", []string{"a", "b", "c", "e"}},
		{"GTInsideHighest", "metadata__note__gt", inside + "\U0010FFFF", []string{"d"}},
		{"GTInsideLowest", "metadata__note__gt", inside + "\x01", []string{"a", "b", "c", "d", "e"}},
		// Substrings read the whole value.
		{"Contains", "metadata__note__contains", "a-tail", []string{"a"}},
		{"ContainsMiddle", "metadata__note__contains", runePrefix(shared[len(inside):], 100), []string{"a", "b", "c", "e"}},
		{"IContains", "metadata__note__icontains", "B-TAIL", []string{"b", "c"}},
		{"EndsWith", "metadata__note__endswith", "TAIL", []string{"c"}},
		{"IEndsWith", "metadata__note__iendswith", "tail", []string{"a", "b", "c"}},
		{"EndsWithShared", "metadata__note__endswith", shared[len(inside):], []string{"e"}},
		{"HasKey", "metadata__note__isnull", "false", []string{"a", "b", "c", "d", "e"}},
		// A long key, and another that it is a prefix of.
		{"LongKey", "metadata__" + key + "__id", "g1", []string{"g"}},
		{"LongerKey", "metadata__" + key + "2__id", "g1", []string{"h"}},
		{"LongKeyPrefix", "metadata__" + runePrefix(key, 2999) + "__id", "g1", nil},
		{"LongKeyNumber", "metadata__" + key + "__n", "5", []string{"g"}},
		{"LongKeyNumberRange", "metadata__" + key + "__n__gt", "4", []string{"g"}},
		{"LongerKeyNumberRange", "metadata__" + key + "2__n__gte", "5", []string{"h"}},
		{"LongKeyNumbers", "metadata__" + key + "__n__in", "5,7", []string{"g"}},
		{"LongKeyLongValue", "metadata__" + key + "__note", shared + "a-tail", []string{"g"}},
		{"LongKeyLongPrefix", "metadata__" + key + "__note__startswith", shared, []string{"g"}},
		{"LongKeyPresent", "metadata__" + key + "__isnull", "false", []string{"g"}},
		{"LongKeyAbsent", "metadata__" + key + "__isnull", "true", []string{"a", "b", "c", "d", "e", "f", "h", "i"}},
		{"LongKeyObject", "metadata__" + key, "g1", nil},
		// A mebibyte.
		{"Mebibyte", "metadata__big", mebibyte, []string{"f"}},
		{"MebibyteShorter", "metadata__big", runePrefix(mebibyte, utf8.RuneCountInString(mebibyte)-1), nil},
		{"MebibyteIExact", "metadata__big__iexact", asciiLower(mebibyte), []string{"f"}},
		{"MebibyteStartsWith", "metadata__big__startswith", half, []string{"f"}},
		{"MebibyteIStartsWith", "metadata__big__istartswith", asciiLower(half), []string{"f"}},
		{"MebibyteGT", "metadata__big__gt", half, []string{"f"}},
		{"MebibyteLT", "metadata__big__lt", half, nil},
		{"MebibyteLTE", "metadata__big__lte", mebibyte, []string{"f"}},
		{"MebibyteEndsWith", "metadata__big__endswith", mebibyte[len(half):], []string{"f"}},
		{"MebibyteContains", "metadata__big__contains", runePrefix(mebibyte[len(half):], 1000), []string{"f"}},
		// 8,000 random bytes.
		{"Random", "metadata__random", random, []string{"i"}},
		{"RandomIn", "metadata__random__in", "x," + random, []string{"i"}},
		{"RandomIExact", "metadata__random__iexact", strings.ToUpper(random), []string{"i"}},
		{"RandomStartsWith", "metadata__random__startswith", random[:4000], []string{"i"}},
		{"RandomIStartsWith", "metadata__random__istartswith", strings.ToUpper(random[:4000]), []string{"i"}},
		{"RandomGTE", "metadata__random__gte", random, []string{"i"}},
		{"RandomLT", "metadata__random__lt", random, nil},
		{"RandomNeq", "metadata__random__neq", random[:7999], []string{"i"}},
		{"Nothing", "metadata__nokey__isnull", "true", everyone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := registry.ParseMetadataLookup(tt.param, tt.value)
			if err != nil {
				t.Fatalf("ParseMetadataLookup: %v", err)
			}
			got := f.searchNames(t, registry.ResourceFilter{Metadata: []registry.MetadataLookup{l}})
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// asciiLower folds ASCII letters only, as the lookups ending in i do.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
