package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/shopify/shopifytest"
	"paybridge/internal/upay/upaytest"
)

// orderPayload is the orders/create fixture for an unpaid KWD order of
// total placed with the manual method.
func orderPayload(t testing.TB, id int64, shop, total string) []byte {
	t.Helper()
	var o map[string]any
	if err := json.Unmarshal(shopifytest.Fixture("orders_create.json"), &o); err != nil {
		t.Fatal(err)
	}
	o["id"] = id
	o["admin_graphql_api_id"] = "gid://shopify/Order/" + strconv.FormatInt(id, 10)
	o["name"] = "#" + strconv.FormatInt(id, 10)
	o["financial_status"] = "pending"
	o["payment_gateway_names"] = []string{"UPayments"}
	o["currency"], o["presentment_currency"] = "KWD", "KWD"
	o["total_price"], o["total_outstanding"] = total, total
	o["note"] = "leave at the door"
	o["order_status_url"] = "https://" + shop + "/orders/" + strconv.FormatInt(id, 10) + "/authenticate?key=abc"
	b, _ := json.Marshal(o)
	return b
}

func TestOrderWebhook(t *testing.T) {
	// It owns its harness: its own database, queue server and simulators.
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("souq-orders.myshopify.com", ModeOrderWebhook)
	t.Run("PaidOnceWithExactAmount", func(t *testing.T) { testOrderWebhook(t, h, shop, 5001) })
	t.Run("LegacyFallsBackToMarkAsPaid", func(t *testing.T) {
		h.sim.SetLegacy(true)
		defer h.sim.SetLegacy(false)
		gid := h.sim.AddOrder(5002, "#5002", "KWD", "7.125")
		code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-5002", orderPayload(t, 5002, shop.Domain, "7.125"), "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("webhook: %d %v", code, err)
		}
		p := h.payment(shop, "5002")
		track := h.visit(h.base + "/pay/" + p.ID)
		ret, _ := h.upay.Complete(track, upaytest.Captured)
		h.waitRedirect(ret, 15*time.Second)
		eventually(t, 15*time.Second, "order marked paid", func() bool { return h.sim.Order(gid).Status == "PAID" })
		if n := len(h.sim.Calls("orderMarkAsPaid")); n != 1 {
			t.Fatalf("%d orderMarkAsPaid calls", n)
		}
	})
	t.Run("TemporarilyUnavailableRetried", func(t *testing.T) {
		gid := h.sim.AddOrder(5004, "#5004", "KWD", "2.500")
		h.sim.Fail("orderCreateManualPayment", 2, shopifytest.Failure{UserError: "The order is being edited.", Code: "ORDER_IS_TEMPORARILY_UNAVAILABLE"})
		code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-5004", orderPayload(t, 5004, shop.Domain, "2.500"), "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("webhook: %d %v", code, err)
		}
		p := h.payment(shop, "5004")
		ret, _ := h.upay.Complete(h.visit(h.base+"/pay/"+p.ID), upaytest.Captured)
		h.waitRedirect(ret, 15*time.Second)
		eventually(t, 20*time.Second, "order paid after the order came back", func() bool { return h.sim.Order(gid).Status == "PAID" })
		eventually(t, 10*time.Second, "sync done", func() bool { return h.payment(shop, "5004").SyncState == checkout.SyncDone })
		if n := len(h.sim.Calls("orderCreateManualPayment")); n < 3 {
			t.Fatalf("%d orderCreateManualPayment calls, want the 2 refused and 1 more", n)
		}
	})
	t.Run("PresentmentCurrency", func(t *testing.T) {
		// A multi-currency store: the shop's currency is USD, the shopper
		// saw and pays KWD; the payment is recorded in KWD.
		gid := h.sim.AddMultiCurrencyOrder(5005, "#5005", "USD", "40.00", "KWD", "12.345")
		var o map[string]any
		_ = json.Unmarshal(orderPayload(t, 5005, shop.Domain, "40.00"), &o)
		o["currency"], o["presentment_currency"] = "USD", "KWD"
		b, _ := json.Marshal(o)
		code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-5005", b, "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("webhook: %d %v", code, err)
		}
		p := h.payment(shop, "5005")
		if p.Amount.String() != "12.345" || p.Amount.Currency != "KWD" {
			t.Fatalf("charged %s %s, want the presented 12.345 KWD", p.Amount, p.Amount.Currency)
		}
		ret, _ := h.upay.Complete(h.visit(h.base+"/pay/"+p.ID), upaytest.Captured)
		h.waitRedirect(ret, 15*time.Second)
		eventually(t, 20*time.Second, "order paid", func() bool { return h.sim.Order(gid).Status == "PAID" })
		tx := h.sim.Order(gid).Transactions
		if len(tx) != 1 || tx[0].PresentmentAmount != "12.345" || tx[0].PresentmentCurrency != "KWD" || tx[0].Amount != "40.00" {
			t.Fatalf("transactions: %+v", tx)
		}
		eventually(t, 10*time.Second, "transaction recorded", func() bool { return h.payment(shop, "5005").Metadata[MetaTransaction] == tx[0].ID })
	})
	t.Run("OtherGatewayIgnored", func(t *testing.T) {
		b := orderPayload(t, 5003, shop.Domain, "1.000")
		var o map[string]any
		_ = json.Unmarshal(b, &o)
		o["payment_gateway_names"] = []string{"Cash on Delivery (COD)"}
		b, _ = json.Marshal(o)
		code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-5003", b, "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("webhook: %d %v", code, err)
		}
		if _, err := h.db.PaymentByOrder(context.Background(), shop.ID, "5003"); err == nil {
			t.Fatal("a payment was created for an order of another gateway")
		}
	})
	t.Run("BadHMACRefused", func(t *testing.T) {
		for _, topic := range []string{"orders/create", "customers/data_request", "customers/redact", "shop/redact", "app/uninstalled"} {
			code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", topic, shop.Domain, "evt-bad-"+topic,
				[]byte(`{"shop_domain":"x"}`), h.sim.SignWebhook([]byte(`{"shop_domain":"y"}`)))
			if err != nil || code != http.StatusUnauthorized {
				t.Fatalf("%s with a forged HMAC: %d %v", topic, code, err)
			}
		}
	})
	t.Run("InvoiceByEmail", func(t *testing.T) { testInvoice(t, h) })
	t.Run("GatewayPayLink", func(t *testing.T) { testGatewayLink(t, h) })
	t.Run("Compliance", func(t *testing.T) { testCompliance(t, h, shop) })
}

