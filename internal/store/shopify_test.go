package store

import (
	"fmt"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

// TestShopifyMethods covers ForgetReceipt and ShopPayments on every
// backend.
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

		})
	}
}
