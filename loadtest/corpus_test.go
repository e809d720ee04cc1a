package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestName(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		i      int
		want   string
	}{
		{"lt", 0, "lt00000000"},
		{"lt", 42, "lt00000042"},
		{"bench-", 999_999, "bench-00999999"},
		{"x", 123_456_789, "x123456789"},
	} {
		if got := Name(tc.prefix, tc.i); got != tc.want {
			t.Errorf("Name(%q, %d) = %q, want %q", tc.prefix, tc.i, got, tc.want)
		}
	}
}

func TestAnimalHitsCountsTheSeededRegistry(t *testing.T) {
	for _, n := range []int{0, 1, 57, 99, 100, 101, 300, 4999, 5000, 5001, 12_345, 20_000} {
		counts := map[int]int{}
		for i := range n {
			counts[Animal(i)]++
		}
		for a := range searchableAnimals(n) + windowAnimals {
			if got, want := AnimalHits(a, n), counts[a]; got != want {
				t.Fatalf("n=%d: AnimalHits(%d) = %d, counted %d", n, a, got, want)
			}
		}
		for a := range searchableAnimals(n) {
			if counts[a] == 0 {
				t.Errorf("n=%d: searchable animal %d has no resource", n, a)
			}
			if n >= windowSize && counts[a] != animalResources {
				t.Errorf("n=%d: searchable animal %d has %d resources, want %d", n, a, counts[a], animalResources)
			}
		}
	}
}

func TestAnimalsSpreadOverTheirWindow(t *testing.T) {
	// The resources of one animal are not neighbours, as they would not be
	// in a lab recording several animals at once.
	var seen []int
	for i := range windowSize {
		if Animal(i) == 7 {
			seen = append(seen, i)
		}
	}
	if len(seen) != animalResources || seen[0] != 7 || seen[1]-seen[0] != windowAnimals {
		t.Errorf("animal 7 names resources %v..., want %d of them, %d apart", seen[:min(3, len(seen))], animalResources, windowAnimals)
	}
	if Animal(windowSize) != windowAnimals {
		t.Errorf("the first resource of the second window is from animal %d, want %d", Animal(windowSize), windowAnimals)
	}
}

func TestMetadata(t *testing.T) {
	got := Metadata(5123)
	want := map[string]any{
		"experimenter": "kat",
		"animal":       "st000123",
		"subject":      map[string]any{"age": 153, "sex": "M"},
		"session":      1,
		"awake":        true,
		"recorded":     "2024-05-12",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata(5123) = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(Metadata(77), Metadata(77)) {
		t.Error("Metadata(77) differs between two calls")
	}
	// Every resource has every key, as JSON the API takes.
	sessions := map[any]bool{}
	for i := range windowSize {
		m := Metadata(i)
		if len(m) != 6 {
			t.Fatalf("Metadata(%d) has %d keys: %v", i, len(m), m)
		}
		sessions[m["session"]] = true
		if _, err := json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	if len(sessions) != 10 {
		t.Errorf("a window's resources come from %d sessions, want 10", len(sessions))
	}
}

func TestDataTypesAndLocations(t *testing.T) {
	downloadable, remote := 0, 0
	for i := range 1200 {
		if DataType(i) == dataTypeDownloadable {
			downloadable++
		}
		if len(Locations(i)) == 2 {
			remote++
		}
		if Locations(i)[0] != archiveLocal {
			t.Fatalf("resource %d is not in the local archive: %v", i, Locations(i))
		}
	}
	if downloadable != 900 || remote != 400 {
		t.Errorf("of 1200 resources %d are downloadable and %d remote, want 900 and 400", downloadable, remote)
	}
}

func TestSHA1(t *testing.T) {
	if got, want := SHA1("lt00000000"), SHA1("lt00000000"); got != want || len(got) != 40 {
		t.Errorf("SHA1 is %q then %q, want the same 40 hex digits", got, want)
	}
	if SHA1("lt00000000") == SHA1("lt00000001") {
		t.Error("two names have the same sha1")
	}
}

func TestFirstMissing(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 300, 1024, 1025, 999_999} {
		for _, known := range []int{0, n / 2, n} {
			asked := 0
			got, err := firstMissing(known, func(i int) (bool, error) {
				asked++
				if i < known {
					t.Fatalf("n=%d: asked about %d, before known %d", n, i, known)
				}
				return i < n, nil
			})
			if err != nil || got != n {
				t.Errorf("firstMissing(%d) over %d names = %d, %v; want %d", known, n, got, err, n)
			}
			if limit := 2*bitsLen(n) + 2; asked > limit {
				t.Errorf("firstMissing(%d) over %d names asked %d times, more than %d", known, n, asked, limit)
			}
		}
	}
	t.Run("Error", func(t *testing.T) {
		refused := errors.New("refused")
		if _, err := firstMissing(0, func(int) (bool, error) { return false, refused }); !errors.Is(err, refused) {
			t.Errorf("firstMissing passed on %v, want %v", err, refused)
		}
	})
}

// bitsLen returns the number of bits n needs.
func bitsLen(n int) int {
	return len(fmt.Sprintf("%b", n))
}
