package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

// TestSignStandardWebhooksVector checks Sign against the example the
// Standard Webhooks libraries test with (secret, id, timestamp and payload
// from the spec repository's test suites).
func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestSignBadSecret(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_!!!", "plain"} {
		if _, err := Sign(s, "m", 1, nil); err == nil {
			t.Errorf("Sign with secret %q: no error", s)
		}
	}
}

func TestDeliverClassification(t *testing.T) {
	shop := &checkout.Shop{ID: "shop_x", WebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		permanent bool
		after     time.Duration
		ok        bool
	}{
		{"200", 200, nil, false, 0, true},
		{"204", 204, nil, false, 0, true},
		{"500 retries", 500, nil, false, 0, false},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "120"}, false, 2 * time.Minute, false},
		{"429 with Retry-After", 429, map[string]string{"Retry-After": "7"}, false, 7 * time.Second, false},
		{"408 retries", 408, nil, false, 0, false},
		{"404 is permanent", 404, nil, true, 0, false},
		{"401 is permanent", 401, nil, true, 0, false},
		{"redirect is permanent", 302, map[string]string{"Location": "http://elsewhere.example/"}, true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			sy := NewSyncer(noEvents{}, func(id string) string { return "https://pay.example/pay/" + id }, SyncerConfig{AllowPrivate: true})
			p := &checkout.Payment{ID: "pay_x", Status: checkout.StatusPaid, Amount: checkout.Money{Minor: 12345, Currency: "KWD"}, CallbackURL: srv.URL + "/cb"}
			err := sy.SyncPayment(t.Context(), shop, p)
			if tt.ok != (err == nil) || checkout.IsPermanent(err) != tt.permanent {
				t.Fatalf("err = %v (permanent %v), want ok=%v permanent=%v", err, checkout.IsPermanent(err), tt.ok, tt.permanent)
			}
			var ra *checkout.RetryAfterError
			if tt.after > 0 && (!errors.As(err, &ra) || ra.After != tt.after) {
				t.Fatalf("err = %v, want retry after %s", err, tt.after)
			}
			if got.Get("webhook-id") != "msg_pay_x_paid" || !strings.HasPrefix(got.Get("webhook-signature"), "v1,") {
				t.Fatalf("headers: %v", got)
			}
		})
	}
}

// A callback_url that resolves to this machine is refused unless
// development mode allows it, and refusing is permanent.
func TestDeliverRefusesPrivateAddresses(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	sy := NewSyncer(noEvents{}, func(string) string { return "" }, SyncerConfig{})
	p := &checkout.Payment{ID: "pay_x", Status: checkout.StatusPaid, Amount: checkout.Money{Minor: 1, Currency: "KWD"},
		CallbackURL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/cb"}
	err := sy.SyncPayment(t.Context(), &checkout.Shop{WebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, p)
	if !checkout.IsPermanent(err) || hit {
		t.Fatalf("err = %v, hit = %v", err, hit)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "30": 30 * time.Second, "-5": 0, "x": 0, "99999": time.Hour,
		"Sat, 21 Nov 2026 12:01:00 GMT": time.Minute, "Sat, 21 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

type noEvents struct{}

func (noEvents) Events(context.Context, string) ([]checkout.Event, error) { return nil, nil }