// testInvoice: order-webhook mode reaching the shopper with a UPayments
// invoice by e-mail; the result comes with UPayments' notification.
func testInvoice(t *testing.T, h *harness) {
	shop := h.setup("invoice-shop.myshopify.com", ModeOrderWebhook)
	if code, out := h.settings(shop.Domain, SettingsJSON{Mode: ModeOrderWebhook, Sandbox: true, Invoice: "email"}); code != http.StatusOK {
		t.Fatalf("settings: %d %v", code, out)
	}
	gid := h.sim.AddOrder(6001, "#6001", "KWD", "0.500")
	body := orderPayload(t, 6001, shop.Domain, "0.500")
	for i := range 2 { // a redelivery with another event id must not send a second invoice
		code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-6001-"+strconv.Itoa(i), body, "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("webhook: %d %v", code, err)
		}
	}
	invoices := 0
	for _, c := range h.upay.Charges() {
		if strings.Contains(string(c), `"create-invoice"`) && strings.Contains(string(c), `"notificationType":"email"`) {
			invoices++
		}
	}
	if invoices != 1 {
		t.Fatalf("%d invoices sent", invoices)
	}
	p := h.payment(shop, "6001")
	if note := h.sim.Order(gid).Note; !strings.Contains(note, "invoice sent by email") {
		t.Fatalf("note: %q", note)
	}
	tracks := h.upay.TrackIDs()
	if _, err := h.upay.Complete(tracks[len(tracks)-1], upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "invoice paid and recorded", func() bool { return h.sim.Order(gid).Status == "PAID" })
	if o := h.sim.Order(gid); len(o.Transactions) != 1 || o.Transactions[0].Amount != "0.500" {
		t.Fatalf("transactions: %+v", o.Transactions)
	}
	if got := h.payment(shop, "6001"); got.Status != checkout.StatusPaid || got.ID != p.ID {
		t.Fatalf("payment: %s", got.Status)
	}
}

// testGatewayLink: order-webhook mode with the invoice setting "link":
// the gateway's own pay link (a create-invoice that sends nothing) is noted
// on the order, and the payment's customer is the order's customer.
func testGatewayLink(t *testing.T, h *harness) {
	shop := h.setup("link-shop.myshopify.com", ModeOrderWebhook)
	if code, out := h.settings(shop.Domain, SettingsJSON{Mode: ModeOrderWebhook, Sandbox: true, Invoice: "link"}); code != http.StatusOK {
		t.Fatalf("settings: %d %v", code, out)
	}
	gid := h.sim.AddOrder(6101, "#6101", "KWD", "0.750")
	if code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-6101", orderPayload(t, 6101, shop.Domain, "0.750"), ""); err != nil || code != http.StatusOK {
		t.Fatalf("webhook: %d %v", code, err)
	}
	charges := h.upay.Charges()
	last := string(charges[len(charges)-1])
	if !strings.Contains(last, `"create-invoice"`) || !strings.Contains(last, `"notificationType":"link"`) {
		t.Fatalf("sent %s", last)
	}
	p := h.payment(shop, "6101")
	if p.GatewayURL == "" || !strings.Contains(h.sim.Order(gid).Note, "Pay with UPayments: "+p.GatewayURL) {
		t.Fatalf("note %q, the gateway's link %q", h.sim.Order(gid).Note, p.GatewayURL)
	}
	if p.Customer.UniqueID == "" {
		t.Errorf("the order's customer id was not kept: %+v", p.Customer)
	}
}

