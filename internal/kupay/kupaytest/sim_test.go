package kupaytest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"paybridge/internal/kupay/kupaytest"
)

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestDocumentedShapes(t *testing.T) {
	srv := kupaytest.NewServer()
	defer srv.Close()
	got := make(chan string, 2)
	cb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Method + " " + r.URL.RequestURI() })}
	ts := startLocal(t, cb)
	// The documented example body, with its float amount.
	body := `{"id":"12345","order_number":"1234","created_at":"2022-05-22T18:58:04+01:00","currency":"USD","amount":123.45,
		"email":"","order_status_url":"https://example.com","cancel_url":"https://example.com/c","paid_url":"https://example.com/p",
		"callback_url":"` + ts + `/cb"}`
	if code, b := call(t, "POST", srv.URL+"/v1/payment/create", "wrong", body); code != 401 || b != "[]" {
		t.Fatalf("bad token: %d %s", code, b)
	}
	code, b := call(t, "POST", srv.URL+"/v1/payment/create", kupaytest.DefaultToken, body)
	if code != 200 || !strings.Contains(b, `"pay_url":"`+srv.URL+`/pay/`) || !strings.Contains(b, `"payment_id"`) {
		t.Fatalf("create: %d %s", code, b)
	}
	id := srv.PaymentIDs()[0]
	code, b = call(t, "GET", srv.URL+"/v1/payment/status/"+id, kupaytest.DefaultToken, "")
	if code != 200 || b != `{"payment_id":"`+id+`","status":"open","created_at":"2022-05-22T18:58:04+01:00","order_number":"1234","currency":"USD","amount":123.45}` {
		t.Fatalf("status: %d %s", code, b)
	}
	if code, b := call(t, "GET", srv.URL+"/v1/payment/status/nope", kupaytest.DefaultToken, ""); code != 404 || b != "[]" {
		t.Fatalf("unknown: %d %s", code, b)
	}
	if code, _ := call(t, "POST", srv.URL+"/v1/payment/create", kupaytest.DefaultToken, strings.Replace(body, `"USD"`, `"KWD"`, 1)); code != 422 {
		t.Fatalf("KWD: %d", code)
	}
	ret, err := srv.Complete(id, kupaytest.Paid)
	if err != nil || ret != "https://example.com/p" {
		t.Fatalf("complete: %q %v", ret, err)
	}
	if c := <-got; c != "GET /cb?order_number=1234&payment_id="+id+"&status=paid" {
		t.Fatalf("callback: %s", c)
	}
	srv.Wait()
	if n := srv.Callbacks(); len(n) != 1 || n[0].Status != 200 {
		t.Fatalf("callbacks: %+v", n)
	}
}

// TestFailNextLongestPrefixFirst: of two matching injections the more
// specific answers first.
func TestFailNextLongestPrefixFirst(t *testing.T) {
	srv := kupaytest.NewServer()
	defer srv.Close()
	srv.FailNext("GET /v1/payment/status/", 500, "any")
	srv.FailNext("GET /v1/payment/status/p1", 502, "p1")
	for _, want := range []struct {
		code int
		body string
	}{{502, "p1"}, {500, "any"}, {404, "[]"}} {
		if code, b := call(t, "GET", srv.URL+"/v1/payment/status/p1", kupaytest.DefaultToken, ""); code != want.code || b != want.body {
			t.Fatalf("got %d %s, want %d %s", code, b, want.code, want.body)
		}
	}
}
