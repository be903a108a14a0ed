package checkout

import (
	"encoding/json"
	"time"
)

// Platform names. A shop belongs to exactly one.
const (
	PlatformAPI         = "api"
	PlatformWooCommerce = "woocommerce"
	PlatformShopify     = "shopify"
)

// Shop is one merchant store connected to paybridge: which platform it runs
// on, which gateway takes its payments and with which credentials.
// Secrets are held in clear only in memory; the store encrypts them at rest.
type Shop struct {
	ID       string
	Name     string
	Platform string
	// Domain is the store's address where the platform has one
	// (shop.myshopify.com, https://store.example); empty for the API platform.
	Domain  string
	Gateway GatewayAccount
	// APIKeyHash is the SHA-256 (hex) of the shop's API key; the key itself is
	// shown once, at creation, and never stored.
	APIKeyHash string
	// WebhookSecret signs the callbacks we send the merchant ("whsec_…").
	WebhookSecret string
	// Secrets are platform credentials (access tokens, consumer keys).
	Secrets map[string]string
	// Settings are non-secret platform settings.
	Settings map[string]string
	// Status is set by the store when it reads the shop. Writes of the
	// shop leave it alone: operators change it through the store's own
	// methods (disable, enable, remove).
	Status    ShopStatus
	CreatedAt time.Time
}

// GatewayAccount is a shop's account at a gateway.
type GatewayAccount struct {
	// Gateway names the adapter ("upay", "cko", "kupay").
	Gateway string
	// Sandbox selects the gateway's test environment.
	Sandbox bool
	// Credentials are the gateway secrets (API key, signing key …) by name.
	Credentials map[string]string
}

// Customer is the shopper as the merchant knows them.
type Customer struct {
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Mobile   string `json:"mobile,omitempty"`
	UniqueID string `json:"unique_id,omitempty"`
}

// Product is one order line, for the gateway's receipt.
type Product struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Price       Money  `json:"-"`
	Quantity    int    `json:"quantity"`
}

// Payment is one attempt by a shopper to pay one order of one shop through
// one gateway.
type Payment struct {
	ID       string
	ShopID   string
	Platform string
	// OrderID is the platform's reference for the order; unique per shop.
	OrderID     string
	Amount      Money
	Refunded    Money // sum of succeeded refunds
	Description string
	Language    string // "en" or "ar"
	// PaymentMethod is the gateway method asked for ("knet", "cc", …); empty
	// lets the gateway page offer every method.
	PaymentMethod string
	Customer      Customer
	Products      []Product
	// Merchant URLs: where the shopper goes after paying or cancelling, and
	// where the final state is POSTed (API platform).
	ReturnURL   string
	CancelURL   string
	CallbackURL string
	// Metadata is platform-specific, non-secret data (a Shopify session's
	// cancel URL, a WooCommerce order key …). Gateways never read it: what
	// a payment asks of the gateway is in Options.
	Metadata map[string]string
	// Options are what the payment asks of the gateway besides the charge.
	Options Options

	Status    Status
	SyncState SyncState

	// Gateway is the adapter name; GatewayOrderID is the order id we sent the
	// gateway (our payment id); GatewayRef is the gateway's own reference
	// for the transaction (UPayments track_id), known once the charge exists
	// or once a status answer has been bound to this payment.
	Gateway        string
	GatewayOrderID string
	GatewayRef     string
	// GatewayURL is the hosted page the shopper is sent to.
	GatewayURL string
	// TransactionID is the gateway's id of the settled transaction, for the
	// store's order (UPayments payment_id).
	TransactionID string
	// GatewayData holds what later calls need from the gateway's answers
	// (UPayments refund_order_id …).
	GatewayData map[string]string
	// CustomerToken is the customer's saved-card token at the gateway, set
	// by the core for the adapter's CreatePayment only: it is kept sealed,
	// per customer, never on the payment (the store ignores this field).
	CustomerToken string

	// RequestHash fingerprints the create request, so that a retried
	// request with the same order id but another body is refused.
	RequestHash string
	ExpiresAt   time.Time
	// CheckedAt is when the gateway was last asked about the payment (zero:
	// never); the reconciler spaces its re-checks by it.
	CheckedAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increases on every write; writes are compare-and-set on it.
	Version int64
}

// RefundedOrZero is the sum of succeeded refunds, as zero in the payment's
// currency when nothing was refunded yet (a row written before Refunded
// carried a currency).
func (p *Payment) RefundedOrZero() Money {
	if p.Refunded.Currency == "" {
		return Money{Currency: p.Amount.Currency}
	}
	return p.Refunded
}

// Options are what a payment asks of its gateway besides a plain charge.
// Each needs a feature the gateway declares ([Service.Supports]); the core
// refuses a payment asking for one its gateway lacks. The zero value asks
// for nothing.
type Options struct {
	// Invoice, when set, has the gateway send the pay link itself
	// (FeatureInvoices).
	Invoice *Invoice `json:"invoice,omitempty"`
	// SaveCard asks the gateway page to offer saving the card for the
	// customer's next payment (FeatureSavedCards); it needs
	// Customer.UniqueID, the store's id for the customer.
	SaveCard bool `json:"save_card,omitempty"`
	// Splits divide the payment between vendors (FeatureSplits); their
	// amounts add up to the payment's.
	Splits []Split `json:"splits,omitempty"`
	// Reference is the merchant's own reference for the order, shown on the
	// gateway's records (UPayments order.reference); empty sends the order
	// id.
	Reference string `json:"reference,omitempty"`
	// ExtraData is free text the gateway keeps with the transaction
	// (UPayments customerExtraData, Checkout.com user_defined_field3).
	ExtraData string `json:"extra_data,omitempty"`
}

