package shopify

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/shopify/shopifytest"
	"paybridge/internal/upay/upaytest"
)

// TestPaymentsApp runs the payments-app scenarios end to end on SQLite and
// the embedded queue.
func TestPaymentsApp(t *testing.T) {
	// It owns its harness: its own database, queue server and simulators.
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("kuwait-dates.myshopify.com", ModePaymentsApp)
	if cfg := h.sim.Configuration(shop.Domain); cfg["ready"] != true || cfg["externalHandle"] != shop.ID {
		t.Fatalf("paymentsAppConfigure: %v", cfg)
	}
	t.Run("CapturedResolvesAndRedirects", func(t *testing.T) { testCaptured(t, h, shop, "s-happy") })
	t.Run("SamePostedThrice", func(t *testing.T) { testIdempotentSession(t, h, shop) })
	t.Run("ResolveRetriedUntilShopifyAnswers", func(t *testing.T) { testResolveRetries(t, h, shop) })
	t.Run("NoClientCertificate", func(t *testing.T) { testNoClientCert(t, h, shop) })
	t.Run("CancelGoesBackWithoutReject", func(t *testing.T) { testCancel(t, h, shop) })
	t.Run("NotCapturedRejects", func(t *testing.T) { testNotCaptured(t, h, shop) })
	t.Run("RefundSession", func(t *testing.T) { testRefund(t, h, shop) })
	t.Run("CaptureAndVoidRejected", func(t *testing.T) { testCaptureVoid(t, h, shop) })
	t.Run("PendingThenResolved", func(t *testing.T) { testPending(t, h, shop) })
}

// testPending: a payment the gateway reports in progress marks the
// session pending, sends the shopper back to Shopify at once, and is still
// resolved once the gateway settles.
func testPending(t *testing.T, h *harness, shop *checkout.Shop) {
	id := "s-pending"
	track := h.visit(h.startSession(shop, id, "8.000", "KWD"))
	if u, err := h.p.PendingNext(t.Context(), h.payment(shop, id)); err != nil || u != "" {
		t.Fatalf("not pending yet: %q %v", u, err)
	}
	if err := h.upay.SetResult(track, "PENDING"); err != nil {
		t.Fatal(err)
	}
	p, err := h.svc.Confirm(t.Context(), h.payment(shop, id).ID, "test")
	if err != nil || p.Status != checkout.StatusPending {
		t.Fatalf("confirm: %v %v", p.Status, err)
	}
	want := h.sim.URL + "/checkouts/" + id + "/processing"
	for range 2 { // the second call reuses the stored URL
		if u, err := h.p.PendingNext(t.Context(), h.payment(shop, id)); err != nil || u != want {
			t.Fatalf("PendingNext: %q %v", u, err)
		}
	}
	gid := "gid://shopify/PaymentSession/" + id
	if st := h.sim.Session(gid); st.State != "pending" || st.Reason != "PARTNER_ACTION_REQUIRED" {
		t.Fatalf("session: %+v", st)
	}
	if n := len(h.sim.Calls("paymentSessionPending")); n != 1 {
		t.Fatalf("%d pending calls", n)
	}
	if err := h.upay.SetResult(track, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Confirm(t.Context(), p.ID, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "pending session resolved", func() bool { return h.sim.Session(gid).State == "resolved" })
}

// TestPostgresRedis runs a payment session and the order-webhook flow on
// PostgreSQL and a real Redis.
func TestPostgresRedis(t *testing.T) {
	// It owns its harness: its own database, queue server and simulators.
	t.Parallel()
	h := newHarness(t, postgresBackend)
	shop := h.setup("pg-store.myshopify.com", ModePaymentsApp)
	testCaptured(t, h, shop, "s-pg")
	testRefund(t, h, shop)
	orderShop := h.setup("pg-orders.myshopify.com", ModeOrderWebhook)
	testOrderWebhook(t, h, orderShop, 7001)
}

// startSession posts a payment session and returns our pay URL.
func (h *harness) startSession(shop *checkout.Shop, id, amount, currency string) string {
	h.t.Helper()
	code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/sessions", shop.Domain,
		shopifytest.PaymentSessionBody(id, amount, currency, h.sim.URL+"/checkouts/"+id), true)
	if err != nil || code != http.StatusCreated {
		h.t.Fatalf("payment session: %d %v %v", code, out, err)
	}
	u, _ := out["redirect_url"].(string)
	if !strings.HasPrefix(u, h.base+"/pay/pay_") {
		h.t.Fatalf("redirect_url = %q", u)
	}
	return u
}

