package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"nbreg/registry"
	"nbreg/sqlstore"
)

// readFromRecorder records what a download hands to the connection's
// ReadFrom, which is where net/http chooses sendfile(2).
type readFromRecorder struct {
	*httptest.ResponseRecorder
	src io.Reader
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.src = src
	return io.Copy(r.ResponseRecorder, src)
}

// TestDownloadIsZeroCopy checks that the file reaches the connection as an
// *os.File (bounded by an io.LimitedReader), the shape in which net/http
// and the net package send it with sendfile(2).
func TestDownloadIsZeroCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlstore.Open(filepath.Join(dir, "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "archive")
	if err := os.MkdirAll(filepath.Join(root, "resources", "w1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "resources", "w1", "w1.wav"), []byte("zero copy bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(store.CreateDataType(ctx, &registry.DataType{Name: "wave", Extension: "wav", Downloadable: true}))
	must(store.CreateArchive(ctx, &registry.Archive{Name: "local", Scheme: "neurobank", Root: root}))
	must(store.CreateUser(ctx, &registry.User{Username: "u", Role: registry.RoleEditor, PasswordHash: "!"}))
	must(store.CreateResource(ctx, &registry.Resource{Name: "w1", DType: "wave", Locations: []string{"local"}}, "u"))

	s := NewServer(store, Config{})
	for _, rangeHeader := range []string{"", "bytes=5-8"} {
		w := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
		r := httptest.NewRequest(http.MethodGet, "/neurobank/download/w1/", nil)
		if rangeHeader != "" {
			r.Header.Set("Range", rangeHeader)
		}
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusPartialContent {
			t.Fatalf("status %d body %s", w.Code, w.Body)
		}
		src := w.src
		if lr, ok := src.(*io.LimitedReader); ok {
			src = lr.R
		}
		if _, ok := src.(*os.File); !ok {
			t.Errorf("range %q: the connection got a %T, not an *os.File", rangeHeader, w.src)
		}
	}
}
