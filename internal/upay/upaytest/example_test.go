package upaytest_test

import (
	"context"
	"fmt"
	"strings"

	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

// A test charges through the simulator, plays the shopper, and reads the
// gateway's truth back.
func Example() {
	srv := upaytest.NewServer()
	defer srv.Close()
	srv.SetNotifyPolicy(upaytest.NotifyPolicy{Drop: true}) // a lost notification

	c := &upay.Client{BaseURL: srv.APIBase(), APIKey: upaytest.DefaultKey}
	ctx := context.Background()
	res, err := c.Charge(ctx, upay.ChargeRequest{
		Order:     upay.Order{ID: "pay_1", Description: "Order 1", Currency: "KWD", Amount: "12.345"},
		Reference: upay.Reference{ID: "pay_1"}, Language: "en",
		ReturnURL: "https://shop.example/return", CancelURL: "https://shop.example/cancel",
		NotificationURL: "https://shop.example/notify",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Contains(string(srv.Charges()[0]), `"amount":12.345`))

	ret, _ := srv.Complete(res.TrackID, upaytest.Captured) // the shopper pays
	fmt.Println(strings.HasPrefix(ret, "https://shop.example/return?payment_id="))

	tx, _ := c.PaymentStatus(ctx, res.TrackID)
	fmt.Println(tx.Result, tx.TotalPrice, tx.CurrencyType, len(srv.Notifications()))
	// Output:
	// true
	// true
	// CAPTURED 12.345 KWD 0
}
