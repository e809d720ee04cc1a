package httpapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/httpapi"
)

// downloadFixture is a server with two neurobank archives on disk, a tape
// archive, and datatypes that are and are not downloadable.
type downloadFixture struct {
	*TestServer
	local, backup string // archive roots
	outside       string // a directory outside every archive
}

func newDownloadFixture(t *testing.T, options ...func(*httpapi.Config)) *downloadFixture {
	t.Helper()
	ts := MustOpenServer(t, options...)
	dir := t.TempDir()
	f := &downloadFixture{
		TestServer: ts,
		local:      filepath.Join(dir, "local archive"),
		backup:     filepath.Join(dir, "backup"),
		outside:    filepath.Join(dir, "outside"),
	}
	for _, d := range []string{f.local, f.backup, f.outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []map[string]any{
		{"name": "wave", "content_type": "audio/wav", "extension": "wav", "downloadable": true},
		{"name": "raw", "downloadable": true},
		{"name": "spec", "content_type": "https://meliza.org/spec:/pprox", "extension": "pprox", "downloadable": true},
		{"name": "private", "content_type": "audio/wav", "extension": "wav"},
	} {
		ts.MustDo(t, req{method: "POST", path: "datatypes/", body: d, user: editorUser}, http.StatusCreated)
	}
	for _, a := range []map[string]any{
		{"name": "local", "scheme": "neurobank", "root": f.local},
		{"name": "backup", "scheme": "neurobank", "root": f.backup, "accessibility": "remote"},
		{"name": "relative", "scheme": "neurobank", "root": "relative/root", "accessibility": "remote"},
		{"name": "tape1", "scheme": "tape", "root": "TAPE:1", "accessibility": "offline"},
	} {
		ts.MustDo(t, req{method: "POST", path: "archives/", body: a, user: editorUser}, http.StatusCreated)
	}
	return f
}

// put writes content at <root>/resources/<xx>/<file>.
func put(t *testing.T, root, file, content string) string {
	t.Helper()
	path := filepath.Join(root, "resources", file[:min(2, len(file))], file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// resource registers a resource of dtype in archives.
func (f *downloadFixture) resource(t *testing.T, name, dtype string, archives ...string) {
	t.Helper()
	if archives == nil {
		archives = []string{}
	}
	f.createResource(t, map[string]any{"name": name, "dtype": dtype, "locations": archives})
}

func TestDownload(t *testing.T) {
	t.Parallel()
	f := newDownloadFixture(t)
	const content = "RIFF....WAVEfmt some audio bytes"
	put(t, f.local, "w1.wav", content)
	f.resource(t, "w1", "wave", "local", "tape1")

	for _, path := range []string{"download/w1/", "resources/w1/download"} {
		t.Run("Serves "+path, func(t *testing.T) {
			w := f.Get(t, path)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			if got := w.Body.String(); got != content {
				t.Errorf("body %q, want %q", got, content)
			}
			want := map[string]string{
				"Content-Type":           "audio/wav",
				"Content-Disposition":    `attachment; filename="w1.wav"`,
				"Content-Length":         "32",
				"Accept-Ranges":          "bytes",
				"X-Content-Type-Options": "nosniff",
			}
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if w.Header().Get("ETag") == "" || w.Header().Get("Last-Modified") == "" {
				t.Errorf("no validators: %v", w.Header())
			}
		})
	}
	t.Run("Head", func(t *testing.T) {
		w := f.Do(t, req{method: http.MethodHead, path: "download/w1/"})
		if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "32" {
			t.Errorf("status %d, body %q, header %v", w.Code, w.Body, w.Header())
		}
	})
	t.Run("Range", func(t *testing.T) {
		w := f.Do(t, req{method: "GET", path: "download/w1/", header: http.Header{"Range": {"bytes=4-7"}}})
		if w.Code != http.StatusPartialContent || w.Body.String() != "...." || w.Header().Get("Content-Range") != "bytes 4-7/32" {
			t.Errorf("status %d, body %q, Content-Range %q", w.Code, w.Body, w.Header().Get("Content-Range"))
		}
		w = f.Do(t, req{method: "GET", path: "download/w1/", header: http.Header{"Range": {"bytes=100-"}}})
		if w.Code != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("range past the end: status %d", w.Code)
		}
	})
	t.Run("Conditional", func(t *testing.T) {
		etag := f.Get(t, "download/w1/").Header().Get("ETag")
		w := f.Do(t, req{method: "GET", path: "download/w1/", header: http.Header{"If-None-Match": {etag}}})
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match: status %d body %q", w.Code, w.Body)
		}
		w = f.Do(t, req{method: "GET", path: "download/w1/", header: http.Header{"Range": {"bytes=0-3"}, "If-Range": {`"stale"`}}})
		if w.Code != http.StatusOK || w.Body.String() != content {
			t.Errorf("stale If-Range: status %d", w.Code)
		}
	})
	t.Run("ETagChangesWithTheFile", func(t *testing.T) {
		put(t, f.local, "w9.wav", "one")
		f.resource(t, "w9", "wave", "local")
		before := f.Get(t, "download/w9/").Header().Get("ETag")
		path := put(t, f.local, "w9.wav", "two!")
		later := time.Now().Add(time.Hour)
		os.Chtimes(path, later, later)
		if after := f.Get(t, "download/w9/").Header().Get("ETag"); after == before {
			t.Errorf("ETag %s unchanged after a rewrite", after)
		}
	})
	t.Run("Anonymous", func(t *testing.T) {
		if w := f.Do(t, req{method: "GET", path: "download/w1/", user: viewerUser}); w.Code != http.StatusOK {
			t.Errorf("viewer: status %d", w.Code)
		}
		w := f.Do(t, req{method: "GET", path: "download/w1/", header: http.Header{"Authorization": {basicAuth(editorUser, "wrong")}}})
		checkJSON(t, w, http.StatusForbidden, `{"detail": "Invalid username/password."}`)
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		w := f.Do(t, req{method: "POST", path: "download/w1/", user: editorUser, body: map[string]any{}})
		checkJSON(t, w, http.StatusMethodNotAllowed, `{"detail": "Method \"POST\" not allowed."}`)
		if got := w.Header().Get("Allow"); got != "GET, HEAD, OPTIONS" {
			t.Errorf("Allow %q", got)
		}
	})
	t.Run("WithoutSlashRedirects", func(t *testing.T) {
		w := f.Get(t, "download/w1")
		if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/neurobank/download/w1/" {
			t.Errorf("status %d Location %q", w.Code, w.Header().Get("Location"))
		}
	})
}

