package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// checkPassed is the check result of a workload whose answers are right.
const checkPassed = "ok"

// check sends one request of workload name before it is measured and
// makes sure the answer is the one the seeded registry must give, so that
// a fast answer is never a wrong one (an empty search, a 404 for every
// name). It returns checkPassed or what was wrong.
func (r *runner) check(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	rng := rand.New(rand.NewPCG(r.seed.Add(1), 0x5eed))
	i := rng.IntN(r.n)
	var err error
	switch name {
	case WorkloadDetail:
		err = r.checkDetail(ctx, i)
	case WorkloadLocations:
		err = r.checkLocations(ctx, i)
	case WorkloadSearch:
		err = r.checkSearch(ctx, rng.IntN(r.searchable))
	case WorkloadBulk:
		err = r.checkBulk(ctx, i)
	case WorkloadCreate:
		err = r.checkCreate(ctx)
	case WorkloadMixed:
		err = r.checkPatch(ctx, i)
	}
	if err != nil {
		return err.Error()
	}
	return checkPassed
}

// get sends a GET and decodes its JSON answer into v, which must come
// with status 200.
func (r *runner) get(ctx context.Context, path string, v any) error {
	a, err := r.c.send(ctx, "GET", path, nil, false)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if a.status != 200 {
		return fmt.Errorf("GET %s: %s, want 200", path, a)
	}
	if err := decodeJSON(a.body, v); err != nil {
		return fmt.Errorf("GET %s: the answer is not the JSON expected: %v", path, err)
	}
	return nil
}

func (r *runner) checkDetail(ctx context.Context, i int) error {
	name := Name(r.cfg.Prefix, i)
	var got struct {
		Name     string         `json:"name"`
		DataType string         `json:"dtype"`
		Metadata map[string]any `json:"metadata"`
	}
	if err := r.get(ctx, "resources/"+name+"/", &got); err != nil {
		return err
	}
	animal, _ := got.Metadata["animal"].(string)
	if got.Name != name || got.DataType != DataType(i) || animal != AnimalValue(Animal(i)) {
		return fmt.Errorf("resources/%s/ is named %q, of dtype %q, from animal %q; want %q, %q, %q",
			name, got.Name, got.DataType, animal, name, DataType(i), AnimalValue(Animal(i)))
	}
	return nil
}

func (r *runner) checkLocations(ctx context.Context, i int) error {
	name := Name(r.cfg.Prefix, i)
	var got []struct {
		Archive string `json:"archive_name"`
	}
	if err := r.get(ctx, "resources/"+name+"/locations/", &got); err != nil {
		return err
	}
	want := Locations(i)
	if DataType(i) == dataTypeDownloadable {
		want = append(want, "registry")
	}
	var archives []string
	for _, l := range got {
		archives = append(archives, l.Archive)
	}
	if !slices.Equal(archives, want) {
		return fmt.Errorf("resources/%s/locations/ lists archives %v, want %v", name, archives, want)
	}
	return nil
}

func (r *runner) checkSearch(ctx context.Context, animal int) error {
	path := "resources/?metadata__animal=" + AnimalValue(animal)
	var got []struct {
		Name string `json:"name"`
	}
	if err := r.get(ctx, path, &got); err != nil {
		return err
	}
	want := AnimalHits(animal, r.n)
	if len(got) != want {
		return fmt.Errorf("GET %s found %d resources, want %d", path, len(got), want)
	}
	for _, g := range got {
		i, ok := r.index(g.Name)
		if !ok || Animal(i) != animal {
			return fmt.Errorf("GET %s found %s, which is not from that animal", path, g.Name)
		}
	}
	return nil
}

// index returns the index of a seeded name.
func (r *runner) index(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, r.cfg.Prefix)
	if !ok || len(digits) != nameDigits {
		return 0, false
	}
	i, err := strconv.Atoi(digits)
	return i, err == nil
}

func (r *runner) checkBulk(ctx context.Context, from int) error {
	names := make([]string, min(BulkNames, r.n))
	for k := range names {
		names[k] = Name(r.cfg.Prefix, (from+k)%r.n)
	}
	a, err := r.c.send(ctx, "POST", "bulk/locations/", map[string]any{"names": names}, false)
	if err != nil {
		return fmt.Errorf("POST bulk/locations/: %w", err)
	}
	if a.status != 200 {
		return fmt.Errorf("POST bulk/locations/: %s, want 200", a)
	}
	lines := bufio.NewScanner(bytes.NewReader(a.body))
	lines.Buffer(nil, 1<<20)
	k := 0
	for lines.Scan() {
		var line struct {
			Name      string `json:"name"`
			Locations []any  `json:"locations"`
		}
		if err := decodeJSON(lines.Bytes(), &line); err != nil {
			return fmt.Errorf("POST bulk/locations/: line %d is not JSON: %v", k+1, err)
		}
		if k >= len(names) || line.Name != names[k] || len(line.Locations) == 0 {
			return fmt.Errorf("POST bulk/locations/: line %d is about %q with %d locations, want %q with some",
				k+1, line.Name, len(line.Locations), names[min(k, len(names)-1)])
		}
		k++
	}
	if k != len(names) {
		return fmt.Errorf("POST bulk/locations/ of %d names answered %d lines", len(names), k)
	}
	return nil
}

func (r *runner) checkCreate(ctx context.Context) error {
	body := r.createRecord(int(r.created.Add(1)))
	a, err := r.c.send(ctx, "POST", "resources/", body, true)
	if err != nil {
		return fmt.Errorf("POST resources/: %w", err)
	}
	var got struct {
		Name string `json:"name"`
	}
	if a.status != 201 || decodeJSON(a.body, &got) != nil || got.Name != body.Name {
		return fmt.Errorf("POST resources/ of %s: %s, want 201 with the resource", body.Name, a)
	}
	return nil
}

func (r *runner) checkPatch(ctx context.Context, i int) error {
	name := Name(r.cfg.Prefix, i)
	k := r.patched.Add(1)
	a, err := r.c.send(ctx, "PATCH", "resources/"+name+"/", map[string]any{"metadata": map[string]any{"reviewed": k}}, true)
	if err != nil {
		return fmt.Errorf("PATCH resources/%s/: %w", name, err)
	}
	var got struct {
		Metadata map[string]any `json:"metadata"`
	}
	if a.status != 200 || decodeJSON(a.body, &got) != nil || fmt.Sprint(got.Metadata["reviewed"]) != strconv.FormatInt(k, 10) {
		return fmt.Errorf("PATCH resources/%s/: %s, want 200 with metadata.reviewed = %d", name, a, k)
	}
	return nil
}
