// Package cko talks to Checkout.com's Unified Payments API for KNET: a
// small [Client] on net/http for the few endpoints paybridge needs (the
// official Go SDK cannot be downloaded here) and a [Gateway] adapter that
// implements checkout.Gateway on top of it.
//
// Amounts are integers in minor units, never float64: answers are decoded
// with json.Number and parsed as integers. For 3-decimal currencies (KWD)
// Checkout.com wants the last digit to be 0; [MinorAmount] refuses any
// other amount rather than rounding it.
//
// Field names and enums follow Checkout.com's public API reference and
// the checkout-sdk-go v2 documentation (payments/nas, sources/apm KNET).
package cko

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/gatewayhttp"
	"paybridge/internal/wire"
)

// Default endpoints and limits.
const (
	// SandboxURL is Checkout.com's sandbox API base (no account prefix).
	SandboxURL = "https://api.sandbox.checkout.com"
	// LiveURL is Checkout.com's live API base (no account prefix).
	LiveURL = "https://api.checkout.com"
	// DefaultTimeout bounds each API call when Client.Timeout is zero.
	DefaultTimeout = 15 * time.Second
	// GatewayName is the adapter's name, as stored on shops.
	GatewayName = "cko"
	// IdempotencyHeader is Checkout.com's idempotency key header.
	IdempotencyHeader = "Cko-Idempotency-Key"
	// SignatureHeader carries the webhook signature: hex HMAC-SHA256 of
	// the raw body with the webhook signing key.
	SignatureHeader = "Cko-Signature"
)

// Payment statuses of GET /payments/{id} (Checkout.com's enum).
const (
	StatusPending           = "Pending"
	StatusAuthorized        = "Authorized"
	StatusCardVerified      = "Card Verified"
	StatusVoided            = "Voided"
	StatusPartiallyCaptured = "Partially Captured"
	StatusCaptured          = "Captured"
	StatusPartiallyRefunded = "Partially Refunded"
	StatusRefunded          = "Refunded"
	StatusDeclined          = "Declined"
	StatusCanceled          = "Canceled"
	StatusExpired           = "Expired"
	StatusPaid              = "Paid"
)

// Client calls Checkout.com. Its zero value is usable once SecretKey is set
// (BaseURL then defaults to [SandboxURL]); it is safe for concurrent use.
// It never retries: payment requests carry an idempotency key, but the
// decision to repeat one is the caller's.
type Client struct {
	// BaseURL is the API base ("https://api.sandbox.checkout.com", or the
	// account-prefixed host).
	BaseURL string
	// SecretKey is the secret API key ("sk_…"), sent as a Bearer token.
	// It is never logged nor put in errors.
	SecretKey string
	// HTTPClient sends the requests (default: a pooled client shared by
	// every Checkout.com client, see package gatewayhttp).
	HTTPClient *http.Client
	// Timeout bounds each call on top of the caller's context
	// (default [DefaultTimeout]).
	Timeout time.Duration
}

// KnetSource is the "knet" payment source of a payment request.
type KnetSource struct {
	// Type is always "knet".
	Type string `json:"type"`
	// Language of the KNET page: "en" or "ar".
	Language string `json:"language"`
	// UserDefinedField1 … 5 are shown on KNET's records (max 255 each):
	// paybridge sends its payment id, the order id, the merchant's extra
	// data and the merchant's reference.
	UserDefinedField1 string `json:"user_defined_field1,omitempty"`
	UserDefinedField2 string `json:"user_defined_field2,omitempty"`
	UserDefinedField3 string `json:"user_defined_field3,omitempty"`
	UserDefinedField4 string `json:"user_defined_field4,omitempty"`
	UserDefinedField5 string `json:"user_defined_field5,omitempty"`
	// CardToken is the customer's KFast token: KNET offers to register the
	// card under a new one and pays with the saved card under a known one.
	CardToken string `json:"card_token,omitempty"`
	// Ptlf is KNET's transaction log field (not used by paybridge).
	Ptlf string `json:"ptlf,omitempty"`
}

