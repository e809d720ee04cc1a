package httpapi_test

// These tests replay, request by request, what the nbank command-line client
// (neurobank 0.11.1, on httpx 0.23) sends for each command of CLIENT.md §3,
// over a real connection, and check what the client needs back.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
	"nbreg/registry"
)

// nbank speaks to a registry as the nbank client does.
type nbank struct {
	t      *testing.T
	base   string // the registry URL, ending in the API root
	client *http.Client
	// auth is "user:password" as given by -a or found in ~/.netrc; empty
	// for commands that send no credentials.
	auth string
}

// newNbank starts a real HTTP server over ts and returns a client for it.
func newNbank(t *testing.T, ts *TestServer) *nbank {
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return &nbank{
		t:    t,
		base: srv.URL + "/neurobank/",
		// httpx does not follow redirects by default.
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// as returns the client sending the given credentials ("" for none).
func (c *nbank) as(auth string) *nbank {
	cp := *c
	cp.auth = auth
	return &cp
}

// query encodes params as httpx 0.23 does: in the order given, form
// encoded, space as "+", "/" as "%2F".
func query(params ...string) string {
	var parts []string
	for i := 0; i+1 < len(params); i += 2 {
		parts = append(parts, url.QueryEscape(params[i])+"="+url.QueryEscape(params[i+1]))
	}
	return strings.Join(parts, "&")
}

// answer is a response as the client sees it.
type answer struct {
	status int
	header http.Header
	body   string
}

// json parses the body whatever its Content-Type, as the client does.
func (a answer) json(t *testing.T) any {
	t.Helper()
	return decode(t, a.body)
}

// jsonLines parses a bulk answer.
func (a answer) jsonLines(t *testing.T) []any {
	t.Helper()
	return lines(t, a.body)
}

// send makes one request with the headers httpx sends. url is absolute or
// relative to the base.
func (c *nbank) send(method, target, accept string, body any) answer {
	c.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = c.base + target
	}
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		reader = bytes.NewReader(raw)
	}
	r, err := http.NewRequest(method, target, reader)
	if err != nil {
		c.t.Fatal(err)
	}
	r.Header.Set("Accept", accept)
	r.Header.Set("Accept-Encoding", "gzip, deflate")
	r.Header.Set("Connection", "keep-alive")
	r.Header.Set("User-Agent", "python-httpx/0.23.3")
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.auth)))
	}
	resp, err := c.client.Do(r)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// get is a GET of the client's query helpers.
func (c *nbank) get(path string, params ...string) answer {
	c.t.Helper()
	if q := query(params...); q != "" {
		path += "?" + q
	}
	return c.send("GET", path, "application/json", nil)
}

// write is a POST, PATCH or DELETE other than modify's, sent with Accept */*.
func (c *nbank) write(method, path string, body any) answer {
	c.t.Helper()
	return c.send(method, path, "*/*", body)
}

// getAll follows Link rel="next" verbatim, as the client's list helper
// does, and returns every item.
func (c *nbank) getAll(path string, params ...string) []any {
	c.t.Helper()
	var items []any
	a := c.get(path, params...)
	for i := 0; ; i++ {
		if a.status != http.StatusOK {
			c.t.Fatalf("GET %s: status %d %s", path, a.status, a.body)
		}
		list, ok := a.json(c.t).([]any)
		if !ok {
			c.t.Fatalf("GET %s: not a bare list: %s", path, a.body)
		}
		items = append(items, list...)
		next := nextLink(a.header.Get("Link"))
		if next == "" || i > 100 {
			return items
		}
		a = c.send("GET", next, "application/json", nil)
	}
}

var nextLinkPattern = regexp.MustCompile(`<([^>]*)>;\s*rel="next"`)

// nextLink is the URL of rel="next" in a Link header, or "".
func nextLink(header string) string {
	m := nextLinkPattern.FindStringSubmatch(header)
	if m == nil {
		return ""
	}
	return m[1]
}

// wantStatus fails unless a has status.
func wantStatus(t *testing.T, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, a.status, status, a.body)
	}
}

// wantFieldErrors fails unless a is a 400 whose body maps field to a list
// of strings, as the client prints them.
func wantFieldErrors(t *testing.T, what string, a answer, field string) {
	t.Helper()
	wantStatus(t, what, a, http.StatusBadRequest)
	body, ok := a.json(t).(map[string]any)
	if !ok {
		t.Fatalf("%s: body is not an object: %s", what, a.body)
	}
	for k, v := range body {
		msgs, ok := v.([]any)
		if !ok || len(msgs) == 0 {
			t.Errorf("%s: %s is not a list of messages: %v", what, k, v)
		}
		for _, m := range msgs {
			if _, ok := m.(string); !ok {
				t.Errorf("%s: %s holds a non-string %v", what, k, m)
			}
		}
	}
	if _, ok := body[field]; !ok {
		t.Errorf("%s: no messages for %q: %s", what, field, a.body)
	}
}

