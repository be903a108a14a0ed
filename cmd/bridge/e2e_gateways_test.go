package main

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/cko/ckotest"
)

// otherGateways are the gateways besides UPayments (whose matrix is
// TestPayments); each entry makes a fresh driver.
var otherGateways = []func() gatewayDriver{
	func() gatewayDriver { return &ckoDriver{} },
	func() gatewayDriver { return &kupayDriver{} },
}

// TestGateways runs the core's scenarios, written once, for Checkout.com
// KNET and KuPay on SQLite + the embedded queue, then each gateway's own
// checks; on PostgreSQL + Redis it runs the happy path of each.
func TestGateways(t *testing.T) {
	t.Parallel()
	for _, mk := range otherGateways {
		gw := mk()
		t.Run(gw.name(), func(t *testing.T) {
			t.Parallel()
			t.Run(backends[0].name, func(t *testing.T) {
				t.Parallel()
				b := startBridgeWith(t, backends[0], gw)
				t.Run("HappyPath", func(t *testing.T) { testHappyPath(t, b) })
				t.Run("DuplicateNotificationsAndReturnRace", func(t *testing.T) { testDuplicates(t, b) })
				t.Run("ForgedNotificationAndReturn", func(t *testing.T) { testForged(t, b) })
				t.Run("MissingNotification", func(t *testing.T) { testMissingNotification(t, b) })
				t.Run("MerchantDown", func(t *testing.T) { testMerchantDown(t, b) })
				t.Run("BadInput", func(t *testing.T) { testBadInput(t, b) })
				t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, b) })
				switch gw.(type) {
				case *ckoDriver:
					t.Run("AmountRule", func(t *testing.T) { testCkoAmountRule(t, b) })
					t.Run("BadSignature", func(t *testing.T) { testCkoBadSignature(t, b) })
					t.Run("AccountWebhookURL", func(t *testing.T) { testCkoAccountWebhook(t, b) })
					t.Run("Expired", func(t *testing.T) { testCkoExpired(t, b) })
					t.Run("PartialRefunds", func(t *testing.T) { testCkoRefunds(t, b) })
				case *kupayDriver:
					t.Run("KWDRefused", func(t *testing.T) { testKupayKWD(t, b) })
					t.Run("PaidByCallbackOnly", func(t *testing.T) { testKupayCallbackOnly(t, b) })
				}
				t.Run("Restart", func(t *testing.T) { testRestart(t, b) })
			})
			t.Run(backends[1].name, func(t *testing.T) {
				t.Parallel()
				b := startBridgeWith(t, backends[1], mk())
				t.Run("HappyPath", func(t *testing.T) { testHappyPath(t, b) })
			})
		})
	}
}

// refused checks a 422 unsupported_by_gateway answer naming the reason.
func refused(t *testing.T, code int, e map[string]any, reason string) {
	t.Helper()
	errObj, _ := e["error"].(map[string]any)
	if code != http.StatusUnprocessableEntity || errObj["code"] != "unsupported_by_gateway" || !strings.Contains(errObj["message"].(string), reason) {
		t.Fatalf("got %d %v, want 422 unsupported_by_gateway %q", code, e, reason)
	}
}

func testCkoAmountRule(t *testing.T, b *bridge) {
	d := b.gw.(*ckoDriver)
	before := d.creates()
	code, e := b.do("POST", "/api/v1/payments", b.order("cko-1235", "1.235", "KWD"))
	refused(t, code, e, "Checkout.com needs 3-decimal amounts to end in 0; 1.235 KWD cannot be charged exactly")
	if d.creates() != before {
		t.Fatal("a refused amount reached Checkout.com")
	}
	if code, e := b.do("POST", "/api/v1/payments", b.order("cko-usd", "1.00", "USD")); code != 422 {
		t.Fatalf("USD on KNET: %d %v", code, e)
	}
	p := b.create("cko-1230", "1.230", "KWD")
	if p["amount"] != "1.230" || !bytes.Contains(d.lastCreate(t), []byte(`"amount":1230,`)) {
		t.Fatalf("1.230 KWD: payment %v, request %s", p, d.lastCreate(t))
	}
	// A Shopify capture session on KNET is refused up front.
	err := b.app.svc.Supports("cko", checkout.FeatureCapture)
	var ue *checkout.UnsupportedError
	if !errors.As(err, &ue) || ue.Gateway != "cko" || !strings.Contains(ue.Reason, "Checkout.com") {
		t.Fatalf("capture on KNET: %v", err)
	}
}

