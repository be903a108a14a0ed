// Package upay talks to UPayments (upayments.com, "UInterfaceV2" API): a
// low-level [Client] for its REST endpoints and a [Gateway] adapter that
// implements checkout.Gateway on top of it.
//
// Money never passes through float64: amounts go out as JSON number literals
// written from checkout.Money's exact decimal string, and answers are decoded
// with json.Number / strings and read back with [ParseAmount].
//
// Deliberately missing: create-token-from-card (server-side card numbers
// would put paybridge in PCI DSS scope; cards are saved only on UPayments'
// hosted pages, see [Client.AddCard]), auto-deduct, multi-vendor refunds.
package upay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/gatewayhttp"
	"paybridge/internal/wire"
)

// Default endpoints and limits.
const (
	// SandboxURL is UPayments' sandbox API base.
	SandboxURL = "https://sandboxapi.upayments.com/api/v1"
	// LiveURL is the production API base used by UPayments' official plugins.
	// (Some third parties use https://uapi.upayments.com/api/v1; which one is
	// current is unconfirmed.)
	LiveURL = "https://apiv2api.upayments.com/api/v1"
	// DefaultTimeout bounds each API call when Client.Timeout is zero.
	DefaultTimeout = 15 * time.Second
	// GatewayName is the adapter's name, as stored on shops.
	GatewayName = "upay"

	displayName = "UPayments" // how errors name the gateway
)

// Client calls the UPayments API. Like http.Client, its zero value is usable
// once APIKey is set (BaseURL then defaults to [SandboxURL]); it is safe for
// concurrent use and must not be modified while in use.
//
// The client never retries: UPayments has no idempotency keys, so a repeated
// charge or refund could take money twice. Callers decide.
type Client struct {
	// BaseURL is the API base including /api/v1 (default [SandboxURL]).
	BaseURL string
	// APIKey is the merchant's Bearer token. It is never logged nor put in
	// errors.
	APIKey string
	// APISecret, when set, signs every request with X-Timestamp and
	// X-Signature = Base64(HMAC-SHA256(APISecret, timestamp + METHOD +
	// API_PATH + body)), API_PATH being the path after /api/v1/.
	APISecret string
	// HTTPClient sends the requests (default: a pooled client shared by
	// every UPayments client, see package gatewayhttp).
	HTTPClient *http.Client
	// Timeout bounds each call, on top of the caller's context
	// (default [DefaultTimeout]).
	Timeout time.Duration
	// Now returns the current time for request signing (default time.Now).
	Now func() time.Time
}

// Product is one order line on a charge.
type Product struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Price is the unit price in major units, written exactly as given
	// (use checkout.Money.String()).
	Price    json.Number `json:"price,omitempty"`
	Quantity int         `json:"quantity,omitempty"`
}

// Order is the charge's order block.
type Order struct {
	// ID is the merchant's order id (max 50); echoed back as
	// requested_order_id / merchant_requested_order_id.
	ID        string `json:"id"`
	Reference string `json:"reference,omitempty"`
	// Description is mandatory for UPayments (max 500).
	Description string `json:"description"`
	// Currency is the ISO 4217 code.
	Currency string `json:"currency"`
	// Amount is the total in major units ("12.345"); it is sent as a JSON
	// number literal with exactly these digits.
	Amount json.Number `json:"amount"`
}

// Reference is the charge's merchant reference block.
type Reference struct {
	// ID is the merchant's own reference (max 150; reportedly 35).
	ID string `json:"id"`
}

