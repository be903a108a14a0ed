package upay

import "paybridge/internal/checkout"

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
		SavedCards: true, Invoices: true, SignedNotifications: true,
		Credentials: []checkout.CredentialField{
			{Name: "api_key", Label: "UPayments API key", Required: true},
			{Name: "api_secret", Label: "UPayments API secret (optional, for signed requests)"},
		},
	}
}
