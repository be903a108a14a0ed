package checkout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Feature is something a platform may ask a gateway to do besides taking a
// one-off payment: platforms ask [Service.Supports] before offering it.
type Feature string

// Features a gateway may or may not offer.
const (
	// FeatureCurrency: charging in a currency (checked by [Service.CheckPayment]).
	FeatureCurrency Feature = "currency"
	// FeatureAmount: charging an exact amount (a per-currency amount rule).
	FeatureAmount Feature = "amount"
	// FeatureRefund: refunding a paid payment in full.
	FeatureRefund Feature = "refund"
	// FeaturePartialRefund: refunding less than the captured amount.
	FeaturePartialRefund Feature = "partial_refund"
	// FeatureMultipleRefunds: more than one refund on a payment.
	FeatureMultipleRefunds Feature = "multiple_refunds"
	// FeatureCapture: authorizing first and capturing later (a Shopify
	// capture session).
	FeatureCapture Feature = "capture"
	// FeatureSavedCards: saving a card on the gateway page for later.
	FeatureSavedCards Feature = "saved_cards"
	// FeatureInvoices: payment links sent by the gateway (e-mail, SMS).
	FeatureInvoices Feature = "invoices"
	// FeatureSignedNotifications: notifications carry a verifiable signature.
	FeatureSignedNotifications Feature = "signed_notifications"
	// FeatureMethod: naming the payment method (KNET, card …) instead of
	// letting the gateway page offer them all (checked against Methods).
	FeatureMethod Feature = "payment_method"
	// FeatureSplits: dividing a payment between vendors' accounts.
	FeatureSplits Feature = "splits"
	// FeatureSplitRefunds: refunding a split payment vendor by vendor.
	FeatureSplitRefunds Feature = "split_refunds"
)

// ExpiryGrace is added to a gateway's reported PageLifetime to set a
// payment's expiry: the shopper reaches the gateway page some time after
// the payment is created, and the gateway's own clock starts there.
const ExpiryGrace = 5 * time.Minute

// AmountRule restricts the amounts a gateway accepts in currencies of one
// ISO 4217 exponent: the amount in minor units must be a multiple of
// MinorMultiple (Checkout.com: 3-decimal currencies end in 0, multiple 10).
type AmountRule struct {
	// Exponent selects the currencies (3 for KWD, BHD, OMR, JOD …).
	Exponent int
	// MinorMultiple is what the amount in minor units must be a multiple of.
	MinorMultiple int64
	// Why explains the rule to a merchant ("3-decimal amounts must end in 0").
	Why string
}

// Capabilities says what a gateway can do. The zero value means "one-off
// payments in any currency, nothing else": a feature not declared is
// refused.
type Capabilities struct {
	// DisplayName is the gateway's name for people ("Checkout.com").
	DisplayName string
	// Currencies lists the ISO 4217 codes the gateway charges in; nil
	// means every currency.
	Currencies []string
	// Refunds, PartialRefunds and MultipleRefunds say which refunds the
	// gateway performs: in full, for less than the captured amount, and
	// more than one per payment.
	Refunds         bool
	PartialRefunds  bool
	MultipleRefunds bool
	// AuthorizeCapture is true when a payment can be authorized and
	// captured later; false means the gateway captures at once.
	AuthorizeCapture bool
	// SavedCards is true when the gateway page can save a card.
	SavedCards bool
	// Invoices is true when the gateway can send payment links itself.
	Invoices bool
	// Methods are the payment methods a payment may name, in the
	// gateway's own words ("knet", "cc" …); nil means none may be named
	// (the gateway page offers what it has).
	Methods []string
	// Splits is true when a payment can be divided between vendors.
	Splits bool
	// SplitRefunds is true when a split payment can be refunded vendor by
	// vendor (UPayments create-multivendor-refund).
	SplitRefunds bool
	// RequiresContact is true when the gateway needs the customer's name
	// and an e-mail or mobile number with every charge: the generic API
	// refuses a payment without them (store flows send what they have).
	RequiresContact bool
	// SignedNotifications is true when notifications carry a signature
	// that the adapter verifies (they are still only a trigger to fetch).
	SignedNotifications bool
	// PageLifetime is how long the gateway keeps its page payable once the
	// shopper lands on it; 0 means unknown (the core's default applies).
	PageLifetime time.Duration
	// AmountRules restrict the amounts per currency exponent.
	AmountRules []AmountRule
	// MaxMinor is the largest amount in minor units the gateway takes;
	// 0 means no limit beyond MaxMinor.
	MaxMinor int64
	// IdempotentRefunds is true when the gateway deduplicates refund
	// requests by our refund id (Checkout.com's Cko-Idempotency-Key), so a
	// submission whose outcome is unknown may be sent again safely.
	IdempotentRefunds bool
	// Credentials are what a shop gives to use its account at the gateway,
	// in the order a form should ask for them. Platforms build their
	// connect and settings forms from it.
	Credentials []CredentialField
}

