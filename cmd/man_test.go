package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// thDate matches the month in a page's .TH line, the one part of a page that
// changes when nothing else does.
var thDate = regexp.MustCompile(`(?m)^(\.TH "[^"]*" "[^"]*") "[^"]*"`)

// TestManPagesCurrent regenerates the manual pages and compares them with
// those checked in under docs/man, so that a change to a command's help
// that forgets them fails here.
func TestManPagesCurrent(t *testing.T) {
	// Flag defaults must not pick up this machine's settings.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "NBREG_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"man", dir}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("nbreg man exited %d: %s", code, stderr.String())
	}
	pages := func(dir string) map[string]string {
		t.Helper()
		names, err := filepath.Glob(filepath.Join(dir, "*.1"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			m[filepath.Base(name)] = thDate.ReplaceAllString(string(b), `$1 "DATE"`)
		}
		return m
	}
	got, want := pages(dir), pages(filepath.Join("..", "docs", "man"))
	if len(got) == 0 {
		t.Fatal("nbreg man wrote no pages")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/man is out of date; regenerate it with go generate . (in the repository's root) (-checked in +generated):\n%s", diff)
	}
}
