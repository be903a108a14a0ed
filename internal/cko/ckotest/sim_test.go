package ckotest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/cko/ckotest"
)

// call sends a raw request to the simulator, as Checkout.com's API reference
// shows it, independently of the cko client.
func call(t *testing.T, method, url, key, idem, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Cko-Idempotency-Key", idem)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestDocumentedShapes(t *testing.T) {
	srv := ckotest.NewServer()
	defer srv.Close()
	knet := `{"amount":1000,"currency":"KWD","reference":"ord-1","processing_channel_id":"` + ckotest.DefaultProcessingChannel + `",
		"source":{"type":"knet","language":"en","user_defined_field1":"a"},"success_url":"https://m/s","failure_url":"https://m/f"}`
	// 401 without a body for a bad key.
	if code, body := call(t, "POST", srv.URL+"/payments", "sk_nope", "", knet); code != 401 || len(body) != 0 {
		t.Fatalf("bad key: %d %q", code, body)
	}
	// 202 Pending with the redirect link; the idempotency key replays it.
	code, body := call(t, "POST", srv.URL+"/payments", ckotest.DefaultSecretKey, "idem-1", knet)
	var res struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Links  struct {
			Redirect struct{ Href string } `json:"redirect"`
		} `json:"_links"`
	}
	if err := json.Unmarshal(body, &res); code != 202 || err != nil || res.Status != "Pending" || !strings.Contains(res.Links.Redirect.Href, "/knet/") {
		t.Fatalf("request: %d %s", code, body)
	}
	if code, again := call(t, "POST", srv.URL+"/payments", ckotest.DefaultSecretKey, "idem-1", knet); code != 202 || !bytes.Equal(again, body) {
		t.Fatalf("replay: %d %s", code, again)
	}
	if code, _ := call(t, "POST", srv.URL+"/payments", ckotest.DefaultSecretKey, "idem-1", strings.Replace(knet, "1000", "2000", 1)); code != 409 {
		t.Fatalf("reused key, other body: %d", code)
	}
	// 422 with error codes: the trailing-zero rule, a missing channel.
	for _, tt := range []struct{ body, code string }{
		{strings.Replace(knet, "1000", "1005", 1), "amount_invalid"},
		{strings.Replace(knet, `"processing_channel_id":"`+ckotest.DefaultProcessingChannel+`",`, "", 1), "processing_channel_id_required"},
		{strings.Replace(knet, `"language":"en"`, `"language":"fr"`, 1), "language_invalid"},
		{strings.Replace(knet, `"KWD"`, `"USD"`, 1), "currency_not_supported"},
	} {
		code, body := call(t, "POST", srv.URL+"/payments", ckotest.DefaultSecretKey, "", tt.body)
		if code != 422 || !strings.Contains(string(body), `"error_type":"request_invalid"`) || !strings.Contains(string(body), tt.code) {
			t.Errorf("want %s: %d %s", tt.code, code, body)
		}
	}
	// Unknown payment: 404, no body. Another account's payment: 404 too.
	if code, body := call(t, "GET", srv.URL+"/payments/pay_nope", ckotest.DefaultSecretKey, "", ""); code != 404 || len(body) != 0 {
		t.Fatalf("unknown: %d %q", code, body)
	}
	srv.AddAccount("sk_other", "pc_other", "whk_other")
	if code, _ := call(t, "GET", srv.URL+"/payments/"+res.ID, "sk_other", "", ""); code != 404 {
		t.Fatalf("another account's payment: %d", code)
	}
	// Refund before capture is not allowed; after, 202 with an action id.
	if code, _ := call(t, "POST", srv.URL+"/payments/"+res.ID+"/refunds", ckotest.DefaultSecretKey, "r1", `{"amount":500}`); code != 403 {
		t.Fatalf("refund of a pending payment: %d", code)
	}
	if _, err := srv.Complete(res.ID, ckotest.Captured); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Complete(res.ID, ckotest.Canceled); err == nil {
		t.Fatal("completed twice")
	}
	code, body = call(t, "POST", srv.URL+"/payments/"+res.ID+"/refunds", ckotest.DefaultSecretKey, "r2", `{"amount":500,"reference":"ref-1"}`)
	if code != 202 || !strings.Contains(string(body), `"action_id":"act_`) {
		t.Fatalf("refund: %d %s", code, body)
	}
	code, body = call(t, "GET", srv.URL+"/payments/"+res.ID, ckotest.DefaultSecretKey, "", "")
	if code != 200 || !strings.Contains(string(body), `"status":"Partially Refunded"`) || !strings.Contains(string(body), `"total_refunded":500`) ||
		!strings.Contains(string(body), `"knet_result":"CAPTURED"`) || !strings.Contains(string(body), `"amount":1000`) {
		t.Fatalf("details: %d %s", code, body)
	}
	code, body = call(t, "GET", srv.URL+"/payments/"+res.ID+"/actions", ckotest.DefaultSecretKey, "", "")
	if code != 200 || !strings.Contains(string(body), `"type":"Refund"`) || !strings.Contains(string(body), `"type":"Capture"`) {
		t.Fatalf("actions: %d %s", code, body)
	}
	srv.FailNext("GET /payments/", 500, "boom")
	if code, _ := call(t, "GET", srv.URL+"/payments/"+res.ID, ckotest.DefaultSecretKey, "", ""); code != 500 {
		t.Fatalf("FailNext: %d", code)
	}
	if n := len(srv.Requests("POST /payments")); n != 8 {
		t.Fatalf("logged %d POST /payments", n)
	}
}