// Customer is the payment's customer block.
type Customer struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// PaymentRequest is the body of POST /payments for a KNET payment.
type PaymentRequest struct {
	Source KnetSource `json:"source"`
	// Amount is in minor units (1.230 KWD is 1230).
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Reference is our payment id; echoed on the payment and webhooks.
	Reference           string            `json:"reference,omitempty"`
	Description         string            `json:"description,omitempty"`
	ProcessingChannelID string            `json:"processing_channel_id,omitempty"`
	SuccessURL          string            `json:"success_url,omitempty"`
	FailureURL          string            `json:"failure_url,omitempty"`
	Customer            *Customer         `json:"customer,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
}

// PaymentResponse is the answer to POST /payments (202 Pending for KNET).
type PaymentResponse struct {
	ID          string
	Status      string
	Reference   string
	RedirectURL string // _links.redirect.href
	Raw         json.RawMessage
}

// SourceDetails are the KNET fields of a payment's source.
type SourceDetails struct {
	Type              string
	Language          string
	KnetPaymentID     string
	KnetResult        string
	KnetTransactionID string
	BankReference     string
	AuthCode          string
	PostDate          string
}

// Balances are a payment's running totals in minor units.
type Balances struct {
	TotalAuthorized   int64
	TotalCaptured     int64
	TotalRefunded     int64
	AvailableToRefund int64
}

// Payment is GET /payments/{id}: the only source of truth.
type Payment struct {
	ID        string
	Status    string
	Approved  bool
	Amount    int64 // minor units
	Currency  string
	Reference string
	Source    SourceDetails
	Balances  Balances
	Raw       json.RawMessage
}

// RefundRequest is the body of POST /payments/{id}/refunds.
type RefundRequest struct {
	// Amount in minor units; 0 refunds what is left.
	Amount    int64  `json:"amount,omitempty"`
	Reference string `json:"reference,omitempty"`
}

// RefundResponse is the 202 answer to a refund request.
type RefundResponse struct {
	ActionID  string
	Reference string
	Raw       json.RawMessage
}

// Action is one entry of GET /payments/{id}/actions.
type Action struct {
	ID              string
	Type            string // "Capture", "Refund", "Void" …
	Approved        bool
	Amount          int64
	Reference       string
	ResponseCode    string
	ResponseSummary string
	ProcessedOn     string
}

// APIError is the technical cause inside a *checkout.GatewayError built from
// an HTTP answer: the status, Checkout.com's request id and error codes, and
// the first bytes of the body.
type APIError struct {
	StatusCode int
	RequestID  string
	ErrorType  string
	ErrorCodes []string
	Body       string
}

// Error reports the status, error type and codes.
func (e *APIError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.ErrorType != "" {
		s += " " + e.ErrorType
	}
	if len(e.ErrorCodes) > 0 {
		s += " [" + strings.Join(e.ErrorCodes, ", ") + "]"
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	if e.ErrorType == "" && e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// RequestPayment sends POST /payments with idempotencyKey (our payment id:
// a repeated request returns the first payment instead of a second one).
func (c *Client) RequestPayment(ctx context.Context, req PaymentRequest, idempotencyKey string) (PaymentResponse, error) {
	if req.Source.Type != "knet" {
		return PaymentResponse{}, api.RequestError("charge", fmt.Errorf("source.type %q: only knet is supported", req.Source.Type))
	}
	if req.Amount <= 0 {
		return PaymentResponse{}, api.RequestError("charge", errors.New("amount must be positive"))
	}
	raw, err := c.do(ctx, "charge", http.MethodPost, "/payments", req, idempotencyKey)
	if err != nil {
		return PaymentResponse{}, err
	}
	var d struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		Reference string `json:"reference"`
		Links     struct {
			Redirect struct {
				Href string `json:"href"`
			} `json:"redirect"`
		} `json:"_links"`
	}
	if err := wire.DecodeJSON(raw, &d); err != nil {
		return PaymentResponse{}, api.AnswerError("charge", err)
	}
	return PaymentResponse{ID: d.ID, Status: d.Status, Reference: d.Reference, RedirectURL: d.Links.Redirect.Href, Raw: raw}, nil
}

// GetPayment sends GET /payments/{id}.
func (c *Client) GetPayment(ctx context.Context, id string) (Payment, error) {
	if id == "" {
		return Payment{}, api.RequestError("status", errors.New("empty payment id"))
	}
	raw, err := c.do(ctx, "status", http.MethodGet, "/payments/"+url.PathEscape(id), nil, "")
	if err != nil {
		return Payment{}, err
	}
	var d struct {
		ID        string      `json:"id"`
		Status    string      `json:"status"`
		Approved  bool        `json:"approved"`
		Amount    json.Number `json:"amount"`
		Currency  string      `json:"currency"`
		Reference string      `json:"reference"`
		Source    struct {
			Type              string `json:"type"`
			Language          string `json:"language"`
			KnetPaymentID     string `json:"knet_payment_id"`
			KnetResult        string `json:"knet_result"`
			KnetTransactionID string `json:"knet_transaction_id"`
			BankReference     string `json:"bank_reference"`
			AuthCode          string `json:"auth_code"`
			PostDate          string `json:"post_date"`
		} `json:"source"`
		Balances struct {
			TotalAuthorized   json.Number `json:"total_authorized"`
			TotalCaptured     json.Number `json:"total_captured"`
			TotalRefunded     json.Number `json:"total_refunded"`
			AvailableToRefund json.Number `json:"available_to_refund"`
		} `json:"balances"`
	}
	if err := wire.DecodeJSON(raw, &d); err != nil {
		return Payment{}, api.AnswerError("status", err)
	}
	p := Payment{ID: d.ID, Status: d.Status, Approved: d.Approved, Currency: d.Currency, Reference: d.Reference,
		Source: SourceDetails{Type: d.Source.Type, Language: d.Source.Language, KnetPaymentID: d.Source.KnetPaymentID,
			KnetResult: d.Source.KnetResult, KnetTransactionID: d.Source.KnetTransactionID, BankReference: d.Source.BankReference,
			AuthCode: d.Source.AuthCode, PostDate: d.Source.PostDate},
		Raw: raw}
	for _, f := range []struct {
		name string
		in   json.Number
		out  *int64
	}{{"amount", d.Amount, &p.Amount}, {"balances.total_authorized", d.Balances.TotalAuthorized, &p.Balances.TotalAuthorized},
		{"balances.total_captured", d.Balances.TotalCaptured, &p.Balances.TotalCaptured},
		{"balances.total_refunded", d.Balances.TotalRefunded, &p.Balances.TotalRefunded},
		{"balances.available_to_refund", d.Balances.AvailableToRefund, &p.Balances.AvailableToRefund}} {
		if f.in == "" {
			continue
		}
		n, err := parseMinor(f.in)
		if err != nil {
			return Payment{}, api.AnswerError("status", fmt.Errorf("%s: %w", f.name, err))
		}
		*f.out = n
	}
	return p, nil
}

// GetPaymentActions sends GET /payments/{id}/actions.
func (c *Client) GetPaymentActions(ctx context.Context, id string) ([]Action, error) {
	if id == "" {
		return nil, api.RequestError("actions", errors.New("empty payment id"))
	}
	raw, err := c.do(ctx, "actions", http.MethodGet, "/payments/"+url.PathEscape(id)+"/actions", nil, "")
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID              string      `json:"id"`
		Type            string      `json:"type"`
		Approved        bool        `json:"approved"`
		Amount          json.Number `json:"amount"`
		Reference       string      `json:"reference"`
		ResponseCode    string      `json:"response_code"`
		ResponseSummary string      `json:"response_summary"`
		ProcessedOn     string      `json:"processed_on"`
	}
	if err := wire.DecodeJSON(raw, &list); err != nil {
		return nil, api.AnswerError("actions", err)
	}
	out := make([]Action, 0, len(list))
	for _, a := range list {
		act := Action{ID: a.ID, Type: a.Type, Approved: a.Approved, Reference: a.Reference,
			ResponseCode: a.ResponseCode, ResponseSummary: a.ResponseSummary, ProcessedOn: a.ProcessedOn}
		if a.Amount != "" {
			n, err := parseMinor(a.Amount)
			if err != nil {
				return nil, api.AnswerError("actions", fmt.Errorf("action %s amount: %w", a.ID, err))
			}
			act.Amount = n
		}
		out = append(out, act)
	}
	return out, nil
}

// RefundPayment sends POST /payments/{id}/refunds with idempotencyKey (our
// refund id), so that a repeat never refunds twice.
func (c *Client) RefundPayment(ctx context.Context, id string, req RefundRequest, idempotencyKey string) (RefundResponse, error) {
	if id == "" {
		return RefundResponse{}, api.RequestError("refund", errors.New("empty payment id"))
	}
	if req.Amount < 0 {
		return RefundResponse{}, api.RequestError("refund", errors.New("negative amount"))
	}
	raw, err := c.do(ctx, "refund", http.MethodPost, "/payments/"+url.PathEscape(id)+"/refunds", req, idempotencyKey)
	if err != nil {
		return RefundResponse{}, err
	}
	var d struct {
		ActionID  string `json:"action_id"`
		Reference string `json:"reference"`
	}
	if err := wire.DecodeJSON(raw, &d); err != nil {
		return RefundResponse{}, api.AnswerError("refund", err)
	}
	if d.ActionID == "" {
		return RefundResponse{}, api.AnswerError("refund", errors.New("no action_id in the answer"))
	}
	return RefundResponse{ActionID: d.ActionID, Reference: d.Reference, Raw: raw}, nil
}

// api is the caller every Checkout.com client shares: one pooled
// transport for the gateway.
var api = gatewayhttp.New(gatewayhttp.Gateway{Name: GatewayName, Display: displayName, UserAgent: "paybridge-cko/1",
	Credential: "secret key", IdempotencyHeader: IdempotencyHeader}, gatewayhttp.Config{Timeout: DefaultTimeout})

// do sends one request (with Cko-Idempotency-Key when idempotencyKey is
// set) and returns the body of a 2xx answer, or a *checkout.GatewayError.
func (c *Client) do(ctx context.Context, op, method, path string, in any, idempotencyKey string) ([]byte, error) {
	base := c.BaseURL
	if base == "" {
		base = SandboxURL
	}
	return gatewayhttp.Call(ctx, api, gatewayhttp.Request{Op: op, Method: method, URL: strings.TrimRight(base, "/") + path,
		Body: in, Token: c.SecretKey, IdempotencyKey: idempotencyKey, Timeout: c.Timeout, Client: c.HTTPClient}, readAnswer)
}

// readAnswer returns the body of a 2xx answer and maps any other status.
func readAnswer(op string, a *gatewayhttp.Answer) ([]byte, error) {
	if a.StatusCode >= 200 && a.StatusCode < 300 {
		return a.Body, nil
	}
	return nil, statusErr(op, a)
}

// statusErr maps a non-2xx answer: 5xx and 429 are temporary; 401 is a
// rejected key; 422 carries error_codes; 404 an unknown payment.
func statusErr(op string, a *gatewayhttp.Answer) error {
	code := a.StatusCode
	ae := &APIError{StatusCode: code, Body: a.Snippet(), RequestID: a.Header.Get("Cko-Request-Id")}
	var doc struct {
		RequestID  string   `json:"request_id"`
		ErrorType  string   `json:"error_type"`
		ErrorCodes []string `json:"error_codes"`
	}
	if wire.DecodeJSON(a.Body, &doc) == nil {
		if doc.RequestID != "" {
			ae.RequestID = doc.RequestID
		}
		ae.ErrorType, ae.ErrorCodes = doc.ErrorType, doc.ErrorCodes
	}
	ge := &checkout.GatewayError{Gateway: GatewayName, Op: op, HTTPStatus: code, Err: ae}
	switch {
	case code >= 500:
		ge.Temporary = true
		ge.Message = fmt.Sprintf("Checkout.com is unavailable (HTTP %d)", code)
	case code == http.StatusTooManyRequests:
		ge.Temporary = true
		ge.Message = "Checkout.com rate limit reached; try again later"
		ge.Err = gatewayhttp.RetryAfter(a, ae)
	case code == http.StatusUnauthorized:
		ge.Message = "Checkout.com rejected the secret key"
	case code == http.StatusForbidden:
		ge.Message = "Checkout.com refused access (403); check the key's scopes and that KNET is enabled"
	case code == http.StatusNotFound:
		ge.Message = "Checkout.com does not know this payment"
	case code == http.StatusConflict:
		ge.Message = "Checkout.com refused a repeated idempotency key with a different request"
	case code == http.StatusUnprocessableEntity:
		ge.Message = "Checkout.com rejected the request"
		if len(doc.ErrorCodes) > 0 {
			ge.Message += ": " + strings.Join(doc.ErrorCodes, ", ")
		}
	default:
		ge.Message = fmt.Sprintf("Checkout.com answered HTTP %d", code)
	}
	return ge
}

// parseMinor reads an integer amount in minor units; a fraction or an
// exponent is an error (amounts are never floats).
func parseMinor(n json.Number) (int64, error) {
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer amount in minor units", string(n))
	}
	return v, nil
}
