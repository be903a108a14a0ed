package store

import (
	"errors"
	"strings"
	"testing"

	"paybridge/internal/checkout"
)

// Customer tokens on every backend: kept sealed, the first one wins a
// race, confined to their shop, gateway and customer, and forgotten.
func TestCustomerTokens(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			ctx := ctxT(t)
			if _, err := db.CustomerToken(ctx, "shop_a", "upay", "cust-1"); !errors.Is(err, checkout.ErrNotFound) {
				t.Fatalf("before: %v", err)
			}
			got, err := db.PutCustomerToken(ctx, "shop_a", "upay", "cust-1", "1234567890123456")
			if err != nil || got != "1234567890123456" {
				t.Fatalf("put: %q %v", got, err)
			}
			if got, err = db.PutCustomerToken(ctx, "shop_a", "upay", "cust-1", "9999999999999999"); err != nil || got != "1234567890123456" {
				t.Fatalf("second put: %q %v, want the first token kept", got, err)
			}
			var sealed string
			if err := db.r.QueryRowContext(ctx, `SELECT token FROM customer_tokens WHERE customer_id = 'cust-1'`).Scan(&sealed); err != nil ||
				strings.Contains(sealed, "1234567890123456") {
				t.Fatalf("stored %q %v: not sealed", sealed, err)
			}
			for _, k := range [][3]string{{"shop_b", "upay", "cust-1"}, {"shop_a", "cko", "cust-1"}, {"shop_a", "upay", "cust-2"}} {
				if _, err := db.CustomerToken(ctx, k[0], k[1], k[2]); !errors.Is(err, checkout.ErrNotFound) {
					t.Errorf("%v: %v", k, err)
				}
			}
			if _, err := db.PutCustomerToken(ctx, "shop_a", "cko", "cust-1", "01234567"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.PutCustomerToken(ctx, "shop_b", "upay", "cust-1", "7654321076543210"); err != nil {
				t.Fatal(err)
			}
			if n, err := db.ForgetCustomer(ctx, "shop_a", "cust-1"); err != nil || n != 2 {
				t.Fatalf("forget: %d %v", n, err)
			}
			if _, err := db.CustomerToken(ctx, "shop_a", "upay", "cust-1"); !errors.Is(err, checkout.ErrNotFound) {
				t.Fatalf("after forget: %v", err)
			}
			if tok, err := db.CustomerToken(ctx, "shop_b", "upay", "cust-1"); err != nil || tok != "7654321076543210" {
				t.Fatalf("another shop's customer: %q %v", tok, err)
			}
		})
	}
}

// A create's one read: the order's payment and the customer's token, each
// found or not, on every backend.
func TestPaymentByOrderWithToken(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			ctx := ctxT(t)
			mustShop(t, db, "shop_a")
			if err := db.Apply(ctx, checkout.Change{NewPayment: basicPayment("shop_a", "pay_1", "order-1")}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.PutCustomerToken(ctx, "shop_a", "upay", "cust-1", "1234567890123456"); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				order, gateway, customer string
				payment, token           string // "" for none
			}{
				{"order-1", "upay", "cust-1", "pay_1", "1234567890123456"},
				{"order-2", "upay", "cust-1", "", "1234567890123456"},
				{"order-1", "upay", "cust-2", "pay_1", ""},
				{"order-2", "cko", "cust-1", "", ""},
				{"order-2", "upay", "", "", ""}, // no customer: no token asked for
			} {
				p, tok, tokErr, err := db.PaymentByOrderWithToken(ctx, "shop_a", tc.order, tc.gateway, tc.customer)
				switch {
				case tc.payment == "" && !errors.Is(err, checkout.ErrNotFound):
					t.Errorf("%+v: payment err %v, want not found", tc, err)
				case tc.payment != "" && (err != nil || p.ID != tc.payment):
					t.Errorf("%+v: payment %v %v", tc, p, err)
				}
				switch {
				case tc.token == "" && (!errors.Is(tokErr, checkout.ErrNotFound) || tok != ""):
					t.Errorf("%+v: token %q %v, want not found", tc, tok, tokErr)
				case tc.token != "" && (tokErr != nil || tok != tc.token):
					t.Errorf("%+v: token %q %v", tc, tok, tokErr)
				}
			}
		})
	}
}