// CredentialField is one credential of a gateway account.
type CredentialField struct {
	// Name is the key in GatewayAccount.Credentials ("api_key").
	Name string
	// Label is what a merchant is shown ("UPayments API key"), and LabelAR
	// the same in Arabic (empty: forms show Label).
	Label   string
	LabelAR string
	// Required fields must be non-empty for the account to work.
	Required bool
}

// CheckCredentials returns an error naming every required credential that
// is missing from creds, or nil.
func (c Capabilities) CheckCredentials(creds map[string]string) error {
	var missing []string
	for _, f := range c.Credentials {
		if f.Required && strings.TrimSpace(creds[f.Name]) == "" {
			missing = append(missing, f.Label)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s needs: %s", c.DisplayName, strings.Join(missing, ", "))
	}
	return nil
}

// UnsupportedError is a request the shop's gateway cannot serve, refused
// before any gateway call. Reason names the gateway and says why; it is
// safe to show a merchant.
type UnsupportedError struct {
	// Gateway is the adapter name ("kupay").
	Gateway string
	Feature Feature
	Reason  string
}

// Error returns Reason, which names the gateway.
func (e *UnsupportedError) Error() string { return e.Reason }

// ErrUnsupported is matched by every *UnsupportedError with errors.Is.
var ErrUnsupported = errors.New("not supported by the gateway")

// Is makes errors.Is(err, ErrUnsupported) true for an *UnsupportedError.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Capabilities returns what the named gateway can do, and false when no
// adapter of that name is registered. A feature is offered only when the
// adapter declares it and implements the interface it needs: refunds need
// a [Refunder], saved cards a [CustomerTokener].
func (s *Service) Capabilities(gateway string) (Capabilities, bool) {
	g, ok := s.gateways[gateway]
	if !ok {
		return Capabilities{}, false
	}
	return declared(g), true
}

// AccountMethods returns the payment methods the shop's account may name,
// for a platform to offer as choices: what the gateway says of the account
// when it can ([MethodLister]: UPayments lists a white-label account's
// enabled buttons, and none for another account, whose page offers its
// own), else every method the gateway declares. On a gateway without
// methods it is nil.
func (s *Service) AccountMethods(ctx context.Context, shop *Shop) ([]string, error) {
	g, ok := s.gateways[shop.Gateway.Gateway]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownGateway, shop.Gateway.Gateway)
	}
	if ml, ok := g.(MethodLister); ok {
		return ml.AccountMethods(ctx, shop.Gateway)
	}
	return declared(g).Methods, nil
}

