package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
	"nbreg/transfer"
)

// The edge-case fixtures are dumps of a django-neurobank 0.10 site (with
// 0.11's location keys) holding every kind of value its models allowed:
// metadata of every JSON type, names and fields at their longest, Unicode
// in every free-text field, sha1s in upper and mixed case, blank and not
// hex (typed in the admin pages), users with every default Django
// password hasher, an unusable password, an inactive creator, Unicode
// usernames. edge-cases-served.json is what that site answered, recorded
// from it.
const edgeCasesServed = "../testdata/django/edge-cases-served.json"

var edgeCaseFixtures = []string{"../testdata/django/edge-cases.json", "../testdata/django/edge-cases-natural.json"}

// djangoAnswers is edge-cases-served.json.
type djangoAnswers struct {
	Resources     map[string]map[string]any `json:"resources"`
	Locations     map[string][]any          `json:"locations"`
	List          []map[string]any          `json:"list"`
	DataTypes     []map[string]any          `json:"datatypes"`
	Archives      []any                     `json:"archives"`
	BulkResources []map[string]any          `json:"bulk_resources"`
	BulkLocations []map[string]any          `json:"bulk_locations"`
}

// decodeNumbers parses JSON keeping numbers as written, so that 3.0 and
// 3 differ as they did on the wire.
func decodeNumbers(tb testing.TB, b []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("not JSON: %v: %s", err, b)
	}
}

// asNbreg is what nbreg serves for a record django-neurobank served as r,
// by the differences nbreg makes on purpose: a sha1 in lower case and
// none for a blank one (django-neurobank 0.11 lowered them too), and the
// creation time as a dump keeps it (to the millisecond) written with six
// digits, as every nbreg time is.
func asNbreg(r map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range r {
		out[k] = v
	}
	if sha1, ok := r["sha1"].(string); ok {
		out["sha1"] = strings.ToLower(sha1)
		if sha1 == "" {
			out["sha1"] = nil
		}
	}
	if on, ok := r["created_on"].(string); ok {
		t, err := time.Parse(time.RFC3339Nano, on)
		if err != nil {
			panic(err)
		}
		out["created_on"] = t.Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000000Z")
	}
	return out
}

