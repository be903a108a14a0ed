package kupay_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/kupay"
	"paybridge/internal/kupay/kupaytest"
)

func money(t *testing.T, s, cur string) checkout.Money {
	t.Helper()
	m, err := checkout.ParseMoney(s, cur)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func acct() checkout.GatewayAccount {
	return checkout.GatewayAccount{Gateway: "kupay", Credentials: map[string]string{kupay.CredToken: kupaytest.DefaultToken}}
}

var urls = checkout.URLs{Return: "https://bridge.example/return/x", Cancel: "https://bridge.example/cancel/x", Notify: "https://bridge.example/notify/kupay/x",
	Status: "https://bridge.example/wait/x"}

func newPayment(t *testing.T, amount, cur string) *checkout.Payment {
	id := checkout.NewID("pay")
	return &checkout.Payment{ID: id, GatewayOrderID: id, OrderID: "1001", Amount: money(t, amount, cur),
		Customer: checkout.Customer{Email: "f@example.com"}, ReturnURL: "https://shop.example/orders/1001",
		CreatedAt: time.Date(2026, 11, 21, 18, 58, 4, 0, time.UTC)}
}

func TestMapStatus(t *testing.T) {
	for status, want := range map[string]checkout.Outcome{
		"paid": checkout.OutcomePaid, "completed": checkout.OutcomePaid, "cancelled": checkout.OutcomeCanceled,
		"canceled": checkout.OutcomeCanceled, "expired": checkout.OutcomeExpired, "failure": checkout.OutcomeFailed,
		"error": checkout.OutcomeFailed, "open": checkout.OutcomePending, "": checkout.OutcomePending,
		"PAID": checkout.OutcomePending, "confirming": checkout.OutcomePending,
	} {
		if got := kupay.MapStatus(status); got != want {
			t.Errorf("MapStatus(%q) = %s, want %s", status, got, want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for _, tt := range []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"123.45", "USD", 12345, true}, {"123.4", "USD", 12340, true}, {"123.450", "USD", 12345, true},
		{"123", "JPY", 123, true}, {"123.456", "USD", 0, false}, {"1e2", "USD", 0, false}, {"-1", "USD", 0, false},
	} {
		m, err := kupay.ParseAmount(tt.in, tt.cur)
		if tt.ok != (err == nil) || (tt.ok && m.Minor != tt.want) {
			t.Errorf("ParseAmount(%q, %s) = %v, %v", tt.in, tt.cur, m, err)
		}
	}
}

func TestGatewayAgainstSimulator(t *testing.T) {
	srv := kupaytest.NewServer()
	defer srv.Close()
	g := kupay.New(kupay.Config{BaseURL: srv.URL, Timeout: 5 * time.Second})
	ctx := context.Background()
	p := newPayment(t, "12.50", "USD")
	ch, err := g.CreatePayment(ctx, acct(), p, urls)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ch.URL, srv.URL+"/pay/") || ch.Ref == "" {
		t.Fatalf("charge: %+v", ch)
	}
	body := string(srv.Requests("create")[0])
	for _, want := range []string{`"amount":12.50,`, `"currency":"USD"`, `"id":"` + p.ID + `"`, `"order_number":"1001"`,
		`"created_at":"2026-11-21T18:58:04Z"`, `"paid_url":"` + urls.Return + `"`, `"cancel_url":"` + urls.Cancel + `"`,
		`"callback_url":"` + urls.Notify + `"`, `"order_status_url":"` + urls.Status + `"`, `"email":"f@example.com"`} {
		if !strings.Contains(body, want) {
			t.Errorf("request %s lacks %s", body, want)
		}
	}
	st, err := g.Status(ctx, acct(), p, ch.Ref)
	if err != nil || st.Outcome != checkout.OutcomePending || st.Result != "open" {
		t.Fatalf("open: %+v %v", st, err)
	}
	if _, err := srv.Complete(ch.Ref, kupaytest.Paid); err != nil {
		t.Fatal(err)
	}
	st, err = g.Status(ctx, acct(), p, ch.Ref)
	if err != nil || st.Outcome != checkout.OutcomePaid || st.Ref != ch.Ref || st.OrderID != p.GatewayOrderID || !st.Amount.Equal(p.Amount) {
		t.Fatalf("paid: %+v %v", st, err)
	}
	// Another order's status does not bind to p.
	q := newPayment(t, "12.50", "USD")
	q.OrderID = "2002"
	if st, _ := g.Status(ctx, acct(), q, ch.Ref); st.OrderID == q.GatewayOrderID {
		t.Fatalf("status of order 1001 bound to order 2002: %+v", st)
	}
	if _, ok := checkout.Gateway(g).(checkout.Refunder); ok {
		t.Fatal("the KuPay adapter claims to refund")
	}
}

func TestClientErrors(t *testing.T) {
	srv := kupaytest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	check := func(name string, err error, status int, temporary bool, msg string) {
		t.Helper()
		var ge *checkout.GatewayError
		if !errors.As(err, &ge) || ge.HTTPStatus != status || ge.Temporary != temporary || !strings.Contains(ge.Message, msg) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), kupaytest.DefaultToken) {
			t.Errorf("%s: the error shows the token", name)
		}
	}
	good := &kupay.Client{BaseURL: srv.URL, Token: kupaytest.DefaultToken}
	req := kupay.CreateRequest{ID: "a", OrderNumber: "1", CreatedAt: "2026-11-21T18:58:04Z", Currency: "KWD", Amount: "1.000",
		CancelURL: "https://x/c", PaidURL: "https://x/p", CallbackURL: "https://x/n"}
	_, err := good.CreatePayment(ctx, req)
	check("KWD", err, 422, false, "unsupported currency KWD")
	req.Currency, req.Amount = "USD", "1.00"
	_, err = (&kupay.Client{BaseURL: srv.URL, Token: "wrong"}).CreatePayment(ctx, req)
	check("bad token", err, 401, false, "token")
	srv.FailNext("POST /v1/payment/create", 500, "[]")
	_, err = good.CreatePayment(ctx, req)
	check("500", err, 500, true, "unavailable")
	srv.FailNext("POST /v1/payment/create", 200, "<html>maintenance</html>")
	_, err = good.CreatePayment(ctx, req)
	check("non-JSON", err, 200, false, "non-JSON")
	_, err = good.Status(ctx, "nope")
	check("404", err, 404, false, "does not know")
	srv.FailNext("GET /v1/payment/status/", 200, `{"payment_id":"x","status":"paid","currency":"USD","amount":1.005}`)
	_, err = kupay.New(kupay.Config{BaseURL: srv.URL}).Status(ctx, acct(), newPayment(t, "1.00", "USD"), "x")
	check("inexact amount", err, 0, false, "cannot read")
}

