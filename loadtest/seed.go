package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// msgResourceExists is how the API refuses a name already taken; a seeded
// name refused with it was seeded before.
const msgResourceExists = "a resource with this name already exists"

// seedAttempts is how many times a create that failed for a passing reason
// (no answer, a 5xx) is sent before seeding gives up.
const seedAttempts = 3

// seedDataTypes and seedArchives are the datatypes and archives seeded
// resources use, as the API takes them on create, in order of name as an
// export lists them.
var (
	seedDataTypes = []seedDataType{
		{Name: dataTypePlain, ContentType: "application/vnd.meliza-org.pprox+json; version=1.0", Extension: "pprox"},
		{Name: dataTypeDownloadable, ContentType: "audio/wav", Extension: "wav", Downloadable: true},
	}
	seedArchives = []seedArchive{
		{Name: archiveLocal, Scheme: "neurobank", Root: "/srv/loadtest/local", Accessibility: "local"},
		{Name: archiveRemote, Scheme: "https", Root: "loadtest.example.org/archive", Accessibility: "remote"},
	}
)

type seedDataType struct {
	Name         string `json:"name"`
	ContentType  string `json:"content_type"`
	Extension    string `json:"extension"`
	Downloadable bool   `json:"downloadable"`
}

type seedArchive struct {
	Name          string `json:"name"`
	Scheme        string `json:"scheme"`
	Root          string `json:"root"`
	Accessibility string `json:"accessibility"`
}

// ensureCollections creates the datatypes and archives seeded resources
// use, leaving those that exist as they are.
func ensureCollections(ctx context.Context, c *client) error {
	for _, d := range seedDataTypes {
		if err := ensureCollection(ctx, c, "datatypes/", d.Name, d); err != nil {
			return err
		}
	}
	for _, a := range seedArchives {
		if err := ensureCollection(ctx, c, "archives/", a.Name, a); err != nil {
			return err
		}
	}
	return nil
}

func ensureCollection(ctx context.Context, c *client, path, name string, body any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	a, err := c.send(ctx, "GET", path+name+"/", nil, false)
	if err != nil {
		return fmt.Errorf("GET %s%s/: %w", path, name, err)
	}
	if a.ok() {
		return nil
	}
	a, err = c.send(ctx, "POST", path, body, true)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	// Another run may have created it since the GET.
	if !a.ok() && !(a.status == 400 && bytes.Contains(a.body, []byte("already exists"))) {
		return fmt.Errorf("cannot create %s%s/ (answer %s)", path, name, a)
	}
	return nil
}

// SeedReport says what seeding did.
type SeedReport struct {
	// Requested is the number of resources asked for.
	Requested int `json:"requested"`
	// Created were created by this run; Existing were there already
	// (found by probing, or refused as existing).
	Created  int `json:"created"`
	Existing int `json:"existing"`
	// Seconds is how long seeding took, and PerSecond how many creates
	// per second it sent.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"creates_per_second"`
}

// seedBody is a resource create as the API takes it.
type seedBody struct {
	Name      string         `json:"name"`
	DataType  string         `json:"dtype"`
	SHA1      string         `json:"sha1"`
	Metadata  map[string]any `json:"metadata"`
	Locations []string       `json:"locations"`
}

// seedRecord returns the create of seeded resource i.
func seedRecord(prefix string, i int) seedBody {
	name := Name(prefix, i)
	return seedBody{Name: name, DataType: DataType(i), SHA1: SHA1(name), Metadata: Metadata(i), Locations: Locations(i)}
}