// wantRefusal fails unless a is a 403 with a JSON object {"detail": detail}.
func wantRefusal(t *testing.T, what string, a answer, detail string) {
	t.Helper()
	wantStatus(t, what, a, http.StatusForbidden)
	if diff := cmp.Diff(map[string]any{"detail": detail}, a.json(t)); diff != "" {
		t.Errorf("%s: body (-want +got):\n%s", what, diff)
	}
}

func TestNbankClient(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t, func(c *httpapi.Config) { c.PageSize = 2 })
	anon := newNbank(t, ts)
	editor := anon.as(editorUser + ":" + passwordOf(editorUser))
	admin := anon.as(adminUser + ":" + passwordOf(adminUser))
	wrong := anon.as(editorUser + ":not-the-password")
	const archiveRoot = "/home/lab/archive"

	t.Run("RegistryInfo", func(t *testing.T) {
		for _, c := range []*nbank{anon, editor} {
			a := c.get("info/")
			wantStatus(t, "GET info/", a, http.StatusOK)
			if diff := cmp.Diff(map[string]any{"name": "nbreg", "version": testVersion, "api_version": "1.0"}, a.json(t)); diff != "" {
				t.Error(diff)
			}
		}
		wantRefusal(t, "GET info/ with a wrong password", wrong.get("info/"), "Invalid username/password.")
	})

	t.Run("DtypeAddAndList", func(t *testing.T) {
		a := editor.write("POST", "datatypes/", map[string]any{"name": "spike_times", "content_type": "application/vnd.meliza-org.pprox+json; version=1.0"})
		wantStatus(t, "dtype add", a, http.StatusCreated)
		got := a.json(t).(map[string]any)
		if got["name"] != "spike_times" || got["content_type"] != "application/vnd.meliza-org.pprox+json; version=1.0" {
			t.Errorf("dtype add: %v", got)
		}
		wantStatus(t, "dtype add wav", editor.write("POST", "datatypes/", map[string]any{"name": "wav", "content_type": "audio/wav"}), http.StatusCreated)
		wantFieldErrors(t, "dtype add twice", editor.write("POST", "datatypes/", map[string]any{"name": "wav", "content_type": "audio/wav"}), "name")
		wantRefusal(t, "dtype add anonymous", anon.write("POST", "datatypes/", map[string]any{"name": "x", "content_type": "y"}), "Authentication credentials were not provided.")
		wantRefusal(t, "dtype add wrong password", wrong.write("POST", "datatypes/", map[string]any{"name": "x", "content_type": "y"}), "Invalid username/password.")

		a = anon.get("datatypes/")
		wantStatus(t, "dtype list", a, http.StatusOK)
		var names []string
		for _, d := range a.json(t).([]any) {
			m := d.(map[string]any)
			if _, ok := m["content_type"]; !ok {
				t.Errorf("dtype list: no content_type in %v", m)
			}
			names = append(names, m["name"].(string))
		}
		if diff := cmp.Diff([]string{"spike_times", "wav"}, names); diff != "" {
			t.Error(diff)
		}
	})

	t.Run("Init", func(t *testing.T) {
		body := map[string]any{"name": "main", "scheme": "neurobank", "root": archiveRoot}
		wantRefusal(t, "init anonymous", anon.write("POST", "archives/", body), "Authentication credentials were not provided.")
		wantRefusal(t, "init wrong password", wrong.write("POST", "archives/", body), "Invalid username/password.")
		a := editor.write("POST", "archives/", body)
		wantStatus(t, "init", a, http.StatusCreated)
		if diff := cmp.Diff(map[string]any{"name": "main", "scheme": "neurobank", "root": archiveRoot, "accessibility": "local"}, a.json(t)); diff != "" {
			t.Error(diff)
		}
		wantFieldErrors(t, "init same name", editor.write("POST", "archives/", map[string]any{"name": "main", "scheme": "neurobank", "root": "/other"}), "name")
		wantFieldErrors(t, "init same root", editor.write("POST", "archives/", map[string]any{"name": "main2", "scheme": "neurobank", "root": archiveRoot}), "non_field_errors")
	})

	var autoName string
	t.Run("Deposit", func(t *testing.T) {
		// nbank finds the archive by its root, with credentials.
		a := editor.get("archives/", "scheme", "neurobank", "root", archiveRoot)
		wantStatus(t, "deposit archive lookup", a, http.StatusOK)
		found := a.json(t).([]any)
		if len(found) != 1 || found[0].(map[string]any)["name"] != "main" {
			t.Fatalf("deposit archive lookup: %v", found)
		}
		// -d spike_times -k experimenter=dmeliza -k n=3 -k ok=True -H
		a = editor.write("POST", "resources/", map[string]any{
			"name": "st001", "dtype": "spike_times", "sha1": sha1A, "locations": []string{"main"},
			"metadata": map[string]any{"experimenter": "dmeliza", "n": 3, "ok": true}})
		wantStatus(t, "deposit", a, http.StatusCreated)
		want := map[string]any{"name": "st001", "sha1": sha1A, "dtype": "spike_times", "filename": "st001",
			"metadata": map[string]any{"experimenter": "dmeliza", "n": 3.0, "ok": true}, "locations": []any{"main"},
			"created_by": editorUser, "created_on": "2024-12-18T00:41:14.439000Z"}
		if diff := cmp.Diff(want, a.json(t)); diff != "" {
			t.Errorf("deposit (-want +got):\n%s", diff)
		}
		// -A: no name, the registry picks one.
		a = editor.write("POST", "resources/", map[string]any{"dtype": "wav", "locations": []string{"main"}, "metadata": map[string]any{}})
		wantStatus(t, "deposit -A", a, http.StatusCreated)
		autoName = a.json(t).(map[string]any)["name"].(string)
		if !regexp.MustCompile(`^[0-9a-z]{8}$`).MatchString(autoName) {
			t.Errorf("deposit -A: name %q", autoName)
		}
		wantStatus(t, "deposit st002", editor.write("POST", "resources/", map[string]any{"name": "st002", "dtype": "spike_times", "locations": []string{"main"}}), http.StatusCreated)
		wantStatus(t, "deposit st003", editor.write("POST", "resources/", map[string]any{"name": "st003", "dtype": "spike_times", "locations": []string{"main"}}), http.StatusCreated)

		wantFieldErrors(t, "deposit name taken", editor.write("POST", "resources/", map[string]any{"name": "st001", "dtype": "spike_times", "locations": []string{"main"}}), "name")
		wantFieldErrors(t, "deposit sha1 taken", editor.write("POST", "resources/", map[string]any{"name": "st009", "dtype": "spike_times", "sha1": sha1A, "locations": []string{"main"}}), "sha1")
		wantFieldErrors(t, "deposit unknown dtype", editor.write("POST", "resources/", map[string]any{"name": "st009", "dtype": "nope", "locations": []string{"main"}}), "dtype")
		wantFieldErrors(t, "deposit no dtype", editor.write("POST", "resources/", map[string]any{"name": "st009", "locations": []string{"main"}}), "dtype")
		wantFieldErrors(t, "deposit unknown archive", editor.write("POST", "resources/", map[string]any{"name": "st009", "dtype": "spike_times", "locations": []string{"nope"}}), "locations")
		wantFieldErrors(t, "deposit bad id", editor.write("POST", "resources/", map[string]any{"name": "st~9", "dtype": "spike_times", "locations": []string{"main"}}), "name")
		wantRefusal(t, "deposit anonymous", anon.write("POST", "resources/", map[string]any{"name": "st009", "dtype": "spike_times"}), "Authentication credentials were not provided.")
		wantRefusal(t, "deposit wrong password", wrong.write("POST", "resources/", map[string]any{"name": "st009", "dtype": "spike_times"}), "Invalid username/password.")
		wantStatus(t, "nothing deposited by refusals", anon.get("resources/st009/"), http.StatusNotFound)
	})

	t.Run("Info", func(t *testing.T) {
		a := anon.write("POST", "bulk/resources/", map[string]any{"names": []string{"st002", "unknown", "st001"}})
		wantStatus(t, "info", a, http.StatusOK)
		var names []string
		for _, r := range a.jsonLines(t) {
			names = append(names, r.(map[string]any)["name"].(string))
		}
		if diff := cmp.Diff([]string{"st002", "st001"}, names); diff != "" {
			t.Error(diff)
		}
	})

	t.Run("Modify", func(t *testing.T) {
		a := editor.send("PATCH", "resources/st001/", "application/json", map[string]any{"metadata": map[string]any{"n": 4, "experimenter": nil, "new": "x"}})
		wantStatus(t, "modify", a, http.StatusOK)
		got := a.json(t).(map[string]any)
		if diff := cmp.Diff(map[string]any{"n": 4.0, "ok": true, "new": "x"}, got["metadata"]); diff != "" {
			t.Errorf("modify metadata (-want +got):\n%s", diff)
		}
		if got["name"] != "st001" || got["dtype"] != "spike_times" {
			t.Errorf("modify: not the full record: %v", got)
		}
		wantStatus(t, "modify unknown", editor.send("PATCH", "resources/unknown/", "application/json", map[string]any{"metadata": map[string]any{"a": 1}}), http.StatusNotFound)
		wantRefusal(t, "modify anonymous", anon.send("PATCH", "resources/st001/", "application/json", map[string]any{"metadata": map[string]any{"a": 1}}), "Authentication credentials were not provided.")
	})

	t.Run("ArchiveList", func(t *testing.T) {
		wantStatus(t, "tape archive", editor.write("POST", "archives/", map[string]any{"name": "offsite", "scheme": "tape", "root": "OFF:1", "accessibility": "offline"}), http.StatusCreated)
		for _, tt := range []struct {
			params []string
			want   []string
		}{
			{nil, []string{"main", "offsite"}},
			{[]string{"name", "ma"}, []string{"main"}},
			{[]string{"scheme", "tape"}, []string{"offsite"}},
			{[]string{"name", "m", "scheme", "tape"}, nil},
		} {
			var got []string
			a := anon.get("archives/", tt.params...)
			wantStatus(t, "archive list", a, http.StatusOK)
			for _, x := range a.json(t).([]any) {
				got = append(got, x.(map[string]any)["name"].(string))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("archive list %v: %s", tt.params, diff)
			}
		}
	})

	t.Run("Search", func(t *testing.T) {
		// A page holds 2 records here, so 4 spike_times resources take
		// the client through the Link headers.
		wantStatus(t, "deposit st004", editor.write("POST", "resources/", map[string]any{"name": "st004", "dtype": "spike_times"}), http.StatusCreated)
		var names []string
		for _, r := range anon.getAll("resources/", "dtype", "spike_times") {
			names = append(names, r.(map[string]any)["name"].(string))
		}
		if diff := cmp.Diff([]string{"st001", "st002", "st003", "st004"}, names); diff != "" {
			t.Errorf("search (-want +got):\n%s", diff)
		}
		if got := anon.getAll("resources/", "name", "no such thing"); len(got) != 0 {
			t.Errorf("search without match: %v", got)
		}
		a := anon.get("resources/", "dtype", "spike_times", "name", "st 0")
		if a.status != http.StatusOK || a.body != "[]" {
			t.Errorf("search with a space: %d %s", a.status, a.body)
		}
	})

	t.Run("Locate", func(t *testing.T) {
		a := anon.get("resources/st001/locations/")
		wantStatus(t, "locate", a, http.StatusOK)
		want := []any{map[string]any{"archive_name": "main", "scheme": "neurobank", "root": archiveRoot, "resource_name": "st001"}}
		if diff := cmp.Diff(want, a.json(t)); diff != "" {
			t.Error(diff)
		}
		wantStatus(t, "locate unknown", anon.get("resources/unknown/locations/"), http.StatusNotFound)
	})

	t.Run("Verify", func(t *testing.T) {
		a := anon.get("resources/st001/")
		wantStatus(t, "verify by name", a, http.StatusOK)
		if a.json(t).(map[string]any)["sha1"] != sha1A {
			t.Errorf("verify: %s", a.body)
		}
		wantStatus(t, "verify renamed file", anon.get("resources/renamed/"), http.StatusNotFound)
		found := anon.getAll("resources/", "sha1", sha1A)
		if len(found) != 1 || found[0].(map[string]any)["name"] != "st001" {
			t.Errorf("verify by hash: %v", found)
		}
	})

	t.Run("ArchiveCheck", func(t *testing.T) {
		a := editor.get("archives/", "scheme", "neurobank", "root", archiveRoot)
		wantStatus(t, "check lookup", a, http.StatusOK)
		var names []string
		for _, r := range editor.getAll("resources/", "location", "main") {
			names = append(names, r.(map[string]any)["name"].(string))
		}
		sortedWant := []string{autoName, "st001", "st002", "st003"}
		if autoName > "st" {
			sortedWant = []string{"st001", "st002", "st003", autoName}
		}
		if diff := cmp.Diff(sortedWant, names); diff != "" {
			t.Errorf("check (-want +got):\n%s", diff)
		}
	})

	t.Run("RegisterTar", func(t *testing.T) {
		a := editor.write("POST", "archives/", map[string]any{"name": "tape7", "scheme": "tape", "root": "LAB:7", "accessibility": "offline"})
		wantStatus(t, "register-tar archive", a, http.StatusCreated)
		wantRefusal(t, "register-tar anonymous", anon.write("POST", "archives/", map[string]any{"name": "tape8", "scheme": "tape", "root": "LAB:8", "accessibility": "offline"}), "Authentication credentials were not provided.")
		for _, member := range []string{"st001", "st002", "unknown"} {
			a := anon.get("resources/" + member + "/")
			if member == "unknown" {
				wantStatus(t, "register-tar unknown member", a, http.StatusNotFound)
				continue
			}
			wantStatus(t, "register-tar member", a, http.StatusOK)
			locations := a.json(t).(map[string]any)["locations"].([]any)
			if len(locations) != 1 || locations[0] != "main" {
				t.Errorf("%s locations %v", member, locations)
			}
			a = editor.write("POST", "resources/"+member+"/locations/", map[string]any{"archive_name": "tape7"})
			wantStatus(t, "register-tar location", a, http.StatusCreated)
			want := map[string]any{"archive_name": "tape7", "scheme": "tape", "root": "LAB:7", "resource_name": member}
			if diff := cmp.Diff(want, a.json(t)); diff != "" {
				t.Error(diff)
			}
		}
		// Run again: the member now lists tape7, so the client skips it;
		// posting anyway is a 400 it can print.
		locations := anon.get("resources/st001/").json(t).(map[string]any)["locations"].([]any)
		if diff := cmp.Diff([]any{"main", "tape7"}, locations); diff != "" {
			t.Error(diff)
		}
		wantFieldErrors(t, "register-tar twice", editor.write("POST", "resources/st001/locations/", map[string]any{"archive_name": "tape7"}), "non_field_errors")
	})

	t.Run("ImportTar", func(t *testing.T) {
		wantStatus(t, "second archive", editor.write("POST", "archives/", map[string]any{"name": "copy", "scheme": "neurobank", "root": "/srv/copy"}), http.StatusCreated)
		a := editor.get("archives/", "scheme", "neurobank", "root", "/srv/copy")
		found := a.json(t).([]any)
		if len(found) != 1 || found[0].(map[string]any)["name"] != "copy" {
			t.Fatalf("import-tar lookup: %v", found)
		}
		wantStatus(t, "import-tar member", anon.get("resources/st003/"), http.StatusOK)
		wantStatus(t, "import-tar location", editor.write("POST", "resources/st003/locations/", map[string]any{"archive_name": "copy"}), http.StatusCreated)
		a = anon.get("resources/st003/locations/")
		var archives []string
		for _, l := range a.json(t).([]any) {
			archives = append(archives, l.(map[string]any)["archive_name"].(string))
		}
		if diff := cmp.Diff([]string{"copy", "main"}, archives); diff != "" {
			t.Errorf("local archives by name: %s", diff)
		}
	})

	t.Run("Prune", func(t *testing.T) {
		a := anon.get("archives/copy/")
		wantStatus(t, "prune archive", a, http.StatusOK)
		if got := a.json(t).(map[string]any); got["scheme"] != "neurobank" || got["root"] != "/srv/copy" {
			t.Errorf("prune archive: %v", got)
		}
		wantStatus(t, "prune unknown archive", anon.get("archives/nope/"), http.StatusNotFound)
		a = anon.get("resources/st003/locations/")
		if n := len(a.json(t).([]any)); n != 2 {
			t.Fatalf("prune: %d locations, want 2", n)
		}
		wantRefusal(t, "prune anonymous", anon.write("DELETE", "resources/st003/locations/copy/", nil), "Authentication credentials were not provided.")
		a = editor.write("DELETE", "resources/st003/locations/copy/", nil)
		wantStatus(t, "prune", a, http.StatusNoContent)
		if n := len(anon.get("resources/st003/locations/").json(t).([]any)); n != 1 {
			t.Errorf("after prune: %d locations, want 1", n)
		}
	})

	t.Run("Fetch", func(t *testing.T) {
		a := anon.write("POST", "bulk/locations/", map[string]any{"names": []string{autoName, "st004", "st001"}})
		wantStatus(t, "fetch", a, http.StatusOK)
		got := a.jsonLines(t)
		if len(got) != 2 {
			t.Fatalf("fetch: %d lines, want 2 (st004 has no location): %s", len(got), a.body)
		}
		// wav is not downloadable: no registry entry.
		if first := got[0].(map[string]any); first["name"] != autoName || len(first["locations"].([]any)) != 1 {
			t.Errorf("fetch: %v", first)
		}
		if second := got[1].(map[string]any); second["name"] != "st001" || second["sha1"] != sha1A || second["filename"] != "st001" {
			t.Errorf("fetch: %v", second)
		}
	})

	t.Run("AdminUpdateHash", func(t *testing.T) {
		a := anon.write("POST", "bulk/locations/", map[string]any{"names": []string{"st002"}})
		wantStatus(t, "update-hash lookup", a, http.StatusOK)
		wantFieldErrors(t, "update-hash by an editor", editor.send("PATCH", "resources/st002/", "*/*", map[string]any{"sha1": sha1B}), "sha1")
		a = admin.send("PATCH", "resources/st002/", "*/*", map[string]any{"sha1": sha1B})
		wantStatus(t, "update-hash", a, http.StatusOK)
		if a.json(t).(map[string]any)["sha1"] != sha1B {
			t.Errorf("update-hash: %s", a.body)
		}
	})

	t.Run("AdminDelete", func(t *testing.T) {
		wantStatus(t, "delete lookup", anon.get("resources/st004/locations/"), http.StatusOK)
		wantRefusal(t, "delete by an editor", editor.write("DELETE", "resources/st004/", nil), "You do not have permission to perform this action.")
		a := admin.write("DELETE", "resources/st004/", nil)
		wantStatus(t, "delete", a, http.StatusNoContent)
		wantStatus(t, "deleted", anon.get("resources/st004/"), http.StatusNotFound)
	})

	t.Run("DownloadableLocation", func(t *testing.T) {
		// A datatype made downloadable from the command line.
		yes := true
		if _, err := ts.Store.UpdateDataType(t.Context(), "wav", registry.DataTypeUpdate{Downloadable: &yes}); err != nil {
			t.Fatal(err)
		}
		a := anon.get("resources/" + autoName + "/locations/")
		got := a.json(t).([]any)
		last := got[len(got)-1].(map[string]any)
		host := strings.TrimPrefix(anon.base, "http://")
		want := map[string]any{"archive_name": "registry", "scheme": "http", "root": host + "download/", "resource_name": autoName}
		if diff := cmp.Diff(want, last); diff != "" {
			t.Errorf("registry location (-want +got):\n%s", diff)
		}
		// The client joins scheme://root + id + "/".
		if url := last["scheme"].(string) + "://" + last["root"].(string) + autoName + "/"; url != anon.base+"download/"+autoName+"/" {
			t.Errorf("download URL %s", url)
		}
		lines := anon.write("POST", "bulk/locations/", map[string]any{"names": []string{autoName}}).jsonLines(t)
		if diff := cmp.Diff(any(want), lastLocation(lines[0])); diff != "" {
			t.Errorf("bulk registry location (-want +got):\n%s", diff)
		}
	})
}