// Customer is the shopper block of a charge.
type Customer struct {
	UniqueID string `json:"uniqueId,omitempty"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Mobile   string `json:"mobile,omitempty"`
}

// Tokens carries saved-card tokens. UPayments documents the block as
// mandatory, so it is always sent, possibly empty.
type Tokens struct {
	// KFast is a KNET saved-card (KFAST) token.
	KFast string `json:"kFast,omitempty"`
	// CreditCard is a saved card token from [Client.RetrieveCustomerCards].
	CreditCard string `json:"creditCard,omitempty"`
	// CustomerUniqueToken is the merchant-chosen numeric customer id (8–18
	// digits), sent as a JSON number as documented.
	CustomerUniqueToken json.Number `json:"customerUniqueToken,omitempty"`
}

// PaymentGateway selects the payment method.
type PaymentGateway struct {
	// Src is "knet", "cc", "samsung-pay", "apple-pay", "google-pay",
	// "amex", "apple-pay-knet" or "create-invoice".
	Src string `json:"src"`
}

// Plugin names the integration to UPayments (a free label).
type Plugin struct {
	Src string `json:"src"`
}

// ExtraMerchant is one split-payment entry (multi-vendor).
type ExtraMerchant struct {
	Amount         json.Number `json:"amount,omitempty"`
	KnetCharge     json.Number `json:"knetCharge,omitempty"`
	KnetChargeType string      `json:"knetChargeType,omitempty"` // "fixed" or "percentage"
	CCCharge       json.Number `json:"ccCharge,omitempty"`
	CCChargeType   string      `json:"ccChargeType,omitempty"`
	IBANNumber     string      `json:"ibanNumber,omitempty"`
}

// ChargeRequest is the body of POST charge (every field of UPayments'
// "Add charge" reference).
type ChargeRequest struct {
	Products          []Product `json:"products,omitempty"`
	Order             Order     `json:"order"`
	Reference         Reference `json:"reference"`
	Customer          Customer  `json:"customer"`
	CustomerExtraData string    `json:"customerExtraData,omitempty"`
	Tokens            Tokens    `json:"tokens"`
	// PaymentGateway is omitted when nil so that the hosted page offers
	// every method (non-whitelabel merchants).
	PaymentGateway    *PaymentGateway `json:"paymentGateway,omitempty"`
	Language          string          `json:"language"` // "en" or "ar"
	ExtraMerchantData []ExtraMerchant `json:"extraMerchantData,omitempty"`
	Plugin            *Plugin         `json:"plugin,omitempty"`
	IsSaveCard        bool            `json:"isSaveCard"`
	// NotificationType is for create-invoice: "email", "sms", "link", "all".
	NotificationType string `json:"notificationType,omitempty"`
	ReturnURL        string `json:"returnUrl"`
	CancelURL        string `json:"cancelUrl"`
	NotificationURL  string `json:"notificationUrl"`
}

// ChargeResult is UPayments' answer to a charge.
type ChargeResult struct {
	// Link is the hosted payment page (data.link, or
	// data.transactionData.redirect_url when link is absent).
	Link string
	// TrackID is data.trackId when the answer carried one.
	TrackID string
	Message string
	// Raw is the whole answer body.
	Raw json.RawMessage
}

// InvoiceResult is UPayments' answer to a create-invoice charge.
type InvoiceResult struct {
	SMS, Email, Link bool
	// URL is the invoice's payment link (empty when UPayments only sends it).
	URL       string
	InvoiceID string
	Message   string
	Raw       json.RawMessage
}

// Transaction is data.transaction of get-payment-status. Fields UPayments
// did not send (or sent as null) are empty; all values are kept as the
// gateway's text, numbers included.
type Transaction struct {
	OrderID                  string // UPayments' order id (refunds use it)
	RefundOrderID            string
	PaymentID                string
	Result                   string // "CAPTURED", "NOT CAPTURED" …; empty when null
	PaymentType              string
	TrackID                  string
	TransactionDate          string
	Reference                string
	TotalPrice               string // major units as sent ("10.000")
	TotalPaidNonKWD          string
	CurrencyType             string
	Status                   string
	MerchantRequestedOrderID string // our order.id
	CustomerUniqueID         string
	InvoiceID                string
	CreatedAt                string
	NotifyURLCalled          bool
	Raw                      json.RawMessage
}

// Amount reads TotalPrice in CurrencyType with [ParseAmount].
func (t *Transaction) Amount() (checkout.Money, error) {
	return ParseAmount(t.TotalPrice, t.CurrencyType)
}

// RefundRequest is the body of POST create-refund.
type RefundRequest struct {
	// OrderID is UPayments' order id of the payment (refund_order_id or
	// order_id from get-payment-status / the return URL).
	OrderID string `json:"orderId"`
	// TotalPrice is the amount to refund in major units. Sent as a JSON
	// string, as in UPayments' example ("totalPrice": "20").
	TotalPrice           string `json:"totalPrice"`
	CustomerFirstName    string `json:"customerFirstName,omitempty"`
	CustomerEmail        string `json:"customerEmail,omitempty"`
	CustomerMobileNumber string `json:"customerMobileNumber,omitempty"`
	Reference            string `json:"reference,omitempty"`
	NotifyURL            string `json:"notifyUrl,omitempty"`
}

// RefundResult is UPayments' answer to create-refund.
type RefundResult struct {
	OrderID       string
	RefundOrderID string
	RefundARN     string
	Message       string
	Raw           json.RawMessage
}

// RefundStatus is UPayments' answer to check-refund-status.
type RefundStatus struct {
	IsRefunded     bool
	IsRefundedDate string
	Raw            json.RawMessage
}

// Card is one saved card (masked; the token pays with it).
type Card struct {
	Brand  string `json:"brand"`
	Number string `json:"number"`
	Scheme string `json:"scheme"`
	Token  string `json:"token"`
}

// Envelope is UPayments' generic answer, for calls without a specific shape.
type Envelope struct {
	Status  bool
	Message string
	Data    json.RawMessage
	Raw     json.RawMessage
}

// APIError is the technical cause inside a *checkout.GatewayError built from
// an HTTP answer: the status and the first bytes of the body (never the
// request nor the API key).
type APIError struct {
	StatusCode int
	Body       string
}

// Error reports the status and the truncated body.
func (e *APIError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Body)
}

// Charge creates a hosted-page charge (POST charge). It is never retried:
// a Temporary error means the charge may or may not exist.
func (c *Client) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	if err := checkTokens(req.Tokens); err != nil {
		return ChargeResult{}, api.RequestError("charge", err)
	}
	env, err := c.do(ctx, "charge", http.MethodPost, "charge", req)
	if err != nil {
		return ChargeResult{}, err
	}
	var d struct {
		Link            flexString `json:"link"`
		TrackID         flexString `json:"trackId"`
		TransactionData struct {
			RedirectURL flexString `json:"redirect_url"`
		} `json:"transactionData"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return ChargeResult{}, api.AnswerError("charge", err)
	}
	r := ChargeResult{Link: string(d.Link), TrackID: string(d.TrackID), Message: env.Message, Raw: env.Raw}
	if r.Link == "" {
		r.Link = string(d.TransactionData.RedirectURL)
	}
	return r, nil
}

