package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/platforms/shopify/shopifytest"
)

// TestGateways runs Shopify on every gateway: the settings page's gateway
// choice, one payments-app payment end to end on Checkout.com KNET and on
// KuPay through their simulators, one order-webhook payment on
// Checkout.com, and what each gateway cannot do refused before any
// gateway call (UPayments' own run is TestPaymentsApp).
func TestGateways(t *testing.T) {
	// It owns its harness: its own database, queue server and simulators.
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	t.Run("SettingsPickGateway", func(t *testing.T) { testSettingsGateway(t, h) })
	ckoShop := h.setupGateway("knet-store.myshopify.com", ModePaymentsApp, "cko")
	kupayShop := h.setupGateway("kupay-store.myshopify.com", ModePaymentsApp, "kupay")
	if cfg := h.sim.Configuration(ckoShop.Domain); cfg["ready"] != true {
		t.Fatalf("paymentsAppConfigure: %v", cfg)
	}
	t.Run("CheckoutComPaid", func(t *testing.T) {
		testGatewayPaid(t, h, ckoShop, "s-cko", "12.340", "KWD", `"amount":12340`)
	})
	t.Run("KuPayPaid", func(t *testing.T) {
		testGatewayPaid(t, h, kupayShop, "s-kupay", "10.50", "USD", `"amount":10.50`)
	})
	t.Run("SessionsRefused", func(t *testing.T) {
		for _, c := range []struct {
			shop             *checkout.Shop
			id               string
			amount, currency string
			want             []string
		}{
			{kupayShop, "s-kupay-kwd", "5.000", "KWD", []string{"KuPay", "KWD"}},
			{ckoShop, "s-cko-1235", "1.235", "KWD", []string{"Checkout.com", "end in 0", "1.235"}},
			{ckoShop, "s-cko-usd", "3.00", "USD", []string{"Checkout.com", "USD", "KWD"}},
		} {
			testSessionRefused(t, h, c.shop, c.id, c.amount, c.currency, c.want...)
		}
	})
	t.Run("KuPayRefundRefused", func(t *testing.T) {
		testRefundRefused(t, h, kupayShop, "s-kupay", "10.50", "USD", "KuPay does not support refunds")
	})
	t.Run("CheckoutComPartialRefund", func(t *testing.T) {
		testGatewayRefund(t, h, ckoShop, "s-cko", "2.500", "KWD")
	})
	t.Run("RefundsTheGatewayCannotDo", func(t *testing.T) { testRestrictedRefunds(t, h) })
	t.Run("CaptureRejectedByCapability", func(t *testing.T) {
		for _, shop := range []*checkout.Shop{ckoShop, kupayShop} {
			gid := "gid://shopify/CaptureSession/cap-" + shop.Gateway.Gateway
			code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/captures", shop.Domain,
				map[string]any{"id": "cap-" + shop.Gateway.Gateway, "gid": gid, "payment_id": "s-" + shop.Gateway.Gateway, "amount": "1.000", "currency": "KWD"}, true)
			if err != nil || code != http.StatusCreated {
				t.Fatalf("capture session: %d %v %v", code, out, err)
			}
			eventually(t, 10*time.Second, "capture rejected", func() bool { return h.sim.OtherSession(gid).State == "rejected" })
			name := h.p.gatewayName(shop.Gateway.Gateway)
			if st := h.sim.OtherSession(gid); !strings.Contains(st.Message, name+" does not support authorize now and capture later") {
				t.Fatalf("%s capture: %+v", name, st)
			}
		}
	})
	t.Run("OrderWebhookCheckoutCom", func(t *testing.T) { testOrderWebhookGateway(t, h) })
}

