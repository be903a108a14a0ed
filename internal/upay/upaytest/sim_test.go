package upaytest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/upay/upaytest"
)

func call(t *testing.T, method, u, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		m = map[string]any{"_raw": string(raw)}
	}
	return resp.StatusCode, m
}

func charge(orderID, amount, currency, base string) string {
	return fmt.Sprintf(`{"order":{"id":%q,"description":"d","currency":%q,"amount":%s},"reference":{"id":"r"},
		"customer":{"uniqueId":"u"},"language":"en","returnUrl":%q,"cancelUrl":%q,"notificationUrl":%q}`,
		orderID, currency, amount, base+"/return", base+"/cancel", base+"/notify")
}

func TestAuthAndValidation(t *testing.T) {
	srv := upaytest.NewServer()
	defer srv.Close()
	api := srv.APIBase()

	code, m := call(t, "POST", api+"/charge", "", charge("o1", "1", "KWD", "https://x"))
	if code != 401 || m["message"] != "Unauthorized" {
		t.Fatalf("no key: %d %v", code, m)
	}
	if code, _ := call(t, "POST", api+"/charge", "other", charge("o1", "1", "KWD", "https://x")); code != 401 {
		t.Fatalf("unknown key: %d", code)
	}
	srv.AddKey("other")
	if code, m := call(t, "POST", api+"/charge", "other", charge("o1", "1", "KWD", "https://x")); code != 201 || m["status"] != true {
		t.Fatalf("added key: %d %v", code, m)
	}

	code, m = call(t, "POST", api+"/charge", upaytest.DefaultKey, `{}`)
	errs := fmt.Sprint(m["errors"])
	if code != 422 || m["message"] == "" || !strings.Contains(errs, "order field") || !strings.Contains(errs, "language") ||
		!strings.Contains(errs, "returnUrl") || !strings.Contains(errs, "notificationUrl") {
		t.Fatalf("empty charge: %d %v", code, m)
	}
	for _, tc := range []struct{ amount, cur, want string }{
		{"12.3456", "KWD", "order.amount"},
		{"0", "KWD", "greater than 0"},
		{`"abc"`, "KWD", "JSON"},
		{"1.5", "JPY", "order.amount"},
		{"1", "XYZ", "order.amount"},
	} {
		code, m := call(t, "POST", api+"/charge", upaytest.DefaultKey, charge("o2", tc.amount, tc.cur, "https://x"))
		if code != 422 || !strings.Contains(fmt.Sprint(m["errors"]), tc.want) {
			t.Errorf("%s %s: %d %v", tc.amount, tc.cur, code, m)
		}
	}
	inv := strings.Replace(charge("o3", "1", "KWD", "https://x"), `"language"`, `"paymentGateway":{"src":"create-invoice"},"language"`, 1)
	if code, m := call(t, "POST", api+"/charge", upaytest.DefaultKey, inv); code != 422 || !strings.Contains(fmt.Sprint(m["errors"]), "notificationType") {
		t.Fatalf("invoice without notificationType: %d %v", code, m)
	}
	if code, _ := call(t, "GET", api+"/charge", upaytest.DefaultKey, ""); code != 405 {
		t.Fatalf("GET charge: %d", code)
	}
	if code, _ := call(t, "GET", api+"/nope", upaytest.DefaultKey, ""); code != 404 {
		t.Fatalf("unknown route: %d", code)
	}
	if got := len(srv.Charges()); got != 11 {
		t.Fatalf("Charges() has %d bodies, want every request that reached the route (11)", got)
	}
}

func TestStatusShapeAndFailNext(t *testing.T) {
	srv := upaytest.NewServer()
	defer srv.Close()
	api := srv.APIBase()
	_, m := call(t, "POST", api+"/charge", upaytest.DefaultKey, charge("o1", "1.5", "KWD", "https://x"))
	track := m["data"].(map[string]any)["trackId"].(string)

	_, m = call(t, "GET", api+"/get-payment-status/"+track, upaytest.DefaultKey, "")
	tx := m["data"].(map[string]any)["transaction"].(map[string]any)
	if v, ok := tx["result"]; !ok || v != nil {
		t.Errorf("result before the shopper acts = %v, want null", v)
	}
	if tx["total_price"] != "1.500" || tx["currency_type"] != "KWD" || tx["merchant_requested_order_id"] != "o1" || tx["track_id"] != track {
		t.Errorf("transaction = %v", tx)
	}
	srv.SetResult(track, upaytest.Captured)
	_, m = call(t, "GET", api+"/get-payment-status/"+track, upaytest.DefaultKey, "")
	tx = m["data"].(map[string]any)["transaction"].(map[string]any)
	if tx["result"] != "CAPTURED" || tx["payment_id"] == nil || !strings.Contains(tx["redirect_url"].(string), "?payment_id=") {
		t.Errorf("transaction after = %v", tx)
	}

	srv.FailNext("/api/v1/get-payment-status", 500, "boom")
	srv.FailNext("get-payment-status", 200, "<html>whitelist</html>")
	if code, m := call(t, "GET", api+"/get-payment-status/"+track, upaytest.DefaultKey, ""); code != 500 || m["_raw"] != "boom" {
		t.Fatalf("first injected: %d %v", code, m)
	}
	if code, m := call(t, "GET", api+"/get-payment-status/"+track, upaytest.DefaultKey, ""); code != 200 || m["_raw"] != "<html>whitelist</html>" {
		t.Fatalf("second injected: %d %v", code, m)
	}
	if code, _ := call(t, "GET", api+"/get-payment-status/"+track, upaytest.DefaultKey, ""); code != 201 {
		t.Fatalf("after injections: %d", code)
	}
}

