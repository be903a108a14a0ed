package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

// TestShopifyMethods covers ForgetReceipt, ShopPayments and
// RedactPaymentCustomer on every backend.
func TestShopifyMethods(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			ctx := ctxT(t)

			t.Run("ForgetReceipt", func(t *testing.T) {
				for i, want := range []bool{true, false} {
					if first, err := db.RecordReceipt(ctx, "shopify", "evt-1"); err != nil || first != want {
						t.Fatalf("record %d: %v %v", i, first, err)
					}
				}
				if err := db.ForgetReceipt(ctx, "shopify", "evt-1"); err != nil {
					t.Fatal(err)
				}
				if first, err := db.RecordReceipt(ctx, "shopify", "evt-1"); err != nil || !first {
					t.Fatalf("after forget: %v %v", first, err)
				}
				if err := db.ForgetReceipt(ctx, "shopify", "never-seen"); err != nil {
					t.Fatal(err)
				}
			})

			shop := mustShop(t, db, "shop_a")
			other := mustShop(t, db, "shop_b")
			for i := range 5 {
				p := basicPayment(shop.ID, fmt.Sprintf("pay_a%d", i), fmt.Sprintf("o%d", i))
				p.CreatedAt = t0.Add(time.Duration(i) * time.Second)
				p.Customer = checkout.Customer{Name: "Fatima", Email: "f@example.com", Mobile: "+96550000000"}
				p.Products = []checkout.Product{{Name: "Dates", Price: kwd(1000), Quantity: 1}}
				mustApply(t, db, checkout.Change{NewPayment: p})
			}
			mustPayment(t, db, other.ID, "pay_b0", "o0")

			t.Run("ShopPayments", func(t *testing.T) {
				for _, c := range []struct{ max, want int }{{0, 5}, {3, 3}, {100, 5}} {
					ps, err := db.ShopPayments(ctx, shop.ID, c.max)
					if err != nil || len(ps) != c.want {
						t.Fatalf("max %d: %d payments, %v", c.max, len(ps), err)
					}
					for _, p := range ps {
						if p.ShopID != shop.ID {
							t.Fatalf("payment of another shop: %s", p.ID)
						}
					}
				}
			})

			t.Run("RedactPaymentCustomer", func(t *testing.T) {
				before, _ := db.Payment(ctx, "pay_a0")
				if err := db.RedactPaymentCustomer(ctx, shop.ID, "pay_a0"); err != nil {
					t.Fatal(err)
				}
				p, err := db.Payment(ctx, "pay_a0")
				if err != nil {
					t.Fatal(err)
				}
				if p.Customer != (checkout.Customer{}) || len(p.Products) != 0 || p.Version != before.Version+1 || !p.Amount.Equal(before.Amount) {
					t.Fatalf("redacted: %+v products %v version %d→%d", p.Customer, p.Products, before.Version, p.Version)
				}
				// A CAS writer holding the old version now loses.
				before.Status = checkout.StatusRedirected
				if err := db.Apply(ctx, checkout.Change{Payment: before}); !errors.Is(err, checkout.ErrConflict) {
					t.Fatalf("stale write after redaction: %v", err)
				}
				if err := db.RedactPaymentCustomer(ctx, other.ID, "pay_a1"); !errors.Is(err, checkout.ErrNotFound) {
					t.Fatalf("redaction across shops: %v", err)
				}
			})
		})
	}
}
