package checkout_test

import (
	"errors"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/upay/upaytest"
)

// TestWithdraw: a platform withdrawing an open payment ends its lifetime and
// asks the gateway: unpaid, it expires (once, however often it is asked)
// with the reason kept and its sync enqueued; paid at the gateway, it stays
// paid; final, nothing changes.
func TestWithdraw(t *testing.T) {
	const why = "Shopify did not confirm the order"
	b := setup(t)

	t.Run("unpaid expires", func(t *testing.T) {
		p := b.pay(t, "w1", "4.250")
		for range 3 {
			got, err := b.svc.Withdraw(t.Context(), p.ID, why, map[string]string{"confirmation": "rejected"}, "shopify")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != checkout.StatusExpired || got.Metadata[checkout.MetaDeclineReason] != why ||
				got.Metadata["confirmation"] != "rejected" || got.SyncState != checkout.SyncPending {
				t.Fatalf("withdrawn payment: %+v", got)
			}
		}
		if n := transitionsTo(t, b, p.ID, checkout.StatusExpired); n != 1 {
			t.Fatalf("%d transitions to expired", n)
		}
		evs, _ := b.svc.Events(t.Context(), p.ID)
		n := 0
		for _, e := range evs {
			if e.Kind == checkout.EventWithdrawn {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d withdrawn events", n)
		}
	})

	t.Run("paid at the gateway stays paid", func(t *testing.T) {
		p := b.pay(t, "w2", "4.250")
		if _, err := b.sim.Complete(p.GatewayRef, upaytest.Captured); err != nil {
			t.Fatal(err)
		}
		got, err := b.svc.Withdraw(t.Context(), p.ID, why, nil, "shopify")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != checkout.StatusPaid {
			t.Fatalf("a payment the gateway took was %s after a withdrawal", got.Status)
		}
	})

	t.Run("final is left alone", func(t *testing.T) {
		p := b.paid(t, "w3", "1.000")
		got, err := b.svc.Withdraw(t.Context(), p.ID, why, nil, "shopify")
		if err != nil || got.Status != checkout.StatusPaid || got.Metadata[checkout.MetaDeclineReason] != "" {
			t.Fatalf("withdraw of a paid payment: %+v %v", got, err)
		}
	})

	t.Run("needs a reason and a payment", func(t *testing.T) {
		if _, err := b.svc.Withdraw(t.Context(), checkout.NewID("pay"), why, nil, "shopify"); !errors.Is(err, checkout.ErrNotFound) {
			t.Fatalf("unknown payment: %v", err)
		}
		if _, err := b.svc.Withdraw(t.Context(), "pay_x", "", nil, "shopify"); err == nil {
			t.Fatal("no reason accepted")
		}
	})
}