func testCkoBadSignature(t *testing.T, b *bridge) {
	d := b.gw.(*ckoDriver)
	p := b.createFor("cko-badsig", "3.000")
	id := p["id"].(string)
	_, ref := b.visit(p)
	before := b.get(id)
	for _, key := range []string{"wrong-key", ""} { // a bad signature, then none
		code, err := d.srv.ForgeWebhook(notifyURL(b, id), "payment_captured", ref, key)
		if err != nil || code != http.StatusUnauthorized {
			t.Fatalf("webhook signed with %q: %d %v, want 401", key, code, err)
		}
	}
	b.settled(t, id)
	after := b.get(id)
	if after["status"] != before["status"] || after["updated_at"] != before["updated_at"] ||
		countEvents(after, "notification", "") != 0 || countEvents(after, "signature_invalid", "") != 2 {
		t.Fatalf("bad signatures changed the payment: %v → %v; %s", before["status"], after["status"], eventsOf(after))
	}
	if len(b.merchant.deliveries("cko-badsig")) != 0 {
		t.Fatal("the merchant was told something")
	}
}

func testCkoExpired(t *testing.T, b *bridge) {
	d := b.gw.(*ckoDriver)
	d.srv.SetPageLifetime(300 * time.Millisecond)
	defer d.srv.SetPageLifetime(ckotest.DefaultPageLifetime)
	p := b.createFor("cko-expired", "4.000")
	id := p["id"].(string)
	page, _ := b.visit(p)
	resp, err := http.Get(page) // the shopper lands on the KNET page and leaves it
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := b.waitStatus(id, "expired", 10*time.Second)
	if countEvents(got, "notification", "") == 0 {
		t.Fatalf("expired without the payment_expired webhook: %s", eventsOf(got))
	}
	ds := b.merchant.waitDelivered("cko-expired", 1, 10*time.Second)
	if ds[0].Type != "payment.expired" || !ds[0].Verified {
		t.Fatalf("merchant told: %+v", ds)
	}
	var types []string
	for _, w := range d.srv.Webhooks() {
		types = append(types, w.Type)
	}
	if !strings.Contains(strings.Join(types, ","), "payment_expired") {
		t.Fatalf("webhooks sent: %v", types)
	}
}

func testCkoRefunds(t *testing.T, b *bridge) {
	d := b.gw.(*ckoDriver)
	p := b.create("cko-refund", "10.000", "KWD")
	id := p["id"].(string)
	_, ref := b.visit(p)
	follow(t, d.complete(t, ref, outPaid))
	b.waitStatus(id, "paid", 10*time.Second)
	b.merchant.waitDelivered("cko-refund", 1, 10*time.Second)
	refunds := "/api/v1/payments/" + id + "/refunds"
	code, e := b.do("POST", refunds, map[string]any{"amount": "0.005"})
	refused(t, code, e, "Checkout.com needs 3-decimal amounts to end in 0")
	if code, r := b.do("POST", refunds, map[string]any{"amount": "1.000", "reason": "one box"}); code != 201 {
		t.Fatalf("first partial refund: %d %v", code, r)
	}
	// Refunds settle asynchronously: the refund job polls the actions on
	// its ladder (the harness makes it 1ms, the next due-task check).
	b.waitField(id, "refunded_amount", "1.000", 20*time.Second)
	if code, r := b.do("POST", refunds, map[string]any{"amount": "2.500"}); code != 201 {
		t.Fatalf("second partial refund: %d %v", code, r)
	}
	b.waitField(id, "refunded_amount", "3.500", 20*time.Second)
	reqs := d.srv.Requests("POST /payments/{id}/refunds")
	if len(reqs) != 2 || !bytes.Contains(reqs[0], []byte(`"amount":1000`)) || !bytes.Contains(reqs[1], []byte(`"amount":2500`)) {
		t.Fatalf("refund requests: %q", reqs)
	}
	ds := b.merchant.waitDelivered("cko-refund", 3, 10*time.Second)
	n := 0
	for _, dl := range ds {
		if dl.Type == "refund.succeeded" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("refund callbacks: %+v", ds)
	}
	if code, e := b.do("POST", refunds, map[string]any{"amount": "6.510"}); code != 422 {
		t.Fatalf("over-refund: %d %v", code, e)
	}
}