func testCaptured(t *testing.T, h *harness, shop *checkout.Shop, id string) {
	payURL := h.startSession(shop, id, "12.345", "KWD")
	track := h.visit(payURL)
	charges := h.upay.Charges()
	if last := string(charges[len(charges)-1]); !strings.Contains(last, `"amount":12.345`) || !strings.Contains(last, `"currency":"KWD"`) {
		t.Fatalf("charge sent to UPayments: %s", last)
	}
	ret, err := h.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	loc := h.waitRedirect(ret, 15*time.Second)
	gid := "gid://shopify/PaymentSession/" + id
	if want := h.sim.URL + "/checkouts/" + id + "/thank_you"; loc != want {
		t.Fatalf("shopper sent to %q, want Shopify's %q", loc, want)
	}
	p := h.payment(shop, id)
	if p.Status != checkout.StatusPaid || p.Amount.String() != "12.345" {
		t.Fatalf("payment: %s %s", p.Status, p.Amount)
	}
	last := string(charges[len(charges)-1])
	for _, route := range []string{"/return/", "/cancel/", "/notify/upay/"} {
		if !strings.Contains(last, route+p.ID+`"`) {
			t.Fatalf("our payment id is not in the path of the %s URL: %s", route, last)
		}
	}
	h.settled(p.ID) // a second resolve would have come by now
	if st := h.sim.Session(gid); st.State != "resolved" || st.Resolves != 1 || st.Rejects != 0 {
		t.Fatalf("session: %+v", st)
	}
}

func testIdempotentSession(t *testing.T, h *harness, shop *checkout.Shop) {
	before := len(h.upay.Charges())
	var urls []string
	for range 3 {
		urls = append(urls, h.startSession(shop, "s-thrice", "5.000", "KWD"))
	}
	if urls[0] != urls[1] || urls[1] != urls[2] {
		t.Fatalf("redirect URLs differ: %v", urls)
	}
	if n := len(h.upay.Charges()) - before; n != 1 {
		t.Fatalf("%d gateway charges for one session", n)
	}
}

func testResolveRetries(t *testing.T, h *harness, shop *checkout.Shop) {
	h.sim.Fail("paymentSessionResolve", 2, shopifytest.Failure{Status: http.StatusServiceUnavailable})
	h.sim.Fail("paymentSessionResolve", 2, shopifytest.Failure{Throttled: true})
	id := "s-retry"
	track := h.visit(h.startSession(shop, id, "1.500", "KWD"))
	ret, err := h.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	loc := h.waitRedirect(ret, 30*time.Second)
	if loc != h.sim.URL+"/checkouts/"+id+"/thank_you" {
		t.Fatalf("shopper sent to %q", loc)
	}
	n := 0
	for _, c := range h.sim.Calls("paymentSessionResolve") {
		if c.Vars["id"] == "gid://shopify/PaymentSession/"+id {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d resolve calls, want 4 failures then 1 success", n)
	}
	if st := h.sim.Session("gid://shopify/PaymentSession/" + id); st.State != "resolved" || st.Resolves != 1 {
		t.Fatalf("session: %+v", st)
	}
}

func testNoClientCert(t *testing.T, h *harness, shop *checkout.Shop) {
	before := len(h.upay.Charges())
	_, _, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/sessions", shop.Domain,
		shopifytest.PaymentSessionBody("s-nocert", "1.000", "KWD", h.sim.URL+"/c"), false)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a session without a client certificate got through TLS: %v", err)
	}
	// The public listener does not serve the session endpoints at all.
	resp, err := http.Post(h.base+"/shopify/payments/sessions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public listener answered %d for the session endpoint", resp.StatusCode)
	}
	if len(h.upay.Charges()) != before {
		t.Fatal("a charge was created")
	}
}

func testCancel(t *testing.T, h *harness, shop *checkout.Shop) {
	id := "s-cancel"
	track := h.visit(h.startSession(shop, id, "3.250", "KWD"))
	ret, err := h.upay.Complete(track, upaytest.Canceled)
	if err != nil {
		t.Fatal(err)
	}
	loc := h.waitRedirect(ret, 15*time.Second)
	if loc != h.sim.URL+"/checkouts/"+id {
		t.Fatalf("shopper sent to %q, want the session's cancel_url", loc)
	}
	eventually(t, 10*time.Second, "canceled payment synced", func() bool { return h.payment(shop, id).SyncState == checkout.SyncDone })
	for _, c := range h.sim.Calls("paymentSessionReject") {
		if c.Vars["id"] == "gid://shopify/PaymentSession/"+id {
			t.Fatalf("a cancel was rejected: %+v", c)
		}
	}
	if st := h.sim.Session("gid://shopify/PaymentSession/" + id); st.State != "" {
		t.Fatalf("session: %+v", st)
	}
}

