package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func TestIsSlug(t *testing.T) {
	for _, s := range []string{"a", "st32_1_2_1", "heengei8", "A-b_C", "0"} {
		if !registry.IsSlug(s) {
			t.Errorf("IsSlug(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "a b", "a/b", "a.b", "~x", "é", "a\x00", "..", "a%2F"} {
		if registry.IsSlug(s) {
			t.Errorf("IsSlug(%q) = true, want false", s)
		}
	}
}

func TestMintName(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		n := registry.MintName(8)
		if len(n) != 8 || strings.Trim(n, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("MintName(8) = %q, want 8 lowercase base-36 characters", n)
		}
		if seen[n] {
			t.Fatalf("MintName repeated %q within 1000 draws", n)
		}
		seen[n] = true
	}
	if n := registry.MintName(12); len(n) != 12 {
		t.Errorf("MintName(12) has length %d", len(n))
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ name, ext, want string }{
		{"heengei8", "pprox", "heengei8.pprox"},
		{"heengei8", ".pprox", "heengei8.pprox"},
		{"heengei8", "", "heengei8"},
		{"st32.wav", "pprox", "st32.wav"},
	} {
		if got := registry.FileName(tc.name, tc.ext); got != tc.want {
			t.Errorf("FileName(%q, %q) = %q, want %q", tc.name, tc.ext, got, tc.want)
		}
	}
}

func fields(err error) map[string][]string {
	if err == nil {
		return nil
	}
	return err.(*registry.Error).Fields
}

func TestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	t.Run("DataType", func(t *testing.T) {
		d := registry.DataType{Name: "bad name", ContentType: long(129), Extension: long(9)}
		want := map[string][]string{
			"name":         {registry.MsgSlug},
			"content_type": {"Ensure this field has no more than 128 characters."},
			"extension":    {"Ensure this field has no more than 8 characters."},
		}
		if diff := cmp.Diff(want, fields(d.Validate())); diff != "" {
			t.Error(diff)
		}
		ok := registry.DataType{Name: "spike_times", ContentType: "application/json", Extension: ".pprox"}
		ok.Normalize()
		if err := ok.Validate(); err != nil || ok.Extension != "pprox" {
			t.Errorf("valid datatype: err %v, extension %q", err, ok.Extension)
		}
	})
	t.Run("Archive", func(t *testing.T) {
		a := registry.Archive{Name: long(33), Root: long(513), Accessibility: 7}
		want := map[string][]string{
			"name":          {"Ensure this field has no more than 32 characters."},
			"scheme":        {registry.MsgBlank},
			"root":          {"Ensure this field has no more than 512 characters."},
			"accessibility": {`"7" is not a valid choice.`},
		}
		if diff := cmp.Diff(want, fields(a.Validate())); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("Resource", func(t *testing.T) {
		r := registry.Resource{Name: "a/b", SHA1: "abc"}
		want := map[string][]string{
			"name":  {registry.MsgSlug},
			"sha1":  {registry.MsgSHA1},
			"dtype": {registry.MsgRequired},
		}
		if diff := cmp.Diff(want, fields(r.Validate())); diff != "" {
			t.Error(diff)
		}
		ok := registry.Resource{DType: "wav", SHA1: strings.ToUpper("da39a3ee5e6b4b0d3255bfef95601890afd80709")}
		ok.Normalize()
		if err := ok.Validate(); err != nil || ok.SHA1 != "da39a3ee5e6b4b0d3255bfef95601890afd80709" {
			t.Errorf("valid resource: err %v, sha1 %q", err, ok.SHA1)
		}
		if err := (&registry.Resource{Name: long(256), DType: "x"}).Validate(); err == nil {
			t.Error("a 256-character name was accepted")
		}
	})
}

func TestParseAccessibility(t *testing.T) {
	for in, want := range map[string]registry.Accessibility{
		"local": registry.Local, "REMOTE": registry.Remote, "Offline": registry.Offline,
		"0": registry.Local, "1": registry.Remote, "2": registry.Offline,
	} {
		got, err := registry.ParseAccessibility(in)
		if err != nil || got != want {
			t.Errorf("ParseAccessibility(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "3", "nearby", "-1"} {
		if _, err := registry.ParseAccessibility(in); registry.ErrorCode(err) != registry.EINVALID {
			t.Errorf("ParseAccessibility(%q) error code %q, want invalid", in, registry.ErrorCode(err))
		}
	}
}

func TestProblems(t *testing.T) {
	p := registry.Problems{}
	if p.Err() != nil {
		t.Fatal("empty Problems gave an error")
	}
	p.Add("name", registry.MsgRequired)
	if err := p.Merge(registry.FieldError(registry.ECONFLICT, "sha1", registry.MsgSHA1Exists)); err != nil {
		t.Fatalf("Merge returned %v", err)
	}
	err := p.Err()
	if registry.ErrorCode(err) != registry.EINVALID {
		t.Errorf("code %q, want invalid", registry.ErrorCode(err))
	}
	if got, want := registry.ErrorMessage(err), "name: This field is required.; sha1: resource with this sha1 already exists."; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if got := registry.ErrorMessage(errPlain{}); got != "Internal error." {
		t.Errorf("a non-domain error leaked its text: %q", got)
	}
}

type errPlain struct{}

func (errPlain) Error() string { return "sql: secret detail" }