func testKupayKWD(t *testing.T, b *bridge) {
	d := b.gw.(*kupayDriver)
	before := d.creates()
	code, e := b.do("POST", "/api/v1/payments", b.order("kp-kwd", "12.345", "KWD"))
	refused(t, code, e, "KuPay does not accept KWD")
	if d.creates() != before {
		t.Fatal("a KWD payment reached KuPay")
	}
}

func testKupayCallbackOnly(t *testing.T, b *bridge) {
	d := b.gw.(*kupayDriver)
	p := b.create("kp-cb", "25.50", "USD")
	id := p["id"].(string)
	_, ref := b.visit(p)
	statusCalls := len(d.srv.Requests("status"))
	d.complete(t, ref, outPaid) // the callback goes out; the shopper never comes back
	got := b.waitStatus(id, "paid", 10*time.Second)
	if countEvents(got, "notification", "") == 0 || countEvents(got, "return", "") != 0 {
		t.Fatalf("not paid through the callback: %s", eventsOf(got))
	}
	if len(d.srv.Requests("status")) <= statusCalls {
		t.Fatal("paid without asking KuPay's status API")
	}
	b.merchant.waitDelivered("kp-cb", 1, 10*time.Second)
	// KuPay cannot refund: refused up front, nothing sent.
	code, e := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "1.00"})
	refused(t, code, e, "KuPay does not support refunds")
}

// testCkoAccountWebhook sends the webhooks to one URL for the whole account,
// as a Checkout.com workflow does: the bridge finds the payment from the
// body's reference and checks the signature with that shop's key.
func testCkoAccountWebhook(t *testing.T, b *bridge) {
	d := b.gw.(*ckoDriver)
	d.srv.SetWebhookURL(func(_, _ string) string { return b.base + "/notify/cko" })
	defer d.srv.SetWebhookURL(func(_, reference string) string { return b.base + "/notify/cko/" + reference })
	p := b.createFor("cko-account", "6.000")
	id := p["id"].(string)
	_, ref := b.visit(p)
	// Forged at the account URL: 401, and an unknown reference 404.
	if code, err := d.srv.ForgeWebhook(b.base+"/notify/cko", "payment_captured", ref, "wrong"); err != nil || code != 401 {
		t.Fatalf("forged account-level webhook: %d %v", code, err)
	}
	resp, err := http.Post(b.base+"/notify/cko", "application/json", strings.NewReader(`{"type":"payment_captured","data":{"id":"pay_x","reference":"pay_unknownunknownunknownunkn"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown reference: %d", resp.StatusCode)
	}
	d.complete(t, ref, outPaid) // the shopper never returns; the webhook does the work
	got := b.waitStatus(id, "paid", 10*time.Second)
	if countEvents(got, "notification", "") != 1 || countEvents(got, "signature_invalid", "") != 1 {
		t.Fatalf("events: %s", eventsOf(got))
	}
	b.merchant.waitDelivered("cko-account", 1, 10*time.Second)
}