func testNotCaptured(t *testing.T, h *harness, shop *checkout.Shop) {
	id := "s-declined"
	track := h.visit(h.startSession(shop, id, "2.000", "KWD"))
	ret, err := h.upay.Complete(track, upaytest.NotCaptured)
	if err != nil {
		t.Fatal(err)
	}
	loc := h.waitRedirect(ret, 15*time.Second)
	if loc != h.sim.URL+"/checkouts/"+id+"/payment_failed" {
		t.Fatalf("shopper sent to %q", loc)
	}
	st := h.sim.Session("gid://shopify/PaymentSession/" + id)
	if st.State != "rejected" || st.Reason != "PROCESSING_ERROR" || st.Rejects != 1 || st.Message == "" {
		t.Fatalf("session: %+v", st)
	}
}

func testRefund(t *testing.T, h *harness, shop *checkout.Shop) {
	id := "s-refund-" + shop.ID[len(shop.ID)-4:]
	track := h.visit(h.startSession(shop, id, "10.500", "KWD"))
	ret, err := h.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	h.waitRedirect(ret, 15*time.Second)
	rid := "r-" + id
	body := map[string]any{"id": rid, "gid": "gid://shopify/RefundSession/" + rid, "payment_id": id,
		"amount": "4.250", "currency": "KWD", "test": true, "merchant_locale": "en", "proposed_at": time.Now().UTC().Format(time.RFC3339)}
	for range 2 { // Shopify retries: one refund
		code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true)
		if err != nil || code != http.StatusCreated {
			t.Fatalf("refund session: %d %v %v", code, out, err)
		}
	}
	eventually(t, 20*time.Second, "refund session resolved", func() bool {
		return h.sim.RefundSession("gid://shopify/RefundSession/"+rid).State == "resolved"
	})
	p := h.payment(shop, id)
	rs, err := h.svc.Refunds(t.Context(), p.ID)
	if err != nil || len(rs) != 1 || rs[0].Amount.String() != "4.250" || rs[0].Status != checkout.RefundSucceeded || rs[0].Reference != rid {
		t.Fatalf("refunds: %v %+v", err, rs)
	}
	refunds := 0
	for _, r := range h.upay.Requests("create-refund") {
		if strings.Contains(string(r), rs[0].ID) {
			refunds++
		}
	}
	if refunds != 1 {
		t.Fatalf("%d gateway refunds for one refund session", refunds)
	}
	// More than is left, and an unknown payment: rejected, nothing sent.
	for _, c := range []struct{ rid, payment, amount string }{{"r-too-much-" + id, id, "6.251"}, {"r-unknown-" + id, "no-such-session", "1.000"}} {
		body := map[string]any{"id": c.rid, "gid": "gid://shopify/RefundSession/" + c.rid, "payment_id": c.payment, "amount": c.amount, "currency": "KWD"}
		if code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true); err != nil || code != http.StatusCreated {
			t.Fatalf("refund session %s: %d %v %v", c.rid, code, out, err)
		}
		eventually(t, 10*time.Second, c.rid+" rejected", func() bool {
			st := h.sim.RefundSession("gid://shopify/RefundSession/" + c.rid)
			return st.State == "rejected" && st.Reason == "PROCESSING_ERROR"
		})
	}
	// The refused one is a refund failed from the start, never sent.
	if rs, _ := h.svc.Refunds(t.Context(), p.ID); len(rs) != 2 || rs[1].Status != checkout.RefundFailed || rs[1].Attempts != 0 ||
		rs[1].Reference != "r-too-much-"+id || rs[1].SyncState != checkout.SyncDone {
		t.Fatalf("refunds after rejected sessions: %+v", rs)
	}
	if n := len(h.upay.Requests("create-refund")); n != refunds {
		t.Fatalf("%d gateway refunds", n)
	}
}

func testCaptureVoid(t *testing.T, h *harness, shop *checkout.Shop) {
	for _, kind := range []string{"Capture", "Void"} {
		id := strings.ToLower(kind) + "-1"
		gid := fmt.Sprintf("gid://shopify/%sSession/%s", kind, id)
		code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/"+strings.ToLower(kind)+"s", shop.Domain,
			map[string]any{"id": id, "gid": gid, "payment_id": "s-happy", "amount": "1.000", "currency": "KWD"}, true)
		if err != nil || code != http.StatusCreated {
			t.Fatalf("%s session: %d %v %v", kind, code, out, err)
		}
		eventually(t, 10*time.Second, kind+" rejected", func() bool { return h.sim.OtherSession(gid).State == "rejected" })
		if st := h.sim.OtherSession(gid); st.Reason != "PROCESSING_ERROR" || !strings.Contains(st.Message, "UPayments does not support authorize now and capture later") ||
			!strings.Contains(st.Message, MsgNoAuthorization) {
			t.Fatalf("%s: %+v", kind, st)
		}
	}
}
