package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"nbreg/registry"
)

// writeRoutes are the requests whose bodies FuzzWriteBody varies.
var writeRoutes = []struct{ method, path string }{
	{http.MethodPost, "resources/"},
	{http.MethodPatch, "resources/r0/"},
	{http.MethodPut, "resources/r0/"},
	{http.MethodPost, "datatypes/"},
	{http.MethodPost, "archives/"},
	{http.MethodPatch, "archives/local/"},
	{http.MethodPost, "resources/r0/locations/"},
	{http.MethodPost, "bulk/resources/"},
	{http.MethodPost, "bulk/locations/"},
}

var bodyTypes = []string{
	"application/json",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=XyZ",
	"text/plain",
	"",
}

// registryState is what a refused write must leave as it was.
func registryState(tb testing.TB, ts *TestServer) string {
	tb.Helper()
	ctx := context.Background()
	n, err := ts.Store.CountResources(ctx, registry.ResourceFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	dts, err := ts.Store.ListDataTypes(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	as, err := ts.Store.ListArchives(ctx, registry.ArchiveFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	r0 := ts.Get(tb, "resources/r0/").Body.String()
	return fmt.Sprintf("%d resources; %v; %v; %s", n, dts, as, r0)
}

// FuzzWriteBody sends any body, as any media type, to the routes that
// read one: the answer is never a 500, and a refused write changes
// nothing. Plain go test runs the seeds.
func FuzzWriteBody(f *testing.F) {
	ts := MustOpenServer(f)
	ts.seed(f)
	ts.createResource(f, map[string]any{"name": "r0", "dtype": "wave", "locations": []string{"local"},
		"metadata": map[string]any{"a": 1}})
	for _, seed := range []struct {
		route, kind uint8
		body        string
	}{
		{0, 0, `{"name": "n1", "dtype": "wave", "metadata": {"x": [1, {"y": null}]}}`},
		{0, 0, `{"dtype": "wave", "locations": ["local", "nope"]}`},
		{0, 1, `dtype=wave&metadata=%7Bbad&locations=local`},
		{0, 2, "--XyZ\r\nContent-Disposition: form-data; name=\"dtype\"\r\n\r\nwave\r\n--XyZ--\r\n"},
		{1, 0, `{"metadata": {"a": null, "b": 2}, "sha1": "zz"}`},
		{2, 0, `{"dtype": "nope", "metadata": {"c": 3}}`},
		{3, 0, `{"name": "x y", "downloadable": "maybe"}`},
		{4, 0, `{"name": "a1", "scheme": "neurobank", "root": "/home/data/archive"}`},
		{5, 0, `{"accessibility": 7}`},
		{6, 0, `{"archive_name": "backup"}`},
		{7, 0, `{"names": ["r0", 5, null]}`},
		{8, 0, `{"names": "r0"}`},
		{0, 0, `[1, 2`},
		{0, 3, `hello`},
		{0, 0, "\xff\xfe"},
	} {
		f.Add(seed.route, seed.kind, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, route, kind uint8, body []byte) {
		rt := writeRoutes[int(route)%len(writeRoutes)]
		before := registryState(t, ts)
		w := ts.Do(t, req{method: rt.method, path: rt.path, body: body,
			contentType: bodyTypes[int(kind)%len(bodyTypes)], user: adminUser})
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: status %d; body %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		if w.Code >= 300 {
			if after := registryState(t, ts); after != before {
				t.Fatalf("%s %s %q: refused with %d but the registry changed:\nbefore %s\nafter  %s",
					rt.method, rt.path, body, w.Code, before, after)
			}
		}
	})
}
