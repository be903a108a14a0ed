package woocommercetest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/testenv"
)

func TestAuth(t *testing.T) {
	s := woocommercetest.NewServer()
	defer s.Close()
	ck, cs := s.NewKeys()
	// Basic auth over plain http is ignored, as WooCommerce does (is_ssl()).
	req, _ := http.NewRequest(http.MethodGet, s.Base()+"/wp-json/wc/v3/orders", nil)
	req.SetBasicAuth(ck, cs)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"code":"woocommerce_rest_cannot_view"`) || !strings.Contains(string(body), `"status":401`) {
		t.Fatalf("Basic over http: %d %s", resp.StatusCode, body)
	}
	// OAuth 1.0a (the bridge's client over http) works; a wrong secret does not.
	if err := woocommerce.NewClient(s.Base(), ck, cs, 5*time.Second).Ping(context.Background()); err != nil {
		t.Fatalf("OAuth: %v", err)
	}
	err = woocommerce.NewClient(s.Base(), ck, "cs_wrong", 5*time.Second).Ping(context.Background())
	var ae *woocommerce.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 401 || ae.Code != "woocommerce_rest_authentication_error" {
		t.Fatalf("wrong secret: %v", err)
	}
	// A read-only key cannot write.
	s.AddKey("ck_ro", "cs_ro", "read")
	id, _ := s.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.000"})
	_, err = woocommerce.NewClient(s.Base(), "ck_ro", "cs_ro", 5*time.Second).UpdateOrder(context.Background(), itoa(id), map[string]any{"status": "processing"})
	if !errors.As(err, &ae) || ae.HTTPStatus != 401 {
		t.Fatalf("read-only write: %v", err)
	}
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// TestSetPaid checks the simulator against the research's decision table
// (§2.2 and §7): set_paid only acts on orders that need payment, and a
// status sent with it wins.
func TestSetPaid(t *testing.T) {
	s := woocommercetest.NewServer()
	defer s.Close()
	ck, cs := s.NewKeys()
	cl := woocommerce.NewClient(s.Base(), ck, cs, 5*time.Second)
	tests := []struct {
		from       string
		body       map[string]any
		to         string
		datePaid   bool
		transition bool
	}{
		{"pending", map[string]any{"set_paid": true, "transaction_id": "T"}, "processing", true, true},
		{"failed", map[string]any{"set_paid": true, "transaction_id": "T"}, "processing", true, true},
		{"on-hold", map[string]any{"set_paid": true, "transaction_id": "T"}, "on-hold", false, false},
		{"cancelled", map[string]any{"set_paid": true, "transaction_id": "T"}, "cancelled", false, false},
		{"on-hold", map[string]any{"status": "processing", "transaction_id": "T"}, "processing", true, true},
		{"cancelled", map[string]any{"status": "processing", "transaction_id": "T"}, "processing", true, true},
	}
	for _, tt := range tests {
		id, _ := s.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "2.500", Status: tt.from})
		o, err := cl.UpdateOrder(context.Background(), itoa(id), tt.body)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != tt.to || (o.DatePaid != nil) != tt.datePaid || o.TransactionID != "T" {
			t.Errorf("%s + %v: status %s date_paid %v txn %q", tt.from, tt.body, o.Status, o.DatePaid, o.TransactionID)
		}
		if got := s.NotesContaining(id, "Order status changed"); (got == 1) != tt.transition {
			t.Errorf("%s + %v: %d transition notes", tt.from, tt.body, got)
		}
	}
	// Unknown order: WooCommerce's error shape.
	_, err := cl.Order(context.Background(), "999999")
	var ae *woocommerce.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 404 || ae.Code != "woocommerce_rest_shop_order_invalid_id" {
		t.Fatalf("unknown order: %v", err)
	}
}

// TestWebhookDisabledAfterSevenFailures: never retried, disabled at the
// 7th consecutive failure; the unsigned ping comes first.
func TestWebhookDisabledAfterSevenFailures(t *testing.T) {
	var pings, posts atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-WC-Webhook-Signature") == "" && strings.HasPrefix(string(b), "webhook_id=") {
			pings.Add(1)
			return
		}
		if !woocommerce.VerifyWebhook("Secret123", b, r.Header.Get("X-WC-Webhook-Signature")) {
			t.Errorf("delivery signature does not verify")
		}
		posts.Add(1)
		w.WriteHeader(500)
	}))
	defer rcv.Close()
	s := woocommercetest.NewServer()
	defer s.Close()
	ck, cs := s.NewKeys()
	cl := woocommerce.NewClient(s.Base(), ck, cs, 5*time.Second)
	wh, err := cl.CreateWebhook(context.Background(), "t", "order.updated", rcv.URL+"/hook", "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	if pings.Load() != 1 {
		t.Fatalf("%d pings", pings.Load())
	}
	id, _ := s.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.000"})
	for i := 1; i <= 8; i++ {
		s.SetTotal(id, "1.00"+strconv.Itoa(i))
		s.Wait()
		st := s.WebhookStatuses()[wh.ID]
		if (i < 7 && st != "active") || (i >= 7 && st != "disabled") {
			t.Fatalf("after %d failures: %s", i, st)
		}
	}
	if posts.Load() != 7 {
		t.Fatalf("%d deliveries, want 7 (none retried, none after disabling)", posts.Load())
	}
}

// TestAuthCallbackMustAnswer200: a callback that does not answer exactly
// 200 gets no keys (WooCommerce deletes them).
func TestAuthCallbackMustAnswer200(t *testing.T) {
	var got atomic.Value
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		w.WriteHeader(201)
	}))
	defer cb.Close()
	s := woocommercetest.NewServer()
	defer s.Close()
	s.AllowHTTPCallback = true
	auth := s.Base() + "/wc-auth/v1/authorize?app_name=x&scope=read_write&user_id=st4te&return_url=" + cb.URL + "/ret&callback_url=" + cb.URL + "/cb"
	resp, err := http.Get(woocommercetest.ApproveURL(auth))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	body, _ := got.Load().(string)
	if resp.StatusCode != 401 || !strings.Contains(body, `"user_id":"st4te"`) {
		t.Fatalf("%d, callback body %s", resp.StatusCode, body)
	}
	ck := body[strings.Index(body, `"consumer_key":"`)+16:]
	ck = ck[:strings.Index(ck, `"`)]
	cs := body[strings.Index(body, `"consumer_secret":"`)+19:]
	cs = cs[:strings.Index(cs, `"`)]
	if err := woocommerce.NewClient(s.Base(), ck, cs, 5*time.Second).Ping(context.Background()); err == nil {
		t.Fatal("keys survive a callback that answered 201")
	}
	// And https is required unless the test allows http.
	s.AllowHTTPCallback = false
	resp, _ = http.Get(auth)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("http callback_url: %d", resp.StatusCode)
	}
}

