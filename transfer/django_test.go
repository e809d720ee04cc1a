package transfer

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

// The fixtures are whole-site dumps of a django-neurobank, as
// "manage.py dumpdata" writes them: plain (pks everywhere) and with
// --natural-foreign --natural-primary. Both hold the same registry.
var djangoFixtures = []string{"../testdata/django/dumpdata.json", "../testdata/django/dumpdata-natural.json"}

func TestImportDjango(t *testing.T) {
	var exports [][]byte
	for _, path := range djangoFixtures {
		t.Run(strings.TrimSuffix(path[strings.LastIndex(path, "/")+1:], ".json"), func(t *testing.T) {
			s := mustOpenStore(t)
			s.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
			summary := importFile(t, s, path)
			want := ImportSummary{Format: "Django dumpdata", DataTypes: 4, Archives: 4, Users: 5, Resources: 6, Locations: 9, LocationKeys: 1,
				Skipped: map[string]int{"admin.logentry": 1, "sessions.session": 1},
				Notes:   []string{"users inactive in Django were imported with password sign-in turned off (nbreg passwd turns it on): former"}}
			if diff := cmp.Diff(want, *summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			ctx := t.Context()

			roles := map[string]registry.Role{}
			users, err := s.ListUsers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				roles[u.Username] = u.Role
			}
			wantRoles := map[string]registry.Role{"dmeliza": registry.RoleAdmin, "margot": registry.RoleEditor,
				"casey": registry.RoleEditor, "guest": registry.RoleViewer, "former": registry.RoleEditor}
			if diff := cmp.Diff(wantRoles, roles); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			for username, password := range map[string]string{"dmeliza": "tuning-fork-42", "margot": "starling song", "guest": "just-looking"} {
				u, err := s.FindUser(ctx, username)
				if err != nil || !registry.CheckPassword(u.PasswordHash, password) {
					t.Errorf("%s's Django password does not verify: %v", username, err)
				}
			}
			if u, err := s.FindUser(ctx, "former"); err != nil || u.PasswordHash != "" {
				t.Errorf("inactive user former: %+v, %v; want password sign-in off", u, err)
			}
			if u, err := s.FindUser(ctx, "margot"); err != nil || !u.CreatedOn.Equal(time.Date(2018, 5, 11, 11, 41, 20, 512000000, time.UTC)) {
				t.Errorf("margot joined %v (%v), want Django's date_joined", u.CreatedOn, err)
			}
			if u, err := s.FindUserByToken(ctx, registry.TokenHash("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")); err != nil || u.Username != "margot" {
				t.Errorf("Django REST framework token: %v, %v; want margot's", u, err)
			}

			r, err := s.FindResource(ctx, "st1010_song_3")
			if err != nil {
				t.Fatal(err)
			}
			if r.SHA1 != "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3" || r.CreatedBy != "margot" ||
				!r.CreatedOn.Equal(time.Date(2019, 3, 2, 10, 0, 0, 0, time.UTC)) || !cmp.Equal(r.Locations, []string{"cluster", "local"}) {
				t.Errorf("st1010_song_3 = %+v", r)
			}
			d, err := s.FindDataType(ctx, "acoustic_waveform")
			if err != nil || *d != (registry.DataType{Name: "acoustic_waveform"}) {
				t.Errorf("datatype from before extension and downloadable = %+v, %v", d, err)
			}
			a, err := s.FindArchive(ctx, "tape-2019")
			if err != nil || a.Accessibility != registry.Local {
				t.Errorf("archive from before accessibility = %+v, %v", a, err)
			}
			if n, _ := s.CountHistory(ctx, "heengei8"); n != 0 {
				t.Errorf("imported resource has %d history entries; Django kept none", n)
			}
			exports = append(exports, export(t, s))
		})
	}
	// The same dump loaded in bulk (as large dumps are) gives the same
	// registry.
	for i, path := range djangoFixtures {
		s := mustOpenStore(t)
		s.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
		s.BulkLoadFrom = 1
		importFile(t, s, path)
		if s.BulkLoads() != 1 {
			t.Errorf("%s was not loaded in bulk", path)
		}
		if i < len(exports) && !bytes.Equal(exports[i], export(t, s)) {
			t.Errorf("%s loaded in bulk exports differently from row by row", path)
		}
	}
	if len(exports) == 2 {
		if diff := cmp.Diff(exportRecords(t, exports[0]), exportRecords(t, exports[1])); diff != "" {
			t.Errorf("plain and natural-key dumps give different registries (-plain +natural):\n%s", diff)
		}
	}
}