func TestDjangoEdgeCasesServedAsDjangoServedThem(t *testing.T) {
	raw, err := os.ReadFile(edgeCasesServed)
	if err != nil {
		t.Fatal(err)
	}
	var django djangoAnswers
	decodeNumbers(t, raw, &django)
	var names []string
	for _, r := range django.List {
		names = append(names, r["name"].(string))
	}

	var exports [][]byte
	for _, fixture := range edgeCaseFixtures {
		t.Run(strings.TrimPrefix(fixture, "../testdata/django/"), func(t *testing.T) {
			ts := MustOpenServer(t)
			f, err := os.Open(fixture)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			summary, err := transfer.Import(t.Context(), ts.Store, f, nil)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if summary.Resources != 21 || summary.Users != 8 || summary.LocationKeys != 2 {
				t.Errorf("summary %+v, want 21 resources, 8 users, 2 location keys", summary)
			}
			var export bytes.Buffer
			if _, err := transfer.Export(t.Context(), ts.Store, &export, nil); err != nil {
				t.Fatal(err)
			}
			exports = append(exports, export.Bytes())
			get := func(path string, v any) {
				t.Helper()
				w := ts.Do(t, req{method: http.MethodGet, path: path, header: http.Header{"Accept": {"application/json"}}})
				if w.Code != http.StatusOK {
					t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
				}
				decodeNumbers(t, w.Body.Bytes(), v)
			}

			t.Run("Resources", func(t *testing.T) {
				for _, name := range names {
					var got map[string]any
					get("resources/"+name+"/", &got)
					if diff := cmp.Diff(asNbreg(django.Resources[name]), got); diff != "" {
						t.Errorf("resources/%s/ (-django +nbreg):\n%s", name, diff)
					}
				}
			})
			t.Run("List", func(t *testing.T) {
				var want, got []map[string]any
				for _, r := range django.List {
					want = append(want, asNbreg(r))
				}
				get("resources/", &got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("resources/ (-django +nbreg):\n%s", diff)
				}
			})
			t.Run("DataTypes", func(t *testing.T) {
				// django-neurobank 0.10 did not show downloadable.
				var got []map[string]any
				get("datatypes/", &got)
				for _, d := range got {
					if d["downloadable"] != (d["name"] == "wav") {
						t.Errorf("datatype %s downloadable %v", d["name"], d["downloadable"])
					}
					delete(d, "downloadable")
				}
				if diff := cmp.Diff(django.DataTypes, got); diff != "" {
					t.Errorf("datatypes/ (-django +nbreg):\n%s", diff)
				}
			})
			t.Run("Archives", func(t *testing.T) {
				var got []any
				get("archives/", &got)
				if diff := cmp.Diff(django.Archives, got); diff != "" {
					t.Errorf("archives/ (-django +nbreg):\n%s", diff)
				}
			})
			t.Run("Locations", func(t *testing.T) {
				for _, name := range names {
					var got []map[string]any
					get("resources/"+name+"/locations/", &got)
					want := djangoLocations(t, django, name)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("resources/%s/locations/ (-django +nbreg):\n%s", name, diff)
					}
				}
			})
			t.Run("Bulk", func(t *testing.T) {
				// django-neurobank answered in its own order (newest first);
				// nbreg answers in the order of the names asked for.
				byName := func(rs []map[string]any) map[string]map[string]any {
					m := map[string]map[string]any{}
					for _, r := range rs {
						m[r["name"].(string)] = r
					}
					return m
				}
				for _, endpoint := range []string{"bulk/resources/", "bulk/locations/"} {
					w := ts.Do(t, req{method: http.MethodPost, path: endpoint, body: map[string]any{"names": names}})
					var got []map[string]any
					for _, line := range bytes.Split(bytes.TrimSpace(w.Body.Bytes()), []byte("\n")) {
						var r map[string]any
						decodeNumbers(t, line, &r)
						got = append(got, r)
					}
					want := map[string]map[string]any{}
					if endpoint == "bulk/resources/" {
						for name, r := range byName(django.BulkResources) {
							want[name] = asNbreg(r)
						}
					} else {
						for name, r := range byName(django.BulkLocations) {
							r = asNbreg(r)
							var locs []any
							for _, l := range djangoLocations(t, django, name) {
								locs = append(locs, l)
							}
							r["locations"] = locs
							want[name] = r
						}
					}
					if diff := cmp.Diff(want, byName(got)); diff != "" {
						t.Errorf("%s (-django +nbreg):\n%s", endpoint, diff)
					}
				}
			})
			t.Run("Pages", func(t *testing.T) {
				// Metadata that is not an object is shown whole, on the
				// resource's page and in the list.
				for path, want := range map[string]string{
					"resources/meta-list/":   "<pre><code>[\n  1,\n  &#34;two&#34;,",
					"resources/meta-string/": `&#34;a plain string note&#34;`,
					"resources/":             `<td class="opt meta">[1,&#34;two&#34;,{&#34;three&#34;:3.0},null,[true]]</td>`,
				} {
					w := ts.Do(t, req{method: http.MethodGet, path: path, header: browser(nil)})
					if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
						t.Errorf("GET %s: %d; page lacks %s", path, w.Code, want)
					}
				}
			})
			t.Run("SignIn", func(t *testing.T) { checkEdgeCaseUsers(t, ts) })
			t.Run("NonObjectMetadata", func(t *testing.T) { checkNonObjectMetadata(t, ts) })

		})
	}
	t.Run("ExportImportsAgain", func(t *testing.T) {
		if len(exports) != 2 {
			t.Skip("an import failed")
		}
		// The servers' own users have the same hashes and creation times
		// (helpers_test.go), so both dumps make the same registry.
		if !bytes.Equal(exports[0], exports[1]) {
			t.Errorf("the plain and natural-key dumps export differently:\n%s", cmp.Diff(string(exports[0]), string(exports[1])))
		}
		s := MustOpenStore(t)
		if _, err := transfer.Import(t.Context(), s, bytes.NewReader(exports[0]), nil); err != nil {
			t.Fatalf("Import of the export: %v", err)
		}
		var again bytes.Buffer
		if _, err := transfer.Export(t.Context(), s, &again, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(exports[0], again.Bytes()) {
			t.Errorf("export of the re-imported export differs:\n%s", cmp.Diff(string(exports[0]), again.String()))
		}
	})
}