// testSettingsGateway: the settings API lists the gateways with their
// credential fields, checks the credentials a gateway requires, never
// echoes a secret, keeps stored secrets left empty, and refuses a feature
// the gateway lacks.
func testSettingsGateway(t *testing.T, h *harness) {
	shop := "pick-gateway.myshopify.com"
	h.install(shop)
	read := func() (SettingsJSON, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.base+"/shopify/api/settings", nil)
		req.Header.Set("Authorization", "Bearer "+sessionToken(t, shop, nil))
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var s SettingsJSON
		if err := json.Unmarshal(raw, &s); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET settings: %d %s", resp.StatusCode, raw)
		}
		return s, string(raw)
	}
	s, _ := read()
	names := map[string]GatewayOption{}
	for _, g := range s.Gateways {
		names[g.Name] = g
	}
	if len(names) < 3 || names["upay"].DisplayName != "UPayments" || names["cko"].DisplayName != "Checkout.com" || len(names["cko"].Credentials) != 3 ||
		names["kupay"].Refunds || names["kupay"].Credentials[0].Name != "api_token" || s.Gateway != "upay" {
		t.Fatalf("gateways offered: %+v (current %q)", s.Gateways, s.Gateway)
	}
	// A missing required credential: refused, naming it; nothing stored.
	partial := map[string]string{cko.CredSecretKey: ckotest.DefaultSecretKey, cko.CredProcessingChannel: ckotest.DefaultProcessingChannel}
	code, out := h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Gateway: "cko", Credentials: partial})
	if code != http.StatusUnprocessableEntity || !strings.Contains(jsonString(out), "Checkout.com webhook signing key") {
		t.Fatalf("missing webhook key: %d %v", code, out)
	}
	for _, c := range []SettingsJSON{
		{Mode: ModePaymentsApp, Gateway: "stripe", Credentials: map[string]string{"k": "v"}},
		{Mode: ModePaymentsApp, Gateway: "kupay", Credentials: map[string]string{"api_token": "t", "api_key": "x"}},
		{Mode: ModeOrderWebhook, Gateway: "kupay", Credentials: gatewayCreds["kupay"], Invoice: "email"},
		{Mode: ModePaymentsApp, Gateway: "cko", Credentials: gatewayCreds["cko"], PaymentMethod: "cc"},
		{Mode: ModePaymentsApp, Gateway: "kupay", Credentials: gatewayCreds["kupay"], PaymentMethod: "knet"},
		{Mode: ModePaymentsApp, Credentials: map[string]string{"api_key": "k"}, PaymentMethod: "amex"},
	} {
		if code, out := h.settings(shop, c); code != http.StatusUnprocessableEntity {
			t.Fatalf("%+v accepted: %d %v", c, code, out)
		}
	}
	code, out = h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Gateway: "cko", Credentials: gatewayCreds["cko"]})
	if code != http.StatusOK || out["warning"] != nil {
		t.Fatalf("cko settings: %d %v", code, out)
	}
	// The same gateway with no credentials keeps the stored ones.
	if code, out := h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Gateway: "cko", Language: "ar"}); code != http.StatusOK {
		t.Fatalf("keep credentials: %d %v", code, out)
	}
	s, raw := read()
	if s.Gateway != "cko" || !s.CredentialsSet[cko.CredSecretKey] || !s.CredentialsSet[cko.CredWebhookKey] || s.Language != "ar" {
		t.Fatalf("after PUT: %+v", s)
	}
	for _, secret := range gatewayCreds["cko"] {
		if strings.Contains(raw, secret) {
			t.Fatalf("GET echoes a secret: %s", raw)
		}
	}
	stored, _ := h.db.ShopByDomain(context.Background(), checkout.PlatformShopify, shop)
	if stored.Gateway.Gateway != "cko" || stored.Gateway.Credentials[cko.CredWebhookKey] != ckotest.DefaultWebhookKey || len(stored.Gateway.Credentials) != 3 {
		t.Fatalf("stored account: %s, %d credentials", stored.Gateway.Gateway, len(stored.Gateway.Credentials))
	}
	// Another gateway replaces the credentials.
	if code, out := h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Gateway: "kupay", Credentials: gatewayCreds["kupay"]}); code != http.StatusOK {
		t.Fatalf("kupay: %d %v", code, out)
	}
	stored, _ = h.db.ShopByDomain(context.Background(), checkout.PlatformShopify, shop)
	if stored.Gateway.Gateway != "kupay" || len(stored.Gateway.Credentials) != 1 {
		t.Fatalf("after switching: %s %d credentials", stored.Gateway.Gateway, len(stored.Gateway.Credentials))
	}
	// The settings page itself offers the gateway choice.
	code, _, body := get(t, noRedirect, h.base+"/shopify/app?shop="+shop)
	if code != http.StatusOK || !strings.Contains(body, `id="gateway"`) {
		t.Fatalf("settings page: %d", code)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// testGatewayPaid: session → the gateway's page → paid → resolved →
// the shopper sent to Shopify's URL.
func testGatewayPaid(t *testing.T, h *harness, shop *checkout.Shop, id, amount, currency, charged string) {
	before := h.gatewayCreates()
	payURL := h.startSession(shop, id, amount, currency)
	if h.gatewayCreates() != before+1 {
		t.Fatalf("%d charges for one session", h.gatewayCreates()-before)
	}
	ref := h.visitGateway(shop, id, payURL)
	var last []byte
	switch shop.Gateway.Gateway {
	case "cko":
		r := h.cko.Requests("POST /payments")
		last = r[len(r)-1]
	case "kupay":
		r := h.kupay.Requests("create")
		last = r[len(r)-1]
	}
	if !bytes.Contains(last, []byte(charged)) || !bytes.Contains(last, []byte(currency)) {
		t.Fatalf("charge sent: %s, want %s", last, charged)
	}
	ret := h.payOnGateway(shop, ref)
	loc := h.waitRedirect(ret, 15*time.Second)
	if want := h.sim.URL + "/checkouts/" + id + "/thank_you"; loc != want {
		t.Fatalf("shopper sent to %q, want Shopify's %q", loc, want)
	}
	p := h.payment(shop, id)
	if p.Status != checkout.StatusPaid || p.Amount.String() != amount || p.Amount.Currency != currency || p.Gateway != shop.Gateway.Gateway {
		t.Fatalf("payment: %s %s %s on %s", p.Status, p.Amount, p.Amount.Currency, p.Gateway)
	}
	if st := h.sim.Session("gid://shopify/PaymentSession/" + id); st.State != "resolved" || st.Resolves != 1 {
		t.Fatalf("session: %+v", st)
	}
}

// testSessionRefused: a session the gateway cannot charge is answered
// (201, our pay URL) and recorded as declined without any gateway call,
// then rejected once, by the store:sync ladder, with the gateway's reason;
// the shopper is sent to Shopify's URL, and Shopify retrying the session
// changes nothing.
func testSessionRefused(t *testing.T, h *harness, shop *checkout.Shop, id, amount, currency string, want ...string) {
	t.Helper()
	before := h.gatewayCreates()
	body := shopifytest.PaymentSessionBody(id, amount, currency, h.sim.URL+"/checkouts/"+id)
	code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/sessions", shop.Domain, body, true)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("%s: %d %v %v", id, code, out, err)
	}
	pay := h.payment(shop, id)
	redirect, _ := out["redirect_url"].(string)
	if redirect != h.svc.PayURL(pay.ID) {
		t.Fatalf("%s: redirect_url %q", id, redirect)
	}
	gid := "gid://shopify/PaymentSession/" + id
	eventually(t, 10*time.Second, id+" rejected", func() bool { return h.sim.Session(gid).State == "rejected" })
	st := h.sim.Session(gid)
	if st.Reason != "PROCESSING_ERROR" {
		t.Fatalf("%s: %+v", id, st)
	}
	for _, w := range want {
		if !strings.Contains(st.Message, w) {
			t.Fatalf("%s: merchant message %q lacks %q", id, st.Message, w)
		}
	}
	if loc := h.waitRedirect(redirect, 10*time.Second); loc != h.sim.URL+"/checkouts/"+id+"/payment_failed" {
		t.Fatalf("%s: shopper sent to %q", id, loc)
	}
	// Shopify retries the session: the same answer, nothing new.
	code, out, err = h.sim.PostSession(h.sessionURL+"/shopify/payments/sessions", shop.Domain, body, true)
	if err != nil || code != http.StatusCreated || out["redirect_url"] != redirect {
		t.Fatalf("%s retried: %d %v %v", id, code, out, err)
	}
	eventually(t, 10*time.Second, id+" synced", func() bool { return h.payment(shop, id).SyncState == checkout.SyncDone })
	if st := h.sim.Session(gid); st.Rejects != 1 {
		t.Fatalf("%s: rejected %d times", id, st.Rejects)
	}
	if n := h.gatewayCreates() - before; n != 0 {
		t.Fatalf("%s: %d gateway calls", id, n)
	}
	pay = h.payment(shop, id)
	if pay.Status != checkout.StatusFailed || pay.GatewayRef != "" || pay.GatewayURL != "" || pay.Metadata[checkout.MetaDeclineReason] != st.Message {
		t.Fatalf("%s: payment %s ref %q url %q reason %q", id, pay.Status, pay.GatewayRef, pay.GatewayURL, pay.Metadata[checkout.MetaDeclineReason])
	}
}

