package woocommerce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"paybridge/internal/checkout"
)

// Pay link query parameters carrying the shopper's choices (signed with
// [PayLinkSignature]).
const (
	paramMethod   = "method"
	paramSaveCard = "save_card"
	paramSplits   = "splits"
)

// maxSplits bounds the vendors of one order: the split list travels in
// the pay link's query string.
const maxSplits = 20

// splitIn is one vendor's share as the plugin sends it: the order meta
// _paybridge_splits (or the paybridge_splits filter), amounts as decimal
// strings in the order's currency.
type splitIn struct {
	IBAN           string `json:"iban"`
	Amount         string `json:"amount"`
	KNETCharge     string `json:"knet_charge"`
	KNETChargeType string `json:"knet_charge_type"`
	CCCharge       string `json:"cc_charge"`
	CCChargeType   string `json:"cc_charge_type"`
}

// ParseSplits reads the plugin's split list for an order in currency: a
// JSON array of {iban, amount, knet_charge, knet_charge_type, cc_charge,
// cc_charge_type}, amounts and fixed charges as decimal strings (padded
// as WooCommerce prints them: "5.500" or "5.50" in KWD). An empty string
// or an empty array is no split. The error names the share and the field;
// the core then checks IBANs, charge types and that the shares add up to
// the order's total.
func ParseSplits(raw, currency string) ([]checkout.Split, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var in []splitIn
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("splits: want a JSON array of {iban, amount, knet_charge, knet_charge_type, cc_charge, cc_charge_type} with string values: %w", err)
	}
	if dec.More() {
		return nil, errors.New("splits: data after the JSON array")
	}
	if len(in) > maxSplits {
		return nil, fmt.Errorf("splits: %d shares, at most %d", len(in), maxSplits)
	}
	var out []checkout.Split
	for i, sp := range in {
		field := func(f string) string { return "splits[" + strconv.Itoa(i) + "]." + f }
		if strings.TrimSpace(sp.IBAN) == "" {
			return nil, errors.New(field("iban") + ": is required")
		}
		if strings.TrimSpace(sp.Amount) == "" {
			return nil, errors.New(field("amount") + ": is required")
		}
		amount, err := ParseTotal(sp.Amount, currency)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", field("amount"), sp.Amount, err)
		}
		s := checkout.Split{IBAN: strings.ReplaceAll(strings.TrimSpace(sp.IBAN), " ", ""), Amount: amount}
		for _, ch := range []struct {
			name, v, typ string
			to           *checkout.Commission
		}{{"knet_charge", sp.KNETCharge, sp.KNETChargeType, &s.KNETCharge}, {"cc_charge", sp.CCCharge, sp.CCChargeType, &s.CardCharge}} {
			v, typ := strings.TrimSpace(ch.v), strings.TrimSpace(ch.typ)
			if (v == "") != (typ == "") {
				return nil, errors.New(field(ch.name) + ": give both the charge and its type (fixed or percentage), or neither")
			}
			if typ == checkout.CommissionFixed {
				// WooCommerce pads decimals ("0.500"); the core wants at
				// most the currency's.
				m, err := ParseTotal(v, currency)
				if err != nil {
					return nil, fmt.Errorf("%s: %q: %w", field(ch.name), v, err)
				}
				v = m.String()
			}
			*ch.to = checkout.Commission{Type: typ, Value: v}
		}
		out = append(out, s)
	}
	return out, nil
}

// accountMethods is the payment methods the shop's gateway account may
// name, nil when the account names none (its page offers its own): the
// account's own list where the gateway says (a UPayments white-label
// account's enabled buttons), else the gateway's declared methods. When
// the gateway cannot say right now, the declared methods (the gateway
// adapter sends the method, which a non-white-label account ignores).
func (p *Platform) accountMethods(ctx context.Context, shop *checkout.Shop) ([]string, error) {
	m, err := p.svc.AccountMethods(ctx, shop)
	if err != nil {
		p.log.WarnContext(ctx, "woocommerce: the gateway did not say which methods the account takes", "shop", shop.ID, "err", err)
		caps, _ := p.svc.Capabilities(shop.Gateway.Gateway)
		return caps.Methods, nil
	}
	return m, nil
}

// chooseMethod returns the payment method to send for the one the shopper
// picked: it when the account may name it; "" when the account names none
// but the gateway's page offers it (a non-white-label UPayments account:
// the shopper picks again there); an *UnsupportedError when the gateway
// does not have it at all (never replaced by another method).
func (p *Platform) chooseMethod(ctx context.Context, shop *checkout.Shop, picked string) (string, error) {
	if picked == "" {
		return "", nil
	}
	allowed, err := p.accountMethods(ctx, shop)
	if err != nil {
		return "", err
	}
	if slices.Contains(allowed, picked) {
		return picked, nil
	}
	caps, _ := p.svc.Capabilities(shop.Gateway.Gateway)
	if allowed == nil && slices.Contains(caps.Methods, picked) {
		return "", nil
	}
	reason := fmt.Sprintf("%s does not take the payment method %q", firstNonEmpty(caps.DisplayName, shop.Gateway.Gateway), picked)
	if len(allowed) > 0 {
		reason = fmt.Sprintf("%s takes the payment methods %s, not %q", firstNonEmpty(caps.DisplayName, shop.Gateway.Gateway), strings.Join(allowed, ", "), picked)
	}
	return "", &checkout.UnsupportedError{Gateway: shop.Gateway.Gateway, Feature: checkout.FeatureMethod, Reason: reason}
}

// customerUniqueID is the id the bridge gives the gateway for a logged-in
// WooCommerce customer (the order's customer_id, the WordPress user id),
// prefixed with the shop so that it is unique per store.
func customerUniqueID(shop *checkout.Shop, customerID int64) string {
	if customerID <= 0 {
		return ""
	}
	return "wc-" + shop.ID + "-" + strconv.FormatInt(customerID, 10)
}

// fingerprint identifies the choices in the payment's metadata: "" for
// none (as on payments made before choices existed).
func (c PayChoices) fingerprint() string {
	if c.empty() {
		return ""
	}
	sum := sha256.Sum256([]byte(c.Method + "\n" + strconv.FormatBool(c.SaveCard) + "\n" + c.Splits))
	return hex.EncodeToString(sum[:8])
}