// registryRoot is the host and API root in the virtual location of a
// downloadable resource; the recording site answered as "testserver".
var registryRoot = regexp.MustCompile(`^testserver/neurobank/`)

// djangoLocations is what nbreg answers for the locations of resource
// name, from what django-neurobank answered: in order of accessibility
// then archive name (django-neurobank 0.10 listed them newest first; the
// protocol since orders them), with their keys, and nbreg's host in the
// registry's own location.
func djangoLocations(tb testing.TB, django djangoAnswers, name string) []map[string]any {
	tb.Helper()
	accessibility := map[string]string{}
	for _, a := range django.Archives {
		a := a.(map[string]any)
		accessibility[a["name"].(string)] = a["accessibility"].(string)
	}
	rank := map[string]int{"local": 0, "remote": 1, "offline": 2}
	keys := map[string]string{"abcdefghijklmnopqrstuvwxyz_01234": "a/b/c.tar.gz", "tape-1": "FILE0001"}
	held, virtual := []map[string]any{}, []map[string]any{}
	for _, l := range django.Locations[name] {
		l := copyObject(l)
		if l["archive_name"] == "registry" {
			l["root"] = registryRoot.ReplaceAllString(l["root"].(string), "example.org/neurobank/")
			virtual = append(virtual, l)
			continue
		}
		if key, ok := keys[l["archive_name"].(string)]; ok && name == "meta-odd-keys" {
			l["key"] = key
		}
		held = append(held, l)
	}
	slices.SortFunc(held, func(a, b map[string]any) int {
		x, y := a["archive_name"].(string), b["archive_name"].(string)
		if d := rank[accessibility[x]] - rank[accessibility[y]]; d != 0 {
			return d
		}
		return strings.Compare(x, y)
	})
	return append(held, virtual...)
}

// copyObject copies a decoded JSON object.
func copyObject(v any) map[string]any {
	out := map[string]any{}
	for k, x := range v.(map[string]any) {
		out[k] = x
	}
	return out
}

// checkEdgeCaseUsers signs in as each user of the edge-case site with the
// password they had there.
func checkEdgeCaseUsers(t *testing.T, ts *TestServer) {
	for _, tc := range []struct {
		username, password string
		status             int
		detail             string // the whole body, when refused
	}{
		{"dmeliza", "tuning-fork-42", http.StatusCreated, ""},                           // pbkdf2_sha256, 1,000,000 iterations
		{"margot", "starling song", http.StatusCreated, ""},                             // pbkdf2_sha1
		{"ana.lópez", "contraseña segura", http.StatusCreated, ""},                      // argon2id
		{"j.doe+lab@uni-x.edu", "p@ss w0rd!", http.StatusCreated, ""},                   // bcrypt_sha256
		{"argon-legacy", "secret", http.StatusCreated, ""},                              // argon2i
		{"scrypt_user", "correct horse battery", http.StatusForbidden, msgNotPermitted}, // scrypt; a reader
		{"scrypt_user", "wrong horse battery", http.StatusForbidden, msgBadCredentials},
		{"former_student", "old password", http.StatusForbidden, msgBadCredentials}, // inactive in Django
		{"svc-robot", "!Xq7vT2mN9pL4kR8sW1zY6bC3dF5gH0jJ2aE4uI6o", http.StatusForbidden, msgBadCredentials},
	} {
		body := map[string]any{"dtype": "wav"}
		w := ts.Do(t, req{method: http.MethodPost, path: "resources/", body: body,
			header: http.Header{"Authorization": {basicAuth(tc.username, tc.password)}}})
		if w.Code != tc.status {
			t.Errorf("%s signing in with %q: %d %s, want %d", tc.username, tc.password, w.Code, w.Body, tc.status)
		} else if tc.detail != "" {
			checkJSON(t, w, tc.status, tc.detail)
		}
	}
	// The unusable password's owner still has a Django REST framework token.
	ts.MustDo(t, req{method: http.MethodPost, path: "resources/", body: map[string]any{"dtype": "wav"},
		header: http.Header{"Authorization": {"Token 0123456789abcdef0123456789abcdef01234567"}}}, http.StatusCreated)
	users, err := ts.Store.ListUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if (u.Username == "svc-robot" || u.Username == "former_student") != (u.PasswordHash == "") {
			t.Errorf("user %s has password hash %q", u.Username, u.PasswordHash)
		}
		if u.Username == "svc-robot" && u.Role != registry.RoleEditor {
			t.Errorf("svc-robot is %s, want editor (its group)", u.Role)
		}
	}
}

