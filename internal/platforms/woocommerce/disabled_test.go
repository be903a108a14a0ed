package woocommerce_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/store"
	"paybridge/internal/upay/upaytest"
)

// TestDisabledShop: the shopper of a shop an operator disabled is told so
// in their language, and no charge is made, while the payment started
// before still completes and reaches the store.
func TestDisabledShop(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "bridge.db"), "")
	e.connect()
	startedID, startedKey := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "4.000"})
	started := e.link(startedID, startedKey, startedKey)
	track := e.pay(started)
	if _, err := e.db.DisableShop(t.Context(), e.shop.ID, store.ShopActor{Source: "test"}); err != nil {
		t.Fatal(err)
	}

	newID, newKey := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "2.000"})
	fresh := e.link(newID, newKey, newKey)
	charges := len(e.upay.Charges())
	for _, tc := range []struct{ lang, heading, dir string }{
		{"en", "This store cannot take payments right now", `dir="ltr"`},
		{"ar", "لا يمكن لهذا المتجر قبول المدفوعات الآن", `dir="rtl"`},
	} {
		code, _, body := get(t, noRedirect, fresh+"&lang="+tc.lang)
		if code != http.StatusForbidden || !strings.Contains(body, tc.heading) || !strings.Contains(body, tc.dir) {
			t.Fatalf("%s: %d %s", tc.lang, code, body)
		}
	}
	if n := len(e.upay.Charges()); n != charges {
		t.Fatalf("a disabled shop's shopper was charged (%d → %d charges)", charges, n)
	}
	// The shopper who started before goes on to the same page and pays;
	// the store hears of it.
	if again := e.pay(started); again != track {
		t.Fatalf("second click: track %s, first %s", again, track)
	}
	ret, err := e.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	get(t, noRedirect, ret)
	e.waitOrder(startedID, "processing", 15*time.Second)

	if _, err := e.db.EnableShop(t.Context(), e.shop.ID, store.ShopActor{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	e.pay(fresh)
}
