package main_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestServeMetrics checks that serve --metrics serves Prometheus metrics
// on their own address, counting the requests of the API's, and that the
// API's address does not serve them.
func TestServeMetrics(t *testing.T) {
	h := newHome(t)
	client := &http.Client{}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	m := regexp.MustCompile(`nbreg: metrics at (\S+)`).FindStringSubmatch(s.log())
	if m == nil {
		t.Fatalf("serve did not say where its metrics are; stderr:\n%s", s.log())
	}
	for range 3 {
		resp, err := client.Get(s.url + "datatypes/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	root := strings.TrimSuffix(s.url, "neurobank/")
	resp, err := client.Get(root + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the API's address: status %d, want 404", resp.StatusCode)
	}

	resp, err = client.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", m[1], resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	var got float64
	for _, mm := range families["nbreg_http_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range mm.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["route"] == "/neurobank/datatypes/" && labels["method"] == "GET" && labels["code"] == "200" {
			got = mm.GetCounter().GetValue()
		}
	}
	if got != 3 {
		t.Errorf("GET datatypes/ counted %v times, want 3", got)
	}
	// The store's own figures, SQLite's writer queue among them, and the
	// process's.
	for _, name := range []string{"nbreg_registry_users", "nbreg_db_connections_open", "nbreg_db_queued_writes", "process_open_fds"} {
		if families[name] == nil {
			t.Errorf("no %s in the metrics", name)
		}
	}
}