// declared is g's Capabilities with what its methods cannot back taken away.
func declared(g Gateway) Capabilities {
	caps := g.Capabilities()
	if _, ok := g.(Refunder); !ok {
		caps.Refunds, caps.PartialRefunds, caps.MultipleRefunds, caps.IdempotentRefunds, caps.SplitRefunds = false, false, false, false, false
	}
	if _, ok := g.(CustomerTokener); !ok {
		caps.SavedCards = false
	}
	if caps.DisplayName == "" {
		caps.DisplayName = g.Name()
	}
	return caps
}

// Supports returns nil when the named gateway offers the feature, an
// *UnsupportedError naming the gateway and the reason when it does not, and
// an error wrapping ErrUnknownGateway when no such adapter is registered.
// Platforms call it before offering a feature (a refund button, a capture).
// FeatureCurrency and FeatureAmount need an amount: use [Service.CheckPayment].
func (s *Service) Supports(gateway string, f Feature) error {
	caps, ok := s.Capabilities(gateway)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownGateway, gateway)
	}
	return caps.supports(gateway, f)
}

func (c Capabilities) supports(gateway string, f Feature) error {
	var ok bool
	var what string
	switch f {
	case FeatureRefund:
		ok, what = c.Refunds, "refunds"
	case FeaturePartialRefund:
		ok, what = c.Refunds && c.PartialRefunds, "partial refunds"
	case FeatureMultipleRefunds:
		ok, what = c.Refunds && c.MultipleRefunds, "more than one refund per payment"
	case FeatureCapture:
		ok, what = c.AuthorizeCapture, "authorize now and capture later (it captures at once)"
	case FeatureSavedCards:
		ok, what = c.SavedCards, "saved cards"
	case FeatureInvoices:
		ok, what = c.Invoices, "invoices"
	case FeatureSignedNotifications:
		ok, what = c.SignedNotifications, "signed notifications"
	case FeatureMethod:
		ok, what = len(c.Methods) > 0, "choosing the payment method"
	case FeatureSplits:
		ok, what = c.Splits, "splitting a payment between vendors"
	case FeatureSplitRefunds:
		ok, what = c.Refunds && c.SplitRefunds, "refunding a split payment"
	case FeatureCurrency, FeatureAmount:
		return nil // needs an amount: CheckPayment
	default:
		return &UnsupportedError{Gateway: gateway, Feature: f, Reason: fmt.Sprintf("%s: unknown feature %q", c.DisplayName, f)}
	}
	if ok {
		return nil
	}
	return &UnsupportedError{Gateway: gateway, Feature: f, Reason: fmt.Sprintf("%s does not support %s", c.DisplayName, what)}
}

// CheckPayment returns nil when the named gateway can charge amount
// exactly, or an *UnsupportedError saying why not: a currency it does not
// take, an amount its per-currency rule refuses (never rounded), or an
// amount above its limit.
func (s *Service) CheckPayment(gateway string, amount Money) error {
	caps, ok := s.Capabilities(gateway)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownGateway, gateway)
	}
	return caps.CheckAmount(gateway, amount)
}

// CheckAmount applies the currency list, the amount rules and MaxMinor to
// amount; gateway is the adapter name put in the error.
func (c Capabilities) CheckAmount(gateway string, amount Money) error {
	name := c.DisplayName
	if name == "" {
		name = gateway
	}
	if c.Currencies != nil && !slices.Contains(c.Currencies, amount.Currency) {
		return &UnsupportedError{Gateway: gateway, Feature: FeatureCurrency,
			Reason: fmt.Sprintf("%s does not accept %s (it takes %s)", name, amount.Currency, strings.Join(c.Currencies, ", "))}
	}
	exp, err := Exponent(amount.Currency)
	if err != nil {
		return err
	}
	for _, r := range c.AmountRules {
		if r.Exponent == exp && !amount.MultipleOf(r.MinorMultiple) {
			return &UnsupportedError{Gateway: gateway, Feature: FeatureAmount,
				Reason: fmt.Sprintf("%s needs %s; %s %s cannot be charged exactly", name, r.Why, amount, amount.Currency)}
		}
	}
	if c.MaxMinor > 0 && amount.Cmp(Money{Minor: c.MaxMinor, Currency: amount.Currency}) > 0 {
		return &UnsupportedError{Gateway: gateway, Feature: FeatureAmount,
			Reason: fmt.Sprintf("%s takes at most %s %s", name, FormatMinor(c.MaxMinor, exp), amount.Currency)}
	}
	return nil
}