func TestHoldTimer(t *testing.T) {
	s := woocommercetest.NewServer()
	defer s.Close()
	checkout, _ := s.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.000"})
	admin, _ := s.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.000", CreatedVia: "admin"})
	s.StartHoldTimer(100 * time.Millisecond)
	testenv.EventuallyTrue(t, 3*time.Second, "the unpaid checkout order to be cancelled", func() bool {
		return s.Order(checkout)["status"] == "cancelled"
	})
	if s.NotesContaining(checkout, "Unpaid order cancelled") != 1 || s.Order(admin)["status"] != "pending" {
		t.Fatalf("notes %v; admin order %v", s.Notes(checkout), s.Order(admin)["status"])
	}
}

// TestCancelUnpaidOnFakeClock: the hold-stock limit and SetDown are
// measured on the simulator's clock.
func TestCancelUnpaidOnFakeClock(t *testing.T) {
	fc := clockwork.NewFakeClock()
	s := woocommercetest.NewServer()
	defer s.Close()
	s.SetClock(fc)
	id, _ := s.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.000"})
	fc.Advance(59 * time.Minute)
	if n := s.CancelUnpaid(time.Hour); n != 0 || s.Order(id)["status"] != "pending" {
		t.Fatalf("before the limit: %d cancelled, %v", n, s.Order(id)["status"])
	}
	fc.Advance(time.Minute)
	if n := s.CancelUnpaid(time.Hour); n != 1 || s.Order(id)["status"] != "cancelled" {
		t.Fatalf("at the limit: %d cancelled, %v", n, s.Order(id)["status"])
	}

	ck, cs := s.NewKeys()
	cl := woocommerce.NewClient(s.Base(), ck, cs, 5*time.Second)
	s.SetDown(time.Minute)
	if err := cl.Ping(context.Background()); err == nil || s.Down503s() != 1 {
		t.Fatalf("down: %v, %d 503s", err, s.Down503s())
	}
	fc.Advance(time.Minute)
	if err := cl.Ping(context.Background()); err != nil {
		t.Fatalf("back up: %v", err)
	}
}