// TestDeclineSurvivesRestart: a session declined while Shopify's GraphQL
// API fails is rejected by a new bridge process on the same database once
// Shopify answers: on SQLite with the embedded queue (the queue is lost
// with the process; the reconciler finds the unsynced payment) and on
// PostgreSQL with Redis (the retrying store:sync task is kept).
func TestDeclineSurvivesRestart(t *testing.T) {
	// It owns its harness: its own database, queue server and simulators.
	t.Parallel()
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			testDeclineRestart(t, be)
		})
	}
}

func testDeclineRestart(t *testing.T, be backend) {
	h := newHarness(t, be)
	shop := h.setupGateway("restart-store.myshopify.com", ModePaymentsApp, "kupay")
	const id = "s-restart"
	gid := "gid://shopify/PaymentSession/" + id
	h.sim.Fail("paymentSessionReject", 1000, shopifytest.Failure{Status: http.StatusServiceUnavailable})
	code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/sessions", shop.Domain,
		shopifytest.PaymentSessionBody(id, "5.000", "KWD", h.sim.URL+"/checkouts/"+id), true)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("session: %d %v %v", code, out, err)
	}
	redirect, _ := out["redirect_url"].(string)
	pay := h.payment(shop, id)
	if redirect != h.svc.PayURL(pay.ID) || pay.Status != checkout.StatusFailed {
		t.Fatalf("redirect_url %q, payment %s", redirect, pay.Status)
	}
	// The store:sync ladder keeps trying while Shopify fails.
	eventually(t, 15*time.Second, "reject retried", func() bool { return len(h.sim.Calls("paymentSessionReject")) >= 3 })
	// Meanwhile the shopper waits.
	if code, loc, _ := get(t, noRedirect, redirect); code != http.StatusOK || loc != "" {
		t.Fatalf("shopper before the reject: %d %q", code, loc)
	}

	h.stop()
	tried := len(h.sim.Calls("paymentSessionReject"))
	if st := h.sim.Session(gid); st.State != "" || st.Rejects != 0 {
		t.Fatalf("session before the restart: %+v", st)
	}
	h.sim.Recover("paymentSessionReject")
	// No process: nothing is sent. h.stop returned only once the worker,
	// the servers and the platform had stopped (and TestMain's leak check
	// shows none of their goroutines outlives them), so nothing is left
	// that could send one; the restart below sends it.
	if n := len(h.sim.Calls("paymentSessionReject")); n != tried {
		t.Fatalf("%d reject calls with the bridge stopped", n-tried)
	}
	h.restart()

	eventually(t, 20*time.Second, "rejected after the restart", func() bool { return h.sim.Session(gid).State == "rejected" })
	eventually(t, 10*time.Second, "payment synced", func() bool { return h.payment(shop, id).SyncState == checkout.SyncDone })
	st := h.sim.Session(gid)
	if st.Rejects != 1 || st.Reason != "PROCESSING_ERROR" || !strings.Contains(st.Message, "KuPay") || !strings.Contains(st.Message, "KWD") {
		t.Fatalf("session: %+v", st)
	}
	if loc := h.waitRedirect(redirect, 10*time.Second); loc != h.sim.URL+"/checkouts/"+id+"/payment_failed" {
		t.Fatalf("shopper sent to %q", loc)
	}
	if n := h.gatewayCreates(); n != 0 {
		t.Fatalf("%d gateway calls", n)
	}
}

