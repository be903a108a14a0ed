package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/upay/upaytest"
)

// A shop's life as an operator runs it, end to end on each backend: a
// payment started before the shop is disabled still completes and reaches
// the store (the merchant's callback), a new one is refused with a plain
// 403, the shop takes payments again once enabled, a key rotation stops
// the old key at once, and a removal refuses while payments are open and
// keeps the record of the finished ones.
func TestShopLifecycle(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			testShopLifecycle(t, startBridge(t, be))
		})
	}
}

func testShopLifecycle(t *testing.T, b *bridge) {
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := b.run(t.Context(), args, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	status := func() string {
		t.Helper()
		var rows []map[string]any
		if err := json.Unmarshal([]byte(run("shops", "list", "--json")), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("shops list: %v %v", rows, err)
		}
		return rows[0]["Status"].(string) + "/" + rows[0]["Secrets"].(string)
	}
	if got := status(); got != "connected/ok" {
		t.Fatalf("new shop: %s", got)
	}

	inflight := b.create("life-inflight", "2.500", "KWD")
	id := inflight["id"].(string)
	_, track := b.visit(inflight)

	if out := run("shops", "disable", b.shopID, "--reason", "unpaid invoice"); !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %q", out)
	}
	if got := status(); got != "disabled/ok" {
		t.Fatalf("after disable: %s", got)
	}
	code, e := b.do("POST", "/api/v1/payments", b.order("life-new", "1.000", "KWD"))
	if code != http.StatusForbidden || e["error"].(map[string]any)["code"] != "shop_disabled" ||
		!strings.Contains(e["error"].(map[string]any)["message"].(string), "disabled") {
		t.Fatalf("new payment of a disabled shop: %d %v", code, e)
	}
	// The merchant's retry of the started payment is answered as before.
	if code, p := b.do("POST", "/api/v1/payments", b.order("life-inflight", "2.500", "KWD")); code != http.StatusOK || p["id"] != id {
		t.Fatalf("retry of the started payment: %d %v", code, p)
	}
	ret, err := b.sim.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	follow(t, ret)
	b.waitStatus(id, "paid", 10*time.Second)
	ds := b.merchant.waitDelivered("life-inflight", 1, 10*time.Second)
	if ds[0].Type != "payment.paid" || !ds[0].Verified {
		t.Fatalf("callback of the disabled shop's payment: %+v", ds)
	}
	if code, r := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "0.500"}); code != http.StatusCreated {
		t.Fatalf("refund of the disabled shop's payment: %d %v", code, r)
	}
	b.waitField(id, "refunded_amount", "0.500", 10*time.Second)

	if out := run("shops", "enable", b.shopID); !strings.Contains(out, "enabled: it is connected") {
		t.Fatalf("enable: %q", out)
	}
	open := b.create("life-after", "1.000", "KWD")

	// A new key and secret; the old key stops at once.
	var creds map[string]string
	if err := json.Unmarshal([]byte(run("shops", "rotate-key", b.shopID, "--json")), &creds); err != nil ||
		creds["id"] != b.shopID || creds["api_key"] == "" || !strings.HasPrefix(creds["webhook_secret"], "whsec_") {
		t.Fatalf("rotate-key: %v %v", creds, err)
	}
	if code, _ := b.do("GET", "/api/v1/payments/"+id, nil); code != http.StatusUnauthorized {
		t.Fatalf("the old API key after rotation: %d", code)
	}
	b.apiKey, b.whsec, b.merchant.secret = creds["api_key"], creds["webhook_secret"], creds["webhook_secret"]
	if got := b.get(id); got["status"] != "paid" {
		t.Fatalf("with the new key: %v", got)
	}

	// Removal waits for the open payment, and says which it is.
	var out bytes.Buffer
	err = b.run(t.Context(), []string{"shops", "remove", b.shopID}, &out)
	if err == nil || !strings.Contains(err.Error(), open["id"].(string)) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("remove with an open payment: %v", err)
	}
	if got := status(); got != "connected/ok" {
		t.Fatalf("after a refused removal: %s", got)
	}
	rm := run("shops", "remove", b.shopID, "--force", "--reason", "merchant left")
	if !strings.Contains(rm, "removed") || !strings.Contains(rm, "gateway account is kept") || !strings.Contains(rm, open["id"].(string)) {
		t.Fatalf("forced removal: %q", rm)
	}
	if code, _ := b.do("GET", "/api/v1/payments/"+id, nil); code != http.StatusUnauthorized {
		t.Fatalf("the key of a removed shop: %d", code)
	}
	if got := status(); got != "removed/ok" {
		t.Fatalf("after removal: %s", got)
	}
	// The finished payment's record is whole.
	if show := run("payments", "show", id); !strings.Contains(show, "status   paid") || !strings.Contains(show, "redirected → paid") {
		t.Fatalf("payments show after removal:\n%s", show)
	}
	// Every change is in the shop's audit trail, with its source.
	a, err := b.openApp(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	evs, err := a.db.ShopEvents(t.Context(), b.shopID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+"/"+e.Source)
	}
	if strings.Join(kinds, " ") != "shop_disabled/cli shop_enabled/cli shop_key_rotated/cli shop_removed/cli" {
		t.Fatalf("shop events: %v", kinds)
	}
	if shop, err := a.db.Shop(t.Context(), b.shopID); err != nil || shop.Status != checkout.ShopRemoved {
		t.Fatalf("removed shop: %v %v", shop, err)
	}
}

