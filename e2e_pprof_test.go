package main_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestServeProfiles checks that serve --pprof serves Go's runtime profiles
// on their own address, and only there.
func TestServeProfiles(t *testing.T) {
	h := newHome(t)
	client := &http.Client{}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--pprof", "127.0.0.1:0")
	m := regexp.MustCompile(`nbreg: runtime profiles at (\S+)`).FindStringSubmatch(s.log())
	if m == nil {
		t.Fatalf("serve did not say where its profiles are; stderr:\n%s", s.log())
	}
	resp, err := client.Get(m[1] + "goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "goroutine profile: total ") {
		t.Errorf("goroutine profile: status %d, body %.100q", resp.StatusCode, body)
	}
	// The API's own address does not serve them.
	root := strings.TrimSuffix(s.url, "neurobank/")
	resp, err = client.Get(root + "debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("debug/pprof/ on the API's address: status %d, want 404", resp.StatusCode)
	}
}