// checkRefund refuses a refund the payment's gateway cannot perform: none
// at all, a partial one, a second one, or an amount its rules refuse.
// refunds are the payment's existing refunds.
func (s *Service) checkRefund(p *Payment, amount Money, refunds []*Refund) error {
	caps, ok := s.Capabilities(p.Gateway)
	if !ok {
		return nil // ProcessRefund reports the unknown gateway
	}
	if err := caps.supports(p.Gateway, FeatureRefund); err != nil {
		return err
	}
	if amount.Cmp(p.Amount) < 0 {
		if err := caps.supports(p.Gateway, FeaturePartialRefund); err != nil {
			return err
		}
	}
	for _, r := range refunds {
		if r.Status != RefundFailed {
			if err := caps.supports(p.Gateway, FeatureMultipleRefunds); err != nil {
				return err
			}
			break
		}
	}
	if amount.Currency == p.Amount.Currency && amount.Positive() {
		return caps.CheckAmount(p.Gateway, amount) // refunds obey the amount rules too
	}
	return nil
}

// CheckRefund is what CreateRefund checks before recording a refund on
// payment id: that its gateway refunds at all, partially when amount is
// below the captured amount, and more than once when refunds exist.
func (s *Service) CheckRefund(ctx context.Context, paymentID string, amount Money) error {
	p, err := s.store.Payment(ctx, paymentID)
	if err != nil {
		return err
	}
	refunds, err := s.store.Refunds(ctx, paymentID)
	if err != nil {
		return err
	}
	return s.checkRefund(p, amount, refunds)
}

// gatewayLifetime is the gateway's reported page lifetime plus ExpiryGrace,
// or 0 when it reports none.
func (s *Service) gatewayLifetime(gateway string) time.Duration {
	caps, ok := s.Capabilities(gateway)
	if !ok || caps.PageLifetime <= 0 {
		return 0
	}
	return caps.PageLifetime + ExpiryGrace
}

// CallbackRouter is implemented by adapters whose gateway posts every
// notification of an account to one fixed URL (Checkout.com's workflow
// webhooks) instead of a per-payment URL: it names the payment a
// notification is about, from its (not yet verified) body.
type CallbackRouter interface {
	// CallbackPaymentID returns our payment id the notification names
	// (Checkout.com: data.reference), or an error when it names none.
	CallbackPaymentID(req CallbackRequest) (string, error)
}

// NotifyAccount records an account-level notification (sent to
// /notify/{gateway} with no payment id): the adapter names the payment,
// then it is handled like [Service.Notify], signature check included, with
// that payment's shop's credentials. A body naming no known payment is
// ErrNotFound; a gateway without a CallbackRouter too.
func (s *Service) NotifyAccount(ctx context.Context, gateway string, req CallbackRequest) error {
	g, ok := s.gateways[gateway]
	if !ok {
		return fmt.Errorf("%w %q: %w", ErrUnknownGateway, gateway, ErrNotFound)
	}
	r, ok := g.(CallbackRouter)
	if !ok {
		return fmt.Errorf("%s notifications need a payment id in the URL: %w", gateway, ErrNotFound)
	}
	id, err := r.CallbackPaymentID(req)
	if err != nil {
		return fmt.Errorf("%s notification: %w: %w", gateway, err, ErrNotFound)
	}
	if !ValidID("pay", id) {
		return fmt.Errorf("%s notification names %q, not a payment: %w", gateway, id, ErrNotFound)
	}
	return s.Notify(ctx, gateway, id, req)
}