// CreateInvoice creates an invoice (POST charge with paymentGateway.src =
// "create-invoice"). notificationType must be "email", "sms", "link" or
// "all"; it is taken from req.NotificationType ("link" when empty).
func (c *Client) CreateInvoice(ctx context.Context, req ChargeRequest) (InvoiceResult, error) {
	req.PaymentGateway = &PaymentGateway{Src: "create-invoice"}
	switch req.NotificationType {
	case "":
		req.NotificationType = "link"
	case "email", "sms", "link", "all":
	default:
		return InvoiceResult{}, api.RequestError("invoice", fmt.Errorf("notificationType %q is not email, sms, link or all", req.NotificationType))
	}
	if err := checkTokens(req.Tokens); err != nil {
		return InvoiceResult{}, api.RequestError("invoice", err)
	}
	env, err := c.do(ctx, "invoice", http.MethodPost, "charge", req)
	if err != nil {
		return InvoiceResult{}, err
	}
	var d struct {
		SMS       flexBool   `json:"sms"`
		Email     flexBool   `json:"email"`
		Link      flexBool   `json:"link"`
		URL       flexString `json:"url"`
		InvoiceID flexString `json:"invoice_id"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return InvoiceResult{}, api.AnswerError("invoice", err)
	}
	return InvoiceResult{SMS: bool(d.SMS), Email: bool(d.Email), Link: bool(d.Link), URL: string(d.URL),
		InvoiceID: string(d.InvoiceID), Message: env.Message, Raw: env.Raw}, nil
}

// PaymentStatus asks for a transaction's state (GET
// get-payment-status/{track_id}); this is the only trustworthy source.
func (c *Client) PaymentStatus(ctx context.Context, trackID string) (Transaction, error) {
	if trackID == "" {
		return Transaction{}, api.RequestError("status", errors.New("empty track id"))
	}
	env, err := c.do(ctx, "status", http.MethodGet, "get-payment-status/"+url.PathEscape(trackID), nil)
	if err != nil {
		return Transaction{}, err
	}
	var d struct {
		Transaction *struct {
			OrderID                  flexString      `json:"order_id"`
			RefundOrderID            flexString      `json:"refund_order_id"`
			PaymentID                flexString      `json:"payment_id"`
			Result                   flexString      `json:"result"`
			PaymentType              flexString      `json:"payment_type"`
			TrackID                  flexString      `json:"track_id"`
			TransactionDate          flexString      `json:"transaction_date"`
			Reference                flexString      `json:"reference"`
			TotalPrice               flexString      `json:"total_price"`
			TotalPaidNonKWD          flexString      `json:"total_paid_non_kwd"`
			CurrencyType             flexString      `json:"currency_type"`
			Status                   flexString      `json:"status"`
			MerchantRequestedOrderID flexString      `json:"merchant_requested_order_id"`
			CustomerUniqueID         flexString      `json:"customer_unique_id"`
			InvoiceID                flexString      `json:"invoice_id"`
			CreatedAt                flexString      `json:"created_at"`
			NotifyURLCalled          flexBool        `json:"notify_url_called"`
			Raw                      json.RawMessage `json:"-"`
		} `json:"transaction"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return Transaction{}, api.AnswerError("status", err)
	}
	if d.Transaction == nil {
		return Transaction{}, api.AnswerError("status", errors.New("no data.transaction in the answer"))
	}
	t := d.Transaction
	return Transaction{
		OrderID: string(t.OrderID), RefundOrderID: string(t.RefundOrderID), PaymentID: string(t.PaymentID),
		Result: string(t.Result), PaymentType: string(t.PaymentType), TrackID: string(t.TrackID),
		TransactionDate: string(t.TransactionDate), Reference: string(t.Reference),
		TotalPrice: string(t.TotalPrice), TotalPaidNonKWD: string(t.TotalPaidNonKWD),
		CurrencyType: string(t.CurrencyType), Status: string(t.Status),
		MerchantRequestedOrderID: string(t.MerchantRequestedOrderID), CustomerUniqueID: string(t.CustomerUniqueID),
		InvoiceID: string(t.InvoiceID), CreatedAt: string(t.CreatedAt), NotifyURLCalled: bool(t.NotifyURLCalled),
		Raw: env.Raw,
	}, nil
}

