package upaytest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"paybridge/internal/upay/upaytest"
)

func TestLatency(t *testing.T) {
	t.Parallel()
	ts := httptest.NewUnstartedServer(nil)
	sim := upaytest.New("http://" + ts.Listener.Addr().String())
	lat := upaytest.NewLatency(sim)
	ts.Config.Handler = lat
	ts.Start()
	defer ts.Close()

	const d = 150 * time.Millisecond
	tests := []struct {
		name    string
		delay   time.Duration
		path    string
		delayed bool
	}{
		{"API held", d, "/api/v1/check-payment-button-status", true},
		{"hosted page not held", d, "/pay/nope", false},
		{"zero delay", 0, "/api/v1/check-payment-button-status", false},
		{"negative is zero", -d, "/api/v1/check-payment-button-status", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lat.Set(tc.delay)
			req, _ := http.NewRequest("GET", ts.URL+tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+upaytest.DefaultKey)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			took := time.Since(start)
			// Only the lower bound is asserted: a held request cannot
			// answer before its delay; how much later is the machine's.
			if tc.delayed && took < d {
				t.Errorf("%s answered in %v, want at least %v", tc.path, took, d)
			}
			if !tc.delayed && lat.Delay() != 0 && strings.HasPrefix(tc.path, "/api/") {
				t.Errorf("Delay() = %v after Set(%v), want 0", lat.Delay(), tc.delay)
			}
			if tc.delayed && resp.StatusCode != http.StatusCreated {
				t.Errorf("%s: %d after the delay, want the simulator's 201", tc.path, resp.StatusCode)
			}
		})
	}

	// A client that gives up while held: the simulator never sees the request.
	lat.Set(3 * time.Second)
	before := len(sim.Charges())
	c := &http.Client{Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/charge", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+upaytest.DefaultKey)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a request held for 3s answered %d", resp.StatusCode)
	}
	// Close waits for the held request: once its client is gone it ends
	// without reaching the simulator, instead of charging 3s later.
	ts.Close()
	if got := len(sim.Charges()); got != before {
		t.Errorf("the simulator logged %d charges from a request its client abandoned", got-before)
	}
}