// TestPageLifetimeOnFakeClock: the KNET page expires on the simulator's
// clock, seven minutes after the shopper lands, with a payment_expired
// webhook; no test has to sleep through it.
func TestPageLifetimeOnFakeClock(t *testing.T) {
	fc := clockwork.NewFakeClock()
	srv := ckotest.NewServer()
	defer srv.Close()
	srv.SetClock(fc)
	hooks := make(chan string, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Type string }
		_ = json.NewDecoder(r.Body).Decode(&ev)
		hooks <- ev.Type
	}))
	defer rcv.Close()
	srv.SetWebhookURL(func(_, _ string) string { return rcv.URL })
	code, body := call(t, "POST", srv.URL+"/payments", ckotest.DefaultSecretKey, "", `{"amount":1000,"currency":"KWD","reference":"ord-1",
		"processing_channel_id":"`+ckotest.DefaultProcessingChannel+`","source":{"type":"knet","language":"en"},"success_url":"https://m/s","failure_url":"https://m/f"}`)
	var res struct {
		ID    string `json:"id"`
		Links struct {
			Redirect struct{ Href string } `json:"redirect"`
		} `json:"_links"`
	}
	if err := json.Unmarshal(body, &res); code != 202 || err != nil {
		t.Fatalf("request: %d %s", code, body)
	}
	status := func() string {
		_, b := call(t, "GET", srv.URL+"/payments/"+res.ID, ckotest.DefaultSecretKey, "", "")
		var p struct{ Status string }
		_ = json.Unmarshal(b, &p)
		return p.Status
	}
	if code, _ := call(t, "GET", res.Links.Redirect.Href, "", "", ""); code != 200 { // the shopper lands
		t.Fatalf("page: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, 1); err != nil { // the expiry timer runs
		t.Fatal(err)
	}
	fc.Advance(ckotest.DefaultPageLifetime - time.Second)
	if s := status(); s != ckotest.Pending {
		t.Fatalf("a second before expiry: %s", s)
	}
	fc.Advance(time.Second)
	select {
	case typ := <-hooks:
		if typ != "payment_expired" {
			t.Fatalf("webhook %s", typ)
		}
	case <-ctx.Done():
		t.Fatal("no payment_expired webhook")
	}
	if s := status(); s != ckotest.Expired {
		t.Fatalf("after expiry: %s", s)
	}
}

// TestFailNextLongestPrefixFirst: of two matching injections the more
// specific answers first, every time.
func TestFailNextLongestPrefixFirst(t *testing.T) {
	srv := ckotest.NewServer()
	defer srv.Close()
	srv.FailNext("GET /payments", 500, "")
	srv.FailNext("GET /payments/pay_x", 503, "")
	for _, want := range []int{503, 500, 404} {
		if code, _ := call(t, "GET", srv.URL+"/payments/pay_x", ckotest.DefaultSecretKey, "", ""); code != want {
			t.Fatalf("got %d, want %d", code, want)
		}
	}
}
