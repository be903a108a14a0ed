package upay

import "paybridge/internal/checkout"

// Methods are the paymentGateway.src values a payment may name (seed 000;
// create-invoice is asked for as an invoice, not as a method). Values that
// official plugins send but the seed does not list (amex, apple-pay-knet)
// are refused.
var Methods = []string{"knet", "cc", "samsung-pay", "apple-pay", "google-pay"}

// Capabilities reports what UPayments does: full, partial and multiple
// refunds, saved cards (tokens) and invoices; payments are captured at once
// (no authorize-then-capture). Notifications are signed only when the
// account has an API secret, and are a trigger either way. The currency
// list is left open (UPayments converts; its list is not documented) and
// the page lifetime is unknown, so the core's default applies.
func (g *Gateway) Capabilities() checkout.Capabilities {
	return checkout.Capabilities{
		DisplayName: "UPayments",
		Refunds:     true, PartialRefunds: true, MultipleRefunds: true,
		SavedCards: true, Invoices: true, SignedNotifications: true, Splits: true, SplitRefunds: true, RequiresContact: true,
		Methods: Methods,
		Credentials: []checkout.CredentialField{
			{Name: "api_key", Label: "UPayments API key", LabelAR: "مفتاح واجهة UPayments", Required: true},
			{Name: "api_secret", Label: "UPayments API secret (optional, for signed requests)", LabelAR: "سرّ واجهة UPayments (اختياري)"},
		},
	}
}