// CreateRefund asks for a refund (POST create-refund). UPayments has no
// idempotency key: this call is never retried here, and a Temporary error
// means the refund may exist. Refunds settle asynchronously; poll
// [Client.CheckRefundStatus].
func (c *Client) CreateRefund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	if req.OrderID == "" {
		return RefundResult{}, api.RequestError("refund", errors.New("empty orderId"))
	}
	env, err := c.do(ctx, "refund", http.MethodPost, "create-refund", req)
	if err != nil {
		return RefundResult{}, err
	}
	var d struct {
		OrderID       flexString `json:"order_id"`
		RefundOrderID flexString `json:"refund_order_id"`
		RefundARN     flexString `json:"refund_arn"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return RefundResult{}, api.AnswerError("refund", err)
	}
	return RefundResult{OrderID: string(d.OrderID), RefundOrderID: string(d.RefundOrderID),
		RefundARN: string(d.RefundARN), Message: env.Message, Raw: env.Raw}, nil
}

// MultivendorRefundRequest is the body of POST create-multivendor-refund
// (research §1.10): one entry per vendor.
type MultivendorRefundRequest struct {
	// OrderID is UPayments' order id of the payment, as for create-refund.
	OrderID             string         `json:"orderId"`
	IsMultivendorRefund bool           `json:"isMultivendorRefund"`
	RefundPayload       []VendorRefund `json:"refundPayload"`
}

// VendorRefund is one vendor's part of a multi-vendor refund; amounts are
// decimal strings in major units, as create-refund's totalPrice.
type VendorRefund struct {
	RefundRequestID string `json:"refundRequestId"`
	IBANNumber      string `json:"ibanNumber"`
	// TotalPaid is the vendor's share of the payment, RefundedAmount what
	// it refunded before, RemainingLimit the difference.
	TotalPaid      string `json:"totalPaid"`
	RefundedAmount string `json:"refundedAmount"`
	RemainingLimit string `json:"remainingLimit"`
	AmountToRefund string `json:"amountToRefund"`
	// MerchantType is "vendor".
	MerchantType string `json:"merchantType"`
}

// MultivendorRefundResult is UPayments' answer to a multi-vendor refund.
type MultivendorRefundResult struct {
	// Generated are the refunds made, one per vendor
	// (data.responseData.generated).
	Generated []GeneratedRefund
	// Problems are the entries UPayments refused, with why
	// (dataTempered, refundIssue, insufficientBalance).
	Problems []string
	Raw      json.RawMessage
}

// GeneratedRefund is one vendor's refund UPayments made.
type GeneratedRefund struct {
	GeneratedInvoiceID string
	Amount             string
	OrderID            string
	RefundOrderID      string
	RefundARN          string
}

// CreateMultivendorRefund refunds a split payment vendor by vendor (POST
// create-multivendor-refund).
func (c *Client) CreateMultivendorRefund(ctx context.Context, req MultivendorRefundRequest) (MultivendorRefundResult, error) {
	if req.OrderID == "" || len(req.RefundPayload) == 0 {
		return MultivendorRefundResult{}, api.RequestError("refund", errors.New("a multi-vendor refund needs the orderId and one entry per vendor"))
	}
	env, err := c.do(ctx, "refund", http.MethodPost, "create-multivendor-refund", req)
	if err != nil {
		return MultivendorRefundResult{}, err
	}
	var d struct {
		ResponseData struct {
			Generated []struct {
				GeneratedInvoiceID flexString `json:"generatedInvoiceId"`
				Amount             flexString `json:"amount"`
				OrderID            flexString `json:"orderId"`
				RefundOrderID      flexString `json:"refundOrderId"`
				RefundARN          flexString `json:"refundArn"`
			} `json:"generated"`
			DataTempered        []json.RawMessage `json:"dataTempered"`
			RefundIssue         []json.RawMessage `json:"refundIssue"`
			InsufficientBalance []json.RawMessage `json:"insufficientBalance"`
		} `json:"responseData"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return MultivendorRefundResult{}, api.AnswerError("refund", err)
	}
	out := MultivendorRefundResult{Raw: env.Raw}
	for _, g := range d.ResponseData.Generated {
		out.Generated = append(out.Generated, GeneratedRefund{GeneratedInvoiceID: string(g.GeneratedInvoiceID), Amount: string(g.Amount),
			OrderID: string(g.OrderID), RefundOrderID: string(g.RefundOrderID), RefundARN: string(g.RefundARN)})
	}
	for _, p := range []struct {
		what    string
		entries []json.RawMessage
	}{{"data tampered", d.ResponseData.DataTempered}, {"refund issue", d.ResponseData.RefundIssue}, {"insufficient balance", d.ResponseData.InsufficientBalance}} {
		for _, e := range p.entries {
			out.Problems = append(out.Problems, p.what+": "+gatewayhttp.Snippet(e))
		}
	}
	return out, nil
}