func TestHostedPageAndNotifications(t *testing.T) {
	var mu sync.Mutex
	var got []url.Values
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		got = append(got, r.PostForm)
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot) // logged as our answer
	}))
	defer merchant.Close()

	// Mounted under a prefix of another server, as in a demo.
	mux := http.NewServeMux()
	front := httptest.NewUnstartedServer(mux)
	sim := upaytest.New("http://" + front.Listener.Addr().String() + "/upay-sim")
	mux.Handle("/upay-sim/", http.StripPrefix("/upay-sim", sim))
	front.Start()
	defer front.Close()
	sim.SetNotifyPolicy(upaytest.NotifyPolicy{Times: 2, Delay: 5 * time.Millisecond})

	_, m := call(t, "POST", sim.APIBase()+"/charge", upaytest.DefaultKey, charge("o1", "3", "USD", merchant.URL))
	link := m["data"].(map[string]any)["link"].(string)
	if !strings.HasPrefix(link, front.URL+"/upay-sim/pay/") {
		t.Fatalf("link %q", link)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// done closes the body of a response the test reads only the head of.
	done := func(resp *http.Response, err error) *http.Response {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := done(hc.PostForm(link, url.Values{"result": {"MAYBE"}}))
	if resp.StatusCode != 400 {
		t.Fatalf("bad pick: %d", resp.StatusCode)
	}
	resp = done(hc.PostForm(link, url.Values{"result": {"NOT CAPTURED"}}))
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, merchant.URL+"/cancel?payment_id=") ||
		!strings.Contains(loc, "result=NOT+CAPTURED") {
		t.Fatalf("redirect %d %q", resp.StatusCode, loc)
	}
	resp = done(hc.PostForm(link, url.Values{"result": {"CAPTURED"}}))
	if resp.StatusCode != 409 {
		t.Fatalf("second pick: %d", resp.StatusCode)
	}
	resp = done(hc.Get(front.URL + "/upay-sim/pay/unknown"))
	if resp.StatusCode != 404 {
		t.Fatalf("unknown page: %d", resp.StatusCode)
	}
	sim.Wait()
	n := sim.Notifications()
	if len(n) != 2 || n[0].Status != http.StatusTeapot || n[0].Fields.Get("result") != "NOT CAPTURED" || n[0].Forged {
		t.Fatalf("notifications = %+v", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Get("requested_order_id") != "o1" || got[0].Get("track_id") == "" {
		t.Fatalf("merchant got %v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := upaytest.NewServer()
	defer srv.Close()
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer merchant.Close()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, m := call(t, "POST", srv.APIBase()+"/charge", upaytest.DefaultKey, charge(fmt.Sprint("o", i), "1", "KWD", merchant.URL))
			track := m["data"].(map[string]any)["trackId"].(string)
			if _, err := srv.Complete(track, upaytest.Captured); err != nil {
				t.Error(err)
			}
			srv.Notifications()
			srv.Charges()
		})
	}
	wg.Wait()
	srv.Wait()
	if len(srv.TrackIDs()) != 20 || len(srv.Notifications()) != 20 {
		t.Fatalf("%d charges, %d notifications", len(srv.TrackIDs()), len(srv.Notifications()))
	}
}

// TestFailNextLongestPrefixFirst: of two matching injections the more
// specific answers first, whatever the order they were made in.
func TestFailNextLongestPrefixFirst(t *testing.T) {
	srv := upaytest.NewServer()
	defer srv.Close()
	api := srv.APIBase()
	srv.FailNext("get-payment-status", 500, "any status")
	srv.FailNext("get-payment-status/abc", 503, "this one")
	for _, want := range []struct {
		code int
		raw  string
	}{{503, "this one"}, {500, "any status"}, {201, ""}} {
		code, m := call(t, "GET", api+"/get-payment-status/abc", upaytest.DefaultKey, "")
		if code != want.code || (want.raw != "" && m["_raw"] != want.raw) {
			t.Fatalf("got %d %v, want %d %q", code, m, want.code, want.raw)
		}
	}
}

// TestNotifyDelayOnFakeClock: a delayed notification waits for the
// simulator's clock, and is stamped with it.
func TestNotifyDelayOnFakeClock(t *testing.T) {
	got := make(chan url.Values, 1)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- r.PostForm
	}))
	defer merchant.Close()
	fc := clockwork.NewFakeClock()
	srv := upaytest.NewServer()
	defer srv.Close()
	srv.SetClock(fc)
	srv.SetNotifyPolicy(upaytest.NotifyPolicy{Delay: time.Minute})
	_, m := call(t, "POST", srv.APIBase()+"/charge", upaytest.DefaultKey, charge("o1", "1", "KWD", merchant.URL))
	track := m["data"].(map[string]any)["trackId"].(string)
	start := fc.Now()
	if _, err := srv.Complete(track, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := srv.Notifications(); len(n) != 0 {
		t.Fatalf("sent before the delay: %+v", n)
	}
	fc.Advance(time.Minute)
	srv.Wait()
	n := srv.Notifications()
	if len(n) != 1 || !n[0].At.Equal(start.Add(time.Minute)) || n[0].Fields.Get("track_id") != track {
		t.Fatalf("notifications %+v", n)
	}
	if f := <-got; f.Get("result") != upaytest.Captured {
		t.Fatalf("merchant got %v", f)
	}
}
