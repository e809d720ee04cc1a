package registry

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMetadataLookup(t *testing.T) {
	tests := []struct {
		param, value string
		want         MetadataLookup
	}{
		{"metadata__experimenter", "dmeliza", MetadataLookup{Path: []string{"experimenter"}, Op: MetadataExact, Value: "dmeliza"}},
		{"metadata__subject__age", "5", MetadataLookup{Path: []string{"subject", "age"}, Op: MetadataExact, Value: "5"}},
		{"metadata__subject__age__gte", "5", MetadataLookup{Path: []string{"subject", "age"}, Op: MetadataGTE, Value: "5"}},
		{"metadata__a__neq", "x", MetadataLookup{Path: []string{"a"}, Op: MetadataNeq, Value: "x"}},
		{"metadata__a__iexact", "", MetadataLookup{Path: []string{"a"}, Op: MetadataIExact, Value: ""}},
		{"metadata__a__in", "1,b,,c", MetadataLookup{Path: []string{"a"}, Op: MetadataIn, Value: "1,b,,c", Values: []string{"1", "b", "", "c"}}},
		{"metadata__a__in", "", MetadataLookup{Path: []string{"a"}, Op: MetadataIn, Value: "", Values: []string{""}}},
		{"metadata__a__isnull", "true", MetadataLookup{Path: []string{"a"}, Op: MetadataIsNull, Value: "true", IsNull: true}},
		{"metadata__a__isnull", " False ", MetadataLookup{Path: []string{"a"}, Op: MetadataIsNull, Value: " False "}},
		{"metadata__a__isnull", "1", MetadataLookup{Path: []string{"a"}, Op: MetadataIsNull, Value: "1", IsNull: true}},
		// Only the last part can be a lookup; other names are keys, as in
		// Django, where year, date and the like are not lookups on JSON.
		{"metadata__gt__b", "1", MetadataLookup{Path: []string{"gt", "b"}, Op: MetadataExact, Value: "1"}},
		{"metadata__recording__date", "2024-01-01", MetadataLookup{Path: []string{"recording", "date"}, Op: MetadataExact, Value: "2024-01-01"}},
		{"metadata__exact__exact", "1", MetadataLookup{Path: []string{"exact"}, Op: MetadataExact, Value: "1"}},
		{"metadata__a.b__c", "1", MetadataLookup{Path: []string{"a.b", "c"}, Op: MetadataExact, Value: "1"}},
		{"metadata___a", "1", MetadataLookup{Path: []string{"_a"}, Op: MetadataExact, Value: "1"}},
		{"metadata__a___b", "1", MetadataLookup{Path: []string{"a", "_b"}, Op: MetadataExact, Value: "1"}},
		{"metadata__Exact", "1", MetadataLookup{Path: []string{"Exact"}, Op: MetadataExact, Value: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.param+"="+tt.value, func(t *testing.T) {
			got, err := ParseMetadataLookup(tt.param, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Param = tt.param
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMetadataLookupRefuses(t *testing.T) {
	tests := []struct {
		name, param, value, message string
	}{
		{"NoKey", "metadata__", "x", "key may not be empty"},
		{"EmptyFirstKey", "metadata____x", "x", "key may not be empty"},
		{"EmptyMiddleKey", "metadata__a____b", "x", "key may not be empty"},
		{"EmptyLastKey", "metadata__a__", "x", "key may not be empty"},
		{"EmptyKeyBeforeLookup", "metadata__a____gt", "x", "key may not be empty"},
		{"LookupWithoutKey", "metadata__gt", "1", "name a key before the lookup"},
		{"IsNullWithoutKey", "metadata__isnull", "true", "name a key before the lookup"},
		{"Regex", "metadata__a__regex", ".*", `unsupported lookup "regex"`},
		{"IRegex", "metadata__a__iregex", ".*", `unsupported lookup "iregex"`},
		{"OtherLanguagesNe", "metadata__a__ne", "x", `unsupported lookup "ne"`},
		{"OtherLanguagesLike", "metadata__a__b__like", "x%", `unsupported lookup "like"`},
		{"Range", "metadata__a__range", "1,2", `unsupported lookup "range"`},
		{"HasKey", "metadata__has_key", "a", `unsupported lookup "has_key"`},
		{"ContainedBy", "metadata__a__contained_by", "{}", `unsupported lookup "contained_by"`},
		{"IsNullNotBoolean", "metadata__a__isnull", "maybe", "isnull takes true or false"},
		{"IsNullEmpty", "metadata__a__isnull", "", "isnull takes true or false"},
		{"NotMetadata", "name", "x", "must start with metadata__"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMetadataLookup(tt.param, tt.value)
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID {
				t.Fatalf("error = %v, want an EINVALID *Error", err)
			}
			msgs := e.Fields[tt.param]
			if len(msgs) != 1 || !strings.Contains(msgs[0], tt.message) {
				t.Errorf("Fields = %v, want one message under %q containing %q", e.Fields, tt.param, tt.message)
			}
		})
	}
	t.Run("UnsupportedNamesTheSupported", func(t *testing.T) {
		_, err := ParseMetadataLookup("metadata__a__regex", "x")
		for _, op := range MetadataOps {
			if !strings.Contains(err.Error(), string(op)) {
				t.Errorf("message %q does not name %s", err, op)
			}
		}
	})
}

func TestIsMetadataNumber(t *testing.T) {
	for _, s := range []string{"0", "5", "-5", "+5", "05", "5.", ".5", "-.5", "1e3", "1E+3", "2.5e-3", "12345678901234567890"} {
		if !IsMetadataNumber(s) {
			t.Errorf("IsMetadataNumber(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "-", ".", "e3", "1e", "1e+", "0x10", "NaN", "Inf", "-Infinity", "1_000", " 5", "5 ", "1.2.3", "1e3.5", "--1", "true"} {
		if IsMetadataNumber(s) {
			t.Errorf("IsMetadataNumber(%q) = true, want false", s)
		}
	}
}

// FuzzParseMetadataLookup checks that no parameter makes the parser panic,
// that what it accepts is well formed and reads back the same when written
// out again, and that what it refuses is an EINVALID error naming the
// parameter.
func FuzzParseMetadataLookup(f *testing.F) {
	f.Add("metadata__subject__age__gte", "5")
	f.Add("metadata__a__in", "x,y")
	f.Fuzz(func(t *testing.T, param, value string) {
		l, err := ParseMetadataLookup(param, value)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID || len(e.Fields[param]) != 1 || e.Fields[param][0] == "" {
				t.Fatalf("ParseMetadataLookup(%q, %q) error = %#v, want EINVALID with one message for the parameter", param, value, err)
			}
			return
		}
		if l.Param != param || l.Value != value {
			t.Fatalf("Param, Value = %q, %q; want %q, %q", l.Param, l.Value, param, value)
		}
		if len(l.Path) == 0 || slices.Contains(l.Path, "") {
			t.Fatalf("ParseMetadataLookup(%q) path %q has an empty key", param, l.Path)
		}
		if !slices.Contains(MetadataOps, l.Op) {
			t.Fatalf("ParseMetadataLookup(%q) op %q is not supported", param, l.Op)
		}
		if l.Op == MetadataIn && strings.Join(l.Values, ",") != value {
			t.Fatalf("in values %q do not join back to %q", l.Values, value)
		}
		for _, k := range l.Path {
			if strings.HasSuffix(k, "_") {
				// "a_" then "__" reads back as "a", "_...": the syntax
				// cannot write such a path out, so there is nothing to
				// compare.
				return
			}
		}
		again := MetadataParamPrefix + strings.Join(l.Path, "__") + "__" + string(l.Op)
		l2, err := ParseMetadataLookup(again, value)
		if err != nil {
			t.Fatalf("ParseMetadataLookup(%q) (written out from %q): %v", again, param, err)
		}
		l2.Param = param
		if diff := cmp.Diff(l, l2); diff != "" {
			t.Fatalf("%q and %q parse differently (-first +second):\n%s", param, again, diff)
		}
	})
}
