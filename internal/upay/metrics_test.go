package upay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"paybridge/internal/metrics"
)

// sampleCount reads bridge_gateway_request_duration_seconds for upay/op/outcome.
func sampleCount(t *testing.T, op, outcome string) uint64 {
	t.Helper()
	fams, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "bridge_gateway_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["gateway"] == "upay" && l["op"] == op && l["outcome"] == outcome {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestMetricsObserved(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		w.Write([]byte(`{"status":true,"data":{"transaction":{"track_id":"x"}}}`))
	}))
	defer ok.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()

	before := [3]uint64{sampleCount(t, "status", "ok"), sampleCount(t, "status", "error"), sampleCount(t, "status", "timeout")}
	(&Client{BaseURL: ok.URL, APIKey: "k"}).PaymentStatus(context.Background(), "x")
	(&Client{BaseURL: ok.URL + "/nope", APIKey: "k", HTTPClient: &http.Client{Transport: http.NewFileTransport(http.Dir("/nonexistent"))}}).PaymentStatus(context.Background(), "x")
	(&Client{BaseURL: slow.URL, APIKey: "k", Timeout: 50 * time.Millisecond}).PaymentStatus(context.Background(), "x")
	after := [3]uint64{sampleCount(t, "status", "ok"), sampleCount(t, "status", "error"), sampleCount(t, "status", "timeout")}
	if after[0] != before[0]+1 || after[1] != before[1]+1 || after[2] != before[2]+1 {
		t.Fatalf("ok/error/timeout samples %v → %v", before, after)
	}
}