// The shop commands' bad input: each a clear error, nothing changed.
func TestShopCommandsBadInput(t *testing.T) {
	setEnv(t)
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"shops", "add", "--platform", "api", "--name", "One", "--gateway", "upay", "--gateway-key", "k1", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var shop map[string]string
	if err := json.Unmarshal(out.Bytes(), &shop); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"shops", "disable"}, "want a shop id"},
		{[]string{"shops", "enable", "shop_nope"}, "no shop shop_nope"},
		{[]string{"shops", "remove", "shop_nope"}, "no shop shop_nope"},
		{[]string{"shops", "rotate-key", "shop_nope"}, "no shop shop_nope"},
		{[]string{"shops", "disable", shop["id"], "extra"}, "unexpected arguments"},
		{[]string{"shops", "disable", shop["id"], "--bogus"}, "flag provided but not defined"},
		{[]string{"shops", "pause", shop["id"]}, "pause"},
	} {
		out.Reset()
		err := run(t.Context(), tt.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	// Flags before or after the id; a second disable says so.
	for _, args := range [][]string{{"shops", "disable", "--reason", "r", shop["id"]}, {"shops", "disable", shop["id"], "--reason", "r"}} {
		out.Reset()
		if err := run(t.Context(), args, &out, &errb); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if !strings.Contains(out.String(), "disabled already") {
		t.Fatalf("second disable: %q", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"shops", "list"}, &out, &errb); err != nil || !strings.Contains(out.String(), "STATUS") ||
		!strings.Contains(out.String(), "disabled") {
		t.Fatalf("shops list: %v\n%s", err, out.String())
	}
	// Only api shops have an API key to rotate.
	a, err := openStore(t.Context(), &errb)
	if err != nil {
		t.Fatal(err)
	}
	woo := &checkout.Shop{ID: checkout.NewID("shop"), Name: "Woo", Platform: checkout.PlatformWooCommerce, Domain: "https://woo.example",
		Gateway: checkout.GatewayAccount{Gateway: "upay", Credentials: map[string]string{"api_key": "k"}}}
	err = a.db.CreateShop(t.Context(), woo)
	a.close()
	if err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"shops", "rotate-key", woo.ID}, &out, &errb); err == nil || !strings.Contains(err.Error(), "woocommerce shop, which has no API key") {
		t.Fatalf("rotate-key of a woocommerce shop: %v", err)
	}
	// A shop without payments is deleted outright.
	out.Reset()
	if err := run(t.Context(), []string{"shops", "remove", shop["id"]}, &out, &errb); err != nil || !strings.Contains(out.String(), "deleted: it had no payments") {
		t.Fatalf("remove: %v %q", err, out.String())
	}
	if strings.Contains(errb.String(), shop["api_key"]) {
		t.Fatal("the API key reached the logs")
	}
}
