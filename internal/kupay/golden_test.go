package kupay

import (
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
	"paybridge/internal/wire"
)

// The payment the bridge creates for seed 002's input (order 1234,
// 123.45 USD, no e-mail) is the seed's example request field for field.
func TestCreateMatchesSeed(t *testing.T) {
	amount, _ := checkout.ParseMoney("123.45", "USD")
	p := &checkout.Payment{ID: "pay_seed", GatewayOrderID: "pay_seed", OrderID: "1234", Amount: amount,
		CreatedAt: time.Date(2022, 5, 22, 17, 58, 4, 0, time.UTC)}
	req, err := CreateRequestFor(p, checkout.URLs{Return: "https://bridge.example/return/pay_seed", Cancel: "https://bridge.example/cancel/pay_seed",
		Notify: "https://bridge.example/notify/kupay/pay_seed", Status: "https://bridge.example/wait/pay_seed"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.EncodeJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	testenv.MatchSeed(t, "kupay-payment-create.request.json", b, testenv.Golden{
		// Our payment id, the payment's creation time (sent in UTC; the
		// seed's example is the same instant at +01:00) and our URLs.
		Ours: []string{"id", "created_at", "order_status_url", "cancel_url", "paid_url", "callback_url"},
	})
}