func TestDownloadResolution(t *testing.T) {
	t.Parallel()
	f := newDownloadFixture(t)

	t.Run("NameWithoutExtension", func(t *testing.T) {
		put(t, f.local, "bare", "bare bytes")
		f.resource(t, "bare", "raw", "local")
		w := f.Get(t, "download/bare/")
		if w.Code != http.StatusOK || w.Body.String() != "bare bytes" {
			t.Fatalf("status %d body %s", w.Code, w.Body)
		}
		if got := w.Header().Get("Content-Disposition"); got != `attachment; filename="bare"` {
			t.Errorf("Content-Disposition %q", got)
		}
		if got := w.Header().Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("Content-Type %q", got)
		}
	})
	t.Run("AnyExtension", func(t *testing.T) {
		// nbank deposit keeps the file's own suffix.
		put(t, f.local, "ext1.flac", "flac bytes")
		put(t, f.local, "ext1x.wav", "another resource")
		f.resource(t, "ext1", "wave", "local")
		w := f.Get(t, "download/ext1/")
		if w.Code != http.StatusOK || w.Body.String() != "flac bytes" {
			t.Fatalf("status %d body %s", w.Code, w.Body)
		}
		if got := w.Header().Get("Content-Disposition"); got != `attachment; filename="ext1.flac"` {
			t.Errorf("Content-Disposition %q", got)
		}
	})
	t.Run("DatatypeExtensionFirst", func(t *testing.T) {
		put(t, f.local, "ext2.aaa", "not this")
		put(t, f.local, "ext2.wav", "this")
		f.resource(t, "ext2", "wave", "local")
		if w := f.Get(t, "download/ext2/"); w.Body.String() != "this" {
			t.Errorf("body %q", w.Body)
		}
	})
	t.Run("FirstByNameAmongOthers", func(t *testing.T) {
		put(t, f.local, "ext3.b", "b")
		put(t, f.local, "ext3.a", "a")
		f.resource(t, "ext3", "raw", "local")
		if w := f.Get(t, "download/ext3/"); w.Body.String() != "a" {
			t.Errorf("body %q", w.Body)
		}
	})
	t.Run("ShortName", func(t *testing.T) {
		put(t, f.local, "x", "one letter")
		f.resource(t, "x", "raw", "local")
		if w := f.Get(t, "download/x/"); w.Code != http.StatusOK || w.Body.String() != "one letter" {
			t.Errorf("status %d body %q", w.Code, w.Body)
		}
	})
	t.Run("LocalBeforeRemote", func(t *testing.T) {
		put(t, f.local, "both.wav", "local copy")
		put(t, f.backup, "both.wav", "backup copy")
		f.resource(t, "both", "wave", "backup", "local")
		if w := f.Get(t, "download/both/"); w.Body.String() != "local copy" {
			t.Errorf("body %q", w.Body)
		}
	})
	t.Run("NextArchiveWhenTheFirstLacksIt", func(t *testing.T) {
		put(t, f.backup, "only.wav", "backup copy")
		f.resource(t, "only", "wave", "local", "backup", "tape1")
		if w := f.Get(t, "download/only/"); w.Code != http.StatusOK || w.Body.String() != "backup copy" {
			t.Errorf("status %d body %q", w.Code, w.Body)
		}
	})
	t.Run("RelativeSymlinkInsideTheArchive", func(t *testing.T) {
		put(t, f.local, "target.wav", "linked bytes")
		link := filepath.Join(f.local, "resources", "li", "linked.wav")
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink("../ta/target.wav", link); err != nil {
			t.Fatal(err)
		}
		f.resource(t, "linked", "wave", "local")
		w := f.Get(t, "download/linked/")
		if w.Code != http.StatusOK || w.Body.String() != "linked bytes" {
			t.Errorf("status %d body %q", w.Code, w.Body)
		}
		if got := w.Header().Get("Content-Disposition"); got != `attachment; filename="linked.wav"` {
			t.Errorf("Content-Disposition %q", got)
		}
	})
	t.Run("AbsoluteSymlinkInsideTheArchiveIsRefused", func(t *testing.T) {
		// os.Root follows no absolute link: where it leads could change
		// with a mount, so only relative links count as inside.
		target := put(t, f.local, "target2.wav", "linked bytes")
		link := filepath.Join(f.local, "resources", "ab", "abslink.wav")
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		f.resource(t, "abslink", "wave", "local")
		if w := f.Get(t, "download/abslink/"); w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("status %d body %q", w.Code, w.Body)
		}
	})
	t.Run("ContentTypeThatIsNotAMediaType", func(t *testing.T) {
		put(t, f.local, "sp1.pprox", "{}")
		f.resource(t, "sp1", "spec", "local")
		if got := f.Get(t, "download/sp1/").Header().Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("Content-Type %q", got)
		}
	})
}

