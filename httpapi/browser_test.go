package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"nbreg/httpapi"
	"nbreg/registry"
)

// findChromium returns the path of a Chromium to drive, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// startBrowser starts a headless Chromium for the test, closed when it
// ends, or skips the test where none is installed.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		t.Skip("no Chromium installed (looked for chromium, chromium-browser, /usr/bin/chromium): " +
			"browser tests skipped; install it with apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, without a deadline (a deadline on the first
	// run would bound the browser's life); the steps get one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// seedBrowsing creates the records the browser test walks through: 30
// resources, 24 of them from bird1, so that a search has three pages of 10.
func seedBrowsing(t *testing.T, ts *TestServer) {
	t.Helper()
	ts.seed(t)
	var rs []*registry.Resource
	for i := range 30 {
		subject := "bird1"
		if i%5 == 4 {
			subject = "bird2"
		}
		rs = append(rs, &registry.Resource{
			Name:      fmt.Sprintf("song%02d", i),
			DType:     "wave",
			SHA1:      fmt.Sprintf("%040x", i+1),
			Metadata:  registry.Metadata{"subject": subject, "experimenter": "dmeliza", "stimulus": map[string]any{"kind": "song", "rate": 44100}},
			Locations: []string{"local", "backup", "tape1"},
		})
	}
	if err := ts.Store.CreateResources(context.Background(), rs, editorUser); err != nil {
		t.Fatal(err)
	}
}

