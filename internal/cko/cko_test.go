package cko_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
)

func money(t *testing.T, s, cur string) checkout.Money {
	t.Helper()
	m, err := checkout.ParseMoney(s, cur)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMinorAmount(t *testing.T) {
	for _, tt := range []struct {
		amount, cur string
		want        int64
		err         string
	}{
		{"1.230", "KWD", 1230, ""},
		{"1.000", "KWD", 1000, ""},
		{"1.235", "KWD", 0, "Checkout.com needs 3-decimal amounts to end in 0; 1.235 KWD cannot be charged exactly"},
		{"0.005", "BHD", 0, "end in 0"},
		{"12.34", "USD", 1234, ""},
		{"500", "JPY", 500, ""},
		{"1000000.000", "KWD", 0, "outside"},
	} {
		got, err := cko.MinorAmount(money(t, tt.amount, tt.cur))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %s: %v, want error %q", tt.amount, tt.cur, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %s = %d, %v; want %d", tt.amount, tt.cur, got, err, tt.want)
		}
	}
}

func TestMapStatus(t *testing.T) {
	for status, want := range map[string]checkout.Outcome{
		"Captured": checkout.OutcomePaid, "Partially Refunded": checkout.OutcomePaid, "Refunded": checkout.OutcomePaid,
		"Declined": checkout.OutcomeFailed, "Canceled": checkout.OutcomeCanceled, "Expired": checkout.OutcomeExpired,
		"Voided": checkout.OutcomeExpired, "Pending": checkout.OutcomePending, "Authorized": checkout.OutcomePending,
		"captured": checkout.OutcomePending, "": checkout.OutcomePending, "Weird": checkout.OutcomePending,
	} {
		if got := cko.MapStatus(status); got != want {
			t.Errorf("MapStatus(%q) = %s, want %s", status, got, want)
		}
	}
	for ev, want := range map[string]checkout.Outcome{
		"payment_captured": checkout.OutcomePaid, "payment_declined": checkout.OutcomeFailed,
		"payment_capture_declined": checkout.OutcomeFailed, "payment_canceled": checkout.OutcomeCanceled,
		"payment_expired": checkout.OutcomeExpired, "payment_pending": checkout.OutcomePending, "payment_refunded": checkout.OutcomePending,
	} {
		if got := cko.MapEvent(ev); got != want {
			t.Errorf("MapEvent(%q) = %s, want %s", ev, got, want)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"payment_captured","data":{"id":"pay_1"}}`)
	good := cko.Sign("key", body)
	for _, tt := range []struct {
		name, key, sig string
		body           []byte
		ok             bool
	}{
		{"valid", "key", good, body, true},
		{"valid upper-case hex", "key", strings.ToUpper(good), body, true},
		{"valid with spaces", "key", " " + good + " ", body, true},
		{"wrong key", "other", good, body, false},
		{"body changed", "key", good, append([]byte(" "), body...), false},
		{"missing", "key", "", body, false},
		{"not hex", "key", "zz" + good[2:], body, false},
		{"truncated", "key", good[:32], body, false},
		// sha256 of the body, not an HMAC
		{"plain hash", "key", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil, false},
	} {
		err := cko.VerifySignature(tt.key, tt.sig, tt.body)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, checkout.ErrBadSignature)) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func acct() checkout.GatewayAccount {
	return checkout.GatewayAccount{Gateway: "cko", Sandbox: true, Credentials: map[string]string{
		cko.CredSecretKey: ckotest.DefaultSecretKey, cko.CredProcessingChannel: ckotest.DefaultProcessingChannel,
		cko.CredWebhookKey: ckotest.DefaultWebhookKey}}
}

func newPayment(t *testing.T, amount string) *checkout.Payment {
	id := checkout.NewID("pay")
	return &checkout.Payment{ID: id, GatewayOrderID: id, OrderID: "1001", Amount: money(t, amount, "KWD"),
		Language: "ar", Customer: checkout.Customer{Name: "Fatima", Email: "f@example.com"}, CreatedAt: time.Now()}
}

var urls = checkout.URLs{Return: "https://bridge.example/return/x", Cancel: "https://bridge.example/cancel/x", Notify: "https://bridge.example/notify/cko/x"}

func TestGatewayAgainstSimulator(t *testing.T) {
	srv := ckotest.NewServer()
	defer srv.Close()
	g := cko.New(cko.Config{SandboxURL: srv.URL, Timeout: 5 * time.Second})
	ctx := context.Background()
	p := newPayment(t, "12.340")

	ch, err := g.CreatePayment(ctx, acct(), p, urls)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ch.URL, srv.URL+"/knet/") || !strings.HasPrefix(ch.Ref, "pay_") {
		t.Fatalf("charge: %+v", ch)
	}
	body := string(srv.Requests("POST /payments")[0])
	for _, want := range []string{`"amount":12340`, `"currency":"KWD"`, `"type":"knet"`, `"language":"ar"`, `"reference":"` + p.ID + `"`,
		`"processing_channel_id":"` + ckotest.DefaultProcessingChannel + `"`, `"success_url":"` + urls.Return + `"`, `"failure_url":"` + urls.Cancel + `"`,
		`"user_defined_field1":"` + p.ID + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("request %s lacks %s", body, want)
		}
	}
	// The same payment again (idempotency key = payment id): the same charge.
	again, err := g.CreatePayment(ctx, acct(), p, urls)
	if err != nil || again.Ref != ch.Ref {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	if n := len(srv.PaymentIDs()); n != 1 {
		t.Fatalf("%d payments at Checkout.com after a repeat", n)
	}

	st, err := g.Status(ctx, acct(), p, ch.Ref)
	if err != nil || st.Outcome != checkout.OutcomePending || st.Result != "Pending" || st.OrderID != p.ID {
		t.Fatalf("pending status: %+v %v", st, err)
	}
	ret, err := srv.Complete(ch.Ref, ckotest.Captured)
	if err != nil || !strings.HasPrefix(ret, urls.Return+"?cko-session-id=") {
		t.Fatalf("complete: %q %v", ret, err)
	}
	st, err = g.Status(ctx, acct(), p, ch.Ref)
	if err != nil || st.Outcome != checkout.OutcomePaid || st.Ref != ch.Ref || st.OrderID != p.ID ||
		!st.Amount.Equal(p.Amount) || st.TransactionID == "" || st.Data[cko.DataAuthCode] == "" {
		t.Fatalf("captured status: %+v %v", st, err)
	}

	// Two partial refunds, the second settled by hand; then one declined.
	p.GatewayRef = ch.Ref
	r1 := &checkout.Refund{ID: checkout.NewID("ref"), Amount: money(t, "1.000", "KWD")}
	res, err := g.Refund(ctx, acct(), p, r1)
	if err != nil || res.Status != checkout.RefundPending || !strings.HasPrefix(res.Ref, "act_") {
		t.Fatalf("refund: %+v %v", res, err)
	}
	r1.GatewayRef = res.Ref
	if res, err := g.RefundStatus(ctx, acct(), p, r1); err != nil || res.Status != checkout.RefundSucceeded {
		t.Fatalf("refund status: %+v %v", res, err)
	}
	// Repeating the refund request (same idempotency key) refunds nothing more.
	if again, err := g.Refund(ctx, acct(), p, r1); err != nil || again.Ref != r1.GatewayRef {
		t.Fatalf("repeated refund: %+v %v", again, err)
	}
	srv.SetAutoSettleRefunds(false)
	r2 := &checkout.Refund{ID: checkout.NewID("ref"), Amount: money(t, "2.000", "KWD")}
	res, err = g.Refund(ctx, acct(), p, r2)
	if err != nil {
		t.Fatal(err)
	}
	r2.GatewayRef = res.Ref
	if res, _ := g.RefundStatus(ctx, acct(), p, r2); res.Status != checkout.RefundPending {
		t.Fatalf("unsettled refund: %+v", res)
	}
	if err := srv.SettleRefund(ch.Ref, r2.GatewayRef, true); err != nil {
		t.Fatal(err)
	}
	if res, _ := g.RefundStatus(ctx, acct(), p, r2); res.Status != checkout.RefundSucceeded {
		t.Fatalf("settled refund: %+v", res)
	}
	r3 := &checkout.Refund{ID: checkout.NewID("ref"), Amount: money(t, "1.000", "KWD")}
	res, _ = g.Refund(ctx, acct(), p, r3)
	r3.GatewayRef = res.Ref
	srv.SettleRefund(ch.Ref, r3.GatewayRef, false)
	if res, _ := g.RefundStatus(ctx, acct(), p, r3); res.Status != checkout.RefundFailed {
		t.Fatalf("declined refund: %+v", res)
	}
	pm, err := g.Client(acct()).GetPayment(ctx, ch.Ref)
	if err != nil || pm.Status != "Partially Refunded" || pm.Balances.TotalRefunded != 3000 {
		t.Fatalf("after refunds: %+v %v", pm, err)
	}
	st, _ = g.Status(ctx, acct(), p, ch.Ref)
	if st.Outcome != checkout.OutcomePaid {
		t.Fatalf("a refunded payment is still paid: %+v", st)
	}
	// Over-refund: 422 with Checkout.com's error code.
	_, err = g.Refund(ctx, acct(), p, &checkout.Refund{ID: checkout.NewID("ref"), Amount: money(t, "9.350", "KWD")})
	var ge *checkout.GatewayError
	if !errors.As(err, &ge) || ge.HTTPStatus != 422 || ge.Temporary || !strings.Contains(ge.Message, "refund_amount_exceeds_balance") {
		t.Fatalf("over-refund: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	srv := ckotest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	good := &cko.Client{BaseURL: srv.URL, SecretKey: ckotest.DefaultSecretKey}
	req := cko.PaymentRequest{Source: cko.KnetSource{Type: "knet", Language: "en"}, Amount: 1235, Currency: "KWD",
		ProcessingChannelID: ckotest.DefaultProcessingChannel, Reference: "x"}
	check := func(name string, err error, status int, temporary bool, msg string) {
		t.Helper()
		var ge *checkout.GatewayError
		if !errors.As(err, &ge) || ge.HTTPStatus != status || ge.Temporary != temporary || !strings.Contains(ge.Message, msg) {
			t.Errorf("%s: %v (%+v)", name, err, ge)
		}
		if err != nil && strings.Contains(err.Error(), ckotest.DefaultSecretKey) {
			t.Errorf("%s: the error shows the secret key", name)
		}
	}
	_, err := good.RequestPayment(ctx, req, "k1")
	check("1.235 KWD", err, 422, false, "amount_invalid")
	req.Amount = 1230
	_, err = (&cko.Client{BaseURL: srv.URL, SecretKey: "sk_wrong"}).RequestPayment(ctx, req, "k2")
	check("bad key", err, 401, false, "secret key")
	srv.FailNext("POST /payments", 503, "")
	_, err = good.RequestPayment(ctx, req, "k3")
	check("503", err, 503, true, "unavailable")
	srv.FailNext("GET /payments/", 429, "")
	_, err = good.GetPayment(ctx, "pay_x")
	check("429", err, 429, true, "rate limit")
	_, err = good.GetPayment(ctx, "pay_unknown")
	check("404", err, 404, false, "does not know")
	srv.FailNext("GET /payments/", 200, `{"id":"pay_x","status":"Captured","amount":12.5,"currency":"KWD"}`)
	_, err = good.GetPayment(ctx, "pay_x")
	check("float amount", err, 0, false, "cannot read")
	// A timeout is temporary, and bounded by the client's Timeout.
	slow := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})}
	start := time.Now()
	_, err = (&cko.Client{BaseURL: srv.URL, SecretKey: "sk", HTTPClient: slow, Timeout: 50 * time.Millisecond}).GetPayment(ctx, "pay_x")
	check("timeout", err, 0, true, "in time")
	if time.Since(start) > 2*time.Second {
		t.Error("the timeout was not applied")
	}
	if len(srv.Requests("POST /payments")) != 3 {
		t.Errorf("requests: %d", len(srv.Requests("POST /payments")))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestParseCallback(t *testing.T) {
	g := cko.New(cko.Config{})
	ctx := context.Background()
	body := []byte(`{"id":"evt_1","type":"payment_captured","data":{"id":"pay_abc","reference":"pay_ours","amount":1230,"currency":"KWD"}}`)
	hook := func(sig string) checkout.CallbackRequest {
		return checkout.CallbackRequest{Method: "POST", URL: "https://bridge.example/notify/cko/pay_ours",
			Header: http.Header{"Cko-Signature": {sig}, "Content-Type": {"application/json"}}, Body: body}
	}
	cb, err := g.ParseCallback(ctx, acct(), hook(cko.Sign(ckotest.DefaultWebhookKey, body)))
	if err != nil || !cb.Signed || cb.Ref != "pay_abc" || cb.Outcome != checkout.OutcomePaid || cb.Fields["amount"] != "1230" {
		t.Fatalf("signed webhook: %+v %v", cb, err)
	}
	if _, err := g.ParseCallback(ctx, acct(), hook(cko.Sign("other", body))); !errors.Is(err, checkout.ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	if _, err := g.ParseCallback(ctx, acct(), hook("")); !errors.Is(err, checkout.ErrBadSignature) {
		t.Fatalf("no signature: %v", err)
	}
	noKey := acct()
	delete(noKey.Credentials, cko.CredWebhookKey)
	if cb, err := g.ParseCallback(ctx, noKey, hook("")); err != nil || cb.Signed || cb.Outcome != checkout.OutcomePaid {
		t.Fatalf("without a webhook key: %+v %v", cb, err)
	}
	ret := checkout.CallbackRequest{Method: "GET", URL: "https://bridge.example/return/pay_ours", Query: map[string][]string{"cko-session-id": {"sid_1"}}}
	if cb, err := g.ParseCallback(ctx, acct(), ret); err != nil || cb.Outcome != checkout.OutcomePaid || cb.Signed || cb.Fields["cko-session-id"] != "sid_1" {
		t.Fatalf("return: %+v %v", cb, err)
	}
	ret.URL = "https://bridge.example/cancel/pay_ours"
	if cb, _ := g.ParseCallback(ctx, acct(), ret); cb.Outcome != checkout.OutcomeFailed {
		t.Fatalf("cancel return: %+v", cb)
	}
}

func TestCapabilities(t *testing.T) {
	c := cko.New(cko.Config{}).Capabilities()
	if err := c.CheckAmount("cko", money(t, "1.235", "KWD")); err == nil ||
		err.Error() != "Checkout.com needs 3-decimal amounts to end in 0; 1.235 KWD cannot be charged exactly" {
		t.Fatalf("1.235: %v", err)
	}
	if err := c.CheckAmount("cko", money(t, "1.230", "KWD")); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckAmount("cko", money(t, "1.23", "USD")); !errors.Is(err, checkout.ErrUnsupported) {
		t.Fatalf("USD: %v", err)
	}
	if c.AuthorizeCapture || !c.Refunds || !c.PartialRefunds || !c.MultipleRefunds || c.PageLifetime != 7*time.Minute {
		t.Fatalf("%+v", c)
	}
}

func TestSimulatorExpiry(t *testing.T) {
	srv := ckotest.NewServer()
	defer srv.Close()
	got := make(chan string, 4)
	hooks := http.NewServeMux()
	hooks.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4096)
		n, _ := r.Body.Read(b)
		if cko.VerifySignature(ckotest.DefaultWebhookKey, r.Header.Get("Cko-Signature"), b[:n]) == nil {
			got <- string(b[:n])
		}
	})
	hs := &http.Server{Handler: hooks}
	defer hs.Close()
	lnSrv := newLocal(t, hs)
	srv.SetWebhookURL(func(_, ref string) string { return lnSrv + "/notify/cko/" + ref })
	srv.SetPageLifetime(100 * time.Millisecond)
	g := cko.New(cko.Config{SandboxURL: srv.URL})
	p := newPayment(t, "1.000")
	ch, err := g.CreatePayment(context.Background(), acct(), p, urls)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ch.URL) // landing starts the clock
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case body := <-got:
		if !strings.Contains(body, `"type":"payment_expired"`) {
			t.Fatalf("webhook: %s", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no payment_expired webhook")
	}
	st, err := g.Status(context.Background(), acct(), p, ch.Ref)
	if err != nil || st.Outcome != checkout.OutcomeExpired {
		t.Fatalf("%+v %v", st, err)
	}
}

func TestCallbackPaymentID(t *testing.T) {
	g := cko.New(cko.Config{})
	for body, want := range map[string]string{
		`{"type":"payment_captured","data":{"id":"pay_c","reference":"pay_ours"}}`:               "pay_ours",
		`{"type":"payment_captured","data":{"id":"pay_c","metadata":{"payment_id":"pay_meta"}}}`: "pay_meta",
		`{"type":"payment_captured","data":{"id":"pay_c"}}`:                                      "",
		`not json`: "",
	} {
		got, err := g.CallbackPaymentID(checkout.CallbackRequest{Method: "POST", Body: []byte(body)})
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%s: %q %v", body, got, err)
		}
	}
}
