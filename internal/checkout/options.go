package checkout

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/almerlucke/go-iban/iban"
)

// Split is one vendor's share of a marketplace payment (UPayments
// extraMerchantData). The shares of a payment add up to its amount.
type Split struct {
	// IBAN is the vendor's account, checked against its country's length,
	// format and ISO 13616 check digits.
	IBAN string `json:"iban"`
	// Amount is the vendor's share, in the payment's currency.
	Amount Money `json:"amount"`
	// KNETCharge and CardCharge are the merchant's commission on this share
	// for KNET and for card payments (cards include Apple Pay, Google Pay
	// and Samsung Pay); the zero value is none.
	KNETCharge Commission `json:"knet_charge"`
	CardCharge Commission `json:"card_charge"`
}

// Commission is a fee taken from a vendor's share: a fixed amount in the
// payment's currency or a percentage.
type Commission struct {
	// Type is CommissionFixed or CommissionPercentage; empty when Value is.
	Type string `json:"type,omitempty"`
	// Value is a plain decimal: an amount with at most the currency's
	// decimals (fixed), or a percentage from 0 to 100 with at most two
	// decimals.
	Value string `json:"value,omitempty"`
}

// Commission types.
const (
	CommissionFixed      = "fixed"
	CommissionPercentage = "percentage"
)

// Field limits, counted in characters (not bytes): the strictest of the
// gateways' (UPayments seed 000; order ids per research, 40).
const (
	MaxOrderIDLen      = 100 // the platform's order id (sent as order.reference)
	MaxDescriptionLen  = 500
	MaxReferenceLen    = 255
	MaxExtraDataLen    = 255
	MaxCustomerIDLen   = 150
	MaxCustomerNameLen = 50
	MaxEmailLen        = 50
	MaxMobileLen       = 15
	MaxProductTextLen  = 255
)

// ellipsis marks a descriptive field cut to fit.
const ellipsis = "…"

// fieldLimit is one limited text field of a request.
type fieldLimit struct {
	name string
	v    *string
	max  int
	// descriptive fields may be cut to fit; the others (an e-mail, a
	// mobile number) are left out instead, a cut one being wrong.
	descriptive bool
}

func (req *PaymentRequest) limits() []fieldLimit {
	l := []fieldLimit{
		{"description", &req.Description, MaxDescriptionLen, true},
		{"reference", &req.Options.Reference, MaxReferenceLen, false},
		{"extra_data", &req.Options.ExtraData, MaxExtraDataLen, true},
		{"customer.unique_id", &req.Customer.UniqueID, MaxCustomerIDLen, false},
		{"customer.name", &req.Customer.Name, MaxCustomerNameLen, true},
		{"customer.email", &req.Customer.Email, MaxEmailLen, false},
		{"customer.mobile", &req.Customer.Mobile, MaxMobileLen, false},
	}
	for i := range req.Products {
		l = append(l,
			fieldLimit{fmt.Sprintf("products[%d].name", i), &req.Products[i].Name, MaxProductTextLen, true},
			fieldLimit{fmt.Sprintf("products[%d].description", i), &req.Products[i].Description, MaxProductTextLen, true})
	}
	return l
}

// Fitted is a field [PaymentRequest] shortened or left out to fit its
// limit (Fit mode); the payment's created event lists them.
type Fitted struct {
	Field string `json:"field"`
	// Chars is how long the value was, in characters.
	Chars int `json:"chars"`
	// Action is "cut" (shortened, ending in "…") or "omitted".
	Action string `json:"action"`
}

// checkLimits refuses a field longer than its limit, or with Fit set cuts
// descriptive fields on a character boundary and leaves the others out,
// returning what it changed.
func (req *PaymentRequest) checkLimits() ([]Fitted, error) {
	var fitted []Fitted
	for _, f := range req.limits() {
		n := utf8.RuneCountInString(*f.v)
		if n <= f.max {
			continue
		}
		if !req.Fit || f.name == "customer.unique_id" || f.name == "reference" {
			return nil, &ValidationError{f.name, fmt.Sprintf("is longer than %d characters", f.max)}
		}
		if f.descriptive {
			*f.v = cut(*f.v, f.max)
			fitted = append(fitted, Fitted{f.name, n, "cut"})
		} else {
			*f.v = ""
			fitted = append(fitted, Fitted{f.name, n, "omitted"})
		}
	}
	return fitted, nil
}

