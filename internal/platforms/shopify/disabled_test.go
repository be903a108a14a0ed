package shopify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/store"
)

// TestDisabledShopRejectsSessions: a shop an operator disabled has its new
// payment sessions rejected with the reason, durably and without any
// gateway call, while a session started before is still answered.
func TestDisabledShopRejectsSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("disabled-shop.myshopify.com", ModePaymentsApp)
	if code, _ := h.postPayment(shop, "dis-before", true, nil); code != http.StatusCreated {
		t.Fatalf("session before: %d", code)
	}
	before := h.payment(shop, "dis-before")
	if _, err := h.db.DisableShop(t.Context(), shop.ID, store.ShopActor{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	creates := h.gatewayCreates()
	code, u := h.postPayment(shop, "dis-after", true, nil)
	if code != http.StatusCreated || u == "" {
		t.Fatalf("session of a disabled shop: %d %q", code, u)
	}
	p := h.payment(shop, "dis-after")
	if p.Status != checkout.StatusFailed || p.Metadata[checkout.MetaDeclineReason] != shopDisabledReason {
		t.Fatalf("payment: %s %q", p.Status, p.Metadata[checkout.MetaDeclineReason])
	}
	gid := "gid://shopify/PaymentSession/dis-after"
	eventually(t, 15*time.Second, "the session rejected", func() bool { return h.sim.Session(gid).State == "rejected" })
	if st := h.sim.Session(gid); !strings.Contains(st.Message, "disabled") {
		t.Fatalf("merchant message %q", st.Message)
	}
	if n := h.gatewayCreates() - creates; n != 0 {
		t.Fatalf("%d gateway calls for a disabled shop's session", n)
	}
	// Shopify's retry of the session started before is answered as before.
	if code, _ := h.postPayment(shop, "dis-before", true, nil); code != http.StatusCreated {
		t.Fatalf("retry of the session started before: %d", code)
	}
	if p := h.payment(shop, "dis-before"); p.ID != before.ID || p.Status == checkout.StatusFailed {
		t.Fatalf("the session started before: %s %s", p.ID, p.Status)
	}
}

// TestDisabledShopOrderWebhook: in order-webhook mode a disabled shop's new
// order gets a note saying why, and no payment.
func TestDisabledShopOrderWebhook(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("disabled-orders.myshopify.com", ModeOrderWebhook)
	if _, err := h.db.DisableShop(t.Context(), shop.ID, store.ShopActor{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	gid := h.sim.AddOrder(7101, "#7101", "KWD", "1.000")
	var o map[string]any
	_ = json.Unmarshal(orderPayload(t, 7101, shop.Domain, "1.000"), &o)
	o["test"] = true
	b, _ := json.Marshal(o)
	if code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", shop.Domain, "evt-7101", b, ""); err != nil || code != http.StatusOK {
		t.Fatalf("webhook: %d %v", code, err)
	}
	eventually(t, 15*time.Second, "the order's note", func() bool { return strings.Contains(h.sim.Order(gid).Note, shopDisabledReason) })
	if _, err := h.db.PaymentByOrder(t.Context(), shop.ID, "7101"); err == nil {
		t.Fatal("a disabled shop's order got a payment")
	}
}