// testRefundRefused: a refund session the gateway cannot perform is
// rejected with its reason; the refund is recorded failed from the start,
// never sent.
func testRefundRefused(t *testing.T, h *harness, shop *checkout.Shop, paymentID, amount, currency, want string) {
	rid := "r-" + paymentID
	gid := "gid://shopify/RefundSession/" + rid
	body := map[string]any{"id": rid, "gid": gid, "payment_id": paymentID, "amount": amount, "currency": currency}
	if code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true); err != nil || code != http.StatusCreated {
		t.Fatalf("refund session: %d %v %v", code, out, err)
	}
	eventually(t, 10*time.Second, "refund session rejected", func() bool { return h.sim.RefundSession(gid).State == "rejected" })
	if st := h.sim.RefundSession(gid); st.Reason != "PROCESSING_ERROR" || !strings.Contains(st.Message, want) {
		t.Fatalf("refund session: %+v", st)
	}
	if rs, _ := h.svc.Refunds(t.Context(), h.payment(shop, paymentID).ID); len(rs) != 1 || rs[0].Status != checkout.RefundFailed || rs[0].Attempts != 0 {
		t.Fatalf("refunds recorded: %+v", rs)
	}
}

// testGatewayRefund: a partial refund session on a gateway that refunds
// partially is resolved; one refund reaches the gateway.
func testGatewayRefund(t *testing.T, h *harness, shop *checkout.Shop, paymentID, amount, currency string) {
	rid := "r-" + paymentID
	gid := "gid://shopify/RefundSession/" + rid
	body := map[string]any{"id": rid, "gid": gid, "payment_id": paymentID, "amount": amount, "currency": currency}
	if code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true); err != nil || code != http.StatusCreated {
		t.Fatalf("refund session: %d %v %v", code, out, err)
	}
	eventually(t, 20*time.Second, "refund session resolved", func() bool { return h.sim.RefundSession(gid).State == "resolved" })
	rs, err := h.svc.Refunds(t.Context(), h.payment(shop, paymentID).ID)
	if err != nil || len(rs) != 1 || rs[0].Amount.String() != amount || rs[0].Status != checkout.RefundSucceeded {
		t.Fatalf("refunds: %v %+v", err, rs)
	}
	// 1.235 KWD cannot be refunded exactly on Checkout.com: rejected.
	if shop.Gateway.Gateway == "cko" {
		testRefundRefusedAgain(t, h, shop, paymentID)
	}
}