// Invoice asks the gateway to deliver the payment link (UPayments
// create-invoice).
type Invoice struct {
	// Notify is how: NotifyEmail, NotifySMS, NotifyAll (both), or
	// NotifyLink (the link is made and handed back, nothing is sent).
	Notify string `json:"notify"`
}

// How an invoice is delivered ([Invoice.Notify]).
const (
	NotifyEmail = "email"
	NotifySMS   = "sms"
	NotifyLink  = "link"
	NotifyAll   = "all"
)

// GatewayData keys the core defines, which adapters set from their
// answers and platforms read through [Payment.InvoiceSent].
const (
	// DataInvoiceSentEmail and DataInvoiceSentSMS are "true" when the
	// gateway says it sent the invoice link by e-mail or by SMS.
	DataInvoiceSentEmail = "invoice_sent_email"
	DataInvoiceSentSMS   = "invoice_sent_sms"
)

// DataCharged is "true" on a payment whose charge exists though it has no
// page (an invoice the gateway only sends by e-mail or SMS).
const DataCharged = "charged"

// Charged reports whether the payment's gateway charge was created: it has
// a page, or it is an invoice the gateway sent.
func (p *Payment) Charged() bool { return p.GatewayURL != "" || p.GatewayData[DataCharged] == "true" }

// InvoiceSent says how the gateway reported sending the payment's invoice
// link: by e-mail, by SMS. Both are false for a payment without an
// invoice, or when the gateway sent nothing (a "link" invoice).
func (p *Payment) InvoiceSent() (email, sms bool) {
	return p.GatewayData[DataInvoiceSentEmail] == "true", p.GatewayData[DataInvoiceSentSMS] == "true"
}

// Sends reports whether the gateway itself sends the link to the customer
// (by e-mail, SMS or both), rather than only making it.
func (i *Invoice) Sends() bool {
	return i != nil && (i.Notify == NotifyEmail || i.Notify == NotifySMS || i.Notify == NotifyAll)
}

// RefundSplit is one vendor's part of a refund of a split payment.
type RefundSplit struct {
	// IBAN names the vendor: one of the payment's Splits.
	IBAN string `json:"iban"`
	// Amount is what this vendor refunds, at most what the vendor was paid
	// less what it refunded before.
	Amount Money `json:"amount"`
	// Paid is the vendor's whole share of the payment and Before what it
	// had refunded when this refund was made (the gateway wants both:
	// UPayments totalPaid, refundedAmount).
	Paid   Money `json:"paid"`
	Before Money `json:"before"`
}

// Refund is money sent back to the shopper on a paid payment.
type Refund struct {
	ID        string
	PaymentID string
	Amount    Money
	Reason    string
	Status    RefundStatus
	SyncState SyncState
	// GatewayRef is the gateway's reference for the refund, once known.
	GatewayRef string
	// Attempts counts gateway refund calls made; a call whose outcome is
	// unknown is never repeated blindly.
	Attempts int
	// Source says who asked: "api", "woocommerce", "shopify", "cli".
	Source string
	// Reference is the platform's own id for this refund (a Shopify refund
	// session, a WooCommerce refund), unique per payment when set: asking
	// again with the same reference returns the same refund.
	Reference string
	// Splits say how much each vendor refunds, for a refund of a split
	// payment (their amounts add up to Amount); nil otherwise.
	Splits    []RefundSplit
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// Event is one row of a payment's append-only audit trail: who did what,
// why, and what the gateway answered.
type Event struct {
	ID        int64
	PaymentID string
	RefundID  string // set for refund events
	At        time.Time
	// Kind names what happened (see the Event* constants).
	Kind string
	// From and To are set for status transitions.
	From string
	To   string
	// Source is who caused it: "api", "shopper", "notification",
	// "reconciler", "worker", "gateway", "cli".
	Source string
	// Detail is a JSON object with the particulars (the gateway's answer, the
	// claim a notification made, an error). Never secrets.
	Detail json.RawMessage
}

// Event kinds.
const (
	EventCreated         = "created"
	EventChargeCreated   = "charge_created"
	EventChargeFailed    = "charge_failed"
	EventTransition      = "transition"
	EventNotification    = "notification"
	EventReturn          = "return"
	EventClaimRejected   = "claim_rejected"
	EventBindingMismatch = "binding_mismatch"
	EventSignatureBad    = "signature_invalid"
	EventGatewayError    = "gateway_error"
	EventSyncSucceeded   = "sync_succeeded"
	EventSyncFailed      = "sync_failed"
	// EventSyncAttemptFailed records one attempt to tell the store (or the
	// API's callback_url) that failed and will be retried, with the error:
	// the store's or the callback's HTTP answer, for the console's list of
	// attempts.
	EventSyncAttemptFailed = "sync_attempt_failed"
	EventRefundRequested   = "refund_requested"
	EventRefundSubmitted   = "refund_submitted"
	EventRefundSucceeded   = "refund_succeeded"
	EventRefundFailed      = "refund_failed"
	EventRefundUnknown     = "refund_outcome_unknown"
)