func TestBrowser(t *testing.T) {
	ctx := startBrowser(t)
	ts := MustOpenServer(t, func(c *httpapi.Config) { c.PageSize = 10 })
	seedBrowsing(t, ts)
	srv := httptest.NewServer(ts)
	defer srv.Close()
	root := srv.URL + ts.URL("")

	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	location := func() string {
		t.Helper()
		u, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// waitFor waits until the page's URL contains want (after a click that
	// navigates), then until the page has loaded.
	waitFor := func(want string) {
		t.Helper()
		for !strings.Contains(location(), want) {
			if ctx.Err() != nil {
				t.Fatalf("never reached a URL with %q; at %s", want, location())
			}
			time.Sleep(20 * time.Millisecond)
		}
		do("load "+want, chromedp.WaitReady(chromedp.CSS("footer")))
	}
	screens := os.Getenv("NBREG_SCREENSHOTS")
	shoot := func(name string) {
		t.Helper()
		if screens == "" {
			return
		}
		for _, size := range []struct {
			label         string
			width, height int64
			mobile        bool
		}{{"phone", 390, 844, true}, {"laptop", 1366, 800, false}} {
			opts := []chromedp.EmulateViewportOption{}
			if size.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
			}
			do("resize", chromedp.EmulateViewport(size.width, size.height, opts...))
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if err := os.WriteFile(filepath.Join(screens, name+"-"+size.label+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		do("restore size", chromedp.EmulateViewport(1366, 800))
	}

	t.Run("SignIn", func(t *testing.T) {
		do("open the sign-in page", chromedp.Navigate(root+"auth/login/?next="+ts.URL("resources/")))
		do("sign in",
			chromedp.SetValue(chromedp.CSS("#username"), editorUser),
			chromedp.SetValue(chromedp.CSS("#password"), passwordOf(editorUser)),
			chromedp.Click(chromedp.CSS("#sign-in-submit")),
		)
		waitFor("/resources/")
		if got := text(".account strong"); got != editorUser {
			t.Errorf("signed in as %q", got)
		}
	})
	t.Run("SearchWithAMetadataRow", func(t *testing.T) {
		do("fill in a metadata row",
			chromedp.SetValue(chromedp.CSS("#mkey-0"), "subject"),
			chromedp.SetValue(chromedp.CSS("#mlookup-0"), "exact"),
			chromedp.SetValue(chromedp.CSS("#mvalue-0"), "bird1"),
			chromedp.SetValue(chromedp.CSS("#s-dtype"), "wave"),
			chromedp.Click(chromedp.CSS("#search")),
		)
		waitFor("metadata__subject=bird1")
		if u := location(); !strings.HasSuffix(u, ts.URL("resources/?dtype=wave&metadata__subject=bird1")) {
			t.Errorf("search URL %s is not the API's", u)
		}
		if got := text("#total"); got != "24" {
			t.Errorf("count %s, want 24", got)
		}
		shoot("search")
	})
	t.Run("PageThroughResults", func(t *testing.T) {
		do("next page", chromedp.Click(chromedp.CSS("#next-page")))
		waitFor("page=2")
		if u := location(); !strings.Contains(u, "metadata__subject=bird1") {
			t.Errorf("page 2 lost the filter: %s", u)
		}
		rows, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("table.resources tbody tr")))
		if err != nil || len(rows) != 10 {
			t.Errorf("page 2 has %d rows (%v)", len(rows), err)
		}
		if got := text("table.resources tbody tr td a"); got != "song12" {
			t.Errorf("page 2 starts with %s, want song12", got)
		}
		do("next page", chromedp.Click(chromedp.CSS("#next-page")))
		waitFor("page=3")
		rows, _ = chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("table.resources tbody tr")))
		if len(rows) != 4 {
			t.Errorf("page 3 has %d rows, want 4", len(rows))
		}
	})
	t.Run("OpenAResource", func(t *testing.T) {
		do("open", chromedp.Click(chromedp.CSS("table.resources tbody tr td a")))
		waitFor("/resources/song")
		if got := text("table.metadata tbody tr th"); got != "experimenter" {
			t.Errorf("first metadata key %q", got)
		}
		// Locations in preference order: local, remote, offline.
		locs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("a.location")].map(a => a.textContent)`))
		if err != nil || strings.Join(locs, ",") != "local,backup,tape1" {
			t.Errorf("locations %v (%v)", locs, err)
		}
		shoot("resource")
		if screens != "" {
			if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
				t.Fatal(err)
			}
			shoot("resource-dark")
			if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("FollowALocation", func(t *testing.T) {
		do("follow", chromedp.Click(chromedp.CSS("a.location")))
		waitFor("/locations/local/")
		if got := text("#location-archive"); got != "local" {
			t.Errorf("location page names archive %q", got)
		}
	})
	t.Run("CreateAResourceThroughTheForm", func(t *testing.T) {
		do("open the form", chromedp.Navigate(root+"resources/"), chromedp.Click(chromedp.CSS("#new-resource summary")))
		do("fill it in",
			chromedp.SetValue(chromedp.CSS("#r-name"), "fromtheweb"),
			chromedp.SetValue(chromedp.CSS("#r-dtype"), "wave"),
			chromedp.Click(chromedp.CSS("#r-loc-1")),
			chromedp.SetValue(chromedp.CSS("#r-meta"), `{"made_by": "chromium"}`),
			chromedp.Click(chromedp.CSS("#create-resource")),
		)
		waitFor("/resources/fromtheweb/")
		res, err := ts.Store.FindResource(context.Background(), "fromtheweb")
		if err != nil || res.Metadata["made_by"] != "chromium" || res.CreatedBy != editorUser || len(res.Locations) != 1 {
			t.Errorf("stored %+v (%v)", res, err)
		}
	})
	t.Run("ValidationErrorBesideItsField", func(t *testing.T) {
		do("open the form", chromedp.Navigate(root+"resources/"), chromedp.Click(chromedp.CSS("#new-resource summary")))
		do("submit a bad name",
			chromedp.SetValue(chromedp.CSS("#r-name"), "fromtheweb"),
			chromedp.SetValue(chromedp.CSS("#r-dtype"), "wave"),
			chromedp.Click(chromedp.CSS("#create-resource")),
		)
		do("wait for the error", chromedp.WaitVisible(chromedp.CSS(".field-error")))
		msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#r-name").closest(".field").querySelector(".field-error").textContent`))
		if err != nil || msg != "a resource with this name already exists" {
			t.Errorf("message beside the name: %q (%v)", msg, err)
		}
		if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#r-dtype"))); v != "wave" {
			t.Errorf("the form lost the datatype: %q", v)
		}
	})
	t.Run("SignOut", func(t *testing.T) {
		do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
		do("resources", chromedp.Navigate(root+"resources/"))
		if n, _ := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#new-resource"), chromedp.AtLeast(0))); len(n) != 0 {
			t.Error("signed out, the page still offers the form")
		}
	})
}