func TestDownloadRefusals(t *testing.T) {
	t.Parallel()
	f := newDownloadFixture(t)
	dirOf := func(root, name string) string { return filepath.Join(root, "resources", name[:2]) }

	put(t, f.local, "pr1.wav", "private")
	f.resource(t, "pr1", "private", "local")
	f.resource(t, "tp1", "wave", "tape1")
	f.resource(t, "nl1", "wave")
	f.resource(t, "ms1", "wave", "local", "tape1")
	f.resource(t, "ms2", "wave", "backup", "local")
	f.resource(t, "rel1", "wave", "relative")

	os.MkdirAll(filepath.Join(dirOf(f.local, "dir1"), "dir1"), 0o755)
	f.resource(t, "dir1", "wave", "local")
	os.MkdirAll(filepath.Join(dirOf(f.local, "dir2"), "dir2.wav"), 0o755)
	f.resource(t, "dir2", "wave", "local")

	secret := filepath.Join(f.outside, "secret.wav")
	os.WriteFile(secret, []byte("secret"), 0o644)
	os.MkdirAll(dirOf(f.local, "esc1"), 0o755)
	if err := os.Symlink(secret, filepath.Join(dirOf(f.local, "esc1"), "esc1.wav")); err != nil {
		t.Fatal(err)
	}
	f.resource(t, "esc1", "wave", "local")
	os.MkdirAll(dirOf(f.local, "esc2"), 0o755)
	os.Symlink("../../../outside/secret.wav", filepath.Join(dirOf(f.local, "esc2"), "esc2"))
	f.resource(t, "esc2", "wave", "local")
	// The whole shard directory a link to the outside.
	os.MkdirAll(filepath.Join(f.local, "resources"), 0o755)
	os.WriteFile(filepath.Join(f.outside, "zz3.wav"), []byte("secret"), 0o644)
	if err := os.Symlink(f.outside, filepath.Join(f.local, "resources", "zz")); err != nil {
		t.Fatal(err)
	}
	f.resource(t, "zz3", "wave", "local")

	fifo := filepath.Join(dirOf(f.local, "fifo1"), "fifo1.wav")
	os.MkdirAll(filepath.Dir(fifo), 0o755)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f.resource(t, "fifo1", "wave", "local")

	notFile := func(root, name string) string {
		return `{"detail": "Resource '` + name + `' was found in directory ` + filepath.Join(dirOf(root, name), name) + `, but it is not a file, so it cannot be downloaded"}`
	}
	missing := func(root, name string) string {
		return `{"detail": "Could not find resource '` + name + `' in directory ` + dirOf(root, name) + `"}`
	}
	tests := []struct {
		name, path string
		status     int
		want       string
	}{
		{"UnknownResource", "download/nope/", http.StatusNotFound, `{"detail": "not found"}`},
		{"UnknownResourceOlderSpelling", "resources/nope/download", http.StatusNotFound, `{"detail": "not found"}`},
		{"NotDownloadable", "download/pr1/", http.StatusUnsupportedMediaType, `{"detail": "The resource is not of a downloadable datatype"}`},
		{"OnlyOnTape", "download/tp1/", http.StatusUnsupportedMediaType, `{"detail": "The requested resource is not in an archive that uses a scheme supported by this registry"}`},
		{"NoLocation", "download/nl1/", http.StatusUnsupportedMediaType, `{"detail": "The requested resource is not in an archive that uses a scheme supported by this registry"}`},
		{"FileMissing", "download/ms1/", http.StatusUnsupportedMediaType, missing(f.local, "ms1")},
		{"FileMissingEverywhereNamesTheFirstArchive", "download/ms2/", http.StatusUnsupportedMediaType, missing(f.local, "ms2")},
		{"RelativeRoot", "download/rel1/", http.StatusUnsupportedMediaType, missing("relative/root", "rel1")},
		{"Directory", "download/dir1/", http.StatusUnsupportedMediaType, notFile(f.local, "dir1")},
		{"DirectoryWithExtension", "download/dir2/", http.StatusUnsupportedMediaType, notFile(f.local, "dir2")},
		{"SymlinkOutside", "download/esc1/", http.StatusUnsupportedMediaType, notFile(f.local, "esc1")},
		{"RelativeSymlinkOutside", "download/esc2/", http.StatusUnsupportedMediaType, notFile(f.local, "esc2")},
		{"ShardDirectoryLinkedOutside", "download/zz3/", http.StatusUnsupportedMediaType, notFile(f.local, "zz3")},
		{"FIFO", "download/fifo1/", http.StatusUnsupportedMediaType, notFile(f.local, "fifo1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				checkJSON(t, f.Get(t, tt.path), tt.status, tt.want)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the download hangs")
			}
		})
	}

	// Names that are not slugs, however spelled, match no route.
	hostile := []string{
		"/neurobank/download/../../../etc/passwd/",
		"/neurobank/download/..%2F..%2Fetc%2Fpasswd/",
		"/neurobank/download/%2e%2e/",
		"/neurobank/download/esc1%2F..%2F..%2F/",
		"/neurobank/download/w1.wav/",
		"/neurobank/download/./",
		"/neurobank/download/~root/",
		"/neurobank/download/a%00b/",
		"/neurobank/download//",
		"/neurobank/download/",
		"/neurobank/resources/../download",
		"/neurobank/resources/%2e%2e/download",
		"/neurobank/download/w1/extra/",
		"/neurobank/resources/esc1/download/",
	}
	for _, path := range hostile {
		t.Run("Hostile "+path, func(t *testing.T) {
			w := f.Get(t, path)
			if w.Code != http.StatusNotFound {
				t.Errorf("status %d body %s", w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("leaked: %s", w.Body)
			}
		})
	}
}

