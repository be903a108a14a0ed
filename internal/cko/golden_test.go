package cko

import (
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
	"paybridge/internal/wire"
)

// The KNET payment the bridge builds for seed 003's input is the seed's
// example request field for field: 1.000 KWD as 1000, the merchant's
// extra data and reference in the user-defined fields, a returning
// customer's KFast token.
func TestPaymentMatchesSeed(t *testing.T) {
	amount, _ := checkout.ParseMoney("1.000", "KWD")
	p := &checkout.Payment{ID: "pay_seed", GatewayOrderID: "pay_seed", OrderID: "1001", Amount: amount, Language: "en",
		Options:       checkout.Options{ExtraData: "third user defined field", Reference: "fourth user defined field"},
		CustomerToken: "01234567"}
	acct := checkout.GatewayAccount{Gateway: GatewayName, Credentials: map[string]string{CredProcessingChannel: "pc_test"}}
	req, err := PaymentRequestFor(acct, p, checkout.URLs{Return: "https://bridge.example/return/pay_seed", Cancel: "https://bridge.example/cancel/pay_seed"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.EncodeJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	ours := "the bridge's own payment id, order id and URLs"
	testenv.MatchSeed(t, "cko-knet-payment.request.json", b, testenv.Golden{
		// Seed 003 prints sample text in user-defined fields 1 and 2; the
		// bridge puts its payment id and the order id there.
		Ours: []string{"source.user_defined_field1", "source.user_defined_field2"},
		Extra: map[string]string{
			"source.user_defined_field3": "the merchant's extra_data (the seed's example leaves 3 out)",
			"reference":                  ours, "description": "the order's description, shown on the payment",
			"processing_channel_id": "the account's processing channel (research §3.1)",
			"success_url":           ours, "failure_url": ours, "metadata": ours,
		},
		Omitted: map[string]string{"source.ptlf": "KNET's transaction log field: nothing a merchant sets"},
	})
}