// seed makes sure resources 0..cfg.Seed-1 exist, creating them one by one
// from cfg.Concurrency clients (the API has no bulk create). Names found
// taken count as seeded, so an interrupted seed resumes where it stopped:
// a probe finds how far an earlier run got, and only the last few names
// before that point, which clients may have left out when it was
// interrupted, are sent again.
func seed(ctx context.Context, c *client, cfg *Config) (*SeedReport, error) {
	start := time.Now()
	report := &SeedReport{Requested: cfg.Seed}
	first, err := probeFirstMissing(ctx, c, cfg.Prefix, 0)
	if err != nil {
		return nil, err
	}
	first = min(max(0, first-16*cfg.Concurrency-256), cfg.Seed)
	report.Existing = first

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next             atomic.Int64
		created, existed atomic.Int64
		failOnce         sync.Once
		failure          error
		wg               sync.WaitGroup
	)
	next.Store(int64(first))
	fail := func(err error) {
		failOnce.Do(func() { failure = err; cancel() })
	}
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= cfg.Seed {
					return
				}
				isNew, err := seedOne(ctx, c, cfg.Prefix, i)
				switch {
				case err != nil:
					fail(err)
				case isNew:
					created.Add(1)
				default:
					existed.Add(1)
				}
			}
		}()
	}
	done := make(chan struct{})
	if cfg.Progress != nil {
		go func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					cfg.Progress(int64(first)+created.Load()+existed.Load(), int64(cfg.Seed))
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	if failure != nil {
		return nil, failure
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		cfg.Progress(int64(cfg.Seed), int64(cfg.Seed))
	}
	report.Created = int(created.Load())
	report.Existing += int(existed.Load())
	report.Seconds = time.Since(start).Seconds()
	if sent := report.Requested - first; sent > 0 {
		report.PerSecond = float64(sent) / report.Seconds
	}
	return report, nil
}

// seedOne creates seeded resource i and reports whether it is new; a name
// already taken is no failure.
func seedOne(ctx context.Context, c *client, prefix string, i int) (bool, error) {
	body := seedRecord(prefix, i)
	var last string
	for attempt := range seedAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		a, err := c.send(rctx, "POST", "resources/", body, true)
		cancel()
		switch {
		case ctx.Err() != nil:
			return false, ctx.Err()
		case err != nil:
			last = err.Error()
			continue
		case a.status == 201:
			return true, nil
		case a.status == 400 && bytes.Contains(a.body, []byte(msgResourceExists)):
			return false, nil
		case a.status >= 500:
			last = a.String()
			continue
		}
		return false, fmt.Errorf("seeding stopped: the registry refused to create %s (answer %s)", body.Name, a)
	}
	return false, fmt.Errorf("seeding stopped: no good answer to creating %s after %d attempts (last: %s)", body.Name, seedAttempts, last)
}

// probeFirstMissing returns the first index from known whose seeded name
// the registry does not know (answers 404 for), assuming the names before
// known exist and that seeded names fill a range from 0.
func probeFirstMissing(ctx context.Context, c *client, prefix string, known int) (int, error) {
	return firstMissing(known, func(i int) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		path := "resources/" + Name(prefix, i) + "/"
		a, err := c.send(rctx, "GET", path, nil, false)
		switch {
		case err != nil:
			return false, fmt.Errorf("GET %s: %w", path, err)
		case a.status == 200:
			return true, nil
		case a.status == 404:
			return false, nil
		}
		return false, fmt.Errorf("GET %s: unexpected answer %s", path, a)
	})
}

// firstMissing returns the first index from known for which exists is
// false, given that it is true before known and, from 0, true up to some
// index and false after: it doubles a step until an index is missing, then
// bisects, asking about 2·log2(n) times.
func firstMissing(known int, exists func(int) (bool, error)) (int, error) {
	lo, step := known, 1 // indices before lo exist
	hi := -1             // a missing index, once found
	for hi < 0 {
		ok, err := exists(lo + step - 1)
		if err != nil {
			return 0, err
		}
		if ok {
			lo += step
			step *= 2
		} else {
			hi = lo + step - 1
		}
	}
	for lo < hi { // indices before lo exist, hi is missing
		mid := lo + (hi-lo)/2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// decodeJSON decodes one JSON value, keeping numbers as written.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}