// checkNonObjectMetadata checks what the API does with the metadata that
// is not an object: no search finds it by a key, a write cannot make one,
// and a PATCH with an object replaces it, the history keeping the old.
func checkNonObjectMetadata(t *testing.T, ts *TestServer) {
	nonObjects := []string{"meta-false", "meta-float", "meta-list", "meta-number", "meta-string", "meta-true", "via-api-list", "via-api-string"}
	list := func(query string) []string {
		var got []map[string]any
		w := ts.Get(t, "resources/?page_size=1000&"+query)
		decodeNumbers(t, w.Body.Bytes(), &got)
		var out []string
		for _, r := range got {
			out = append(out, r["name"].(string))
		}
		return out
	}
	// They have no keys: absent from every key, never present.
	isnull := list("metadata__x__isnull=true")
	for _, name := range nonObjects {
		if !slices.Contains(isnull, name) {
			t.Errorf("%s not among resources without key x", name)
		}
	}
	for _, q := range []string{"metadata__0=1", "metadata__x__isnull=false", "metadata__three=3", "metadata__x__icontains=string"} {
		for _, name := range list(q) {
			if slices.Contains(nonObjects, name) {
				t.Errorf("?%s matched %s, whose metadata is not an object", q, name)
			}
		}
	}

	w := ts.Do(t, req{method: http.MethodPatch, path: "resources/meta-string/", user: editorUser, body: map[string]any{"metadata": "another string"}})
	checkJSON(t, w, http.StatusBadRequest, `{"metadata": ["Expected a dictionary of items but got type \"str\"."]}`)

	w = ts.Do(t, req{method: http.MethodPatch, path: "resources/meta-list/", user: editorUser,
		body: map[string]any{"metadata": map[string]any{"kept": "yes", "dropped": nil}}})
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH metadata of meta-list: %d %s", w.Code, w.Body)
	}
	var got map[string]any
	get := ts.Get(t, "resources/meta-list/")
	decodeNumbers(t, get.Body.Bytes(), &got)
	if diff := cmp.Diff(map[string]any{"kept": "yes"}, got["metadata"]); diff != "" {
		t.Errorf("metadata after PATCH (-want +got):\n%s", diff)
	}
	if found := list("metadata__kept=yes"); !slices.Contains(found, "meta-list") {
		t.Errorf("metadata__kept=yes found %v, want meta-list among them", found)
	}
	var history []map[string]any
	decodeNumbers(t, ts.Get(t, "resources/meta-list/history/").Body.Bytes(), &history)
	if len(history) == 0 {
		t.Fatal("no history after the PATCH")
	}
	change := history[0]
	want := map[string]any{"action": "update", "field": "metadata",
		"old": []any{json.Number("1"), "two", map[string]any{"three": json.Number("3.0")}, nil, []any{true}},
		"new": map[string]any{"kept": "yes"}}
	for k, v := range want {
		if diff := cmp.Diff(v, change[k]); diff != "" {
			t.Errorf("history %s (-want +got):\n%s", k, diff)
		}
	}

	// A deletion keeps the last state, metadata verbatim.
	ts.MustDo(t, req{method: http.MethodDelete, path: "resources/meta-float/", user: adminUser}, http.StatusNoContent)
	history = nil
	decodeNumbers(t, ts.Get(t, "resources/meta-float/history/").Body.Bytes(), &history)
	if len(history) == 0 || history[0]["action"] != "delete" {
		t.Fatalf("history of the deleted meta-float: %v", history)
	}
	if md := history[0]["old"].(map[string]any)["metadata"]; md != json.Number("-2.5e-07") {
		t.Errorf("deleted metadata in history = %#v, want -2.5e-07 as written", md)
	}
}
