package upay

import (
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
	"paybridge/internal/wire"
)

// seedPayment is the input of seed 000's examples as a merchant gives it to
// the bridge: two Logitech products at 10 KWD, order reference 11111991,
// customer Jhon Smith.
func seedPayment(t *testing.T) *checkout.Payment {
	t.Helper()
	ten, _ := checkout.ParseMoney("10", "KWD")
	twenty, _ := checkout.ParseMoney("20", "KWD")
	return &checkout.Payment{ID: "pay_seed", GatewayOrderID: "pay_seed", OrderID: "1001", Platform: checkout.PlatformAPI,
		Amount: twenty, Language: "en", Description: "Purchase order received for Logitech K380 Keyboard",
		Customer: checkout.Customer{UniqueID: "2129879kjbljg767881", Name: "Jhon Smith", Email: seedEmail, Mobile: "+96512345678"},
		Products: []checkout.Product{
			{Name: "Logitech K380", Description: "Logitech K380 / Easy-Switch for Upto 3 Devices, Slim Bluetooth Tablet Keyboard ", Price: ten, Quantity: 1},
			{Name: "Logitech M171 Wireless Optical Mouse", Description: "Logitech M171 Wireless Optical Mouse  (2.4GHz Wireless, Blue Grey)", Price: ten, Quantity: 1},
		},
		Options: checkout.Options{Reference: "11111991"},
	}
}

// seedEmail is the seeds' e-mail address as printed: the documentation
// site's obfuscation, with a no-break space.
const seedEmail = "[email\u00a0protected]"

// ours are the values the bridge sets itself: its ids and URLs.
var ours = []string{"order.id", "reference.id", "returnUrl", "cancelUrl", "notificationUrl"}

func build(t *testing.T, p *checkout.Payment) []byte {
	t.Helper()
	req, err := ChargeRequestFor(p, checkout.URLs{Return: "https://bridge.example/return/" + p.ID,
		Cancel: "https://bridge.example/cancel/" + p.ID, Notify: "https://bridge.example/notify/upay/" + p.ID})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.EncodeJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The charge the bridge builds for the seeds' inputs is the seeds' example
// request, field for field.
func TestChargeMatchesSeeds(t *testing.T) {
	isSaveCard := map[string]string{"isSaveCard": "seed 000 lists it; false unless the shopper opted in"}

	t.Run("seed 000, KNET with a customer token", func(t *testing.T) {
		p := seedPayment(t)
		p.PaymentMethod = "knet"
		p.CustomerToken = "90908986"
		testenv.MatchSeed(t, "upay-charge-knet.request.json", build(t, p), testenv.Golden{Ours: ours, Extra: isSaveCard})
	})
	t.Run("seed 000, a split between two vendors", func(t *testing.T) {
		p := seedPayment(t)
		p.PaymentMethod = "knet"
		p.CustomerToken = "90908986"
		p.Products[0].Description = "Logitech K380 / Easy-Switch for Upto 3 Devices, Slim Bluetooth Tablet Keyboar "
		ten, _ := checkout.ParseMoney("10", "KWD")
		p.Options.Splits = []checkout.Split{
			{IBAN: "KW91KFHO0000000000051010173254", Amount: ten,
				KNETCharge: checkout.Commission{Type: checkout.CommissionFixed, Value: "5"},
				CardCharge: checkout.Commission{Type: checkout.CommissionPercentage, Value: "10"}},
			{IBAN: "KW31NBOK0000000000002010177457", Amount: ten,
				KNETCharge: checkout.Commission{Type: checkout.CommissionFixed, Value: "5"},
				CardCharge: checkout.Commission{Type: checkout.CommissionPercentage, Value: "7"}},
		}
		testenv.MatchSeed(t, "upay-charge-multivendor.request.json", build(t, p), testenv.Golden{Ours: ours, Extra: isSaveCard})
	})
	t.Run("seed 001, an invoice sent by e-mail", func(t *testing.T) {
		p := seedPayment(t)
		p.Options.Invoice = &checkout.Invoice{Notify: checkout.NotifyEmail}
		testenv.MatchSeed(t, "upay-invoice.request.json", build(t, p), testenv.Golden{Ours: ours, Extra: map[string]string{
			"isSaveCard": "seed 000 lists it; false unless the shopper opted in",
			"tokens":     "seed 000 marks tokens mandatory; empty without a customer token",
		}})
	})
}