func testOrderWebhook(t *testing.T, h *harness, shop *checkout.Shop, id int64) {
	gid := h.sim.AddOrder(id, "#"+strconv.FormatInt(id, 10), "KWD", "12.345")
	body := orderPayload(t, id, shop.Domain, "12.345")
	event := "evt-" + strconv.FormatInt(id, 10)
	code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, event, body, "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("orders/create: %d %v", code, err)
	}
	charges := len(h.upay.Charges())
	// The same event again (Shopify redelivers): ignored.
	if code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, event, body, ""); err != nil || code != http.StatusOK {
		t.Fatalf("duplicate: %d %v", code, err)
	}
	if len(h.upay.Charges()) != charges || len(h.sim.Calls("orderUpdate")) == 0 {
		t.Fatalf("duplicate processed: charges %d→%d", charges, len(h.upay.Charges()))
	}
	p := h.payment(shop, strconv.FormatInt(id, 10))
	note := h.sim.Order(gid).Note
	if !strings.HasPrefix(note, "leave at the door\n") || !strings.Contains(note, h.base+"/pay/"+p.ID) {
		t.Fatalf("order note: %q", note)
	}
	track := h.visit(h.base + "/pay/" + p.ID)
	ret, err := h.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	loc := h.waitRedirect(ret, 15*time.Second)
	if !strings.Contains(loc, "/orders/"+strconv.FormatInt(id, 10)+"/authenticate") {
		t.Fatalf("shopper sent to %q, want the order status page", loc)
	}
	eventually(t, 15*time.Second, "manual payment recorded", func() bool { return h.sim.Order(gid).Status == "PAID" })
	eventually(t, 10*time.Second, "sync done", func() bool { return h.payment(shop, p.OrderID).SyncState == checkout.SyncDone })
	// A replayed sync must not record it twice.
	if err := h.svc.SyncPayment(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.p.SyncPayment(context.Background(), shop, h.payment(shop, p.OrderID)); err != nil {
		t.Fatal(err)
	}
	o := h.sim.Order(gid)
	if len(o.Transactions) != 1 || o.Transactions[0].Amount != "12.345" || o.Transactions[0].Currency != "KWD" || o.Transactions[0].Gateway != "UPayments" {
		t.Fatalf("order transactions: %+v", o.Transactions)
	}
	if got := h.payment(shop, p.OrderID).Metadata[MetaTransaction]; got != o.Transactions[0].ID {
		t.Fatalf("recorded transaction %q, order has %q", got, o.Transactions[0].ID)
	}
}

func testCompliance(t *testing.T, h *harness, shop *checkout.Shop) {
	send := func(topic, fixture string, mutate func(map[string]any)) {
		t.Helper()
		var m map[string]any
		_ = json.Unmarshal(shopifytest.Fixture(fixture), &m)
		m["shop_domain"] = shop.Domain
		if mutate != nil {
			mutate(m)
		}
		b, _ := json.Marshal(m)
		code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", topic, shop.Domain, "evt-"+topic, b, "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s: %d %v", topic, code, err)
		}
	}
	p := h.payment(shop, "5001")
	if p.Customer.Email == "" {
		t.Fatalf("fixture order carried no e-mail: %+v", p.Customer)
	}
	email := p.Customer.Email
	send("customers/data_request", "customers_data_request.json", func(m map[string]any) {
		m["customer"] = map[string]any{"id": 1, "email": email, "phone": ""}
	})
	evs, _ := h.svc.Events(context.Background(), p.ID)
	found := false
	for _, e := range evs {
		found = found || e.Kind == EventDataRequest
	}
	if !found {
		t.Fatal("data request not recorded on the customer's payment")
	}
	if _, err := h.db.PutCustomerToken(context.Background(), shop.ID, "upay", "1", "1234567890123456"); err != nil {
		t.Fatal(err)
	}
	send("customers/redact", "customers_redact.json", func(m map[string]any) {
		m["customer"] = map[string]any{"id": 1, "email": strings.ToUpper(email), "phone": ""}
	})
	if got := h.payment(shop, "5001").Customer; got != (checkout.Customer{}) {
		t.Fatalf("customer not redacted: %+v", got)
	}
	if _, err := h.db.CustomerToken(context.Background(), shop.ID, "upay", "1"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("the customer's saved-card token survived customers/redact: %v", err)
	}
	send("app/uninstalled", "app_uninstalled.json", nil)
	s, _ := h.db.Shop(context.Background(), shop.ID)
	if len(s.Secrets) != 0 {
		t.Fatalf("tokens left after uninstall: %d secrets", len(s.Secrets))
	}
	send("shop/redact", "shop_redact.json", nil)
	s, _ = h.db.Shop(context.Background(), shop.ID)
	if len(s.Gateway.Credentials) != 0 {
		t.Fatal("gateway credentials left after shop/redact")
	}
	for _, pay := range []string{"5002"} {
		if c := h.payment(shop, pay).Customer; c != (checkout.Customer{}) {
			t.Fatalf("payment %s not redacted: %+v", pay, c)
		}
	}
}