// lastLocation is the last location of a bulk/locations/ line.
func lastLocation(line any) any {
	locs := line.(map[string]any)["locations"].([]any)
	return locs[len(locs)-1]
}

// nbankDownloadURL is the URL nbank's HttpResource builds from an http(s)
// location: the first part of root is the host, the rest a path to which
// the resource name and a slash are added.
func nbankDownloadURL(loc map[string]any) string {
	var parts []string
	for _, p := range strings.Split(loc["root"].(string), "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	path := strings.Join(append(parts[1:], loc["resource_name"].(string)), "/")
	return loc["scheme"].(string) + "://" + parts[0] + "/" + path + "/"
}

// TestNbankResolve replays the commands that find and fetch resources:
// search (by name, dtype, hash, archive and metadata, across pages), info,
// locate, verify and fetch through the registry's own download URL, and
// the tape-archive commands that add and remove locations.
func TestNbankResolve(t *testing.T) {
	t.Parallel()
	ts := MustOpenServer(t, func(c *httpapi.Config) { c.PageSize = 2 })
	anon := newNbank(t, ts)
	editor := anon.as(editorUser + ":" + passwordOf(editorUser))
	root := t.TempDir()

	wantStatus(t, "dtype", editor.write("POST", "datatypes/", map[string]any{"name": "wav", "content_type": "audio/wav"}), http.StatusCreated)
	wantStatus(t, "dtype", editor.write("POST", "datatypes/", map[string]any{"name": "pprox", "content_type": "application/json"}), http.StatusCreated)
	// Datatypes are made downloadable by an administrator at the terminal.
	yes, ext := true, "wav"
	if _, err := ts.Store.UpdateDataType(t.Context(), "wav", registry.DataTypeUpdate{Downloadable: &yes, Extension: &ext}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "init", editor.write("POST", "archives/", map[string]any{"name": "lab", "scheme": "neurobank", "root": root}), http.StatusCreated)
	wantStatus(t, "init", editor.write("POST", "archives/", map[string]any{"name": "other", "scheme": "neurobank", "root": root + "/other"}), http.StatusCreated)

	// deposit: six recordings by two people, three spike files; nbank
	// moves each file to <root>/resources/<xx>/<name>.<its suffix>.
	bytesOf := map[string]string{}
	for i, who := range []string{"dmeliza", "cdm8j", "dmeliza", "dmeliza", "cdm8j", "dmeliza"} {
		name := fmt.Sprintf("song%02d", i)
		sha := fmt.Sprintf("%040x", i+1)
		a := editor.write("POST", "resources/", map[string]any{"name": name, "dtype": "wav", "sha1": sha, "locations": []string{"lab"},
			"metadata": map[string]any{"experimenter": who, "trial": i}})
		wantStatus(t, "deposit "+name, a, http.StatusCreated)
		bytesOf[name] = fmt.Sprintf("RIFF recording %d", i)
		put(t, root, name+".wav", bytesOf[name])
	}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("spk%02d", i)
		wantStatus(t, "deposit "+name, editor.write("POST", "resources/", map[string]any{"name": name, "dtype": "pprox", "locations": []string{"other"}}), http.StatusCreated)
	}
	names := func(items []any) []string {
		var out []string
		for _, r := range items {
			out = append(out, r.(map[string]any)["name"].(string))
		}
		return out
	}

	t.Run("Search", func(t *testing.T) {
		tests := []struct {
			name   string
			params []string
			want   []string
		}{
			{"ByName", []string{"name", "song0"}, []string{"song00", "song01", "song02", "song03", "song04", "song05"}},
			{"ByNameOnePage", []string{"name", "ng03"}, []string{"song03"}},
			{"ByDtype", []string{"dtype", "pprox"}, []string{"spk00", "spk01", "spk02"}},
			{"ByHash", []string{"sha1", fmt.Sprintf("%040x", 4)}, []string{"song03"}},
			{"ByArchive", []string{"location", "other"}, []string{"spk00", "spk01", "spk02"}},
			{"ByNameAndDtype", []string{"dtype", "wav", "name", "song0"}, []string{"song00", "song01", "song02", "song03", "song04", "song05"}},
			{"NoMatch", []string{"name", "nothing"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if diff := cmp.Diff(tt.want, names(anon.getAll("resources/", tt.params...))); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
		t.Run("NextLinksKeepFilters", func(t *testing.T) {
			a := anon.get("resources/", "dtype", "wav", "name", "song0")
			next := nextLink(a.header.Get("Link"))
			if !strings.HasPrefix(next, anon.base+"resources/?") || !strings.Contains(next, "dtype=wav") || !strings.Contains(next, "name=song0") {
				t.Errorf("next %q", next)
			}
		})
		t.Run("ByMetadata", func(t *testing.T) {
			// nbank search -k experimenter=dmeliza sends metadata__experimenter.
			got := names(anon.getAll("resources/", "metadata__experimenter", "dmeliza"))
			if diff := cmp.Diff([]string{"song00", "song02", "song03", "song05"}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			got = names(anon.getAll("resources/", "metadata__experimenter__neq", "dmeliza", "dtype", "wav"))
			if diff := cmp.Diff([]string{"song01", "song04"}, got); diff != "" {
				t.Errorf("__neq (-want +got):\n%s", diff)
			}
		})
	})

	t.Run("Info", func(t *testing.T) {
		a := anon.write("POST", "bulk/resources/", map[string]any{"names": []string{"spk01", "song04", "unknown", "song00"}})
		wantStatus(t, "info", a, http.StatusOK)
		got := a.jsonLines(t)
		if diff := cmp.Diff([]string{"spk01", "song04", "song00"}, names(got)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if m := got[1].(map[string]any)["metadata"].(map[string]any); m["experimenter"] != "cdm8j" {
			t.Errorf("info metadata %v", m)
		}
	})

	t.Run("Locate", func(t *testing.T) {
		a := anon.get("resources/song02/locations/")
		wantStatus(t, "locate", a, http.StatusOK)
		got := a.json(t).([]any)
		if len(got) != 2 {
			t.Fatalf("locate: %v", got)
		}
		if diff := cmp.Diff(map[string]any{"archive_name": "lab", "scheme": "neurobank", "root": root, "resource_name": "song02"}, got[0]); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if url := nbankDownloadURL(got[1].(map[string]any)); url != anon.base+"download/song02/" {
			t.Errorf("locate prints %s", url)
		}
		a = anon.get("resources/spk00/locations/")
		if diff := cmp.Diff([]any{map[string]any{"archive_name": "other", "scheme": "neurobank", "root": root + "/other", "resource_name": "spk00"}}, a.json(t)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// locate given a full URL uses that URL's base.
		a = anon.send("GET", anon.base+"resources/song02/locations/", "application/json", nil)
		wantStatus(t, "locate by URL", a, http.StatusOK)
		wantStatus(t, "locate unknown", anon.get("resources/nope/locations/"), http.StatusNotFound)
	})

	t.Run("Verify", func(t *testing.T) {
		// By id: the file's stem is the resource name.
		a := anon.get("resources/song03/")
		wantStatus(t, "verify by id", a, http.StatusOK)
		if a.json(t).(map[string]any)["sha1"] != fmt.Sprintf("%040x", 4) {
			t.Errorf("verify by id: %s", a.body)
		}
		// By hash: a renamed file falls back to a search on its sha1.
		wantStatus(t, "verify renamed", anon.get("resources/renamed-copy/"), http.StatusNotFound)
		if diff := cmp.Diff([]string{"song05"}, names(anon.getAll("resources/", "sha1", fmt.Sprintf("%040x", 6)))); diff != "" {
			t.Errorf("verify by hash (-want +got):\n%s", diff)
		}
		if got := anon.getAll("resources/", "sha1", strings.Repeat("e", 40)); len(got) != 0 {
			t.Errorf("unknown hash: %v", got)
		}
	})

	t.Run("Fetch", func(t *testing.T) {
		// nbank fetch: one anonymous bulk/locations, then for each
		// resource whose archive is not readable here, the registry's URL.
		a := anon.write("POST", "bulk/locations/", map[string]any{"names": []string{"song01", "spk02", "song04", "nope"}})
		wantStatus(t, "fetch", a, http.StatusOK)
		got := a.jsonLines(t)
		if diff := cmp.Diff([]string{"song01", "spk02", "song04"}, names(got)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		for _, line := range []any{got[0], got[2]} {
			res := line.(map[string]any)
			last := lastLocation(res).(map[string]any)
			if last["archive_name"] != "registry" {
				t.Fatalf("no registry location: %v", res)
			}
			url := nbankDownloadURL(last)
			d := anon.send("GET", url, "*/*", nil)
			wantStatus(t, "download "+url, d, http.StatusOK)
			name := res["name"].(string)
			if d.body != bytesOf[name] {
				t.Errorf("%s: got %q, want %q", name, d.body, bytesOf[name])
			}
			if cd := d.header.Get("Content-Disposition"); cd != `attachment; filename="`+name+`.wav"` {
				t.Errorf("%s: Content-Disposition %q", name, cd)
			}
			if res["filename"] != name+".wav" {
				t.Errorf("%s: filename %v", name, res["filename"])
			}
			// With credentials too, as when nbank has them.
			wantStatus(t, "download with credentials", editor.send("GET", url, "*/*", nil), http.StatusOK)
		}
		// spike files are not downloadable: no registry location, and the
		// download URL refuses with 415 and a reason.
		if locs := got[1].(map[string]any)["locations"].([]any); len(locs) != 1 {
			t.Errorf("spk02 locations %v", locs)
		}
		d := anon.send("GET", anon.base+"download/spk02/", "*/*", nil)
		wantStatus(t, "download not downloadable", d, http.StatusUnsupportedMediaType)
		if diff := cmp.Diff(map[string]any{"detail": "The resource is not of a downloadable datatype"}, d.json(t)); diff != "" {
			t.Error(diff)
		}
		// A file gone from the archive is a 415 the client can report.
		wantStatus(t, "deposit lost", editor.write("POST", "resources/", map[string]any{"name": "lost", "dtype": "wav", "locations": []string{"lab"}}), http.StatusCreated)
		wantStatus(t, "download lost", anon.send("GET", anon.base+"download/lost/", "*/*", nil), http.StatusUnsupportedMediaType)
		wantStatus(t, "download unknown", anon.send("GET", anon.base+"download/nope/", "*/*", nil), http.StatusNotFound)
	})

	t.Run("TapeArchives", func(t *testing.T) {
		// register-tar LABEL N TAR: a tape archive, then a location per
		// member not yet on it.
		wantStatus(t, "register-tar", editor.write("POST", "archives/", map[string]any{"name": "tape3", "scheme": "tape", "root": "LAB:3", "accessibility": "offline"}), http.StatusCreated)
		for _, member := range []string{"song00", "song01"} {
			rec := anon.get("resources/" + member + "/").json(t).(map[string]any)
			if containsAny(rec["locations"].([]any), "tape3") {
				t.Fatalf("%s already on tape3", member)
			}
			wantStatus(t, "register-tar "+member, editor.write("POST", "resources/"+member+"/locations/", map[string]any{"archive_name": "tape3"}), http.StatusCreated)
		}
		// locate shows the tape after the disk, before the registry.
		var archives []string
		for _, l := range anon.get("resources/song00/locations/").json(t).([]any) {
			archives = append(archives, l.(map[string]any)["archive_name"].(string))
		}
		if diff := cmp.Diff([]string{"lab", "tape3", "registry"}, archives); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// import-tar TAR DIR: the members restored into "other" gain it.
		found := editor.get("archives/", "scheme", "neurobank", "root", root+"/other").json(t).([]any)
		if len(found) != 1 {
			t.Fatalf("import-tar lookup: %v", found)
		}
		wantStatus(t, "import-tar", editor.write("POST", "resources/song00/locations/", map[string]any{"archive_name": "other"}), http.StatusCreated)
		// archive prune other LIST: drop "other" where another copy exists.
		arch := anon.get("archives/other/").json(t).(map[string]any)
		if arch["scheme"] != "neurobank" || arch["root"] != root+"/other" {
			t.Errorf("prune archive %v", arch)
		}
		if n := len(anon.get("resources/song00/locations/").json(t).([]any)); n != 4 {
			t.Errorf("%d locations before prune, want 4", n)
		}
		d := editor.write("DELETE", "resources/song00/locations/other/", nil)
		wantStatus(t, "prune", d, http.StatusNoContent)
		if d.body != "" {
			t.Errorf("prune body %q", d.body)
		}
		wantStatus(t, "prune again", editor.write("DELETE", "resources/song00/locations/other/", nil), http.StatusNotFound)
		// The download still works from the remaining archive.
		if d := anon.send("GET", anon.base+"download/song00/", "*/*", nil); d.body != bytesOf["song00"] {
			t.Errorf("after prune: %d %q", d.status, d.body)
		}
	})
}
