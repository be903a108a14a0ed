package checkout_test

import (
	"errors"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/store"
	"paybridge/internal/upay/upaytest"
)

func TestConnectionStatus(t *testing.T) {
	for _, tt := range []struct {
		settings map[string]string
		want     checkout.ShopStatus
	}{
		{nil, checkout.ShopConnected},
		{map[string]string{"locale": "ar"}, checkout.ShopConnected},
		{map[string]string{checkout.SettingConnection: "connected"}, checkout.ShopConnected},
		{map[string]string{checkout.SettingConnection: "pending"}, checkout.ShopConnecting},
		{map[string]string{checkout.SettingConnection: "connecting"}, checkout.ShopConnecting},
		{map[string]string{checkout.SettingConnection: "merged"}, checkout.ShopConnecting},
	} {
		if got := checkout.ConnectionStatus(tt.settings); got != tt.want {
			t.Errorf("ConnectionStatus(%v) = %s, want %s", tt.settings, got, tt.want)
		}
	}
	for s, want := range map[checkout.ShopStatus]bool{"": true, checkout.ShopConnecting: true, checkout.ShopConnected: true,
		checkout.ShopDisabled: false, checkout.ShopRemoved: false} {
		if s.TakesPayments() != want {
			t.Errorf("%q.TakesPayments() = %v", s, !want)
		}
	}
}

// A disabled shop refuses new payments before anything is stored or
// sent, but what was started before still completes: the repeated
// request, the confirmation, the refund.
func TestDisabledShopRefusesNewPayments(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	started := b.pay(t, "before", "5.000")
	if _, err := b.db.DisableShop(ctx, b.shop.ID, store.ShopActor{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	shop, err := b.db.Shop(ctx, b.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	charges := len(b.sim.Requests("charge"))
	if charges == 0 {
		t.Fatal("the simulator saw no charge")
	}
	m, _ := checkout.ParseMoney("2.000", "KWD")
	p, created, err := b.svc.CreatePayment(ctx, shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "after", Amount: m}, "test")
	if !errors.Is(err, checkout.ErrShopDisabled) || p != nil || created {
		t.Fatalf("new payment of a disabled shop: %v, %v, %v", p, created, err)
	}
	if _, err := b.db.PaymentByOrder(ctx, shop.ID, "after"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("the refused payment was stored: %v", err)
	}
	if n := len(b.sim.Requests("charge")); n != charges {
		t.Fatalf("the refused payment reached the gateway (%d charges, %d before)", n, charges)
	}
	// The platform's retry of the payment started before is answered.
	five, _ := checkout.ParseMoney("5.000", "KWD")
	again, created, err := b.svc.CreatePayment(ctx, shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "before", Amount: five}, "test")
	if err != nil || created || again.ID != started.ID {
		t.Fatalf("retry of a started payment: %v, %v, %v", again, created, err)
	}
	if _, err := b.sim.Complete(started.GatewayRef, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	done, err := b.svc.Confirm(ctx, started.ID, "test")
	if err != nil || done.Status != checkout.StatusPaid {
		t.Fatalf("confirm of a disabled shop's payment: %v, %v", done, err)
	}
	one, _ := checkout.ParseMoney("1.000", "KWD")
	if _, _, err := b.svc.CreateRefund(ctx, started.ID, checkout.RefundRequest{Amount: one, Source: "test"}); err != nil {
		t.Fatalf("refund of a disabled shop's payment: %v", err)
	}
	// Enabled again, it takes payments.
	if _, err := b.db.EnableShop(ctx, b.shop.ID, store.ShopActor{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	shop, _ = b.db.Shop(ctx, b.shop.ID)
	if _, _, err := b.svc.CreatePayment(ctx, shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "after", Amount: m}, "test"); err != nil {
		t.Fatalf("enabled shop: %v", err)
	}
}
