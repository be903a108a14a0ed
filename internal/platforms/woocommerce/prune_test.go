package woocommerce_test

import (
	"path/filepath"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/secrets"
	"paybridge/internal/store"
)

// Connect-form posts whose wc-auth never came back are forgotten a day
// later; connected shops, recent attempts and anything with a payment stay.
func TestPruneAbandoned(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kr, _, err := secrets.LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "b.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	shop := func(id, status string, age time.Duration) {
		t.Helper()
		s := &checkout.Shop{ID: id, Name: id, Platform: checkout.PlatformWooCommerce, Domain: "https://" + id + ".example",
			Gateway: checkout.GatewayAccount{Gateway: "upay"}, Settings: map[string]string{woocommerce.SettingStatus: status},
			CreatedAt: now.Add(-age)}
		if err := db.CreateShop(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	shop("shop_oldpending", "pending", 25*time.Hour)
	shop("shop_oldmerged", "merged", 30*time.Hour)
	shop("shop_newpending", "pending", time.Hour)
	shop("shop_connected", "connected", 90*24*time.Hour)
	shop("shop_paid", "pending", 48*time.Hour)
	one, _ := checkout.ParseMoney("1.000", "KWD")
	if err := db.Apply(ctx, checkout.Change{NewPayment: &checkout.Payment{ID: "pay_1", ShopID: "shop_paid", OrderID: "1", Amount: one,
		Status: checkout.StatusCreated, Gateway: "upay", CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	p := woocommerce.New(nil, db, woocommerce.Config{PublicURL: "https://bridge.example", Now: func() time.Time { return now }})
	n, err := p.PruneAbandoned(ctx)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the old pending and merged ones", n, err)
	}
	for id, want := range map[string]bool{"shop_oldpending": false, "shop_oldmerged": false, "shop_newpending": true, "shop_connected": true, "shop_paid": true} {
		if _, err := db.Shop(ctx, id); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v (%v)", id, err == nil, want, err)
		}
	}
	if n, err := p.PruneAbandoned(ctx); err != nil || n != 0 {
		t.Fatalf("second pass: %d %v", n, err)
	}
}
