package httpapi

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"nbreg/registry"
	"nbreg/sqlstore"
)

// TestSizeCollectorRefresh checks that the registry's size is counted
// again only once sizeRefresh has passed since the last count.
func TestSizeCollectorRefresh(t *testing.T) {
	store, err := sqlstore.Open(filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newSizeCollector(store, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	users := func() float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() == "nbreg_registry_users" {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no nbreg_registry_users")
		return 0
	}
	addUser := func(name string) {
		t.Helper()
		if err := store.CreateUser(t.Context(), &registry.User{Username: name, Role: registry.RoleViewer}); err != nil {
			t.Fatal(err)
		}
	}
	if got := users(); got != 0 {
		t.Fatalf("users at first: %v, want 0", got)
	}
	addUser("ann")
	now = now.Add(sizeRefresh - time.Second)
	if got := users(); got != 0 {
		t.Errorf("users counted again before %s: %v, want the last count 0", sizeRefresh, got)
	}
	now = now.Add(time.Second)
	if got := users(); got != 1 {
		t.Errorf("users once %s has passed: %v, want 1", sizeRefresh, got)
	}
}