// CheckRefundStatus asks whether a refund went through (GET
// check-refund-status/{id}). Which id UPayments expects (the refund's
// refund_order_id or the payment's order id) is not confirmed.
func (c *Client) CheckRefundStatus(ctx context.Context, id string) (RefundStatus, error) {
	if id == "" {
		return RefundStatus{}, api.RequestError("refund_status", errors.New("empty refund id"))
	}
	env, err := c.do(ctx, "refund_status", http.MethodGet, "check-refund-status/"+url.PathEscape(id), nil)
	if err != nil {
		return RefundStatus{}, err
	}
	var d struct {
		Transaction struct {
			IsRefunded     flexBool   `json:"is_refunded"`
			IsRefundedDate flexString `json:"is_refunded_date"`
		} `json:"transaction"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return RefundStatus{}, api.AnswerError("refund_status", err)
	}
	return RefundStatus{IsRefunded: bool(d.Transaction.IsRefunded),
		IsRefundedDate: string(d.Transaction.IsRefundedDate), Raw: env.Raw}, nil
}

// PayButtons is check-payment-button-status: how UPayments set up the
// account.
type PayButtons struct {
	// WhiteLabel is data.isWhiteLabel: the merchant's checkout names the
	// method (paymentGateway.src); otherwise the hosted page offers its own.
	WhiteLabel bool
	// Methods are the enabled buttons that are paymentGateway.src values
	// (payButtons knet, credit_card, samsung_pay, apple_pay, google_pay as
	// knet, cc, samsung-pay, apple-pay, google-pay), in that order.
	Methods []string
	Raw     json.RawMessage
}

// buttonMethods maps payButtons keys to paymentGateway.src values; buttons
// seed 000 does not list as a source (apple_pay_knet, amex) are left out.
var buttonMethods = []struct{ button, method string }{
	{"knet", "knet"}, {"credit_card", "cc"}, {"samsung_pay", "samsung-pay"}, {"apple_pay", "apple-pay"}, {"google_pay", "google-pay"},
}

// CheckPayButtons asks how the account is set up (GET
// check-payment-button-status).
func (c *Client) CheckPayButtons(ctx context.Context) (PayButtons, error) {
	env, err := c.do(ctx, "buttons", http.MethodGet, "check-payment-button-status", nil)
	if err != nil {
		return PayButtons{}, err
	}
	var d struct {
		PayButtons   map[string]flexBool `json:"payButtons"`
		IsWhiteLabel flexBool            `json:"isWhiteLabel"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return PayButtons{}, api.AnswerError("buttons", err)
	}
	out := PayButtons{WhiteLabel: bool(d.IsWhiteLabel), Raw: env.Raw}
	for _, b := range buttonMethods {
		if d.PayButtons[b.button] {
			out.Methods = append(out.Methods, b.method)
		}
	}
	return out, nil
}

