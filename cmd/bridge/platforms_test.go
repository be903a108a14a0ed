package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/testenv"
	"paybridge/internal/upay/upaytest"
)

// TestWooCommerceThroughBridge connects a store with `bridge shops add
// --platform woocommerce` and pays an order the way the plugin sends the
// shopper, through the real wiring: routes, syncer and reconciler hook.
func TestWooCommerceThroughBridge(t *testing.T) {
	t.Parallel()
	b := startBridgeEnv(t, backends[0], &upayDriver{}, map[string]string{"BRIDGE_WEBHOOK_CHECK_INTERVAL": "1s"})
	wc := woocommercetest.NewServer()
	t.Cleanup(wc.Close)
	ck, cs := wc.NewKeys()
	var out bytes.Buffer
	err := b.run(t.Context(), []string{"shops", "add", "--platform", "woocommerce", "--url", wc.Base(),
		"--consumer-key", ck, "--consumer-secret", cs, "--gateway", "upay", "--gateway-key", upaytest.DefaultKey, "--sandbox", "--json"}, &out)
	if err != nil {
		t.Fatalf("shops add --platform woocommerce: %v", err)
	}
	var settings map[string]string
	if err := json.Unmarshal(out.Bytes(), &settings); err != nil || settings["shared_secret"] == "" || settings["bridge_url"] != b.base {
		t.Fatalf("plugin settings: %q %v", out.String(), err)
	}
	if strings.Contains(b.logs.String(), settings["shared_secret"]) || strings.Contains(b.logs.String(), cs) {
		t.Fatal("the plugin secret or consumer secret reached the logs")
	}
	// The running bridge's reconciler may register the webhook at the same
	// time as `shops add`; both keep the oldest, so one is left.
	testenv.Eventually(t, 10*time.Second, "one webhook on the store", func() error {
		if st := wc.WebhookStatuses(); len(st) != 1 {
			return fmt.Errorf("webhooks registered on the store: %v", st)
		}
		return nil
	})

	// The plugin's zip is served.
	resp, err := http.Get(b.base + "/woocommerce/plugin.zip")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("plugin.zip: %v %v", resp, err)
	}
	resp.Body.Close()

	id, key := wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "12.345",
		Items: []woocommercetest.Item{{Name: "Dates box", Quantity: 1, Total: "12.345"}}})
	oid := strconv.FormatInt(id, 10)
	ret := wc.Base() + "/checkout/order-received/" + oid + "/?key=" + key
	sig := woocommerce.PaySignature(settings["shared_secret"], settings["shop_id"], oid, key, ret)
	link := b.base + "/woocommerce/pay/" + settings["shop_id"] + "/" + oid + "?" + url.Values{"key": {key}, "return": {ret}, "sig": {sig}}.Encode()
	code, loc := follow(t, link)
	if code != http.StatusFound || !strings.HasPrefix(loc, b.sim.URL+"/pay/") {
		t.Fatalf("pay link: %d → %q", code, loc)
	}
	back, err := b.sim.Complete(strings.TrimPrefix(loc, b.sim.URL+"/pay/"), upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	if code, loc := follow(t, back); code != http.StatusFound || loc != ret {
		t.Fatalf("return: %d → %q, want the order-received page", code, loc)
	}
	testenv.Eventually(t, 15*time.Second, "the order to be paid", func() error {
		o := wc.Order(id)
		if o["status"] == "processing" && o["transaction_id"] != "" && o["date_paid"] != nil && wc.NotesContaining(id, "paybridge") == 1 {
			return nil
		}
		return fmt.Errorf("order after payment: status %v, transaction %v, notes %+v", o["status"], o["transaction_id"], wc.Notes(id))
	})
	// A tampered link is refused with a page, and nothing reaches the gateway.
	charges := len(b.sim.Charges())
	if code, _ := follow(t, strings.Replace(link, "sig=", "sig=0", 1)); code < 400 {
		t.Fatalf("tampered link: %d", code)
	}
	if len(b.sim.Charges()) != charges {
		t.Fatal("a tampered link reached the gateway")
	}
	// WooCommerce disables a webhook after failed deliveries and never
	// retries; the reconciler turns it back on.
	var hook int64
	for id := range wc.WebhookStatuses() {
		hook = id
	}
	wc.SetWebhookStatus(hook, "disabled")
	testenv.Eventually(t, 10*time.Second, "the webhook to be re-activated", func() error {
		if st := wc.WebhookStatuses(); st[hook] != "active" {
			return fmt.Errorf("webhook statuses %v", st)
		}
		return nil
	})
}