// TestWebhookHeadersStrict: deliveries are checked as strictly as
// @shopify/shopify-api checks them.
func TestWebhookHeadersStrict(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	body := []byte(`{"id":1}`)
	good := h.sim.SignWebhook(body)
	seq := 0
	classic := func() http.Header {
		seq++
		hd := http.Header{}
		hd.Set("X-Shopify-Hmac-Sha256", good)
		hd.Set("X-Shopify-Topic", "orders/updated")
		hd.Set("X-Shopify-Shop-Domain", "strict-hooks.myshopify.com")
		hd.Set("X-Shopify-Api-Version", "2026-07")
		hd.Set("X-Shopify-Webhook-Id", "wh-strict-"+strconv.Itoa(seq))
		return hd
	}
	unprefixed := func() http.Header {
		seq++
		hd := http.Header{}
		hd.Set("Shopify-Hmac-Sha256", good)
		hd.Set("Shopify-Topic", "orders/updated")
		hd.Set("Shopify-Shop-Domain", "strict-hooks.myshopify.com")
		hd.Set("Shopify-Api-Version", "2026-07")
		hd.Set("Shopify-Webhook-Id", "wh-strict-"+strconv.Itoa(seq))
		hd.Set("Shopify-Event-Id", "ev-strict-"+strconv.Itoa(seq))
		return hd
	}
	without := func(hd http.Header, name string) http.Header { hd.Del(name); return hd }
	with := func(hd http.Header, name, v string) http.Header { hd.Set(name, v); return hd }
	for _, c := range []struct {
		name string
		hd   http.Header
		body []byte
		want int
	}{
		{"classic", classic(), body, http.StatusOK},
		{"unprefixed", unprefixed(), body, http.StatusOK},
		{"no topic", without(classic(), "X-Shopify-Topic"), body, http.StatusBadRequest},
		{"no API version", without(classic(), "X-Shopify-Api-Version"), body, http.StatusBadRequest},
		{"no webhook id", without(classic(), "X-Shopify-Webhook-Id"), body, http.StatusBadRequest},
		{"no event id (unprefixed)", without(unprefixed(), "Shopify-Event-Id"), body, http.StatusBadRequest},
		{"empty body", with(classic(), "X-Shopify-Hmac-Sha256", h.sim.SignWebhook(nil)), []byte{}, http.StatusBadRequest},
		{"hmac twice", func() http.Header { hd := classic(); hd.Add("X-Shopify-Hmac-Sha256", good); return hd }(), body, http.StatusUnauthorized},
		{"hmac without padding", with(classic(), "X-Shopify-Hmac-Sha256", strings.TrimRight(good, "=")), body, http.StatusUnauthorized},
		{"unprefixed hmac wins over a valid classic one", with(with(unprefixed(), "X-Shopify-Hmac-Sha256", good), "Shopify-Hmac-Sha256", h.sim.SignWebhook([]byte("other"))), body, http.StatusUnauthorized},
		{"unprefixed hmac with classic headers only", with(without(classic(), "X-Shopify-Hmac-Sha256"), "Shopify-Hmac-Sha256", good), body, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.base+"/shopify/webhooks", bytes.NewReader(c.body))
		req.Header = c.hd
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	// HTTP trims a header's outer spaces; the verifier itself takes no
	// other spelling of the same bytes.
	for _, sig := range []string{good + " ", " " + good, good[:10] + "\n" + good[10:], good[:10] + "\r\n" + good[10:]} {
		if VerifyWebhook(testSecret, body, sig) {
			t.Errorf("VerifyWebhook(%q) passed", sig)
		}
	}
	if !VerifyWebhook(testSecret, body, good) {
		t.Error("VerifyWebhook refused a genuine signature")
	}
}