func testRefundRefusedAgain(t *testing.T, h *harness, shop *checkout.Shop, paymentID string) {
	rid := "r2-" + paymentID
	gid := "gid://shopify/RefundSession/" + rid
	body := map[string]any{"id": rid, "gid": gid, "payment_id": paymentID, "amount": "1.235", "currency": "KWD"}
	if code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true); err != nil || code != http.StatusCreated {
		t.Fatalf("refund session: %d %v %v", code, out, err)
	}
	eventually(t, 10*time.Second, "1.235 refund rejected", func() bool { return h.sim.RefundSession(gid).State == "rejected" })
	if st := h.sim.RefundSession(gid); !strings.Contains(st.Message, "end in 0") {
		t.Fatalf("refund session: %+v", st)
	}
	if n := len(h.cko.Requests("POST /payments/{id}/refunds")); n != 1 {
		t.Fatalf("%d refunds reached Checkout.com", n)
	}
}

// testOrderWebhookGateway: order-webhook mode on Checkout.com: a KWD
// order ending in 0 is paid on the KNET page and recorded as a manual
// payment of the exact amount under the gateway's name; an order of
// 1.235 KWD gets no payment and one note saying why, however often
// Shopify delivers it.
func testOrderWebhookGateway(t *testing.T, h *harness) {
	shop := h.setupGateway("knet-orders.myshopify.com", ModeOrderWebhook, "cko")
	order := func(id int64, total string) []byte {
		b := orderPayload(t, id, shop.Domain, total)
		var o map[string]any
		_ = json.Unmarshal(b, &o)
		o["payment_gateway_names"] = []string{"Checkout.com"}
		b, _ = json.Marshal(o)
		return b
	}
	gid := h.sim.AddOrder(8001, "#8001", "KWD", "12.340")
	if code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-8001", order(8001, "12.340"), ""); err != nil || code != http.StatusOK {
		t.Fatalf("orders/create: %d %v", code, err)
	}
	p := h.payment(shop, "8001")
	if note := h.sim.Order(gid).Note; !strings.Contains(note, "Pay with Checkout.com: "+h.base+"/pay/"+p.ID) {
		t.Fatalf("order note: %q", note)
	}
	ref := h.visitGateway(shop, "8001", h.base+"/pay/"+p.ID)
	loc := h.waitRedirect(h.payOnGateway(shop, ref), 15*time.Second)
	if !strings.Contains(loc, "/orders/8001/authenticate") {
		t.Fatalf("shopper sent to %q", loc)
	}
	eventually(t, 15*time.Second, "manual payment recorded", func() bool { return h.sim.Order(gid).Status == "PAID" })
	o := h.sim.Order(gid)
	if len(o.Transactions) != 1 || o.Transactions[0].Amount != "12.340" || o.Transactions[0].Currency != "KWD" || o.Transactions[0].Gateway != "Checkout.com" {
		t.Fatalf("order transactions: %+v", o.Transactions)
	}
	eventually(t, 10*time.Second, "transaction recorded on the payment", func() bool {
		return h.payment(shop, "8001").Metadata[MetaTransaction] == o.Transactions[0].ID
	})

	before := h.gatewayCreates()
	gid2 := h.sim.AddOrder(8002, "#8002", "KWD", "1.235")
	for i := range 2 { // redelivered with another event id: one note
		if code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-8002-"+strconv.Itoa(i), order(8002, "1.235"), ""); err != nil || code != http.StatusOK {
			t.Fatalf("orders/create: %d %v", code, err)
		}
	}
	if _, err := h.db.PaymentByOrder(context.Background(), shop.ID, "8002"); err == nil {
		t.Fatal("a payment was created for 1.235 KWD on Checkout.com")
	}
	if n := h.gatewayCreates() - before; n != 0 {
		t.Fatalf("%d gateway calls", n)
	}
	note := h.sim.Order(gid2).Note
	if strings.Count(note, "paybridge cannot collect this order") != 1 || !strings.Contains(note, "Checkout.com needs 3-decimal amounts to end in 0") {
		t.Fatalf("order note: %q", note)
	}
	if o := h.sim.Order(gid2); o.Status != "PENDING" || len(o.Transactions) != 0 {
		t.Fatalf("order: %+v", o)
	}
}