func TestImportDjangoErrorsNameTheRecord(t *testing.T) {
	plain, err := os.ReadFile(djangoFixtures[0])
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ old, new, want string }{
		"UnknownDataType":  {`"dtype": 2,`, `"dtype": 99,`, "nbank_registry.resource 12 (st1010_song_3): dtype: refers to datatype 99"},
		"UnknownCreator":   {`"created_by": 7,`, `"created_by": 70,`, "nbank_registry.resource 15 (notes_2020-02): created_by: refers to user 70"},
		"LongSHA1":         {`"sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"`, `"sha1": "da39a3ee5e6b4b0d3255bfef95601890afd807090"`, "nbank_registry.resource 11 (heengei8): sha1: Ensure this field has no more than 40 characters."},
		"BadTime":          {`"created_on": "2019-03-02T10:00:00Z"`, `"created_on": "March 2nd"`, "nbank_registry.resource"},
		"DuplicateSHA1":    {`"sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"`, `"sha1": "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"`, "nbank_registry.resource 14 (zx8k2m4q): sha1: resource with this sha1 already exists."},
		"BadAccessibility": {`"accessibility": 2`, `"accessibility": 7`, "nbank_registry.archive 4 (cold-storage)"},
		"CutOff":           {`"sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"`, ``, "of the Django dump is not valid JSON"},
		"BadEnd":           {"}\n]", "}\n}", "the Django dump does not end its list"},
		"RepeatedPK":       {"\"nbank_registry.resource\",\n    \"pk\": 12,", "\"nbank_registry.resource\",\n    \"pk\": 11,", "(nbank_registry.resource 11): another resource of the dump has this pk"},
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(plain, []byte(tc.old)) {
				t.Fatalf("fixture lacks %s", tc.old)
			}
			broken := bytes.Replace(plain, []byte(tc.old), []byte(tc.new), 1)
			if tc.new == "" {
				broken = plain[:bytes.Index(plain, []byte(tc.old))] // the dump cut off there
			}
			for _, bulk := range []bool{false, true} {
				s := mustOpenStore(t)
				if bulk {
					s.BulkLoadFrom = 1
				}
				_, err := Import(t.Context(), s, bytes.NewReader(broken), nil)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error (bulk load %t) = %v, want one containing %q", bulk, err, tc.want)
				}
				wantEmpty(t, s)
			}
		})
	}
}

// TestDjangoRefCanonical checks that a reference is kept in one canonical
// form whatever way the dump writes it, so that equal references compare
// equal, and that the shortcut for integer pks agrees with the general way.
func TestDjangoRefCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`11`, `11`},
		{`0`, `0`},
		{`-3`, `-3`},
		{`"x8ph3m"`, `"x8ph3m"`},
		{`["dmeliza"]`, `["dmeliza"]`},
		{`[ "add_resource", "nbank_registry", "resource" ]`, `["add_resource","nbank_registry","resource"]`},
		{`1.0`, `1.0`},
	} {
		var v struct{ Ref djangoRef }
		if err := json.Unmarshal([]byte(`{"Ref": `+tc.in+`}`), &v); err != nil || string(v.Ref) != tc.want {
			t.Errorf("ref %s = %s (%v), want %s", tc.in, v.Ref, err, tc.want)
		}
	}
	// What json.Marshal would write differently is left to the general way.
	for in, want := range map[string]bool{`12`: true, `-12`: true, `0`: true, `011`: false, `-`: false, ``: false, `1.5`: false, `1e3`: false} {
		if got := isPlainInteger([]byte(in)); got != want {
			t.Errorf("isPlainInteger(%q) = %t, want %t", in, got, want)
		}
	}
}