// cut shortens s to max characters, the last being "…".
func cut(s string, max int) string {
	i, n := 0, 0
	for i < len(s) && n < max-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return strings.TrimRight(s[:i], " ") + ellipsis
}

// checkSplits validates the shares of a payment: each on a valid IBAN, with
// a positive amount in the payment's currency and well-formed commissions,
// the amounts adding up to the payment's to the minor unit.
func checkSplits(amount Money, splits []Split) error {
	if len(splits) == 0 {
		return nil
	}
	total := Money{Currency: amount.Currency}
	for i, sp := range splits {
		field := func(f string) string { return fmt.Sprintf("splits[%d].%s", i, f) }
		if _, err := iban.NewIBAN(sp.IBAN); err != nil {
			return &ValidationError{field("iban"), "is not a valid IBAN: " + err.Error()}
		}
		if sp.Amount.Currency != amount.Currency {
			return &ValidationError{field("amount"), "must be in the payment's currency"}
		}
		if !sp.Amount.Positive() {
			return &ValidationError{field("amount"), "must be greater than zero"}
		}
		for _, c := range []struct {
			name string
			c    Commission
		}{{"knet_charge", sp.KNETCharge}, {"cc_charge", sp.CardCharge}} {
			if err := c.c.check(amount.Currency, sp.Amount); err != nil {
				return &ValidationError{field(c.name), err.Error()}
			}
		}
		var err error
		if total, err = total.Add(sp.Amount); err != nil {
			return &ValidationError{field("amount"), err.Error()}
		}
	}
	if !total.Equal(amount) {
		return &ValidationError{"splits", fmt.Sprintf("add up to %s %s, the payment is %s %s", total, total.Currency, amount, amount.Currency)}
	}
	return nil
}

// check validates a commission on a share.
func (c Commission) check(currency string, share Money) error {
	switch {
	case c.Type == "" && c.Value == "":
		return nil
	case c.Type != CommissionFixed && c.Type != CommissionPercentage:
		return fmt.Errorf(`type %q: want "fixed" or "percentage"`, c.Type)
	case c.Type == CommissionFixed:
		m, err := ParseMoney(c.Value, currency)
		if err != nil {
			return err
		}
		if m.Cmp(share) > 0 {
			return fmt.Errorf("%s %s is more than the share %s", m, currency, share)
		}
		return nil
	}
	// A percentage: 0 to 100, two decimals at most. Parsed as a
	// 2-decimal amount so no float is involved.
	whole, frac, _ := strings.Cut(c.Value, ".")
	if whole == "" || len(frac) > 2 || !allDigits(whole) || !allDigits(frac) || (strings.Contains(c.Value, ".") && frac == "") {
		return fmt.Errorf("%q: want a percentage like 2.5", c.Value)
	}
	if v := strings.TrimLeft(whole, "0"); len(v) > 3 || (len(v) == 3 && (v != "100" || strings.Trim(frac, "0") != "")) {
		return fmt.Errorf("%q: a percentage is at most 100", c.Value)
	}
	return nil
}

// checkMethod refuses a payment method the gateway does not take, naming
// the ones it does.
func (c Capabilities) checkMethod(gateway, method string) error {
	if method == "" || slices.Contains(c.Methods, method) {
		return nil
	}
	if len(c.Methods) == 0 {
		return &UnsupportedError{Gateway: gateway, Feature: FeatureMethod,
			Reason: fmt.Sprintf("%s does not take a payment method (its page offers its own): %q", c.DisplayName, method)}
	}
	return &UnsupportedError{Gateway: gateway, Feature: FeatureMethod,
		Reason: fmt.Sprintf("%s takes payment_method %s, not %q", c.DisplayName, strings.Join(c.Methods, ", "), method)}
}