// testRestrictedRefunds: on a gateway without partial refunds a partial
// refund session is rejected and a full one goes through; on a gateway
// with one refund per payment the second is rejected. Nothing refused
// reaches the gateway.
func testRestrictedRefunds(t *testing.T, h *harness) {
	refund := func(shop *checkout.Shop, paymentID, rid, amount string) shopifytest.SessionState {
		t.Helper()
		gid := "gid://shopify/RefundSession/" + rid
		body := map[string]any{"id": rid, "gid": gid, "payment_id": paymentID, "amount": amount, "currency": "KWD"}
		if code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true); err != nil || code != http.StatusCreated {
			t.Fatalf("refund session: %d %v %v", code, out, err)
		}
		eventually(t, 20*time.Second, rid+" answered", func() bool { return h.sim.RefundSession(gid).State != "" })
		return h.sim.RefundSession(gid)
	}
	for _, c := range []struct {
		gateway, first, second, want string
		firstOK                      bool
	}{
		{"upay-fullonly", "2.000", "6.000", "does not support partial refunds", false},
		{"upay-onerefund", "2.000", "1.000", "does not support more than one refund per payment", true},
	} {
		shop := h.install(strings.ReplaceAll(c.gateway, "-", "") + ".myshopify.com")
		shop.Gateway = checkout.GatewayAccount{Gateway: c.gateway, Sandbox: true, Credentials: gatewayCreds["upay"]}
		if err := h.db.UpdateShop(t.Context(), shop); err != nil {
			t.Fatal(err)
		}
		id := "s-" + c.gateway
		ret, err := h.upay.Complete(h.visit(h.startSession(shop, id, "6.000", "KWD")), "CAPTURED")
		if err != nil {
			t.Fatal(err)
		}
		h.waitRedirect(ret, 15*time.Second)
		before := len(h.upay.Requests("create-refund"))
		st := refund(shop, id, "r1-"+c.gateway, c.first)
		if c.firstOK != (st.State == "resolved") {
			t.Fatalf("%s first refund: %+v", c.gateway, st)
		}
		if !c.firstOK && !strings.Contains(st.Message, c.want) {
			t.Fatalf("%s first refund: %+v", c.gateway, st)
		}
		st = refund(shop, id, "r2-"+c.gateway, c.second)
		if c.firstOK && (st.State != "rejected" || !strings.Contains(st.Message, c.want)) {
			t.Fatalf("%s second refund: %+v", c.gateway, st)
		}
		if !c.firstOK && st.State != "resolved" {
			t.Fatalf("%s full refund: %+v", c.gateway, st)
		}
		if n := len(h.upay.Requests("create-refund")) - before; n != 1 {
			t.Fatalf("%s: %d refunds reached the gateway", c.gateway, n)
		}
	}
}