func TestDownloadSendfile(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name   string
		config func(*httpapi.Config)
		header string
		value  func(path string) string
	}{
		{"Nginx", func(c *httpapi.Config) { c.Sendfile = "nginx" }, "X-Accel-Redirect",
			func(path string) string { return "/_nbreg_files" + strings.ReplaceAll(path, " ", "%20") }},
		{"NginxPrefix", func(c *httpapi.Config) { c.Sendfile = "nginx"; c.SendfilePrefix = "/internal/" }, "X-Accel-Redirect",
			func(path string) string { return "/internal" + strings.ReplaceAll(path, " ", "%20") }},
		{"NginxPrefixWithoutSlashes", func(c *httpapi.Config) { c.Sendfile = "nginx"; c.SendfilePrefix = "files" }, "X-Accel-Redirect",
			func(path string) string { return "/files" + strings.ReplaceAll(path, " ", "%20") }},
		{"Apache", func(c *httpapi.Config) { c.Sendfile = "apache" }, "X-Sendfile",
			func(path string) string { return path }},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			f := newDownloadFixture(t, m.config)
			path := put(t, f.local, "w1.wav", "bytes the proxy sends")
			f.resource(t, "w1", "wave", "local")
			f.resource(t, "ms1", "wave", "local")
			for _, method := range []string{"GET", "HEAD"} {
				w := f.Do(t, req{method: method, path: "download/w1/"})
				if w.Code != http.StatusOK || w.Body.Len() != 0 {
					t.Errorf("%s: status %d body %q", method, w.Code, w.Body)
				}
				got := map[string]string{}
				for _, k := range []string{m.header, "Content-Type", "Content-Disposition"} {
					got[k] = w.Header().Get(k)
				}
				want := map[string]string{m.header: m.value(path), "Content-Type": "audio/wav", "Content-Disposition": `attachment; filename="w1.wav"`}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", method, diff)
				}
			}
			w := f.Get(t, "download/ms1/")
			if w.Code != http.StatusUnsupportedMediaType || w.Header().Get(m.header) != "" {
				t.Errorf("missing file: status %d, %s %q", w.Code, m.header, w.Header().Get(m.header))
			}
		})
	}
}
