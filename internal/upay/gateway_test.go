package upay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/upay/upaytest"
)

// receiver is the merchant side: it records notifications and parses them
// with the adapter.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []checkout.CallbackRequest
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, checkout.CallbackRequest{Method: r.Method, URL: "http://" + r.Host + r.URL.RequestURI(),
			Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []checkout.CallbackRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]checkout.CallbackRequest(nil), rc.reqs...)
}

func setup(t *testing.T) (*upaytest.Server, *Gateway, checkout.GatewayAccount) {
	t.Helper()
	srv := upaytest.NewServer()
	t.Cleanup(srv.Close)
	g := New(Config{SandboxURL: srv.APIBase(), LiveURL: "http://127.0.0.1:1/must-not-be-used", Timeout: 5 * time.Second})
	return srv, g, checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}}
}

func payment(id string, amount checkout.Money) *checkout.Payment {
	return &checkout.Payment{
		ID: id, OrderID: "WC-" + id, GatewayOrderID: id, Amount: amount, Language: "en",
		Customer: checkout.Customer{Name: "Jhon Smith", Email: "jhon@example.com", Mobile: "+96512345678"},
		Products: []checkout.Product{{Name: "Keyboard", Price: amount, Quantity: 1}},
	}
}

func urlsFor(base, id string) checkout.URLs {
	return checkout.URLs{Return: base + "/return/" + id, Cancel: base + "/cancel/" + id, Notify: base + "/notify/" + id}
}

