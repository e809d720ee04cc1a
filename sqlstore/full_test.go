package sqlstore

import (
	"fmt"
	"strings"
	"testing"

	"nbreg/registry"
)

// TestStorageFull: when the database cannot grow, a write is refused as
// EFULL and leaves nothing behind, reads go on, and writes succeed again
// once there is room, without reopening the store. SQLite's page limit
// stands in for a full disk: both end a write with SQLITE_FULL.
func TestStorageFull(t *testing.T) {
	s := MustOpenStore(t)
	ctx := t.Context()
	if err := s.CreateDataType(ctx, &registry.DataType{Name: "wav"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateResource(ctx, &registry.Resource{Name: "first", DType: "wav"}, "alice"); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.writer.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	limit := func(n int) {
		t.Helper()
		if _, err := s.writer.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, n)); err != nil {
			t.Fatal(err)
		}
	}
	limit(pages)
	big := registry.Metadata{"notes": strings.Repeat("a long observation ", 2000)}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = s.CreateResource(ctx, &registry.Resource{Name: fmt.Sprintf("r%d", i), DType: "wav", Metadata: big}, "alice")
	}
	if registry.ErrorCode(err) != registry.EFULL {
		t.Fatalf("creating resources in a full database: %v, want EFULL", err)
	}
	n, err := s.CountResources(ctx, registry.ResourceFilter{})
	if err != nil {
		t.Fatalf("CountResources when full: %v", err)
	}
	limit(1 << 30)
	if err := s.CreateResource(ctx, &registry.Resource{Name: "after", DType: "wav", Metadata: big}, "alice"); err != nil {
		t.Fatalf("CreateResource once there is room: %v", err)
	}
	if m, err := s.CountResources(ctx, registry.ResourceFilter{}); err != nil || m != n+1 {
		t.Errorf("resources after the refusal and one more create: %d, %v; want %d", m, err, n+1)
	}
}