// CreateCustomerUniqueToken registers a merchant-chosen numeric customer
// token (8–18 digits) before it is used on charges.
func (c *Client) CreateCustomerUniqueToken(ctx context.Context, token string) (Envelope, error) {
	if err := checkCustomerToken(token); err != nil {
		return Envelope{}, api.RequestError("token", err)
	}
	return c.do(ctx, "token", http.MethodPost, "create-customer-unique-token",
		map[string]json.Number{"customerUniqueToken": json.Number(token)})
}

// RetrieveCustomerCards lists the cards saved for a customer token.
func (c *Client) RetrieveCustomerCards(ctx context.Context, token string) ([]Card, error) {
	if err := checkCustomerToken(token); err != nil {
		return nil, api.RequestError("cards", err)
	}
	env, err := c.do(ctx, "cards", http.MethodPost, "retrieve-customer-cards",
		map[string]json.Number{"customerUniqueToken": json.Number(token)})
	if err != nil {
		return nil, err
	}
	var d struct {
		CustomerCards []struct {
			Brand  flexString `json:"brand"`
			Number flexString `json:"number"`
			Scheme flexString `json:"scheme"`
			Token  flexString `json:"token"`
		} `json:"customerCards"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return nil, api.AnswerError("cards", err)
	}
	cards := make([]Card, 0, len(d.CustomerCards))
	for _, k := range d.CustomerCards {
		cards = append(cards, Card{Brand: string(k.Brand), Number: string(k.Number), Scheme: string(k.Scheme), Token: string(k.Token)})
	}
	return cards, nil
}

// AddCard returns the link to UPayments' hosted add-card page for a
// customer token; the shopper comes back to returnURL.
func (c *Client) AddCard(ctx context.Context, token, returnURL string) (string, error) {
	if err := checkCustomerToken(token); err != nil {
		return "", api.RequestError("add_card", err)
	}
	body := struct {
		Token     json.Number `json:"customerUniqueToken"`
		ReturnURL string      `json:"returnUrl"`
	}{json.Number(token), returnURL}
	env, err := c.do(ctx, "add_card", http.MethodPost, "add-card", body)
	if err != nil {
		return "", err
	}
	var d struct {
		Link flexString `json:"link"`
	}
	if err := decodeData(env.Data, &d); err != nil {
		return "", api.AnswerError("add_card", err)
	}
	if d.Link == "" {
		return "", api.AnswerError("add_card", errors.New("no data.link in the answer"))
	}
	return string(d.Link), nil
}

// RemoveCard deletes a saved card by its token.
func (c *Client) RemoveCard(ctx context.Context, cardToken string) (Envelope, error) {
	if cardToken == "" {
		return Envelope{}, api.RequestError("remove_card", errors.New("empty card token"))
	}
	return c.do(ctx, "remove_card", http.MethodPost, "remove-card", map[string]string{"token": cardToken})
}

// Sign returns the X-Signature value for a request or notification:
// Base64(HMAC-SHA256(secret, timestamp + method + path + body)). For our
// requests path is the API path after /api/v1/; for UPayments'
// notifications it is the full notification URL.
func Sign(secret, timestamp, method, path string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte(method))
	m.Write([]byte(path))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// api is the caller every UPayments client shares: one pooled transport
// for the gateway.
var api = gatewayhttp.New(gatewayhttp.Gateway{Name: GatewayName, Display: displayName,
	UserAgent: "paybridge-upay/1", Credential: "API key"}, gatewayhttp.Config{Timeout: DefaultTimeout})

// do sends one request and returns the envelope of a successful answer, or
// a *checkout.GatewayError. With an APISecret the request is signed
// (X-Timestamp, X-Signature).
func (c *Client) do(ctx context.Context, op, method, apiPath string, in any) (Envelope, error) {
	base := c.BaseURL
	if base == "" {
		base = SandboxURL
	}
	r := gatewayhttp.Request{Op: op, Method: method, URL: strings.TrimRight(base, "/") + "/" + apiPath, Body: in,
		Token: c.APIKey, Timeout: c.Timeout, Client: c.HTTPClient}
	if c.APISecret != "" {
		r.Sign = func(h http.Header, body []byte) {
			now := time.Now
			if c.Now != nil {
				now = c.Now
			}
			ts := strconv.FormatInt(now().Unix(), 10)
			h.Set("X-Timestamp", ts)
			h.Set("X-Signature", Sign(c.APISecret, ts, method, apiPath, body))
		}
	}
	return gatewayhttp.Call(ctx, api, r, parseEnvelope)
}

// parseEnvelope maps UPayments' answer: 5xx and 429 are temporary, 401 and
// 403 a rejected key or server, a non-JSON page the IP whitelist, 422 and
// {"status": false} a refusal with UPayments' own message and errors.
func parseEnvelope(op string, a *gatewayhttp.Answer) (Envelope, error) {
	code := a.StatusCode
	ge := &checkout.GatewayError{Gateway: GatewayName, Op: op, HTTPStatus: code,
		Err: &APIError{StatusCode: code, Body: a.Snippet()}}
	var doc struct {
		Status  *flexBool       `json:"status"`
		Message flexString      `json:"message"`
		Errors  json.RawMessage `json:"errors"`
		Data    json.RawMessage `json:"data"`
	}
	jsonErr := wire.DecodeJSON(a.Body, &doc)
	switch {
	case code >= 500:
		ge.Temporary = true
		ge.Message = fmt.Sprintf("UPayments is unavailable (HTTP %d)", code)
		return Envelope{}, ge
	case code == http.StatusTooManyRequests:
		ge.Temporary = true
		ge.Message = "UPayments rate limit reached; try again later"
		ge.Err = gatewayhttp.RetryAfter(a, ge.Err)
		return Envelope{}, ge
	case code == http.StatusUnauthorized:
		ge.Message = "API key rejected"
		if doc.Message != "" {
			ge.Message += " (" + string(doc.Message) + ")"
		}
		return Envelope{}, ge
	case code == http.StatusForbidden:
		ge.Message = "UPayments refused access (403 Forbidden); check the API key's permissions and the server IP whitelist"
		return Envelope{}, ge
	case jsonErr != nil:
		ge.Message = "UPayments answered with a non-JSON page; if this is production, ask UPayments to whitelist this server's IP"
		return Envelope{}, ge
	case code == http.StatusUnprocessableEntity:
		ge.Message = "UPayments rejected the request"
		if doc.Message != "" {
			ge.Message += ": " + string(doc.Message)
		}
		if e := formatErrors(doc.Errors); e != "" {
			ge.Message += " (" + e + ")"
		}
		return Envelope{}, ge
	case code != http.StatusOK && code != http.StatusCreated:
		ge.Message = fmt.Sprintf("UPayments answered HTTP %d", code)
		if doc.Message != "" {
			ge.Message += ": " + string(doc.Message)
		}
		return Envelope{}, ge
	case doc.Status == nil || !bool(*doc.Status):
		ge.Message = "UPayments refused the request"
		if doc.Message != "" {
			ge.Message += ": " + string(doc.Message)
		}
		if e := formatErrors(doc.Errors); e != "" {
			ge.Message += " (" + e + ")"
		}
		return Envelope{}, ge
	}
	return Envelope{Status: true, Message: string(doc.Message), Data: doc.Data, Raw: json.RawMessage(a.Body)}, nil
}

// formatErrors renders UPayments' "errors" (a list, or a Laravel-style
// object of field → messages) as one line, truncated.
func formatErrors(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var parts []string
	var list []any
	var obj map[string]any
	switch {
	case json.Unmarshal(raw, &list) == nil:
		for _, v := range list {
			parts = append(parts, flatten(v))
		}
	case json.Unmarshal(raw, &obj) == nil:
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			parts = append(parts, k+": "+flatten(obj[k]))
		}
	default:
		parts = append(parts, string(raw))
	}
	return gatewayhttp.Snippet([]byte(strings.Join(parts, "; ")))
}

func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = flatten(x)
		}
		return strings.Join(s, ", ")
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func checkTokens(t Tokens) error {
	if t.CustomerUniqueToken != "" {
		return checkCustomerToken(string(t.CustomerUniqueToken))
	}
	return nil
}

// checkCustomerToken enforces UPayments' rule for customer unique tokens:
// 8 to 18 digits (also keeps json.Number from failing to encode).
func checkCustomerToken(s string) error {
	if len(s) < 8 || len(s) > 18 || !allDigits(s) {
		return fmt.Errorf("customer unique token must be 8 to 18 digits, got %d characters", len(s))
	}
	if s[0] == '0' {
		return errors.New("customer unique token must not start with 0 (it is sent as a number)")
	}
	return nil
}

func decodeData(data json.RawMessage, v any) error {
	if len(data) == 0 || string(data) == "null" {
		return errors.New("no data in the answer")
	}
	if err := wire.DecodeJSON(data, v); err != nil {
		return fmt.Errorf("decode data: %w", err)
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