func TestGatewayFlowKWD(t *testing.T) {
	srv, g, acct := setup(t)
	rc := newReceiver(t)
	ctx := context.Background()
	if g.Name() != "upay" {
		t.Fatal(g.Name())
	}

	p := payment("pay_1", checkout.Money{Minor: 12345, Currency: "KWD"})
	p.Platform = checkout.PlatformWooCommerce
	p.Options.ExtraData = "wc-key-1"
	ch, err := g.CreatePayment(ctx, acct, p, urlsFor(rc.URL, p.ID))
	if err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	if ch.Ref == "" || !strings.HasPrefix(ch.URL, srv.URL+"/pay/") || !json.Valid(ch.Raw) {
		t.Fatalf("charge = %+v", ch)
	}
	raw := srv.Charges()[0]
	var sent map[string]json.RawMessage
	json.Unmarshal(raw, &sent)
	if _, ok := sent["paymentGateway"]; ok {
		t.Errorf("paymentGateway sent without a PaymentMethod: %s", raw)
	}
	for _, want := range []string{`"amount":12.345`, `"price":12.345`, `"id":"pay_1"`, `"reference":"WC-pay_1"`,
		`"description":"Order WC-pay_1"`, `"uniqueId":"pay_1"`, `"plugin":{"src":"woocommerce"}`, `"language":"en"`,
		`"reference":{"id":"pay_1"}`, `"notificationUrl":"` + rc.URL + `/notify/pay_1"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("charge body lacks %s:\n%s", want, raw)
		}
	}

	st, err := g.Status(ctx, acct, p, ch.Ref)
	if err != nil || st.Outcome != checkout.OutcomePending || st.Result != "" || st.TransactionID != "" {
		t.Fatalf("status before = %+v, %v", st, err)
	}

	// The shopper opens the hosted page and presses CAPTURED.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(ch.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte(`value="NOT CAPTURED"`)) || !bytes.Contains(page, []byte("12.345 KWD")) {
		t.Fatalf("hosted page:\n%s", page)
	}
	resp, err = hc.PostForm(ch.URL, url.Values{"result": {"CAPTURED"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, rc.URL+"/return/pay_1?payment_id=") {
		t.Fatalf("redirect %d to %q", resp.StatusCode, loc)
	}

	// The browser return parses as a claim.
	u, _ := url.Parse(loc)
	cb, err := g.ParseCallback(ctx, acct, checkout.CallbackRequest{Method: "GET", URL: loc, Query: u.Query()})
	if err != nil || cb.Ref != ch.Ref || cb.Outcome != checkout.OutcomePaid || cb.Signed || cb.Fields["requested_order_id"] != "pay_1" ||
		cb.Fields["trn_udf"] != "wc-key-1" {
		t.Fatalf("return callback = %+v, %v", cb, err)
	}

	// The notification arrives as a form POST.
	srv.Wait()
	reqs := rc.got()
	if len(reqs) != 1 || reqs[0].Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("notifications = %+v", reqs)
	}
	cb, err = g.ParseCallback(ctx, acct, reqs[0])
	if err != nil || cb.Ref != ch.Ref || cb.Result != "CAPTURED" || cb.Outcome != checkout.OutcomePaid {
		t.Fatalf("notification = %+v, %v", cb, err)
	}
	if n := srv.Notifications(); len(n) != 1 || n[0].Status != 200 {
		t.Fatalf("sim log = %+v", n)
	}

	st, err = g.Status(ctx, acct, p, ch.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != checkout.OutcomePaid || st.Result != "CAPTURED" || st.Ref != ch.Ref || st.OrderID != p.GatewayOrderID ||
		!st.Amount.Equal(p.Amount) || st.TransactionID == "" || st.Data["refund_order_id"] == "" ||
		st.Data["upay_order_id"] == "" || st.Data["payment_type"] != "knet" || !json.Valid(st.Raw) {
		t.Fatalf("status after = %+v", st)
	}

	// Refunds: partial, then an over-refund, then the rest.
	p.GatewayData = st.Data
	r1 := &checkout.Refund{ID: "rf_1", PaymentID: p.ID, Amount: checkout.Money{Minor: 2345, Currency: "KWD"}}
	srv.SetAutoSettleRefunds(false)
	rr, err := g.Refund(ctx, acct, p, r1)
	if err != nil || rr.Status != checkout.RefundPending || rr.Ref == "" {
		t.Fatalf("Refund = %+v, %v", rr, err)
	}
	r1.GatewayRef = rr.Ref
	if rs, err := g.RefundStatus(ctx, acct, p, r1); err != nil || rs.Status != checkout.RefundPending {
		t.Fatalf("RefundStatus before settle = %+v, %v", rs, err)
	}
	if err := srv.SettleRefund(rr.Ref); err != nil {
		t.Fatal(err)
	}
	if rs, err := g.RefundStatus(ctx, acct, p, r1); err != nil || rs.Status != checkout.RefundSucceeded {
		t.Fatalf("RefundStatus after settle = %+v, %v", rs, err)
	}
	over := &checkout.Refund{ID: "rf_2", Amount: checkout.Money{Minor: 10001, Currency: "KWD"}}
	if _, err := g.Refund(ctx, acct, p, over); !isHTTP(err, 422) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("over-refund err = %v", err)
	}
	rest := &checkout.Refund{ID: "rf_3", Amount: checkout.Money{Minor: 10000, Currency: "KWD"}}
	if _, err := g.Refund(ctx, acct, p, rest); err != nil {
		t.Fatalf("refund of the rest: %v", err)
	}
	refunds := srv.Requests("create-refund")
	if len(refunds) != 3 || !bytes.Contains(refunds[2], []byte(`"totalPrice":"10.000"`)) ||
		!bytes.Contains(refunds[0], []byte(`"reference":"rf_1"`)) || !bytes.Contains(refunds[0], []byte(`"customerEmail":"jhon@example.com"`)) {
		t.Fatalf("refund bodies: %s", refunds)
	}
}

func TestGatewayRefundNeedsOrderID(t *testing.T) {
	_, g, acct := setup(t)
	p := payment("p", checkout.Money{Minor: 1000, Currency: "KWD"})
	_, err := g.Refund(context.Background(), acct, p, &checkout.Refund{Amount: p.Amount})
	var ge *checkout.GatewayError
	if !errors.As(err, &ge) || ge.Temporary || !strings.Contains(ge.Message, "order id") {
		t.Fatalf("err = %v", err)
	}
	p.GatewayData = map[string]string{"upay_order_id": "nope"}
	if _, err := g.Refund(context.Background(), acct, p, &checkout.Refund{Amount: checkout.Money{Minor: 1, Currency: "USD"}}); !errors.Is(err, checkout.ErrCurrencyMismatch) {
		t.Fatalf("currency mismatch err = %v", err)
	}
	// fallback to upay_order_id reaches the gateway, which does not know it
	if _, err := g.Refund(context.Background(), acct, p, &checkout.Refund{Amount: p.Amount}); !isHTTP(err, 422) {
		t.Fatalf("unknown order err = %v", err)
	}
}

func TestGatewayCancelAndQuirkRedirect(t *testing.T) {
	srv, g, acct := setup(t)
	ctx := context.Background()
	p := payment("pay_c", checkout.Money{Minor: 500, Currency: "JPY"})
	p.Language, p.PaymentMethod = "ar", "cc"
	urls := checkout.URLs{Return: "https://shop.example/r?wc_order=1", Cancel: "https://shop.example/c?wc_order=1", Notify: "https://shop.example/n"}
	srv.SetNotifyPolicy(upaytest.NotifyPolicy{Drop: true})
	ch, err := g.CreatePayment(ctx, acct, p, urls)
	if err != nil {
		t.Fatal(err)
	}
	if raw := srv.Charges()[0]; !bytes.Contains(raw, []byte(`"language":"ar"`)) || !bytes.Contains(raw, []byte(`"paymentGateway":{"src":"cc"}`)) ||
		!bytes.Contains(raw, []byte(`"amount":500}`)) {
		t.Fatalf("body: %s", raw)
	}
	ret, err := srv.Complete(ch.Ref, upaytest.Canceled)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ret, "https://shop.example/c?wc_order=1?payment_id=") {
		t.Fatalf("cancel redirect %q", ret)
	}
	if _, err := srv.Complete(ch.Ref, upaytest.Captured); !errors.Is(err, upaytest.ErrAlreadyCompleted) {
		t.Fatalf("second Complete err = %v", err)
	}
	u, _ := url.Parse(ret)
	cb, err := g.ParseCallback(ctx, acct, checkout.CallbackRequest{Method: "GET", URL: ret, Query: u.Query()})
	if err != nil || cb.Fields["wc_order"] != "1" || cb.Ref != ch.Ref || cb.Outcome != checkout.OutcomeCanceled {
		t.Fatalf("quirk callback = %+v, %v", cb, err)
	}
	srv.Wait()
	if n := srv.Notifications(); len(n) != 0 {
		t.Fatalf("dropped notification was sent: %+v", n)
	}
	st, err := g.Status(ctx, acct, p, ch.Ref)
	if err != nil || st.Outcome != checkout.OutcomeCanceled || !st.Amount.Equal(p.Amount) {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

func TestNotificationPolicy(t *testing.T) {
	srv, g, acct := setup(t)
	rc := newReceiver(t)
	ctx := context.Background()
	srv.SetNotifyPolicy(upaytest.NotifyPolicy{Times: 3, Delay: 10 * time.Millisecond, JSON: true})
	srv.SetSecret(upaytest.DefaultKey, "whsec")
	acct.Credentials["api_secret"] = "whsec"
	p := payment("pay_n", checkout.Money{Minor: 1999, Currency: "USD"})
	ch, err := g.CreatePayment(ctx, acct, p, urlsFor(rc.URL, p.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Complete(ch.Ref, upaytest.NotCaptured); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	reqs := rc.got()
	if len(reqs) != 3 {
		t.Fatalf("%d notifications, want 3", len(reqs))
	}
	for _, r := range reqs {
		cb, err := g.ParseCallback(ctx, acct, r)
		if err != nil || !cb.Signed || cb.Outcome != checkout.OutcomeFailed || cb.Ref != ch.Ref {
			t.Fatalf("signed JSON notification = %+v, %v", cb, err)
		}
	}
	// A forged notification has no signature: parsed, but not Signed.
	status, err := srv.ForgeNotification(rc.URL+"/notify/pay_n", url.Values{"track_id": {ch.Ref}, "result": {"CAPTURED"}})
	if err != nil || status != 200 {
		t.Fatal(status, err)
	}
	forged := rc.got()[3]
	cb, err := g.ParseCallback(ctx, acct, forged)
	if err != nil || cb.Signed || cb.Outcome != checkout.OutcomePaid {
		t.Fatalf("forged = %+v, %v", cb, err)
	}
	// A forgery that copies a real signature onto another body fails.
	forged.Header = reqs[0].Header.Clone()
	if _, err := g.ParseCallback(ctx, acct, forged); !errors.Is(err, checkout.ErrBadSignature) {
		t.Fatalf("copied signature err = %v", err)
	}
	if n := srv.Notifications(); len(n) != 4 || !n[3].Forged || n[0].Status != 200 {
		t.Fatalf("log = %+v", n)
	}
	// the gateway's truth is unchanged by the forgery
	if st, _ := g.Status(ctx, acct, p, ch.Ref); st.Outcome != checkout.OutcomeFailed {
		t.Fatalf("status = %+v", st)
	}
}

func TestStatusMapping(t *testing.T) {
	srv, g, acct := setup(t)
	ctx := context.Background()
	p := payment("pay_s", checkout.Money{Minor: 1000, Currency: "KWD"})
	ch, err := g.CreatePayment(ctx, acct, p, urlsFor("https://shop.example", p.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		result string
		want   checkout.Outcome
	}{
		{"", checkout.OutcomePending},
		{"CAPTURED", checkout.OutcomePaid},
		{"NOT CAPTURED", checkout.OutcomeFailed},
		{"FAILED", checkout.OutcomeFailed},
		{"DECLINED", checkout.OutcomeFailed},
		{"CANCELED", checkout.OutcomeCanceled},
		{"CANCELLED", checkout.OutcomeCanceled},
		{"PENDING", checkout.OutcomePending},
		{"APPROVED", checkout.OutcomePending},
		{"VOIDED", checkout.OutcomePending},
		{"SOMETHING NEW", checkout.OutcomePending},
	} {
		if err := srv.SetResult(ch.Ref, tt.result); err != nil {
			t.Fatal(err)
		}
		st, err := g.Status(ctx, acct, p, ch.Ref)
		if err != nil || st.Outcome != tt.want || st.Result != tt.result {
			t.Errorf("result %q: %+v, %v; want %s", tt.result, st.Outcome, err, tt.want)
		}
	}
	if err := srv.SetResult("nope", "CAPTURED"); !errors.Is(err, upaytest.ErrUnknownTrackID) {
		t.Fatal(err)
	}
	// unknown track id: UPayments-style status:false, not a panic nor "paid"
	if _, err := g.Status(ctx, acct, p, "unknown"); err == nil || !strings.Contains(err.Error(), "Transaction not found") {
		t.Fatalf("unknown track err = %v", err)
	}
}

func TestStatusFaithful(t *testing.T) {
	ctx := context.Background()
	// Fields the gateway sent as null stay empty; nothing is invented.
	c := fixtureServer(t, "status_pending_null.json")
	g := New(Config{SandboxURL: c.BaseURL})
	acct := checkout.GatewayAccount{Sandbox: true, Credentials: map[string]string{"api_key": "k"}}
	st, err := g.Status(ctx, acct, &checkout.Payment{}, "T2")
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != checkout.OutcomePending || st.TransactionID != "" || st.Data["refund_order_id"] != "" ||
		st.Data["upay_order_id"] != "U1" || len(st.Data) != 1 || st.Amount != (checkout.Money{Minor: 500, Currency: "USD"}) {
		t.Fatalf("status = %+v", st)
	}
	// An amount with a non-zero digit beyond the exponent is an error, never rounded.
	c = fixtureServer(t, "status_bad_price.json")
	g = New(Config{SandboxURL: c.BaseURL})
	if _, err := g.Status(ctx, acct, &checkout.Payment{}, "T1"); !errors.Is(err, checkout.ErrTooPrecise) {
		t.Fatalf("bad price err = %v", err)
	}
	// A live account uses LiveURL.
	g = New(Config{SandboxURL: "http://127.0.0.1:1", LiveURL: c.BaseURL})
	acct.Sandbox = false
	if _, err := g.Status(ctx, acct, &checkout.Payment{}, "T1"); !errors.Is(err, checkout.ErrTooPrecise) {
		t.Fatalf("live url not used: %v", err)
	}
}

func TestCreatePaymentVariants(t *testing.T) {
	srv, g, acct := setup(t)
	ctx := context.Background()
	p := payment("pay_i", checkout.Money{Minor: 1500, Currency: "KWD"})
	p.Options.Invoice = &checkout.Invoice{}
	p.Options.SaveCard = true
	p.CustomerToken = "12345678"
	ch, err := g.CreatePayment(ctx, acct, p, urlsFor("https://shop.example", p.ID))
	if err != nil || ch.URL == "" || ch.Data["invoice_id"] == "" || ch.Ref != "" {
		t.Fatalf("invoice charge = %+v, %v", ch, err)
	}
	raw := srv.Charges()[0]
	for _, want := range []string{`"src":"create-invoice"`, `"notificationType":"link"`, `"isSaveCard":true`, `"customerUniqueToken":12345678`, `"amount":1.500`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("invoice body lacks %s: %s", want, raw)
		}
	}
	p.Options.Invoice = &checkout.Invoice{Notify: checkout.NotifyEmail}
	if ch, err := g.CreatePayment(ctx, acct, p, urlsFor("https://shop.example", p.ID)); err != nil || ch.URL != "" {
		t.Fatalf("email invoice = %+v, %v", ch, err)
	}

	// Bad inputs fail before any call.
	bad := payment("pay_b", checkout.Money{Minor: 1500, Currency: "KWD"})
	bad.Products[0].Price = checkout.Money{Minor: 1, Currency: "USD"}
	if _, err := g.CreatePayment(ctx, acct, bad, urlsFor("https://x", "b")); !errors.Is(err, checkout.ErrCurrencyMismatch) {
		t.Fatalf("product currency err = %v", err)
	}
	bad = payment("pay_b", checkout.Money{Minor: 1500})
	if _, err := g.CreatePayment(ctx, acct, bad, urlsFor("https://x", "b")); !errors.Is(err, checkout.ErrUnknownCurrency) {
		t.Fatalf("currency err = %v", err)
	}
	// The simulator enforces mandatory fields with a 422.
	if _, err := g.CreatePayment(ctx, acct, payment("pay_u", checkout.Money{Minor: 1, Currency: "KWD"}), checkout.URLs{}); !isHTTP(err, 422) ||
		!strings.Contains(err.Error(), "returnUrl") {
		t.Fatalf("missing urls err = %v", err)
	}
	// Missing API key.
	if _, err := g.CreatePayment(ctx, checkout.GatewayAccount{Sandbox: true}, p, urlsFor("https://x", "b")); err == nil ||
		!strings.Contains(err.Error(), "not configured") {
		t.Fatalf("no key err = %v", err)
	}
	// A whitelist page in answer to a charge.
	srv.FailNext("/api/v1/charge", 200, "<html>Access denied</html>")
	if _, err := g.CreatePayment(ctx, acct, payment("pay_w", checkout.Money{Minor: 1, Currency: "KWD"}), urlsFor("https://x", "w")); err == nil ||
		!strings.Contains(err.Error(), "whitelist") {
		t.Fatalf("whitelist err = %v", err)
	}
}

// TestAmountsRoundTrip sends random amounts through the simulator and reads
// them back from get-payment-status: they must stay exact.
func TestAmountsRoundTrip(t *testing.T) {
	srv, g, acct := setup(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(1, seed))
	n := 0
	for _, cur := range []string{"KWD", "USD", "JPY", "BHD"} {
		for i := range 40 {
			var minor int64
			switch i % 4 {
			case 0:
				minor = 1 + rng.Int64N(1000)
			case 1:
				minor = 1 + rng.Int64N(1_000_000_000)
			case 2:
				minor = 1 + rng.Int64N(checkout.MaxMinor)
			default:
				minor = []int64{1, 10, 100, 1000, 12345, checkout.MaxMinor}[rng.IntN(6)]
			}
			amt := checkout.Money{Minor: minor, Currency: cur}
			id := fmt.Sprintf("prop_%s_%d", cur, i)
			p := payment(id, amt)
			ch, err := g.CreatePayment(ctx, acct, p, urlsFor("https://shop.example", id))
			if err != nil {
				t.Fatalf("seed %d: %s: %v", seed, amt, err)
			}
			if raw := srv.Charges()[n]; !bytes.Contains(raw, []byte(`"amount":`+amt.String()+`}`)) {
				t.Fatalf("seed %d: %s sent as %s", seed, amt, raw)
			}
			n++
			st, err := g.Status(ctx, acct, p, ch.Ref)
			if err != nil || !st.Amount.Equal(amt) {
				t.Fatalf("seed %d: %s came back as %v (%v)", seed, amt, st.Amount, err)
			}
		}
	}
}