func TestParseCallback(t *testing.T) {
	g := kupay.New(kupay.Config{})
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		req  checkout.CallbackRequest
		ref  string
		out  checkout.Outcome
	}{
		{"GET query", checkout.CallbackRequest{Method: "GET", URL: "https://b/notify/kupay/p",
			Query: url.Values{"payment_id": {"k1"}, "status": {"paid"}, "kupay_callback": {"secret-api-key"}}}, "k1", checkout.OutcomePaid},
		{"JSON POST", checkout.CallbackRequest{Method: "POST", URL: "https://b/notify/kupay/p", Header: http.Header{"Content-Type": {"application/json"}},
			Body: []byte(`{"payment_id":"k2","status":"cancelled","amount":12.5}`)}, "k2", checkout.OutcomeCanceled},
		{"form POST", checkout.CallbackRequest{Method: "POST", URL: "https://b/notify/kupay/p", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body: []byte(`payment_id=k3&status=expired`)}, "k3", checkout.OutcomeExpired},
		{"return", checkout.CallbackRequest{Method: "GET", URL: "https://b/return/p"}, "", checkout.OutcomePaid},
		{"cancel", checkout.CallbackRequest{Method: "GET", URL: "https://b/cancel/p"}, "", checkout.OutcomeCanceled},
	} {
		cb, err := g.ParseCallback(ctx, acct(), tt.req)
		if err != nil || cb.Ref != tt.ref || cb.Outcome != tt.out || cb.Signed {
			t.Errorf("%s: %+v %v", tt.name, cb, err)
		}
		for _, v := range cb.Fields {
			if v == "secret-api-key" {
				t.Errorf("%s: a key in the callback URL reached the audit fields", tt.name)
			}
		}
	}
}

// TestParseCallbackUnreadable: a body that is neither JSON nor a form is
// an error wrapping checkout.ErrUnreadable (the notify route's 400), not a
// callback claiming nothing.
func TestParseCallbackUnreadable(t *testing.T) {
	g := kupay.New(kupay.Config{})
	for _, body := range []string{`{not json`, `{"payment_id":"k1"}}`, "payment_id=k1;status=paid", "payment_id=%zz"} {
		_, err := g.ParseCallback(context.Background(), acct(), checkout.CallbackRequest{Method: "PUT", URL: "https://b/notify/kupay/p", Body: []byte(body)})
		if !errors.Is(err, checkout.ErrUnreadable) {
			t.Errorf("%q: %v, want ErrUnreadable", body, err)
		}
	}
}

func TestCapabilities(t *testing.T) {
	c := kupay.New(kupay.Config{}).Capabilities()
	err := c.CheckAmount("kupay", money(t, "1.000", "KWD"))
	var ue *checkout.UnsupportedError
	if !errors.As(err, &ue) || ue.Gateway != "kupay" || ue.Feature != checkout.FeatureCurrency || !strings.HasPrefix(ue.Reason, "KuPay does not accept KWD") {
		t.Fatalf("KWD: %v", err)
	}
	if err := c.CheckAmount("kupay", money(t, "1.00", "USD")); err != nil {
		t.Fatal(err)
	}
	if c.Refunds || c.SignedNotifications || c.AuthorizeCapture {
		t.Fatalf("%+v", c)
	}
}
