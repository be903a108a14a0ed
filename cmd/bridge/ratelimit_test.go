package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// The limits hold through the real wiring: a notification flood for one
// payment, wrong API keys and connect-form posts get 429 with Retry-After
// once over their limit, and a gateway's notifications for many payments
// from one address are not refused.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	b := startBridgeEnv(t, backends[0], &upayDriver{}, map[string]string{
		"BRIDGE_RATE_NOTIFY_PER_PAYMENT":        "5-M",
		"BRIDGE_RATE_AUTH_FAILURES_PER_ADDRESS": "3-M",
		"BRIDGE_RATE_CONNECT_PER_ADDRESS":       "2-M",
	})
	post := func(path, contentType, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(b.base+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	limited := func(what string, resp *http.Response) {
		t.Helper()
		if s, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusTooManyRequests || s < 1 {
			t.Fatalf("%s: %d, Retry-After %q; want 429 with a delay", what, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}

	// One payment: five notifications pass, the sixth is refused.
	p := b.create("flood", "1.000", "KWD")
	id := p["id"].(string)
	form := url.Values{"result": {"CAPTURED"}, "track_id": {"T1"}}.Encode()
	for i := range 5 {
		if resp := post("/notify/upay/"+id, "application/x-www-form-urlencoded", form); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("notification %d refused", i+1)
		}
	}
	limited("the sixth notification for one payment", post("/notify/upay/"+id, "application/x-www-form-urlencoded", form))
	// Many payments from the same address: one each, none refused.
	for i := range 8 {
		q := b.create("many-"+strconv.Itoa(i), "1.000", "KWD")
		if resp := post("/notify/upay/"+q["id"].(string), "application/x-www-form-urlencoded", form); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("a notification for payment %d refused", i)
		}
	}

	// Wrong API keys: three 401s, then 429 even for the right key.
	wrong := func(key string) int {
		req, _ := http.NewRequest("GET", b.base+"/api/v1/payments/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 3 {
		if code := wrong("pbk_wrong"); code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d", i+1, code)
		}
	}
	if code := wrong("pbk_wrong"); code != http.StatusTooManyRequests {
		t.Fatalf("the fourth wrong key: %d", code)
	}

	// The WooCommerce connect form: two posts, then 429.
	for i := range 2 {
		if resp := post("/woocommerce/connect", "application/x-www-form-urlencoded", "store_url=https%3A%2F%2Fshop.example"); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("connect post %d refused", i+1)
		}
	}
	limited("the third connect post", post("/woocommerce/connect", "application/x-www-form-urlencoded", "store_url=x"))
}
